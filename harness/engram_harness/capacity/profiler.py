"""Sampling profiles of a running server: ``perf record -g`` where the kernel allows it, else stacks
sampled with gdb; both folded to ``frame;frame;...;leaf count`` lines (Brendan Gregg's format), the
input of :mod:`engram_harness.capacity.flamegraph` and of the hot-function share.

perf on this host: /usr/bin/perf works as root with perf_event_paranoid 2, but only the software
``cpu-clock`` event (no hardware counters in the guest), which is what a CPU profile needs.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import signal
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

# a sample's header: "comm pid[/tid] [cpu] time: period event:" -- frames follow, one per line
_FRAME = re.compile(r"^\s+[0-9a-fA-F]+\s+(.+?)\s+\((.*)\)\s*$")
_OFFSET = re.compile(r"\+0x[0-9a-fA-F]+$")


@dataclass
class Profile:
    """Folded stacks (root first) and how they were taken."""

    folded: Counter[str] = field(default_factory=Counter)
    method: str = ""  # "perf record -F 499 -g", "gdb", or "" when nothing could be sampled
    notes: list[str] = field(default_factory=list)

    @property
    def samples(self) -> int:
        return sum(self.folded.values())

    def self_shares(self, *, resolved_only: bool = False) -> list[tuple[str, float]]:
        """Functions by the share of samples in which they were the leaf (self time), largest first.
        ``resolved_only`` leaves out frames perf could not name (``[dso]``: a whole binary without
        symbols is not one function); shares stay fractions of all samples."""
        n = self.samples
        c: Counter[str] = Counter()
        for stack, k in self.folded.items():
            c[stack.rsplit(";", 1)[-1]] += k
        out = [(f, k / n) for f, k in c.most_common()] if n else []
        return [(f, x) for f, x in out if not is_unresolved(f)] if resolved_only else out

    def unresolved_share(self) -> float:
        """Share of samples whose leaf frame has no symbol."""
        return sum(x for f, x in self.self_shares() if is_unresolved(f))

    def inclusive_shares(self) -> list[tuple[str, float]]:
        """Functions by the share of samples whose stack holds them (counted once per stack)."""
        n = self.samples
        c: Counter[str] = Counter()
        for stack, k in self.folded.items():
            for f in set(stack.split(";")):
                c[f] += k
        return [(f, k / n) for f, k in c.most_common()] if n else []

    def write_folded(self, path: Path) -> None:
        path.write_text("".join(f"{s} {k}\n" for s, k in sorted(self.folded.items())))


def is_unresolved(frame: str) -> bool:
    return frame.startswith("[") and frame.endswith("]")


def _clean(symbol: str, dso: str) -> str:
    symbol = _OFFSET.sub("", symbol)
    if symbol in ("[unknown]", ""):
        name = Path(dso.strip("[]")).name if dso else ""
        return f"[{name or 'unknown'}]"
    return symbol.replace(";", ":")


def fold_perf_script(text: str, *, by_thread: bool = False, drop_unknown: bool = True) -> Counter[str]:
    """Fold ``perf script`` output (callchains, leaf first) into root-first stacks with counts.
    The process (or, with ``by_thread``, thread) name is the root frame, as stackcollapse-perf.pl does.
    ``drop_unknown`` leaves out frames perf could place in no binary at all (``[unknown]``): with
    frame-pointer call graphs of a binary built without frame pointers, the walk above the leaf
    reads such garbage return addresses, tens of frames deep."""
    out: Counter[str] = Counter()
    comm = ""
    frames: list[str] = []

    def flush() -> None:
        if comm or frames:
            out[";".join([comm, *reversed(frames)] if comm else reversed(frames))] += 1

    in_sample = False
    for line in text.splitlines():
        if not line.strip():
            if in_sample:
                flush()
            in_sample, frames, comm = False, [], ""
            continue
        if not line[0].isspace():
            if in_sample:
                flush()
            in_sample, frames = True, []
            head = line.split()
            comm = head[0] if head else ""
            if by_thread and len(head) > 1:
                comm = f"{comm}-{head[1].split('/')[-1]}"
            continue
        m = _FRAME.match(line)
        if m and in_sample:
            frame = _clean(m.group(1), m.group(2))
            if not (drop_unknown and frame == "[unknown]"):
                frames.append(frame)
    if in_sample:
        flush()
    return out


def fold_gdb(text: str) -> Counter[str]:
    """Fold ``gdb -batch -ex 'thread apply all bt'`` output: one stack per thread, innermost first."""
    out: Counter[str] = Counter()
    frames: list[str] = []
    fn = re.compile(r"^#\d+\s+(?:0x[0-9a-f]+ in )?(\S+?)\s*\(")
    for line in [*text.splitlines(), "Thread END"]:
        if line.startswith("Thread "):
            if frames:
                out[";".join(reversed(frames))] += 1
            frames = []
            continue
        m = fn.match(line)
        if m:
            frames.append(m.group(1).replace(";", ":"))
    return out


@functools.cache
def perf_available() -> str | None:
    """None when ``perf record`` can sample a process here, else why not (asked once: a trial
    record takes about a second)."""
    perf = shutil.which("perf")
    if perf is None:
        return "perf not installed"
    try:
        r = subprocess.run([perf, "record", "-q", "-F", "99", "-o", "/dev/null", "--", "true"],
                           capture_output=True, timeout=20)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"perf record failed: {exc}"
    return None if r.returncode == 0 else f"perf record refused: {r.stderr.decode(errors='replace')[-300:]}"


class PerfRecorder:
    """``perf record -F hz -g -p pid`` in the background while a step runs; ``stop()`` folds it."""

    def __init__(self, pid: int, out_dir: Path, hz: int = 499, call_graph: str = "fp") -> None:
        """``call_graph``: ``fp`` (frame pointers: cheap; above the leaf only as good as the binary's
        frame pointers) or ``dwarf`` (true stacks, but ``perf script`` unwinds each sample: about
        50 ms per sample on this host, so use it with a low ``hz`` and short windows)."""
        self.pid, self.hz, self.call_graph = pid, hz, call_graph
        self.data = out_dir / f"perf-{pid}-{time.monotonic_ns()}.data"
        self.proc: subprocess.Popen[bytes] | None = None
        self.profile = Profile(method=f"perf record -F {hz} --call-graph {call_graph}")

    def start(self, ready_timeout_s: float = 10.0) -> PerfRecorder:
        why = perf_available()
        if why:
            self.profile.notes.append(why)
            return self
        graph = "dwarf,16384" if self.call_graph == "dwarf" else self.call_graph
        self.proc = subprocess.Popen(["perf", "record", "-q", "-F", str(self.hz), "--call-graph", graph, "-p", str(self.pid),
                                      "-o", str(self.data)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
        # perf takes about a second to start here: wait (bounded) until it has written its header,
        # so the step that follows is sampled from its beginning
        end = time.monotonic() + ready_timeout_s
        while time.monotonic() < end and self.proc.poll() is None:  # bounded by the timeout
            if self.data.exists() and self.data.stat().st_size > 0:
                break
            time.sleep(0.05)
        return self

    def stop(self, timeout_s: float = 600.0) -> Profile:
        if self.proc is None:
            return self.profile
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGINT)
        try:
            _, err = self.proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate(timeout=10)
        if not self.data.exists():
            self.profile.notes.append(f"perf wrote nothing: {err.decode(errors='replace')[-300:]}")
            return self.profile
        try:
            r = subprocess.run(["perf", "script", "-i", str(self.data), "-F", "comm,tid,time,event,ip,sym,dso"],
                               capture_output=True, timeout=timeout_s)  # fmt: skip
        except subprocess.TimeoutExpired:
            self.profile.notes.append("perf script timed out")
            return self.profile
        self.profile.folded = fold_perf_script(r.stdout.decode(errors="replace"))
        return self.profile


def gdb_samples(pid: int, samples: int = 10, interval_s: float = 0.2, timeout_s: float = 30.0) -> Profile:
    """A poor man's profiler: ``samples`` all-thread backtraces with gdb (each stops the process for
    tens of milliseconds, so few and spread out)."""
    prof = Profile(method="gdb thread apply all bt")
    gdb = shutil.which("gdb")
    if gdb is None:
        prof.notes.append("gdb not installed")
        return prof
    end = time.monotonic() + timeout_s
    for _ in range(samples):  # bounded by samples and time
        if time.monotonic() > end:
            break
        try:
            r = subprocess.run([gdb, "-p", str(pid), "-batch", "-nx", "-ex", "thread apply all bt"],
                               capture_output=True, timeout=max(1.0, end - time.monotonic()))  # fmt: skip
        except subprocess.TimeoutExpired:
            break
        prof.folded.update(fold_gdb(r.stdout.decode(errors="replace")))
        time.sleep(interval_s)
    return prof


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0
