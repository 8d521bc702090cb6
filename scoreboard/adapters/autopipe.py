"""Auto-pipelined Redis calls for hot paths: every command issued during one turn of the event loop
goes to Redis in one write on one shared connection, and the replies are matched back in order.

redis-py (issue redis/redis-py#3767: no auto-pipelining) checks a pooled connection out per command,
writes it, and awaits its own reply; under load that costs more CPU than the command itself. Here
the commands of all concurrent requests queue up, one callback per loop turn packs them (hiredis)
and writes them together, and a ``hiredis.Reader`` on the socket resolves one future per reply.
RESP answers in the order commands were written, so a FIFO of futures is all the bookkeeping. This
is what ioredis calls autopipelining; see ``docs/adr/0004-auto-pipelined-redis.md``.

Failures use redis-py's exception types, so callers keep their ``RedisError`` handling:

* a lost connection fails every command in flight with ``ConnectionError``; the next command
  reconnects. Nothing is retried here: a token-bucket take is not idempotent, callers decide.
* a reply that does not come within ``reply_timeout_s`` (no progress at all on the socket) fails
  everything in flight with ``TimeoutError`` and drops the connection.
* an error reply fails only its own command (``ResponseError``, ``NoScriptError`` for NOSCRIPT).
* Redis refusing the credentials (``WRONGPASS``, ``NOAUTH``) fails what is queued with
  ``AuthenticationError`` (a ``ConnectionError``); a TLS failure (an unverifiable certificate, a
  plaintext port) with ``ConnectionError``. Nothing falls back to plaintext.

``AutoPipeline.for_client(redis)`` takes everything from the redis-py client's connection pool (so from
the one ``SCOREBOARD_REDIS_URL``): host, port, db, ACL username and password (or a credential
provider), TLS for ``rediss://`` with the SSL context redis-py itself would build (``ssl_cert_reqs``,
``ssl_ca_certs``/``ssl_ca_path``/``ssl_ca_data``, ``ssl_certfile``/``ssl_keyfile``,
``ssl_check_hostname``, ...), ``socket_connect_timeout`` and ``socket_timeout``.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import hiredis
from redis.asyncio import Redis
from redis.asyncio.connection import RedisSSLContext, SSLConnection, UnixDomainSocketConnection
from redis.credentials import CredentialProvider, UsernamePasswordCredentialProvider
from redis.exceptions import AuthenticationError, NoScriptError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

Arg = str | bytes | int | float


@dataclass(frozen=True)
class Script:
    """A Lua script run with EVALSHA (EVAL once when Redis does not know it yet)."""

    source: str
    sha: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha", hashlib.sha1(self.source.encode()).hexdigest())


class _Connection(asyncio.Protocol):
    """One socket: written by the pipeline, read by hiredis, one future per written command."""

    def __init__(self, on_lost: Any) -> None:
        self.transport: asyncio.Transport | None = None
        self.waiting: collections.deque[asyncio.Future[Any]] = collections.deque()
        self.progress_at = 0.0
        self._reader = hiredis.Reader(replyError=ResponseError)
        self._on_lost = on_lost

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass it

    def data_received(self, data: bytes) -> None:
        self.progress_at = asyncio.get_running_loop().time()
        self._reader.feed(data)
        waiting = self.waiting
        while waiting:
            reply = self._reader.gets()
            if reply is False:
                return
            future = waiting.popleft()
            if future.done():  # its caller was cancelled; the reply is dropped
                continue
            if isinstance(reply, ResponseError):
                message = str(reply)
                future.set_exception(NoScriptError(message) if message.startswith("NOSCRIPT") else reply)
            else:
                future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.fail(RedisConnectionError(f"connection to Redis lost: {exc or 'closed'}"))
        self._on_lost(self)

    def fail(self, exc: Exception) -> None:
        while self.waiting:
            future = self.waiting.popleft()
            if not future.done():
                future.set_exception(exc)


class AutoPipeline:
    def __init__(self, *, host: str = "127.0.0.1", port: int = 6379, db: int = 0, username: str | None = None,
                 password: str | None = None, credential_provider: CredentialProvider | None = None,
                 ssl_context: ssl.SSLContext | None = None, client_name: str = "scoreboard-autopipe",
                 connect_timeout_s: float = 2.0, reply_timeout_s: float = 5.0, gather_turns: int = 1) -> None:
        """``gather_turns``: how many turns of the event loop commands gather for before they are written
        (1: those of one turn; more: fewer, larger writes, each command waiting up to that many turns)."""
        self._address = (host, port)
        self._gather_turns = max(1, gather_turns)
        self.ssl_context = ssl_context
        """TLS when set: the connection is ``rediss://`` and never falls back to plaintext."""
        self._where = f"{'rediss' if ssl_context else 'redis'}://{host}:{port}/{db}"
        if credential_provider is None and (username or password):
            credential_provider = UsernamePasswordCredentialProvider(username, password or "")
        self._credentials = credential_provider
        self._username = username
        self._handshake: list[tuple[Arg, ...]] = []
        if db:
            self._handshake.append(("SELECT", db))
        self.client_name = client_name
        self._handshake.append(("CLIENT", "SETNAME", client_name))  # visible in CLIENT LIST
        self._connect_timeout_s = connect_timeout_s
        self._reply_timeout_s = reply_timeout_s
        self._queue: list[tuple[bytes, asyncio.Future[Any]]] = []
        self._flush_scheduled = False
        self._conn: _Connection | None = None
        self._connecting: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._watchdog: asyncio.TimerHandle | None = None
        self.batches = 0
        """How many writes went to Redis (commands / batches is the pipelining factor)."""
        self.commands = 0

    @classmethod
    def for_client(cls, redis: Redis, **options: Any) -> AutoPipeline:
        """The same server, database, credentials, TLS and timeouts as a redis-py client (TCP only).

        Everything is read from the client's connection pool, so the URL it was made from is the one
        source of truth; ``options`` (``client_name``, ``connect_timeout_s``, ``reply_timeout_s``) win."""
        pool = redis.connection_pool
        kwargs = pool.connection_kwargs
        if "path" in kwargs or issubclass(pool.connection_class, UnixDomainSocketConnection):
            raise ValueError("AutoPipeline speaks TCP; a unix-socket Redis URL is not supported")
        settings: dict[str, Any] = {
            "host": kwargs.get("host", "127.0.0.1"), "port": int(kwargs.get("port", 6379)),
            "db": int(kwargs.get("db", 0) or 0), "username": kwargs.get("username"),
            "password": kwargs.get("password"), "credential_provider": kwargs.get("credential_provider"),
            "ssl_context": ssl_context_of(kwargs) if issubclass(pool.connection_class, SSLConnection) else None,
        }
        if kwargs.get("socket_connect_timeout") is not None:
            settings["connect_timeout_s"] = float(kwargs["socket_connect_timeout"])
        if kwargs.get("socket_timeout") is not None:
            settings["reply_timeout_s"] = float(kwargs["socket_timeout"])
        return cls(**(settings | options))

    def execute(self, *args: Arg) -> asyncio.Future[Any]:
        """Queue one command; the future resolves with its reply (bytes, int, list, None)."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._rebind(loop)
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.append((_pack(args), future))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            if self._gather_turns > 1:
                loop.call_soon(self._next_turn, loop, self._gather_turns - 1)
            else:
                loop.call_soon(self._flush)
        return future

    def _next_turn(self, loop: asyncio.AbstractEventLoop, left: int) -> None:
        if loop is not self._loop:  # rebound to another loop meanwhile: that one flushes its own queue
            return
        if left > 1:
            loop.call_soon(self._next_turn, loop, left - 1)
        else:
            loop.call_soon(self._flush)

    async def run(self, script: Script, keys: Sequence[str], args: Sequence[Arg]) -> Any:
        """EVALSHA the script; on NOSCRIPT (a fresh or flushed Redis) EVAL its source once."""
        try:
            return await self.execute("EVALSHA", script.sha, len(keys), *keys, *args)
        except NoScriptError:
            return await self.execute("EVAL", script.source, len(keys), *keys, *args)

    async def close(self) -> None:
        """Drop the connection; commands not yet answered fail with ``ConnectionError``."""
        if self._connecting is not None:
            self._connecting.cancel()
        self._fail_queue(RedisConnectionError("the pipeline was closed"))
        if self._conn is not None and self._conn.transport is not None:
            self._conn.transport.close()
        self._conn, self._connecting = None, None

    def _rebind(self, loop: asyncio.AbstractEventLoop) -> None:
        """First use, or a new event loop (tests): start over on a connection of this loop."""
        if self._conn is not None and self._conn.transport is not None:
            self._conn.transport.abort()
        self._conn, self._connecting, self._watchdog = None, None, None
        self._queue, self._flush_scheduled = [], False
        self._loop = loop

    def _flush(self) -> None:
        self._flush_scheduled = False
        conn = self._conn
        if conn is None or conn.transport is None or conn.transport.is_closing():
            if self._connecting is None:
                self._connecting = asyncio.ensure_future(self._connect())
            return
        queue, self._queue = self._queue, []
        if not queue:
            return
        if not conn.waiting:
            conn.progress_at = asyncio.get_running_loop().time()
        conn.waiting.extend(future for _, future in queue)
        conn.transport.write(b"".join(packed for packed, _ in queue))
        self.batches += 1
        self.commands += len(queue)
        if self._watchdog is None:
            self._watchdog = asyncio.get_running_loop().call_later(self._reply_timeout_s / 2, self._check_progress)

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        conn: _Connection | None = None
        command: tuple[Arg, ...] = ()
        try:
            handshake = list(self._handshake)
            if self._credentials is not None:  # like redis-py: AUTH [username] password, first
                handshake.insert(0, ("AUTH", *await self._credentials.get_credentials_async()))
            # rediss://: TLS, its handshake and certificate checks included, as asyncio.open_connection(ssl=)
            # does; a Protocol rather than streams keeps the replies going straight into hiredis
            _, opened = await asyncio.wait_for(
                loop.create_connection(lambda: _Connection(self._lost), *self._address, ssl=self.ssl_context),
                self._connect_timeout_s)
            conn = opened
            for command in handshake:
                opened.waiting.append(future := loop.create_future())
                assert opened.transport is not None
                opened.transport.write(_pack(command))
                await asyncio.wait_for(future, self._connect_timeout_s)
        except Exception as exc:  # a hang-up mid-handshake, a bad certificate, a failing credential provider
            self._connecting = None
            if conn is not None and conn.transport is not None:
                conn.transport.abort()
            self._fail_queue(self._connect_error(command, exc))
            return
        except asyncio.CancelledError:
            self._connecting = None
            raise
        self._conn, self._connecting = conn, None
        self._flush()

    def _connect_error(self, command: tuple[Arg, ...], exc: Exception) -> RedisConnectionError:
        """The error for what was queued; never shows the password (Redis' replies do not echo it)."""
        if isinstance(exc, ResponseError):
            message = str(exc)
            name = str(command[0]) if command else "?"
            if name == "AUTH" or message.startswith(("NOAUTH", "WRONGPASS")):
                user = self._username or "default"
                return AuthenticationError(f"Redis at {self._where} refused user {user!r}: {message}")
            return RedisConnectionError(f"Redis at {self._where} refused {name}: {message}")
        detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__  # redis-py's repr hides the text
        return RedisConnectionError(f"cannot connect to Redis at {self._where}: {detail}")

    def _lost(self, conn: _Connection) -> None:
        if self._conn is conn:
            self._conn = None

    def _fail_queue(self, exc: Exception) -> None:
        queue, self._queue = self._queue, []
        for _, future in queue:
            if not future.done():
                future.set_exception(exc)

    def _check_progress(self) -> None:
        self._watchdog = None
        conn = self._conn
        if conn is None or not conn.waiting:
            return
        loop = asyncio.get_running_loop()
        if loop.time() - conn.progress_at > self._reply_timeout_s:
            conn.fail(RedisTimeoutError(f"Redis sent no reply for {self._reply_timeout_s} s"))
            if conn.transport is not None:
                conn.transport.abort()
            self._conn = None
            return
        self._watchdog = loop.call_later(self._reply_timeout_s / 2, self._check_progress)


def ssl_context_of(connection_kwargs: dict[str, Any]) -> ssl.SSLContext:
    """The SSL context redis-py's ``SSLConnection`` builds from the same keyword arguments, with its
    defaults: the certificate and the host name are verified unless the URL says otherwise."""
    def get(name: str, default: Any = None) -> Any:
        return connection_kwargs.get("ssl_" + name, default)

    context: ssl.SSLContext = RedisSSLContext(
        keyfile=get("keyfile"), certfile=get("certfile"), cert_reqs=get("cert_reqs", "required"),
        include_verify_flags=get("include_verify_flags"), exclude_verify_flags=get("exclude_verify_flags"),
        ca_certs=get("ca_certs"), ca_data=get("ca_data"), ca_path=get("ca_path"),
        check_hostname=get("check_hostname", True), min_version=get("min_version"), ciphers=get("ciphers"),
        password=get("password"),
    ).get()
    return context


def _pack(args: tuple[Arg, ...]) -> bytes:
    """RESP-encode one command in C (hiredis); its stub types the tuple as one element, hence the cast."""
    packed: bytes = hiredis.pack_command(cast(Any, args))
    return packed
