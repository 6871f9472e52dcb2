//! The observation stream against a scripted fake WebSocket server (tokio-tungstenite's
//! accept): resend after a dropped connection and after draining, retryable and final rejects,
//! fatal errors and refusals.

use std::time::Duration;

use engram_client::{Client, ErrorKind, Observation, RetryPolicy, StreamOptions};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

type Ws = WebSocketStream<TcpStream>;

async fn listen() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    (listener, url)
}

async fn accept(listener: &TcpListener) -> Ws {
    let (tcp, _) = listener.accept().await.unwrap();
    tokio_tungstenite::accept_async(tcp).await.unwrap()
}

async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::text(v.to_string())).await.unwrap();
}

async fn recv(ws: &mut Ws) -> Value {
    loop {
        match ws.next().await.expect("a message").expect("readable") {
            Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
            Message::Close(_) => panic!("closed"),
            _ => {}
        }
    }
}

async fn ready(ws: &mut Ws) {
    send(
        ws,
        json!({"type": "ready", "session": "s", "max_outstanding": 100, "queue_limit": 1000}),
    )
    .await;
}

async fn close(ws: &mut Ws, code: u16) {
    let frame = CloseFrame {
        code: CloseCode::from(code),
        reason: "bye".into(),
    };
    let _ = ws.close(Some(frame)).await;
}

fn options() -> StreamOptions {
    StreamOptions {
        reconnect: RetryPolicy {
            attempts: 50,
            base: Duration::from_millis(5),
            max: Duration::from_millis(20),
            deadline: Duration::from_secs(5),
        },
        open_timeout: Duration::from_secs(5),
        send_timeout: Duration::from_secs(5),
        flush_timeout: Duration::from_secs(5),
        ..StreamOptions::default()
    }
}

fn obs(i: usize) -> Observation {
    Observation::new(vec![i as f32, 1.0]).content(format!("o{i}"))
}

