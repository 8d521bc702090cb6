"""A tiny JWKS HTTP server on 127.0.0.1 and RS256 token minting, for the key-rotation tests."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

ISSUER = "https://idp.test"
AUDIENCE = "scoreboard"
"""What ``token`` puts in ``iss`` and ``aud``: an api with a JWKS must be configured with both."""


class JwksServer:
    """Serves ``keys`` (a JWKS document) on 127.0.0.1 and counts the fetches."""

    def __init__(self) -> None:
        self.document: dict[str, Any] = {"keys": []}
        self.fetches = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                outer.fetches += 1
                body = json.dumps(outer.document).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/.well-known/jwks.json"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def publish(self, *keys: tuple[str, Any]) -> None:
        entries = []
        for kid, private in keys:
            entry = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
            entries.append(entry | {"kid": kid, "use": "sig", "alg": "RS256"})
        self.document = {"keys": entries}


def rsa_key() -> Any:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def token(private: Any, kid: str, sub: str = "alice") -> str:
    now = int(time.time())
    claims = {"sub": sub, "iat": now, "exp": now + 60, "iss": ISSUER, "aud": AUDIENCE}
    return jwt.encode(claims, private, algorithm="RS256", headers={"kid": kid})


@contextmanager
def running_jwks_server() -> Iterator[JwksServer]:
    """A JWKS server on a loopback port for the duration of the block."""
    server = JwksServer()
    server.thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
