"""One ``httpx.Client`` per thread for the tests' API callers: tests post from thread pools, and one
client shared by 32 threads failed once with ``ReadError: [Errno 9] Bad file descriptor`` in the farming
test under load; with a client per thread no connection is ever shared."""

from __future__ import annotations

import threading

import httpx


class ThreadClients:
    def __init__(self, base_url: str, timeout_s: float) -> None:
        self._base_url = base_url
        self._timeout_s = timeout_s
        self._local = threading.local()

    def get(self) -> httpx.Client:
        """This thread's client (made on its first use; the pool's connections go with the process)."""
        client: httpx.Client | None = getattr(self._local, "client", None)
        if client is None:
            client = httpx.Client(base_url=self._base_url, timeout=self._timeout_s)
            self._local.client = client
        return client
