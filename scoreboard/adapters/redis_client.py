"""The one place a process builds its Redis client from the settings: the api, the worker, the rebuild
(and through them the repair and the auto-pipeline, which reads its connection settings from this client).

``SCOREBOARD_REDIS_URL`` carries everything: ``rediss://`` for TLS, an ACL user
(``rediss://user:password@host:6380/0``) and redis-py's query parameters (``ssl_ca_certs``,
``ssl_certfile``/``ssl_keyfile`` for client certificates, ``ssl_cert_reqs``, ``socket_connect_timeout``,
...). ``SCOREBOARD_REDIS_CA_FILE`` is the CA file when it is easier to mount than to spell in the URL;
a ``ssl_ca_certs`` in the URL wins. A CA file with a plaintext URL, or one that does not exist, refuses
to start: the operator meant TLS, and a silent plaintext connection (or a failure at the first request)
is worse than no start.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from redis.asyncio import Redis

from scoreboard.domain.errors import ConfigurationError
from scoreboard.settings import PREFIX, Settings

SCHEMES = ("redis", "rediss", "unix")


def redis_client(settings: Settings, **options: Any) -> Redis:
    """A redis-py client of ``settings.redis_url`` (plus the CA file); nothing connects until used."""
    url = settings.redis_url
    scheme = urlsplit(url).scheme
    if scheme not in SCHEMES:
        raise ConfigurationError(
            f"{PREFIX}REDIS_URL must start with redis://, rediss:// (TLS) or unix://, got {scheme or 'no scheme'}://")
    if settings.redis_ca_file:
        if scheme != "rediss":
            raise ConfigurationError(
                f"{PREFIX}REDIS_CA_FILE is set but {PREFIX}REDIS_URL is {scheme}://, not rediss://: "
                "use rediss:// to connect with TLS, or unset the CA file")
        options.setdefault("ssl_ca_certs", settings.redis_ca_file)
    try:
        client = Redis.from_url(url, **options)
    except ValueError as exc:  # redis-py's message names the bad query parameter, never the password
        raise ConfigurationError(f"{PREFIX}REDIS_URL is not a valid Redis URL: {exc}") from exc
    for name in ("ssl_ca_certs", "ssl_certfile", "ssl_keyfile"):
        path = client.connection_pool.connection_kwargs.get(name)
        if path and not Path(path).is_file():
            source = f"{PREFIX}REDIS_CA_FILE" if path == settings.redis_ca_file else f"{name} in {PREFIX}REDIS_URL"
            raise ConfigurationError(f"{source}: no such file {path!r}")
    return client
