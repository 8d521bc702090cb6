"""The api's schema routes as a deploy that keeps one more writer schema would answer them.

A test that writes a record with a writer schema that is not a kept file in ``schemas/`` (an "older
version" made up for the test, see ``tests/support/older_schema.py``) cannot have the running api serve it:
the api knows exactly the files. This loopback server answers ``GET /v1/schemas/{fingerprint}`` of the extra
schemas itself and passes every other request to the real api unchanged (status, body, headers that
matter), so a consumer pointed at it fetches every other schema from the api."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from scoreboard.adapters import codec

PASSED_HEADERS = ("Content-Type", "Cache-Control", "ETag")


@contextmanager
def schema_mirror(api: str, extra: list[dict[str, Any]]) -> Iterator[str]:
    """A loopback URL serving ``extra`` (schemas as JSON objects) by fingerprint and proxying the rest to ``api``."""
    served = {codec.fingerprint_of(schema).hex(): json.dumps(schema).encode() for schema in extra}
    upstream = api.rstrip("/")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
            fingerprint = self.path.removeprefix("/v1/schemas/")
            if self.path.startswith("/v1/schemas/") and fingerprint.lower() in served:
                self._answer(200, served[fingerprint.lower()], {"Content-Type": "application/json"})
                return
            try:
                with urllib.request.urlopen(upstream + self.path, timeout=10) as answer:
                    self._answer(answer.status, answer.read(), dict(answer.headers))
            except urllib.error.HTTPError as exc:
                self._answer(exc.code, exc.read(), dict(exc.headers))

        def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for name in PASSED_HEADERS:
                if name in headers:
                    self.send_header(name, headers[name])
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="schema-mirror", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
