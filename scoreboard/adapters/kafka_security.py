"""How every Kafka client of the project authenticates: one reading of the settings, three dialects.

The project talks to Kafka through three libraries (confluent-kafka/librdkafka for the api's and the
workers' producers and the admin tools, aiokafka for the gateway's feed, Faust on top of aiokafka for
the workers' consumer). Each spells the same TLS/SASL settings differently; translating them here,
from one validated ``KafkaSecurity``, keeps a deployment with SCRAM over TLS from working for one role
and silently falling back to plaintext (or failing late) in another.

PLAINTEXT stays the default so that the local stack and docker compose (a broker reachable only on the
loopback or the compose network) need no credentials; a deployment with ACLs (``deploy/k8s``) sets
``SCOREBOARD_KAFKA_SECURITY_PROTOCOL=SASL_SSL`` and gives each role its own user.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from scoreboard.domain.errors import ConfigurationError
from scoreboard.settings import PREFIX, Settings

if TYPE_CHECKING:
    from faust.types.auth import CredentialsT

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN")
"""Username/password mechanisms all three libraries support (GSSAPI and OAUTHBEARER need more than
a password, so they are refused rather than half-configured)."""


@dataclass(frozen=True)
class KafkaSecurity:
    """The validated security settings of a Kafka client."""

    protocol: str = "PLAINTEXT"
    mechanism: str = ""
    username: str = ""
    password: str = field(default="", repr=False)
    ca_file: str = ""

    @property
    def uses_sasl(self) -> bool:
        return self.protocol.startswith("SASL_")

    @property
    def uses_tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")


def kafka_security(settings: Settings) -> KafkaSecurity:
    """Validate the ``SCOREBOARD_KAFKA_*`` security settings; raises ``ConfigurationError`` with the
    variable to fix, so a misconfigured process refuses to start instead of retrying forever."""
    protocol = settings.kafka_security_protocol.strip().upper()
    if protocol not in PROTOCOLS:
        raise ConfigurationError(
            f"{PREFIX}KAFKA_SECURITY_PROTOCOL must be one of {', '.join(PROTOCOLS)}, "
            f"got {settings.kafka_security_protocol!r}")
    if not protocol.startswith("SASL_"):
        return KafkaSecurity(protocol=protocol, ca_file=settings.kafka_ca_file)
    mechanism = settings.kafka_sasl_mechanism.strip().upper()
    if mechanism not in SASL_MECHANISMS:
        raise ConfigurationError(
            f"{PREFIX}KAFKA_SASL_MECHANISM must be one of {', '.join(SASL_MECHANISMS)}, "
            f"got {settings.kafka_sasl_mechanism!r}")
    missing = [f"{PREFIX}KAFKA_{name}" for name, value in
               (("USERNAME", settings.kafka_username), ("PASSWORD", settings.kafka_password)) if not value]
    if missing:
        raise ConfigurationError(
            f"{PREFIX}KAFKA_SECURITY_PROTOCOL={protocol} needs a Kafka user: set {' and '.join(missing)} "
            "(on Kubernetes, from the Secret Strimzi writes for the role's KafkaUser)")
    return KafkaSecurity(protocol=protocol, mechanism=mechanism, username=settings.kafka_username,
                         password=settings.kafka_password, ca_file=settings.kafka_ca_file)


def librdkafka_config(settings: Settings) -> dict[str, str]:
    """Properties to merge into a confluent-kafka ``Producer``/``Consumer``/``AdminClient`` config;
    empty for PLAINTEXT, so the local stack's configs stay as they are."""
    security = kafka_security(settings)
    if security.protocol == "PLAINTEXT":
        return {}
    config = {"security.protocol": security.protocol}
    if security.uses_sasl:
        config.update({"sasl.mechanism": security.mechanism, "sasl.username": security.username,
                       "sasl.password": security.password})
    if security.uses_tls and security.ca_file:
        config["ssl.ca.location"] = security.ca_file
    return config


def aiokafka_config(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``AIOKafkaConsumer``/``AIOKafkaProducer``; empty for PLAINTEXT.

    aiokafka takes TLS as an ``ssl.SSLContext`` (it refuses SSL protocols without one); the context
    verifies the broker's certificate and host name against the CA file, or the system's CAs."""
    security = kafka_security(settings)
    if security.protocol == "PLAINTEXT":
        return {}
    config: dict[str, Any] = {"security_protocol": security.protocol}
    if security.uses_sasl:
        config.update({"sasl_mechanism": security.mechanism, "sasl_plain_username": security.username,
                       "sasl_plain_password": security.password})
    if security.uses_tls:
        config["ssl_context"] = client_ssl_context(security.ca_file)
    return config


def faust_credentials(settings: Settings) -> CredentialsT | None:
    """The ``broker_credentials`` for ``faust.App``: ``None`` for PLAINTEXT, else a
    ``faust.SASLCredentials`` or ``faust.SSLCredentials`` (Faust hands them to every aiokafka client
    it makes: consumer, producer and the admin client that declares its internal topics).

    Faust is imported here, not at module level, so the api and the gateway never load it."""
    security = kafka_security(settings)
    if security.protocol == "PLAINTEXT":
        return None
    from faust.auth import SASLCredentials, SSLCredentials

    context = client_ssl_context(security.ca_file) if security.uses_tls else None
    if not security.uses_sasl:
        return SSLCredentials(context)
    # SASLCredentials derives the protocol from the context: SASL_SSL with one, SASL_PLAINTEXT without.
    return SASLCredentials(username=security.username, password=security.password,
                                 ssl_context=context, mechanism=security.mechanism)


def client_ssl_context(ca_file: str = "") -> ssl.SSLContext:
    """A client TLS context that verifies the broker: against ``ca_file`` (e.g. Strimzi's cluster CA)
    when given, else against the system's trusted CAs."""
    try:
        return ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca_file or None)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigurationError(f"{PREFIX}KAFKA_CA_FILE={ca_file!r} is not a readable PEM CA file: {exc}") from exc
