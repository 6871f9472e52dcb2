//! The HTTP client: one connection pool to one server, each call retried by its
//! [`RetryPolicy`].

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, Error, ErrorKind, Result};
use crate::retry::{random_key, RetryPolicy};
use crate::stream::{ObservationStream, StreamOptions};
use crate::types::*;
use crate::wire::{self, Embedding, Encoding, Route};

/// The API version a client speaks unless told otherwise ([`ClientBuilder::api_version`]): the
/// newest, v2 (`/api/v2/...`). `"v1"` picks the deprecated v1.
pub const DEFAULT_API_VERSION: &str = "v2";

/// Items asked for per page of a v2 list (the server's maximum; [`ClientBuilder::page_limit`]).
pub const PAGE_LIMIT: u32 = 1000;

/// Bound on the pages one list call follows (a server whose list never ends is a bug;
/// [`ClientBuilder::max_pages`]).
pub const MAX_PAGES: u32 = 100_000;

/// Routes already told deprecated, once per server, API prefix and route in a process.
static DEPRECATED: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// Settings of a [`Client`]; [`Client::builder`].
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    url: String,
    api_key: Option<String>,
    timeout: Duration,
    connect_timeout: Duration,
    retry: RetryPolicy,
    api_version: String,
    embeddings: Encoding,
    page_limit: u32,
    max_pages: u32,
}

impl ClientBuilder {
    /// The API key (`engram_<id>_<secret>`), sent as `Authorization: Bearer <key>`.
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// Like [`api_key`](Self::api_key), for an optional key (`None`: no key).
    pub fn api_key_opt(mut self, key: Option<String>) -> Self {
        self.api_key = key;
        self
    }

    /// The limit of each try of a call (default 10 s); the retry policy bounds the tries.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The limit of opening a connection (default 5 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How calls are retried (default: [`RetryPolicy::default`]).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// The API version of the paths: `"v2"` (the default: `/api/v2/...`) or `"v1"`
    /// (deprecated: `/api/v1/...`, for a server that serves no v2). The calls and their results
    /// are the same in both; v2's lists come in pages, which every list call follows.
    pub fn api_version(mut self, version: impl Into<String>) -> Self {
        self.api_version = version.into();
        self
    }

    /// Items asked for per page of a v2 list (`?limit=`, 1..=1000; default [`PAGE_LIMIT`]).
    /// Every list call follows the pages to the end and returns them merged; this only sets
    /// their size.
    pub fn page_limit(mut self, limit: u32) -> Self {
        self.page_limit = limit;
        self
    }

    /// The most pages one list call follows before it fails with [`Error::Transport`]
    /// (default [`MAX_PAGES`]).
    pub fn max_pages(mut self, pages: u32) -> Self {
        self.max_pages = pages;
        self
    }

    /// How embeddings travel in request bodies (default [`Encoding::Base64`]).
    pub fn embeddings(mut self, encoding: Encoding) -> Self {
        self.embeddings = encoding;
        self
    }

    pub fn build(self) -> Result<Client> {
        let url = self.url.trim_end_matches('/').to_string();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(Error::Config(format!(
                "url {url:?} must start with http:// or https://"
            )));
        }
        if self.retry.attempts == 0 {
            return Err(Error::Config("retry.attempts must be at least 1".into()));
        }
        if !(1..=PAGE_LIMIT).contains(&self.page_limit) {
            return Err(Error::Config(format!(
                "page_limit must be in 1..={PAGE_LIMIT}, got {}",
                self.page_limit
            )));
        }
        if self.max_pages == 0 {
            return Err(Error::Config("max_pages must be at least 1".into()));
        }
        let version = self.api_version.trim_matches('/');
        if version.is_empty()
            || !version
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        {
            return Err(Error::Config(format!(
                "api_version {:?} is not a version such as \"v2\" or \"v1\"",
                self.api_version
            )));
        }
        let mut headers = HeaderMap::new();
        headers.insert(
            USER_AGENT,
            HeaderValue::from_static(concat!("engram-client-rust/", env!("CARGO_PKG_VERSION"))),
        );
        if let Some(key) = &self.api_key {
            let mut v = HeaderValue::from_str(&format!("Bearer {key}"))
                .map_err(|_| Error::Config("the API key is not a valid header value".into()))?;
            v.set_sensitive(true);
            headers.insert(AUTHORIZATION, v);
        }
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout)
            .tcp_nodelay(true)
            .build()
            .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                paged: version != "v1",
                prefix: format!("/api/{version}"),
                url,
                api_key: self.api_key,
                retry: self.retry,
                embeddings: self.embeddings,
                page_limit: self.page_limit,
                max_pages: self.max_pages,
            }),
        })
    }
}

