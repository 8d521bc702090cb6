"""Pre-minted dev JWTs for the load generators (minted once, outside the measured window)."""

from __future__ import annotations

from pathlib import Path

from scoreboard.adapters.auth import mint_token
from scoreboard.settings import Settings


def mint_tokens(settings: Settings, users: list[str], ttl_seconds: int = 3600) -> dict[str, str]:
    if not settings.jwt_secret:
        raise RuntimeError("no SCOREBOARD_JWT_SECRET: run `scoreboard stack up` first")
    return {user: mint_token(settings.jwt_secret, user, ttl_seconds=ttl_seconds, issuer=settings.jwt_issuer,
                             audience=settings.jwt_audience) for user in users}


def write_tokens_file(path: Path, tokens: dict[str, str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(tokens.values()) + "\n")
    return path
