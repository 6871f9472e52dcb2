"""Faults injected inside a running test-build engramd over HTTP (``PUT /api/v1/admin/faults``,
docs/faults.md "Over HTTP"): the engine clock's skew and the fault plan (I/O errors of the
file-system seam, delays at named sites). A release build has no such route: the injectors raise
:class:`InjectorUnavailable` saying so, never pretending the fault was injected."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import httpx

from engram_harness.chaos.errors import ChaosError, InjectorUnavailable

ROUTE = "/api/v1/admin/faults"


class ServerFaults:
    """The fault controls of one server (``url``; ``api_key`` an admin key granted ``*``, or None
    when the server runs without auth)."""

    def __init__(self, url: str, api_key: str | None = None, timeout_s: float = 10.0) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout_s)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ServerFaults:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _answer(self, r: httpx.Response) -> dict[str, Any]:
        if r.status_code == 404:
            raise InjectorUnavailable(
                f"{self.url} has no {ROUTE}: it is a release build; start a test build "
                "(-DENGRAM_FAULT_INJECTION=ON, docs/faults.md) to inject faults inside the server"
            )
        if r.status_code != 200:
            raise ChaosError(f"{r.request.method} {self.url}{ROUTE} -> {r.status_code}: {r.text[:300]}")
        return dict(r.json())

    def get(self) -> dict[str, Any]:
        """``{"build", "plan", "clock_skew_s", "rules": [{"rule", "hits", "fired"}], "leaked_bytes"}``."""
        return self._answer(self._http.get(ROUTE))

    def set(self, *, plan: str | None = None, clock_skew_s: float | None = None) -> dict[str, Any]:
        """Replace the plan (``""`` clears it) and/or set the clock skew; the state afterwards."""
        body: dict[str, Any] = {}
        if plan is not None:
            body["plan"] = plan
        if clock_skew_s is not None:
            body["clock_skew_s"] = float(clock_skew_s)
        return self._answer(self._http.put(ROUTE, json=body))


@contextlib.contextmanager
def clock_skew(url: str, offset_s: float, api_key: str | None = None) -> Iterator[dict[str, Any]]:
    """The server's engine clock runs ``offset_s`` seconds off system time (negative: behind; the
    engine holds its clock rather than run it backwards) until exit, when the skew returns to 0."""
    with ServerFaults(url, api_key) as f:
        state = f.set(clock_skew_s=offset_s)
        try:
            yield state
        finally:
            with contextlib.suppress(
                httpx.HTTPError, ChaosError
            ):  # the server may have been killed meanwhile
                f.set(clock_skew_s=0.0)


@contextlib.contextmanager
def fault_plan(url: str, plan: str, api_key: str | None = None) -> Iterator[dict[str, Any]]:
    """The server runs under fault plan ``plan`` (docs/faults.md grammar, e.g.
    ``ioerror=write@*/wal/*:EIO``) until exit, when the plan is cleared; yields the state (the
    rules' hit counts are read with :meth:`ServerFaults.get`)."""
    with ServerFaults(url, api_key) as f:
        state = f.set(plan=plan)
        try:
            yield state
        finally:
            with contextlib.suppress(httpx.HTTPError, ChaosError):
                f.set(plan="")
