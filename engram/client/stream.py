"""Streaming ingestion with automatic reconnection: ``Client.stream(space)``.

Every observation gets an idempotency key (``<stream id>-<index>``) and stays in memory until the
server acknowledges it, which it does only once the observation is stored. After a lost
connection the stream reconnects (exponential backoff with jitter) and resends everything not
yet acknowledged, in order; the server recognises the keys, so nothing is stored twice. Flow
messages slow the sender down, retryable rejects are resent after their delay, and the number
of unacknowledged observations is bounded (``send`` blocks), so memory stays bounded too.

>>> with client.stream("science") as s:  # doctest: +SKIP
...     for vec in vectors:
...         s.send(vec, content="...")
...     ids = s.flush()  # index -> memory id, once all are acknowledged
"""

from __future__ import annotations

import collections
import contextlib
import json
import random
import threading
import time
import uuid
from collections.abc import Mapping
from types import TracebackType
from typing import Any

import numpy.typing as npt
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.sync.client import ClientConnection, connect

from engram import jsonfast
from engram.client.calls import sp, vec
from engram.client.errors import RemoteError, TransportError, error_from_body
from engram.client.retry import RetryPolicy
from engram.client.versions import DEFAULT_API_VERSION, ApiVersion, check_api_version, versioned


class _Fatal(Exception):
    def __init__(self, error: RemoteError) -> None:
        super().__init__(str(error))
        self.error = error


class StreamBook:
    """The state of a stream, without any I/O: what is unacknowledged, what to (re)send next."""

    def __init__(self, stream_id: str, window: int) -> None:
        self.stream_id = stream_id
        self.window = window  # most observations in flight on the connection
        self.payloads: dict[int, dict[str, Any]] = {}  # index -> message body, until acknowledged
        self.outbox: collections.deque[int] = collections.deque()  # indexes to send, in order
        self.inflight: dict[int, int] = {}  # seq -> index, on the current connection
        self.delayed: list[tuple[float, int]] = []  # (not before, index) after a retryable reject
        self.acked: dict[int, int] = {}  # index -> memory id
        self.failed: dict[int, RemoteError] = {}
        self.replayed = 0  # acks for observations the server already had (after a lost ack)
        self.resent = 0  # retryable rejects, sent again after their delay
        self.carried = 0  # unacknowledged observations carried over to a new connection
        self.added_at: dict[int, float] = {}  # index -> monotonic time of send(), until acknowledged
        self.ack_latency_s: list[float] = []  # send() to acknowledgement, per acknowledged observation
        self.next_index = 0
        self.next_seq = 1
        self.pause_until = 0.0
        self.flow_state = "normal"  # the last backpressure level the server sent

    def add(self, body: dict[str, Any], key: str | None, now: float | None = None) -> int:
        i = self.next_index
        self.next_index += 1
        self.added_at[i] = time.monotonic() if now is None else now
        body["idempotency_key"] = key or f"{self.stream_id}-{i}"
        self.payloads[i] = body
        self.outbox.append(i)
        return i

    @property
    def unacked(self) -> int:
        return len(self.payloads)

    def next_message(self, now: float) -> str | None:
        """The next observation to put on the wire, or None (window full, paused, nothing to send)."""
        if self.delayed:
            ready = [d for d in self.delayed if d[0] <= now]
            if ready:
                self.delayed = [d for d in self.delayed if d[0] > now]
                for _, i in sorted(ready, key=lambda d: d[1], reverse=True):
                    self.outbox.appendleft(i)
        if not self.outbox or len(self.inflight) >= self.window or now < self.pause_until:
            return None
        i = self.outbox.popleft()
        seq = self.next_seq
        self.next_seq += 1
        self.inflight[seq] = i
        return jsonfast.dumps({"type": "observation", "seq": seq, **self.payloads[i]}).decode()

    def on_message(self, msg: dict[str, Any], now: float) -> None:
        kind = msg.get("type")
        if kind == "ack":
            i = self.inflight.pop(int(msg["seq"]), None)
            if i is not None and i in self.payloads:
                del self.payloads[i]
                self.acked[i] = int(msg["id"])
                added = self.added_at.pop(i, None)
                if added is not None:
                    self.ack_latency_s.append(now - added)
                self.replayed += bool(msg.get("replayed"))
        elif kind == "reject":
            i = self.inflight.pop(int(msg["seq"]), None)
            if i is None:
                return
            if msg.get("retryable"):
                self.resent += 1
                delay = msg.get("retry_after_ms", 50) / 1000 * random.uniform(1.0, 1.5)
                self.delayed.append((now + delay, i))
                self.pause_until = max(self.pause_until, now + delay / 2)
            else:
                self.payloads.pop(i, None)
                self.added_at.pop(i, None)
                self.failed[i] = error_from_body(400, {"error": msg})
        elif kind == "flow":
            # critical is the backpressure signal (80% full); slow_down is its name before
            # milestone 11's four levels, still sent by older servers
            state = msg.get("state")
            self.flow_state = str(state)
            if state in ("critical", "slow_down"):
                self.pause_until = max(self.pause_until, now + 0.002)
            elif state == "overloaded":
                self.pause_until = max(self.pause_until, now + 0.05)
        elif kind == "ready":
            self.window = min(self.window, int(msg.get("max_outstanding", self.window)))

    def on_disconnect(self) -> None:
        """Everything in flight goes back to the front of the outbox, in index order."""
        for i in sorted(self.inflight.values(), reverse=True):
            self.outbox.appendleft(i)
        self.inflight.clear()
        self.next_seq = 1  # sequence numbers are per connection

    def on_reconnect(self) -> None:
        """A new connection opened after a loss: everything unacknowledged goes out on it."""
        self.carried += self.unacked


