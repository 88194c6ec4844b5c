"""SURGE evaluation (Lyu et al., EMNLP 2025, arXiv 2502.11167): official scoring and tables.

- ``data``: load the subset files from a user-given folder; per-item metadata and prompts;
- ``extract``: the official answer extraction;
- ``scoring``: one function per official scoring rule, ``score_item`` dispatching by subset;
- ``table``: the 15-column table, the paper's average, Markdown/CSV/JSON writers, bar chart;
- ``paper``: the paper's published rows (Table 5);
- ``run``: score a responses JSONL file (``galla eval surge``).

Generation: ``generate`` (over the shared ``galla.eval.generate``). Anything that writes
``{"subset", "index", "response"}`` lines (with ``SurgeItem.messages(setting)`` as the chat) can be
scored with ``run.score_responses_file``.
"""

from galla.eval.surge.data import SETTINGS, SUBSETS, SurgeDataError, SurgeItem, load_surge
from galla.eval.surge.scoring import score_item
from galla.eval.surge.table import COLUMNS, TableRow, paper_average

__all__ = [
    "COLUMNS",
    "SETTINGS",
    "SUBSETS",
    "SurgeDataError",
    "SurgeItem",
    "TableRow",
    "load_surge",
    "paper_average",
    "score_item",
]