struct Inner {
    http: reqwest::Client,
    url: String,
    prefix: String,
    api_key: Option<String>,
    retry: RetryPolicy,
    embeddings: Encoding,
    /// Lists come in pages (every version but v1).
    paged: bool,
    page_limit: u32,
    max_pages: u32,
}

/// A client of one Engram server. Cheap to clone (the clones share the connection pool).
///
/// ```no_run
/// # async fn demo() -> engram_client::Result<()> {
/// use engram_client::{Client, RememberOptions};
/// let client = Client::builder("http://127.0.0.1:7432").api_key("engram_app_...").build()?;
/// let space = client.space("notes");
/// let id = space.remember(&[0.1, 0.2, 0.3, 0.4], RememberOptions::content("hello")).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("url", &self.inner.url)
            .field("prefix", &self.inner.prefix)
            .finish_non_exhaustive()
    }
}

/// One request, built once and resent as it is (same idempotency key) by the retry loop.
struct Call {
    route: Route,
    path: String,
    body: Option<Vec<u8>>,
    idempotency_key: Option<String>,
}

/// A failed try, and whether another may follow.
struct Failure {
    error: Error,
    retryable: bool,
}

#[derive(Deserialize)]
struct IdAnswer {
    #[serde(deserialize_with = "crate::types::id::one")]
    id: MemoryId,
}
#[derive(Deserialize)]
struct IdsAnswer {
    #[serde(deserialize_with = "crate::types::id::many")]
    ids: Vec<MemoryId>,
}
/// The answer of a list route: its items and, in API v2, the cursor of the next page (`None`
/// on the last page, and always in v1, which answers a list in one piece).
trait Page: DeserializeOwned {
    type Item;
    fn into_parts(self) -> (Vec<Self::Item>, Option<String>);
}

