"""One settings object, read once from the environment (prefix ``SCOREBOARD_``).

Values the local stack generated (``.stack/stack.env``) fill what the environment leaves unset, so
``scoreboard api`` works after ``scoreboard stack up`` without exporting anything. No secret has a
default here: a process that needs a key and has none refuses to start.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from scoreboard.domain.errors import ConfigurationError
from scoreboard.domain.signing import SigningKeyring

PREFIX = "SCOREBOARD_"


def stack_dir(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    return Path(env.get(PREFIX + "STACK_DIR", Path.cwd() / ".stack"))


def read_env_file(path: Path) -> dict[str, str]:
    """Parse ``KEY=value`` lines; blank lines and ``#`` comments are skipped. Missing file → {}."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip()
    return values



def merged_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The stack's generated values, overridden by the real environment."""
    env = dict(os.environ if environ is None else environ)
    merged = read_env_file(stack_dir(env) / "stack.env")
    merged.update(env)
    return merged


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(PREFIX + name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigurationError(f"{PREFIX}{name} must be an integer, got {raw!r}") from exc


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(PREFIX + name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ConfigurationError(f"{PREFIX}{name} must be a number, got {raw!r}") from exc


def _list(env: Mapping[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = env.get(PREFIX + name)
    if raw is None or raw.strip() == "":
        return default
    return tuple(part.strip() for part in raw.split(",") if part.strip())


@dataclass(frozen=True)
class Settings:
    kafka_bootstrap: str = "127.0.0.1:9092"
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str = "SCRAM-SHA-512"
    kafka_username: str = ""
    kafka_password: str = field(default="", repr=False)
    kafka_ca_file: str = ""
    database_url: str = ""
    redis_url: str = field(default="redis://127.0.0.1:6379/0", repr=False)  # may carry an ACL password
    redis_ca_file: str = ""
    jwt_algorithms: tuple[str, ...] = ("HS256",)
    jwt_secret: str = field(default="", repr=False)
    jwt_public_key_file: str = ""
    jwks_url: str = ""
    jwt_issuer: str = ""
    jwt_audience: str = ""
    jwt_leeway_seconds: int = 30
    ticket_secret: str = field(default="", repr=False)
    event_signing_secret: str = field(default="", repr=False)
    event_signing_old_secrets: tuple[str, ...] = field(default=(), repr=False)
    change_signing_secret: str = field(default="", repr=False)
    change_signing_old_secrets: tuple[str, ...] = field(default=(), repr=False)
    max_clock_skew_seconds: float = 300.0
    actions_file: str = ""
    catalog_history_dir: str = ""
    allowed_origins: tuple[str, ...] = ()
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    api_url: str = "http://127.0.0.1:8000"  # where `scoreboard admin` calls the api
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8001
    worker_port: int = 6066
    worker_host: str = "127.0.0.1"
    worker_id: str = "scoreboard-worker"
    worker_instance_id: str = ""
    worker_session_timeout_seconds: float = 10.0
    batch_size: int = 500
    batch_wait_seconds: float = 0.05
    top_n: int = 10
    produce_timeout_seconds: float = 30.0
    produce_linger_ms: int = 0
    max_body_bytes: int = 4096
    gateway_max_connections: int = 20000
    gateway_sources: tuple[str, ...] = ()
    heartbeat_seconds: float = 15.0
    gateway_max_inbound_frames_per_second: float = 20.0
    gateway_send_timeout_seconds: float = 30.0
    gateway_catch_up_wait_seconds: float = 10.0
    gateway_max_connections_per_ip: int = 200
    gateway_connects_per_ip_per_second: float = 20.0
    gateway_connects_per_ip_burst: int = 40
    trusted_proxies: tuple[str, ...] = ()
    ticket_old_secrets: tuple[str, ...] = field(default=(), repr=False)
    ticket_ttl_seconds: int = 900
    jwks_cache_seconds: float = 300.0
    jwks_min_refresh_seconds: float = 10.0
    rate_user_per_second: float = 1.0
    rate_user_burst: int = 20
    rate_ip_per_second: float = 2000.0
    rate_ip_burst: int = 20000
    rate_history_per_second: float = 5.0
    rate_history_burst: int = 20
    history_statement_timeout_ms: int = 2000
    idempotency_wait_seconds: float = 5.0
    idempotency_lease_seconds: float = 40.0
    otlp_endpoint: str = ""
    """OTLP/HTTP collector base URL for traces (``scoreboard.runtime.tracing``); empty: no tracing."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = merged_environment(environ)

        def text(name: str, default: str = "") -> str:
            return env.get(PREFIX + name, default) or default

        return cls(
            kafka_bootstrap=text("KAFKA_BOOTSTRAP", cls.kafka_bootstrap),
            kafka_security_protocol=text("KAFKA_SECURITY_PROTOCOL", cls.kafka_security_protocol),
            kafka_sasl_mechanism=text("KAFKA_SASL_MECHANISM", cls.kafka_sasl_mechanism),
            kafka_username=text("KAFKA_USERNAME"),
            kafka_password=text("KAFKA_PASSWORD"),
            kafka_ca_file=text("KAFKA_CA_FILE"),
            database_url=text("DATABASE_URL"),
            redis_url=text("REDIS_URL", cls.redis_url),
            redis_ca_file=text("REDIS_CA_FILE"),
            jwt_algorithms=_list(env, "JWT_ALGORITHMS", cls.jwt_algorithms),
            jwt_secret=text("JWT_SECRET"),
            jwt_public_key_file=text("JWT_PUBLIC_KEY_FILE"),
            jwks_url=text("JWKS_URL"),
            jwt_issuer=text("JWT_ISSUER"),
            jwt_audience=text("JWT_AUDIENCE"),
            jwt_leeway_seconds=_int(env, "JWT_LEEWAY_SECONDS", cls.jwt_leeway_seconds),
            ticket_secret=text("TICKET_SECRET"),
            event_signing_secret=text("EVENT_SIGNING_SECRET"),
            event_signing_old_secrets=_list(env, "EVENT_SIGNING_OLD_SECRETS", ()),
            change_signing_secret=text("CHANGE_SIGNING_SECRET"),
            change_signing_old_secrets=_list(env, "CHANGE_SIGNING_OLD_SECRETS", ()),
            max_clock_skew_seconds=_float(env, "MAX_CLOCK_SKEW_SECONDS", cls.max_clock_skew_seconds),
            actions_file=text("ACTIONS_FILE"),
            catalog_history_dir=text("CATALOG_HISTORY_DIR"),
            allowed_origins=_list(env, "ALLOWED_ORIGINS", ()),
            api_host=text("API_HOST", cls.api_host),
            api_port=_int(env, "API_PORT", cls.api_port),
            api_url=text("API_URL", cls.api_url),
            gateway_host=text("GATEWAY_HOST", cls.gateway_host),
            gateway_port=_int(env, "GATEWAY_PORT", cls.gateway_port),
            worker_port=_int(env, "WORKER_PORT", cls.worker_port),
            worker_host=text("WORKER_HOST", cls.worker_host),
            worker_id=text("WORKER_ID", cls.worker_id),
            worker_instance_id=text("WORKER_INSTANCE_ID"),
            worker_session_timeout_seconds=_float(env, "WORKER_SESSION_TIMEOUT_SECONDS",
                                                  cls.worker_session_timeout_seconds),
            batch_size=_int(env, "BATCH_SIZE", cls.batch_size),
            batch_wait_seconds=_float(env, "BATCH_WAIT_SECONDS", cls.batch_wait_seconds),
            top_n=_int(env, "TOP_N", cls.top_n),
            produce_timeout_seconds=_float(env, "PRODUCE_TIMEOUT_SECONDS", cls.produce_timeout_seconds),
            produce_linger_ms=_int(env, "PRODUCE_LINGER_MS", cls.produce_linger_ms),
            max_body_bytes=_int(env, "MAX_BODY_BYTES", cls.max_body_bytes),
            gateway_max_connections=_int(env, "GATEWAY_MAX_CONNECTIONS", cls.gateway_max_connections),
            gateway_sources=_list(env, "GATEWAY_SOURCES", ()),
            heartbeat_seconds=_float(env, "HEARTBEAT_SECONDS", cls.heartbeat_seconds),
            gateway_max_inbound_frames_per_second=_float(env, "GATEWAY_MAX_INBOUND_FRAMES_PER_SECOND",
                                                         cls.gateway_max_inbound_frames_per_second),
            gateway_send_timeout_seconds=_float(env, "GATEWAY_SEND_TIMEOUT_SECONDS",
                                                cls.gateway_send_timeout_seconds),
            gateway_catch_up_wait_seconds=_float(env, "GATEWAY_CATCH_UP_WAIT_SECONDS",
                                                 cls.gateway_catch_up_wait_seconds),
            gateway_max_connections_per_ip=_int(env, "GATEWAY_MAX_CONNECTIONS_PER_IP",
                                                cls.gateway_max_connections_per_ip),
            gateway_connects_per_ip_per_second=_float(env, "GATEWAY_CONNECTS_PER_IP_PER_SECOND",
                                                      cls.gateway_connects_per_ip_per_second),
            gateway_connects_per_ip_burst=_int(env, "GATEWAY_CONNECTS_PER_IP_BURST",
                                               cls.gateway_connects_per_ip_burst),
            trusted_proxies=_list(env, "TRUSTED_PROXIES", ()),
            ticket_old_secrets=_list(env, "TICKET_OLD_SECRETS", ()),
            ticket_ttl_seconds=_int(env, "TICKET_TTL_SECONDS", cls.ticket_ttl_seconds),
            jwks_cache_seconds=_float(env, "JWKS_CACHE_SECONDS", cls.jwks_cache_seconds),
            jwks_min_refresh_seconds=_float(env, "JWKS_MIN_REFRESH_SECONDS", cls.jwks_min_refresh_seconds),
            rate_user_per_second=_float(env, "RATE_USER_PER_SECOND", cls.rate_user_per_second),
            rate_user_burst=_int(env, "RATE_USER_BURST", cls.rate_user_burst),
            rate_ip_per_second=_float(env, "RATE_IP_PER_SECOND", cls.rate_ip_per_second),
            rate_ip_burst=_int(env, "RATE_IP_BURST", cls.rate_ip_burst),
            rate_history_per_second=_float(env, "RATE_HISTORY_PER_SECOND", cls.rate_history_per_second),
            rate_history_burst=_int(env, "RATE_HISTORY_BURST", cls.rate_history_burst),
            history_statement_timeout_ms=_int(env, "HISTORY_STATEMENT_TIMEOUT_MS", cls.history_statement_timeout_ms),
            idempotency_wait_seconds=_float(env, "IDEMPOTENCY_WAIT_SECONDS", cls.idempotency_wait_seconds),
            idempotency_lease_seconds=_float(env, "IDEMPOTENCY_LEASE_SECONDS", cls.idempotency_lease_seconds),
            otlp_endpoint=text("OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT", ""),
        )

    def require_database(self) -> str:
        if not self.database_url:
            raise ConfigurationError(
                "SCOREBOARD_DATABASE_URL is not set: export it, or run `scoreboard stack up` first"
            )
        return self.database_url

    def event_keyring(self) -> SigningKeyring:
        """The key the api signs action records with and workers verify them with."""
        return _keyring("event", "EVENT_SIGNING_SECRET", self.event_signing_secret, self.event_signing_old_secrets)

    def change_keyring(self) -> SigningKeyring:
        """The key workers sign change records with and gateways verify them with."""
        return _keyring("change", "CHANGE_SIGNING_SECRET", self.change_signing_secret,
                        self.change_signing_old_secrets)

    def require_jwt_key(self) -> None:
        if not (self.jwt_secret or self.jwt_public_key_file or self.jwks_url):
            raise ConfigurationError(
                "no JWT key: set SCOREBOARD_JWT_SECRET, SCOREBOARD_JWT_PUBLIC_KEY_FILE or "
                "SCOREBOARD_JWKS_URL (or run `scoreboard stack up`, which generates dev secrets)"
            )


def _keyring(purpose: str, variable: str, secret: str, previous: tuple[str, ...]) -> SigningKeyring:
    if not secret:
        raise ConfigurationError(
            f"no {PREFIX}{variable}: export one (>= 32 bytes, the same for every api, worker and gateway) "
            "or run `scoreboard stack up`, which generates dev secrets")
    return SigningKeyring(purpose, secret, previous)
