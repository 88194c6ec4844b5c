"""Docstring-summarisation records made from real functions."""

from __future__ import annotations

from data_builders.downstream import docstring_pairs, docstring_records, strip_docstring

SRC = '''    def area(self, r):
        """Return the area of a circle of radius r.

        More text that is not part of the summary.
        """
        return 3.14159 * r * r
'''


def test_strip_docstring_keeps_the_code():
    code, doc = strip_docstring(SRC)
    assert '"""' not in code and "return 3.14159 * r * r" in code and code.startswith("def area")
    assert doc.startswith("Return the area")


def test_records_and_pairs():
    rows = [
        {"language": "python", "unit_kind": "function", "source": SRC, "id": "a"},
        {
            "language": "python",
            "unit_kind": "function",
            "id": "b",
            "source": 'def f(x):\n    """Double the value of x twice."""\n    return 4 * x\n',
        },
        {"language": "python", "unit_kind": "function", "source": "def g():\n    return 1\n", "id": "c"},
        {"language": "java", "unit_kind": "function", "source": "int f() { return 1; }", "id": "d"},
    ]
    recs = docstring_records(rows)
    assert [r["id"] for r in recs] == ["a", "b"]
    assert recs[0]["bot"] == "Return the area of a circle of radius r."
    assert "Return the area" not in recs[0]["human"]
    pairs = docstring_pairs(recs, seed=0)
    assert all(p["chosen"] != p["rejected"] for p in pairs) and len(pairs) == 2
