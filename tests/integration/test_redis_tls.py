"""Redis over TLS as an ACL user, against a real redis-server: the auto-pipeline and redis-py both take
everything from ``SCOREBOARD_REDIS_URL`` (``rediss://alice:secret@host:port/db?ssl_ca_certs=...``),
refuse wrong credentials with ``AuthenticationError``, never talk plaintext to a TLS port, verify the
server's certificate (and its host name), and present a client certificate when the URL names one.

Each module run starts its own throwaway redis-server (Debian's binary, the one ``devstack/redis.py``
runs) on a free port, TLS only (``--port 0``), with a CA and certificates generated here, the default
user disabled and one ACL user ``alice``; the local stack's Redis is not touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import subprocess
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
import redis as sync_redis
import uvloop
from redis.asyncio import Redis
from redis.exceptions import AuthenticationError
from redis.exceptions import ConnectionError as RedisConnectionError

from devstack.ports import free_port
from devstack.redis import redis_server_executable, supports_tls
from scoreboard.adapters.autopipe import AutoPipeline, Script
from scoreboard.adapters.redis_client import redis_client
from scoreboard.settings import Settings
from tests.support.certificates import CertificateAuthority, Issued

Runner = Callable[[Coroutine[Any, Any, None]], None]
READY_TIMEOUT_SECONDS = 20.0
USER, PASSWORD = "alice", "secret-3f9c1e"


@dataclass(frozen=True)
class TlsRedis:
    port: int
    ca: CertificateAuthority
    directory: Path

    def url(self, *, user: str | None = USER, password: str | None = PASSWORD, host: str = "127.0.0.1",
            scheme: str = "rediss", db: int = 0, extra: Mapping[str, str] | None = None, **query: str) -> str:
        """The URL an operator would write; ``ssl_ca_certs`` is our CA unless ``query`` says otherwise."""
        query = {**(extra or {}), **query}
        if scheme == "rediss":
            query = {"ssl_ca_certs": str(self.ca.cert_file), **query}
        credentials = f"{quote(user or '')}:{quote(password)}@" if password is not None else ""
        tail = f"?{urlencode(query)}" if query else ""
        return f"{scheme}://{credentials}{host}:{self.port}/{db}{tail}"


@contextlib.contextmanager
def tls_redis_server(directory: Path, *, client_certificates: bool = False,
                     server_hosts: tuple[str, ...] = ("127.0.0.1", "localhost")) -> Iterator[TlsRedis]:
    """A TLS-only redis-server with ACL user alice, ready (it answered PING) on entry, killed on exit."""
    server = redis_server_executable()
    if not supports_tls(server):
        pytest.skip(f"{server} was built without TLS (it does not link OpenSSL): `--tls-port` is unavailable")
    ca = CertificateAuthority(directory, "redis")
    certificate = ca.issue("redis-server", server=True, hosts=server_hosts)
    port = free_port()
    log_file = directory / f"redis-{port}.log"
    command = [
        server, "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
        "--tls-cert-file", str(certificate.cert_file), "--tls-key-file", str(certificate.key_file),
        "--tls-ca-cert-file", str(ca.cert_file), "--tls-auth-clients", "yes" if client_certificates else "no",
        "--dir", str(directory), "--daemonize", "no", "--save", "", "--appendonly", "no",
        "--user", "default", "off", "--user", USER, "on", f">{PASSWORD}", "~*", "&*", "+@all",
    ]
    with log_file.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    running = TlsRedis(port, ca, directory)
    try:
        client = None if not client_certificates else ca.issue("ready-check", server=False)
        _wait_ready(process, running.url(extra=_client_cert_query(client)), log_file)
        yield running
    finally:
        process.kill()
        process.wait(timeout=10)


def _client_cert_query(client: Issued | None) -> dict[str, str]:
    return {} if client is None else {"ssl_certfile": str(client.cert_file), "ssl_keyfile": str(client.key_file)}


def _wait_ready(process: subprocess.Popen[bytes], url: str, log_file: Path) -> None:
    """Until PING answers over TLS as alice, the process exits, or the deadline passes."""
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    last: Exception | None = None
    while time.monotonic() < deadline:
        client = sync_redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        try:
            if client.ping():
                return
        except sync_redis.RedisError as exc:
            last = exc
        finally:
            client.close()
        with contextlib.suppress(subprocess.TimeoutExpired):  # the pause between attempts watches for an exit
            process.wait(timeout=0.05)
            pytest.fail(f"redis-server exited with {process.returncode}: {log_file.read_text(errors='replace')}")
    pytest.fail(f"redis-server gave no PONG over TLS in {READY_TIMEOUT_SECONDS} s ({last!r}): "
                f"{log_file.read_text(errors='replace')}")


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsRedis]:
    with tls_redis_server(tmp_path_factory.mktemp("redis-tls")) as running:
        yield running


@pytest.fixture(params=["asyncio", "uvloop"])
def run_loop(request: pytest.FixtureRequest) -> Runner:
    """Both event loops: uvicorn runs the api on uvloop, whose TLS transport is its own."""
    runner: Runner = asyncio.run if request.param == "asyncio" else uvloop.run
    return runner


def settings_for(url: str, tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env({"SCOREBOARD_STACK_DIR": str(tmp_path), "SCOREBOARD_REDIS_URL": url, **env})


async def both_fail(url: str, error: type[Exception]) -> str:
    """The auto-pipeline and redis-py both refuse ``url`` with ``error``; the pipeline's message."""
    redis = Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5)
    calls = AutoPipeline.for_client(redis)  # its connect timeout is the URL's socket_connect_timeout
    try:
        with pytest.raises(error) as caught:
            await asyncio.wait_for(calls.execute("PING"), 10)
        with pytest.raises(error):
            await redis.ping()
        return str(caught.value)
    finally:
        await calls.close()
        await redis.aclose()


