"""Structured logs: one JSON object per line, with the fields a line was given via ``extra``.

``log.info("request", extra={"fields": {"request_id": ..., "status": 202}})`` gives
``{"ts": ..., "level": "info", "logger": ..., "msg": "request", "request_id": ..., "status": 202}``.

A line logged while a request is served also carries that request's ``request_id`` (the api binds it,
see ``producer_api.request_ids``), whoever logs it: our code, Starlette, uvicorn. The libraries' own
loggers (uvicorn's, Faust's, mode's, aiokafka's) are routed through the same handler by ``configure``.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from contextvars import ContextVar
from typing import Any

REQUEST_ID: ContextVar[str] = ContextVar("request_id", default="")
"""The id of the request being served in this context ("" outside a request)."""
LIBRARY_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi", "faust", "mode", "aiokafka")
"""Loggers that libraries may give handlers of their own; ``configure`` sends them to the root's."""
QUIET_LOGGERS = ("aiokafka", "faust", "mode", "uvicorn.access")
"""Chatty at INFO: only their warnings and errors are kept."""


def bind_request_id(request_id: str) -> None:
    """Tag every line logged from now on in this context (a request's task) with ``request_id``."""
    REQUEST_ID.set(request_id)


class JsonFormatter(logging.Formatter):
    def __init__(self, process: str = "") -> None:
        super().__init__()
        self._process = process

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if self._process:
            line["process"] = self._process
        request_id = REQUEST_ID.get()
        if request_id:
            line["request_id"] = request_id
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def json_handler(process: str = "") -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(process))
    return handler


def configure(process: str = "", level: int = logging.INFO) -> logging.Handler:
    """Route every logger through one JSON handler on stderr (call once, in the entry point).

    The servers must then leave logging alone: uvicorn is run with ``log_config=None`` and Faust's
    worker with ``override_logging=False``, else they install plain-text handlers of their own."""
    handler = json_handler(process)
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    for name in LIBRARY_LOGGERS:
        library = logging.getLogger(name)
        for existing in list(library.handlers):
            library.removeHandler(existing)
        library.propagate = True
    for noisy in QUIET_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return handler
