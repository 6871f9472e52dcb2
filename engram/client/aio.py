"""``engram.client.AsyncClient``: the same API as :class:`engram.client.Client`, for asyncio."""

from __future__ import annotations

import asyncio
import dataclasses
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
from engram.client.sync import _headers
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


class AsyncClient:
    def __init__(
        self,
        url: str,
        api_key: str | None = None,
        *,
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        embeddings: C.Encoding = "base64",
        tracer_provider: Any = None,
        api_version: ApiVersion = DEFAULT_API_VERSION,
    ) -> None:
        self.url = url.rstrip("/")
        self.tracer_provider = tracer_provider  # OpenTelemetry's; None: the global one (tracing.py)
        self.api_key = api_key
        self.retry = retry or RetryPolicy()
        self.link = LinkHealth(self.url)  # partition suspected after consecutive transport failures
        self.api_version: ApiVersion = check_api_version(api_version)
        self.embeddings: C.Encoding = C.check_encoding(embeddings)  # see Client
        self._http = httpx.AsyncClient(
            base_url=self.url, headers=_headers(api_key), timeout=timeout, transport=transport
        )

    async def _run(self, call: C.Call) -> Any:
        """One call in this client's API version; a list of v2 is followed through its pages."""
        call = dataclasses.replace(call, path=versioned(call.path, self.api_version))
        if call.page_key is None or self.api_version == "v1":
            return await self._request(call)
        pages: list[dict[str, Any]] = []
        cursor: str | None = None
        for _ in range(MAX_PAGES):  # bounded: a list that never ends is a server bug
            answer = await self._request(page(call, cursor))
            pages.append(answer)
            cursor = answer.get("next_cursor")
            if cursor is None:
                return call.parse(merged(call, pages))
        raise TransportError(f"{call.path}: the list did not end after {MAX_PAGES} pages")

    async def _request(self, call: C.Call) -> Any:
        r = Retrier(self.retry)
        with call_span(call.method, call.path, self.url, self.tracer_provider) as span:
            for attempt in range(self.retry.attempts):  # bounded by the policy
                try:
                    resp = await self._http.request(
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
                await asyncio.sleep(delay)
            raise AssertionError("unreachable")  # pragma: no cover

    async def create_space(self, name: str, *, dim: int | None = None, **options: Any) -> AsyncRemoteSpace:
        await self._run(C.create_space(name, dim=dim, **options))
        return AsyncRemoteSpace(self, name)

    async def space(self, name: str) -> AsyncRemoteSpace:
        await self._run(C.space_info(name))
        return AsyncRemoteSpace(self, name)

    async def spaces(self) -> list[str]:
        return await self._run(C.spaces())

    async def drop_space(self, name: str) -> None:
        await self._run(C.drop_space(name))

    async def stats(self) -> dict[str, Any]:
        return await self._run(C.stats())

    async def prometheus(self) -> str:
        return await self._run(C.prometheus())

    async def features(self) -> dict[str, bool]:
        return await self._run(C.features())

    async def set_features(self, **flags: bool | None) -> dict[str, bool]:
        return await self._run(C.set_features(**flags))

    async def backup(
        self, destination: str, *, full: bool = False, timeout: float = 3600.0
    ) -> dict[str, Any]:
        """See :meth:`engram.client.Client.backup`."""
        return await self._run(C.backup(destination, full=full, timeout=timeout))

    async def backups(self) -> list[dict[str, Any]]:
        return await self._run(C.backups())

    async def consolidation_status(self) -> dict[str, Any]:
        return await self._run(C.consolidation_status())

    async def start_consolidation(self, interval_s: float = 30.0, **params: Any) -> None:
        """Consolidate every space every ``interval_s`` seconds on the server (admin)."""
        await self._run(C.start_consolidation(interval_s, params))

    async def stop_consolidation(self) -> None:
        await self._run(C.consolidation("stop"))

    async def pause_consolidation(self) -> None:
        await self._run(C.consolidation("pause"))

    async def resume_consolidation(self) -> None:
        await self._run(C.consolidation("resume"))

    async def stream(self, space: str, **options: Any) -> AsyncObservationStream:
        """An observation stream into ``space`` (see :class:`engram.client.stream.ObservationStream`)."""
        from engram.client.stream import ObservationStream

        s = await asyncio.to_thread(
            ObservationStream, self.url, space, api_key=self.api_key, api_version=self.api_version, **options
        )
        return AsyncObservationStream(s)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


class AsyncRemoteSpace:
    def __init__(self, client: AsyncClient, name: str) -> None:
        self._c = client
        self.name = name

    async def remember(self, embedding: npt.ArrayLike, content: str = "", confidence: float = 1.0,
                       timestamp: float | None = None, metadata: Mapping[str, str] | None = None, *,
                       idempotency_key: str | None = None) -> int:  # fmt: skip
        return await self._c._run(C.remember(self.name, embedding, content, confidence, timestamp, metadata,
                                             idempotency_key, self._c.embeddings))  # fmt: skip

    async def remember_batch(self, embeddings: npt.ArrayLike, contents: Sequence[str] | None = None,
                             confidences: Sequence[float] | None = None,
                             timestamps: Sequence[float | None] | None = None,
                             metadatas: Sequence[Mapping[str, str] | None] | None = None, *,
                             idempotency_key: str | None = None) -> npt.NDArray[np.int64]:  # fmt: skip
        return await self._c._run(C.remember_batch(self.name, embeddings, contents, confidences, timestamps,
                                                   metadatas, idempotency_key, self._c.embeddings))  # fmt: skip

    async def get(self, memory_id: int) -> Memory:
        return await self._c._run(C.get(self.name, memory_id))

    async def forget(self, memory_id: int) -> None:
        await self._c._run(C.forget(self.name, memory_id))

    async def link(self, src: int, dst: int, weight: float = 1.0, kind: str = "association", *,
                   strength: float = 1.0, contribution: float = 1.0) -> bool:  # fmt: skip
        return await self._c._run(C.link(self.name, src, dst, weight, kind, strength, contribution))

    async def link_batch(self, edges: Sequence[Mapping[str, Any]]) -> list[bool]:
        """Many :meth:`link` calls in one request (at most the server's max batch); edges are
        mappings of ``link``'s argument names. Returns whether each edge was new."""
        return await self._c._run(C.link_batch(self.name, edges))

    async def neighbors(self, memory_id: int) -> list[Neighbor]:
        return await self._c._run(C.neighbors(self.name, memory_id))

    async def neighbors_batch(self, ids: Iterable[int]) -> dict[int, list[Neighbor]]:
        """Out-edges of every id in one request (at most the server's max batch)."""
        return await self._c._run(C.neighbors_batch(self.name, ids, False))

    async def neighborhood(self, ids: Iterable[int]) -> tuple[dict[int, list[Neighbor]], dict[int, Memory]]:
        """Like :meth:`neighbors_batch`, plus every neighbour's record by id, in one request."""
        return await self._c._run(C.neighbors_batch(self.name, ids, True))

    async def concepts(self) -> list[Concept]:
        return await self._c._run(C.concepts(self.name))

    async def concept_members(self, concept_id: int) -> list[int]:
        return await self._c._run(C.concept_members(self.name, concept_id))

    async def episode_concepts(self, episode_id: int) -> list[int]:
        return await self._c._run(C.episode_concepts(self.name, episode_id))

    async def search(
        self, query: npt.ArrayLike, k: int = 10, ef: int | None = None
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        return await self._c._run(C.search(self.name, query, k, ef, self._c.embeddings))

    async def search_batch(
        self, queries: npt.ArrayLike, k: int = 10, ef: int | None = None
    ) -> list[tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]]:
        return await self._c._run(C.search_batch(self.name, queries, k, ef, self._c.embeddings))

    async def recall(self, cue: npt.ArrayLike, k: int = 10, mode: str = "blended", semantic_weight: float = 0.3,
                     now: float | None = None, threshold: float = 0.0, **options: Any) -> list[Recollection]:  # fmt: skip
        return await self._c._run(C.recall(self.name, cue, k, mode, semantic_weight, now, threshold, options,
                                           self._c.embeddings))  # fmt: skip

    async def recall_batch(self, cues: npt.ArrayLike, k: int = 10, mode: str = "blended",
                           semantic_weight: float = 0.3, now: float | None = None, threshold: float = 0.0,
                           **options: Any) -> list[list[Recollection]]:  # fmt: skip
        return await self._c._run(C.recall_batch(self.name, cues, k, mode, semantic_weight, now, threshold, options,
                                                 self._c.embeddings))  # fmt: skip

    async def spread(
        self, seeds: Iterable[int] | Mapping[int, float], max_hops: int = 3, **options: Any
    ) -> list[Activated]:
        return await self._c._run(C.spread(self.name, seeds, {"max_hops": max_hops, **options}))

    async def complete(
        self, partial: npt.ArrayLike, mask: npt.ArrayLike | None = None, **options: Any
    ) -> Completion:
        return await self._c._run(C.complete(self.name, partial, mask, options))

    async def consolidate(self, **params: Any) -> ConsolidationReport:
        return await self._c._run(C.consolidate(self.name, params))

    async def stats(self) -> dict[str, Any]:
        return await self._c._run(C.space_stats(self.name))

    async def validate(self) -> dict[str, Any]:
        """Integrity counts of the space's index and records (``ok`` is true when healthy)."""
        return await self._c._run(C.validate(self.name))


class AsyncObservationStream:
    """The reconnecting stream for asyncio: its I/O runs on the stream's own thread, and the
    calls that may wait (a full buffer, flushing, closing) wait on a worker thread."""

    def __init__(self, stream: Any) -> None:
        self._s = stream

    async def send(self, embedding: npt.ArrayLike, content: str = "", confidence: float = 1.0,
                   timestamp: float | None = None, metadata: Mapping[str, str] | None = None, *,
                   idempotency_key: str | None = None) -> int:  # fmt: skip
        if self._s.book.unacked < self._s.max_buffered:  # cannot block: skip the thread hop
            return int(
                self._s.send(
                    embedding, content, confidence, timestamp, metadata, idempotency_key=idempotency_key
                )
            )
        return int(await asyncio.to_thread(self._s.send, embedding, content, confidence, timestamp, metadata,
                                           idempotency_key=idempotency_key))  # fmt: skip

    async def flush(self, timeout: float = 60.0) -> dict[int, int]:
        return dict(await asyncio.to_thread(self._s.flush, timeout))

    async def aclose(self, timeout: float = 60.0) -> None:
        await asyncio.to_thread(self._s.close, timeout)

    async def __aenter__(self) -> AsyncObservationStream:
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
