"""``Settings.from_env`` validates what it reads and names the variable of each invalid value; tuple
settings are comma-separated lists; secrets may come from files; a given mapping is all it reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from scoreboard.domain.errors import ConfigurationError
from scoreboard.settings import Settings

NOWHERE = {"SCOREBOARD_STACK_DIR": "/nonexistent"}


def invalid(**variables: str) -> str:
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_env(NOWHERE | {f"SCOREBOARD_{name}": value for name, value in variables.items()})
    return str(raised.value)


def test_a_value_that_is_not_a_number_names_its_variable() -> None:
    message = invalid(API_PORT="abc")
    assert "SCOREBOARD_API_PORT" in message and "integer" in message and "'abc'" in message


def test_a_port_out_of_range_names_its_variable_and_the_bound() -> None:
    message = invalid(API_PORT="70000")
    assert "SCOREBOARD_API_PORT" in message and "65535" in message


def test_port_zero_means_pick_one_and_is_valid() -> None:
    assert Settings.from_env(NOWHERE | {"SCOREBOARD_GATEWAY_PORT": "0"}).gateway_port == 0


def test_ranges_urls_and_cidrs_are_checked() -> None:
    assert "SCOREBOARD_PRODUCE_TIMEOUT_SECONDS" in invalid(PRODUCE_TIMEOUT_SECONDS="0")
    assert "SCOREBOARD_RATE_USER_PER_SECOND" in invalid(RATE_USER_PER_SECOND="-1")
    assert "SCOREBOARD_BATCH_SIZE" in invalid(BATCH_SIZE="0")
    assert "SCOREBOARD_TRUSTED_PROXIES" in invalid(TRUSTED_PROXIES="10.0.0.0/8,not-a-network")
    assert "SCOREBOARD_API_URL" in invalid(API_URL="127.0.0.1:8000")
    assert "SCOREBOARD_DATABASE_URL" in invalid(DATABASE_URL="mysql://db/x")


def test_every_invalid_value_is_reported_at_once() -> None:
    message = invalid(API_PORT="abc", GATEWAY_PORT="-1")
    assert "SCOREBOARD_API_PORT" in message and "SCOREBOARD_GATEWAY_PORT" in message


def test_a_secret_value_is_never_echoed_in_the_error() -> None:
    message = invalid(REDIS_URL="http://user:hunter2@cache/0")
    assert "SCOREBOARD_REDIS_URL" in message and "hunter2" not in message


def test_tuple_settings_are_comma_separated_lists_not_json() -> None:
    settings = Settings.from_env(NOWHERE | {"SCOREBOARD_JWT_ALGORITHMS": "RS256, ES256,",
                                            "SCOREBOARD_ALLOWED_ORIGINS": "https://a.test,https://b.test"})
    assert settings.jwt_algorithms == ("RS256", "ES256")
    assert settings.allowed_origins == ("https://a.test", "https://b.test")
    assert Settings.from_env(NOWHERE | {"SCOREBOARD_JWT_ALGORITHMS": " "}).jwt_algorithms == ("HS256",)
    assert Settings.model_validate({"gateway_sources": "a,b"}).gateway_sources == ("a", "b")


def test_secrets_come_from_files_named_like_their_variables(tmp_path: Path) -> None:
    (tmp_path / "SCOREBOARD_JWT_SECRET").write_text("j" * 40 + "\n")
    (tmp_path / "SCOREBOARD_EVENT_SIGNING_OLD_SECRETS").write_text("old-1,old-2")
    settings = Settings.from_env(NOWHERE | {"SCOREBOARD_SECRETS_DIR": str(tmp_path)})
    assert settings.jwt_secret == "j" * 40
    assert settings.event_signing_old_secrets == ("old-1", "old-2")


def test_the_environment_wins_over_a_secret_file_and_a_file_over_the_stack(tmp_path: Path) -> None:
    secrets, stack = tmp_path / "secrets", tmp_path / "stack"
    secrets.mkdir()
    stack.mkdir()
    (secrets / "SCOREBOARD_TICKET_SECRET").write_text("from-file")
    (secrets / "SCOREBOARD_JWT_SECRET").write_text("from-file")
    (stack / "stack.env").write_text("SCOREBOARD_TICKET_SECRET=from-stack\nSCOREBOARD_JWT_SECRET=from-stack\n")
    settings = Settings.from_env({"SCOREBOARD_STACK_DIR": str(stack), "SCOREBOARD_SECRETS_DIR": str(secrets),
                                  "SCOREBOARD_JWT_SECRET": "from-env"})
    assert (settings.jwt_secret, settings.ticket_secret) == ("from-env", "from-file")


def test_a_missing_secrets_directory_is_a_configuration_error(tmp_path: Path) -> None:
    assert "SCOREBOARD_SECRETS_DIR" in invalid(SECRETS_DIR=str(tmp_path / "absent"))


def test_from_env_with_a_mapping_never_reads_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCOREBOARD_API_PORT", "70000")
    monkeypatch.setenv("SCOREBOARD_JWT_SECRET", "from-process")
    settings = Settings.from_env(NOWHERE)
    assert (settings.api_port, settings.jwt_secret) == (8000, "")


def test_the_constructor_reads_no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCOREBOARD_API_PORT", "9999")
    assert Settings().api_port == 8000 and Settings(api_port=1).api_port == 1


def test_from_env_without_a_mapping_reads_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCOREBOARD_STACK_DIR", "/nonexistent")
    monkeypatch.setenv("SCOREBOARD_API_PORT", "9999")
    assert Settings.from_env().api_port == 9999


def test_secrets_stay_out_of_the_repr() -> None:
    shown = repr(Settings(jwt_secret="s3cret", redis_url="redis://u:pw@h/0", ticket_old_secrets=("old-key",)))
    assert "s3cret" not in shown and "pw@" not in shown and "old-key" not in shown
