"""What the tests and the benchmark share to drive the real system from outside.

- ``testkit.system``: start the real api, worker(s) and gateway as processes on a world, wait until
  each is ready, read their logs, stop them.
- ``testkit.subscribers``: cheap WebSocket and SSE subscribers of a board (thousands fit in one
  asyncio process), and a reader that stalls on purpose.
- ``testkit.waits``: poll with a deadline instead of sleeping.

Production code never imports it (an import-linter contract in ``pyproject.toml``).
"""
