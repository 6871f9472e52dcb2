"""Stable (process-independent) hashing helpers.

Python's built-in ``hash`` is salted per process, so every hash that shapes data or a cache key
goes through BLAKE2b here instead.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any


def stable_hash64(text: str, *, salt: str = "") -> int:
    """A 64-bit unsigned hash of ``text`` that is the same on every machine and run."""
    digest = hashlib.blake2b(
        text.encode("utf-8"), digest_size=8, person=b"engram-ds", salt=salt.encode()[:16]
    )
    return int.from_bytes(digest.digest(), "little")


def content_key(params: dict[str, Any], texts: Iterable[str]) -> str:
    """A hex SHA-256 over JSON-encoded ``params`` and every text (length-prefixed)."""
    h = hashlib.sha256()
    h.update(json.dumps(params, sort_keys=True, default=str).encode("utf-8"))
    for t in texts:
        b = t.encode("utf-8")
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.hexdigest()
