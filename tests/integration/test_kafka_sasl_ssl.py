"""Every Kafka client of the project, through the local broker's SASL_SSL listener.

``scoreboard stack up`` gives the broker a second listener, ``SASL_SSL`` with SCRAM-SHA-512 and PLAIN
over TLS (``devstack/kafka_sasl.py``), and writes its address, CA file and test user into ``stack.env``
as ``SCOREBOARD_TEST_SASL_*``. Here each client is built the way its process builds it, from
``Settings`` for SASL_SSL and ``scoreboard.adapters.kafka_security``: the api's ``Publisher``
(publish and acknowledgement, SCRAM and PLAIN), the provisioning and rebuild ``AdminClient``s, the
rebuild's confluent ``Consumer``, ``scoreboard events tail``'s consumer, the gateway's aiokafka
consumer (``gateway.feed.kafka_consumer``) and a Faust worker configured like
``stream_app.bootstrap.create_worker_app``. A wrong password and
a CA that did not sign the broker's certificate must fail, with an error that says so.

Skipped only when ``stack.env`` does not name the listener (an external broker was reused, or the
stack predates the listener); everything else in the suite keeps using the PLAINTEXT listener.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaConnectionError
from confluent_kafka import Consumer, KafkaException
from confluent_kafka import TopicPartition as ConfluentTopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from devstack import read_stack_env
from gateway.feed import kafka_consumer
from scoreboard.adapters.kafka_retry import end_offsets, retry_kafka
from scoreboard.adapters.kafka_security import aiokafka_config, librdkafka_config
from scoreboard.adapters.publishing import Publisher, PublishFailed
from scoreboard.domain.topics import LEADERBOARD_CHANGES, TOPICS
from scoreboard.runtime.provision import ensure_topics
from scoreboard.settings import Settings
from stream_app.rebuild import ensure_workers_stopped
from testkit.waits import wait_until
from tests.support.certificates import CertificateAuthority

REPO = Path(__file__).resolve().parents[2]
MECHANISMS = ("SCRAM-SHA-512", "PLAIN")
PARTITIONS = 3
FAUST_TIMEOUT_S = 90.0


def _state_dir() -> Path:
    configured = os.environ.get("SCOREBOARD_STACK_DIR")
    return Path(configured) if configured else REPO / ".stack"


@dataclass(frozen=True)
class Listener:
    """The SASL_SSL listener as ``stack.env`` describes it."""

    bootstrap: str
    ca_file: str
    username: str
    password: str
    empty_dir: Path

    def env(self, mechanism: str = "SCRAM-SHA-512", *, password: str | None = None,
            ca_file: str | None = None, **more: str) -> dict[str, str]:
        """The environment of a process pointed at the listener (no stack.env of its own to fall back on)."""
        return {
            "SCOREBOARD_STACK_DIR": str(self.empty_dir),
            "SCOREBOARD_KAFKA_BOOTSTRAP": self.bootstrap,
            "SCOREBOARD_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "SCOREBOARD_KAFKA_SASL_MECHANISM": mechanism,
            "SCOREBOARD_KAFKA_USERNAME": self.username,
            "SCOREBOARD_KAFKA_PASSWORD": self.password if password is None else password,
            "SCOREBOARD_KAFKA_CA_FILE": self.ca_file if ca_file is None else ca_file,
            **more,
        }

    def settings(self, mechanism: str = "SCRAM-SHA-512", **kwargs: str) -> Settings:
        return Settings.from_env(self.env(mechanism, **kwargs))


@pytest.fixture(scope="module")
def listener(tmp_path_factory: pytest.TempPathFactory) -> Listener:
    env = read_stack_env(_state_dir())
    names = ("SCOREBOARD_TEST_SASL_BOOTSTRAP", "SCOREBOARD_TEST_SASL_CA_FILE", "SCOREBOARD_TEST_SASL_USERNAME",
             "SCOREBOARD_TEST_SASL_PASSWORD")
    missing = [name for name in names if not env.get(name)]
    if missing:
        pytest.skip(f"no SASL_SSL listener configured in {_state_dir() / 'stack.env'} (missing {', '.join(missing)}): "
                    "run `scoreboard stack up` with a broker the stack starts itself")
    bootstrap, ca_file, username, password = (env[name] for name in names)
    return Listener(bootstrap=bootstrap, ca_file=ca_file, username=username, password=password,
                    empty_dir=tmp_path_factory.mktemp("no-stack"))


@pytest.fixture(scope="module")
def topic(listener: Listener) -> Iterator[str]:
    """A topic of this module's own, made (and dropped) by an admin client built like provisioning's."""
    name = f"test.sasl-ssl.{uuid.uuid4().hex[:12]}"
    admin = AdminClient({"bootstrap.servers": listener.bootstrap, **librdkafka_config(listener.settings())})
    new = NewTopic(name, num_partitions=PARTITIONS, replication_factor=1)
    retry_kafka(lambda: admin.create_topics([new], request_timeout=30)[name].result(), what=f"create {name}")
    try:
        yield name
    finally:
        admin.delete_topics([name], request_timeout=30)[name].result()


def _publish(settings: Settings, topic: str, value: bytes) -> tuple[int, int]:
    """Publish with the api's Publisher, as the api builds it; returns the acknowledged (partition, offset)."""
    publisher = Publisher(settings.kafka_bootstrap, client_id="sasl-test",
                          extra_config=librdkafka_config(settings), delivery_timeout_s=30)
    try:
        return asyncio.run(publisher.publish(topic, f"k-{uuid.uuid4().hex[:8]}", value))
    finally:
        assert publisher.close(timeout_s=10) == 0


