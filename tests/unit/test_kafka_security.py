"""scoreboard.adapters.kafka_security: one reading of the SCOREBOARD_KAFKA_* settings for all three clients."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import pytest

from scoreboard.adapters.kafka_security import (
    aiokafka_config,
    client_ssl_context,
    faust_credentials,
    kafka_security,
    librdkafka_config,
)
from scoreboard.domain.errors import ConfigurationError
from scoreboard.settings import Settings

SCRAM = {
    "SCOREBOARD_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "SCOREBOARD_KAFKA_USERNAME": "scoreboard-api",
    "SCOREBOARD_KAFKA_PASSWORD": "not-a-real-password",
}


def _settings(tmp_path: Path, **env: str) -> Settings:
    # An empty stack dir, so no generated stack.env leaks into the test.
    return Settings.from_env({"SCOREBOARD_STACK_DIR": str(tmp_path), **env})


def test_settings_read_the_kafka_security_variables_and_hide_the_password(tmp_path: Path) -> None:
    settings = _settings(tmp_path, **SCRAM, SCOREBOARD_KAFKA_CA_FILE="/etc/ca.crt")
    assert settings.kafka_security_protocol == "SASL_SSL"
    assert settings.kafka_sasl_mechanism == "SCRAM-SHA-512"
    assert (settings.kafka_username, settings.kafka_ca_file) == ("scoreboard-api", "/etc/ca.crt")
    assert settings.kafka_password == "not-a-real-password"
    assert "not-a-real-password" not in repr(settings)
    assert "not-a-real-password" not in repr(kafka_security(settings))


def test_plaintext_is_the_default_and_adds_nothing(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    assert settings.kafka_security_protocol == "PLAINTEXT"
    assert librdkafka_config(settings) == {}
    assert aiokafka_config(settings) == {}
    assert faust_credentials(settings) is None


def test_sasl_ssl_for_librdkafka(tmp_path: Path) -> None:
    settings = _settings(tmp_path, **SCRAM, SCOREBOARD_KAFKA_CA_FILE="/etc/ca.crt")
    assert librdkafka_config(settings) == {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "scoreboard-api",
        "sasl.password": "not-a-real-password",
        "ssl.ca.location": "/etc/ca.crt",
    }


def test_sasl_ssl_for_aiokafka_verifies_the_broker(tmp_path: Path) -> None:
    config = aiokafka_config(_settings(tmp_path, **SCRAM))
    context = config.pop("ssl_context")
    assert config == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "scoreboard-api",
        "sasl_plain_password": "not-a-real-password",
    }
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def test_sasl_plaintext_has_no_tls_anywhere(tmp_path: Path) -> None:
    settings = _settings(tmp_path, **{**SCRAM, "SCOREBOARD_KAFKA_SECURITY_PROTOCOL": "sasl_plaintext",
                                      "SCOREBOARD_KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
                                      "SCOREBOARD_KAFKA_CA_FILE": "/etc/ca.crt"})
    assert librdkafka_config(settings) == {
        "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "SCRAM-SHA-256",
        "sasl.username": "scoreboard-api", "sasl.password": "not-a-real-password",
    }
    assert "ssl_context" not in aiokafka_config(settings)
    credentials = faust_credentials(settings)
    assert credentials is not None
    assert credentials.protocol.value == "SASL_PLAINTEXT"


def test_ssl_without_sasl_needs_no_user(tmp_path: Path) -> None:
    settings = _settings(tmp_path, SCOREBOARD_KAFKA_SECURITY_PROTOCOL="SSL",
                         SCOREBOARD_KAFKA_CA_FILE="/etc/ca.crt")
    assert librdkafka_config(settings) == {"security.protocol": "SSL", "ssl.ca.location": "/etc/ca.crt"}


def test_faust_gets_scram_over_tls(tmp_path: Path) -> None:
    from faust.auth import SASLCredentials
    from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

    credentials = faust_credentials(_settings(tmp_path, **SCRAM))
    assert isinstance(credentials, SASLCredentials)
    auth = dict(credentials_to_aiokafka_auth(credentials))
    assert isinstance(auth.pop("ssl_context"), ssl.SSLContext)
    assert auth == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "scoreboard-api",
        "sasl_plain_password": "not-a-real-password",
    }


def test_faust_gets_tls_only(tmp_path: Path) -> None:
    from faust.auth import SSLCredentials

    credentials = faust_credentials(_settings(tmp_path, SCOREBOARD_KAFKA_SECURITY_PROTOCOL="SSL"))
    assert isinstance(credentials, SSLCredentials)
    assert credentials.protocol.value == "SSL"


@pytest.mark.parametrize("missing", ["SCOREBOARD_KAFKA_USERNAME", "SCOREBOARD_KAFKA_PASSWORD"])
def test_sasl_without_a_user_refuses_to_start(tmp_path: Path, missing: str) -> None:
    settings = _settings(tmp_path, **{k: v for k, v in SCRAM.items() if k != missing})
    for build in (librdkafka_config, aiokafka_config, faust_credentials):
        with pytest.raises(ConfigurationError, match=missing):
            build(settings)


@pytest.mark.parametrize(("variable", "value"), [
    ("SCOREBOARD_KAFKA_SECURITY_PROTOCOL", "TLS"),
    ("SCOREBOARD_KAFKA_SASL_MECHANISM", "GSSAPI"),
])
def test_unknown_protocols_and_mechanisms_are_refused(tmp_path: Path, variable: str, value: str) -> None:
    settings = _settings(tmp_path, **{**SCRAM, variable: value})
    with pytest.raises(ConfigurationError, match=variable):
        librdkafka_config(settings)


def test_an_unreadable_ca_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="SCOREBOARD_KAFKA_CA_FILE"):
        client_ssl_context(str(tmp_path / "missing.crt"))
    bad = tmp_path / "bad.crt"
    bad.write_text("not a certificate")
    settings = _settings(tmp_path, **SCRAM, SCOREBOARD_KAFKA_CA_FILE=str(bad))
    with pytest.raises(ConfigurationError, match="SCOREBOARD_KAFKA_CA_FILE"):
        aiokafka_config(settings)


def test_the_clients_accept_the_configs(tmp_path: Path) -> None:
    """librdkafka and aiokafka take every key as spelled (nothing connects until used)."""
    from aiokafka import AIOKafkaConsumer

    from scoreboard.adapters.publishing import Publisher

    settings = _settings(tmp_path, **SCRAM)
    publisher = Publisher("127.0.0.1:1", client_id="test", extra_config=librdkafka_config(settings))
    assert publisher.close(timeout_s=0) == 0

    async def build() -> str:
        consumer = AIOKafkaConsumer("t", bootstrap_servers="127.0.0.1:1", **aiokafka_config(settings))
        return str(consumer._client._sasl_plain_username)

    assert asyncio.run(build()) == "scoreboard-api"
