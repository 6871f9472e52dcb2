"""Runs kill-test children and checks a store against what they acknowledged."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import engram
from tests.durability.helpers import clustered

CHILD = str(Path(__file__).with_name("kill_child.py"))


@dataclass
class Acks:
    remembered: dict[int, int] = field(default_factory=dict)  # id -> key
    forgotten: set[int] = field(default_factory=set)
    forgetting: set[int] = field(default_factory=set)  # forget called, not acknowledged
    links: set[tuple[int, int]] = field(default_factory=set)


def run_child(
    path: Path,
    seed: int,
    n: int,
    *,
    kill_after_s: float | None,
    crash_at: str | None = None,
    acks: Acks,
    mode: str = "group",
    kill_on_line: str | None = None,
) -> int:
    """Runs one child; SIGKILLs it kill_after_s after its first acknowledgement (None: let it
    finish or crash). Returns its exit code. Bounded: at most 30 s per child."""
    env = dict(os.environ)
    env.pop("ENGRAM_CRASH_AT", None)
    if crash_at:
        env["ENGRAM_CRASH_AT"] = crash_at
    proc = subprocess.Popen(
        [sys.executable, CHILD, str(path), str(seed), str(n), mode],
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    assert proc.stdout is not None
    lines: list[str] = []

    def reader() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:  # a last line without its newline was cut mid-write: not an ack
            if line.endswith("\n"):
                lines.append(line)

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    deadline = time.monotonic() + 30.0
    first_ack: float | None = None
    try:
        while time.monotonic() < deadline:
            if first_ack is None and lines:
                first_ack = time.monotonic()
            if proc.poll() is not None:
                break
            if kill_on_line is not None and any(ln == kill_on_line + "\n" for ln in lines):
                proc.send_signal(signal.SIGKILL)
                break
            if (
                kill_after_s is not None
                and first_ack is not None
                and time.monotonic() - first_ack >= kill_after_s
            ):
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.002)
        else:
            proc.kill()
            raise AssertionError(f"child {seed} did not finish within 30 s")
    finally:
        proc.wait()
        t.join(timeout=10)
    if kill_on_line is not None and kill_on_line + "\n" in lines:
        # Acknowledgements after the marker fall in the loss window the marker bounds.
        cut = lines.index(kill_on_line + "\n")
        for line in lines[cut:]:  # forgets there may or may not have reached the disk
            if line[:1] in ("f", "F"):
                acks.forgetting.add(int(line.split()[1]))
        lines = lines[:cut]
    for line in lines:
        parse_ack(line, acks)
    return int(proc.returncode)


def parse_ack(line: str, acks: Acks) -> None:
    parts = line.split()
    if not parts:
        return
    if parts[0] == "R" and len(parts) == 3:
        acks.remembered[int(parts[1])] = int(parts[2])
    elif parts[0] == "f" and len(parts) == 2:
        acks.forgetting.add(int(parts[1]))
    elif parts[0] == "F" and len(parts) == 2:
        acks.forgotten.add(int(parts[1]))
        acks.forgetting.discard(int(parts[1]))
    elif parts[0] == "L" and len(parts) == 3:
        acks.links.add((int(parts[1]), int(parts[2])))


def check_store(path: Path, acks: Acks) -> None:
    """Every acknowledged write is there with identical bytes, acknowledged forgets are gone,
    every live memory is whole, the store validates, and it accepts writes and consolidation."""
    with engram.Engine(path, dim=8) as eng:
        sp = eng.space("k")
        for mid, key in acks.remembered.items():
            if mid in acks.forgotten:
                assert mid not in sp, f"forgotten memory {mid} came back"
                continue
            if mid in acks.forgetting and mid not in sp:
                # Its forget was in flight at the kill and reached the log: the forget is now
                # a fact (whole, not half), so later checks treat it as forgotten.
                acks.forgotten.add(mid)
                continue
            assert mid in sp, f"acknowledged memory {mid} (key {key}) is missing"
            m = sp.get(mid)
            assert m.content == str(key)
            assert m.embedding.tobytes() == clustered(key).tobytes()
        for src, dst in acks.links:
            if {src, dst} & (acks.forgotten | acks.forgetting):
                continue
            assert any(e.id == dst for e in sp.neighbors(src)), f"acknowledged link {src}->{dst} is missing"
        # Nothing half-present: every live episode is a complete, known item.
        top = max(acks.remembered, default=0)
        ordinal = top >> 40 if top else 1
        for seq in range(1, (top & ((1 << 40) - 1)) + 200):
            mid = (ordinal << 40) | seq
            if mid in sp:
                m = sp.get(mid)
                if m.kind == "episode" and m.content != "check":
                    assert m.embedding.tobytes() == clustered(int(m.content)).tobytes()
        v = sp.validate()
        assert v["ok"], v
        new = sp.remember(np.ones(8, dtype=np.float32), content="check")
        assert new in sp
        sp.consolidate()
        assert sp.validate()["ok"]
