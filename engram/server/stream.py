"""Streaming ingestion over a WebSocket: ``/api/v1/spaces/{space}/stream``.

Client -> server: ``{"type": "observation", "seq": n, "embedding": [...], "content": "...",
"confidence": c, "timestamp": t, "metadata": {...}, "idempotency_key": "..."}``; ``seq`` must
increase on a connection. Server -> client, in ``seq`` order: ``{"type": "ack", "seq", "id",
"replayed"}`` once the observation is stored (durable under the engine's mode and searchable),
or ``{"type": "reject", "seq", "code", "message", "retryable", "retry_after_ms"}``. Out of band:
``{"type": "flow", "state": "normal"|"slow_down"|"overloaded", "queue_depth"}`` when the writer
queue changes state, and ``{"type": "draining"}`` at shutdown, after which the server sends the
remaining acks and closes with 1001. Failures before the session starts are an ``error`` message
and a close code 4000 + HTTP status (4401, 4403, 4404, 4503).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
import uuid
from typing import Any

import numpy as np
from pydantic import ValidationError
from starlette.websockets import WebSocket, WebSocketDisconnect

from engram import jsonfast
from engram.server import codec, models
from engram.server.errors import RETRYABLE_CODES, ApiError, from_exception
from engram.server.ingest import Observation
from engram.server.routing import PREFIX, check_space_name
from engram.server.state import ServerState

PATH = PREFIX + "/spaces/{space}/stream"


class _Observation(models.RememberItem):
    type: str = "observation"
    seq: int
    idempotency_key: str | None = None


def _fingerprint(o: _Observation, emb: np.ndarray) -> str:
    rest = jsonfast.dumps([o.content, o.confidence, o.timestamp, sorted((o.metadata or {}).items())])
    return hashlib.sha256(emb.tobytes() + b"\0" + rest).hexdigest()


class StreamSession:
    def __init__(self, ws: WebSocket, state: ServerState, space: str) -> None:
        self.ws = ws
        self.state = state
        self.space = space
        self.id = uuid.uuid4().hex
        self.pending: asyncio.Queue[tuple[int, Any] | None] = asyncio.Queue()
        self.outstanding = 0
        self.last_seq: int | None = None
        self.draining = False
        self.flow = "normal"
        self._send_lock = asyncio.Lock()
        self._closed = False

    async def send(self, msg: dict[str, Any]) -> None:
        async with self._send_lock:
            if not self._closed:
                await self.ws.send_text(json.dumps(msg, separators=(",", ":")))

    def begin_drain(self) -> None:
        self.draining = True
        asyncio.get_running_loop().create_task(self._announce_drain())

    async def _announce_drain(self) -> None:
        with contextlib.suppress(Exception):  # the peer went away: nothing to tell it
            await self.send({"type": "draining", "outstanding": self.outstanding})
        await self.pending.put(("drain", None))  # type: ignore[arg-type]

    async def close(self, code: int, reason: str = "") -> None:
        async with self._send_lock:
            if self._closed:
                return
            self._closed = True
        with contextlib.suppress(Exception):  # already closed by the peer
            await self.ws.close(code, reason)

    # ------------------------------------------------------------------ reading
    async def reader(self) -> None:
        cfg = self.state.config
        while True:  # one message per iteration; ends on disconnect or a protocol error
            try:
                raw = await self.ws.receive_text()
            except (WebSocketDisconnect, RuntimeError):
                return
            except KeyError:  # a binary frame: the protocol is JSON text
                await self._fatal(4400, "protocol_error", "send observations as JSON text frames, not binary")
                return
            if len(raw) > cfg.max_body_bytes:
                await self._fatal(
                    4413, "payload_too_large", f"message of {len(raw)} bytes exceeds {cfg.max_body_bytes}"
                )
                return
            try:
                msg = jsonfast.loads(raw)
                if not isinstance(msg, dict) or msg.get("type") != "observation":
                    raise ValueError("expected an object with type 'observation'")
                obs = _Observation.model_validate(msg)
            except (ValueError, ValidationError) as exc:
                seq = msg.get("seq") if isinstance(msg, dict) and isinstance(msg.get("seq"), int) else None
                if seq is None:
                    await self._fatal(4400, "protocol_error", f"unreadable message: {str(exc)[:300]}")
                    return
                await self._reject(seq, ApiError(400, "invalid_input", str(exc)[:500]))
                continue
            if self.last_seq is not None and obs.seq <= self.last_seq:
                await self._fatal(4400, "protocol_error",
                                  f"seq {obs.seq} does not follow {self.last_seq}; sequence numbers must increase")  # fmt: skip
                return
            self.last_seq = obs.seq
            await self._accept(obs)

    async def _accept(self, obs: _Observation) -> None:
        cfg, ingest = self.state.config, self.state.ingest
        if self.draining or ingest is None:
            await self._reject(
                obs.seq, ApiError(503, "shutting_down", "the server is draining; resend elsewhere", 1.0)
            )
            return
        if self.outstanding >= cfg.stream_max_outstanding:
            await self._reject(obs.seq, ApiError(
                429, "overloaded",
                f"{self.outstanding} observations of this stream await their ack (limit {cfg.stream_max_outstanding}); "
                "wait for acks before sending more", ingest.retry_after_s(),
            ))  # fmt: skip
            return
        if self.pending.qsize() > 2 * cfg.stream_max_outstanding:
            await self._fatal(4429, "overloaded", "the client is not reading its acks")
            return
        try:
            emb = codec.vector(obs.embedding)
            o = Observation(self.space, emb, obs.content, obs.confidence, obs.timestamp, obs.metadata,
                            obs.idempotency_key, _fingerprint(obs, emb) if obs.idempotency_key else "")  # fmt: skip
            ingest.submit(o)
        except ApiError as err:
            await self._reject(obs.seq, err)
        else:
            self.outstanding += 1
            await self.pending.put((obs.seq, o.future))
        await self._maybe_flow()

    async def _maybe_flow(self) -> None:
        ingest = self.state.ingest
        now = ingest.state() if ingest else "normal"
        if now != self.flow:
            self.flow = now
            await self.send({"type": "flow", "state": now, "queue_depth": ingest.depth if ingest else 0})

    async def _reject(self, seq: int, err: ApiError) -> None:
        msg = {"type": "reject", "seq": seq, "code": err.code, "message": err.message,
               "retryable": err.code in RETRYABLE_CODES}  # fmt: skip
        if err.retry_after_s is not None:
            msg["retry_after_ms"] = int(err.retry_after_s * 1000)
        self.state.metrics.inc(
            "engram_stream_rejects_total", "Stream observations rejected, by code.", code=err.code
        )
        await self.pending.put((seq, msg))

    async def _fatal(self, close_code: int, code: str, message: str) -> None:
        await self.pending.put((-1, {"type": "error", "code": code, "message": message, "close": close_code}))

    # ------------------------------------------------------------------ writing
    async def writer(self) -> None:
        while True:  # one entry per iteration; ends on None, a fatal error or a finished drain
            entry = await self.pending.get()
            if entry is None:
                return
            seq, item = entry
            if seq == "drain" or (self.draining and item is None):
                if self.outstanding == 0:
                    await self.close(1001, "server shutting down")
                    return
                continue
            if isinstance(item, dict):
                await self.send(item)
                if item["type"] == "error":
                    await self.close(item["close"], item["code"])
                    return
                continue
            try:
                mid, replayed = await asyncio.wrap_future(item)
                msg: dict[str, Any] = {"type": "ack", "seq": seq, "id": mid, "replayed": replayed}
                self.state.metrics.inc("engram_stream_acks_total", "Stream observations acknowledged.")
            except Exception as exc:
                err = from_exception(exc) or ApiError(500, "internal", "the observation could not be stored")
                msg = {"type": "reject", "seq": seq, "code": err.code, "message": err.message,
                       "retryable": err.code in RETRYABLE_CODES}  # fmt: skip
            self.outstanding -= 1
            await self.send(msg)
            await self._maybe_flow()
            if self.draining and self.outstanding == 0 and self.pending.empty():
                await self.close(1001, "server shutting down")
                return


async def stream_endpoint(ws: WebSocket) -> None:
    state: ServerState = ws.app.state.engram
    space = ws.path_params["space"]
    await ws.accept()
    try:
        check_space_name(space)
        state.require_ready()
        principal = state.principal(ws.headers.get("authorization"))
        principal.authorize("write", space)
        state.require_ready().space(space)  # unknown space: 404 now, not per observation
    except Exception as exc:
        err = from_exception(exc) or ApiError(500, "internal", "stream setup failed")
        await ws.send_text(json.dumps({"type": "error", "code": err.code, "message": err.message}))
        await ws.close(4000 + err.status, err.code)
        return
    session = StreamSession(ws, state, space)
    state.streams.add(session)
    state.open_streams += 1
    t0 = time.perf_counter()
    state.log.info("stream_opened", session=session.id, space=space, key=principal.key_id)
    try:
        await session.send({"type": "ready", "session": session.id, "max_outstanding": state.config.stream_max_outstanding,
                            "queue_limit": state.config.stream_queue_limit})  # fmt: skip
        writer = asyncio.create_task(session.writer())
        reader = asyncio.create_task(session.reader())
        done, _ = await asyncio.wait({reader, writer}, return_when=asyncio.FIRST_COMPLETED)
        if reader in done:
            await session.pending.put(None) if not session.draining else None
            try:
                await asyncio.wait_for(writer, timeout=state.config.drain_timeout_s)
            except (asyncio.TimeoutError, Exception):
                writer.cancel()
        else:
            reader.cancel()
    finally:
        state.streams.discard(session)
        state.open_streams -= 1
        state.log.info("stream_closed", session=session.id, space=space, last_seq=session.last_seq,
                       seconds=round(time.perf_counter() - t0, 3))  # fmt: skip
