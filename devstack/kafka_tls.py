"""The local broker's TLS material: a private CA and a broker certificate it signs, made once.

Kept in ``<state>/kafka/tls/`` (``ca.crt``, ``ca.key``, ``broker.crt``, ``broker.key``) and reused on
every start, so the broker's configuration, and with it the decision whether to restart a running
broker, stays the same from one ``up`` to the next. The broker takes the PEM key and chain inline
(``ssl.keystore.type=PEM``, ``ssl.keystore.key``/``ssl.keystore.certificate.chain``): Kafka accepts an
unencrypted PKCS#8 key that way, whereas a PEM *file* location would require an encrypted key.
Clients verify the broker against ``ca.crt`` (``SCOREBOARD_KAFKA_CA_FILE``).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from devstack.ports import LOOPBACK

BROKER_HOSTS = (LOOPBACK, "localhost")
VALID_DAYS = 825
RENEW_BEFORE = datetime.timedelta(days=30)
_PRIVATE = 0o600


@dataclass(frozen=True)
class BrokerTls:
    """Where the CA and the broker's key pair are."""

    directory: Path

    @property
    def ca_file(self) -> Path:
        return self.directory / "ca.crt"

    @property
    def ca_key_file(self) -> Path:
        return self.directory / "ca.key"

    @property
    def cert_file(self) -> Path:
        return self.directory / "broker.crt"

    @property
    def key_file(self) -> Path:
        return self.directory / "broker.key"

    def certificate_chain_pem(self) -> str:
        """The broker's certificate followed by the CA's."""
        return self.cert_file.read_text(encoding="ascii") + self.ca_file.read_text(encoding="ascii")

    def key_pem(self) -> str:
        return self.key_file.read_text(encoding="ascii")


def ensure_broker_tls(directory: Path) -> BrokerTls:
    """The CA and broker certificate under ``directory``, made when missing or about to expire."""
    tls = BrokerTls(directory)
    files = (tls.ca_file, tls.ca_key_file, tls.cert_file, tls.key_file)
    if all(path.exists() for path in files) and not _expiring(tls.cert_file) and not _expiring(tls.ca_file):
        return tls
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    now = datetime.datetime.now(datetime.UTC)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "scoreboard local stack CA")])
    ca_certificate = (
        _builder(ca_name, ca_name, ca_key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    broker_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    names: list[x509.GeneralName] = [x509.IPAddress(ipaddress.ip_address(LOOPBACK)), x509.DNSName("localhost")]
    broker_certificate = (
        _builder(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]), ca_name,
                 broker_key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write(tls.ca_key_file, _key_bytes(ca_key), _PRIVATE)
    _write(tls.key_file, _key_bytes(broker_key), _PRIVATE)
    _write(tls.cert_file, broker_certificate.public_bytes(serialization.Encoding.PEM), 0o644)
    _write(tls.ca_file, ca_certificate.public_bytes(serialization.Encoding.PEM), 0o644)
    return tls


def _builder(subject: x509.Name, issuer: x509.Name, public: rsa.RSAPublicKey,
             now: datetime.datetime) -> x509.CertificateBuilder:
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=VALID_DAYS)))


def _key_bytes(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _write(path: Path, data: bytes, mode: int) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, _PRIVATE)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    os.chmod(temporary, mode)
    os.replace(temporary, path)


def _expiring(path: Path) -> bool:
    try:
        certificate = x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError):
        return True
    return certificate.not_valid_after_utc - datetime.datetime.now(datetime.UTC) < RENEW_BEFORE