macro_rules! page {
    ($name:ident, $field:ident: $item:ty $(, $with:literal)?) => {
        #[derive(Deserialize)]
        struct $name {
            $(#[serde(deserialize_with = $with)])?
            $field: Vec<$item>,
            #[serde(default)]
            next_cursor: Option<String>,
        }
        impl Page for $name {
            type Item = $item;
            fn into_parts(self) -> (Vec<$item>, Option<String>) {
                (self.$field, self.next_cursor)
            }
        }
    };
}

page!(SpacesAnswer, spaces: String);
page!(NeighborsAnswer, neighbors: Neighbor);
page!(ConceptsAnswer, concepts: Concept);
page!(MembersAnswer, members: MemoryId, "crate::types::id::many");
#[derive(Deserialize)]
struct Results<T> {
    results: Vec<T>,
}
#[derive(Deserialize)]
struct CreatedAnswer {
    created: bool,
}
#[derive(Deserialize)]
struct StatsAnswer {
    stats: serde_json::Value,
}

impl Client {
    /// A client with the default settings and no API key.
    pub fn new(url: impl Into<String>) -> Result<Client> {
        Client::builder(url).build()
    }

    /// Settings for a client of the server at `url` (`http://host:port`).
    pub fn builder(url: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            url: url.into(),
            api_key: None,
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            retry: RetryPolicy::default(),
            api_version: DEFAULT_API_VERSION.to_string(),
            embeddings: Encoding::default(),
            page_limit: PAGE_LIMIT,
            max_pages: MAX_PAGES,
        }
    }

    /// The server's base URL.
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    /// The API prefix of every path (`/api/v2` by default).
    pub fn api_prefix(&self) -> &str {
        &self.inner.prefix
    }

    // -------------------------------------------------------------------------- spaces, engine

    /// Creates a space of dimension `dim`; returns it as the server describes it.
    pub async fn create_space(&self, name: &str, dim: u32) -> Result<SpaceInfo> {
        let options = SpaceOptions {
            dim: Some(dim),
            ..Default::default()
        };
        self.create_space_with(name, options).await
    }

    /// Creates a space with index options. Not resent after an ambiguous failure.
    pub async fn create_space_with(&self, name: &str, options: SpaceOptions) -> Result<SpaceInfo> {
        let body = wire::CreateSpace {
            name: name.to_string(),
            options,
        };
        self.call(wire::CREATE_SPACE, &[], Some(&body), None).await
    }

    /// The names of the spaces this key may see (every page of the list).
    pub async fn spaces(&self) -> Result<Vec<String>> {
        self.list::<SpacesAnswer>(wire::SPACES, &[]).await
    }

    /// Drops a space and everything in it.
    pub async fn drop_space(&self, name: &str) -> Result<()> {
        let _: serde::de::IgnoredAny = self.call(wire::DROP_SPACE, &[name], None::<&()>, None).await?;
        Ok(())
    }

    /// A handle to the space `name`. No request is made: a missing space is reported by the
    /// first call (`SpaceNotFound`); [`Space::info`] checks it now.
    pub fn space(&self, name: impl Into<String>) -> Space {
        Space {
            client: self.clone(),
            name: name.into(),
        }
    }

    /// The engine's statistics and metrics (`GET /stats`), as the server sent them.
    pub async fn stats(&self) -> Result<serde_json::Value> {
        self.call(wire::STATS, &[], None::<&()>, None).await
    }

    /// Opens a reconnecting observation stream into `space` (a WebSocket); see
    /// [`ObservationStream`]. Fails now on a bad URL, key or space.
    pub async fn stream(&self, space: &str, options: StreamOptions) -> Result<ObservationStream> {
        let base = if let Some(rest) = self.inner.url.strip_prefix("https://") {
            format!("wss://{rest}")
        } else {
            format!("ws://{}", self.inner.url.trim_start_matches("http://"))
        };
        let url = format!(
            "{base}{}{}",
            self.inner.prefix,
            wire::expand(wire::STREAM_PATH, &[space])
        );
        ObservationStream::open(url, self.inner.api_key.clone(), options).await
    }

    // -------------------------------------------------------------------------- the retry loop

    /// Every item of a list route. In API v2 the list comes in pages: one request per page
    /// (`?limit=<page_limit>`, then `&cursor=` each answer's `next_cursor`, percent-encoded,
    /// so the server gets it back as it gave it) until a page's `next_cursor` is null, at most
    /// `max_pages` pages; each page is one call with the retry policy. v1 answers in one piece.
    async fn list<A: Page>(&self, route: Route, args: &[&str]) -> Result<Vec<A::Item>> {
        let path = format!("{}{}", self.inner.prefix, route.expand(args));
        if !self.inner.paged {
            let page: A = self
                .run(&Call {
                    route,
                    path,
                    body: None,
                    idempotency_key: None,
                })
                .await?;
            return Ok(page.into_parts().0);
        }
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..self.inner.max_pages {
            let mut query = format!("{path}?limit={}", self.inner.page_limit);
            if let Some(c) = &cursor {
                query.push_str("&cursor=");
                query.push_str(&wire::percent_encode(c));
            }
            let call = Call {
                route,
                path: query,
                body: None,
                idempotency_key: None,
            };
            let page: A = self.run(&call).await?;
            let (mut more, next) = page.into_parts();
            items.append(&mut more);
            match next {
                None => return Ok(items),
                Some(next) => cursor = Some(next),
            }
        }
        Err(Error::Transport(format!(
            "{} {path}: the list did not end after {} pages",
            route.method, self.inner.max_pages
        )))
    }

    async fn call<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        route: Route,
        args: &[&str],
        body: Option<&B>,
        idempotency_key: Option<String>,
    ) -> Result<T> {
        let body = match body {
            Some(b) => Some(serde_json::to_vec(b).map_err(|e| Error::Config(format!("unencodable body: {e}")))?),
            None => None,
        };
        let call = Call {
            route,
            path: format!("{}{}", self.inner.prefix, route.expand(args)),
            body,
            idempotency_key,
        };
        self.run(&call).await
    }

    async fn run<T: DeserializeOwned>(&self, call: &Call) -> Result<T> {
        let policy = &self.inner.retry;
        let start = Instant::now();
        let mut attempt = 0u32;
        loop {
            let failure = match self.try_once(call).await {
                Ok(v) => return Ok(v),
                Err(f) => f,
            };
            if !failure.retryable || attempt + 1 >= policy.attempts {
                return Err(failure.error);
            }
            let delay = policy.delay(attempt, failure.error.retry_after());
            if start.elapsed() + delay > policy.deadline {
                return Err(failure.error);
            }
            log::debug!(
                "{} {} failed ({}); retry {} in {:?}",
                call.route.method,
                call.path,
                failure.error,
                attempt + 1,
                delay
            );
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    async fn try_once<T: DeserializeOwned>(&self, call: &Call) -> std::result::Result<T, Failure> {
        let method = Method::from_bytes(call.route.method.as_bytes()).expect("a valid method");
        let url = format!("{}{}", self.inner.url, call.path);
        let mut req = self.inner.http.request(method, &url);
        if let Some(key) = &call.idempotency_key {
            req = req.header("Idempotency-Key", key.as_str());
        }
        if let Some(body) = &call.body {
            req = req.header(CONTENT_TYPE, "application/json").body(body.clone());
        }
        let transport = |what: &str, e: reqwest::Error, sent: bool| Failure {
            // a connection that never opened: the server did not see the request
            retryable: !sent || call.route.safe,
            error: Error::Transport(format!(
                "{} {url} failed: {what}: {}",
                call.route.method,
                error_chain(&e)
            )),
        };
        let resp = req.send().await.map_err(|e| {
            let sent = !e.is_connect();
            transport("no answer", e, sent)
        })?;
        let status = resp.status().as_u16();
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let request_id = header("x-request-id").unwrap_or_default();
        let retry_after = header("retry-after");
        if let Some(since) = header("deprecation") {
            self.deprecated(call, &since, header("sunset"), header("link"));
        }
        let bytes = resp.bytes().await.map_err(|e| transport("answer cut short", e, true))?;
        if status < 400 {
            return serde_json::from_slice(&bytes).map_err(|e| Failure {
                retryable: false,
                error: Error::Transport(format!(
                    "unreadable answer to {} {url} (HTTP {status}, request {request_id}): {e}",
                    call.route.method
                )),
            });
        }
        let err = ApiError::from_response(status, &bytes, &request_id, retry_after.as_deref());
        let retryable = match err.kind() {
            ErrorKind::Overloaded | ErrorKind::ServiceUnavailable => true, // refused before any work
            ErrorKind::Storage => call.route.safe,
            _ => false,
        };
        Err(Failure {
            error: Error::Api(err),
            retryable,
        })
    }
}

impl Client {
    /// Tells (`log::warn!`) once per route that the server answered it is deprecated
    /// (RFC 9745 `Deprecation`, with RFC 8594 `Sunset` and the migration notes' `Link`). The
    /// route is the method and the path with the space and the ids as placeholders
    /// (`GET /api/v1/spaces/{space}/memories/{memory_id}`); told once per server and route in a
    /// process, however many clients call it.
    fn deprecated(&self, call: &Call, since: &str, sunset: Option<String>, link: Option<String>) {
        let route = format!("{} {}{}", call.route.method, self.inner.prefix, call.route.path);
        let first = DEPRECATED
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(format!("{} {route}", self.inner.url));
        if first {
            let notes = link.as_deref().map(|l| match (l.find('<'), l.find('>')) {
                (Some(a), Some(b)) if a < b => &l[a + 1..b],
                _ => l,
            });
            log::warn!(
                "{route} is deprecated by {} (Deprecation: {since}); sunset: {}; migration notes: {}; \
                 a newer API version serves it (ClientBuilder::api_version(\"{DEFAULT_API_VERSION}\"))",
                self.inner.url,
                sunset.as_deref().unwrap_or("not announced"),
                notes.unwrap_or("the server's /api/migration/v1-to-v2"),
            );
        }
    }
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

/// A space on the server; [`Client::space`]. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Space {
    client: Client,
    name: String,
}

impl Space {
    pub fn name(&self) -> &str {
        &self.name
    }

    fn emb(&self, v: &[f32]) -> Embedding {
        Embedding::encode(v, self.client.inner.embeddings)
    }

    async fn call<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        route: Route,
        extra: Option<&str>,
        body: Option<&B>,
        key: Option<String>,
    ) -> Result<T> {
        match extra {
            Some(x) => self.client.call(route, &[&self.name, x], body, key).await,
            None => self.client.call(route, &[&self.name], body, key).await,
        }
    }

    /// The space as the server describes it (name, dimension, number of memories).
    pub async fn info(&self) -> Result<SpaceInfo> {
        self.call(wire::SPACE_INFO, None, None::<&()>, None).await
    }

    /// The space's statistics, as the server sent them.
    pub async fn stats(&self) -> Result<serde_json::Value> {
        let a: StatsAnswer = self.call(wire::SPACE_STATS, None, None::<&()>, None).await?;
        Ok(a.stats)
    }

    /// Stores one episode; returns its id. Carries an idempotency key (the caller's, or a
    /// random one), so a retry after a lost answer never stores it twice.
    pub async fn remember(&self, embedding: &[f32], options: RememberOptions) -> Result<MemoryId> {
        let key = options.idempotency_key.unwrap_or_else(random_key);
        let body = wire::Remember {
            embedding: self.emb(embedding),
            content: options.content,
            confidence: options.confidence,
            timestamp: options.timestamp,
            metadata: options.metadata,
        };
        let a: IdAnswer = self.call(wire::REMEMBER, None, Some(&body), Some(key)).await?;
        Ok(a.id)
    }

    /// Stores many episodes in one request (at most the server's max batch); their ids in order.
    pub async fn remember_batch(&self, items: Vec<RememberItem>) -> Result<Vec<MemoryId>> {
        self.remember_batch_with_key(items, None).await
    }

    /// [`remember_batch`](Self::remember_batch) with the caller's idempotency key.
    pub async fn remember_batch_with_key(
        &self,
        items: Vec<RememberItem>,
        idempotency_key: Option<String>,
    ) -> Result<Vec<MemoryId>> {
        let body = wire::RememberBatch {
            items: items
                .into_iter()
                .map(|it| wire::RememberItem {
                    embedding: self.emb(&it.embedding),
                    content: it.content,
                    confidence: it.confidence,
                    timestamp: it.timestamp,
                    metadata: it.metadata,
                })
                .collect(),
        };
        let key = idempotency_key.unwrap_or_else(random_key);
        let a: IdsAnswer = self.call(wire::REMEMBER_BATCH, None, Some(&body), Some(key)).await?;
        Ok(a.ids)
    }

    /// One memory by id.
    pub async fn get(&self, id: MemoryId) -> Result<Memory> {
        self.call(wire::GET, Some(&id.to_string()), None::<&()>, None).await
    }

    /// Forgets one memory.
    pub async fn forget(&self, id: MemoryId) -> Result<()> {
        let _: serde::de::IgnoredAny = self
            .call(wire::FORGET, Some(&id.to_string()), None::<&()>, None)
            .await?;
        Ok(())
    }

    /// The `k` nearest memories to `embedding` (`ef`: the search breadth, server default).
    pub async fn search(&self, embedding: &[f32], k: u32, ef: Option<u32>) -> Result<Vec<Hit>> {
        let body = wire::Search {
            embedding: self.emb(embedding),
            k,
            ef,
        };
        let a: Results<Hit> = self.call(wire::SEARCH, None, Some(&body), None).await?;
        Ok(a.results)
    }

    /// Recall from a cue: episodes and concepts, scored by similarity, recency and activation.
    pub async fn recall(&self, cue: &[f32], options: RecallOptions) -> Result<Vec<Recollection>> {
        let body = wire::Recall {
            cue: self.emb(cue),
            options,
        };
        let a: Results<Recollection> = self.call(wire::RECALL, None, Some(&body), None).await?;
        Ok(a.results)
    }

    /// Spreads activation from `seeds` along the graph's edges.
    pub async fn spread(&self, seeds: impl Into<Seeds>, options: SpreadOptions) -> Result<Vec<Activated>> {
        let body = wire::Spread {
            seeds: seeds.into(),
            options,
        };
        let a: Results<Activated> = self.call(wire::SPREAD, None, Some(&body), None).await?;
        Ok(a.results)
    }

    /// Completes a partial pattern (`None`: an unknown dimension).
    pub async fn complete(&self, partial: &[Option<f32>], options: CompleteOptions) -> Result<Completion> {
        let body = wire::Complete {
            partial: partial.to_vec(),
            options,
        };
        self.call(wire::COMPLETE, None, Some(&body), None).await
    }

    /// Links `src` to `dst`; `true` when the edge is new (re-linking replaces it).
    pub async fn link(&self, src: MemoryId, dst: MemoryId, options: LinkOptions) -> Result<bool> {
        let body = wire::Link { src, dst, options };
        let a: CreatedAnswer = self.call(wire::LINK, None, Some(&body), None).await?;
        Ok(a.created)
    }

    /// The out-edges of a memory (every page of the list).
    pub async fn neighbors(&self, id: MemoryId) -> Result<Vec<Neighbor>> {
        let id = id.to_string();
        self.client
            .list::<NeighborsAnswer>(wire::NEIGHBORS, &[&self.name, &id])
            .await
    }

    /// The space's concepts (every page of the list).
    pub async fn concepts(&self) -> Result<Vec<Concept>> {
        self.client.list::<ConceptsAnswer>(wire::CONCEPTS, &[&self.name]).await
    }

    /// The episodes bound to a concept (every page of the list).
    pub async fn concept_members(&self, concept_id: MemoryId) -> Result<Vec<MemoryId>> {
        let id = concept_id.to_string();
        self.client
            .list::<MembersAnswer>(wire::CONCEPT_MEMBERS, &[&self.name, &id])
            .await
    }

    /// Runs consolidation now (forms and updates concepts). Not resent after an ambiguous
    /// failure.
    pub async fn consolidate(&self, params: ConsolidateParams) -> Result<ConsolidationReport> {
        let body = wire::Consolidate { params };
        self.call(wire::CONSOLIDATE, None, Some(&body), None).await
    }
}
