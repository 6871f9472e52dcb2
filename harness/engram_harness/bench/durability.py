"""Durability throughput: acknowledged writes/s per durability mode and writer-thread count,
next to the raw sequential-write and fsync rates of the same disk, measured in the same run.

Each writer thread calls ``Space.remember`` (one 64-d episode, 100 bytes of content) in a loop
for ``--seconds``; a write counts once the call returned (for "fsync" and "group" it is then
durable). The raw rates use the directory the store lives in: sequential 1 MiB writes with one
fsync at the end (MB/s), and 4 KiB write + fdatasync pairs (syncs/s), the ceiling for "fsync".

Run: ``engram-harness bench durability --dir /path/on/the/disk --markdown out.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import threading
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

MODES = ("fsync", "group", "none")


def raw_sequential_mb_s(directory: str, total_mb: int = 64) -> float:
    path = os.path.join(directory, "raw-seq.bin")
    chunk = os.urandom(1 << 20)
    t0 = time.perf_counter()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        for _ in range(total_mb):
            os.write(fd, chunk)
        os.fsync(fd)
    finally:
        os.close(fd)
        os.unlink(path)
    return total_mb / (time.perf_counter() - t0)


def raw_fsync_per_s(directory: str, seconds: float) -> float:
    path = os.path.join(directory, "raw-sync.bin")
    block = os.urandom(4096)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    n = 0
    try:
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            os.write(fd, block)
            os.fdatasync(fd)
            n += 1
        elapsed = time.perf_counter() - t0
    finally:
        os.close(fd)
        os.unlink(path)
    return n / elapsed


def acked_writes_per_s(directory: str, mode: str, threads: int, seconds: float) -> float:
    import engram

    store = tempfile.mkdtemp(prefix=f"bench-{mode}-{threads}-", dir=directory)
    try:
        with engram.Engine(
            store, dim=64, durability=mode, checkpoint_interval_s=0, checkpoint_wal_bytes=0
        ) as eng:
            sp = eng.create_space("bench")
            rng = np.random.default_rng(0)
            vecs = rng.normal(size=(1024, 64)).astype(np.float32)
            counts = [0] * threads
            stop = threading.Event()
            content = "x" * 100

            def writer(k: int) -> None:
                i = 0
                while not stop.is_set():
                    sp.remember(vecs[(i * threads + k) % 1024], content=content)
                    i += 1
                counts[k] = i

            ts = [threading.Thread(target=writer, args=(k,)) for k in range(threads)]
            t0 = time.perf_counter()
            for t in ts:
                t.start()
            time.sleep(seconds)
            stop.set()
            for t in ts:
                t.join(timeout=60)
            elapsed = time.perf_counter() - t0
            return sum(counts) / elapsed
    finally:
        shutil.rmtree(store, ignore_errors=True)


def run(directory: str, seconds: float, threads: Sequence[int]) -> dict[str, Any]:
    os.makedirs(directory, exist_ok=True)
    result: dict[str, Any] = {
        "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.platform()}",
        "directory": os.path.realpath(directory),
        "raw_sequential_mb_s": raw_sequential_mb_s(directory),
        "raw_fsync_per_s": raw_fsync_per_s(directory, seconds),
        "acked_writes_per_s": {},
    }
    for mode in MODES:
        result["acked_writes_per_s"][mode] = {
            str(t): acked_writes_per_s(directory, mode, t, seconds) for t in threads
        }
    return result


def markdown(r: dict[str, Any]) -> str:
    threads = list(next(iter(r["acked_writes_per_s"].values())))
    lines = [
        f"Disk: `{r['directory']}` on {r['machine']}.",
        f"Raw sequential write: {r['raw_sequential_mb_s']:.0f} MB/s; raw 4 KiB write+fdatasync: "
        f"{r['raw_fsync_per_s']:.0f} /s.",
        "",
        "| durability | " + " | ".join(f"{t} writer{'s' if t != '1' else ''}" for t in threads) + " |",
        "|---|" + "---|" * len(threads),
    ]
    for mode, per in r["acked_writes_per_s"].items():
        lines.append(f"| {mode} | " + " | ".join(f"{per[t]:.0f} /s" for t in threads) + " |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="engram-harness bench durability", description=__doc__)
    p.add_argument("--dir", default=tempfile.gettempdir(), help="a directory on the disk to measure")
    p.add_argument("--seconds", type=float, default=2.0, help="per measurement")
    p.add_argument("--threads", default="1,2,8", help="writer thread counts")
    p.add_argument("--json", help="write the numbers here")
    p.add_argument("--markdown", help="write the table here")
    args = p.parse_args(argv)
    r = run(args.dir, args.seconds, [int(t) for t in args.threads.split(",")])
    md = markdown(r)
    print(md)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(r, f, indent=1)
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as f:
            f.write(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
