"""Streaming ingestion: ordered acks after storage, idempotent replay, backpressure, reconnection
and the staleness bound."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from engram.client import Client
from engram.client import errors as CE
from engram_harness.server import running_server_process, scaled
from engram_harness.stats import quantiles

from .conftest import DIM, Tenants, metric, metric_in, vectors


def _ws(url: str, space: str, key: str | None):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return connect(url.replace("http", "ws", 1) + f"/api/v1/spaces/{space}/stream", additional_headers=headers,
                   proxy=None)  # fmt: skip


def _obs(seq: int, v: np.ndarray, key: str | None = None) -> str:
    return json.dumps({"type": "observation", "seq": seq, "embedding": v.tolist(), "idempotency_key": key})


def test_acks_in_order_after_storage_and_replay_is_idempotent(tenants: Tenants) -> None:
    t = tenants
    v = vectors(50, seed=30)
    with Client(t.url, api_key=t.keys["admin"]) as c:
        c.create_space("stream-order")
        with _ws(t.url, "stream-order", t.keys["admin"]) as ws:
            assert json.loads(ws.recv(timeout=5))["type"] == "ready"
            for i in range(50):
                ws.send(_obs(i + 1, v[i], f"k-{i}"))
            acks = [json.loads(ws.recv(timeout=10)) for _ in range(50)]
        assert [a["seq"] for a in acks] == list(range(1, 51)) and all(a["type"] == "ack" for a in acks)
        ids = [a["id"] for a in acks]
        sp = c.space("stream-order")
        for i in (0, 17, 49):  # acknowledged means stored and searchable
            assert sp.search(v[i], k=1)[0][0] == ids[i]
        # a new connection replays the same keys (as after a lost connection): same ids, nothing new
        with _ws(t.url, "stream-order", t.keys["admin"]) as ws:
            ws.recv(timeout=5)
            for i in range(50):
                ws.send(_obs(i + 1, v[i], f"k-{i}"))
            again = [json.loads(ws.recv(timeout=10)) for _ in range(50)]
        assert [a["id"] for a in again] == ids and all(a["replayed"] for a in again)
        assert len(sp) == 50


def test_observation_metadata_is_stored_and_checked(tenants: Tenants) -> None:
    """Metadata sent on a stream is stored as sent; a non-string value or a repeated key is a
    reject of that observation only. (engramd iterated the metadata object through a dangling
    reference and crashed on the acceptance workflow 101, which streams documents with metadata.)"""
    t = tenants
    v = vectors(200, seed=31)
    with Client(t.url, api_key=t.keys["admin"]) as c:
        c.create_space("stream-meta")
        with c.stream("stream-meta", window=64) as st:
            for i in range(200):
                st.send(
                    v[i], content=f"doc {i}", metadata={"source": f"s{i % 7}", "title": f"t{i}", "n": str(i)}
                )
            ids = st.flush(timeout=60)
        sp = c.space("stream-meta")
        for i in (0, 99, 199):
            m = sp.get(ids[i])
            assert (
                m.metadata == {"source": f"s{i % 7}", "title": f"t{i}", "n": str(i)}
                and m.content == f"doc {i}"
            )
        with _ws(t.url, "stream-meta", t.keys["admin"]) as ws:
            ws.recv(timeout=5)
            emb = json.dumps(v[0].tolist())
            ws.send(
                f'{{"type": "observation", "seq": 1, "embedding": {emb}, "metadata": {{"a": "x", "b": 1}}}}'
            )
            ws.send(
                f'{{"type": "observation", "seq": 2, "embedding": {emb}, "metadata": {{"a": "x", "a": "y"}}}}'
            )
            ws.send(f'{{"type": "observation", "seq": 3, "embedding": {emb}, "metadata": {{"a": "x"}}}}')
            answers = [json.loads(ws.recv(timeout=10)) for _ in range(3)]
        assert [(a["type"], a["seq"]) for a in answers] == [("reject", 1), ("reject", 2), ("ack", 3)]
        assert (
            "metadata.b: expected a string" in answers[0]["message"] and "duplicate" in answers[1]["message"]
        )
        assert sp.get(answers[2]["id"]).metadata == {"a": "x"} and len(sp) == 201


def test_stream_setup_errors(tenants: Tenants) -> None:
    t = tenants
    for key, space, code in [(None, "tenant-a", 4401), (t.keys["writer_b"], "tenant-a", 4403),
                             (t.keys["reader_a"], "tenant-a", 4403), (t.keys["admin"], "missing", 4404)]:  # fmt: skip
        with _ws(t.url, space, key) as ws:
            msg = json.loads(ws.recv(timeout=5))
            assert msg["type"] == "error"
            with pytest.raises(ConnectionClosed):
                ws.recv(timeout=5)
            assert ws.close_code == code
    with pytest.raises(CE.PermissionDenied):
        Client(t.url, api_key=t.keys["writer_b"]).stream("tenant-a")


def test_protocol_errors(tenants: Tenants) -> None:
    t = tenants
    with _ws(t.url, "tenant-a", t.keys["admin"]) as ws:
        ws.recv(timeout=5)
        ws.send(json.dumps({"type": "observation", "seq": 1, "embedding": [1.0, 2.0]}))  # wrong dimension
        rej = json.loads(ws.recv(timeout=5))
        assert rej["type"] == "reject" and rej["code"] == "dimension_mismatch" and rej["retryable"] is False
        ws.send(_obs(1, vectors(1)[0]))  # seq must increase
        err = json.loads(ws.recv(timeout=5))
        assert err["type"] == "error" and err["code"] == "protocol_error"
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=5)
        assert ws.close_code == 4400


def test_backpressure_slows_down_then_rejects_retryably(tmp_path) -> None:
    # a tiny queue and a slow writer (2 ms per batch of 2): the producer outruns it
    opts = dict(
        no_auth=True, dim=DIM, stream_queue_limit=8, ingest_throttle_ms=2, stream_max_outstanding=1000
    )
    with running_server_process(None, log_dir=tmp_path, **opts) as sp:
        c = Client(sp.url)
        c.create_space("bp")
        v = vectors(300, seed=31)
        with _ws(sp.url, "bp", None) as ws:
            ws.recv(timeout=5)
            for i in range(300):
                ws.send(_obs(i + 1, v[i], f"bp-{i}"))
            msgs = []
            acked_or_rejected = 0
            deadline = time.monotonic() + 30
            while acked_or_rejected < 300 and time.monotonic() < deadline:
                m = json.loads(ws.recv(timeout=10))
                msgs.append(m)
                acked_or_rejected += m["type"] in ("ack", "reject")
        flows = [m["state"] for m in msgs if m["type"] == "flow"]
        rejects = [m for m in msgs if m["type"] == "reject"]
        acks = [m for m in msgs if m["type"] == "ack"]
        assert {"warning", "critical", "overloaded"} <= set(flows)  # milestone 11's levels
        assert all(0 <= m["fill"] <= 1 and m["queue_limit"] == 8 for m in msgs if m["type"] == "flow")
        assert rejects and all(
            r["code"] == "overloaded" and r["retryable"] and r["retry_after_ms"] > 0 for r in rejects
        )
        assert "writes are refused from 90%" in rejects[0]["message"]
        assert len(acks) + len(rejects) == 300
        seqs = [m["seq"] for m in msgs if m["type"] in ("ack", "reject")]
        assert seqs == sorted(seqs)  # answers in order, rejects included
        assert len(c.space("bp")) == len(acks)  # memory bounded: refused ones were never queued
        metrics = c.prometheus()
        assert "engram_streaming_observations_rejected_total" in metrics
        # the client library resends rejected observations after the delay: all stored exactly once
        with c.stream("bp", window=64) as s:
            for i in range(300):
                s.send(v[i], idempotency_key=f"bp-{i}")
            done = s.flush(timeout=60)
            assert s.book.resent > 0  # it did meet backpressure
        assert len(done) == 300 and len(c.space("bp")) == 300


def test_a_slow_writer_pauses_reading_instead_of_closing_a_reading_client(tmp_path) -> None:
    # 20 observations may await their ack; the writer takes 20 ms per batch; the client sends 300
    # at once and reads every answer. Rejects queue behind the acks due (answers stay in seq
    # order), so the answers waiting pass twice the limit: the server stops reading for a while
    # rather than closing with "not reading its acks" (this client reads everything).
    opts = dict(
        no_auth=True, dim=DIM, stream_queue_limit=1000, ingest_throttle_ms=20, stream_max_outstanding=20
    )
    with running_server_process(None, log_dir=tmp_path, **opts) as sp:
        c = Client(sp.url)
        c.create_space("pause")
        v = vectors(300, seed=36)
        with _ws(sp.url, "pause", None) as ws:
            assert json.loads(ws.recv(timeout=5))["type"] == "ready"
            sender = threading.Thread(
                target=lambda: [ws.send(_obs(i + 1, v[i])) for i in range(300)], daemon=True
            )
            sender.start()
            answers: list[dict] = []
            deadline = time.monotonic() + 60
            while len(answers) < 300 and time.monotonic() < deadline:  # bounded in time
                m = json.loads(ws.recv(timeout=20))
                assert m["type"] != "error", m
                if m["type"] in ("ack", "reject"):
                    answers.append(m)
            sender.join(timeout=10)
        assert [m["seq"] for m in answers] == list(range(1, 301))  # every seq answered, in order
        rejects = [m for m in answers if m["type"] == "reject"]
        assert rejects and all(r["code"] == "overloaded" and r["retryable"] for r in rejects)
        assert len(c.space("pause")) == 300 - len(rejects)
        assert metric(sp.url, "engram_stream_read_pauses_total") >= 1


def test_client_reconnects_and_replays_without_duplicates(tenants: Tenants) -> None:
    t = tenants
    v = vectors(400, seed=32)
    with Client(t.url, api_key=t.keys["admin"]) as c:
        c.create_space("reconnect")
        s = c.stream("reconnect", window=32)
        for i in range(400):
            s.send(v[i])
            if i in (100, 250):  # cut the connection under the stream's feet, then let it reconnect
                before = s.connections
                s._ws.socket.shutdown(2)  # type: ignore[union-attr]
                deadline = time.monotonic() + 10
                while s.connections == before and time.monotonic() < deadline:
                    time.sleep(0.01)
        done = s.flush(timeout=60)
        s.close()
        assert s.connections >= 3
        assert len(done) == 400 and len(set(done.values())) == 400
        assert len(c.space("reconnect")) == 400  # replays were recognised, nothing stored twice
        ids, _ = c.space("reconnect").search(v[399], k=1)
        assert ids[0] == done[399]


def test_staleness_is_bounded_under_load(tenants: Tenants) -> None:
    """Observations are searchable once acked, so send -> ack bounds the staleness. Offered load:
    300 observations/s for 2 s, open loop (the sender never waits for acks), 64-d vectors.

    The requirement's P99 < 100 ms is measured on a dedicated machine (docs/performance.md);
    here, on a shared 2-core runner, the test asserts that staleness stays bounded (< 1 s; a
    sanitizer build, several times slower, stretches the bound and the waits by
    ENGRAM_TEST_TIMEOUT_SCALE, which is 1 everywhere else)."""
    t = tenants
    rate, seconds, dim = 300, 2.0, 64
    n = int(rate * seconds)
    v = vectors(n, seed=33, dim=dim)
    payloads = [_obs(i + 1, v[i]) for i in range(n)]  # encoded ahead: measure the server, not json.dumps
    with Client(t.url, api_key=t.keys["admin"]) as c:
        c.create_space("staleness", dim=dim)
        sent = np.zeros(n + 1)
        acked: dict[int, tuple[float, int]] = {}
        with _ws(t.url, "staleness", t.keys["admin"]) as ws:
            ws.recv(timeout=5)

            def sender() -> None:
                t0 = time.perf_counter()
                for i in range(n):  # paced at the offered rate
                    due = t0 + i / rate
                    while (now := time.perf_counter()) < due:
                        time.sleep(min(0.0005, due - now))
                    sent[i + 1] = time.perf_counter()
                    ws.send(payloads[i])

            th = threading.Thread(target=sender)
            th.start()
            deadline = time.monotonic() + scaled(60)
            while len(acked) < n and time.monotonic() < deadline:
                m = json.loads(ws.recv(timeout=scaled(10)))
                if m["type"] == "ack":
                    acked[m["seq"]] = (time.perf_counter(), m["id"])
            th.join(timeout=scaled(10))
        assert len(acked) == n
        lat_ms = np.array([(acked[s][0] - sent[s]) * 1000 for s in acked])
        p50, p99 = quantiles(lat_ms, (0.5, 0.99))  # the one percentile definition (order statistics)
        print(f"stream staleness, {n} observations at {rate}/s ({dim}-d): P50 {p50:.1f} ms, P99 {p99:.1f} ms")
        sp = c.space("staleness")
        for s_ in (1, n // 2, n):  # spot checks: searchable right after the ack
            assert sp.search(v[s_ - 1], k=1)[0][0] == acked[s_][1]
        bound_ms = scaled(1000.0)
        assert p99 < bound_ms, (
            f"P99 staleness {p99:.1f} ms at {rate} obs/s is not bounded by {bound_ms:.0f} ms (P50 {p50:.1f} ms)"
        )
        # the server's split of that latency: the oldest observation's queue wait per batch and
        # each engine call, one sample each per writer batch (of at least one observation)
        text = c.prometheus()
        waits = metric_in(text, "engram_streaming_queue_wait_seconds_count")
        calls = metric_in(text, "engram_streaming_store_call_seconds_count")
        assert waits >= 1 and calls >= 1
        assert metric_in(text, "engram_streaming_store_call_seconds_sum") > 0


def test_binary_frames_are_a_protocol_error(tenants: Tenants) -> None:
    with _ws(tenants.url, "tenant-a", tenants.keys["admin"]) as ws:
        ws.recv(timeout=5)
        ws.send(b"\x00\x01binary")
        err = json.loads(ws.recv(timeout=5))
        assert err["type"] == "error" and err["code"] == "protocol_error"
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=5)
        assert ws.close_code == 4400


def test_client_stream_stops_on_a_fatal_server_error(tenants: Tenants) -> None:
    with Client(tenants.url, api_key=tenants.keys["admin"]) as c:
        s = c.stream("tenant-a")
        s.book.next_seq = 10  # provoke the server: sequence numbers that go backwards
        s.send(vectors(1, seed=80)[0])
        deadline = time.monotonic() + 10
        while s.book.next_seq == 10 and time.monotonic() < deadline:
            time.sleep(0.01)
        s.book.next_seq = 5
        s.send(vectors(1, seed=81)[0])
        with pytest.raises(CE.RemoteError, match="protocol_error"):
            s.flush(timeout=20)
        assert s.connections == 1  # no reconnect loop on an error retrying cannot fix


def _closed_with_error(ws, code: int, error: str) -> dict:
    """The next message is an ``error`` (after any acks already due), then the close ``code``."""
    while True:
        m = json.loads(ws.recv(timeout=10))
        if m["type"] == "error":
            break
        assert m["type"] in ("ack", "flow"), m
    assert m["code"] == error
    with pytest.raises(ConnectionClosed):
        ws.recv(timeout=5)
    assert ws.close_code == code
    return m


def test_acks_in_order_and_replay_by_key(tenants: Tenants) -> None:
    """In-order acks and idempotent replay across connections, checked by the space's count."""
    t = tenants
    v = vectors(40, seed=34)
    with Client(t.url, api_key=t.keys["admin"]) as c:
        c.create_space("stream-replay")
        runs = []
        for _ in range(2):  # the second connection resends everything, as after a lost connection
            with _ws(t.url, "stream-replay", t.keys["admin"]) as ws:
                ready = json.loads(ws.recv(timeout=5))
                assert ready["type"] == "ready" and ready["max_outstanding"] > 0
                for i in range(40):
                    ws.send(_obs(i + 1, v[i], f"r-{i}"))
                runs.append([json.loads(ws.recv(timeout=10)) for _ in range(40)])
        first, again = runs
        assert [a["type"] for a in first] == ["ack"] * 40 and [a["seq"] for a in first] == list(range(1, 41))
        assert not any(a["replayed"] for a in first) and all(a["replayed"] for a in again)
        assert [a["id"] for a in again] == [a["id"] for a in first]
        assert len(c.space("stream-replay")) == 40


