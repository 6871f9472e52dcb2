"""The history checker on synthetic histories: each anomaly kind is flagged, a clean history is not."""

from __future__ import annotations

import threading

import pytest

from engram_harness.chaos import FinalState, History, StoredCopy, check


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        self.t += 1.0
        return self.t


def copies(*pairs: tuple[int, str]) -> list[StoredCopy]:
    return [StoredCopy(i, c) for i, c in pairs]


def clean_history() -> tuple[History, FinalState]:
    h = History(FakeClock())
    a = h.invoke_write("a", "ka")
    h.ok(a, memory_id=1)
    b = h.invoke_write("b", "kb")
    h.fail(b, "Overloaded (429)")
    c = h.invoke_write("c", "kc")
    h.unknown(c, "timeout")  # not applied: allowed
    d = h.invoke_write("d", "kd")
    h.unknown(d, "timeout")
    d2 = h.invoke_write("d", "kd")  # retried with its key, applied once
    h.ok(d2, memory_id=2)
    e = h.invoke_write("e", "ke")
    h.unknown(e, "reset")  # applied, never acked: allowed (once)
    r = h.invoke_read()
    h.ok(r, values=["a"])
    state = FinalState(by_id={1: "a", 2: "d"}, copies={"a": copies((1, "a")), "b": [], "c": [],
                                                       "d": copies((2, "d")), "e": copies((3, "e"))},
                       total_records=3)  # fmt: skip
    return h, state


def test_clean_history_passes_with_its_counts() -> None:
    h, state = clean_history()
    rep = check(h, state)
    assert rep.ok, rep.summary()
    assert rep.counts() == {"sent": 5, "invocations": 6, "acked": 2, "rejected": 1, "unknown": 2,
                            "unknown_applied": 1, "recalled": 2, "data_loss": 0, "reads": 1, "lost": 0,
                            "duplicated": 0, "phantom": 0, "unattributed_records": 0}  # fmt: skip


def test_lost_acked_write_is_flagged() -> None:
    h, state = clean_history()
    state.by_id[2] = None  # the acked "d" is gone
    state.copies["d"] = []
    rep = check(h, state)
    assert [a.content for a in rep.lost] == ["d"]
    assert rep.data_loss == 1 and not rep.ok


def test_acked_write_with_other_content_is_lost() -> None:
    h, state = clean_history()
    state.by_id[1] = "not a"
    rep = check(h, state)
    assert [a.content for a in rep.lost] == ["a"]


def test_unknown_write_retried_without_key_stored_twice_is_duplicated() -> None:
    h, state = clean_history()
    f = h.invoke_write("f", "kf")
    h.unknown(f, "timeout")
    f2 = h.invoke_write("f", None)  # the retry lost its key
    h.ok(f2, memory_id=5)
    state.by_id[5] = "f"
    state.copies["f"] = copies((4, "f"), (5, "f"))
    state.total_records = 5
    rep = check(h, state)
    assert [a.content for a in rep.duplicated] == ["f"]
    assert "stored 2 times" in rep.duplicated[0].detail and not rep.ok


def test_refused_write_that_is_visible_is_phantom() -> None:
    h, state = clean_history()
    state.copies["b"] = copies((9, "b"))
    state.total_records = 4
    rep = check(h, state)
    assert [a.content for a in rep.phantom] == ["b"]


@pytest.mark.parametrize("value", ["never-written", "b"])
def test_read_of_a_value_never_written_or_refused_is_phantom(value: str) -> None:
    h, state = clean_history()
    r = h.invoke_read()
    h.ok(r, values=[value])
    rep = check(h, state)
    assert [a.content for a in rep.phantom] == [value]


def test_read_of_a_write_invoked_after_it_completed_is_phantom() -> None:
    h = History(FakeClock())
    r = h.invoke_read()
    h.ok(r, values=["later"])
    w = h.invoke_write("later", "k")
    h.ok(w, memory_id=1)
    rep = check(h, FinalState(by_id={1: "later"}, copies={"later": copies((1, "later"))}))
    assert [a.detail for a in rep.phantom] == [f"read {r} returned a write invoked after it"]


def test_records_nobody_wrote_are_unattributed() -> None:
    h, state = clean_history()
    state.total_records = 7
    rep = check(h, state)
    assert rep.unattributed_records == 4 and not rep.ok


def test_history_rejects_bad_use() -> None:
    h = History()
    with pytest.raises(ValueError, match="non-empty str"):
        h.invoke_write("")
    i = h.invoke_write("x")
    h.ok(i, memory_id=1)
    with pytest.raises(ValueError, match="already completed as ok"):
        h.fail(i, "late")
    with pytest.raises(ValueError, match="no operation 7"):
        h.ok(7)


def test_history_is_thread_safe() -> None:
    h = History()

    def work(t: int) -> None:
        for i in range(500):
            idx = h.invoke_write(f"t{t}-{i}", f"k{t}-{i}")
            h.ok(idx, memory_id=t * 1000 + i)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ops = h.operations()
    assert len(ops) == 4000 and sorted(op.index for op in ops) == list(range(4000))
    assert len({op.memory_id for op in ops}) == 4000


def test_as_of_a_restore_point() -> None:
    """Acked before the point: must be there; invoked after it: must not; in between: either."""
    h = History(FakeClock())
    a = h.invoke_write("a")  # t1
    h.ok(a, memory_id=1)  # t2
    b = h.invoke_write("b")  # t3
    c = h.invoke_write("c")  # t4
    h.ok(b, memory_id=2)  # t5: acked after the point below
    h.unknown(c, "timeout")  # t6
    d = h.invoke_write("d")  # t7
    h.ok(d, memory_id=3)  # t8
    cut = h.as_of(4.5)
    by = {w.content: w for w in cut.writes()}
    assert by["a"].acked and by["b"].unknown and by["c"].unknown and by["d"].failed
    assert cut.reads() == []
    # restored to the point: a, and b (in flight), nothing of d
    ok = check(cut, FinalState(by_id={1: "a"}, copies={"a": copies((1, "a")), "b": copies((2, "b")), "c": [],
                                                        "d": []}, total_records=2))  # fmt: skip
    assert ok.ok and ok.acked == 1 and ok.rejected == 1 and ok.unknown == 2, ok.summary()
    lost = check(
        cut, FinalState(by_id={1: None}, copies={"a": [], "b": [], "c": [], "d": []}, total_records=0)
    )
    assert [x.content for x in lost.lost] == ["a"]
    after = check(cut, FinalState(by_id={1: "a"}, copies={"a": copies((1, "a")), "b": [], "c": [],
                                                           "d": copies((3, "d"))}, total_records=2))  # fmt: skip
    assert [x.content for x in after.phantom] == ["d"]
    # an LSN point: acked before the call was sent, invoked after it returned
    lsn_cut = h.as_of(invoked_before=6.5, acked_before=4.5)
    by = {w.content: w for w in lsn_cut.writes()}
    assert by["a"].acked and by["b"].unknown and by["d"].failed
    with pytest.raises(ValueError):
        h.as_of(invoked_before=1.0, acked_before=2.0)
