//! Streaming ingestion with automatic reconnection: [`crate::Client::stream`].
//!
//! The protocol (a WebSocket at `/api/v2/spaces/{space}/stream` (or `/api/v1/...`), JSON text frames): the client
//! sends `{type: "observation", seq, embedding, content, confidence, timestamp, metadata,
//! idempotency_key}` with increasing `seq` (per connection); the server sends `ready` first,
//! then in seq order `ack {seq, id, replayed}` once an observation is stored, or
//! `reject {seq, code, message, retryable, retry_after_ms?}`; `flow {state, queue_depth}` as its
//! queue fills; `draining` at shutdown (then closes with 1001); and `error {code, message,
//! close}` before closing with 4400, 4413 or 4429.
//!
//! As the Python client's `engram/client/stream.py`: every observation gets an idempotency key
//! (`<stream id>-<index>`) and stays in memory until the server acknowledges it. After a lost
//! connection the stream reconnects (exponential backoff with jitter) and resends everything
//! not yet acknowledged, in order; the server recognises the keys, so nothing is stored twice.
//! Flow messages slow the sender down, retryable rejects are resent after their delay, and the
//! number of unacknowledged observations is bounded ([`ObservationStream::send`] waits), so
//! memory stays bounded too.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::error::{ApiError, Error, Result};
use crate::retry::{random_key, unit, RetryPolicy};
use crate::types::{MemoryId, Metadata};
use crate::wire::StreamObservation;

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Settings of an [`ObservationStream`].
#[derive(Debug, Clone)]
pub struct StreamOptions {
    /// The most observations in flight on a connection (lowered to the server's
    /// `max_outstanding`).
    pub window: usize,
    /// The most unacknowledged observations; [`ObservationStream::send`] waits beyond it.
    pub max_buffered: usize,
    /// Reconnection after a lost connection. The default rides out a partition of up to a
    /// minute: the deadline bounds it, not a count of tries.
    pub reconnect: RetryPolicy,
    /// The limit of opening a connection and receiving its `ready`.
    pub open_timeout: Duration,
    /// How long [`ObservationStream::send`] waits for room in the buffer.
    pub send_timeout: Duration,
    /// How long [`ObservationStream::flush`] (and `close`) wait for the acknowledgements.
    pub flush_timeout: Duration,
}

impl Default for StreamOptions {
    fn default() -> Self {
        StreamOptions {
            window: 256,
            max_buffered: 10_000,
            reconnect: RetryPolicy {
                attempts: 1_000,
                base: Duration::from_millis(50),
                max: Duration::from_secs(2),
                deadline: Duration::from_secs(60),
            },
            open_timeout: Duration::from_secs(10),
            send_timeout: Duration::from_secs(60),
            flush_timeout: Duration::from_secs(60),
        }
    }
}

/// One observation for [`ObservationStream::send`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observation {
    pub embedding: Vec<f32>,
    pub content: Option<String>,
    pub confidence: Option<f32>,
    pub timestamp: Option<f64>,
    pub metadata: Option<Metadata>,
    /// Default: `<stream id>-<index>`.
    pub idempotency_key: Option<String>,
}

impl Observation {
    pub fn new(embedding: impl Into<Vec<f32>>) -> Self {
        Observation {
            embedding: embedding.into(),
            ..Default::default()
        }
    }

    pub fn content(mut self, content: impl Into<String>) -> Self {
        self.content = Some(content.into());
        self
    }
}

/// Counters of a stream ([`ObservationStream::stats`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StreamStats {
    /// Connections opened (1 plus the reconnections).
    pub connections: u64,
    pub unacked: usize,
    pub acked: usize,
    pub failed: usize,
    /// Acks of observations the server already had (after a lost ack).
    pub replayed: u64,
    /// Retryable rejects, sent again after their delay.
    pub resent: u64,
    /// Unacknowledged observations carried over to a new connection.
    pub carried: u64,
    /// The last backpressure level the server sent.
    pub flow_state: String,
}

// ---------------------------------------------------------------------------------- the book