def test_non_json_first_frame_closes_4400(tenants: Tenants) -> None:
    """Issue 13, defect 13: a first frame that is not JSON gets the documented error and 4400."""
    with _ws(tenants.url, "tenant-a", tenants.keys["admin"]) as ws:
        ws.recv(timeout=5)
        ws.send("this is not json {")
        m = _closed_with_error(ws, 4400, "protocol_error")
        assert "unreadable message" in m["message"] and m["close"] == 4400


def test_garbage_after_a_valid_observation_is_a_protocol_error(tenants: Tenants) -> None:
    """Issue 13, defect 13: garbage after an acked observation closes the stream with a protocol
    error; it is never a reject carrying the previous, already-acked sequence number."""
    with _ws(tenants.url, "tenant-a", tenants.keys["admin"]) as ws:
        ws.recv(timeout=5)
        ws.send(_obs(1, vectors(1, seed=35)[0]))
        ack = json.loads(ws.recv(timeout=10))
        assert ack["type"] == "ack" and ack["seq"] == 1
        ws.send("garbage]")
        msgs = []
        with pytest.raises(ConnectionClosed):
            while True:
                msgs.append(json.loads(ws.recv(timeout=10)))
        assert ws.close_code == 4400
        assert [m["type"] for m in msgs if m["type"] != "flow"] == ["error"]
        assert msgs[-1]["code"] == "protocol_error"


