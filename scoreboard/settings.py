"""One settings object, read once from the environment (prefix ``SCOREBOARD_``).

Values the local stack generated (``.stack/stack.env``) fill what the environment leaves unset, so
``scoreboard api`` works after ``scoreboard stack up`` without exporting anything. A deployment may mount
secrets as files instead (``SCOREBOARD_SECRETS_DIR``: one file per variable, named like it, as Kubernetes
mounts a Secret). No secret has a default here: a process that needs a key and has none refuses to start.

``Settings(...)`` reads nothing but its arguments; ``Settings.from_env`` is the one place that reads the
environment, and it turns every invalid value into a ``ConfigurationError`` naming the variable.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SecretsSettingsSource,
    SettingsConfigDict,
)

from scoreboard.domain.errors import ConfigurationError
from scoreboard.domain.signing import SigningKeyring

PREFIX = "SCOREBOARD_"
SECRETS_DIR = PREFIX + "SECRETS_DIR"

CommaList = Annotated[tuple[str, ...], NoDecode]
"""A tuple setting, spelled in the environment as a comma-separated list (not JSON)."""


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


class Settings(BaseSettings):
    """Every setting of the processes; each field's description is its row in docs/operations.md."""

    model_config = SettingsConfigDict(env_prefix=PREFIX, frozen=True, extra="forbid")

    kafka_bootstrap: str = Field(default="127.0.0.1:9092", description=
        "Kafka bootstrap servers, comma-separated `host:port` (every process)")
    kafka_security_protocol: str = Field(default="PLAINTEXT", description=
        "`PLAINTEXT`, `SSL`, `SASL_PLAINTEXT` or `SASL_SSL`, for every Kafka client of the process "
        "(`scoreboard/adapters/kafka_security.py`); a deployment with ACLs uses `SASL_SSL`")
    kafka_sasl_mechanism: str = Field(default="SCRAM-SHA-512", description=
        "`SCRAM-SHA-512`, `SCRAM-SHA-256` or `PLAIN` (with `SASL_*`)")
    kafka_username: str = Field(default="", description="the role's Kafka user (with `SASL_*`)")
    kafka_password: str = Field(default="", repr=False, description="its password (secret)")
    kafka_ca_file: str = Field(default="", description=
        "CA file that verifies the brokers (with `SSL`/`SASL_SSL`; empty: the system's CAs)")
    database_url: str = Field(default="", description="Postgres URL (api, worker, rebuild, provision). **Required**")
    redis_url: str = Field(default="redis://127.0.0.1:6379/0", repr=False, description=
        "the one source of every Redis connection; `rediss://` for TLS, `user:password@` for an ACL user ([Redis "
        "TLS and ACL users](#redis-tls-and-acl-users)). **Required** in a deployment")
    redis_ca_file: str = Field(default="", description=
        "CA file of a `rediss://` URL, when mounting it is easier than `ssl_ca_certs` in the URL (which wins)")
    jwt_algorithms: CommaList = Field(default=("HS256",), description=
        "accepted JWT algorithms, comma separated; they must fit the key's type")
    jwt_secret: str = Field(default="", repr=False, description=
        "HMAC key of the tokens (HS*, ≥ 256 bits). **Required**: one of `JWT_SECRET` / `JWT_PUBLIC_KEY_FILE` / "
        "`JWKS_URL` (secret)")
    jwt_public_key_file: str = Field(default="", description="PEM public key of the tokens (RS*, PS*, ES*, EdDSA)")
    jwks_url: str = Field(default="", description=
        "the identity provider's JWKS ([security.md](security.md#decisions))")
    jwt_issuer: str = Field(default="", description=
        "expected `iss`; **required** with `JWT_PUBLIC_KEY_FILE` or `JWKS_URL` (the api refuses to start without "
        "it)")
    jwt_audience: str = Field(default="", description=
        "expected `aud`; **required** with `JWT_PUBLIC_KEY_FILE` or `JWKS_URL`")
    jwt_leeway_seconds: int = Field(default=30, ge=0, description="clock leeway for `exp`, `nbf`, `iat`")
    ticket_secret: str = Field(default="", repr=False, description=
        "signs the tickets of `start` (api). **Required**, ≥ 32 bytes (secret)")
    event_signing_secret: str = Field(default="", repr=False, description=
        "api signs, workers verify the actions topic. **Required**, ≥ 32 bytes, the same for every api and worker "
        "(secret)")
    event_signing_old_secrets: CommaList = Field(default=(), repr=False, description=
        "previous event keys, still verified (comma separated); keep them for as long as the log may be replayed")
    change_signing_secret: str = Field(default="", repr=False, description=
        "workers sign, gateways verify the change topics. **Required**, ≥ 32 bytes, the same for every worker and "
        "gateway (secret)")
    change_signing_old_secrets: CommaList = Field(default=(), repr=False, description=
        "previous change keys, still verified (comma separated)")
    max_clock_skew_seconds: float = Field(default=300.0, gt=0, description=
        "largest gap between an event's recorded time and its Kafka timestamp (worker)")
    actions_file: str = Field(default="", description=
        "the action catalog (TOML); empty: the shipped `scoreboard/catalogs/actions.toml`")
    catalog_history_dir: str = Field(default="", description=
        "earlier catalog versions (`*.toml`): the worker judges an event by the version it records, so a rebuild "
        "needs every version the log holds")
    allowed_origins: CommaList = Field(default=(), description=
        "browser origins the gateway accepts and the api answers (CORS), comma separated (`*`: any); empty: the "
        "same host only")
    api_host: str = Field(default="127.0.0.1", description="the api's bind address (`0.0.0.0` in a pod)")
    api_port: int = Field(default=8000, ge=0, le=65535, description="the api's port")
    api_url: str = Field(default="http://127.0.0.1:8000", description=
        "the api's base URL that `scoreboard admin` calls (client side; `--api` overrides)")
    public_api_url: str = Field(default="", description=
        "the api's base URL as browsers reach it, for the gateway's moderation page (`/moderation/config.json`); "
        "empty: `SCOREBOARD_API_URL`")
    gateway_host: str = Field(default="127.0.0.1", description="the gateway's bind address")
    gateway_port: int = Field(default=8001, ge=0, le=65535, description="the gateway's port")
    worker_port: int = Field(default=6066, ge=0, le=65535, description="the worker's health and metrics port")
    worker_host: str = Field(default="127.0.0.1", description="the worker's bind address")
    worker_id: str = Field(default="scoreboard-worker", description="the workers' consumer group")
    worker_instance_id: str = Field(default="", description=
        "static group membership: a restarted worker gets its partitions back at once")
    worker_session_timeout_seconds: float = Field(default=10.0, gt=0, description=
        "the worker's Kafka group session timeout (heartbeat a quarter of it)")
    batch_size: int = Field(default=500, ge=1, description="most records per worker batch")
    batch_wait_seconds: float = Field(default=0.05, ge=0, description="longest wait to fill a worker batch")
    top_n: int = Field(default=10, ge=1, description="entries of a board's top that change events carry")
    produce_timeout_seconds: float = Field(default=30.0, gt=0, description=
        "Kafka delivery timeout of the api; an unacknowledged produce fails the request")
    produce_linger_ms: int = Field(default=0, ge=0, description=
        "the api's `linger.ms`: 0, as the api answers after Kafka's ack, so waiting to fill a batch only adds "
        "latency; librdkafka still batches whatever queues while a request is in flight "
        "([benchmarks](benchmarks.md))")
    max_body_bytes: int = Field(default=4096, ge=1, description="largest request body the api reads (413 beyond)")
    gateway_max_connections: int = Field(default=20000, ge=1, description=
        "open WebSocket + SSE subscriptions of one gateway; beyond: 1013 / 503")
    gateway_sources: CommaList = Field(default=(), description=
        "`ce_source` values of the change records a gateway takes, comma separated; empty: every worker's")
    heartbeat_seconds: float = Field(default=15.0, gt=0, description=
        "a push heartbeat after this long without a frame")
    gateway_max_inbound_frames_per_second: float = Field(default=20.0, ge=0, description=
        "frames a WebSocket client may send per second")
    gateway_send_timeout_seconds: float = Field(default=30.0, gt=0, description=
        "a client that takes no frame for this long is dropped")
    gateway_catch_up_wait_seconds: float = Field(default=10.0, ge=0, description=
        "after start, how long new connections wait for the gateway to read the changes topic up to its end")
    gateway_max_connections_per_ip: int = Field(default=200, ge=0, description=
        "open WebSocket + SSE subscriptions of one client address on one gateway (0: no cap), under "
        "`GATEWAY_MAX_CONNECTIONS`; beyond: WebSocket close 1013, SSE 429 `too-many-client-connections`. "
        "Origin-less (non-browser) clients are admitted and counted the same way. Tests: "
        "`tests/unit/test_gateway_admission.py`")
    gateway_connects_per_ip_per_second: float = Field(default=20.0, ge=0, description=
        "new subscriptions per second of one client address on one gateway (0: no limit); beyond: 1013 / SSE 429 "
        "`rate-limited` with `Retry-After`. Test: "
        "`tests/unit/test_gateway_admission.py::"
        "test_connects_beyond_an_address_rate_are_refused_until_its_bucket_refills`")
    gateway_connects_per_ip_burst: int = Field(default=40, ge=1, description="the burst of that bucket")
    trusted_proxies: CommaList = Field(default=(), description=
        "comma-separated CIDRs (or addresses) of our own ingress/load balancers; empty: trust none. Only when the "
        "socket peer is one of them is `X-Forwarded-For` read, and the client is its right-most hop outside them; "
        "used by the api's per-IP buckets and the gateway's per-address caps. uvicorn's own forwarded-header "
        "handling is off, so a sidecar on loopback must be listed (`127.0.0.1/32,::1/128`). Tests: "
        "`tests/unit/test_client_address.py`")
    ticket_old_secrets: CommaList = Field(default=(), repr=False, description=
        "previous ticket keys, still accepted (comma separated); drop them after `TICKET_TTL_SECONDS`")
    ticket_ttl_seconds: int = Field(default=900, ge=1, description="lifetime of a `start` ticket")
    jwks_cache_seconds: float = Field(default=300.0, ge=0, description="how long fetched JWKS keys are kept")
    jwks_min_refresh_seconds: float = Field(default=10.0, ge=0, description=
        "least time between two JWKS fetches on an unknown `kid`")
    rate_user_per_second: float = Field(default=1.0, ge=0, description=
        "per user, commands per second (a human's pace); 429 `rate-limited`")
    rate_user_burst: int = Field(default=20, ge=1, description="the burst of that bucket")
    rate_ip_per_second: float = Field(default=2000.0, ge=0, description=
        "per client IP, `/v1/` requests per second, before auth")
    rate_ip_burst: int = Field(default=20000, ge=1, description="the burst of that bucket")
    rate_history_per_second: float = Field(default=5.0, ge=0, description=
        "per client IP, the `?as_of=` and history reads (0 disables); 429 `rate-limited`. Test: "
        "`tests/integration/test_ledger_reads_bounded.py::test_ledger_reads_have_their_own_per_client_bucket`")
    rate_history_burst: int = Field(default=20, ge=1, description="the burst of that bucket")
    history_statement_timeout_ms: int = Field(default=2000, ge=0, description=
        "`statement_timeout` of the api's separate pool of 2 connections for `?as_of=` and history (0: none); also "
        "the longest wait for one of them. A cut read is 503 `query-timeout` with `Retry-After`. Tests: "
        "`tests/integration/test_ledger_reads_bounded.py::"
        "test_a_statement_past_the_timeout_is_cut_and_the_connection_stays_usable`, "
        "`::test_an_as_of_or_history_read_cut_by_the_timeout_is_a_503_problem_and_live_reads_go_on`")
    idempotency_wait_seconds: float = Field(default=5.0, gt=0, description=
        "how long a concurrent duplicate request waits for the first one's event id (then 409)")
    idempotency_lease_seconds: float = Field(default=40.0, gt=0, description=
        "how long a request holds its Idempotency-Key while it is being produced (> the delivery timeout)")
    otlp_endpoint: str = Field(default="", description=
        "OTLP/HTTP collector base URL for traces; empty: no tracing (`OTEL_EXPORTER_OTLP_ENDPOINT` when this is "
        "unset)")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The arguments only: the environment is read by ``from_env`` alone, from the mapping it is given."""
        return (init_settings,)

    @field_validator("*", mode="before")
    @classmethod
    def _split_commas(cls, value: Any, info: ValidationInfo) -> Any:
        """``a, b`` → ``("a", "b")`` for the tuple fields (pydantic-settings would parse JSON)."""
        if isinstance(value, str) and info.field_name and isinstance(cls.model_fields[info.field_name].default, tuple):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _cidrs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError as exc:
                raise ValueError(f"{network!r} is not an address or CIDR") from exc
        return value

    @field_validator("api_url", "public_api_url", "jwks_url", "otlp_endpoint")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return _url(value, ("http", "https"))

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str) -> str:
        return _url(value, ("redis", "rediss", "unix"))

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        return _url(value, ("postgresql", "postgres"))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from ``environ`` (the process environment when None), over the secrets directory's
        files, over the stack's ``stack.env``. An empty value means the default. Given a mapping, this never
        reads ``os.environ``."""
        given = dict(os.environ if environ is None else environ)
        stack = read_env_file(stack_dir(given) / "stack.env")
        env = stack | _secret_files(given.get(SECRETS_DIR) or stack.get(SECRETS_DIR, "")) | given
        values: dict[str, Any] = {}
        for name in cls.model_fields:
            raw = env.get(PREFIX + name.upper(), "")
            if raw.strip():
                values[name] = raw
        if "otlp_endpoint" not in values and env.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
            values["otlp_endpoint"] = env["OTEL_EXPORTER_OTLP_ENDPOINT"]
        try:
            return cls(**values)
        except ValidationError as exc:
            raise ConfigurationError(_explain(exc)) from None

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


