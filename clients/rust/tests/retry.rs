//! Retries and error mapping against a scripted local HTTP responder (a tokio TcpListener that
//! answers each connection with the next scripted reply, or drops it after reading the request).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use engram_client::{Client, ConsolidateParams, Encoding, ErrorKind, RememberItem, RememberOptions, RetryPolicy};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone)]
struct Request {
    method: String,
    path: String,
    headers: HashMap<String, String>,
    body: String,
}

impl Request {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }
}

enum Reply {
    /// status, body, extra headers
    Answer(u16, String, Vec<(&'static str, &'static str)>),
    /// read the request, then close the connection without answering
    Drop,
}

fn answer(status: u16, body: impl Into<String>) -> Reply {
    Reply::Answer(status, body.into(), vec![])
}

type Log = Arc<Mutex<Vec<Request>>>;

/// A server answering connection i with replies[i] (500 when they run out).
async fn responder(replies: Vec<Reply>) -> (String, Log) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let log: Log = Arc::default();
    let seen = log.clone();
    tokio::spawn(async move {
        let mut replies = replies.into_iter();
        loop {
            let Ok((mut conn, _)) = listener.accept().await else {
                return;
            };
            let Some(req) = read_request(&mut conn).await else {
                continue;
            };
            seen.lock().unwrap().push(req);
            match replies.next().unwrap_or(answer(500, "{}")) {
                Reply::Drop => drop(conn),
                Reply::Answer(status, body, headers) => {
                    let mut head = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
                         connection: close\r\nx-request-id: rid-{status}\r\n",
                        body.len()
                    );
                    for (k, v) in headers {
                        head.push_str(&format!("{k}: {v}\r\n"));
                    }
                    head.push_str("\r\n");
                    let _ = conn.write_all(head.as_bytes()).await;
                    let _ = conn.write_all(body.as_bytes()).await;
                    let _ = conn.shutdown().await;
                }
            }
        }
    });
    (url, log)
}

async fn read_request(conn: &mut TcpStream) -> Option<Request> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p;
        }
        let n = conn.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, path) = (first.next()?.to_string(), first.next()?.to_string());
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_string()))
        .collect();
    let len: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < len {
        let n = conn.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Request {
        method,
        path,
        headers,
        body: String::from_utf8_lossy(&body).to_string(),
    })
}

fn fast() -> RetryPolicy {
    RetryPolicy {
        attempts: 4,
        base: Duration::from_millis(1),
        max: Duration::from_millis(20),
        deadline: Duration::from_secs(5),
    }
}

fn client(url: &str) -> Client {
    Client::builder(url)
        .api_key("engram_test_secret")
        .retry(fast())
        .build()
        .unwrap()
}

const NOT_READY: &str =
    r#"{"error":{"code":"not_ready","message":"starting","status":503,"request_id":"r1","retry_after_ms":10}}"#;

