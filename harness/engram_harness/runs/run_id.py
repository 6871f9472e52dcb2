"""Sortable run identifiers: UTC timestamp plus a short random suffix."""

from __future__ import annotations

import datetime as _dt
import re
import secrets

RUN_ID_RE = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{6}$")


def new_run_id(now: _dt.datetime | None = None) -> str:
    """``20250102T030405Z-1a2b3c``: lexicographic order is chronological order."""
    t = (now or _dt.datetime.now(_dt.timezone.utc)).astimezone(_dt.timezone.utc)
    return f"{t:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