def test_the_auto_pipeline_and_redis_py_speak_tls_as_an_acl_user(tls_redis: TlsRedis, run_loop: Runner,
                                                                   tmp_path: Path) -> None:
    settings = settings_for(tls_redis.url(db=3), tmp_path)

    async def run() -> None:
        redis = redis_client(settings)
        calls = AutoPipeline.for_client(redis, client_name=f"tls-test-{uuid.uuid4().hex[:12]}")
        other_db = Redis.from_url(tls_redis.url(db=0))
        try:
            assert calls.ssl_context is not None
            assert calls.ssl_context.verify_mode == ssl.CERT_REQUIRED and calls.ssl_context.check_hostname
            key = f"test:tls:{uuid.uuid4().hex}"
            assert await calls.execute("SET", key, "from-the-pipeline", "EX", 60) == b"OK"
            assert await calls.execute("GET", key) == b"from-the-pipeline"
            script = Script(f"-- {uuid.uuid4().hex}\nreturn redis.call('INCRBY', KEYS[1], ARGV[1])")
            counter = f"{key}:n"
            assert list(await asyncio.gather(calls.run(script, [counter], [2]), calls.run(script, [counter], [3]))) == [
                2, 5]
            assert await calls.execute("ACL", "WHOAMI") == USER.encode()
            # redis-py on the same URL: the same user, the same database 3
            assert await redis.get(key) == b"from-the-pipeline"
            assert await redis.eval("return redis.call('GET', KEYS[1])", 1, counter) == b"5"
            assert await redis.set(f"{key}:py", "from-redis-py", ex=60)
            assert await calls.execute("GET", f"{key}:py") == b"from-redis-py"
            assert await other_db.get(key) is None
            ours = [c for c in await redis.client_list() if c["name"] == calls.client_name]
            assert [(c["user"], c["db"]) for c in ours] == [(USER, "3")]
        finally:
            await calls.close()
            await redis.aclose()
            await other_db.aclose()

    run_loop(run())


