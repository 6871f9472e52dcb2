"""Child process of the kill tests: writes to a durable store and reports each acknowledgement.

Usage: python kill_child.py PATH SEED N [durability]. Each line on stdout is printed only after
the engine call returned (the write is acknowledged):
  R <id> <key>   remember of item key (content "key", embedding clustered(key)) returned id
  f <id>         forget(id) is about to be called
  F <id>         forget(id) returned
  L <src> <dst>  link returned
  C <formed>     consolidate() returned
  K <lsn>        checkpoint() returned
  S              (durability "none") slept past the flush interval
  DONE
The parent SIGKILLs this process at a random moment, or ENGRAM_CRASH_AT kills it at a point.
"""

from __future__ import annotations

import sys
import time

from helpers import DIM, clustered  # this script's own folder (tests/durability)

import engram


def main() -> int:
    path, seed, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    mode = sys.argv[4] if len(sys.argv) > 4 else "group"
    out = sys.stdout
    with engram.Engine(path, dim=DIM, durability=mode, checkpoint_wal_bytes=16 << 10) as eng:
        sp = eng.space("k") if "k" in eng.spaces() else eng.create_space("k")
        acked: list[int] = []
        for i in range(n):
            key = seed * 100_000 + i
            mid = sp.remember(clustered(key), content=str(key))
            out.write(f"R {mid} {key}\n")
            out.flush()
            acked.append(mid)
            if i % 7 == 6:
                victim = acked.pop(len(acked) // 2)
                out.write(f"f {victim}\n")  # intent: after a kill here it may or may not be gone
                out.flush()
                sp.forget(victim)
                out.write(f"F {victim}\n")
                out.flush()
            if i % 5 == 4 and len(acked) >= 2:
                sp.link(acked[-1], acked[-2], weight=0.5)
                out.write(f"L {acked[-1]} {acked[-2]}\n")
                out.flush()
            if mode == "none" and i == n // 2:
                time.sleep(0.3)  # > the 50 ms flush interval: everything so far is on disk
                out.write("S\n")
                out.flush()
            if i % 30 == 29:
                lsn = eng.checkpoint()
                out.write(f"K {lsn}\n")
                out.flush()
            if i % 10 == 9:
                rep = sp.consolidate()
                out.write(f"C {rep.concepts_formed}\n")
                out.flush()
    out.write("DONE\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
