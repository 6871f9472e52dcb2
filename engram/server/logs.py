"""Structured logs: one JSON object per line on stderr (requests, engine events, lifecycle)."""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any, TextIO

from engram import jsonfast

_LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}


class JsonLog:
    def __init__(self, stream: TextIO | None = None, level: str = "info") -> None:
        self._stream = stream or sys.stderr
        self._lock = threading.RLock()  # re-entrant: a signal handler may log on the thread holding it
        if level not in _LEVELS:
            raise ValueError(f"log level {level!r}; expected one of {', '.join(_LEVELS)}")
        self._min = _LEVELS[level]

    def emit(self, level: str, event: str, **fields: Any) -> None:
        if _LEVELS[level] < self._min:
            return
        rec = {"ts": round(time.time(), 6), "level": level, "event": event, **fields}
        try:
            line = jsonfast.dumps(rec).decode()
        except TypeError:  # a field orjson cannot encode: fall back to str() for it
            line = json.dumps(rec, default=str, separators=(",", ":"))
        with self._lock:
            self._stream.write(line + "\n")
            self._stream.flush()

    def info(self, event: str, **fields: Any) -> None:
        self.emit("info", event, **fields)

    def warning(self, event: str, **fields: Any) -> None:
        self.emit("warning", event, **fields)

    def error(self, event: str, **fields: Any) -> None:
        self.emit("error", event, **fields)
