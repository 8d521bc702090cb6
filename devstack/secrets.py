"""Random development secrets, generated on the first ``up`` and kept in ``secrets.env``."""

from __future__ import annotations

import secrets as _random
from dataclasses import dataclass, field
from pathlib import Path

from devstack.envfile import read_env_file, write_env_file

JWT_SECRET = "SCOREBOARD_JWT_SECRET"
TICKET_SECRET = "SCOREBOARD_TICKET_SECRET"
POSTGRES_PASSWORD = "SCOREBOARD_POSTGRES_PASSWORD"
EVENT_SIGNING_SECRET = "SCOREBOARD_EVENT_SIGNING_SECRET"
CHANGE_SIGNING_SECRET = "SCOREBOARD_CHANGE_SIGNING_SECRET"
KAFKA_TEST_PASSWORD = "SCOREBOARD_TEST_SASL_PASSWORD"
"""The password of the local broker's SASL_SSL test user (``devstack.kafka_sasl``)."""
_GENERATED = (JWT_SECRET, TICKET_SECRET, POSTGRES_PASSWORD, EVENT_SIGNING_SECRET, CHANGE_SIGNING_SECRET,
              KAFKA_TEST_PASSWORD)


@dataclass(frozen=True)
class DevSecrets:
    jwt_secret: str
    ticket_secret: str
    postgres_password: str
    event_signing_secret: str
    change_signing_secret: str
    kafka_test_password: str = field(default="", repr=False)


def load_or_create_secrets(path: Path) -> DevSecrets:
    """Return the stored secrets, generating (and storing) any that are missing."""
    stored = read_env_file(path)
    missing = [name for name in _GENERATED if not stored.get(name)]
    for name in missing:
        stored[name] = _random.token_urlsafe(48)
    if missing or not path.exists():
        write_env_file(path, stored, header="Local development secrets. Do not commit.")
    else:
        path.chmod(0o600)
    return DevSecrets(
        jwt_secret=stored[JWT_SECRET],
        ticket_secret=stored[TICKET_SECRET],
        postgres_password=stored[POSTGRES_PASSWORD],
        event_signing_secret=stored[EVENT_SIGNING_SECRET],
        change_signing_secret=stored[CHANGE_SIGNING_SECRET],
        kafka_test_password=stored[KAFKA_TEST_PASSWORD],
    )
