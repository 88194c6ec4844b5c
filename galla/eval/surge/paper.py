"""The SURGE paper's published results (Table 5), as data, for comparison rows and charts.

Source: Lyu, Huang, Liang, Sun, Zhang, "SURGE: On the Potential of Large Language Models as
General-Purpose Surrogate Code Executors", EMNLP 2025 (arXiv 2502.11167), Table 5 (21 models × three
prompt settings; main-text Table 2 is a subset), transcribed from reference ``surge.md`` §4.

The paper's header mislabels ML columns 3–5; the item denominators show they are Java (25 items),
Python (18) and Julia (26), and the labels here are the corrected ones (reference §4, "Caveat on ML
columns 3–5"). The paper evaluated a slightly different file than the released one (ML-CPP 22, CL 152,
FL 151 items), so a perfect re-run of a model need not match these numbers to the last digit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["DEFAULT_COMPARE", "PAPER_CITATION", "PAPER_ROWS", "PaperRow", "paper_rows"]

PAPER_CITATION = (
    "Lyu et al., SURGE: On the Potential of Large Language Models as General-Purpose Surrogate Code "
    "Executors, EMNLP 2025 (arXiv 2502.11167), Table 5; ML columns 3-5 relabelled Java/Python/Julia"
)

# Paper rows drawn beside a galla result by default: open models of the sizes galla trains, plus GPT-4o.
DEFAULT_COMPARE: tuple[str, ...] = (
    "Qwen-2.5-Coder-1.5B-Instruct",
    "Qwen-2.5-Coder-7B-Instruct",
    "Qwen-2.5-7B-Instruct",
    "LLaMA-3.1-8B-Instruct",
    "GPT-4o",
)


@dataclass(frozen=True)
class PaperRow:
    """One published row: the 15 column scores (table.COLUMNS order) and the paper's Avg."""

    setting: str
    """``0shot``, ``cot`` (zero-shot CoT) or ``3shot`` (few-shot CoT)."""
    model: str
    scores: tuple[float, ...]
    avg: float


def paper_rows(setting: str | None = None, models: Sequence[str] | None = None) -> list[PaperRow]:
    """Published rows, filtered by setting and by model name (case-insensitive exact names).

    Raises ValueError naming the unknown models and listing the known ones.
    """
    rows = [r for r in PAPER_ROWS if setting is None or r.setting == setting]
    if models is None:
        return rows
    by_name = {r.model.lower(): r.model for r in PAPER_ROWS}
    unknown = [m for m in models if m.lower() not in by_name]
    if unknown:
        known = ", ".join(dict.fromkeys(r.model for r in PAPER_ROWS))
        raise ValueError(f"no paper row for {', '.join(unknown)}; known models: {known}")
    wanted = [by_name[m.lower()] for m in models]
    return sorted((r for r in rows if r.model in wanted), key=lambda r: wanted.index(r.model))


