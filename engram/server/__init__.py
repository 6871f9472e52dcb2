"""The Engram HTTP server (``engram serve``): Starlette on uvicorn, API v1 under ``/api/v1``.

Install with the ``server`` extra. See ``docs/architecture.md`` (Server) for the design and
``/openapi.json`` on a running server for the API.
"""

from engram.server.config import ConfigError, ServerConfig, load_config

__all__ = ["ConfigError", "ServerConfig", "load_config"]
