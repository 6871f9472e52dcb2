"""Sample a server process every second: RSS, CPU seconds and a filtered scrape of its /metrics.

Runs in a background thread beside the load generator (``run_http`` releases the GIL for the whole
run). Scrapes are kept compactly (one float array per sample over a shared key table), so an hour
of one-second samples of a few hundred series stays around ten megabytes; :meth:`samples_at`
gives a scrape back as :data:`~engram_harness.slo.prom.Samples` for the stage budget.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import httpx
import numpy as np
import numpy.typing as npt

from engram_harness.driver.native_http import process_cpu_s
from engram_harness.slo.prom import Labels, Samples, parse_exposition


def rss_bytes(pid: int) -> int:
    """Resident set size of process ``pid`` (``VmRSS`` of ``/proc/<pid>/status``) in bytes."""
    with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise ValueError(f"/proc/{pid}/status has no VmRSS line (a zombie or kernel thread?)")


@dataclass(frozen=True)
class Sample:
    t: float  # time.monotonic() when the sample was taken
    rss: int  # bytes
    cpu_s: float  # the process's user + system CPU seconds so far
    scrape: int  # index into the sampler's scrapes, -1 when the scrape failed
    load1: float = math.nan  # the host's 1-minute load average (other jobs share the cores)


class ProcessSampler:
    """``with ProcessSampler(pid, url, families=...) as s: ...``: samples every ``period_s`` until the
    block ends, at most ``max_samples`` times (the loop is bounded in count and in time)."""

    def __init__(self, pid: int, url: str | None, *, families: Sequence[str] = (), period_s: float = 1.0,
                 max_samples: int = 200_000, scrape_timeout_s: float = 5.0) -> None:  # fmt: skip
        self.pid, self.url, self.families = pid, url, tuple(families)
        self.period_s, self.max_samples, self.scrape_timeout_s = period_s, max_samples, scrape_timeout_s
        self.samples: list[Sample] = []
        self.scrape_errors: list[str] = []
        self._keys: dict[tuple[str, Labels], int] = {}
        self._rows: list[npt.NDArray[np.float64]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="slo-sampler", daemon=True)

    def _scrape(self, client: httpx.Client | None) -> int:
        if client is None:
            return -1
        try:
            text = client.get("/metrics").text
            parsed = parse_exposition(text, self.families)
        except (httpx.HTTPError, ValueError) as exc:
            self.scrape_errors.append(f"{type(exc).__name__}: {exc}"[:300])
            return -1
        for key in parsed:
            self._keys.setdefault(key, len(self._keys))
        row = np.full(len(self._keys), math.nan)
        for key, value in parsed.items():
            row[self._keys[key]] = value
        self._rows.append(row)
        return len(self._rows) - 1

    def take(self, client: httpx.Client | None = None) -> Sample | None:
        """One sample now (also called by the thread); None once the process is gone."""
        try:
            t = time.monotonic()
            rss, cpu = rss_bytes(self.pid), process_cpu_s(self.pid)
        except (OSError, ValueError):
            return None
        s = Sample(t, rss, cpu, self._scrape(client), os.getloadavg()[0])
        self.samples.append(s)
        return s

    def _run(self) -> None:
        client = httpx.Client(base_url=self.url, timeout=self.scrape_timeout_s) if self.url else None
        try:
            next_t = time.monotonic()
            while not self._stop.is_set() and len(self.samples) < self.max_samples:
                if self.take(client) is None:
                    break
                next_t += self.period_s
                # fixed-rate ticks; a slow scrape skips ticks rather than bunching samples
                while next_t < time.monotonic():
                    next_t += self.period_s
                self._stop.wait(max(0.0, next_t - time.monotonic()))
        finally:
            if client is not None:
                client.close()

    def __enter__(self) -> ProcessSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def samples_at(self, index: int) -> Samples:
        """The scrape of sample ``index`` as ``{(name, labels): value}`` (empty if it failed)."""
        i = self.samples[index].scrape
        if i < 0:
            return {}
        row = self._rows[i]
        return {k: float(row[j]) for k, j in self._keys.items() if j < len(row) and not math.isnan(row[j])}

    def series(
        self, name: str, labels: Labels = ()
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """``(t, value)`` of one series over the samples whose scrape has it."""
        j = self._keys.get((name, tuple(sorted(labels))))
        ts, vs = [], []
        if j is not None:
            for s in self.samples:
                if (
                    s.scrape >= 0
                    and j < len(self._rows[s.scrape])
                    and not math.isnan(self._rows[s.scrape][j])
                ):
                    ts.append(s.t)
                    vs.append(self._rows[s.scrape][j])
        return np.asarray(ts, dtype=np.float64), np.asarray(vs, dtype=np.float64)

    def family_series(
        self, name: str
    ) -> dict[Labels, tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]]:
        """``{labels: (t, value)}`` for every series of ``name`` (e.g. one per space)."""
        return {labels: self.series(name, labels) for (n, labels) in list(self._keys) if n == name}

    def family_sum(self, name: str) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """``(t, sum over every series of name)`` per successful scrape (e.g. engine bytes)."""
        cols = [j for (n, _), j in self._keys.items() if n == name]
        ts, vs = [], []
        for s in self.samples:
            if s.scrape < 0:
                continue
            row = self._rows[s.scrape]
            vals = [row[j] for j in cols if j < len(row) and not math.isnan(row[j])]
            if vals:
                ts.append(s.t)
                vs.append(float(sum(vals)))
        return np.asarray(ts, dtype=np.float64), np.asarray(vs, dtype=np.float64)

    def nearest(self, t: float) -> int:
        """Index of the sample with a successful scrape taken nearest to monotonic time ``t``."""
        best, best_d = -1, math.inf
        for i, s in enumerate(self.samples):
            if s.scrape >= 0 and abs(s.t - t) < best_d:
                best, best_d = i, abs(s.t - t)
        if best < 0:
            raise LookupError("no successful scrape was sampled")
        return best