/// The state of a stream without any I/O: what is unacknowledged, what to (re)send next.
#[derive(Debug)]
pub(crate) struct Book {
    pub(crate) stream_id: String,
    window: usize,
    payloads: HashMap<u64, StreamObservation>, // index -> message, until acknowledged
    outbox: VecDeque<u64>,                     // indexes to send, in order
    inflight: BTreeMap<i64, u64>,              // seq -> index, on the current connection
    delayed: Vec<(Instant, u64)>,              // (not before, index) after a retryable reject
    acked: HashMap<u64, MemoryId>,
    failed: HashMap<u64, ApiError>,
    replayed: u64,
    resent: u64,
    carried: u64,
    next_index: u64,
    next_seq: i64,
    pause_until: Option<Instant>,
    flow_state: String,
}

impl Book {
    pub(crate) fn new(stream_id: String, window: usize) -> Book {
        Book {
            stream_id,
            window: window.max(1),
            payloads: HashMap::new(),
            outbox: VecDeque::new(),
            inflight: BTreeMap::new(),
            delayed: Vec::new(),
            acked: HashMap::new(),
            failed: HashMap::new(),
            replayed: 0,
            resent: 0,
            carried: 0,
            next_index: 0,
            next_seq: 1,
            pause_until: None,
            flow_state: "normal".into(),
        }
    }

    pub(crate) fn add(&mut self, obs: Observation) -> u64 {
        let i = self.next_index;
        self.next_index += 1;
        let key = obs.idempotency_key.unwrap_or_else(|| format!("{}-{i}", self.stream_id));
        self.payloads.insert(
            i,
            StreamObservation {
                kind: "observation",
                seq: 0,
                embedding: obs.embedding,
                content: obs.content,
                confidence: obs.confidence,
                timestamp: obs.timestamp,
                metadata: obs.metadata,
                idempotency_key: key,
            },
        );
        self.outbox.push_back(i);
        i
    }

    pub(crate) fn unacked(&self) -> usize {
        self.payloads.len()
    }

    fn pause(&mut self, until: Instant) {
        self.pause_until = Some(self.pause_until.map_or(until, |p| p.max(until)));
    }

    /// The next observation to put on the wire, or None (window full, paused, nothing to send).
    pub(crate) fn next_message(&mut self, now: Instant) -> Option<String> {
        if !self.delayed.is_empty() {
            let (mut ready, later): (Vec<_>, Vec<_>) = self.delayed.iter().partition(|d| d.0 <= now);
            self.delayed = later;
            ready.sort_by_key(|d| std::cmp::Reverse(d.1));
            for (_, i) in ready {
                self.outbox.push_front(i);
            }
        }
        if self.outbox.is_empty() || self.inflight.len() >= self.window || self.pause_until.is_some_and(|p| now < p) {
            return None;
        }
        let i = self.outbox.pop_front()?;
        let seq = self.next_seq;
        self.next_seq += 1;
        self.inflight.insert(seq, i);
        let payload = self.payloads.get_mut(&i)?;
        payload.seq = seq;
        Some(serde_json::to_string(payload).expect("an observation serializes"))
    }

    /// When there may be something to send that is waiting on time (a pause, a delayed resend).
    pub(crate) fn next_wake(&self, now: Instant) -> Option<Instant> {
        let mut t = self.delayed.iter().map(|d| d.0).min();
        if let Some(p) = self.pause_until {
            if p > now && !self.outbox.is_empty() && self.inflight.len() < self.window {
                t = Some(t.map_or(p, |x| x.min(p)));
            }
        }
        t
    }

