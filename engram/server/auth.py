"""API keys: stored hashed in a JSON file, each granted spaces and one operation class.

A key is ``engram_<id>_<secret>`` with 32 random bytes of secret, so a plain SHA-256 of the whole
key is a sound verifier (slow password hashes exist for low-entropy secrets). The file maps ids
to ``{"hash": "sha256:<hex>", "spaces": [...] or ["*"], "role": "read"|"write"|"admin"}``; it is
re-read when it changes (polled) or on SIGHUP, so keys are added and revoked without a restart.
Authorisation is always checked against the space named in the request path, the only place a
space is resolved (the upstream engine checked one header and routed by another).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path

from engram.server.errors import ApiError

ROLES = ("read", "write", "admin")
_RANK = {r: i for i, r in enumerate(ROLES)}
_PREFIX = "engram_"


@dataclass(frozen=True)
class Principal:
    key_id: str
    role: str
    spaces: frozenset[str]  # "*" grants every space

    def can(self, role: str) -> bool:
        return _RANK[self.role] >= _RANK[role]

    def grants(self, space: str) -> bool:
        return "*" in self.spaces or space in self.spaces

    def authorize(self, role: str, space: str | None) -> None:
        if not self.can(role):
            raise ApiError(
                403, "forbidden", f"key {self.key_id!r} has role {self.role!r}; this operation needs {role!r}"
            )
        if space is not None and not self.grants(space):
            raise ApiError(403, "forbidden", f"key {self.key_id!r} is not granted space {space!r}")


ANONYMOUS_ADMIN = Principal("(auth disabled)", "admin", frozenset({"*"}))


def hash_key(key: str) -> str:
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def _key_id(key: str) -> str | None:
    if not key.startswith(_PREFIX):
        return None
    kid, sep, _secret = key[len(_PREFIX) :].partition("_")  # ids have no "_"; secrets may
    return kid if sep and kid else None


def _parse(text: str, source: str) -> dict[str, tuple[str, Principal]]:
    try:
        doc = json.loads(text)
        out = {}
        for kid, entry in doc["keys"].items():
            role = entry["role"]
            if role not in ROLES:
                raise ValueError(f"key {kid!r}: role {role!r} is not one of {ROLES}")
            spaces = entry["spaces"]
            if not isinstance(spaces, list) or not all(isinstance(s, str) for s in spaces):
                raise ValueError(f"key {kid!r}: spaces must be a list of names or ['*']")
            if not str(entry["hash"]).startswith("sha256:"):
                raise ValueError(f"key {kid!r}: hash must be 'sha256:<hex>'")
            out[kid] = (str(entry["hash"]), Principal(kid, role, frozenset(spaces)))
        return out
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"invalid API key file {source}: {exc}") from None


class KeyStore:
    """The keys of one file; :meth:`maybe_reload` picks up changes (a bad file keeps the old keys)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._keys: dict[str, tuple[str, Principal]] = {}
        self.reloads = 0
        self.reload(force=True)

    def _current_stamp(self) -> tuple[int, int]:
        st = self.path.stat()
        return (st.st_mtime_ns, st.st_size)

    def reload(self, *, force: bool = False) -> bool:
        """Re-read the file when it changed (or always with ``force``); True when reloaded."""
        stamp = self._current_stamp()
        if not force and stamp == self._stamp:
            return False
        keys = _parse(self.path.read_text(), str(self.path))
        with self._lock:
            self._keys, self._stamp = keys, stamp
            self.reloads += 1
        return True

    def __len__(self) -> int:
        with self._lock:
            return len(self._keys)

    def authenticate(self, authorization: str | None) -> Principal:
        if not authorization:
            raise ApiError(
                401, "unauthenticated", "missing API key; send 'Authorization: Bearer engram_<id>_<secret>'"
            )
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "unauthenticated", "the Authorization header must be 'Bearer <api key>'")
        token = token.strip()
        kid = _key_id(token)
        with self._lock:
            entry = self._keys.get(kid) if kid else None
        # compare against a dummy when the id is unknown so timing does not reveal which ids exist
        stored = entry[0] if entry else hash_key("engram_unknown_" + "0" * 43)
        if not hmac.compare_digest(stored, hash_key(token)) or entry is None:
            raise ApiError(401, "unauthenticated", "unknown or revoked API key")
        return entry[1]


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