@pytest.mark.parametrize("seq", ["1", True, 1.5, None])
def test_seq_must_be_an_integer(tenants: Tenants, seq: object) -> None:
    """Issue 13, defect 15: "seq": "1" (or true, 1.5, absent) is refused, never coerced."""
    body = {"type": "observation", "embedding": vectors(1, seed=36)[0].tolist()}
    if seq is not None:
        body["seq"] = seq
    with _ws(tenants.url, "tenant-a", tenants.keys["admin"]) as ws:
        ws.recv(timeout=5)
        ws.send(json.dumps(body))
        m = _closed_with_error(ws, 4400, "protocol_error")
        assert "seq" in m["message"]


def test_revoked_key_closes_its_open_streams(tenants: Tenants) -> None:
    """Issue 13, defect 5: a revoked key's open streams close within the key reload interval (1 s
    here: the server polls the key file) with 4401; nothing more is written with it."""
    from engram.server.auth import add_key, revoke_key

    t = tenants
    key = add_key(t.keys_file, "stream-revoked", ["tenant-a"], "write")
    deadline = time.monotonic() + 10
    while True:  # until the server has reloaded the file and knows the new key
        with _ws(t.url, "tenant-a", key) as ws:
            if json.loads(ws.recv(timeout=5))["type"] == "ready":
                break
        assert time.monotonic() < deadline, "the new key was never loaded"
        time.sleep(0.2)
    with _ws(t.url, "tenant-a", key) as ws:
        assert json.loads(ws.recv(timeout=5))["type"] == "ready"
        ws.send(_obs(1, vectors(1, seed=37)[0]))
        assert json.loads(ws.recv(timeout=10))["type"] == "ack"
        assert revoke_key(t.keys_file, "stream-revoked")
        t0 = time.monotonic()
        m = _closed_with_error(ws, 4401, "unauthenticated")
        assert time.monotonic() - t0 < 5.0  # reload interval 1 s, with slack for a loaded runner
        assert "no longer" in m["message"]


