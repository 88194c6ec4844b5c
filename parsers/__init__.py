"""Tree-sitter code graphs: AST, control flow and data flow for many languages, on one engine.

>>> from parsers import extract_file
>>> graphs = extract_file(b"def f(a):\\n    return a + 1\\n", "python").graphs
>>> graphs[0].name, graphs[0].edge_counts()["LAST_WRITE"]
('f', 1)
"""

from parsers.extract import UNITS, FileGraphs, Unit, extract_file
from parsers.graph import EDGE_GROUPS, CodeGraph, EdgeType, parse_edge_types
from parsers.languages import LANGUAGES, LanguageSpec, extension_map, get_language

__all__ = [
    "EDGE_GROUPS",
    "LANGUAGES",
    "UNITS",
    "CodeGraph",
    "EdgeType",
    "FileGraphs",
    "LanguageSpec",
    "Unit",
    "extension_map",
    "extract_file",
    "get_language",
    "parse_edge_types",
]
