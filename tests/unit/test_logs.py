"""Logs are one JSON object per line, also the libraries' own: uvicorn's, Faust's, aiokafka's."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette

from devstack.ports import free_port
from producer_api.bootstrap import SERVER_OPTIONS
from scoreboard.runtime import logs
from scoreboard.runtime.logs import LIBRARY_LOGGERS, QUIET_LOGGERS
from testkit.waits import wait_until_async

TESTED = ("uvicorn.error", "faust.worker", "mode.services", "aiokafka.consumer.group_coordinator")


@pytest.fixture
def restored() -> Iterator[None]:
    """The logging set-up as it was before the test, whatever ``logs.configure`` the test called (in
    its body: its handler keeps the ``sys.stderr`` of that moment, which ``capsys`` captures)."""
    names = ("", *LIBRARY_LOGGERS, *QUIET_LOGGERS, *TESTED)
    saved = {name: (list(logging.getLogger(name).handlers), logging.getLogger(name).level,
                    logging.getLogger(name).propagate, logging.getLogger(name).disabled) for name in names}
    for name in TESTED:  # another test's logging.config.dictConfig may have disabled them
        logging.getLogger(name).disabled = False
    try:
        yield
    finally:
        for name, (handlers, level, propagate, disabled) in saved.items():
            logger = logging.getLogger(name)
            logger.handlers[:] = handlers
            logger.setLevel(level)
            logger.propagate = propagate
            logger.disabled = disabled
        logs.REQUEST_ID.set("")


def json_lines(err: str) -> list[dict[str, Any]]:
    lines = err.splitlines()
    return [json.loads(line) for line in lines]  # a line that is not JSON fails here


async def send_garbage_to_a_served_api() -> None:
    """Serve an app as the api is served (``SERVER_OPTIONS``) and send it a request that is not HTTP:
    uvicorn logs "Invalid HTTP request received." as a warning."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(Starlette(), host="127.0.0.1", port=port, **SERVER_OPTIONS))
    served = asyncio.create_task(server.serve())
    try:
        async def started() -> bool:
            return bool(server.started)

        await wait_until_async(started, timeout_s=10, interval_s=0.01, what="uvicorn started")
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"\x00\x01 not http at all\r\n\r\n")
        await writer.drain()
        await asyncio.wait_for(reader.read(), 5)
        writer.close()
    finally:
        server.should_exit = True
        await served


def test_a_uvicorn_warning_comes_out_as_one_json_line(restored: None, capsys: pytest.CaptureFixture[str]) -> None:
    """uvicorn, configured as the api runs it, installs no handler of its own: its warning is one JSON
    line from our handler, with the process name."""
    logs.configure("api")
    asyncio.run(send_garbage_to_a_served_api())
    captured = capsys.readouterr()
    assert captured.out == ""
    [line] = [line for line in json_lines(captured.err) if line["level"] == "warning"]
    assert line["logger"].startswith("uvicorn") and "Invalid HTTP request" in line["msg"]
    assert line["process"] == "api"


@pytest.mark.parametrize("logger", TESTED)
def test_library_warnings_are_json_lines_with_the_request_id_where_there_is_one(
    restored: None, capsys: pytest.CaptureFixture[str], logger: str,
) -> None:
    logs.configure("api")
    logging.getLogger(logger).warning("outside a request")
    logs.bind_request_id("req-12345678")
    logging.getLogger(logger).warning("inside a request")
    logging.getLogger(logger).info("quiet at info" if logger in QUIET_LOGGERS else "kept at info")
    outside, inside, *rest = json_lines(capsys.readouterr().err)
    assert (outside["logger"], outside["msg"], "request_id" in outside) == (logger, "outside a request", False)
    assert (inside["msg"], inside["request_id"]) == ("inside a request", "req-12345678")
    assert [line["msg"] for line in rest] in ([], ["kept at info"])


def test_a_library_handler_installed_before_configure_is_removed(restored: None) -> None:
    """What uvicorn's default config or Faust would have put on their loggers does not print twice."""
    stray = logging.StreamHandler()
    logging.getLogger("uvicorn.error").addHandler(stray)
    logging.getLogger("uvicorn.error").propagate = False
    logs.configure("api")
    assert stray not in logging.getLogger("uvicorn.error").handlers
    assert logging.getLogger("uvicorn.error").propagate


def test_the_worker_leaves_logging_to_the_entry_point() -> None:
    """Faust's worker is told not to set up logging (it would add a plain-text handler on stdout) and
    has no terminal spinner (escape codes in the log stream)."""
    import faust

    from stream_app.bootstrap import create_worker

    app = faust.App("logs-test", broker="kafka://127.0.0.1:9", autodiscover=False, web_enabled=False)
    worker = create_worker(app)
    assert worker.override_logging is False and worker.spinner is None
