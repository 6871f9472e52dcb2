"""``engram.client.Client``: the in-process API over HTTP, blocking."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any

import httpx
import numpy as np
import numpy.typing as npt

from engram.client import calls as C
from engram.client.errors import TransportError
from engram.client.health import LinkHealth
from engram.client.retry import RetryPolicy
from engram.client.tracing import call_span
from engram.client.transport import Retrier, classify, outcome
from engram.client.transport import encode as _body
from engram.client.transport import headers as _hdrs
from engram.client.versions import (
    DEFAULT_API_VERSION,
    MAX_PAGES,
    ApiVersion,
    check_api_version,
    merged,
    page,
    versioned,
)
from engram.graph import Activated, Neighbor
from engram.memory import Memory
from engram.recall import Completion, Concept, ConsolidationReport, Recollection


def _headers(api_key: str | None) -> dict[str, str]:
    import engram

    h = {"User-Agent": f"engram-client/{engram.__version__}"}
    if api_key:
        h["Authorization"] = f"Bearer {api_key}"
    return h


class Client:
    """A connection pool to one server. ``timeout`` bounds each try; ``retry`` bounds the tries.

    Overload (429), not-ready and shutting-down (503) answers and connection failures are retried
    with exponential backoff and jitter; writes carry idempotency keys so retries never duplicate.

    ``embeddings`` is how vectors travel in requests (remember, search, recall and their
    batches): ``"base64"`` (the default), base64 little-endian float32 strings inside the JSON
    bodies; ``"binary"``, the same, and a single search sends the raw float32 bytes as an
    ``application/octet-stream`` body; ``"json"``, arrays of numbers. base64 is the default
    because the one server, engramd, accepts it on every route that takes an embedding, and it
    is exact (the float32 bits themselves) and smaller and cheaper on both sides: a 768-d vector
    is 4,096 characters copied and decoded as they are, against about 9 KB of number text
    written and parsed one number at a time. ``"json"`` is for a server predating these API v1
    additions of issue 13 (such a server answers 400 to a string embedding). Answers are JSON
    either way; observation streams (:meth:`stream`) send arrays of numbers.

    With ``opentelemetry-api`` installed (the ``tracing`` extra), every call is an OpenTelemetry
    CLIENT span whose context travels in the ``traceparent`` header, so engramd's span of the
    request (``--otlp-endpoint``) joins the caller's trace; ``tracer_provider`` picks the
    provider (default: the global one). See engram/client/tracing.py.
    """

    def __init__(
        self,
        url: str,
        api_key: str | None = None,
        *,
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        embeddings: C.Encoding = "base64",
        tracer_provider: Any = None,
        api_version: ApiVersion = DEFAULT_API_VERSION,
    ) -> None:
        self.url = url.rstrip("/")
        self.tracer_provider = tracer_provider  # OpenTelemetry's; None: the global one (tracing.py)
        self.api_key = api_key
        self.retry = retry or RetryPolicy()
        self.link = LinkHealth(self.url)  # partition suspected after consecutive transport failures
        self.timeout = timeout
        self.api_version: ApiVersion = check_api_version(api_version)
        self.embeddings: C.Encoding = C.check_encoding(embeddings)
        self._http = httpx.Client(
            base_url=self.url, headers=_headers(api_key), timeout=timeout, transport=transport
        )

    def _run(self, call: C.Call) -> Any:
        """One call in this client's API version; a list of v2 is followed through its pages."""
        call = dataclasses.replace(call, path=versioned(call.path, self.api_version))
        if call.page_key is None or self.api_version == "v1":
            return self._request(call)
        pages: list[dict[str, Any]] = []
        cursor: str | None = None
        for _ in range(MAX_PAGES):  # bounded: a list that never ends is a server bug
            answer = self._request(page(call, cursor))
            pages.append(answer)
            cursor = answer.get("next_cursor")
            if cursor is None:
                return call.parse(merged(call, pages))
        raise TransportError(f"{call.path}: the list did not end after {MAX_PAGES} pages")

    def _request(self, call: C.Call) -> Any:
        r = Retrier(self.retry)
        with call_span(call.method, call.path, self.url, self.tracer_provider) as span:
            for attempt in range(self.retry.attempts):  # bounded by the policy
                try:
                    resp = self._http.request(
                        call.method,
                        call.path,
                        content=_body(call),
                        headers={**_hdrs(call), **span.headers} if span.headers else _hdrs(call),
                        timeout=httpx.USE_CLIENT_DEFAULT if call.timeout is None else call.timeout,
                    )
                except httpx.HTTPError as exc:
                    err = classify(call, exc, self.url)
                    self.link.failure(err)
                    span.failed(err)
                else:
                    self.link.answered()
                    span.answered(resp.status_code, resp.headers.get("x-request-id"))
                    value, err = outcome(call, resp)
                    if err is None:
                        return value
                delay = r.next_delay(attempt, call, err)
                if delay is None:
                    raise err
                time.sleep(delay)
            raise AssertionError("unreachable")  # pragma: no cover

    # ------------------------------------------------------------------ engine-level
    def create_space(self, name: str, *, dim: int | None = None, **options: Any) -> RemoteSpace:
        self._run(C.create_space(name, dim=dim, **options))
        return RemoteSpace(self, name)

    def space(self, name: str) -> RemoteSpace:
        """A handle to an existing space (checked now: raises SpaceNotFound otherwise)."""
        self._run(C.space_info(name))
        return RemoteSpace(self, name)

    def spaces(self) -> list[str]:
        return self._run(C.spaces())

    def drop_space(self, name: str) -> None:
        self._run(C.drop_space(name))

    def stats(self) -> dict[str, Any]:
        return self._run(C.stats())

    def metrics(self) -> dict[str, Any]:
        return self._run(C.stats())["metrics"]

    def prometheus(self) -> str:
        return self._run(C.prometheus())

    def features(self) -> dict[str, bool]:
        return self._run(C.features())

    def set_features(self, *, blended_recall: bool | None = None, fan_effect: bool | None = None,
                     concept_formation: bool | None = None) -> dict[str, bool]:  # fmt: skip
        return self._run(C.set_features(blended_recall=blended_recall, fan_effect=fan_effect,
                                        concept_formation=concept_formation))  # fmt: skip

    def backup(self, destination: str, *, full: bool = False, timeout: float = 3600.0) -> dict[str, Any]:
        """Back up the server's store while it serves, into ``destination`` under its --backup-dir
        (admin granted "*"): incremental when an earlier backup of this store is there, unless
        ``full``. Returns what was shipped (``durable_lsn``: every write acknowledged before the
        call is in the backup; ``bytes_shipped``, ``seconds``, ``mb_per_s``)."""
        return self._run(C.backup(destination, full=full, timeout=timeout))

    def backups(self) -> list[dict[str, Any]]:
        """The backups under the server's --backup-dir (name, LSNs, time, bytes)."""
        return self._run(C.backups())

    def consolidation_status(self) -> dict[str, Any]:
        return self._run(C.consolidation_status())

    def start_consolidation(self, interval_s: float = 30.0, **params: Any) -> None:
        """Consolidate every space every ``interval_s`` seconds on the server (admin)."""
        self._run(C.start_consolidation(interval_s, params))

    def stop_consolidation(self) -> None:
        self._run(C.consolidation("stop"))

    def pause_consolidation(self) -> None:
        self._run(C.consolidation("pause"))

    def resume_consolidation(self) -> None:
        self._run(C.consolidation("resume"))

    def ready(self) -> bool:
        try:
            self._http.get("/health/ready").raise_for_status()
            return True
        except httpx.HTTPError:
            return False

    def stream(self, space: str, **options: Any) -> Any:
        """An :class:`engram.client.stream.ObservationStream` into ``space`` (a context manager)."""
        from engram.client.stream import ObservationStream

        return ObservationStream(
            self.url, space, api_key=self.api_key, api_version=self.api_version, **options
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class RemoteSpace:
    """A space on the server, with the methods of :class:`engram.Space`."""

    def __init__(self, client: Client, name: str) -> None:
        self._c = client
        self.name = name

    def remember(self, embedding: npt.ArrayLike, content: str = "", confidence: float = 1.0,
                 timestamp: float | None = None, metadata: Mapping[str, str] | None = None, *,
                 idempotency_key: str | None = None) -> int:  # fmt: skip
        return self._c._run(C.remember(self.name, embedding, content, confidence, timestamp, metadata,
                                       idempotency_key, self._c.embeddings))  # fmt: skip

    def remember_batch(self, embeddings: npt.ArrayLike, contents: Sequence[str] | None = None,
                       confidences: Sequence[float] | None = None, timestamps: Sequence[float | None] | None = None,
                       metadatas: Sequence[Mapping[str, str] | None] | None = None, *,
                       idempotency_key: str | None = None) -> npt.NDArray[np.int64]:  # fmt: skip
        return self._c._run(C.remember_batch(self.name, embeddings, contents, confidences, timestamps, metadatas,
                                             idempotency_key, self._c.embeddings))  # fmt: skip

    def get(self, memory_id: int) -> Memory:
        return self._c._run(C.get(self.name, memory_id))

    def forget(self, memory_id: int) -> None:
        self._c._run(C.forget(self.name, memory_id))

    def link(self, src: int, dst: int, weight: float = 1.0, kind: str = "association", *, strength: float = 1.0,
             contribution: float = 1.0) -> bool:  # fmt: skip
        return self._c._run(C.link(self.name, src, dst, weight, kind, strength, contribution))

    def link_batch(self, edges: Sequence[Mapping[str, Any]]) -> list[bool]:
        """Many :meth:`link` calls in one request (at most the server's max batch); edges are
        mappings of ``link``'s argument names. Returns whether each edge was new."""
        return self._c._run(C.link_batch(self.name, edges))

    def neighbors(self, memory_id: int) -> list[Neighbor]:
        return self._c._run(C.neighbors(self.name, memory_id))

    def neighbors_batch(self, ids: Iterable[int]) -> dict[int, list[Neighbor]]:
        """Out-edges of every id in one request (at most the server's max batch)."""
        return self._c._run(C.neighbors_batch(self.name, ids, False))

    def neighborhood(self, ids: Iterable[int]) -> tuple[dict[int, list[Neighbor]], dict[int, Memory]]:
        """Like :meth:`neighbors_batch`, plus every neighbour's record by id, in one request."""
        return self._c._run(C.neighbors_batch(self.name, ids, True))

    def concepts(self) -> list[Concept]:
        return self._c._run(C.concepts(self.name))

    def concept_members(self, concept_id: int) -> list[int]:
        return self._c._run(C.concept_members(self.name, concept_id))

    def episode_concepts(self, episode_id: int) -> list[int]:
        return self._c._run(C.episode_concepts(self.name, episode_id))

    def search(
        self, query: npt.ArrayLike, k: int = 10, ef: int | None = None
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        return self._c._run(C.search(self.name, query, k, ef, self._c.embeddings))

    def search_batch(
        self, queries: npt.ArrayLike, k: int = 10, ef: int | None = None
    ) -> list[tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]]:
        """:meth:`search` for every row of ``queries`` (2-d) in one request (at least one row, at
        most the server's max batch); the answers in the rows' order."""
        return self._c._run(C.search_batch(self.name, queries, k, ef, self._c.embeddings))

    def recall(self, cue: npt.ArrayLike, k: int = 10, mode: str = "blended", semantic_weight: float = 0.3,
               now: float | None = None, threshold: float = 0.0, **options: Any) -> list[Recollection]:  # fmt: skip
        return self._c._run(C.recall(self.name, cue, k, mode, semantic_weight, now, threshold, options,
                                     self._c.embeddings))  # fmt: skip

    def recall_batch(self, cues: npt.ArrayLike, k: int = 10, mode: str = "blended", semantic_weight: float = 0.3,
                     now: float | None = None, threshold: float = 0.0,
                     **options: Any) -> list[list[Recollection]]:  # fmt: skip
        """:meth:`recall` for every row of ``cues`` (2-d) with the same parameters, in one request
        (at least one row, at most the server's max batch); the answers in the rows' order."""
        return self._c._run(C.recall_batch(self.name, cues, k, mode, semantic_weight, now, threshold, options,
                                           self._c.embeddings))  # fmt: skip

    def spread(
        self, seeds: Iterable[int] | Mapping[int, float], max_hops: int = 3, **options: Any
    ) -> list[Activated]:
        return self._c._run(C.spread(self.name, seeds, {"max_hops": max_hops, **options}))

    def complete(
        self, partial: npt.ArrayLike, mask: npt.ArrayLike | None = None, **options: Any
    ) -> Completion:
        return self._c._run(C.complete(self.name, partial, mask, options))

    def consolidate(self, **params: Any) -> ConsolidationReport:
        return self._c._run(C.consolidate(self.name, params))

    def stats(self) -> dict[str, Any]:
        return self._c._run(C.space_stats(self.name))

    def validate(self) -> dict[str, Any]:
        """Integrity counts of the space's index and records (``ok`` is true when healthy)."""
        return self._c._run(C.validate(self.name))

    def __len__(self) -> int:
        return int(self._c._run(C.space_info(self.name))["memories"])

    def __repr__(self) -> str:
        return f"RemoteSpace(url={self._c.url!r}, name={self.name!r})"
