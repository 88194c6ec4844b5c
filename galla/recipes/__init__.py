"""Recipes: complete runs built from the public API (the embedded default is one)."""