class ObservationStream:
    """A reconnecting stream of observations into one space (see the module docstring)."""

    def __init__(
        self,
        url: str,
        space: str,
        *,
        api_key: str | None = None,
        window: int = 256,
        max_buffered: int = 10_000,
        reconnect: RetryPolicy | None = None,
        open_timeout: float = 10.0,
        api_version: ApiVersion = DEFAULT_API_VERSION,
    ) -> None:
        ws_url = url.replace("http://", "ws://", 1).replace("https://", "wss://", 1).rstrip("/")
        self.url = ws_url + versioned(sp(space), check_api_version(api_version)) + "/stream"
        self.space = space
        self.max_buffered = max_buffered
        # Rides out a partition of up to a minute: the deadline bounds the reconnection, not a count
        # of tries (eight tries of jittered backoff could all fall inside a 2 s outage).
        self.reconnect = reconnect or RetryPolicy(attempts=1_000, base_s=0.05, max_s=2.0, deadline_s=60.0)
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._open_timeout = open_timeout
        self.book = StreamBook(uuid.uuid4().hex, window)
        self.connections = 0
        self._cv = threading.Condition()
        self._closing = False
        self._error: RemoteError | None = None
        self._ws: ClientConnection | None = None
        self._connect()  # fail fast on a bad URL, key or space
        self._thread = threading.Thread(target=self._run, name=f"engram-stream-{space}", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ caller side
    def send(self, embedding: npt.ArrayLike, content: str = "", confidence: float = 1.0, timestamp: float | None = None,
             metadata: Mapping[str, str] | None = None, *, idempotency_key: str | None = None,
             timeout: float = 60.0) -> int:  # fmt: skip
        """Queue one observation; returns its index. Blocks while ``max_buffered`` are unacknowledged."""
        body = {"embedding": vec(embedding), "content": content, "confidence": float(confidence),
                "timestamp": timestamp, "metadata": dict(metadata) if metadata is not None else None}  # fmt: skip
        deadline = time.monotonic() + timeout
        with self._cv:
            while self.book.unacked >= self.max_buffered and self._error is None:  # bounded by the timeout
                if not self._cv.wait(timeout=max(0.0, deadline - time.monotonic())):
                    raise TransportError(f"{self.book.unacked} observations unacknowledged after {timeout} s")
            self._raise_if_failed()
            i = self.book.add(body, idempotency_key)
            self._cv.notify_all()
            return i

    def flush(self, timeout: float = 60.0) -> dict[int, int]:
        """Wait until every observation is acknowledged (or failed); returns index -> memory id."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while self.book.unacked and self._error is None:  # bounded by the timeout
                if not self._cv.wait(timeout=max(0.0, deadline - time.monotonic())):
                    raise TransportError(
                        f"{self.book.unacked} observations still unacknowledged after {timeout} s"
                    )
            self._raise_if_failed()
            return dict(self.book.acked)

    @property
    def failed(self) -> dict[int, RemoteError]:
        """Observations the server refused for good (bad input), by index."""
        with self._cv:
            return dict(self.book.failed)

    def close(self, timeout: float = 60.0) -> None:
        try:
            if self._error is None:
                self.flush(timeout)
        finally:
            with self._cv:
                self._closing = True
                self._cv.notify_all()
            self._thread.join(timeout=5.0)
            if self._ws is not None:
                self._ws.close()

    def __enter__(self) -> ObservationStream:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error

    # ------------------------------------------------------------------ I/O thread
    def _connect(self) -> None:
        try:
            # entered by hand: the connection outlives this call and is closed by close() or a loss
            ws = connect(self.url, additional_headers=self._headers, open_timeout=self._open_timeout,
                         max_size=None, proxy=None).__enter__()  # fmt: skip
        except (OSError, InvalidHandshake, InvalidURI, TimeoutError, ConnectionClosed) as exc:
            # ConnectionClosed: the connection dropped during the opening handshake (a server
            # killed, a proxy resetting); found by the M11 combined chaos run
            raise TransportError(f"cannot open the stream {self.url}: {exc}") from exc
        try:
            first = json.loads(ws.recv(timeout=self._open_timeout))
        except (OSError, TimeoutError, ConnectionClosed, ValueError) as exc:
            ws.close()
            raise TransportError(f"the stream {self.url} closed before it was ready: {exc}") from exc
        if first.get("type") == "error":
            ws.close()
            status = {"unauthenticated": 401, "forbidden": 403, "space_not_found": 404}.get(
                first.get("code"), 503
            )
            raise error_from_body(status, {"error": first})
        with self._cv:
            if self.connections:
                self.book.on_reconnect()
            self.book.on_message(first, time.monotonic())
        self._ws = ws
        self.connections += 1

    def _run(self) -> None:
        try:
            self._connections_loop()
        except Exception as exc:  # never die silently: send() and flush() raise it instead of waiting
            with self._cv:
                if self._error is None:
                    self._error = TransportError(f"the stream to {self.url} failed: {exc!r}")
                self._cv.notify_all()

    def _connections_loop(self) -> None:
        while True:  # one connection per iteration; ends when closed or reconnection gives up
            try:
                with contextlib.suppress(ConnectionClosed, OSError, TimeoutError):
                    self._pump()
            except _Fatal as fatal:
                with self._cv:
                    self._error = fatal.error
                    self._cv.notify_all()
                return
            with self._cv:
                self.book.on_disconnect()
                if self._closing:
                    return
            if not self._reconnect():
                return

    def _reconnect(self) -> bool:
        policy, start = self.reconnect, time.monotonic()
        last: RemoteError | None = None
        for attempt in range(policy.attempts):  # bounded by the policy
            time.sleep(policy.delay(attempt))
            try:
                self._connect()
                return True
            except RemoteError as exc:
                last = exc
                if exc.status in (401, 403, 404):
                    break  # will not get better by retrying
            if time.monotonic() - start > policy.deadline_s:
                break
        with self._cv:
            self._error = TransportError(f"stream to {self.url} lost and not re-established: {last}")
            self._cv.notify_all()
        return False

    def _pump(self) -> None:
        ws = self._ws
        assert ws is not None
        while True:  # bounded by the connection's life; each pass sends what it may, then reads
            with self._cv:
                if self._closing and not self.book.unacked:
                    return
                out = []
                now = time.monotonic()
                while (m := self.book.next_message(now)) is not None:
                    out.append(m)
            for m in out:
                ws.send(m)
            try:
                raw = ws.recv(timeout=0.005 if not out else 0)
            except TimeoutError:
                continue
            msgs = [raw]
            closed: ConnectionClosed | None = None
            while True:  # drain what already arrived, without waiting
                try:
                    msgs.append(ws.recv(timeout=0))
                except TimeoutError:
                    break
                except ConnectionClosed as exc:  # read what came before the close (an error) first
                    closed = exc
                    break
            with self._cv:
                now = time.monotonic()
                for r in msgs:
                    msg = json.loads(r)
                    if msg.get("type") == "draining":
                        self.book.pause_until = now + 0.5  # the server will close; resend after reconnecting
                    elif (
                        msg.get("type") == "error"
                    ):  # the server ended the stream for a reason retrying cannot fix
                        raise _Fatal(error_from_body(400, {"error": msg}))
                    self.book.on_message(msg, now)
                self._cv.notify_all()
            if closed is not None:
                raise closed
