"""``scoreboard admin`` and ``scoreboard events tail``: argument parsing, the admin client's requests and
answers (against a local stub of the api), and the JSON lines of the tail (pure functions)."""

from __future__ import annotations

import argparse
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest

from scoreboard import cli
from scoreboard.adapters import codec
from scoreboard.domain.errors import ConfigurationError
from scoreboard.domain.events import UserBanned
from scoreboard.runtime.admin_client import AdminClient, AdminError, admin_token, problem_message
from scoreboard.runtime.events_tail import consumer_config, event_json, record_json, record_line, text_or_hex
from scoreboard.settings import Settings

SECRET = "s" * 40


def parse(*argv: str) -> Any:
    return cli._parser({}).parse_args(list(argv))


def test_admin_commands_parse_their_options() -> None:
    args = parse("admin", "adjust", "alice", "--delta", "-40", "--reason", "refund", "--key", "k-12345678",
                 "--api", "http://api:8000", "--token", "T", "--as", "root")
    assert (args.command, args.admin_command, args.user, args.delta, args.reason, args.key, args.api, args.token,
            args.as_admin) == ("admin", "adjust", "alice", -40, "refund", "k-12345678", "http://api:8000", "T", "root")
    ban = parse("admin", "ban", "bob", "--reason", "cheating")
    assert (ban.admin_command, ban.user, ban.reason, ban.key, ban.api, ban.token, ban.as_admin) == (
        "ban", "bob", "cheating", "", "", "", "scoreboard-admin")
    assert parse("admin", "unban", "bob", "--reason", "appeal").admin_command == "unban"