class Lines(logging.Handler):
    """Collects the messages of a logger (librdkafka's and aiokafka's say why a connection failed)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())

    def text(self) -> str:
        return "\n".join(self.messages)


@contextlib.contextmanager
def captured(name: str) -> Iterator[Lines]:
    """The messages of logger ``name`` while in the block (a handler of its own: other tests' logging
    set-up may stop its records from propagating to pytest's capture)."""
    logger = logging.getLogger(name)
    family = [logger, *(logging.getLogger(child) for child in list(logging.root.manager.loggerDict)
                        if child.startswith(f"{name}."))]
    disabled = [(each, each.disabled) for each in family]  # a dictConfig elsewhere may have disabled them
    lines, level, floor = Lines(), logger.level, logging.root.manager.disable
    logger.addHandler(lines)
    logger.setLevel(logging.DEBUG)
    logging.disable(logging.NOTSET)
    for each in family:
        each.disabled = False
    try:
        yield lines
    finally:
        logger.removeHandler(lines)
        logger.setLevel(level)
        logging.disable(floor)
        for each, was in disabled:
            each.disabled = was


def librdkafka_refuses(settings: Settings, *expected: str) -> str:
    """An admin client built like provisioning's gets no metadata; what librdkafka logged meanwhile,
    once it logged every one of ``expected`` (its log lines reach the logger as the client is polled, and
    on a loaded machine the refused handshake may be logged only after the metadata request gave up)."""
    name = f"test.sasl.librdkafka.{uuid.uuid4().hex[:8]}"
    logging.getLogger(name).propagate = False
    with captured(name) as lines:
        admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap, **librdkafka_config(settings)},
                            logger=logging.getLogger(name))
        with pytest.raises(KafkaException):
            admin.list_topics(timeout=5)

        def logged_all() -> bool:
            admin.poll(0.2)  # hands librdkafka's queued log lines to the logger
            return all(phrase in lines.text() for phrase in expected)
        with contextlib.suppress(AssertionError):  # the caller's assertions say what is missing
            wait_until(logged_all, timeout_s=30, interval_s=0, what=f"librdkafka to log {expected}")
    return lines.text()


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_the_api_publisher_publishes_and_gets_the_ack(listener: Listener, topic: str, mechanism: str) -> None:
    value = f"publisher-{mechanism}-{uuid.uuid4().hex}".encode()
    partition, offset = _publish(listener.settings(mechanism), topic, value)
    assert 0 <= partition < PARTITIONS and offset >= 0


