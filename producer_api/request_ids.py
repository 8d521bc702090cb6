"""``X-Request-ID``: every answer of the api carries one, and so does every log line of its request.

The id is the client's ``X-Request-ID`` when it has the key format (8 to 128 of ``[A-Za-z0-9._:-]``),
else a generated one (32 hex digits). ``producer_api.bootstrap`` puts this middleware outside
everything else, the hot route and Starlette's error middleware included, so problems and 500s carry
it too. The completion records it in the event (``ActionCompleted.request_id``), and the worker logs
it with each batch: an action can be followed from the client's header to the worker's log line.
"""

from __future__ import annotations

import itertools
import secrets

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from producer_api.idempotency import KEY_FORMAT
from scoreboard.runtime.logs import bind_request_id

HEADER = b"x-request-id"


_PROCESS = secrets.token_hex(8)
_SEQUENCE = itertools.count(secrets.randbelow(1 << 32))


def new_request_id() -> str:
    """32 hex digits: a random prefix drawn once per process and a counter, so ids are unique across
    processes without a system call per request (an id names a request; it is not a secret)."""
    return f"{_PROCESS}{next(_SEQUENCE) & 0xFFFF_FFFF_FFFF_FFFF:016x}"


def choose_request_id(given: str) -> str:
    """The client's id if it has the key format, else a new one."""
    return given if given and KEY_FORMAT.match(given) else new_request_id()


def request_id_of(request: Request) -> str:
    """The id ``RequestIds`` chose for this request (a new one if the request did not pass it)."""
    chosen = request.scope.get("state", {}).get("request_id")
    return chosen if isinstance(chosen, str) else choose_request_id(request.headers.get("x-request-id", ""))


class RequestIds:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((value for name, value in scope["headers"] if name == HEADER), b"")
        request_id = choose_request_id(given.decode("latin-1"))
        scope.setdefault("state", {})["request_id"] = request_id
        # Not reset afterwards: uvicorn serves each request in a task of its own, so the binding ends
        # with the request, and uvicorn's own "Exception in ASGI application" line still carries it.
        bind_request_id(request_id)
        echoed = (HEADER, request_id.encode("latin-1"))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), echoed]}
            await send(message)

        await self.app(scope, receive, send_with_id)
