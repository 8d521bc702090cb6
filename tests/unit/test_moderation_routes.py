"""The gateway's moderation routes: the page with a policy that lets it reach only the api and itself,
and the configuration that tells it where the api is."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.testclient import TestClient

from gateway import moderation
from scoreboard.settings import Settings


def client(settings: Settings) -> TestClient:
    return TestClient(Starlette(routes=moderation.routes(settings)))


def test_the_config_names_the_public_api_url_else_the_api_url() -> None:
    """SCOREBOARD_PUBLIC_API_URL wins (without its trailing slash); empty, SCOREBOARD_API_URL is used."""
    public = client(Settings(public_api_url="https://api.example.test/", api_url="http://10.0.0.5:8000"))
    assert public.get("/moderation/config.json").json() == {"api_url": "https://api.example.test"}
    fallback = client(Settings(api_url="http://127.0.0.1:9000"))
    assert fallback.get("/moderation/config.json").json() == {"api_url": "http://127.0.0.1:9000"}


def test_the_page_may_connect_only_to_itself_and_the_api_origin_and_is_never_framed() -> None:
    """The Content-Security-Policy names the api's origin (not its path) and forbids framing and inline script."""
    response = client(Settings(public_api_url="https://api.example.test/base")).get("/moderation")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert 'src="/static/moderation.js"' in response.text
    policy = dict(part.split(" ", 1) for part in response.headers["content-security-policy"].split("; "))
    assert policy["connect-src"] == "'self' https://api.example.test"
    assert policy["script-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"
