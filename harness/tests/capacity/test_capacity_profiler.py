"""Folding perf and gdb stacks, the hot-function shares, the SVG flame graph and the build-ID lookup."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from engram_harness.capacity.binary import build_id, has_symbols, profiling_engramd
from engram_harness.capacity.flamegraph import render_svg
from engram_harness.capacity.profiler import Profile, fold_gdb, fold_perf_script

PERF = """engramd 1234 35333.839892:    2004008 cpu-clock:ppp:
\t    55d0a1 engram::simd::dot_avx512+0x21 (/usr/bin/engramd)
\t    55d0b2 engram::HnswIndex::search_layer+0x40 (/usr/bin/engramd)
\t    7f1ad26da9c0 [unknown] ([unknown])

engramd 1234 35333.841865:    2004008 cpu-clock:ppp:
\t    55d0a1 engram::simd::dot_avx512+0x99 (/usr/bin/engramd)
\t    55d0b2 engram::HnswIndex::search_layer+0x40 (/usr/bin/engramd)
\t    7f1ad26da9c0 [unknown] ([unknown])

engramd 1235 35333.843869:    2004008 cpu-clock:ppp:
\t    ffffffff8100 finish_task_switch.isra.0+0x10 ([kernel.kallsyms])
\t    ffffffff8200 schedule+0x20 ([kernel.kallsyms])
"""

GDB = """Thread 2 (Thread 0x7f (LWP 12)):
#0  0x00007f in epoll_wait (epfd=3) at epoll.c:30
#1  0x000055 in boost::asio::detail::epoll_reactor::run (this=0x1) at r.ipp:10
Thread 1 (Thread 0x7e (LWP 11)):
#0  engram::simd::dot_avx512 (a=0x1) at simd.cpp:10
#1  0x000055 in engram::HnswIndex::search_layer (this=0x2) at hnsw.cpp:20
"""


def test_fold_perf_script() -> None:
    folded = fold_perf_script(PERF)
    assert folded == {
        "engramd;engram::HnswIndex::search_layer;engram::simd::dot_avx512": 2,
        "engramd;schedule;finish_task_switch.isra.0": 1,
    }
    prof = Profile(folded, "perf")
    assert prof.samples == 3
    top, share = prof.self_shares()[0]
    assert top == "engram::simd::dot_avx512" and abs(share - 2 / 3) < 1e-9
    unresolved = Profile(fold_perf_script(PERF.replace("engram::simd::dot_avx512+0x21", "[unknown]")), "perf")
    assert abs(dict(unresolved.self_shares())["[engramd]"] - 1 / 3) < 1e-9
    assert all(not f.startswith("[") for f, _ in unresolved.self_shares(resolved_only=True))
    assert abs(unresolved.unresolved_share() - 1 / 3) < 1e-9
    inc = dict(prof.inclusive_shares())
    assert inc["engramd"] == 1.0 and abs(inc["engram::HnswIndex::search_layer"] - 2 / 3) < 1e-9
    assert "engramd-1235" in ";".join(fold_perf_script(PERF, by_thread=True))
    kept = fold_perf_script(PERF, drop_unknown=False)
    assert "engramd;[unknown];engram::HnswIndex::search_layer;engram::simd::dot_avx512" in kept


def test_fold_gdb() -> None:
    folded = fold_gdb(GDB)
    assert folded == {
        "boost::asio::detail::epoll_reactor::run;epoll_wait": 1,
        "engram::HnswIndex::search_layer;engram::simd::dot_avx512": 1,
    }


def test_flamegraph_svg_is_well_formed(tmp_path: Path) -> None:
    svg = render_svg({"a;b;c": 3, "a;b;d<e>": 1, "a;x": 4}, title="t & u")
    root = ET.fromstring(svg)
    titles = [t.text for t in root.iter("{http://www.w3.org/2000/svg}title")]
    assert any(t and t.startswith("all (8 samples") for t in titles)
    assert any(t and t.startswith("d<e> (1 samples, 12.50%)") for t in titles)
    assert render_svg({}).startswith("<svg")


def test_build_id_and_symbols(tmp_path: Path) -> None:
    note = b"\x04\x00\x00\x00\x14\x00\x00\x00\x03\x00\x00\x00GNU\x00" + bytes(range(20))
    stripped, full = tmp_path / "a" / "engramd", tmp_path / "b" / "engramd"
    for p, extra in ((stripped, b""), (full, b".symtab\x00")):
        p.parent.mkdir()
        p.write_bytes(b"\x7fELF" + note + extra)
    assert build_id(stripped) == bytes(range(20)).hex()
    assert not has_symbols(stripped) and has_symbols(full)
    path, note_text = profiling_engramd(str(stripped), [tmp_path])
    assert path == str(full) and "same build ID" in note_text
    assert profiling_engramd(str(full), [tmp_path])[0] == str(full)
    assert profiling_engramd(None, [tmp_path])[0] is None
