"""Evaluation: SURGE (``galla.eval.surge``) and downstream code tasks (``galla.eval.tasks``), over one
generation module (``galla.eval.generate``) and a sandbox for running generated code
(``galla.eval.sandbox``)."""
