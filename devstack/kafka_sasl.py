"""The local broker's second listener, ``SASL_SSL`` (SCRAM-SHA-512 and PLAIN over TLS, certificate from
``devstack.kafka_tls``), so the clients' security settings can be tested against a real broker.

Its port is chosen once and kept in ``services.json``; its test user's password is generated with the
stack's other secrets. Its address and credentials go into ``stack.env`` under ``SCOREBOARD_TEST_SASL_*``
names only, which no process reads: nothing switches to it by accident.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)

from devstack import daemons as processes
from devstack.kafka_home import (
    BROKER_PORT,
    CLIENT_LOGGER,
    CONTROLLER_PORT,
    LOCAL_BOOTSTRAP,
    PROCESS_MARKER,
    KafkaFiles,
)
from devstack.kafka_tls import BrokerTls, ensure_broker_tls
from devstack.paths import StackPaths
from devstack.ports import LOOPBACK, choose_port, is_free
from devstack.state import StackState
from scoreboard.adapters.kafka_retry import retry_kafka

SASL_PORT = 9094
SASL_PORT_KEY = "kafka.sasl_port"
SASL_USERNAME = "scoreboard"
SASL_MECHANISMS = ("SCRAM-SHA-512", "PLAIN")
SCRAM_ITERATIONS = 8192
SASL_BOOTSTRAP_VARIABLE = "SCOREBOARD_TEST_SASL_BOOTSTRAP"
SASL_CA_FILE_VARIABLE = "SCOREBOARD_TEST_SASL_CA_FILE"
SASL_USERNAME_VARIABLE = "SCOREBOARD_TEST_SASL_USERNAME"
SASL_PASSWORD_VARIABLE = "SCOREBOARD_TEST_SASL_PASSWORD"


@dataclass(frozen=True)
class SaslListener:
    """The broker's ``SASL_SSL`` listener: its port, its TLS material and the one test user."""

    port: int
    tls: BrokerTls
    password: str = field(repr=False)
    username: str = SASL_USERNAME

    @property
    def bootstrap(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def env(self) -> dict[str, str]:
        """What ``stack.env`` says about the listener (under names no process reads)."""
        return {
            SASL_BOOTSTRAP_VARIABLE: self.bootstrap,
            SASL_CA_FILE_VARIABLE: str(self.tls.ca_file),
            SASL_USERNAME_VARIABLE: self.username,
            SASL_PASSWORD_VARIABLE: self.password,
        }

    def properties(self) -> str:
        """The listener's lines of ``server.properties`` (PEM inline, newlines as ``\\n``)."""
        def inline(pem: str) -> str:
            return pem.strip().replace("\n", "\\n")

        prefix = "listener.name.sasl_ssl."
        plain = ("org.apache.kafka.common.security.plain.PlainLoginModule required "
                 f'user_{self.username}="{self.password}";')
        return "\n".join((
            f"sasl.enabled.mechanisms={','.join(SASL_MECHANISMS)}",
            f"{prefix}sasl.enabled.mechanisms={','.join(SASL_MECHANISMS)}",
            f"{prefix}scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;",
            f"{prefix}plain.sasl.jaas.config={plain}",
            f"{prefix}ssl.keystore.type=PEM",
            f"{prefix}ssl.keystore.key={inline(self.tls.key_pem())}",
            f"{prefix}ssl.keystore.certificate.chain={inline(self.tls.certificate_chain_pem())}",
            f"{prefix}ssl.client.auth=none",
        )) + "\n"


def prepare_sasl_listener(paths: StackPaths, state: StackState, password: str) -> SaslListener:
    """The ``SASL_SSL`` listener our broker should have: TLS material made once, a port kept in
    ``services.json`` (9094 unless taken when first chosen)."""
    files = KafkaFiles(paths.kafka_dir)
    tls = ensure_broker_tls(files.tls_dir)
    running = processes.running_pid(files.pid_file, PROCESS_MARKER) is not None
    recorded = state.get_int(SASL_PORT_KEY)
    if recorded is not None and recorded not in (BROKER_PORT, CONTROLLER_PORT) and (running or is_free(recorded)):
        port = recorded
    else:
        port = choose_port("kafka (SASL_SSL listener)", (SASL_PORT,), SASL_PORT + 100)
        state.put(SASL_PORT_KEY, port)
    return SaslListener(port=port, tls=tls, password=password)


def ensure_sasl_user(sasl: SaslListener, bootstrap: str = LOCAL_BOOTSTRAP, timeout_s: float = 30.0) -> None:
    """Create (or reset) the listener's SCRAM-SHA-512 user through the admin API on the PLAINTEXT
    listener, so an existing, already formatted broker gets it too. (PLAIN users are in the JAAS
    configuration of ``server.properties``.)"""
    admin = AdminClient({"bootstrap.servers": bootstrap}, logger=CLIENT_LOGGER)
    upsert = UserScramCredentialUpsertion(
        sasl.username, ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, SCRAM_ITERATIONS),
        sasl.password.encode("utf-8"))

    def alter() -> None:
        futures = admin.alter_user_scram_credentials([upsert], request_timeout=timeout_s)
        futures[sasl.username].result()

    retry_kafka(alter, what=f"create the SCRAM user {sasl.username}")
