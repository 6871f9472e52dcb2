"""The engine each workflow drives (:class:`engram_harness.workflows.backend.Backend`).

A suite names it with a module-level ``BACKEND``: ``"server"`` starts a real ``engram serve``
process (in memory, on a free loopback port) and drives it through ``engram.client.Client``,
scraping ``/metrics``; ``"inprocess"`` uses :class:`engram.Engine` directly. Suites that still
need calls the HTTP API does not offer yet say so next to their ``BACKEND``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import engram
from engram_harness.suite import missing_component
from engram_harness.workflows.backend import Backend


@pytest.fixture
def engramd_test_build(request: pytest.FixtureRequest) -> str:
    """The path of a test-build engramd (crash points, fault plans, ``/api/v1/admin/faults``:
    docs/faults.md), for the workflows that inject faults inside the server. Without one the test
    fails under CI, whose nox session builds it (``ENGRAM_FAULT_ENGRAMD``), and is skipped elsewhere."""
    from engram_harness.chaos.faultbuild import fault_engramd

    path, why = fault_engramd()
    if path is None:
        missing_component(f"{request.node.nodeid} needs a fault-injection engramd: {why}")
    return path


@pytest.fixture
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    kind = getattr(request.module, "BACKEND", "server")
    if kind == "inprocess":
        with engram.Engine(path=None, dim=768) as eng:
            yield Backend(kind="inprocess", engine=eng, metrics_text=eng.prometheus)
        return
    if kind != "server":
        raise ValueError(f"{request.module.__name__}.BACKEND is {kind!r}; expected 'server' or 'inprocess'")
    from engram.client import Client
    from engram_harness.server import running_server

    with running_server(None, no_auth=True, max_k=1000, log_dir=tmp_path) as url, Client(url) as client:
        yield Backend(kind="server", engine=client, metrics_text=client.prometheus)