def settings_table() -> str:
    """The reference table of docs/operations.md, generated from the fields: variable, default, meaning."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        rows.append(f"| `{PREFIX}{name.upper()}` | {_shown(field.default)} | {field.description} |")
    return "\n".join(rows) + "\n"


def _shown(default: object) -> str:
    if default in ("", ()):
        return "(empty)"
    if isinstance(default, tuple):
        return "`" + ",".join(default) + "`"
    if isinstance(default, float):
        return f"`{default:g}`"
    return f"`{default}`"


def _url(value: str, schemes: tuple[str, ...]) -> str:
    if value and urlsplit(value).scheme not in schemes:
        *others, last = (scheme + "://" for scheme in schemes)
        raise ValueError(f"must be a URL starting with {', '.join(others)} or {last}")
    return value


def _secret_files(directory: str) -> dict[str, str]:
    """``SCOREBOARD_*`` values from the files of a secrets directory (file name = variable name)."""
    if not directory:
        return {}
    path = Path(directory)
    if not path.is_dir():
        raise ConfigurationError(f"{SECRETS_DIR}={directory!r} is not a directory")
    found = SecretsSettingsSource(Settings, secrets_dir=path, case_sensitive=False, env_prefix=PREFIX)()
    return {PREFIX + name.upper(): str(value) for name, value in found.items() if isinstance(value, str)}


def _explain(error: ValidationError) -> str:
    """One line per invalid value: the variable, the problem and (unless secret) the value given."""
    problems = []
    for item in error.errors():
        name = str(item["loc"][0]) if item["loc"] else ""
        field = Settings.model_fields.get(name)
        shown = "" if field is None or not field.repr else f" (got {item['input']!r})"
        problem = item["msg"].removeprefix("Value error, ")
        problems.append(f"{PREFIX}{name.upper()}: {problem}{shown}")
    return "invalid configuration: " + "; ".join(problems)


def _keyring(purpose: str, variable: str, secret: str, previous: tuple[str, ...]) -> SigningKeyring:
    if not secret:
        raise ConfigurationError(
            f"no {PREFIX}{variable}: export one (>= 32 bytes, the same for every api, worker and gateway) "
            "or run `scoreboard stack up`, which generates dev secrets")
    return SigningKeyring(purpose, secret, previous)
