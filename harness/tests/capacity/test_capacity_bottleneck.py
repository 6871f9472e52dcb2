"""The bottleneck classifier on synthetic measurements, and the /proc and /metrics readers."""

from __future__ import annotations

import math

from engram_harness.capacity import metrics
from engram_harness.capacity.bottleneck import Evidence, Thresholds, classify
from engram_harness.capacity.procfs import CpuTimes, DiskTimes, host_window, parse_cpu, parse_diskstats


def ev(**kw: float | str | int) -> Evidence:
    base: dict = dict(wall_s=10.0, cores_available=2.0, server_cores=0.5, host_busy_fraction=0.3,
                      top_function="f", top_function_share=0.2, profile_samples=1000, lock_wait_s=0.0,
                      iowait_fraction=0.01, disk_queue=0.1)  # fmt: skip
    base.update(kw)
    return Evidence(**base)


def test_cpu_hot_function_and_spread() -> None:
    d = classify(ev(server_cores=1.9, top_function="dot_avx512", top_function_share=0.85))
    assert d.primary == "cpu-hot-function" and d.verdicts["cpu"].status == "bound"
    d = classify(ev(server_cores=1.9, top_function_share=0.5))
    assert d.primary == "cpu-spread"
    # the host saturated by other processes counts too: the server cannot get more CPU
    d = classify(ev(server_cores=0.9, host_busy_fraction=0.95))
    assert d.primary == "cpu-spread"


def test_lock_io_and_unidentified() -> None:
    d = classify(ev(lock_wait_s=0.5, top_lock="space.records"))  # 5 % of the wall time
    assert d.primary == "lock" and "space.records" in d.verdicts["lock"].detail
    # lock waits beside a saturated CPU are reported, the CPU is the bottleneck
    d = classify(ev(lock_wait_s=0.5, server_cores=1.95))
    assert d.primary == "cpu-spread" and d.verdicts["lock"].status == "bound"
    assert d.secondary == ["lock"] and "also over its threshold: lock" in d.summary()
    assert classify(ev(iowait_fraction=0.25)).primary == "io"
    assert classify(ev(disk_queue=5.0)).primary == "io"
    assert classify(ev(iowait_fraction=0.25, server_cores=1.95)).primary == "io"
    d = classify(ev())
    assert d.primary == "unidentified" and not d.identified


def test_unmeasured_is_never_not_bound() -> None:
    d = classify(ev(lock_wait_s=math.nan))
    assert d.verdicts["lock"].status == "unmeasured"
    assert d.verdicts["memory"].status == "unmeasured" and "hardware counters" in d.verdicts["memory"].detail
    d = classify(ev(cache_miss_per_instruction=0.2))
    assert d.primary == "memory"
    d = classify(ev(server_cores=math.nan, host_busy_fraction=math.nan))
    assert d.verdicts["cpu"].status == "unmeasured"
    assert classify(ev(lock_wait_s=0.05), Thresholds(lock_wall_fraction=0.001)).primary == "lock"


def test_proc_readers() -> None:
    stat = "cpu  100 0 50 800 40 5 5 0 0 0\ncpu0 1 2 3 4 5 6 7 8\n"
    c = parse_cpu(stat)
    assert c == CpuTimes(busy=160, iowait=40, idle=800)
    disks = (
        " 253       0 vda 100 0 0 0 50 0 0 0 2 300 900 0 0 0 0\n"
        " 253       1 vda1 100 0 0 0 50 0 0 0 2 300 900 0 0 0 0\n"
        "   7       0 loop0 1 0 0 0 0 0 0 0 0 99 99 0 0 0 0\n"
    )
    assert parse_diskstats(disks) == DiskTimes(300, 900)
    w = host_window(CpuTimes(0, 0, 0), CpuTimes(50, 30, 20), DiskTimes(0, 0), DiskTimes(500, 4000), 1.0)
    assert w.busy_fraction == 0.5 and w.iowait_fraction == 0.3 and w.disk_queue == 4.0 and w.disk_util == 0.5


def test_lock_and_stage_windows() -> None:
    before = (
        "# TYPE engram_lock_wait_seconds_total counter\n"
        'engram_lock_wait_seconds_total{lock="space.records"} 1.5\n'
        'engram_lock_contended_total{lock="space.records"} 10\n'
        'engram_http_request_stage_seconds_sum{stage="engine"} 2\n'
        'engram_http_request_stage_seconds_count{stage="engine"} 100\n'
    )
    after = (
        'engram_lock_wait_seconds_total{lock="space.records"} 2.0\n'
        'engram_lock_wait_seconds_total{lock="wal.io"} 0.25\n'
        'engram_lock_contended_total{lock="space.records"} 30\n'
        'engram_http_request_stage_seconds_sum{stage="engine"} 3\n'
        'engram_http_request_stage_seconds_count{stage="engine"} 300\n'
        'engram_http_request_stage_seconds_bucket{stage="engine",le="0.001"} 1\n'
    )
    w = metrics.lock_window(before, after)
    assert w.exposed and w.total_wait_s == 0.75 and w.top() == ("space.records", 0.5)
    assert w.contended == {"space.records": 20}
    assert metrics.stage_seconds(before, after) == {"engine": (1.0, 200.0)}
    none = metrics.lock_window("", "engram_up 1\n")
    assert not none.exposed and math.isnan(none.total_wait_s)
