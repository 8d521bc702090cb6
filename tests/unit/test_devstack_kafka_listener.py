"""devstack's SASL_SSL listener: TLS material made once, the broker's configuration, the port, the test
user's password, and the one restart of a broker that runs without the listener (no broker started here)."""

from __future__ import annotations

import datetime
import ipaddress
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from devstack import daemons, kafka, kafka_sasl
from devstack.kafka import ensure_kafka, render_server_properties
from devstack.kafka_home import BROKER_PORT, CONTROLLER_PORT, KafkaFiles
from devstack.kafka_sasl import SASL_PORT_KEY, SaslListener, prepare_sasl_listener
from devstack.kafka_tls import ensure_broker_tls
from devstack.paths import StackPaths
from devstack.secrets import KAFKA_TEST_PASSWORD, load_or_create_secrets
from devstack.service import ServiceReport
from devstack.state import StackState


def _properties(text: str) -> dict[str, str]:
    """Read ``server.properties`` as java.util.Properties would (one line each; ``\\n`` escapes)."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key] = value.replace("\\n", "\n")
    return values


def _listener(tmp_path: Path, port: int = 9094) -> SaslListener:
    return SaslListener(port=port, tls=ensure_broker_tls(tmp_path / "tls"), password="pw-1234_abc")


def test_the_ca_signs_a_broker_certificate_for_the_loopback_made_once(tmp_path: Path) -> None:
    tls = ensure_broker_tls(tmp_path / "tls")
    ca = x509.load_pem_x509_certificate(tls.ca_file.read_bytes())
    broker = x509.load_pem_x509_certificate(tls.cert_file.read_bytes())
    public = ca.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    assert broker.signature_hash_algorithm is not None
    public.verify(broker.signature, broker.tbs_certificate_bytes, padding.PKCS1v15(), broker.signature_hash_algorithm)
    names = broker.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("127.0.0.1") in names.get_values_for_type(x509.IPAddress)
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert broker.not_valid_after_utc - datetime.datetime.now(datetime.UTC) > datetime.timedelta(days=365)
    assert tls.key_file.stat().st_mode & 0o777 == 0o600 and tls.ca_key_file.stat().st_mode & 0o777 == 0o600
    before = [path.read_bytes() for path in (tls.ca_file, tls.cert_file, tls.key_file)]
    again = ensure_broker_tls(tmp_path / "tls")  # reused: the broker's configuration stays the same
    assert [path.read_bytes() for path in (again.ca_file, again.cert_file, again.key_file)] == before
    tls.cert_file.write_text("garbage")  # unreadable (or expiring): made anew
    assert ensure_broker_tls(tmp_path / "tls").cert_file.read_bytes() != before[1]


def test_without_the_listener_the_configuration_is_plaintext_only(tmp_path: Path) -> None:
    values = _properties(render_server_properties(tmp_path / "data"))
    assert values["listeners"] == f"PLAINTEXT://127.0.0.1:{BROKER_PORT},CONTROLLER://127.0.0.1:{CONTROLLER_PORT}"
    assert values["listener.security.protocol.map"] == "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
    assert not any("sasl" in key or "ssl" in key for key in values)


def test_the_listener_adds_sasl_ssl_and_leaves_plaintext_the_inter_broker_listener(tmp_path: Path) -> None:
    sasl = _listener(tmp_path)
    text = render_server_properties(tmp_path / "data", sasl)
    values = _properties(text)
    assert values["listeners"] == values["advertised.listeners"] == (
        f"PLAINTEXT://127.0.0.1:{BROKER_PORT},CONTROLLER://127.0.0.1:{CONTROLLER_PORT},SASL_SSL://127.0.0.1:9094")
    assert values["listener.security.protocol.map"] == "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL"
    assert values["inter.broker.listener.name"] == "PLAINTEXT"
    assert values["controller.listener.names"] == "CONTROLLER"
    prefix = "listener.name.sasl_ssl."
    assert values[f"{prefix}sasl.enabled.mechanisms"] == "SCRAM-SHA-512,PLAIN"
    assert 'user_scoreboard="pw-1234_abc";' in values[f"{prefix}plain.sasl.jaas.config"]
    assert "ScramLoginModule required" in values[f"{prefix}scram-sha-512.sasl.jaas.config"]
    assert values[f"{prefix}ssl.keystore.type"] == "PEM"
    assert values[f"{prefix}ssl.keystore.key"] == sasl.tls.key_file.read_text().strip()
    chain = values[f"{prefix}ssl.keystore.certificate.chain"]
    assert chain == (sasl.tls.cert_file.read_text() + sasl.tls.ca_file.read_text()).strip()
    assert chain.count("BEGIN CERTIFICATE") == 2
    assert render_server_properties(tmp_path / "data", sasl) == text  # stable: no restart on the next up


def test_stack_env_gets_the_listener_under_names_no_process_reads(tmp_path: Path) -> None:
    sasl = _listener(tmp_path, port=9194)
    assert sasl.env() == {
        "SCOREBOARD_TEST_SASL_BOOTSTRAP": "127.0.0.1:9194",
        "SCOREBOARD_TEST_SASL_CA_FILE": str(sasl.tls.ca_file),
        "SCOREBOARD_TEST_SASL_USERNAME": "scoreboard",
        "SCOREBOARD_TEST_SASL_PASSWORD": "pw-1234_abc",
    }
    assert "pw-1234_abc" not in repr(sasl)


def test_the_test_users_password_is_added_to_existing_secrets(tmp_path: Path) -> None:
    path = tmp_path / "secrets.env"
    path.write_text("SCOREBOARD_JWT_SECRET=kept\n")
    secrets = load_or_create_secrets(path)
    assert secrets.jwt_secret == "kept" and len(secrets.kafka_test_password) >= 32
    assert KAFKA_TEST_PASSWORD in path.read_text()
    assert load_or_create_secrets(path).kafka_test_password == secrets.kafka_test_password
    assert secrets.kafka_test_password not in repr(secrets)


def test_the_listener_port_is_chosen_once_and_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = StackPaths(state_dir=tmp_path, cache_dir=tmp_path / "cache")
    state = StackState(paths.state_file)
    monkeypatch.setattr(kafka_sasl, "is_free", lambda port, host="127.0.0.1": port != 9094)
    monkeypatch.setattr(kafka_sasl, "choose_port", lambda service, preferred, start, span=50: 9101)
    first = prepare_sasl_listener(paths, state, "pw")
    assert first.port == 9101 and state.get_int(SASL_PORT_KEY) == 9101
    assert first.tls.ca_file.exists() and first.tls.directory == KafkaFiles(paths.kafka_dir).tls_dir
    monkeypatch.setattr(kafka_sasl, "choose_port", lambda service, preferred, start, span=50: 9999)
    assert prepare_sasl_listener(paths, state, "pw").port == 9101  # recorded and still free


class FakeBroker:
    """Stands in for the JVM: ``ensure_kafka`` sees a running broker and may stop and start it."""

    def __init__(self, files: KafkaFiles, monkeypatch: pytest.MonkeyPatch) -> None:
        self.pid = 4242
        self.stopped: list[int] = []
        self.started: list[SaslListener | None] = []
        monkeypatch.setattr(daemons, "running_pid", lambda pid_file, marker: self.pid)
        monkeypatch.setattr(daemons, "terminate", lambda pid, marker, grace: self.stopped.append(pid))
        monkeypatch.setattr(kafka, "_wait_ready", lambda *args: None)

        def start(paths: StackPaths, files: KafkaFiles, sasl: SaslListener | None = None) -> int:
            self.started.append(sasl)
            files.server_properties.write_text(render_server_properties(files.data_dir, sasl))
            self.pid = 4343
            return self.pid

        monkeypatch.setattr(kafka, "_start", start)


def test_a_broker_running_without_the_listener_is_restarted_once(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    paths = StackPaths(state_dir=tmp_path, cache_dir=tmp_path / "cache")
    files = KafkaFiles(paths.kafka_dir)
    files.home.mkdir(parents=True)
    files.server_properties.write_text(render_server_properties(files.data_dir))  # started by older code
    broker = FakeBroker(files, monkeypatch)
    sasl = _listener(tmp_path)
    report = ensure_kafka(paths, sasl)
    assert broker.stopped == [4242] and broker.started == [sasl]
    assert report == ServiceReport("kafka", "127.0.0.1:9092", True, True, 4343, BROKER_PORT, files.log_file)
    ensure_kafka(paths, sasl)  # the next up finds the listener configured: nothing restarts
    assert broker.stopped == [4242] and broker.started == [sasl]


def test_server_properties_is_private(tmp_path: Path) -> None:
    path = tmp_path / "server.properties"
    kafka.write_private(path, "secret=1\n")
    assert path.read_text() == "secret=1\n" and path.stat().st_mode & 0o777 == 0o600


def test_java_properties_read_the_inline_pem_as_written(tmp_path: Path) -> None:
    """The escaping is java.util.Properties': checked with Java itself when it is installed."""
    java = shutil.which("java")
    if java is None:
        pytest.skip("no java on PATH")
    sasl = _listener(tmp_path)
    properties = tmp_path / "server.properties"
    properties.write_text(render_server_properties(tmp_path / "data", sasl))
    source = tmp_path / "Read.java"
    source.write_text(
        "import java.io.*; import java.util.*;\n"
        "public class Read { public static void main(String[] a) throws Exception {\n"
        "  Properties p = new Properties(); try (var in = new FileInputStream(a[0])) { p.load(in); }\n"
        "  System.out.print(p.getProperty(\"listener.name.sasl_ssl.ssl.keystore.key\")); } }\n")
    result = subprocess.run([java, str(source), str(properties)], capture_output=True, text=True, check=True,
                            timeout=120)
    assert result.stdout == sasl.tls.key_file.read_text().strip()