def test_the_provisioning_and_rebuild_admin_clients_list_create_and_describe(listener: Listener, topic: str) -> None:
    settings = listener.settings()
    security = librdkafka_config(settings)
    assert security["security.protocol"] == "SASL_SSL" and security["ssl.ca.location"] == listener.ca_file
    assert ensure_topics(listener.bootstrap, security=security) == []  # all exist: listed, nothing to create
    admin = AdminClient({"bootstrap.servers": listener.bootstrap, **security})
    names = set(retry_kafka(lambda: admin.list_topics(timeout=10).topics, what="list topics"))
    assert {spec.name for spec in TOPICS} | {topic} <= names
    # the rebuild's admin client describes the worker group (none runs under this id)
    ensure_workers_stopped(listener.settings(SCOREBOARD_WORKER_ID=f"sasl-test-{uuid.uuid4().hex[:8]}"))


def test_the_rebuild_consumer_reads_what_the_publisher_wrote(listener: Listener, topic: str) -> None:
    settings = listener.settings()
    value = f"rebuild-{uuid.uuid4().hex}".encode()
    partition, offset = _publish(settings, topic, value)
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": f"sasl-test-{uuid.uuid4().hex}",
                         **librdkafka_config(settings),
                         "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    try:
        assert end_offsets(consumer, topic)[partition] >= offset + 1
        consumer.assign([ConfluentTopicPartition(topic, partition, offset)])
        message = consumer.poll(20)
        assert message is not None, "nothing consumed through SASL_SSL within 20 s"
        assert message.error() is None, message.error()
        assert (message.partition(), message.offset(), message.value()) == (partition, offset, value)
    finally:
        consumer.close()


def test_the_events_tail_consumer_reads_through_the_listener(listener: Listener, topic: str) -> None:
    """``scoreboard events tail``'s consumer (``scoreboard.runtime.events_tail``)."""
    from scoreboard.runtime.events_tail import tail

    settings = listener.settings("PLAIN")
    value = f"tail-{uuid.uuid4().hex}".encode()
    _publish(settings, topic, value)
    lines: list[str] = []
    tail(settings, topic, from_beginning=True, emit=lines.append, idle_timeout_s=5)
    assert any(value.hex() in line for line in lines), lines  # not an event: shown as its bytes


def test_the_gateway_feed_consumer_and_aiokafka_read_through_the_listener(listener: Listener, topic: str) -> None:
    settings = listener.settings()
    value = f"aiokafka-{uuid.uuid4().hex}".encode()
    partition, offset = _publish(settings, topic, value)

    async def run() -> None:
        # the gateway's own consumer of the changes topic, as gateway/bootstrap builds it
        feed = kafka_consumer(settings.kafka_bootstrap, extra=aiokafka_config(settings))()
        await feed.start()
        try:
            deadline = time.monotonic() + 60  # joining the group: the broker's rebalance delay, then a slow box
            while not feed.assignment() and time.monotonic() < deadline:
                await feed.getmany(timeout_ms=200)
            assigned = feed.assignment()
            assert {tp.topic for tp in assigned} == {LEADERBOARD_CHANGES} and assigned
            ends = await feed.end_offsets(list(assigned))
            assert all(end >= 0 for end in ends.values())
        finally:
            await feed.stop()
        # the same arguments read the record just published
        consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False,
                                    group_id=None, **aiokafka_config(settings))
        await consumer.start()
        try:
            tp = TopicPartition(topic, partition)
            consumer.assign([tp])
            consumer.seek(tp, offset)
            record = await asyncio.wait_for(consumer.getone(tp), 20)
            assert (record.offset, record.value) == (offset, value)
        finally:
            await consumer.stop()

    asyncio.run(run())