# (setting, model, Avg, the 15 columns in table.COLUMNS order: ML-CPP ML-Rust ML-Java ML-Python
#  ML-Julia ML-Others CL RL SC TC BG-CPP BG-Java BG-Python DR FL)
# fmt: off
_ROWS: tuple[tuple[str, str, float, str], ...] = (
    # 0shot
    ("0shot", "Claude-3.5-Sonnet", 51.59,
        "72.73 55.00 88.00 66.67 76.92 75.00 81.58 57.31 61.55 35.27 9.09 12.55 51.40 12.92 17.92"),
    ("0shot", "DeepSeek-V3", 42.53,
        "54.55 60.00 76.00 61.11 46.15 72.50 56.58 44.19 59.65 35.31 4.05 3.03 21.50 10.92 32.46"),
    ("0shot", "GPT-4o", 40.03,
        "40.91 45.00 60.00 55.56 57.69 55.00 66.45 49.13 53.16 34.44 4.28 7.48 34.59 14.75 21.99"),
    ("0shot", "GPT-4o-Mini", 39.49,
        "59.09 45.00 64.00 33.33 69.23 60.00 84.21 35.33 40.00 31.85 1.39 4.28 13.86 11.65 39.07"),
    ("0shot", "Qwen-Max", 32.84,
        "50.00 45.00 44.00 27.78 26.92 50.00 38.82 37.15 56.98 35.44 2.82 3.20 30.52 14.03 29.89"),
    ("0shot", "Qwen-2.5-0.5B-Instruct", 10.85,
        "13.64 10.00 4.00 0.00 11.54 7.50 19.08 5.02 9.43 8.61 1.20 3.77 11.04 4.62 42.38"),
    ("0shot", "Qwen-2.5-1.5B-Instruct", 18.80,
        "36.36 15.00 24.00 16.67 15.38 35.00 40.79 5.89 12.08 14.15 1.15 3.52 11.10 9.24 41.72"),
    ("0shot", "Qwen-2.5-3B-Instruct", 18.49,
        "36.36 10.00 28.00 22.22 34.62 22.50 35.53 13.08 20.04 14.61 1.58 3.92 13.27 5.75 15.89"),
    ("0shot", "Qwen-2.5-7B-Instruct", 15.48,
        "13.64 5.00 12.00 5.56 11.54 17.50 27.63 27.98 22.90 29.43 2.21 3.66 9.46 7.24 36.42"),
    ("0shot", "Qwen-2.5-14B-Instruct", 13.34,
        "9.09 5.00 8.00 5.56 23.08 5.00 11.18 39.08 33.79 28.18 2.11 2.24 16.30 4.24 7.28"),
    ("0shot", "Qwen-2.5-32B-Instruct", 25.08,
        "45.45 20.00 48.00 33.33 42.31 20.00 50.66 22.61 32.50 30.99 1.21 2.09 12.16 7.26 7.65"),
    ("0shot", "Qwen-2.5-72B-Instruct", 38.00,
        "45.45 40.00 52.00 55.56 69.23 52.50 72.37 33.66 53.70 32.46 1.99 2.65 10.69 13.35 34.44"),
    ("0shot", "Qwen-2.5-Coder-0.5B-Instruct", 13.41,
        "22.73 10.00 20.00 5.56 11.54 22.50 26.97 8.41 6.55 6.39 0.73 2.92 10.05 5.76 41.06"),
    ("0shot", "Qwen-2.5-Coder-1.5B-Instruct", 24.06,
        "45.45 30.00 32.00 27.78 26.92 35.00 54.61 17.58 20.58 13.19 0.36 2.83 5.43 8.08 41.06"),
    ("0shot", "Qwen-2.5-Coder-3B-Instruct", 28.79,
        "45.45 20.00 40.00 22.22 46.15 40.00 68.42 21.58 37.43 22.43 1.06 3.61 13.41 8.96 41.06"),
    ("0shot", "Qwen-2.5-Coder-7B-Instruct", 33.75,
        "45.45 30.00 52.00 44.44 50.00 42.50 75.00 20.86 45.50 28.00 0.86 3.47 13.53 14.23 40.40"),
    ("0shot", "Qwen-2.5-Coder-14B-Instruct", 40.39,
        "59.09 35.00 48.00 55.56 69.23 62.50 82.89 35.26 51.93 32.20 1.39 3.66 16.12 11.35 41.72"),
    ("0shot", "Qwen-2.5-Coder-32B-Instruct", 41.10,
        "59.09 55.00 60.00 44.44 69.23 60.00 80.26 48.43 57.18 18.84 1.49 1.95 17.96 13.42 29.19"),
    ("0shot", "LLaMA-3.1-8B-Instruct", 8.49,
        "0.00 0.00 4.00 5.56 15.38 5.00 13.16 20.41 4.41 15.46 4.41 4.12 5.98 3.97 0.00"),
    ("0shot", "LLaMA-3.1-70B-Instruct", 37.10,
        "54.55 40.00 52.00 33.33 65.38 47.50 78.29 31.60 48.65 30.19 1.59 4.18 14.27 15.73 39.16"),
    ("0shot", "LLaMA-3.3-70B-Instruct", 39.22,
        "68.18 50.00 60.00 44.44 57.69 62.50 66.45 43.53 38.45 30.35 2.06 3.23 11.01 11.22 39.13"),
    # cot
    ("cot", "Claude-3.5-Sonnet", 59.47,
        "90.91 65.00 96.00 77.78 69.23 92.50 82.24 62.31 63.38 40.70 16.91 20.69 62.23 18.19 33.98"),
    ("cot", "DeepSeek-V3", 54.97,
        "81.82 85.00 88.00 72.22 69.23 85.00 76.32 62.70 57.57 36.71 4.45 7.85 46.26 16.21 35.19"),
    ("cot", "GPT-4o", 51.11,
        "68.18 65.00 92.00 72.22 76.92 77.50 79.61 53.74 48.56 28.36 8.19 9.97 44.29 14.21 27.91"),
    ("cot", "GPT-4o-Mini", 45.29,
        "77.27 60.00 88.00 50.00 69.23 80.00 75.66 34.46 40.60 29.59 1.77 5.40 21.04 13.16 33.11"),
    ("cot", "Qwen-Max", 52.31,
        "86.36 75.00 80.00 72.22 76.92 80.00 71.05 50.49 61.78 36.71 2.65 7.73 46.85 16.16 20.74"),
    ("cot", "Qwen-2.5-0.5B-Instruct", 11.84,
        "27.27 10.00 16.00 0.00 3.85 17.50 22.37 6.29 1.11 5.28 1.22 3.41 9.15 5.21 37.09"),
    ("cot", "Qwen-2.5-1.5B-Instruct", 16.22,
        "31.82 15.00 20.00 11.11 19.23 27.50 26.32 12.47 8.14 12.77 1.22 3.23 9.81 4.93 39.74"),
    ("cot", "Qwen-2.5-3B-Instruct", 20.39,
        "40.91 40.00 32.00 22.22 30.77 35.00 25.00 15.01 20.78 12.84 2.14 2.86 5.29 7.12 13.93"),
    ("cot", "Qwen-2.5-7B-Instruct", 26.41,
        "40.91 15.00 32.00 33.33 26.92 47.50 52.63 27.51 25.68 28.95 1.12 3.76 14.94 9.41 36.46"),
    ("cot", "Qwen-2.5-14B-Instruct", 41.09,
        "68.18 55.00 76.00 61.11 65.38 72.50 61.18 43.89 36.49 32.07 1.57 3.15 19.13 11.97 8.67"),
    ("cot", "Qwen-2.5-32B-Instruct", 32.95,
        "50.00 40.00 40.00 55.56 38.46 57.50 53.29 32.71 43.29 30.59 3.10 6.96 23.86 11.49 7.39"),
    ("cot", "Qwen-2.5-72B-Instruct", 47.90,
        "68.18 80.00 96.00 55.56 76.92 77.50 65.13 45.30 53.39 32.95 1.72 3.19 16.32 16.61 29.80"),
    ("cot", "Qwen-2.5-Coder-0.5B-Instruct", 6.36,
        "13.64 0.00 4.00 5.56 3.85 7.50 1.97 3.07 2.14 3.98 2.14 2.44 2.83 2.23 33.77"),
    ("cot", "Qwen-2.5-Coder-1.5B-Instruct", 17.16,
        "31.82 10.00 28.00 5.56 15.38 22.50 19.08 26.39 20.08 15.42 1.16 3.60 11.46 7.24 39.74"),
    ("cot", "Qwen-2.5-Coder-3B-Instruct", 25.85,
        "50.00 15.00 32.00 22.22 42.31 40.00 52.63 13.13 33.96 20.14 1.24 3.72 13.36 7.63 40.40"),
    ("cot", "Qwen-2.5-Coder-7B-Instruct", 33.81,
        "68.18 40.00 40.00 38.89 53.85 57.50 46.05 19.70 40.91 30.19 2.29 4.71 12.77 15.04 37.12"),
    ("cot", "Qwen-2.5-Coder-14B-Instruct", 40.61,
        "59.09 45.00 60.00 55.56 69.23 62.50 71.71 26.09 52.12 33.09 3.19 5.21 18.58 13.41 34.44"),
    ("cot", "Qwen-2.5-Coder-32B-Instruct", 47.34,
        "77.27 65.00 80.00 55.56 73.08 67.50 71.71 54.58 55.69 34.36 2.05 4.74 22.43 17.62 28.55"),
    ("cot", "LLaMA-3.1-8B-Instruct", 19.94,
        "40.91 15.00 24.00 22.22 26.92 30.00 41.45 17.87 32.65 18.22 1.52 4.23 13.38 10.12 0.66"),
    ("cot", "LLaMA-3.1-70B-Instruct", 38.80,
        "59.09 50.00 72.00 61.11 57.69 52.50 58.55 34.44 43.93 29.76 1.71 3.49 15.02 16.86 25.85"),
    ("cot", "LLaMA-3.3-70B-Instruct", 38.73,
        "63.64 45.00 56.00 55.56 57.69 67.50 57.24 35.88 39.50 30.61 3.34 3.95 13.53 16.38 35.11"),
    # 3shot
    ("3shot", "Claude-3.5-Sonnet", 58.49,
        "86.36 70.00 96.00 72.22 65.38 82.50 82.24 70.65 63.58 41.00 22.04 23.61 44.15 25.70 31.99"),
    ("3shot", "DeepSeek-V3", 59.08,
        "90.91 65.00 84.00 77.78 73.08 95.00 80.26 78.64 66.00 38.60 21.98 15.14 40.27 24.38 35.17"),
    ("3shot", "GPT-4o", 52.68,
        "68.18 60.00 88.00 77.78 73.08 75.00 75.66 76.86 59.65 37.12 12.91 7.74 29.52 22.08 26.65"),
    ("3shot", "GPT-4o-Mini", 48.49,
        "77.27 55.00 80.00 50.00 73.08 72.50 71.05 63.89 55.87 34.20 17.89 9.95 23.75 18.24 24.68"),
    ("3shot", "Qwen-Max", 56.76,
        "81.82 70.00 88.00 77.78 73.08 80.00 82.24 72.53 62.32 37.88 19.68 19.78 37.57 23.91 24.76"),
    ("3shot", "Qwen-2.5-0.5B-Instruct", 11.17,
        "18.18 5.00 4.00 0.00 7.69 10.00 17.11 17.82 32.32 6.20 3.51 4.83 5.17 5.29 19.21"),
    ("3shot", "Qwen-2.5-1.5B-Instruct", 16.85,
        "27.27 15.00 16.00 16.67 11.54 27.50 19.74 9.88 31.44 13.20 3.76 3.66 8.15 7.17 41.72"),
    ("3shot", "Qwen-2.5-3B-Instruct", 21.58,
        "45.45 30.00 28.00 11.11 11.54 27.50 27.63 17.40 38.70 17.74 7.67 6.45 9.09 10.21 35.25"),
    ("3shot", "Qwen-2.5-7B-Instruct", 28.71,
        "27.27 25.00 36.00 38.89 26.92 42.50 48.68 45.19 43.42 28.97 4.92 4.70 12.94 10.66 34.53"),
    ("3shot", "Qwen-2.5-14B-Instruct", 41.37,
        "63.64 55.00 60.00 66.67 61.54 70.00 57.24 53.59 49.99 32.48 3.29 4.40 17.88 14.10 10.76"),
    ("3shot", "Qwen-2.5-32B-Instruct", 43.15,
        "59.09 55.00 52.00 66.67 53.85 60.00 63.16 64.10 63.12 32.53 5.41 6.94 28.66 13.81 22.87"),
    ("3shot", "Qwen-2.5-72B-Instruct", 49.99,
        "63.64 75.00 88.00 72.22 69.23 80.00 70.39 67.98 61.45 34.92 2.89 3.05 9.52 18.43 33.18"),
    ("3shot", "Qwen-2.5-Coder-0.5B-Instruct", 9.25,
        "9.09 0.00 0.00 0.00 0.00 2.50 1.32 13.88 13.18 5.62 6.66 4.42 2.15 5.19 37.75"),
    ("3shot", "Qwen-2.5-Coder-1.5B-Instruct", 13.49,
        "4.55 5.00 16.00 0.00 15.38 5.00 1.97 28.79 38.97 15.25 1.24 3.28 9.70 9.90 33.77"),
    ("3shot", "Qwen-2.5-Coder-3B-Instruct", 27.76,
        "36.36 45.00 32.00 27.78 30.77 37.50 50.00 27.43 40.84 23.31 1.28 4.06 12.00 9.64 38.41"),
    ("3shot", "Qwen-2.5-Coder-7B-Instruct", 34.24,
        "54.55 30.00 36.00 44.44 50.00 42.50 58.55 50.48 53.91 30.69 3.90 4.93 14.44 14.02 25.25"),
    ("3shot", "Qwen-2.5-Coder-14B-Instruct", 40.87,
        "63.64 40.00 52.00 38.89 65.38 62.50 77.63 55.01 52.87 32.29 5.99 5.01 15.76 13.39 32.62"),
    ("3shot", "Qwen-2.5-Coder-32B-Instruct", 47.35,
        "68.18 75.00 72.00 55.56 65.38 70.00 76.97 64.16 56.37 34.34 3.93 6.49 20.22 19.09 22.57"),
    ("3shot", "LLaMA-3.1-8B-Instruct", 19.14,
        "13.64 20.00 20.00 5.56 26.92 22.50 30.26 34.15 47.89 22.27 4.44 4.55 9.66 12.05 13.25"),
    ("3shot", "LLaMA-3.1-70B-Instruct", 35.32,
        "54.55 35.00 40.00 22.22 53.85 35.00 68.42 50.83 60.96 30.29 8.00 5.95 18.32 13.27 33.12"),
    ("3shot", "LLaMA-3.3-70B-Instruct", 34.80,
        "63.64 35.00 40.00 27.78 46.15 35.00 49.34 60.45 63.84 32.52 5.17 5.37 11.56 12.99 33.11"),
)
# fmt: on
PAPER_ROWS: tuple[PaperRow, ...] = tuple(
    PaperRow(s, m, tuple(float(v) for v in vals.split()), a) for s, m, a, vals in _ROWS
)