    pub(crate) fn on_message(&mut self, msg: &Value, now: Instant) {
        let seq = msg.get("seq").and_then(Value::as_i64);
        match msg.get("type").and_then(Value::as_str) {
            Some("ack") => {
                let Some(i) = seq.and_then(|s| self.inflight.remove(&s)) else {
                    return;
                };
                let Some(id) = msg.get("id").and_then(crate::types::id::of_value) else {
                    return;
                };
                if self.payloads.remove(&i).is_some() {
                    self.acked.insert(i, id);
                    self.replayed += u64::from(msg.get("replayed").and_then(Value::as_bool).unwrap_or(false));
                }
            }
            Some("reject") => {
                let Some(i) = seq.and_then(|s| self.inflight.remove(&s)) else {
                    return;
                };
                if msg.get("retryable").and_then(Value::as_bool).unwrap_or(false) {
                    self.resent += 1;
                    let ms = msg
                        .get("retry_after_ms")
                        .and_then(Value::as_f64)
                        .unwrap_or(50.0)
                        .max(0.0);
                    let delay = Duration::from_secs_f64(ms / 1000.0 * (1.0 + 0.5 * unit()));
                    self.delayed.push((now + delay, i));
                    self.pause(now + delay / 2);
                } else if self.payloads.remove(&i).is_some() {
                    self.failed.insert(i, ApiError::from_error_object(400, msg, "", None));
                }
            }
            Some("flow") => {
                // critical is the backpressure signal (80% full); slow_down is its name before
                // milestone 11's four levels, still sent by older servers
                let state = msg.get("state").and_then(Value::as_str).unwrap_or("");
                self.flow_state = state.to_string();
                match state {
                    "critical" | "slow_down" => self.pause(now + Duration::from_millis(2)),
                    "overloaded" => self.pause(now + Duration::from_millis(50)),
                    _ => {}
                }
            }
            Some("ready") => {
                if let Some(n) = msg.get("max_outstanding").and_then(Value::as_u64) {
                    self.window = self.window.min(n as usize).max(1);
                }
            }
            Some("draining") => self.pause(now + Duration::from_millis(500)), // resend after reconnecting
            _ => {}
        }
    }

    /// Everything in flight goes back to the front of the outbox, in index order.
    pub(crate) fn on_disconnect(&mut self) {
        let mut back: Vec<u64> = self.inflight.values().copied().collect();
        back.sort_unstable_by(|a, b| b.cmp(a));
        for i in back {
            self.outbox.push_front(i);
        }
        self.inflight.clear();
        self.next_seq = 1; // sequence numbers are per connection
    }

    /// A new connection opened after a loss: everything unacknowledged goes out on it.
    pub(crate) fn on_reconnect(&mut self) {
        self.carried += self.unacked() as u64;
    }
}

// ---------------------------------------------------------------------------------- the stream

struct State {
    book: Book,
    error: Option<Error>,
    closing: bool,
    connections: u64,
}

struct Shared {
    state: Mutex<State>,
    wake: Notify,                // the I/O task: something to send, or closing
    changed: watch::Sender<u64>, // the callers: acks, rejects, an error
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn bump(&self) {
        self.changed.send_modify(|v| *v = v.wrapping_add(1));
    }

    fn fail(&self, error: Error) {
        let mut st = self.lock();
        if st.error.is_none() {
            st.error = Some(error);
        }
        drop(st);
        self.bump();
    }
}

struct Target {
    url: String,
    api_key: Option<String>,
    open_timeout: Duration,
    reconnect: RetryPolicy,
}

/// A reconnecting stream of observations into one space ([`crate::Client::stream`]).
///
/// ```no_run
/// # async fn demo(client: engram_client::Client) -> engram_client::Result<()> {
/// use engram_client::{Observation, StreamOptions};
/// let stream = client.stream("science", StreamOptions::default()).await?;
/// let i = stream.send(Observation::new(vec![0.1, 0.2, 0.3, 0.4]).content("...")).await?;
/// let ids = stream.flush().await?; // index -> memory id, once all are acknowledged
/// println!("{}", ids[&i]);
/// stream.close().await?;
/// # Ok(()) }
/// ```
///
/// Dropping it without [`close`](Self::close) abandons what is unacknowledged.
pub struct ObservationStream {
    shared: Arc<Shared>,
    task: Option<JoinHandle<()>>,
    url: String,
    max_buffered: usize,
    send_timeout: Duration,
    flush_timeout: Duration,
}