#[tokio::test]
async fn unacknowledged_observations_are_resent_after_a_dropped_connection() {
    let (listener, url) = listen().await;
    let (tx, mut seen) = mpsc::unbounded_channel::<(usize, Value)>();
    tokio::spawn(async move {
        // connection 1: three observations arrive, the first is acknowledged, then the
        // connection drops without a close
        let mut ws = accept(&listener).await;
        ready(&mut ws).await;
        for _ in 0..3 {
            tx.send((1, recv(&mut ws).await)).unwrap();
        }
        send(&mut ws, json!({"type": "ack", "seq": 1, "id": 1000, "replayed": false})).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(ws);
        // connection 2: the two unacknowledged ones again, in order
        let mut ws = accept(&listener).await;
        ready(&mut ws).await;
        for n in 0..2 {
            let m = recv(&mut ws).await;
            let seq = m["seq"].clone();
            tx.send((2, m)).unwrap();
            send(
                &mut ws,
                json!({"type": "ack", "seq": seq, "id": 1001 + n, "replayed": n == 0}),
            )
            .await;
        }
        let _ = ws.next().await; // until the client closes
    });
    let stream = Client::new(&url).unwrap().stream("s", options()).await.unwrap();
    let sid = stream.id();
    let mut order = Vec::new();
    for i in 0..3 {
        order.push(stream.send(obs(i)).await.unwrap());
    }
    assert_eq!(order, [0, 1, 2]);
    let acked = stream.flush().await.unwrap();
    assert_eq!((acked[&0], acked[&1], acked[&2]), (1000, 1001, 1002));
    let stats = stream.stats();
    assert_eq!(
        (stats.connections, stats.carried, stats.replayed, stats.unacked),
        (2, 2, 1, 0)
    );
    stream.close().await.unwrap();

    let mut msgs = Vec::new();
    while let Ok(m) = seen.try_recv() {
        msgs.push(m);
    }
    let summary: Vec<(usize, i64, String, String)> = msgs
        .iter()
        .map(|(c, m)| {
            (
                *c,
                m["seq"].as_i64().unwrap(),
                m["idempotency_key"].as_str().unwrap().to_string(),
                m["content"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let k = |i: usize| format!("{sid}-{i}");
    assert_eq!(
        summary,
        [
            (1, 1, k(0), "o0".into()),
            (1, 2, k(1), "o1".into()),
            (1, 3, k(2), "o2".into()),
            (2, 1, k(1), "o1".into()), // same keys, new sequence numbers
            (2, 2, k(2), "o2".into()),
        ]
    );
    assert_eq!(msgs[0].1["type"], "observation");
    assert_eq!(msgs[0].1["embedding"], json!([0.0, 1.0]));
}

#[tokio::test]
async fn a_draining_server_is_left_and_the_rest_resent_on_a_new_connection() {
    let (listener, url) = listen().await;
    tokio::spawn(async move {
        let mut ws = accept(&listener).await;
        ready(&mut ws).await;
        recv(&mut ws).await;
        recv(&mut ws).await;
        send(&mut ws, json!({"type": "ack", "seq": 1, "id": 1, "replayed": false})).await;
        send(&mut ws, json!({"type": "draining", "outstanding": 0})).await;
        close(&mut ws, 1001).await;
        let mut ws = accept(&listener).await;
        ready(&mut ws).await;
        let m = recv(&mut ws).await;
        assert!(m["idempotency_key"].as_str().unwrap().ends_with("-1"), "{m}");
        send(
            &mut ws,
            json!({"type": "ack", "seq": m["seq"], "id": 2, "replayed": false}),
        )
        .await;
        let _ = ws.next().await;
    });
    let stream = Client::new(&url).unwrap().stream("s", options()).await.unwrap();
    stream.send(obs(0)).await.unwrap();
    stream.send(obs(1)).await.unwrap();
    let acked = stream.flush().await.unwrap();
    assert_eq!((acked[&0], acked[&1]), (1, 2));
    assert_eq!(stream.stats().connections, 2);
    stream.close().await.unwrap();
}

#[tokio::test]
async fn rejects_are_resent_when_retryable_and_reported_when_not() {
    let (listener, url) = listen().await;
    tokio::spawn(async move {
        let mut ws = accept(&listener).await;
        ready(&mut ws).await;
        let first = recv(&mut ws).await;
        let second = recv(&mut ws).await;
        send(
            &mut ws,
            json!({"type": "reject", "seq": first["seq"], "code": "overloaded", "message": "busy",
                             "retryable": true, "retry_after_ms": 30}),
        )
        .await;
        send(
            &mut ws,
            json!({"type": "reject", "seq": second["seq"], "code": "dimension_mismatch",
                             "message": "embedding has 2 dimensions", "retryable": false}),
        )
        .await;
        let again = recv(&mut ws).await;
        assert_eq!(again["idempotency_key"], first["idempotency_key"]);
        assert_eq!(again["seq"], 3);
        send(&mut ws, json!({"type": "ack", "seq": 3, "id": 77, "replayed": false})).await;
        let _ = ws.next().await;
    });
    let stream = Client::new(&url).unwrap().stream("s", options()).await.unwrap();
    let a = stream.send(obs(0)).await.unwrap();
    let b = stream.send(obs(1)).await.unwrap();
    let acked = stream.flush().await.unwrap();
    assert_eq!(acked.get(&a), Some(&77));
    assert!(!acked.contains_key(&b));
    let failed = stream.failed();
    assert_eq!(failed[&b].code, "dimension_mismatch");
    assert_eq!(failed[&b].kind(), ErrorKind::DimensionMismatch);
    assert_eq!(stream.stats().resent, 1);
    stream.close().await.unwrap();
}

#[tokio::test]
async fn a_fatal_error_ends_the_stream_with_its_code() {
    let (listener, url) = listen().await;
    tokio::spawn(async move {
        let mut ws = accept(&listener).await;
        ready(&mut ws).await;
        recv(&mut ws).await;
        send(
            &mut ws,
            json!({"type": "error", "code": "payload_too_large", "message": "too big", "close": 4413}),
        )
        .await;
        close(&mut ws, 4413).await;
    });
    let stream = Client::new(&url).unwrap().stream("s", options()).await.unwrap();
    stream.send(obs(0)).await.unwrap();
    let err = stream.flush().await.unwrap_err();
    assert_eq!(
        (err.kind(), err.code(), err.status()),
        (ErrorKind::PayloadTooLarge, "payload_too_large", 413)
    );
    let err = stream.send(obs(1)).await.unwrap_err();
    assert_eq!(err.code(), "payload_too_large", "later sends fail too");
    assert!(stream.close().await.is_err());
}

#[tokio::test]
async fn a_refused_stream_fails_when_opened() {
    let (listener, url) = listen().await;
    tokio::spawn(async move {
        let mut ws = accept(&listener).await;
        send(
            &mut ws,
            json!({"type": "error", "code": "unauthenticated", "message": "missing API key"}),
        )
        .await;
        close(&mut ws, 4401).await;
    });
    let err = Client::new(&url).unwrap().stream("s", options()).await.unwrap_err();
    assert_eq!(
        (err.kind(), err.code(), err.status()),
        (ErrorKind::Unauthenticated, "unauthenticated", 401)
    );
}

#[tokio::test]
async fn a_lost_server_fails_the_stream_after_the_reconnect_deadline() {
    let (listener, url) = listen().await;
    tokio::spawn(async move {
        let mut ws = accept(&listener).await;
        ready(&mut ws).await;
        recv(&mut ws).await;
        drop(ws);
        drop(listener); // nobody listens any more
    });
    let mut opts = options();
    opts.reconnect.deadline = Duration::from_millis(200);
    let stream = Client::new(&url).unwrap().stream("s", opts).await.unwrap();
    stream.send(obs(0)).await.unwrap();
    let err = stream.flush().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport, "{err}");
    assert!(err.to_string().contains("not re-established"), "{err}");
}