def test_a_faust_worker_configured_like_the_real_one_consumes(listener: Listener, topic: str,
                                                               tmp_path: Path) -> None:
    value = f"faust-{uuid.uuid4().hex}".encode()
    _publish(listener.settings(), topic, value)
    out = tmp_path / "received.txt"
    env = {**os.environ, **listener.env(SCOREBOARD_WORKER_ID=f"sasl-test-faust-{uuid.uuid4().hex[:8]}")}
    log_file = tmp_path / "faust.log"
    with log_file.open("wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "tests.support.faust_probe", topic, str(out)],
                                   cwd=tmp_path, env={**env, "PYTHONPATH": str(REPO)}, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    try:
        def received() -> bool:
            if process.poll() is not None:
                pytest.fail(f"the Faust worker exited with {process.returncode}:\n"
                            f"{log_file.read_text(errors='replace')}")
            return out.exists() and value in out.read_bytes().splitlines()

        wait_until(received, timeout_s=FAUST_TIMEOUT_S, interval_s=0.2,
                   what=f"the Faust worker to receive the record (its log: {log_file})")
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.mark.parametrize(("mechanism", "says"), [
    ("SCRAM-SHA-512", "invalid credentials with SASL mechanism SCRAM-SHA-512"),
    ("PLAIN", "Invalid username or password"),
])
def test_a_wrong_password_fails_with_an_authentication_error(listener: Listener, topic: str, mechanism: str,
                                                             says: str) -> None:
    settings = listener.settings(mechanism, password="not-the-password-7c1d")
    logged = librdkafka_refuses(settings, "SASL authentication error", says)
    assert "SASL authentication error" in logged and says in logged, logged
    assert "not-the-password-7c1d" not in logged
    # the api's publisher: the record is not acknowledged, the publish fails instead of hanging
    publisher = Publisher(listener.bootstrap, client_id="sasl-test-wrong", delivery_timeout_s=3,
                          extra_config=librdkafka_config(settings))
    try:
        with pytest.raises(PublishFailed):
            asyncio.run(publisher.publish(topic, "k", b"never"))
    finally:
        publisher.close(timeout_s=0)
    # aiokafka (the gateway, and Faust underneath) says SaslAuthenticationFailed

    async def start() -> None:
        consumer = AIOKafkaConsumer(bootstrap_servers=listener.bootstrap, request_timeout_ms=5000,
                                    **aiokafka_config(settings))
        try:
            with pytest.raises(KafkaConnectionError):
                await consumer.start()
        finally:
            await consumer.stop()

    with captured("aiokafka") as aiokafka_log:
        asyncio.run(start())
    assert "SaslAuthenticationFailed" in aiokafka_log.text() and says in aiokafka_log.text(), aiokafka_log.text()


def test_the_broker_certificate_is_verified_against_the_ca(listener: Listener, tmp_path: Path) -> None:
    stranger = CertificateAuthority(tmp_path, "stranger")
    settings = listener.settings(ca_file=str(stranger.cert_file))
    logged = librdkafka_refuses(settings, "certificate verify failed")
    assert "certificate verify failed" in logged, logged

    async def start(config: Settings) -> None:
        consumer = AIOKafkaConsumer(bootstrap_servers=listener.bootstrap, request_timeout_ms=5000,
                                    **aiokafka_config(config))
        try:
            with pytest.raises(KafkaConnectionError):
                await consumer.start()
        finally:
            await consumer.stop()

    with captured("aiokafka") as aiokafka_log:
        asyncio.run(start(settings))
    assert "CERTIFICATE_VERIFY_FAILED" in aiokafka_log.text(), aiokafka_log.text()
    # no CA file: the system's trust store does not know the stack's private CA either
    with captured("aiokafka") as aiokafka_log:
        asyncio.run(start(listener.settings(ca_file="")))
    assert "CERTIFICATE_VERIFY_FAILED" in aiokafka_log.text(), aiokafka_log.text()