impl std::fmt::Debug for ObservationStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObservationStream")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl ObservationStream {
    pub(crate) async fn open(url: String, api_key: Option<String>, options: StreamOptions) -> Result<Self> {
        let target = Target {
            url: url.clone(),
            api_key,
            open_timeout: options.open_timeout,
            reconnect: options.reconnect.clone(),
        };
        let (ws, first) = connect(&target).await?; // fail fast on a bad URL, key or space
        let mut book = Book::new(random_key(), options.window);
        book.on_message(&first, Instant::now());
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                book,
                error: None,
                closing: false,
                connections: 1,
            }),
            wake: Notify::new(),
            changed: watch::channel(0).0,
        });
        let task = tokio::spawn(run(shared.clone(), ws, target));
        Ok(ObservationStream {
            shared,
            task: Some(task),
            url,
            max_buffered: options.max_buffered.max(1),
            send_timeout: options.send_timeout,
            flush_timeout: options.flush_timeout,
        })
    }

    /// The stream's id (the prefix of its idempotency keys).
    pub fn id(&self) -> String {
        self.shared.lock().book.stream_id.clone()
    }

    /// Queues one observation; returns its index (0, 1, ... in send order). Waits while
    /// `max_buffered` observations are unacknowledged (at most `send_timeout`).
    pub async fn send(&self, observation: Observation) -> Result<u64> {
        let deadline = tokio::time::Instant::now() + self.send_timeout;
        let mut changed = self.shared.changed.subscribe();
        let mut observation = Some(observation);
        loop {
            {
                let mut st = self.shared.lock();
                if let Some(e) = &st.error {
                    return Err(e.clone());
                }
                if st.book.unacked() < self.max_buffered {
                    let i = st.book.add(observation.take().expect("sent once"));
                    drop(st);
                    self.shared.wake.notify_one();
                    return Ok(i);
                }
            }
            self.wait(&mut changed, deadline, self.send_timeout, "for room in the buffer")
                .await?;
        }
    }

    async fn wait(
        &self,
        changed: &mut watch::Receiver<u64>,
        deadline: tokio::time::Instant,
        limit: Duration,
        what: &str,
    ) -> Result<()> {
        match tokio::time::timeout_at(deadline, changed.changed()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(Error::Transport(format!("the stream {} is gone", self.url))),
            Err(_) => Err(Error::Transport(format!(
                "waited {limit:?} {what}: {} observations still unacknowledged on {}",
                self.shared.lock().book.unacked(),
                self.url
            ))),
        }
    }

    /// Waits until every observation is acknowledged (or refused for good, see
    /// [`failed`](Self::failed)); returns index -> memory id.
    pub async fn flush(&self) -> Result<HashMap<u64, MemoryId>> {
        let deadline = tokio::time::Instant::now() + self.flush_timeout;
        let mut changed = self.shared.changed.subscribe();
        loop {
            {
                let st = self.shared.lock();
                if let Some(e) = &st.error {
                    return Err(e.clone());
                }
                if st.book.unacked() == 0 {
                    return Ok(st.book.acked.clone());
                }
            }
            self.wait(&mut changed, deadline, self.flush_timeout, "for the acknowledgements")
                .await?;
        }
    }

    /// Observations the server refused for good (bad input), by index.
    pub fn failed(&self) -> HashMap<u64, ApiError> {
        self.shared.lock().book.failed.clone()
    }

    /// The stream's counters.
    pub fn stats(&self) -> StreamStats {
        let st = self.shared.lock();
        StreamStats {
            connections: st.connections,
            unacked: st.book.unacked(),
            acked: st.book.acked.len(),
            failed: st.book.failed.len(),
            replayed: st.book.replayed,
            resent: st.book.resent,
            carried: st.book.carried,
            flow_state: st.book.flow_state.clone(),
        }
    }

    /// Flushes, then closes the connection. Returns the flush's error, if any.
    pub async fn close(mut self) -> Result<()> {
        let flushed = self.flush().await.map(|_| ());
        self.shared.lock().closing = true;
        self.shared.wake.notify_one();
        if let Some(mut task) = self.task.take() {
            if tokio::time::timeout(Duration::from_secs(5), &mut task).await.is_err() {
                task.abort();
            }
        }
        flushed
    }
}

impl Drop for ObservationStream {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            self.shared.lock().closing = true;
            task.abort();
        }
    }
}

// ---------------------------------------------------------------------------------- I/O