@pytest.mark.parametrize("argv", [
    ("admin", "ban", "bob"),                                  # no --reason
    ("admin", "adjust", "bob", "--reason", "x"),               # no --delta
    ("admin", "adjust", "bob", "--delta", "1.5", "--reason", "x"),
    ("admin",),
    ("events", "tail"),                                       # no topic
    ("events", "tail", "t", "--max", "many"),
])
def test_incomplete_or_wrong_arguments_exit_with_usage(argv: tuple[str, ...],
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse(*argv)
    assert exited.value.code == 2 and "usage:" in capsys.readouterr().err


def test_events_tail_parses_its_options() -> None:
    args = parse("events", "tail", "scoreboard.actions.v1", "--from-beginning", "--max", "5", "--idle-timeout", "2")
    assert (args.events_command, args.topic, args.from_beginning, args.max, args.idle_timeout) == (
        "tail", "scoreboard.actions.v1", True, 5, 2.0)
    default = parse("events", "tail", "scoreboard.rejected.v1")
    assert (default.from_beginning, default.max, default.idle_timeout) == (False, 0, 0.0)


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse("--version")
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"scoreboard {cli.package_version()}"


def _commands(parser: argparse.ArgumentParser, path: str = "scoreboard") -> Iterator[tuple[str, Any]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _commands(child, f"{path} {name}")


def test_every_option_and_argument_has_help_text() -> None:
    commands = dict(_commands(cli._parser({})))
    assert {"scoreboard admin ban", "scoreboard admin unban", "scoreboard admin adjust",
            "scoreboard events tail"} <= set(commands)
    for path, parser in commands.items():
        silent = [a.dest for a in parser._actions if not a.help and not isinstance(a, argparse._SubParsersAction)]
        assert not silent, (path, silent)


# The admin client, against a stub of the api.

class Stub(BaseHTTPRequestHandler):
    answers: list[tuple[int, dict[str, Any]]] = []
    seen: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's spelling)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Stub.seen.append({"path": self.path, "headers": dict(self.headers), "body": body})
        status, answer = Stub.answers.pop(0)
        payload = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json" if status < 400 else "application/problem+json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def api() -> Iterator[str]:
    Stub.answers, Stub.seen = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Stub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_an_adjustment_posts_delta_reason_token_and_key(api: str) -> None:
    Stub.answers.append((202, {"event_id": "e1", "status": "accepted"}))
    answer = AdminClient(api + "/", "TOKEN").adjust("al ice/1", -40, "refund", "key-12345678")
    assert (answer.status, answer.body, answer.idempotency_key) == (202, {"event_id": "e1", "status": "accepted"},
                                                                     "key-12345678")
    seen = Stub.seen[0]
    assert seen["path"] == "/v1/admin/users/al%20ice%2F1/adjustments"
    assert seen["body"] == {"delta": -40, "reason": "refund"}
    assert seen["headers"]["Authorization"] == "Bearer TOKEN"
    assert seen["headers"]["Idempotency-Key"] == "key-12345678"


def test_ban_and_unban_generate_a_key_when_none_is_given(api: str) -> None:
    Stub.answers += [(202, {"event_id": "b", "status": "accepted"}), (200, {"event_id": "b", "status": "duplicate"})]
    client = AdminClient(api, "T")
    first = client.ban("bob", "cheating")
    assert len(first.idempotency_key) == 36 and Stub.seen[0]["headers"]["Idempotency-Key"] == first.idempotency_key
    again = client.unban("bob", "appeal", first.idempotency_key)
    assert again.status == 200 and Stub.seen[1]["path"] == "/v1/admin/users/bob/unban"
    assert Stub.seen[1]["body"] == {"reason": "appeal"}


def test_a_problem_answer_raises_with_its_title_and_detail(api: str) -> None:
    problem = {"type": "https://scoreboard.example/problems/forbidden", "title": "forbidden", "status": 403,
               "detail": "this endpoint needs the admin role"}
    Stub.answers.append((403, problem))
    with pytest.raises(AdminError) as raised:
        AdminClient(api, "T").ban("bob", "x")
    assert raised.value.status == 403 and raised.value.body == problem
    assert str(raised.value) == "403 forbidden: this endpoint needs the admin role"


def test_an_unreachable_api_is_an_admin_error() -> None:
    with pytest.raises(AdminError, match="cannot reach the api"):
        AdminClient("http://127.0.0.1:1", "T", timeout_seconds=2).ban("bob", "x")


def test_problem_message_uses_what_the_answer_has() -> None:
    assert problem_message(500, {}, "Internal Server Error") == "500 Internal Server Error"
    assert problem_message(422, {"title": "invalid body", "detail": "`delta` must not be 0"}) == (
        "422 invalid body: `delta` must not be 0")


def test_the_cli_prints_the_answer_and_exits_non_zero_on_a_problem(
        api: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCOREBOARD_STACK_DIR", "/nonexistent")
    Stub.answers += [(202, {"event_id": "e9", "status": "accepted"}),
                     (422, {"title": "invalid body", "status": 422, "detail": "`delta` must not be 0"})]
    assert cli.main(["admin", "adjust", "u1", "--delta", "5", "--reason", "r", "--api", api, "--token", "T",
                     "--key", "retry-123456"]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out) == {"event_id": "e9", "status": "accepted"} and "Idempotency-Key" not in out.err
    assert cli.main(["admin", "adjust", "u1", "--delta", "0", "--reason", "r", "--api", api, "--token", "T"]) == 1
    out = capsys.readouterr()
    assert "422 invalid body: `delta` must not be 0" in out.err
    assert "retry with --key" in out.err
    assert Stub.seen[1]["headers"]["Idempotency-Key"] in out.err


def test_the_token_is_given_from_the_environment_or_minted_as_the_admin() -> None:
    settings = Settings(jwt_secret=SECRET, jwt_issuer="iss", jwt_audience="aud")
    assert admin_token("EXPLICIT", {"SCOREBOARD_ADMIN_TOKEN": "ENV"}, settings, "root") == "EXPLICIT"
    assert admin_token("", {"SCOREBOARD_ADMIN_TOKEN": "ENV"}, settings, "root") == "ENV"
    claims = jwt.decode(admin_token("", {}, settings, "root"), SECRET, algorithms=["HS256"], audience="aud",
                        issuer="iss")
    assert claims["sub"] == "root" and claims["roles"] == ["admin"]
    with pytest.raises(ConfigurationError, match="no admin token"):
        admin_token("", {}, Settings(), "root")


# The JSON lines of the tail.

def test_a_record_becomes_one_json_line_with_its_event_and_type() -> None:
    event = UserBanned(event_id="e-1", user_id="bob", reason="cheating", admin_id="root", occurred_at_us=1)
    line = record_line(record_json(
        topic="scoreboard.actions.v1", partition=3, offset=42, timestamp_ms=1_764_500_000_123, key=b"bob",
        headers=[("ce_type", b"scoreboard.UserBanned.v1"), ("sig", b"\x00\xffzz")], value=codec.encode(event)))
    assert "\n" not in line
    record = json.loads(line)
    assert (record["topic"], record["partition"], record["offset"], record["key"]) == (
        "scoreboard.actions.v1", 3, 42, "bob")
    assert record["timestamp"] == 1_764_500_000_123 and record["time"] == "2025-11-30T10:53:20.123+00:00"
    assert record["headers"] == {"ce_type": "scoreboard.UserBanned.v1", "sig": {"hex": "00ff7a7a"}}
    assert record["event"]["type"] == "UserBanned" and record["event"]["user_id"] == event.user_id


def test_an_undecodable_value_is_shown_not_fatal() -> None:
    shown = event_json(b"\x01\x02garbage")
    assert shown["bytes"] == "010267617262616765" and "DecodeError" in shown["undecodable"]
    truncated = event_json(codec.MAGIC + next(iter(codec._by_fingerprint())) + b"\xff")
    assert "undecodable" in truncated
    assert event_json(None)["undecodable"].startswith("no value")
    record = json.loads(record_line(record_json(topic="t", partition=0, offset=0, timestamp_ms=None, key=None,
                                                headers=None, value=b"zz")))
    assert record["time"] is None and record["key"] is None and record["headers"] == {}


def test_text_or_hex() -> None:
    assert text_or_hex(b"alice") == "alice" and text_or_hex("str") == "str"
    assert text_or_hex(b"a\nb") == {"hex": "610a62"} and text_or_hex(b"\xc3") == {"hex": "c3"}
    assert text_or_hex(None) is None and text_or_hex(b"") == ""


def test_the_consumer_commits_nothing_and_uses_a_fresh_group() -> None:
    first, second = consumer_config(Settings(), True), consumer_config(Settings(), False)
    assert first["enable.auto.commit"] is False and first["group.id"] != second["group.id"]
    assert (first["auto.offset.reset"], second["auto.offset.reset"]) == ("earliest", "latest")
    secured = consumer_config(Settings(kafka_security_protocol="SASL_SSL", kafka_username="u", kafka_password="p"),
                              False)
    assert secured["security.protocol"] == "SASL_SSL" and secured["sasl.username"] == "u"