#[tokio::test]
async fn a_503_then_201_resends_the_same_idempotency_key() {
    let (url, log) = responder(vec![
        answer(503, NOT_READY),
        answer(201, r#"{"id":42,"replayed":false}"#),
    ])
    .await;
    let id = client(&url)
        .space("notes")
        .remember(&[1.0, 0.0], RememberOptions::content("hello"))
        .await
        .unwrap();
    assert_eq!(id, 42);
    let reqs = log.lock().unwrap().clone();
    assert_eq!(reqs.len(), 2, "one retry");
    let keys: Vec<_> = reqs.iter().map(|r| r.headers.get("idempotency-key").cloned()).collect();
    let key = keys[0].clone().expect("an Idempotency-Key on the first try");
    assert_eq!(key.len(), 32, "a random uuid4 hex: {key}");
    assert_eq!(keys[1].as_deref(), Some(key.as_str()), "the retry carries the same key");
    assert_eq!(reqs[0].body, reqs[1].body);
    assert_eq!(
        (reqs[0].method.as_str(), reqs[0].path.as_str()),
        ("POST", "/api/v2/spaces/notes/memories")
    );
    assert_eq!(reqs[0].headers["authorization"], "Bearer engram_test_secret");
    assert_eq!(reqs[0].headers["content-type"], "application/json");
    let body = reqs[0].json();
    assert_eq!(body["content"], "hello");
    assert_eq!(body["embedding"], "AACAPwAAAAA=", "base64 float32 by default");
    assert!(body.get("confidence").is_none(), "unset options are left to the server");
}

#[tokio::test]
async fn each_call_gets_its_own_key_and_the_callers_key_is_used() {
    let (url, log) = responder(vec![
        answer(201, r#"{"ids":[1,2],"replayed":false}"#),
        answer(201, r#"{"ids":[3],"replayed":false}"#),
        answer(201, r#"{"id":4,"replayed":true}"#),
    ])
    .await;
    let c = client(&url);
    let sp = c.space("s");
    let items = vec![RememberItem::new(vec![1.0]), RememberItem::new(vec![2.0])];
    assert_eq!(sp.remember_batch(items).await.unwrap(), [1, 2]);
    assert_eq!(
        sp.remember_batch(vec![RememberItem::new(vec![3.0])]).await.unwrap(),
        [3]
    );
    let options = RememberOptions {
        idempotency_key: Some("mine-1".into()),
        ..Default::default()
    };
    assert_eq!(sp.remember(&[1.0], options).await.unwrap(), 4);
    let reqs = log.lock().unwrap().clone();
    let keys: Vec<_> = reqs.iter().map(|r| r.headers["idempotency-key"].clone()).collect();
    assert_ne!(keys[0], keys[1], "a new key per call");
    assert_eq!(keys[2], "mine-1");
    assert_eq!(reqs[0].path, "/api/v2/spaces/s/memories/batch");
    assert_eq!(reqs[0].json()["items"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn create_space_is_not_resent_after_a_dropped_connection() {
    let (url, log) = responder(vec![Reply::Drop, answer(201, r#"{"name":"x","dim":4,"memories":0}"#)]).await;
    let err = client(&url).create_space("x", 4).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport, "{err}");
    assert_eq!(
        log.lock().unwrap().len(),
        1,
        "an ambiguous failure of a non-idempotent call is not resent"
    );
}

#[tokio::test]
async fn consolidate_is_not_resent_after_a_dropped_connection_or_a_storage_error() {
    let storage = r#"{"error":{"code":"storage_unavailable","message":"disk","status":503,"request_id":"s"}}"#;
    let (url, log) = responder(vec![Reply::Drop, answer(503, storage)]).await;
    let sp = client(&url).space("s");
    let err = sp.consolidate(ConsolidateParams::default()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport);
    let err = sp.consolidate(ConsolidateParams::default()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage);
    assert_eq!(log.lock().unwrap().len(), 2, "one try each");
}

#[tokio::test]
async fn reads_are_resent_after_a_dropped_connection_or_a_storage_error() {
    let storage = r#"{"error":{"code":"storage_unavailable","message":"disk","status":503,"request_id":"s"}}"#;
    let (url, log) = responder(vec![
        Reply::Drop,
        answer(200, r#"{"spaces":["a","b"]}"#),
        answer(503, storage),
        answer(200, r#"{"results":[{"id":7,"score":0.5}]}"#),
    ])
    .await;
    let c = client(&url);
    assert_eq!(c.spaces().await.unwrap(), ["a", "b"]);
    let hits = c.space("s").search(&[1.0], 3, Some(16)).await.unwrap();
    assert_eq!((hits[0].id, hits[0].score), (7, 0.5));
    let reqs = log.lock().unwrap().clone();
    assert_eq!(reqs.len(), 4);
    assert_eq!(reqs[3].json()["k"], 3);
    assert_eq!(reqs[3].json()["ef"], 16);
}

#[tokio::test]
async fn retries_are_bounded_by_the_attempts() {
    let busy = r#"{"error":{"code":"overloaded","message":"busy","status":429,"request_id":"b"}}"#;
    let (url, log) = responder((0..6).map(|_| answer(429, busy)).collect()).await;
    let c = Client::builder(&url)
        .retry(RetryPolicy { attempts: 3, ..fast() })
        .build()
        .unwrap();
    let err = c.spaces().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Overloaded);
    assert_eq!((err.code(), err.status(), err.request_id()), ("overloaded", 429, "b"));
    assert_eq!(log.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn retry_after_is_honoured_and_the_deadline_bounds_the_retries() {
    let busy = r#"{"error":{"code":"overloaded","message":"busy","status":429,"request_id":"b"}}"#;
    let (url, log) = responder(vec![
        Reply::Answer(429, busy.into(), vec![("retry-after", "0.2")]),
        answer(200, r#"{"spaces":[]}"#),
    ])
    .await;
    let t = Instant::now();
    let patient = RetryPolicy {
        max: Duration::from_millis(100), // hints are honoured up to 4 * max
        ..fast()
    };
    Client::builder(&url)
        .retry(patient)
        .build()
        .unwrap()
        .spaces()
        .await
        .unwrap();
    assert!(t.elapsed() >= Duration::from_millis(200), "waited {:?}", t.elapsed());
    assert_eq!(log.lock().unwrap().len(), 2);

    // a hint of 150 ms: the second retry would start after the 200 ms deadline
    let slow = r#"{"error":{"code":"not_ready","message":"m","status":503,"request_id":"n","retry_after_ms":150}}"#;
    let (url, log) = responder((0..5).map(|_| answer(503, slow)).collect()).await;
    let c = Client::builder(&url)
        .retry(RetryPolicy {
            attempts: 10,
            max: Duration::from_millis(100),
            deadline: Duration::from_millis(200),
            ..fast()
        })
        .build()
        .unwrap();
    let err = c.spaces().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ServiceUnavailable);
    assert_eq!(err.retry_after(), Some(Duration::from_millis(150)));
    assert_eq!(
        log.lock().unwrap().len(),
        2,
        "stopped by the deadline, not the attempts"
    );
}

#[tokio::test]
async fn errors_map_to_kinds_and_are_not_retried() {
    let (url, log) = responder(vec![
        answer(
            404,
            r#"{"error":{"code":"space_not_found","message":"no space 'x'","status":404,"request_id":"q1"}}"#,
        ),
        answer(
            409,
            r#"{"error":{"code":"idempotency_conflict","message":"other payload","status":409,"request_id":"q2"}}"#,
        ),
        answer(
            400,
            r#"{"error":{"code":"dimension_mismatch","message":"dims","status":400,"request_id":"q3"}}"#,
        ),
        answer(
            507,
            r#"{"error":{"code":"memory_pressure","message":"full","status":507,"request_id":"q4"}}"#,
        ),
        answer(500, "not json"),
        answer(
            404,
            r#"{"error":{"code":"route_not_found","message":"no route","status":404,"request_id":"q6"}}"#,
        ),
        answer(200, "not json either"),
    ])
    .await;
    let c = client(&url);
    let sp = c.space("x");
    let e = sp.get(1).await.unwrap_err();
    assert_eq!(
        (e.kind(), e.code(), e.status(), e.request_id()),
        (ErrorKind::SpaceNotFound, "space_not_found", 404, "q1")
    );
    assert_eq!(e.to_string(), "no space 'x' [space_not_found, HTTP 404, request q1]");
    let e = sp.remember(&[1.0], RememberOptions::default()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::IdempotencyConflict);
    let e = sp.remember(&[1.0], RememberOptions::default()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::DimensionMismatch);
    let e = sp.remember(&[1.0], RememberOptions::default()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::MemoryPressure, "507 is not retried");
    let e = sp.forget(1).await.unwrap_err();
    assert_eq!(
        (e.kind(), e.code(), e.status(), e.request_id()),
        (ErrorKind::Server, "", 500, "rid-500")
    );
    let e = sp.concepts().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RouteNotFound);
    let e = sp.concepts().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transport, "an unreadable answer: {e}");
    assert_eq!(log.lock().unwrap().len(), 7, "none retried");
}

#[tokio::test]
async fn a_refused_connection_is_a_transport_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let err = client(&url).create_space("x", 4).await.unwrap_err();
    assert_eq!((err.kind(), err.code(), err.status()), (ErrorKind::Transport, "", 0));
}

#[tokio::test]
async fn the_api_version_and_the_encoding_are_settings() {
    let (url, log) = responder(vec![answer(200, r#"{"results":[]}"#)]).await;
    let c = Client::builder(format!("{url}/"))
        .api_version("v2")
        .embeddings(Encoding::Json)
        .retry(fast())
        .build()
        .unwrap();
    assert_eq!(c.api_prefix(), "/api/v2");
    c.space("a b").search(&[0.5, 1.0], 2, None).await.unwrap();
    let req = log.lock().unwrap()[0].clone();
    assert_eq!(req.path, "/api/v2/spaces/a%20b/search");
    assert_eq!(req.json(), serde_json::json!({"embedding": [0.5, 1.0], "k": 2}));
    assert!(!req.headers.contains_key("authorization"), "no key, no header");
    assert!(req.headers["user-agent"].starts_with("engram-client-rust/"));
    assert!(Client::new("127.0.0.1:1").is_err(), "a URL without a scheme is refused");
    assert_eq!(Client::new(&url).unwrap().api_prefix(), "/api/v2", "v2 by default");
    let v1 = Client::builder(&url).api_version("v1").build().unwrap();
    assert_eq!(v1.api_prefix(), "/api/v1");
    for bad in [
        Client::builder(&url).page_limit(0).build(),
        Client::builder(&url).page_limit(1001).build(),
        Client::builder(&url).max_pages(0).build(),
        Client::builder(&url).api_version("v1/../x").build(),
    ] {
        assert_eq!(bad.unwrap_err().kind(), ErrorKind::Transport, "a configuration error");
    }
}

/// Captures this crate's warnings (the one logger of this test binary).
struct Capture;
static WARNINGS: Mutex<Vec<String>> = Mutex::new(Vec::new());

impl log::Log for Capture {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= log::Level::Warn
    }
    fn log(&self, r: &log::Record<'_>) {
        if self.enabled(r.metadata()) && r.target().starts_with("engram_client") {
            WARNINGS.lock().unwrap().push(r.args().to_string());
        }
    }
    fn flush(&self) {}
}

#[tokio::test]
async fn a_deprecated_route_is_told_once_per_route() {
    static CAPTURE: Capture = Capture;
    let _ = log::set_logger(&CAPTURE);
    log::set_max_level(log::LevelFilter::Warn);
    let deprecated = || {
        vec![
            ("deprecation", "@1796601600"),
            ("sunset", "Wed, 01 Jul 2027 00:00:00 GMT"),
            ("link", "</api/migration/v1-to-v2>; rel=\"deprecation\""),
        ]
    };
    let (url, _log) = responder(vec![
        Reply::Answer(200, r#"{"concepts":[]}"#.into(), deprecated()),
        Reply::Answer(200, r#"{"concepts":[]}"#.into(), deprecated()),
        Reply::Answer(200, r#"{"neighbors":[]}"#.into(), deprecated()),
        answer(200, r#"{"neighbors":[]}"#),
    ])
    .await;
    let sp = Client::builder(&url)
        .api_version("v1")
        .retry(fast())
        .build()
        .unwrap()
        .space("deprecation-test");
    sp.concepts().await.unwrap();
    sp.concepts().await.unwrap();
    sp.neighbors(1).await.unwrap();
    sp.neighbors(2).await.unwrap();
    let told: Vec<String> = WARNINGS
        .lock()
        .unwrap()
        .iter()
        .filter(|w| w.contains("deprecated"))
        .cloned()
        .collect();
    assert_eq!(told.len(), 2, "{told:#?}");
    assert!(
        told[0].starts_with("GET /api/v1/spaces/{space}/concepts is deprecated"),
        "{}",
        told[0]
    );
    assert!(
        told[0].contains("Wed, 01 Jul 2027") && told[0].contains("/api/migration/v1-to-v2"),
        "{}",
        told[0]
    );
    assert!(
        told[1].starts_with("GET /api/v1/spaces/{space}/memories/{memory_id}/neighbors"),
        "{}",
        told[1]
    );
}

/// `?limit=...&cursor=...` of a request path, percent-decoded.
fn query(path: &str) -> (String, HashMap<String, String>) {
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let decode = |s: &str| {
        let bytes = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).expect("a %XX escape"));
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).expect("UTF-8")
    };
    let params = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect();
    (path.to_string(), params)
}

/// The cursors of three pages (the first page has none); they have characters a query string
/// must encode, and come back as given.
const CURSORS: [Option<&str>; 3] = [None, Some("c/1 +&=x"), Some("c2%")];

fn seen_pages(log: &Log) -> Vec<(String, Option<String>, Option<String>)> {
    log.lock()
        .unwrap()
        .iter()
        .map(|r| {
            let (path, q) = query(&r.path);
            (path, q.get("limit").cloned(), q.get("cursor").cloned())
        })
        .collect()
}

fn expected_pages(path: &str, limit: &str) -> Vec<(String, Option<String>, Option<String>)> {
    CURSORS
        .iter()
        .map(|c| (path.to_string(), Some(limit.to_string()), c.map(str::to_string)))
        .collect()
}

#[tokio::test]
async fn v2_lists_are_followed_through_their_pages() {
    let (url, log) = responder(vec![
        answer(200, r#"{"spaces":["a","b"],"next_cursor":"c/1 +&=x"}"#),
        answer(200, r#"{"spaces":["c","d"],"next_cursor":"c2%"}"#),
        answer(200, r#"{"spaces":["e","f"],"next_cursor":null}"#),
    ])
    .await;
    assert_eq!(client(&url).spaces().await.unwrap(), ["a", "b", "c", "d", "e", "f"]);
    assert_eq!(seen_pages(&log), expected_pages("/api/v2/spaces", "1000"));

    let (url, log) = responder(vec![
        answer(
            200,
            r#"{"neighbors":[{"id":"1","weight":0.1,"kind":"association"},{"id":2,"weight":0.2,"kind":"binding"}],"next_cursor":"c/1 +&=x"}"#,
        ),
        answer(
            200,
            r#"{"neighbors":[{"id":"3","weight":0.3,"kind":"association"},{"id":"4","weight":0.4,"kind":"association"}],"next_cursor":"c2%"}"#,
        ),
        answer(
            200,
            r#"{"neighbors":[{"id":"5","weight":0.5,"kind":"association"},{"id":"9223372036854775807","weight":0.6,"kind":"association"}],"next_cursor":null}"#,
        ),
    ])
    .await;
    let got = client(&url).space("x y").neighbors(9).await.unwrap();
    let ids: Vec<i64> = got.iter().map(|n| n.id).collect();
    assert_eq!(ids, [1, 2, 3, 4, 5, i64::MAX], "ids as strings, up to 2^63 - 1");
    assert_eq!(got[1].kind, "binding");
    assert_eq!(
        seen_pages(&log),
        expected_pages("/api/v2/spaces/x%20y/memories/9/neighbors", "1000")
    );

    let concept = |id: u32| -> String {
        format!(
            r#"{{"id":"{id}","centroid":[1.0],"coherence":0.9,"confidence":0.8,"formed_at":1.0,"updated_at":2.0,"members":["7",8]}}"#
        )
    };
    let bodies = [
        format!(
            r#"{{"concepts":[{},{}],"next_cursor":"c/1 +&=x"}}"#,
            concept(1),
            concept(2)
        ),
        format!(r#"{{"concepts":[{},{}],"next_cursor":"c2%"}}"#, concept(3), concept(4)),
        format!(r#"{{"concepts":[{},{}],"next_cursor":null}}"#, concept(5), concept(6)),
    ];
    let (url, log) = responder(bodies.into_iter().map(|b| answer(200, b)).collect()).await;
    let concepts = client(&url).space("s").concepts().await.unwrap();
    assert_eq!(concepts.iter().map(|c| c.id).collect::<Vec<_>>(), [1, 2, 3, 4, 5, 6]);
    assert_eq!(concepts[5].members, [7, 8]);
    assert_eq!(seen_pages(&log), expected_pages("/api/v2/spaces/s/concepts", "1000"));

    let (url, log) = responder(vec![
        answer(200, r#"{"members":["11","12"],"next_cursor":"c/1 +&=x"}"#),
        answer(200, r#"{"members":[13,"14"],"next_cursor":"c2%"}"#),
        answer(200, r#"{"members":["15","16"],"next_cursor":null}"#),
    ])
    .await;
    let c = Client::builder(&url).page_limit(2).retry(fast()).build().unwrap();
    assert_eq!(c.space("s").concept_members(7).await.unwrap(), [11, 12, 13, 14, 15, 16]);
    assert_eq!(
        seen_pages(&log),
        expected_pages("/api/v2/spaces/s/concepts/7/members", "2"),
        "page_limit sets the limit"
    );
}

#[tokio::test]
async fn a_failed_page_is_retried_alone_and_v1_lists_are_one_request() {
    let (url, log) = responder(vec![
        answer(200, r#"{"spaces":["a","b"],"next_cursor":"c/1 +&=x"}"#),
        answer(503, NOT_READY),
        answer(200, r#"{"spaces":["c","d"],"next_cursor":"c2%"}"#),
        answer(200, r#"{"spaces":["e","f"],"next_cursor":null}"#),
    ])
    .await;
    assert_eq!(client(&url).spaces().await.unwrap(), ["a", "b", "c", "d", "e", "f"]);
    let cursors: Vec<_> = seen_pages(&log).into_iter().map(|(_, _, c)| c).collect();
    let given = |i: usize| CURSORS[i].map(str::to_string);
    assert_eq!(cursors, [given(0), given(1), given(1), given(2)]);

    let (url, log) = responder(vec![answer(200, r#"{"spaces":["a","b","c"]}"#)]).await;
    let v1 = Client::builder(&url).api_version("v1").retry(fast()).build().unwrap();
    assert_eq!(v1.spaces().await.unwrap(), ["a", "b", "c"]);
    assert_eq!(log.lock().unwrap()[0].path, "/api/v1/spaces", "no paging in v1");
}

#[tokio::test]
async fn a_list_that_never_ends_fails_after_max_pages() {
    let (url, log) = responder(
        (0..10)
            .map(|_| answer(200, r#"{"spaces":["again"],"next_cursor":"more"}"#))
            .collect(),
    )
    .await;
    let c = Client::builder(&url).max_pages(4).retry(fast()).build().unwrap();
    let err = c.spaces().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport);
    assert!(err.to_string().contains("did not end after 4 pages"), "{err}");
    assert_eq!(log.lock().unwrap().len(), 4);
}

#[tokio::test]
async fn the_v2_error_field_is_read() {
    let (url, _log) = responder(vec![answer(
        400,
        r#"{"error":{"code":"invalid_input","message":"bad","status":400,"request_id":"f","field":"/items/1/embedding","retry_after_ms":null}}"#,
    )])
    .await;
    let items = vec![RememberItem::new(vec![1.0]), RememberItem::new(vec![])];
    let err = client(&url).space("s").remember_batch(items).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(err.field(), Some("/items/1/embedding"));
    assert_eq!(err.api().unwrap().field.as_deref(), Some("/items/1/embedding"));
    assert_eq!(err.retry_after(), None);
}