enum End {
    /// Closing, and nothing left unacknowledged.
    Closed,
    /// The server ended the stream for a reason retrying cannot fix.
    Fatal(Error),
    /// The connection was lost: reconnect and resend.
    Lost(String),
}

async fn run(shared: Arc<Shared>, mut ws: Ws, target: Target) {
    loop {
        match pump(&shared, &mut ws).await {
            End::Closed => {
                let _ = tokio::time::timeout(Duration::from_secs(2), ws.close(None)).await;
                return;
            }
            End::Fatal(e) => {
                log::warn!("the stream {} ended: {e}", target.url);
                shared.fail(e);
                let _ = tokio::time::timeout(Duration::from_secs(2), ws.close(None)).await;
                return;
            }
            End::Lost(why) => {
                let mut st = shared.lock();
                st.book.on_disconnect();
                if st.closing {
                    return;
                }
                log::warn!(
                    "the stream {} was lost ({why}); reconnecting with {} unacknowledged",
                    target.url,
                    st.book.unacked()
                );
            }
        }
        match reconnect(&shared, &target).await {
            Some(new_ws) => ws = new_ws,
            None => return,
        }
    }
}

async fn reconnect(shared: &Shared, target: &Target) -> Option<Ws> {
    let policy = &target.reconnect;
    let start = Instant::now();
    let mut last: Option<Error> = None;
    for attempt in 0..policy.attempts.max(1) {
        tokio::time::sleep(policy.delay(attempt, None)).await;
        if shared.lock().closing {
            return None;
        }
        match connect(target).await {
            Ok((ws, first)) => {
                let mut st = shared.lock();
                st.connections += 1;
                st.book.on_reconnect();
                st.book.on_message(&first, Instant::now());
                drop(st);
                shared.bump();
                log::info!("the stream {} reconnected", target.url);
                return Some(ws);
            }
            Err(e) => {
                let hopeless = matches!(e.status(), 401 | 403 | 404); // will not get better
                last = Some(e);
                if hopeless {
                    break;
                }
            }
        }
        if start.elapsed() > policy.deadline {
            break;
        }
    }
    let error = match last {
        Some(Error::Api(e)) => Error::Api(e),
        other => Error::Transport(format!(
            "the stream {} was lost and not re-established: {}",
            target.url,
            other.map_or_else(|| "no try".to_string(), |e| e.to_string())
        )),
    };
    log::warn!("{error}");
    shared.fail(error);
    None
}

async fn pump(shared: &Shared, ws: &mut Ws) -> End {
    loop {
        let now = Instant::now();
        let (out, wake_at) = {
            let mut st = shared.lock();
            if st.closing && st.book.unacked() == 0 {
                return End::Closed;
            }
            let mut out = Vec::new();
            while let Some(m) = st.book.next_message(now) {
                out.push(m);
            }
            (out, st.book.next_wake(now))
        };
        if !out.is_empty() {
            for m in out {
                if let Err(e) = ws.feed(Message::text(m)).await {
                    return End::Lost(e.to_string());
                }
            }
            if let Err(e) = ws.flush().await {
                return End::Lost(e.to_string());
            }
        }
        let nap = wake_at.map_or(Duration::from_secs(1), |t| t.saturating_duration_since(now));
        tokio::select! {
            msg = ws.next() => match msg {
                None => return End::Lost("the connection closed".into()),
                Some(Err(e)) => return End::Lost(e.to_string()),
                Some(Ok(Message::Text(text))) => {
                    if let Some(end) = handle(shared, text.as_str()) {
                        return end;
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    return End::Lost(match frame {
                        Some(f) => format!("closed by the server: {} {}", u16::from(f.code), f.reason),
                        None => "closed by the server".into(),
                    });
                }
                Some(Ok(_)) => {} // pings are answered by tungstenite
            },
            _ = shared.wake.notified() => {}
            _ = tokio::time::sleep(nap) => {}
        }
    }
}

fn handle(shared: &Shared, text: &str) -> Option<End> {
    let msg: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => return Some(End::Fatal(Error::Transport(format!("unreadable stream message: {e}")))),
    };
    if msg.get("type").and_then(Value::as_str) == Some("error") {
        let status = close_status(msg.get("close").and_then(Value::as_u64)).unwrap_or(400);
        return Some(End::Fatal(Error::Api(ApiError::from_error_object(
            status, &msg, "", None,
        ))));
    }
    shared.lock().book.on_message(&msg, Instant::now());
    shared.bump();
    None
}

