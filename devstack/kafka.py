"""A single-node KRaft Kafka broker (broker + controller) run from the cached jars.

Data lives in ``<state>/kafka/data`` and survives ``down``/``up``; storage is formatted once.

Besides the PLAINTEXT listener (the one every process and test uses, also the inter-broker one) the
broker has a second, ``SASL_SSL`` listener (SCRAM-SHA-512 and PLAIN over TLS, certificate from
``devstack.kafka_tls``) so the clients' security settings can be tested against a real broker. Its
address and credentials go into ``stack.env`` under ``SCOREBOARD_TEST_SASL_*`` names only, which no
process reads: nothing switches to it by accident.
"""

from __future__ import annotations

import base64
import logging
import os
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)

from devstack import daemons as processes
from devstack.envfile import PRIVATE_MODE
from devstack.errors import StackError
from devstack.kafka_dist import ensure_kafka_libs, java_executable
from devstack.kafka_tls import BrokerTls, ensure_broker_tls
from devstack.paths import StackPaths
from devstack.ports import LOOPBACK, choose_port, is_free, is_listening, split_host_port
from devstack.progress import announce
from devstack.service import ServiceReport
from devstack.state import StackState
from scoreboard.adapters.kafka_retry import retry_kafka

logger = logging.getLogger(__name__)
# librdkafka reports every refused connection while the broker boots; those are expected here.
_client_logger = logging.getLogger(f"{__name__}.client")
_client_logger.addHandler(logging.NullHandler())
_client_logger.propagate = False

