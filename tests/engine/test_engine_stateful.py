"""A stateful Hypothesis test: random remember / remember_batch / forget / get / search sequences
against a simple Python reference model, with exact search checked on small sizes."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    MultipleResults,
    RuleBasedStateMachine,
    consumes,
    invariant,
    multiple,
    precondition,
    rule,
)

import engram

DIM = 8
# HNSW with ef >= every node ever inserted explores the whole (connected) layer-0 graph, so on
# spaces this small its answer must equal brute force. With M = 16 (32 links on layer 0) and at
# most MAX_NODES nodes no neighbour list ever overflows, so no back-link is pruned and the graph
# stays connected.
MAX_NODES = 32
SCORE_TOL = 1e-5

vectors = st.integers(0, 2**32 - 1).map(
    lambda seed: np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
)
# Small integer vectors make exact duplicates and ties likely, which the model must handle too.
int_vectors = (
    st.lists(st.integers(-2, 2), min_size=DIM, max_size=DIM)
    .filter(any)
    .map(lambda xs: np.array(xs, dtype=np.float32))
)
any_vector = st.one_of(vectors, int_vectors)


def cosine(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> float:
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    return float(a64 @ b64 / (np.linalg.norm(a64) * np.linalg.norm(b64)))


class EngineModel(RuleBasedStateMachine):
    ids = Bundle("ids")

    def __init__(self) -> None:
        super().__init__()
        self.engine = engram.Engine(dim=DIM)
        self.space = self.engine.create_space("model")
        self.live: dict[int, tuple[bytes, str, float]] = {}
        self.forgotten: set[int] = set()
        self.inserted = 0  # nodes ever inserted (tombstones stay in the graph)

    def teardown(self) -> None:
        self.engine.close()

    def _vec(self, eid: int) -> npt.NDArray[np.float32]:
        return np.frombuffer(self.live[eid][0], dtype=np.float32)

    @precondition(lambda self: self.inserted < MAX_NODES)
    @rule(target=ids, v=any_vector, content=st.text(max_size=8), confidence=st.floats(0, 1))
    def remember(self, v: npt.NDArray[np.float32], content: str, confidence: float) -> int:
        eid = self.space.remember(v, content=content, confidence=confidence)
        assert eid not in self.live
        assert eid not in self.forgotten
        self.live[eid] = (v.tobytes(), content, confidence)
        self.inserted += 1
        return eid

    @precondition(lambda self: self.inserted < MAX_NODES - 5)
    @rule(target=ids, vs=st.lists(any_vector, min_size=1, max_size=5))
    def remember_batch(self, vs: list[npt.NDArray[np.float32]]) -> MultipleResults[int]:
        batch = np.stack(vs)
        out = self.space.remember_batch(batch, contents=[f"b{i}" for i in range(len(vs))])
        assert out.shape == (len(vs),)
        assert len(set(out.tolist())) == len(vs)
        for i, eid in enumerate(out.tolist()):
            assert eid not in self.live and eid not in self.forgotten
            self.live[eid] = (batch[i].tobytes(), f"b{i}", 1.0)
        self.inserted += len(vs)
        return multiple(*out.tolist())

    @rule(eid=consumes(ids))
    def forget(self, eid: int) -> None:
        if eid in self.live:
            self.space.forget(eid)
            del self.live[eid]
            self.forgotten.add(eid)
        else:
            try:
                self.space.forget(eid)
            except engram.MemoryNotFound:
                pass
            else:
                raise AssertionError(f"forgetting the forgotten id {eid} succeeded")

    @rule(eid=ids)
    def get(self, eid: int) -> None:
        if eid in self.forgotten:
            try:
                self.space.get(eid)
            except engram.MemoryNotFound:
                return
            raise AssertionError(f"get returned forgotten id {eid}")
        m = self.space.get(eid)
        raw, content, confidence = self.live[eid]
        assert m.id == eid
        assert m.kind == "episode"
        assert m.embedding.tobytes() == raw
        assert m.content == content
        assert abs(m.confidence - confidence) <= 1e-6

    @rule(eid=st.integers(-(2**63), 2**63 - 1))
    def get_unknown(self, eid: int) -> None:
        if eid in self.live:
            return
        try:
            self.space.get(eid)
        except engram.MemoryNotFound:
            return
        raise AssertionError(f"get({eid}) of an unknown id succeeded")

    def _check_exact(self, q: npt.NDArray[np.float32], k: int, found: np.ndarray, scores: np.ndarray) -> None:
        truth = sorted(((cosine(self._vec(i), q), i) for i in self.live), reverse=True)
        expected = min(k, len(truth))
        assert len(found) == expected, (len(found), expected)
        assert len(set(found.tolist())) == len(found)
        assert np.all(np.diff(scores) <= SCORE_TOL)
        for eid, s in zip(found.tolist(), scores.tolist(), strict=True):
            assert eid in self.live, f"search returned id {eid} that is not live"
            assert abs(s - cosine(self._vec(eid), q)) <= SCORE_TOL
        # Exact up to ties: the i-th returned score equals the i-th best true similarity.
        for i in range(expected):
            assert abs(scores[i] - truth[i][0]) <= SCORE_TOL, (i, scores.tolist(), [t[0] for t in truth[:k]])

    @rule(q=any_vector, k=st.integers(1, 12))
    def exact_search(self, q: npt.NDArray[np.float32], k: int) -> None:
        found, scores = self.space.exact_search(q, k=k)
        self._check_exact(q, k, found, scores)

    @rule(q=any_vector, k=st.integers(1, 12))
    def search_is_exact_when_small(self, q: npt.NDArray[np.float32], k: int) -> None:
        found, scores = self.space.search(q, k=k, ef=max(k, self.inserted, 1))
        self._check_exact(q, k, found, scores)

    @rule(q=any_vector, k=st.integers(1, 12), ef=st.integers(1, 8))
    def search_small_ef(self, q: npt.NDArray[np.float32], k: int, ef: int) -> None:
        # Approximate, but never a forgotten or foreign id, never a duplicate, scores true.
        found, scores = self.space.search(q, k=k, ef=ef)
        assert len(found) <= min(k, len(self.live))
        assert len(set(found.tolist())) == len(found)
        for eid, s in zip(found.tolist(), scores.tolist(), strict=True):
            assert eid in self.live
            assert abs(s - cosine(self._vec(eid), q)) <= SCORE_TOL

    @invariant()
    def length_matches(self) -> None:
        assert len(self.space) == len(self.live)

    @invariant()
    def forgotten_are_gone(self) -> None:
        for eid in self.forgotten:
            assert eid not in self.space

    @invariant()
    def index_is_healthy(self) -> None:
        report = self.space.validate()
        assert report["ok"], report
        assert report["nodes"] == self.inserted
        assert report["deleted"] == len(self.forgotten)
        stats = self.space.stats()
        assert stats["episodes"] == len(self.live)
        assert stats["forgotten"] == len(self.forgotten)


EngineModel.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
TestEngineModel = EngineModel.TestCase
