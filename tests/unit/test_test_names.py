"""The suite's own hygiene: test modules in folders without ``__init__.py`` must have unique names.

pytest imports such modules by their base name, so two ``test_x.py`` in ``tests/unit`` and
``tests/e2e`` stop the whole run at collection ("import file mismatch").
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_test_module_names_are_unique_across_the_suite() -> None:
    """No two test modules share a file name."""
    names = Counter(path.name for path in TESTS.rglob("test_*.py"))
    assert [name for name, count in names.items() if count > 1] == []
