"""``engram serve`` and ``engram keys``: the launcher of the native server ``engramd`` (C++,
``cpp/server``, built with the engine when its libraries are installed) and the API key files
it reads. The server itself is ``engramd``: see ``docs/architecture.md`` ("Server") and
``/openapi.json`` on a running server for the API.
"""
