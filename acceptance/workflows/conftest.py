"""The engine the workflows drive (:class:`engram.workflows.backend.Backend`).

Today the in-process engine; when ``engram serve`` and ``engram.client.Client`` land, only this
fixture changes (the client mirrors the Space API and ``metrics_text`` GETs ``/metrics``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import engram
from engram.workflows.backend import Backend


@pytest.fixture
def backend() -> Iterator[Backend]:
    with engram.Engine(path=None, dim=768) as eng:
        yield Backend(kind="inprocess", engine=eng, metrics_text=eng.prometheus)
