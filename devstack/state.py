"""Choices the stack made once and must remember (ports, relocated data dirs): ``services.json``."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path


class StackState:
    """A small JSON key/value record; each service keeps its own keys (e.g. ``postgres.port``)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()  # services start in parallel threads and share this file

    def _load(self) -> dict[str, str]:
        try:
            raw = json.loads(self._path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except json.JSONDecodeError:
            return {}
        return {str(key): str(value) for key, value in raw.items()} if isinstance(raw, dict) else {}

    def get(self, key: str) -> str | None:
        return self._load().get(key)

    def get_int(self, key: str) -> int | None:
        value = self.get(key)
        return int(value) if value and value.isdigit() else None

    def put(self, key: str, value: str | int) -> None:
        with self._lock:
            self._put(key, value)

    def _put(self, key: str, value: str | int) -> None:
        values = self._load()
        values[key] = str(value)
        self._path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self._path.with_name(f".{self._path.name}.tmp")
        temporary.write_text(json.dumps(values, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(temporary, self._path)
