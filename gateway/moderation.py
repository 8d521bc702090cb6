"""The moderation page of the gateway: ``GET /moderation`` (static page, ``static/moderation.html``) and
``GET /moderation/config.json`` (where the page finds the api).

The page calls the api's admin endpoints (``/v1/admin/reviews``) from the browser with the moderator's
token, so the api is another origin: its base URL is ``SCOREBOARD_PUBLIC_API_URL`` (else
``SCOREBOARD_API_URL``). The page's Content-Security-Policy lets it connect to that origin and its own
(the live top 10) only, run only its own scripts, and never be framed (a one-click decision page must not
be clickjackable).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from scoreboard.settings import Settings

PAGE = Path(__file__).resolve().parent / "static" / "moderation.html"


@dataclass(frozen=True)
class PageConfig:
    """What the page is told: the api's base URL, without a trailing slash."""

    api_url: str

    @property
    def api_origin(self) -> str:
        parts = urlsplit(self.api_url)
        return f"{parts.scheme}://{parts.netloc}"

    def as_json(self) -> dict[str, str]:
        return {"api_url": self.api_url}


def page_config(settings: Settings) -> PageConfig:
    return PageConfig((settings.public_api_url or settings.api_url).rstrip("/"))


def content_security_policy(config: PageConfig) -> str:
    """Own scripts and styles only; fetches to the api's origin and the gateway's (its WebSocket too)."""
    return "; ".join((
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        f"connect-src 'self' {config.api_origin}",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ))


def page_headers(config: PageConfig) -> dict[str, str]:
    return {
        "Content-Security-Policy": content_security_policy(config),
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
    }


def routes(settings: Settings) -> list[Route]:
    """The page and its configuration, for the gateway's routing table."""
    config = page_config(settings)
    headers = page_headers(config)

    async def moderation_page(request: Request) -> Response:
        return FileResponse(PAGE, media_type="text/html", headers=headers)

    async def moderation_config(request: Request) -> Response:
        return JSONResponse(config.as_json(), headers={"Cache-Control": "no-store"})

    return [
        Route("/moderation", moderation_page, methods=["GET"]),
        Route("/moderation/config.json", moderation_config, methods=["GET"]),
    ]