def test_a_wrong_password_or_none_is_an_authentication_error(tls_redis: TlsRedis, run_loop: Runner) -> None:
    async def run() -> None:
        wrong = "not-the-password-41d8"
        message = await both_fail(tls_redis.url(password=wrong), AuthenticationError)
        assert "WRONGPASS" in message and repr(USER) in message and wrong not in message
        unknown = await both_fail(tls_redis.url(user="mallory"), AuthenticationError)
        assert "WRONGPASS" in unknown and "'mallory'" in unknown
        # no credentials: the disabled default user gets nothing done
        assert "NOAUTH" in await both_fail(tls_redis.url(user=None, password=None), AuthenticationError)

    run_loop(run())


def test_plaintext_to_the_tls_port_fails_instead_of_talking_in_clear(tls_redis: TlsRedis, run_loop: Runner) -> None:
    async def run() -> None:
        url = tls_redis.url(scheme="redis")
        assert AutoPipeline.for_client(Redis.from_url(url)).ssl_context is None  # redis:// is plaintext...
        message = await both_fail(url, RedisConnectionError)  # ...and the TLS port will not have it
        assert "redis://127.0.0.1" in message

    run_loop(run())


def test_the_server_certificate_is_verified(tls_redis: TlsRedis, run_loop: Runner) -> None:
    stranger = CertificateAuthority(tls_redis.directory, f"stranger-{uuid.uuid4().hex[:6]}")

    async def run() -> None:
        # a CA that did not sign the server's certificate
        message = await both_fail(tls_redis.url(ssl_ca_certs=str(stranger.cert_file)), RedisConnectionError)
        assert "CERTIFICATE_VERIFY_FAILED" in message and "rediss://127.0.0.1" in message
        # no CA at all: the system's trust store does not know a private CA either
        url = tls_redis.url()
        assert "CERTIFICATE_VERIFY_FAILED" in await both_fail(url.partition("?")[0], RedisConnectionError)
        # the URL turns verification off only when it says so, for both clients alike
        insecure = tls_redis.url(ssl_ca_certs=str(stranger.cert_file), ssl_cert_reqs="none")
        redis = Redis.from_url(insecure)
        calls = AutoPipeline.for_client(redis)
        try:
            assert calls.ssl_context is not None and calls.ssl_context.verify_mode == ssl.CERT_NONE
            assert await calls.execute("PING") == b"PONG"
            assert await redis.ping()
        finally:
            await calls.close()
            await redis.aclose()

    run_loop(run())


def test_the_host_name_is_checked_unless_the_url_turns_it_off(tmp_path: Path, run_loop: Runner) -> None:
    with tls_redis_server(tmp_path, server_hosts=("127.0.0.1",)) as server:  # not valid for "localhost"
        async def run() -> None:
            message = await both_fail(server.url(host="localhost"), RedisConnectionError)
            assert "CERTIFICATE_VERIFY_FAILED" in message and "mismatch" in message
            redis = Redis.from_url(server.url(host="localhost", ssl_check_hostname="false"))
            calls = AutoPipeline.for_client(redis)
            try:
                assert await calls.execute("PING") == b"PONG"
                assert await redis.ping()
            finally:
                await calls.close()
                await redis.aclose()

        run_loop(run())


def test_a_client_certificate_from_the_url_is_presented(tmp_path: Path, run_loop: Runner) -> None:
    with tls_redis_server(tmp_path, client_certificates=True) as server:
        client = server.ca.issue("scoreboard-api", server=False)

        async def run() -> None:
            await both_fail(server.url(), RedisConnectionError)  # the server wants a certificate
            redis = Redis.from_url(server.url(extra=_client_cert_query(client)))
            calls = AutoPipeline.for_client(redis)
            try:
                assert await calls.execute("ACL", "WHOAMI") == USER.encode()
                assert await redis.ping()
            finally:
                await calls.close()
                await redis.aclose()

        run_loop(run())
