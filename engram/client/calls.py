"""What each client method sends and how it reads the answer, shared by the sync and async
clients (which differ only in how they wait)."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote, urlencode

import numpy as np
import numpy.typing as npt

from engram.graph import Activated, Neighbor
from engram.memory import Memory
from engram.recall import Completion, Concept, ConsolidationReport, Hypothesis, Provenance, Recollection

API = "/api/v1"

#: How embeddings travel (``Client(embeddings=...)``): "json", arrays of numbers (every v1
#: server); "base64", strings of base64 little-endian float32 inside the JSON bodies (API v1's
#: addition of issue 13, served by engramd); "binary", base64 and, for a single search, the raw
#: float32 bytes as an ``application/octet-stream`` body (``k`` and ``ef`` in the query string).
Encoding = Literal["json", "base64", "binary"]
ENCODINGS: tuple[Encoding, ...] = ("json", "base64", "binary")


@dataclass
class Call:
    method: str
    path: str
    parse: Callable[[Any], Any] = lambda d: d
    body: Any = None  # a JSON value, or bytes sent as they are (``content_type``)
    headers: dict[str, str] = field(default_factory=dict)
    safe: bool = True  # may be resent after an ambiguous failure (reads, idempotent writes)
    text: bool = False  # parse the body as text, not JSON
    content_type: str = "application/json"
    timeout: float | None = None  # seconds for this call (None: the client's); long admin work
    page_key: str | None = None  # a list: v2 answers it in pages of this key (versions.py follows them)


def check_encoding(encoding: str) -> Encoding:
    if encoding not in ENCODINGS:
        raise ValueError(f"embeddings={encoding!r}; expected one of {', '.join(ENCODINGS)}")
    return encoding  # type: ignore[return-value]


def vec(x: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """A 1-d float32 array; encoded by :mod:`engram.jsonfast` (as a JSON array of numbers)."""
    return np.ascontiguousarray(np.asarray(x, dtype=np.float32).ravel())


def f32le(x: npt.ArrayLike) -> bytes:
    """The raw little-endian float32 bytes of a vector (the octet-stream and base64 payload)."""
    return np.ascontiguousarray(np.asarray(x, dtype="<f4").ravel()).tobytes()


def emb(x: npt.ArrayLike, encoding: Encoding = "json") -> npt.NDArray[np.float32] | str:
    """An embedding as a JSON body holds it: the array (written as numbers) or its base64 text."""
    if encoding == "json":
        return vec(x)
    return base64.b64encode(f32le(x)).decode("ascii")


def sp(space: str) -> str:
    return f"{API}/spaces/{quote(space, safe='')}"


# ------------------------------------------------------------------ spaces and engine
def create_space(name: str, **options: Any) -> Call:
    return Call("POST", f"{API}/spaces", body={"name": name, **{k: v for k, v in options.items() if v is not None}},
                safe=False)  # fmt: skip


def spaces() -> Call:
    return Call("GET", f"{API}/spaces", lambda d: list(d["spaces"]), page_key="spaces")


def drop_space(name: str) -> Call:
    return Call("DELETE", sp(name), lambda d: None)


def space_info(name: str) -> Call:
    return Call("GET", sp(name))


def space_stats(name: str) -> Call:
    return Call("GET", sp(name) + "/stats", lambda d: d["stats"])


def validate(name: str) -> Call:
    return Call("GET", sp(name) + "/validate", lambda d: dict(d["validation"]))


def stats() -> Call:
    return Call("GET", f"{API}/stats")


def features() -> Call:
    return Call("GET", f"{API}/admin/features")


def set_features(**flags: bool | None) -> Call:
    return Call("PUT", f"{API}/admin/features", body={k: v for k, v in flags.items() if v is not None})


def backup(destination: str, *, full: bool, timeout: float) -> Call:
    """A hot backup into ``destination`` under the server's --backup-dir. Not resent after an
    ambiguous failure: the backup may still be running, and a second request would get 409."""
    return Call("POST", f"{API}/admin/backup", body={"destination": destination, "full": full}, safe=False,
                timeout=timeout)  # fmt: skip


def backups() -> Call:
    return Call("GET", f"{API}/admin/backups", lambda d: list(d["backups"]), page_key="backups")


def consolidation_status() -> Call:
    return Call("GET", f"{API}/consolidation")


def consolidation(action: str) -> Call:
    return Call("POST", f"{API}/consolidation/{action}")


def start_consolidation(interval_s: float, params: Mapping[str, Any]) -> Call:
    return Call("POST", f"{API}/consolidation/start", body={"interval_s": float(interval_s), **params})


def prometheus() -> Call:
    return Call("GET", "/metrics", text=True)


def ready() -> Call:
    return Call("GET", "/health/ready")


# ------------------------------------------------------------------ memories
def remember(
    space: str,
    embedding: npt.ArrayLike,
    content: str,
    confidence: float,
    timestamp: float | None,
    metadata: Mapping[str, str] | None,
    idempotency_key: str | None,
    encoding: Encoding = "json",
) -> Call:
    body = {"embedding": emb(embedding, encoding), "content": content, "confidence": float(confidence),
            "timestamp": timestamp, "metadata": dict(metadata) if metadata is not None else None}  # fmt: skip
    # a key per call makes retries after a lost response safe: the server answers the replay
    key = idempotency_key or uuid.uuid4().hex
    return Call("POST", sp(space) + "/memories", lambda d: int(d["id"]), body, {"Idempotency-Key": key})


def remember_batch(
    space: str,
    embeddings: npt.ArrayLike,
    contents: Sequence[str] | None,
    confidences: Sequence[float] | None,
    timestamps: Sequence[float | None] | None,
    metadatas: Sequence[Mapping[str, str] | None] | None,
    idempotency_key: str | None,
    encoding: Encoding = "json",
) -> Call:
    arr = np.asarray(embeddings, dtype=np.float32)
    n = len(arr)
    items = []
    for i in range(n):
        it: dict[str, Any] = {"embedding": emb(arr[i], encoding)}
        if contents is not None:
            it["content"] = contents[i]
        if confidences is not None:
            it["confidence"] = float(confidences[i])
        if timestamps is not None:
            it["timestamp"] = timestamps[i]
        if metadatas is not None and metadatas[i] is not None:
            it["metadata"] = dict(metadatas[i])  # type: ignore[arg-type]
        items.append(it)
    key = idempotency_key or uuid.uuid4().hex
    return Call("POST", sp(space) + "/memories/batch", lambda d: np.asarray(d["ids"], dtype=np.int64),
                {"items": items}, {"Idempotency-Key": key})  # fmt: skip


def _memory(d: dict[str, Any]) -> Memory:
    return Memory(int(d["id"]), d["kind"], np.asarray(d["embedding"], dtype=np.float32), d["content"],
                  float(d["confidence"]), float(d["timestamp"]), dict(d.get("metadata") or {}))  # fmt: skip


def get(space: str, memory_id: int) -> Call:
    return Call("GET", f"{sp(space)}/memories/{int(memory_id)}", _memory)


def forget(space: str, memory_id: int) -> Call:
    return Call("DELETE", f"{sp(space)}/memories/{int(memory_id)}", lambda d: None)


def link(
    space: str, src: int, dst: int, weight: float, kind: str, strength: float, contribution: float
) -> Call:
    body = {"src": int(src), "dst": int(dst), "weight": float(weight), "kind": kind,
            "strength": float(strength), "contribution": float(contribution)}  # fmt: skip
    return Call("POST", sp(space) + "/links", lambda d: bool(d["created"]), body)


def link_batch(space: str, edges: Sequence[Mapping[str, Any]]) -> Call:
    """``edges``: mappings with ``src``, ``dst`` and optionally ``weight``, ``kind``, ``strength``,
    ``contribution`` (the arguments of :meth:`link`)."""
    body = {"edges": [{k: (int(v) if k in ("src", "dst") else v) for k, v in e.items()} for e in edges]}
    # re-linking an edge replaces it with the same values, so a resend is harmless
    return Call("POST", sp(space) + "/links/batch", lambda d: [bool(c) for c in d["created"]], body)


# ------------------------------------------------------------------ graph
def _neighbors(rows: list[dict[str, Any]]) -> list[Neighbor]:
    return [Neighbor(int(r["id"]), float(r["weight"]), str(r["kind"])) for r in rows]


def neighbors(space: str, memory_id: int) -> Call:
    return Call("GET", f"{sp(space)}/memories/{int(memory_id)}/neighbors", lambda d: _neighbors(d["neighbors"]),
                page_key="neighbors")  # fmt: skip


def neighbors_batch(space: str, ids: Iterable[int], records: bool) -> Call:
    def parse(d: dict[str, Any]) -> Any:
        out = {int(r["id"]): _neighbors(r["neighbors"]) for r in d["results"]}
        if not records:
            return out
        return out, {int(m["id"]): _memory(m) for m in d["records"]}

    return Call("POST", sp(space) + "/neighbors", parse, {"ids": [int(i) for i in ids], "records": records})


def concepts(space: str) -> Call:
    def parse(d: dict[str, Any]) -> list[Concept]:
        return [Concept(int(c["id"]), np.asarray(c["centroid"], dtype=np.float32), float(c["coherence"]),
                        float(c["confidence"]), float(c["formed_at"]), float(c["updated_at"]),
                        tuple(int(m) for m in c["members"])) for c in d["concepts"]]  # fmt: skip

    return Call("GET", sp(space) + "/concepts", parse, page_key="concepts")


def concept_members(space: str, concept_id: int) -> Call:
    return Call("GET", f"{sp(space)}/concepts/{int(concept_id)}/members", lambda d: [int(i) for i in d["members"]],
                page_key="members")  # fmt: skip


def episode_concepts(space: str, episode_id: int) -> Call:
    return Call("GET", f"{sp(space)}/memories/{int(episode_id)}/concepts",
                lambda d: [int(i) for i in d["concepts"]], page_key="concepts")  # fmt: skip


# ------------------------------------------------------------------ queries
def _hits(rows: list[dict[str, Any]]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    return (np.asarray([r["id"] for r in rows], dtype=np.int64),
            np.asarray([r["score"] for r in rows], dtype=np.float32))  # fmt: skip


def search(space: str, query: npt.ArrayLike, k: int, ef: int | None, encoding: Encoding = "json") -> Call:
    if encoding == "binary":  # the vector is the body; the other parameters go in the query string
        params = {"k": int(k), **({"ef": int(ef)} if ef is not None else {})}
        return Call("POST", f"{sp(space)}/search?{urlencode(params)}", lambda d: _hits(d["results"]),
                    f32le(query), content_type="application/octet-stream")  # fmt: skip
    body = {"embedding": emb(query, encoding), "k": int(k), "ef": ef}
    return Call("POST", sp(space) + "/search", lambda d: _hits(d["results"]), body)


def _rows(queries: npt.ArrayLike, what: str) -> npt.NDArray[np.float32]:
    arr = np.asarray(queries, dtype=np.float32)
    if arr.ndim != 2:
        raise ValueError(f"{what} must be a 2-d array (one vector per row), got shape {arr.shape}")
    return arr


def search_batch(
    space: str, queries: npt.ArrayLike, k: int, ef: int | None, encoding: Encoding = "json"
) -> Call:
    """``POST .../search/batch``: one search per row of ``queries``, answered in order."""
    items = [{"embedding": emb(q, encoding), "k": int(k), "ef": ef} for q in _rows(queries, "queries")]
    return Call("POST", sp(space) + "/search/batch", lambda d: [_hits(rows) for rows in d["results"]],
                {"queries": items})  # fmt: skip


def _recollection(r: dict[str, Any]) -> Recollection:
    p = r["provenance"]
    return Recollection(int(r["id"]), r["kind"], float(r["score"]), float(r["confidence"]), float(r["activation"]),
                        Provenance(p["kind"], float(p["episodic_weight"]), float(p["semantic_weight"])),
                        float(r.get("episodic", 0.0)), float(r.get("semantic", 0.0)))  # fmt: skip


def _recall_body(cue: npt.ArrayLike, k: int, mode: str, semantic_weight: float, now: float | None,
                 threshold: float, options: Mapping[str, Any], encoding: Encoding) -> dict[str, Any]:  # fmt: skip
    return {"cue": emb(cue, encoding), "k": int(k), "mode": mode, "semantic_weight": float(semantic_weight),
            "now": now, "threshold": float(threshold), **options}  # fmt: skip


def recall(space: str, cue: npt.ArrayLike, k: int, mode: str, semantic_weight: float, now: float | None,
           threshold: float, options: Mapping[str, Any], encoding: Encoding = "json") -> Call:  # fmt: skip
    body = _recall_body(cue, k, mode, semantic_weight, now, threshold, options, encoding)
    return Call("POST", sp(space) + "/recall", lambda d: [_recollection(r) for r in d["results"]], body)


def recall_batch(space: str, cues: npt.ArrayLike, k: int, mode: str, semantic_weight: float, now: float | None,
                 threshold: float, options: Mapping[str, Any], encoding: Encoding = "json") -> Call:  # fmt: skip
    """``POST .../recall/batch``: one recall per row of ``cues`` with the same parameters, in order."""
    items = [_recall_body(c, k, mode, semantic_weight, now, threshold, options, encoding)
             for c in _rows(cues, "cues")]  # fmt: skip
    return Call("POST", sp(space) + "/recall/batch",
                lambda d: [[_recollection(r) for r in rows] for rows in d["results"]], {"queries": items})  # fmt: skip


def spread(space: str, seeds: Iterable[int] | Mapping[int, float], options: Mapping[str, Any]) -> Call:
    s: Any = (
        {str(int(k)): float(v) for k, v in seeds.items()}
        if isinstance(seeds, Mapping)
        else [int(i) for i in seeds]
    )
    return Call("POST", sp(space) + "/spread",
                lambda d: [Activated(int(r["id"]), float(r["activation"]), int(r["hops"])) for r in d["results"]],
                {"seeds": s, **options})  # fmt: skip


def _completion(d: dict[str, Any]) -> Completion:
    alts = tuple(Hypothesis(np.asarray(h["vector"], dtype=np.float32), float(h["confidence"]), int(h["source"]),
                            h["kind"]) for h in d["alternatives"])  # fmt: skip
    return Completion(np.asarray(d["vector"], dtype=np.float32), float(d["confidence"]), bool(d["accepted"]),
                      tuple(int(i) for i in d["sources"]), tuple(float(s) for s in d["source_similarity"]), alts,
                      int(d["known_dims"]), d.get("provenance", "pattern-completed"))  # fmt: skip


def complete(
    space: str, partial: npt.ArrayLike, mask: npt.ArrayLike | None, options: Mapping[str, Any]
) -> Call:
    arr = np.asarray(partial, dtype=np.float32).ravel()
    known = ~np.isnan(arr) if mask is None else np.asarray(mask, dtype=bool).ravel()
    values = [float(v) if k else None for v, k in zip(arr.tolist(), known.tolist(), strict=True)]
    return Call("POST", sp(space) + "/complete", _completion, {"partial": values, **options})


def consolidate(space: str, params: Mapping[str, Any]) -> Call:
    def parse(d: dict[str, Any]) -> ConsolidationReport:
        d["formed"] = tuple(int(i) for i in d["formed"])
        d["updated"] = tuple(int(i) for i in d["updated"])
        return ConsolidationReport(**d)

    return Call("POST", sp(space) + "/consolidate", parse, dict(params), safe=False)
