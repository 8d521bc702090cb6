"""Puts the Python client (``clients/python``, its own distribution, not a dependency of the server) on
``sys.path`` so the tests import ``scoreboard_client`` from the working tree without installing it."""

from __future__ import annotations

import sys
from pathlib import Path

CLIENT_ROOT = Path(__file__).resolve().parents[2] / "clients" / "python"


def use_client_from_tree() -> None:
    if str(CLIENT_ROOT) not in sys.path:
        sys.path.insert(0, str(CLIENT_ROOT))


use_client_from_tree()

# mypy does not see the sys.path entry above; it type-checks the client itself with
# `mypy --strict clients/python/scoreboard_client`, here the names are Any to it.
from scoreboard_client import (  # type: ignore[import-not-found, unused-ignore]  # noqa: E402
    AsyncScoreboardClient,
    BoardFrame,
    ProblemError,
    RetriesExhausted,
    RetryPolicy,
    ScoreboardClient,
    SubscriptionRefused,
    subscribe,
)
from scoreboard_client.retrying import (  # type: ignore[import-not-found, unused-ignore]  # noqa: E402
    KEY_FORMAT,
    parse_retry_after,
)

__all__ = ["KEY_FORMAT", "AsyncScoreboardClient", "BoardFrame", "ProblemError", "RetriesExhausted", "RetryPolicy",
           "ScoreboardClient", "SubscriptionRefused", "parse_retry_after", "subscribe"]