def test_stream_book_counts_what_a_new_connection_carries_over() -> None:
    """What was in flight at a loss and what was sent during the outage both go out again, in order,
    on the next connection, and are counted as carried over."""
    from engram.client.stream import StreamBook

    book = StreamBook("s", window=2)
    for i in range(5):
        book.add({"i": i}, None, now=float(i))
    sent = [book.next_message(0.0) for _ in range(3)]
    assert sent[2] is None and len(book.inflight) == 2  # the window holds two
    book.on_message({"type": "ack", "seq": 1, "id": 10}, 0.25)
    assert book.ack_latency_s == [0.25]  # send() to acknowledgement
    book.on_disconnect()  # index 1 was in flight, 2-4 never sent
    book.add({"i": 5}, None, now=5.0)  # sent while disconnected
    book.on_reconnect()
    assert book.carried == 5 and book.acked == {0: 10}
    assert list(book.outbox) == [1, 2, 3, 4, 5] and book.next_seq == 1


@pytest.mark.parametrize("accept_first", [False, True], ids=["during-handshake", "after-handshake"])
def test_a_connection_dropped_during_the_handshake_is_a_transport_error(accept_first: bool) -> None:
    """A peer that accepts and closes at once (a server killed mid-handshake, a resetting proxy) is
    a TransportError the reconnect loop retries, never an exception that ends the stream's thread
    (found by the M11 combined chaos run: the stream then waited forever)."""
    import base64
    import hashlib
    import socket
    import threading as th

    from engram.client.errors import TransportError
    from engram.client.stream import ObservationStream

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    stop = th.Event()

    def accept_and_close() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():  # bounded by the test
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            request = conn.recv(4096).decode(errors="replace")
            if accept_first:  # complete the handshake, then drop before the stream's first message
                key = next(ln.split(":", 1)[1].strip() for ln in request.split("\r\n")
                           if ln.lower().startswith("sec-websocket-key:"))  # fmt: skip
                digest = hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()
                conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                             b"Sec-WebSocket-Accept: " + base64.b64encode(digest) + b"\r\n\r\n")  # fmt: skip
            conn.close()

    t = th.Thread(target=accept_and_close, daemon=True)
    t.start()
    try:
        with pytest.raises(TransportError, match=r"cannot open the stream|closed before it was ready"):
            ObservationStream(f"http://127.0.0.1:{srv.getsockname()[1]}", "s", open_timeout=2.0)
    finally:
        stop.set()
        t.join(timeout=5)
        srv.close()


def test_a_stream_closed_after_its_last_ack_is_released_at_once(tmp_path) -> None:
    # The writer's last batch used to keep its observations (and their callbacks, which hold the
    # session) until the next batch: a client that closed after its last ack left an open stream
    # behind, counted and holding the drain at shutdown until its timeout.
    with running_server_process(None, log_dir=tmp_path, no_auth=True, dim=DIM) as sp:
        Client(sp.url).create_space("close")
        v = vectors(20, seed=37)
        with _ws(sp.url, "close", None) as ws:
            assert json.loads(ws.recv(timeout=5))["type"] == "ready"
            for i in range(20):
                ws.send(_obs(i + 1, v[i]))
            acks = 0
            deadline = time.monotonic() + 30
            while acks < 20 and time.monotonic() < deadline:  # bounded in time
                acks += json.loads(ws.recv(timeout=10))["type"] == "ack"
        assert acks == 20
        deadline = time.monotonic() + 5
        while metric(sp.url, "engram_streaming_open_streams") > 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert metric(sp.url, "engram_streaming_open_streams") == 0
