"""The Python client of an Engram server (install the ``server`` extra).

>>> from engram.client import Client  # doctest: +SKIP
>>> with Client("http://127.0.0.1:7432", api_key="engram_app_...") as c:  # doctest: +SKIP
...     sp = c.space("science")
...     ids, scores = sp.search(vec, k=10)

Errors are the in-process ones (:mod:`engram.errors`) as subclasses of
:class:`engram.client.errors.RemoteError`, which adds the HTTP status, code and request id.
"""

from engram.client.aio import AsyncClient, AsyncRemoteSpace
from engram.client.errors import RemoteError
from engram.client.health import LinkHealth
from engram.client.retry import RetryPolicy
from engram.client.sync import Client, RemoteSpace

__all__ = [
    "AsyncClient",
    "AsyncRemoteSpace",
    "Client",
    "LinkHealth",
    "RemoteError",
    "RemoteSpace",
    "RetryPolicy",
]
