"""Python client for the Live Scoreboard: actions with safe retries, board reads, live updates.

    from scoreboard_client import ScoreboardClient
    with ScoreboardClient("http://127.0.0.1:8000", token) as client:
        receipt = client.complete("win-match")   # retried with the same Idempotency-Key: counts once
"""

from .client import AsyncScoreboardClient, ScoreboardClient
from .errors import ProblemError, RetriesExhausted, ScoreboardError
from .models import Around, Board, BoardFrame, Entry, Me, Receipt, Ticket, UserRank
from .retrying import KEY_FORMAT, NO_RETRY, RetryPolicy, new_key
from .subscribe import SubscriptionRefused, subscribe

__all__ = [
    "KEY_FORMAT", "NO_RETRY", "Around", "AsyncScoreboardClient", "Board", "BoardFrame", "Entry", "Me",
    "ProblemError", "Receipt", "RetriesExhausted", "RetryPolicy", "ScoreboardClient", "ScoreboardError",
    "SubscriptionRefused", "Ticket", "UserRank", "new_key", "subscribe",
]