BOOTSTRAP_VARIABLE = "SCOREBOARD_KAFKA_BOOTSTRAP"
BROKER_PORT = 9092
CONTROLLER_PORT = 9093
LOCAL_BOOTSTRAP = f"{LOOPBACK}:{BROKER_PORT}"
READY_TIMEOUT_SECONDS = 90.0
STOP_GRACE_SECONDS = 30.0
_PROCESS_MARKER = "kafka.Kafka"
SASL_PORT = 9094
SASL_PORT_KEY = "kafka.sasl_port"
SASL_USERNAME = "scoreboard"
SASL_MECHANISMS = ("SCRAM-SHA-512", "PLAIN")
SCRAM_ITERATIONS = 8192
SASL_BOOTSTRAP_VARIABLE = "SCOREBOARD_TEST_SASL_BOOTSTRAP"
SASL_CA_FILE_VARIABLE = "SCOREBOARD_TEST_SASL_CA_FILE"
SASL_USERNAME_VARIABLE = "SCOREBOARD_TEST_SASL_USERNAME"
SASL_PASSWORD_VARIABLE = "SCOREBOARD_TEST_SASL_PASSWORD"
_JVM_OPTIONS = ("-Xms256m", "-Xmx768m", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-Djava.awt.headless=true")


@dataclass(frozen=True)
class KafkaFiles:
    home: Path

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def server_properties(self) -> Path:
        return self.home / "server.properties"

    @property
    def log4j_config(self) -> Path:
        return self.home / "log4j2.xml"

    @property
    def log_file(self) -> Path:
        return self.home / "kafka.log"

    @property
    def pid_file(self) -> Path:
        return self.home / "kafka.pid"

    @property
    def tls_dir(self) -> Path:
        return self.home / "tls"


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


def render_server_properties(data_dir: Path, sasl: SaslListener | None = None) -> str:
    listeners = f"PLAINTEXT://{LOOPBACK}:{BROKER_PORT},CONTROLLER://{LOOPBACK}:{CONTROLLER_PORT}"
    protocols = "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
    if sasl is not None:
        listeners += f",SASL_SSL://{LOOPBACK}:{sasl.port}"
        protocols += ",SASL_SSL:SASL_SSL"
    return f"""# Generated by devstack on every start; edits are overwritten.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers={LOOPBACK}:{CONTROLLER_PORT}
listeners={listeners}
advertised.listeners={listeners}
listener.security.protocol.map={protocols}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs={data_dir}
num.partitions=6
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
""" + (sasl.properties() if sasl is not None else "")


# Console only: the process' stdout is the log file, so JVM crashes and log4j lines land together.
LOG4J2_XML = """<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="WARN">
  <Appenders>
    <Console name="stdout" target="SYSTEM_OUT">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
    </Console>
  </Appenders>
  <Loggers>
    <Root level="INFO"><AppenderRef ref="stdout"/></Root>
    <Logger name="kafka.request.logger" level="WARN"/>
    <Logger name="state.change.logger" level="WARN"/>
    <Logger name="kafka.authorizer.logger" level="WARN"/>
    <Logger name="org.apache.kafka.clients" level="WARN"/>
    <Logger name="org.apache.kafka.common.utils.AppInfoParser" level="WARN"/>
  </Loggers>
</Configuration>
"""


def configured_bootstrap() -> str:
    return os.environ.get(BOOTSTRAP_VARIABLE) or LOCAL_BOOTSTRAP


def kafka_answers(bootstrap: str, timeout: float = 3.0) -> bool:
    """True when a broker at ``bootstrap`` returns cluster metadata with at least one broker."""
    host, port = split_host_port(bootstrap, BROKER_PORT)
    if not is_listening(host, port):
        return False
    admin = AdminClient(
        {"bootstrap.servers": bootstrap, "reconnect.backoff.max.ms": 500}, logger=_client_logger
    )
    try:
        metadata = admin.list_topics(timeout=timeout)
    except Exception:  # KafkaException and friends: the broker is not (yet) serving metadata.
        return False
    return len(metadata.brokers) > 0


def new_cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding, never leading '-'."""
    while True:
        encoded = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode("ascii").rstrip("=")
        if not encoded.startswith("-"):
            return encoded


def prepare_sasl_listener(paths: StackPaths, state: StackState, password: str) -> SaslListener:
    """The ``SASL_SSL`` listener our broker should have: TLS material made once, a port kept in
    ``services.json`` (9094 unless taken when first chosen)."""
    tls = ensure_broker_tls(KafkaFiles(paths.kafka_dir).tls_dir)
    running = processes.running_pid(KafkaFiles(paths.kafka_dir).pid_file, _PROCESS_MARKER) is not None
    recorded = state.get_int(SASL_PORT_KEY)
    if recorded is not None and recorded not in (BROKER_PORT, CONTROLLER_PORT) and (running or is_free(recorded)):
        port = recorded
    else:
        port = choose_port("kafka (SASL_SSL listener)", (SASL_PORT,), SASL_PORT + 100)
        state.put(SASL_PORT_KEY, port)
    return SaslListener(port=port, tls=tls, password=password)


def ensure_kafka(paths: StackPaths, sasl: SaslListener | None = None) -> ServiceReport:
    """Make a broker answer: ours if running, else a configured one, else start ours.

    Ours is restarted once when it runs with another configuration than this code renders (e.g. it
    was started before the ``SASL_SSL`` listener existed)."""
    files = KafkaFiles(paths.kafka_dir)
    pid = processes.running_pid(files.pid_file, _PROCESS_MARKER)
    if pid is not None:
        if _running_config(files) == render_server_properties(files.data_dir, sasl):
            _wait_ready(LOCAL_BOOTSTRAP, files, pid)
            return _report(LOCAL_BOOTSTRAP, files, pid)
        announce("kafka: the running broker's configuration is out of date (e.g. no SASL_SSL listener); "
                 "restarting it once")
        processes.terminate(pid, _PROCESS_MARKER, STOP_GRACE_SECONDS)
        files.pid_file.unlink(missing_ok=True)
        pid = _start(paths, files, sasl)
        return _report(LOCAL_BOOTSTRAP, files, pid)
    bootstrap = configured_bootstrap()
    if kafka_answers(bootstrap):
        announce(f"kafka: reusing the broker answering at {bootstrap}")
        return ServiceReport(
            "kafka", bootstrap, True, False, None, split_host_port(bootstrap, BROKER_PORT)[1]
        )
    if bootstrap != LOCAL_BOOTSTRAP:
        announce(f"kafka: nothing answers at {BOOTSTRAP_VARIABLE}={bootstrap}; starting a local broker")
    ports = (BROKER_PORT, CONTROLLER_PORT, *((sasl.port,) if sasl is not None else ()))
    for port in ports:
        if is_listening(LOOPBACK, port):
            raise StackError(
                f"kafka: port {port} is in use by a process this stack did not start, and nothing "
                f"answers at {bootstrap}; stop that process or set {BOOTSTRAP_VARIABLE} to a running broker"
            )
    pid = _start(paths, files, sasl)
    return _report(LOCAL_BOOTSTRAP, files, pid)


def write_private(path: Path, text: str) -> None:
    """Replace ``path`` atomically with ``text``, readable by the owner only."""
    temporary = path.with_name(f".{path.name}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_MODE)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(temporary, PRIVATE_MODE)
    os.replace(temporary, path)


def _running_config(files: KafkaFiles) -> str:
    try:
        return files.server_properties.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""


def ensure_sasl_user(sasl: SaslListener, bootstrap: str = LOCAL_BOOTSTRAP, timeout_s: float = 30.0) -> None:
    """Create (or reset) the listener's SCRAM-SHA-512 user through the admin API on the PLAINTEXT
    listener, so an existing, already formatted broker gets it too. (PLAIN users are in the JAAS
    configuration of ``server.properties``.)"""
    admin = AdminClient({"bootstrap.servers": bootstrap}, logger=_client_logger)
    upsert = UserScramCredentialUpsertion(
        sasl.username, ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, SCRAM_ITERATIONS),
        sasl.password.encode("utf-8"))

    def alter() -> None:
        futures = admin.alter_user_scram_credentials([upsert], request_timeout=timeout_s)
        futures[sasl.username].result()

    retry_kafka(alter, what=f"create the SCRAM user {sasl.username}")


def _start(paths: StackPaths, files: KafkaFiles, sasl: SaslListener | None = None) -> int:
    java = java_executable()
    libs = ensure_kafka_libs(paths.kafka_dist_dir)
    classpath = f"{libs}/*"
    files.data_dir.mkdir(parents=True, exist_ok=True)
    # Private: with the SASL_SSL listener it holds the broker's key and the PLAIN user's password.
    write_private(files.server_properties, render_server_properties(files.data_dir, sasl))
    files.log4j_config.write_text(LOG4J2_XML, encoding="utf-8")
    log4j = f"-Dlog4j2.configurationFile={files.log4j_config}"
    if not (files.data_dir / "meta.properties").exists():
        announce("kafka: formatting storage (first start)")
        command = [
            java,
            log4j,
            "-cp",
            classpath,
            "kafka.tools.StorageTool",
            "format",
            "--cluster-id",
            new_cluster_id(),
            "--config",
            str(files.server_properties),
            "--standalone",
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise StackError(f"kafka: formatting storage failed:\n{(result.stdout + result.stderr).strip()}")
    also = f" and SASL_SSL on {sasl.bootstrap}" if sasl is not None else ""
    announce(f"kafka: starting the broker on {LOCAL_BOOTSTRAP}{also} (log {files.log_file})")
    processes.rotate_if_large(files.log_file)
    process = processes.spawn_detached(
        [java, *_JVM_OPTIONS, log4j, "-cp", classpath, _PROCESS_MARKER, str(files.server_properties)],
        log_file=files.log_file,
        pid_file=files.pid_file,
        cwd=files.home,
    )
    _wait_ready(LOCAL_BOOTSTRAP, files, process.pid, process)
    return process.pid


def _wait_ready(
    bootstrap: str, files: KafkaFiles, pid: int, process: subprocess.Popen[bytes] | None = None
) -> None:
    started = time.monotonic()
    deadline = started + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if kafka_answers(bootstrap, timeout=2.0):
            logger.info("kafka answered after %.1f s", time.monotonic() - started)
            return
        exited = process.poll() is not None if process else not processes.is_running(pid, _PROCESS_MARKER)
        if exited:
            _fail("the broker process exited", files)
        time.sleep(0.3)
    _fail(f"no answer at {bootstrap} within {READY_TIMEOUT_SECONDS:.0f} s", files)


def _fail(reason: str, files: KafkaFiles) -> None:
    raise StackError(f"kafka: {reason}; see {files.log_file}. Last lines:\n{processes.tail(files.log_file)}")


def _report(bootstrap: str, files: KafkaFiles, pid: int) -> ServiceReport:
    return ServiceReport("kafka", bootstrap, True, True, pid, BROKER_PORT, files.log_file)


def stop_kafka(paths: StackPaths) -> bool:
    """Stop the broker this stack started (controlled shutdown, then SIGKILL). False if none ran."""
    files = KafkaFiles(paths.kafka_dir)
    pid = processes.running_pid(files.pid_file, _PROCESS_MARKER)
    if pid is None:
        return False
    announce(f"kafka: stopping pid {pid}")
    processes.terminate(pid, _PROCESS_MARKER, STOP_GRACE_SECONDS)
    files.pid_file.unlink(missing_ok=True)
    return True


def kafka_status(paths: StackPaths, bootstrap: str | None) -> ServiceReport:
    """Our broker if its pid runs, else whatever answers at ``bootstrap`` (or the configured one)."""
    files = KafkaFiles(paths.kafka_dir)
    pid = processes.running_pid(files.pid_file, _PROCESS_MARKER)
    if pid is not None:
        return ServiceReport(
            "kafka", LOCAL_BOOTSTRAP, kafka_answers(LOCAL_BOOTSTRAP), True, pid, BROKER_PORT, files.log_file
        )
    target = bootstrap or configured_bootstrap()
    _, port = split_host_port(target, BROKER_PORT)
    return ServiceReport("kafka", target, kafka_answers(target), False, None, port, None)
