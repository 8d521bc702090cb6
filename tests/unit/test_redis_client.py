"""scoreboard.adapters.redis_client: every Redis client from SCOREBOARD_REDIS_URL (+ SCOREBOARD_REDIS_CA_FILE),
and the auto-pipeline reading its connection settings from that client (no server needed here; the real
TLS/ACL server is in tests/integration/test_redis_tls.py)."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from redis.asyncio.connection import SSLConnection

from scoreboard.adapters.autopipe import AutoPipeline
from scoreboard.adapters.redis_client import redis_client
from scoreboard.domain.errors import ConfigurationError
from scoreboard.settings import Settings
from tests.support.certificates import CertificateAuthority


def _settings(tmp_path: Path, url: str, **env: str) -> Settings:
    return Settings.from_env({"SCOREBOARD_STACK_DIR": str(tmp_path), "SCOREBOARD_REDIS_URL": url, **env})


def test_the_url_password_is_not_in_the_settings_repr(tmp_path: Path) -> None:
    settings = _settings(tmp_path, "rediss://alice:s3cret-value@redis.example:6380/0")
    assert "s3cret-value" not in repr(settings)


def test_the_ca_file_setting_applies_to_rediss_and_the_auto_pipeline_verifies_with_it(tmp_path: Path) -> None:
    ca = CertificateAuthority(tmp_path, "prod")
    client = redis_client(_settings(tmp_path, "rediss://alice:pw@redis.example:6380/2",
                                    SCOREBOARD_REDIS_CA_FILE=str(ca.cert_file)))
    kwargs = client.connection_pool.connection_kwargs
    assert (kwargs["ssl_ca_certs"], kwargs["username"], kwargs["password"], kwargs["db"]) == (
        str(ca.cert_file), "alice", "pw", 2)
    calls = AutoPipeline.for_client(client)
    assert calls.ssl_context is not None
    assert calls.ssl_context.verify_mode == ssl.CERT_REQUIRED and calls.ssl_context.check_hostname
    # like redis-py: the system's CAs plus ours
    assert ((("commonName", "prod test CA"),),) in [c["subject"] for c in calls.ssl_context.get_ca_certs()]


def test_a_ca_in_the_url_wins_over_the_setting(tmp_path: Path) -> None:
    in_url, in_setting = CertificateAuthority(tmp_path, "url"), CertificateAuthority(tmp_path, "setting")
    client = redis_client(_settings(tmp_path, f"rediss://redis.example:6380/0?ssl_ca_certs={in_url.cert_file}",
                                    SCOREBOARD_REDIS_CA_FILE=str(in_setting.cert_file)))
    assert client.connection_pool.connection_kwargs["ssl_ca_certs"] == str(in_url.cert_file)


def test_a_ca_file_with_a_plaintext_url_refuses_to_start(tmp_path: Path) -> None:
    ca = CertificateAuthority(tmp_path, "prod")
    with pytest.raises(ConfigurationError, match="rediss://"):
        redis_client(_settings(tmp_path, "redis://redis.example:6379/0", SCOREBOARD_REDIS_CA_FILE=str(ca.cert_file)))


@pytest.mark.parametrize("url, env, message", [
    ("rediss://redis.example:6380/0", {"SCOREBOARD_REDIS_CA_FILE": "/nonexistent/ca.crt"}, "REDIS_CA_FILE"),
    ("rediss://redis.example:6380/0?ssl_certfile=/nonexistent/c.crt", {}, "ssl_certfile"),
    ("http://redis.example:6379/0", {}, "redis://, rediss://"),
    ("redis://redis.example:6379/0?db=three", {}, "not a valid Redis URL"),
])
def test_a_broken_redis_configuration_refuses_to_start(tmp_path: Path, url: str, env: dict[str, str],
                                                       message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        redis_client(_settings(tmp_path, url, **env))


def test_the_auto_pipeline_takes_timeouts_and_verification_options_from_the_url(tmp_path: Path) -> None:
    client = redis_client(_settings(
        tmp_path, "rediss://redis.example:6380/0?ssl_cert_reqs=none&socket_connect_timeout=0.5&socket_timeout=3"))
    calls = AutoPipeline.for_client(client)
    assert calls.ssl_context is not None and calls.ssl_context.verify_mode == ssl.CERT_NONE
    assert (calls._connect_timeout_s, calls._reply_timeout_s) == (0.5, 3.0)
    assert AutoPipeline.for_client(client, reply_timeout_s=1)._reply_timeout_s == 1
    assert AutoPipeline.for_client(redis_client(_settings(tmp_path, "redis://127.0.0.1:6379/0"))).ssl_context is None


def test_the_auto_pipeline_refuses_a_unix_socket(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unix-socket"):
        AutoPipeline.for_client(redis_client(_settings(tmp_path, "unix:///run/redis.sock?db=0")))


@pytest.mark.parametrize("query", [
    "", "ssl_cert_reqs=none", "ssl_cert_reqs=optional", "ssl_check_hostname=false", "ssl_min_version=772",
    "ssl_ciphers=ECDHE+AESGCM",
])
def test_the_auto_pipeline_builds_the_ssl_context_redis_py_builds(tmp_path: Path, query: str) -> None:
    """The same verification as redis-py's own SSLConnection for the same URL, defaults included."""
    ca = CertificateAuthority(tmp_path, "prod")
    client = redis_client(_settings(tmp_path, f"rediss://redis.example:6380/0?ssl_ca_certs={ca.cert_file}&{query}"))
    ours = AutoPipeline.for_client(client).ssl_context
    pool = client.connection_pool
    connection = pool.connection_class(**pool.connection_kwargs)  # what the pool makes; nothing connects
    assert isinstance(connection, SSLConnection)
    theirs = connection.ssl_context.get()
    assert ours is not None
    for attribute in ("verify_mode", "check_hostname", "minimum_version", "maximum_version", "verify_flags",
                      "options"):
        assert getattr(ours, attribute) == getattr(theirs, attribute), attribute
    assert ours.get_ca_certs() == theirs.get_ca_certs()
    assert [c["name"] for c in ours.get_ciphers()] == [c["name"] for c in theirs.get_ciphers()]
