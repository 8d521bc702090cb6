"""Our local broker's home: its files under ``<state>/kafka``, its fixed ports and how its process is
recognised. The broker's lifecycle (``devstack.kafka``) and its ``SASL_SSL`` listener
(``devstack.kafka_sasl``) both build on these, so neither has to import the other's module for them."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from devstack.ports import LOOPBACK

BROKER_PORT = 9092
CONTROLLER_PORT = 9093
LOCAL_BOOTSTRAP = f"{LOOPBACK}:{BROKER_PORT}"
PROCESS_MARKER = "kafka.Kafka"
"""The JVM's main class: what tells our broker's pid from an unrelated process that reused it."""

# librdkafka reports every refused connection while the broker boots; those are expected here.
CLIENT_LOGGER = logging.getLogger("devstack.kafka.client")
CLIENT_LOGGER.addHandler(logging.NullHandler())
CLIENT_LOGGER.propagate = False


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
