"""API key files (``engram keys add|revoke``): keys stored hashed in a JSON file, each granted
spaces and one role. engramd reads the file (``--api-keys``; ``cpp/server/auth.hpp``) and
re-reads it when it changes or on SIGHUP, so keys are added and revoked without a restart.

A key is ``engram_<id>_<secret>`` with 32 random bytes of secret, so a plain SHA-256 of the whole
key is a sound verifier (slow password hashes exist for low-entropy secrets). The file maps ids
to ``{"hash": "sha256:<hex>", "spaces": [...] or ["*"], "role": "read"|"write"|"admin"}``.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from pathlib import Path

ROLES = ("read", "write", "admin")
_PREFIX = "engram_"


def hash_key(key: str) -> str:
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def generate_key(key_id: str) -> str:
    if not key_id or not all(c.isalnum() or c == "-" for c in key_id):
        raise ValueError(f"key id {key_id!r} must be non-empty letters, digits or '-'")
    return f"{_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"


def add_key(path: str | os.PathLike[str], key_id: str, spaces: list[str], role: str) -> str:
    """Create a key, store its hash in ``path`` (created when missing) and return the key itself,
    which is shown once and never stored."""
    if role not in ROLES:
        raise ValueError(f"role {role!r}; expected one of {', '.join(ROLES)}")
    p = Path(path)
    doc = json.loads(p.read_text()) if p.exists() else {"keys": {}}
    key = generate_key(key_id)
    doc["keys"][key_id] = {"hash": hash_key(key), "spaces": list(spaces), "role": role}
    _write(p, doc)
    return key


def revoke_key(path: str | os.PathLike[str], key_id: str) -> bool:
    p = Path(path)
    doc = json.loads(p.read_text())
    found = doc["keys"].pop(key_id, None) is not None
    _write(p, doc)
    return found


def _write(p: Path, doc: dict[str, object]) -> None:
    # write-then-rename so a reloading server never reads a half-written file
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, p)
