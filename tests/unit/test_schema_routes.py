"""``GET /v1/schemas`` and ``GET /v1/schemas/{fingerprint}`` on the real api, built on settings that
point at nothing (the routes need no I/O)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

import schemas
from producer_api.bootstrap import build_services, create_app
from scoreboard.adapters import codec
from scoreboard.domain.events import ScoreChanged
from scoreboard.settings import Settings

NOWHERE = "127.0.0.1:9"
SETTINGS = Settings(kafka_bootstrap="", database_url=f"postgresql://nobody@{NOWHERE}/nothing",
                    redis_url=f"redis://{NOWHERE}/0", jwt_secret="s" * 40, ticket_secret="t" * 40,
                    event_signing_secret="e" * 40, rate_user_per_second=0, rate_ip_per_second=0)


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    services = build_services(SETTINGS)
    try:
        yield TestClient(create_app(services), raise_server_exceptions=False)
    finally:
        services.publisher.close(timeout_s=1)


def test_the_list_names_every_kept_version_of_every_record(client: TestClient) -> None:
    answer = client.get("/v1/schemas")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    listed = answer.json()["schemas"]
    assert sorted((s["name"], s["version"]) for s in listed) == sorted(
        (kept.name, kept.version) for name in schemas.schema_names() for kept in schemas.versions(name))
    assert all(set(s) == {"name", "version", "fingerprint"} for s in listed)
    assert answer.headers["cache-control"] == "public, max-age=300"
    assert answer.headers["etag"].startswith('"')


def test_the_list_answers_304_to_its_own_etag(client: TestClient) -> None:
    etag = client.get("/v1/schemas").headers["etag"]
    again = client.get("/v1/schemas", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    assert client.get("/v1/schemas", headers={"If-None-Match": '"other"'}).status_code == 200


def test_the_fingerprint_in_a_record_fetches_its_schema_which_decodes_the_record(client: TestClient) -> None:
    """What a consumer does: read the 8 bytes after C3 01, fetch, decode with the schema it got."""
    value = codec.encode(ScoreChanged("e1", "bob", "win-match", 5, 105, 1_795_996_800_000_000))
    answer = client.get(f"/v1/schemas/{value[2:10].hex()}")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert answer.json() == schemas.load_schema("ScoreChanged")
    assert answer.text == schemas.versions("ScoreChanged")[-1].text  # the file, byte for byte
    assert codec.fingerprint_of(json.loads(answer.text)) == value[2:10]


@pytest.mark.parametrize("kept", codec.writer_schemas(), ids=lambda kept: f"{kept.name}-v{kept.version}")
def test_every_listed_fingerprint_answers_its_avsc(client: TestClient, kept: codec.WriterSchema) -> None:
    answer = client.get(f"/v1/schemas/{kept.fingerprint.hex().upper()}")
    assert answer.status_code == 200 and answer.text == kept.text


def test_an_unknown_fingerprint_is_404_and_a_malformed_one_422(client: TestClient) -> None:
    unknown = client.get("/v1/schemas/0000000000000000")
    assert unknown.status_code == 404 and unknown.headers["content-type"] == "application/problem+json"
    assert unknown.json()["type"].endswith("/unknown-schema")
    assert "immutable" not in unknown.headers.get("cache-control", "")
    for malformed in ("d1b4c22d5b30391", "d1b4c22d5b3039190", "zzzzzzzzzzzzzzzz", "ActionCompleted"):
        answer = client.get(f"/v1/schemas/{malformed}")
        assert answer.status_code == 422, malformed
        assert answer.headers["content-type"] == "application/problem+json"
