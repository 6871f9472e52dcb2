"""Server configuration: defaults, then a TOML file, then ``ENGRAM_SERVER_*`` variables, then flags.

Every field has one name used everywhere: ``port`` is ``port = 7432`` in the file,
``ENGRAM_SERVER_PORT`` in the environment and ``--port`` on the command line.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

ENV_PREFIX = "ENGRAM_SERVER_"
DURABILITY_MODES = ("group", "fsync", "none")


class ConfigError(ValueError):
    """The configuration is invalid; the message names the setting and what is expected."""


@dataclass
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 7432
    data: str | None = None  # engine directory; None with in_memory=True
    in_memory: bool = False
    dim: int = 768
    durability: str = "group"
    api_keys: str | None = None  # path of the hashed key file
    no_auth: bool = False
    max_body_bytes: int = 8 << 20
    max_batch: int = 1000
    max_k: int = 1000
    max_inflight: int = 256  # concurrent HTTP requests before 429
    stream_queue_limit: int = 10_000  # observations queued for the writer (hard limit)
    stream_max_outstanding: int = 1_000  # unacknowledged observations per stream
    ingest_batch: int = 256
    ingest_throttle_ms: float = 0.0  # extra pause per writer batch: capacity drills and tests only
    idempotency_capacity: int = 100_000  # idempotency keys kept per space by the engine (oldest evicted)
    inline_engine_calls: bool = False  # run short engine calls on the event loop (see routing.quick_call)
    drain_timeout_s: float = 20.0
    key_reload_interval_s: float = 1.0
    log_level: str = "info"
    deprecated_sunset: str = "Wed, 01 Jul 2027 00:00:00 GMT"
    extra: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> ServerConfig:
        if self.in_memory == (self.data is not None):
            raise ConfigError("give exactly one of data=DIR (a durable engine) or in_memory=true")
        if self.no_auth == (self.api_keys is not None):
            raise ConfigError(
                "give exactly one of api_keys=FILE or no_auth=true (authentication is explicit)"
            )
        if self.durability not in DURABILITY_MODES:
            raise ConfigError(
                f"durability={self.durability!r}; expected one of {', '.join(DURABILITY_MODES)}"
            )
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port={self.port} is not a TCP port (0-65535)")
        for name in ("dim", "max_body_bytes", "max_batch", "max_k", "max_inflight", "stream_queue_limit",
                     "stream_max_outstanding", "ingest_batch", "idempotency_capacity"):  # fmt: skip
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}={getattr(self, name)}; expected a positive integer")
        if self.extra:
            raise ConfigError(f"unknown setting(s) {sorted(self.extra)}; known: {sorted(_names())}")
        return self

    def redacted(self) -> dict[str, Any]:
        """The settings safe to print: no field holds a secret (keys live hashed in their file),
        but any future field named like one is masked."""
        out = {}
        for f in fields(self):
            if f.name == "extra":
                continue
            v = getattr(self, f.name)
            out[f.name] = "***" if any(s in f.name for s in ("secret", "token", "password")) else v
        return out


def _names() -> set[str]:
    return {f.name for f in fields(ServerConfig)} - {"extra"}


def _coerce(name: str, raw: Any) -> Any:
    typ = {f.name: f.type for f in fields(ServerConfig)}[name]
    try:
        if typ == "bool":
            if isinstance(raw, bool):
                return raw
            if str(raw).lower() in ("1", "true", "yes", "on"):
                return True
            if str(raw).lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if typ == "int":
            return int(raw)
        if typ == "float":
            return float(raw)
        if typ == "str | None":
            return None if raw in (None, "") else str(raw)
        return str(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"setting {name}={raw!r} is not a valid {typ}") from None


def load_config(
    file: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> ServerConfig:
    """Merge defaults < file < environment < ``overrides`` (flags; None values are ignored)."""
    values: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    if file is not None:
        try:
            data = tomllib.loads(Path(file).read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read the configuration file {file}: {exc}") from None
        for k, v in data.get("server", data).items():
            (values if k in _names() else extra)[k] = v
    env = os.environ if env is None else env
    for k, v in env.items():
        if k.startswith(ENV_PREFIX) and k != "ENGRAM_SERVER_IMPL":  # the launcher's choice, not a setting
            name = k[len(ENV_PREFIX) :].lower()
            (values if name in _names() else extra)[name] = v
    for k, v in (overrides or {}).items():
        if v is not None:
            values[k] = v
    cfg = ServerConfig(**{k: _coerce(k, v) for k, v in values.items()})
    return dataclasses.replace(cfg, extra=extra).validate()
