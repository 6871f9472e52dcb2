"""Content digests: equal digests mean equal engine content (restore checks use them)."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engram.engine import Engine


def content_digest(engine: Engine) -> str:
    """SHA-256 of the engine's logical state: every space, live memory (bytes of embedding,
    content, metadata, confidence, timestamp, id), concept and edge, in a canonical order.

    The index structure is not part of it (it is rebuilt on recovery)."""
    return hashlib.sha256(engine._core.content_snapshot()).hexdigest()
