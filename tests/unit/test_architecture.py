"""The package map is enforced: the import-linter contracts of ``pyproject.toml`` hold.

Layers (entry point > services > runtime > projections > adapters > settings > domain), services
independent of each other, a pure domain, no production import of the dev tools or tests, and no
import circles. A forbidden import anywhere fails this test, and so ``make test``.
"""

from __future__ import annotations

from pathlib import Path

from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[2]


def test_the_import_contracts_hold() -> None:
    """Every contract in pyproject.toml [tool.importlinter] is kept (run `lint-imports` to see them)."""
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True) == 0
