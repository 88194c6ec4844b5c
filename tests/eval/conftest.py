"""Shared by the evaluation tests: this folder is on sys.path, so ``surge_tiny_llm`` imports from here."""
