"""User-facing progress lines for the stack commands (stderr, never stdout)."""

from __future__ import annotations

import sys


def announce(message: str) -> None:
    """Print one progress line to stderr so stdout stays clean for machine-readable output."""
    print(f"stack: {message}", file=sys.stderr, flush=True)