/// The HTTP status of an application close code (4000 + status).
fn close_status(code: Option<u64>) -> Option<u16> {
    code.filter(|c| (4100..5000).contains(c)).map(|c| (c - 4000) as u16)
}

async fn connect(target: &Target) -> Result<(Ws, Value)> {
    let url = &target.url;
    let mut req = url
        .as_str()
        .into_client_request()
        .map_err(|e| Error::Config(format!("bad stream URL {url}: {e}")))?;
    if let Some(key) = &target.api_key {
        let v = HeaderValue::from_str(&format!("Bearer {key}"))
            .map_err(|_| Error::Config("the API key is not a valid header value".into()))?;
        req.headers_mut().insert("authorization", v);
    }
    let opened = tokio::time::timeout(
        target.open_timeout,
        tokio_tungstenite::connect_async_with_config(req, None, true),
    )
    .await;
    let mut ws = match opened {
        Err(_) => {
            return Err(Error::Transport(format!(
                "cannot open the stream {url}: no answer in {:?}",
                target.open_timeout
            )))
        }
        Ok(Err(WsError::Http(resp))) => {
            let header = |n: &str| resp.headers().get(n).and_then(|v| v.to_str().ok()).map(str::to_string);
            let body = resp.body().clone().unwrap_or_default();
            return Err(Error::Api(ApiError::from_response(
                resp.status().as_u16(),
                &body,
                &header("x-request-id").unwrap_or_default(),
                header("retry-after").as_deref(),
            )));
        }
        Ok(Err(e)) => return Err(Error::Transport(format!("cannot open the stream {url}: {e}"))),
        Ok(Ok((ws, _))) => ws,
    };
    let not_ready = |why: String| Error::Transport(format!("the stream {url} closed before it was ready: {why}"));
    let first: Value = loop {
        match tokio::time::timeout(target.open_timeout, ws.next()).await {
            Err(_) => return Err(not_ready(format!("no ready in {:?}", target.open_timeout))),
            Ok(None) => return Err(not_ready("the connection closed".into())),
            Ok(Some(Err(e))) => return Err(not_ready(e.to_string())),
            Ok(Some(Ok(Message::Text(t)))) => {
                break serde_json::from_str(t.as_str()).map_err(|e| not_ready(format!("unreadable message: {e}")))?
            }
            Ok(Some(Ok(Message::Close(f)))) => {
                return Err(not_ready(format!("closed ({:?})", f.map(|f| u16::from(f.code)))))
            }
            Ok(Some(Ok(_))) => {}
        }
    };
    if first.get("type").and_then(Value::as_str) == Some("error") {
        // refused (bad key, space, not ready): the close that follows carries 4000 + the status
        let mut close = None;
        let _ = tokio::time::timeout(Duration::from_millis(500), async {
            while let Some(Ok(m)) = ws.next().await {
                if let Message::Close(Some(f)) = m {
                    close = Some(u64::from(u16::from(f.code)));
                    break;
                }
            }
        })
        .await;
        let status = close_status(close).unwrap_or_else(|| match first.get("code").and_then(Value::as_str) {
            Some("unauthenticated") => 401,
            Some("forbidden") => 403,
            Some("space_not_found") => 404,
            Some("invalid_input") => 400,
            _ => 503,
        });
        let _ = tokio::time::timeout(Duration::from_millis(500), ws.close(None)).await;
        return Err(Error::Api(ApiError::from_error_object(status, &first, "", None)));
    }
    Ok((ws, first))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sent(book: &mut Book, now: Instant) -> Vec<Value> {
        std::iter::from_fn(|| book.next_message(now))
            .map(|m| serde_json::from_str(&m).unwrap())
            .collect()
    }

    #[test]
    fn acks_free_the_window_and_keys_follow_the_index() {
        let now = Instant::now();
        let mut b = Book::new("sid".into(), 2);
        for k in 0..3 {
            b.add(Observation::new(vec![k as f32]));
        }
        let out = sent(&mut b, now);
        assert_eq!(out.len(), 2, "the window bounds what is in flight");
        assert_eq!(out[0]["seq"], 1);
        assert_eq!(out[1]["idempotency_key"], "sid-1");
        assert_eq!(out[0]["type"], "observation");
        b.on_message(&json!({"type": "ack", "seq": 1, "id": 100, "replayed": false}), now);
        let out = sent(&mut b, now);
        assert_eq!(out.len(), 1);
        assert_eq!(
            (out[0]["seq"].as_i64(), out[0]["idempotency_key"].as_str()),
            (Some(3), Some("sid-2"))
        );
        assert_eq!(b.unacked(), 2);
        assert_eq!(b.acked[&0], 100);
    }

    #[test]
    fn a_disconnect_resends_the_unacknowledged_in_order_with_new_seqs() {
        let now = Instant::now();
        let mut b = Book::new("s".into(), 10);
        for _ in 0..4 {
            b.add(Observation::new(vec![0.0]));
        }
        sent(&mut b, now);
        b.on_message(&json!({"type": "ack", "seq": 2, "id": 7}), now);
        b.on_disconnect();
        b.on_reconnect();
        let out = sent(&mut b, now);
        let keys: Vec<_> = out
            .iter()
            .map(|m| m["idempotency_key"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(keys, ["s-0", "s-2", "s-3"]);
        let seqs: Vec<_> = out.iter().map(|m| m["seq"].as_i64().unwrap()).collect();
        assert_eq!(seqs, [1, 2, 3], "sequence numbers are per connection");
        assert_eq!(b.carried, 3);
    }

    #[test]
    fn rejects_are_resent_after_their_delay_or_fail_for_good() {
        let now = Instant::now();
        let mut b = Book::new("s".into(), 10);
        b.add(Observation::new(vec![0.0]));
        b.add(Observation::new(vec![0.0, 1.0]));
        sent(&mut b, now);
        b.on_message(&json!({"type": "reject", "seq": 1, "code": "overloaded", "message": "busy", "retryable": true, "retry_after_ms": 20}), now);
        b.on_message(
            &json!({"type": "reject", "seq": 2, "code": "dimension_mismatch", "message": "dims", "retryable": false}),
            now,
        );
        assert_eq!(b.failed[&1].code, "dimension_mismatch");
        assert_eq!(b.unacked(), 1);
        assert!(sent(&mut b, now).is_empty(), "not before the delay");
        let wake = b.next_wake(now).expect("a wake-up for the delayed resend");
        assert!(wake >= now + Duration::from_millis(20) && wake <= now + Duration::from_millis(31));
        let out = sent(&mut b, now + Duration::from_millis(31));
        assert_eq!(out.len(), 1);
        assert_eq!(
            (out[0]["seq"].as_i64(), out[0]["idempotency_key"].as_str()),
            (Some(3), Some("s-0"))
        );
        assert_eq!(b.resent, 1);
    }

    #[test]
    fn ready_lowers_the_window_and_flow_pauses() {
        let now = Instant::now();
        let mut b = Book::new("s".into(), 256);
        b.on_message(&json!({"type": "ready", "max_outstanding": 1}), now);
        b.add(Observation::new(vec![0.0]));
        b.add(Observation::new(vec![0.0]));
        assert_eq!(sent(&mut b, now).len(), 1);
        b.on_message(&json!({"type": "ack", "seq": 1, "id": 5}), now);
        b.on_message(&json!({"type": "flow", "state": "overloaded", "queue_depth": 9}), now);
        assert!(sent(&mut b, now).is_empty(), "paused by overload");
        assert_eq!(b.flow_state, "overloaded");
        assert_eq!(sent(&mut b, now + Duration::from_millis(51)).len(), 1);
        assert_eq!(close_status(Some(4429)), Some(429));
        assert_eq!(close_status(Some(1001)), None);
    }
}
