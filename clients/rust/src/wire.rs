//! What goes on the wire: the routes the client calls and the request bodies it sends.
//!
//! Route paths are relative to the API prefix (`/api/v2` or `/api/v1`, from
//! [`crate::ClientBuilder::api_version`]; the routes and bodies are the same in both versions),
//! with the OpenAPI document's placeholders (`{space}`, `{memory_id}`, `{concept_id}`), so
//! `tests/openapi.rs` can check every route and body against the server's document.

use serde::Serialize;

use crate::types::{
    CompleteOptions, ConsolidateParams, LinkOptions, MemoryId, Metadata, RecallOptions, Seeds, SpaceOptions,
    SpreadOptions,
};

/// One HTTP route (of both API versions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub method: &'static str,
    /// Relative to the API prefix, with `{name}` placeholders.
    pub path: &'static str,
    /// May be resent after an ambiguous failure (a lost connection, a timeout, a storage error):
    /// reads, and writes that are idempotent or carry an idempotency key.
    pub safe: bool,
    /// The `components.schemas` entry of its request body, if it has one (v2 may refer to
    /// `<body>V2` instead, a schema that also takes ids as strings; tests/openapi.rs checks the
    /// body against both).
    pub body: Option<&'static str>,
}

const fn route(method: &'static str, path: &'static str, body: Option<&'static str>) -> Route {
    Route {
        method,
        path,
        safe: true,
        body,
    }
}

pub const CREATE_SPACE: Route = Route {
    safe: false, // a resend after a lost answer would get 409 space_exists
    ..route("POST", "/spaces", Some("CreateSpace"))
};
pub const SPACES: Route = route("GET", "/spaces", None);
pub const SPACE_INFO: Route = route("GET", "/spaces/{space}", None);
pub const DROP_SPACE: Route = route("DELETE", "/spaces/{space}", None);
pub const SPACE_STATS: Route = route("GET", "/spaces/{space}/stats", None);
pub const STATS: Route = route("GET", "/stats", None);
pub const REMEMBER: Route = route("POST", "/spaces/{space}/memories", Some("Remember"));
pub const REMEMBER_BATCH: Route = route("POST", "/spaces/{space}/memories/batch", Some("RememberBatch"));
pub const GET: Route = route("GET", "/spaces/{space}/memories/{memory_id}", None);
pub const FORGET: Route = route("DELETE", "/spaces/{space}/memories/{memory_id}", None);
pub const SEARCH: Route = route("POST", "/spaces/{space}/search", Some("Search"));
pub const RECALL: Route = route("POST", "/spaces/{space}/recall", Some("Recall"));
pub const SPREAD: Route = route("POST", "/spaces/{space}/spread", Some("Spread"));
pub const COMPLETE: Route = route("POST", "/spaces/{space}/complete", Some("Complete"));
pub const LINK: Route = route("POST", "/spaces/{space}/links", Some("Link"));
pub const NEIGHBORS: Route = route("GET", "/spaces/{space}/memories/{memory_id}/neighbors", None);
pub const CONCEPTS: Route = route("GET", "/spaces/{space}/concepts", None);
pub const CONCEPT_MEMBERS: Route = route("GET", "/spaces/{space}/concepts/{concept_id}/members", None);
pub const CONSOLIDATE: Route = Route {
    safe: false, // a second run is not a replay of the first
    ..route("POST", "/spaces/{space}/consolidate", Some("Consolidate"))
};

/// Every HTTP route the client calls.
pub const ROUTES: &[Route] = &[
    CREATE_SPACE,
    SPACES,
    SPACE_INFO,
    DROP_SPACE,
    SPACE_STATS,
    STATS,
    REMEMBER,
    REMEMBER_BATCH,
    GET,
    FORGET,
    SEARCH,
    RECALL,
    SPREAD,
    COMPLETE,
    LINK,
    NEIGHBORS,
    CONCEPTS,
    CONCEPT_MEMBERS,
    CONSOLIDATE,
];

/// The observation stream (a WebSocket, not an operation of the OpenAPI document).
pub const STREAM_PATH: &str = "/spaces/{space}/stream";

impl Route {
    /// The path with its placeholders replaced, in order, by `args` (percent-encoded).
    pub fn expand(&self, args: &[&str]) -> String {
        expand(self.path, args)
    }
}

pub(crate) fn expand(template: &str, args: &[&str]) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut args = args.iter();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}').map_or(rest.len(), |c| open + c + 1);
        let arg = args.next().expect("a value for every placeholder of the route");
        out.push_str(&percent_encode(arg));
        rest = &rest[close..];
    }
    out.push_str(rest);
    debug_assert!(args.next().is_none(), "more values than placeholders in {template}");
    out
}

/// A path segment with everything but RFC 3986's unreserved characters percent-encoded (as
/// Python's `quote(s, safe='')`).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// How embeddings travel in request bodies ([`crate::ClientBuilder::embeddings`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    /// Standard padded base64 of the little-endian float32 values: exact, smaller and cheaper
    /// to write and parse than number text; accepted by engramd on every route that takes an
    /// embedding (an API v1 addition). The default, as in the Python client.
    #[default]
    Base64,
    /// JSON arrays of numbers (every v1 server).
    Json,
}

/// An embedding in a request body.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Embedding {
    Floats(Vec<f32>),
    Base64(String),
}

impl Embedding {
    pub fn encode(values: &[f32], encoding: Encoding) -> Embedding {
        match encoding {
            Encoding::Json => Embedding::Floats(values.to_vec()),
            Encoding::Base64 => {
                let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
                Embedding::Base64(base64(&bytes))
            }
        }
    }
}

fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

// ------------------------------------------------------------------------------ bodies
// One struct per request body; the names are those of the document's `components.schemas`.

/// `POST /spaces`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CreateSpace {
    pub name: String,
    #[serde(flatten)]
    pub options: SpaceOptions,
}

/// `POST /spaces/{space}/memories` (the idempotency key travels in the `Idempotency-Key`
/// header).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Remember {
    pub embedding: Embedding,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
}

/// One item of [`RememberBatch`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RememberItem {
    pub embedding: Embedding,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
}

/// `POST /spaces/{space}/memories/batch`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RememberBatch {
    pub items: Vec<RememberItem>,
}

/// `POST /spaces/{space}/search`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Search {
    pub embedding: Embedding,
    pub k: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ef: Option<u32>,
}

/// `POST /spaces/{space}/recall`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recall {
    pub cue: Embedding,
    #[serde(flatten)]
    pub options: RecallOptions,
}

/// `POST /spaces/{space}/links`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Link {
    pub src: MemoryId,
    pub dst: MemoryId,
    #[serde(flatten)]
    pub options: LinkOptions,
}

/// `POST /spaces/{space}/spread`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Spread {
    pub seeds: Seeds,
    #[serde(flatten)]
    pub options: SpreadOptions,
}

/// `POST /spaces/{space}/complete` (`None`: an unknown dimension, sent as null).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Complete {
    pub partial: Vec<Option<f32>>,
    #[serde(flatten)]
    pub options: CompleteOptions,
}

/// `POST /spaces/{space}/consolidate`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Consolidate {
    #[serde(flatten)]
    pub params: ConsolidateParams,
}

/// A stream's `observation` message (`type` is always `observation`; embeddings are arrays of
/// numbers on streams).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StreamObservation {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub seq: i64,
    pub embedding: Vec<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    pub idempotency_key: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_is_standard_and_padded() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        // 1.0f32 is 00 00 80 3f little-endian
        assert_eq!(
            Embedding::encode(&[1.0, 0.0], Encoding::Base64),
            Embedding::Base64("AACAPwAAAAA=".into())
        );
        let json = serde_json::to_string(&Embedding::encode(&[0.5, -2.0], Encoding::Json)).unwrap();
        assert_eq!(json, "[0.5,-2.0]");
    }

    #[test]
    fn routes_expand_with_encoded_segments() {
        assert_eq!(GET.expand(&["a b/c", "42"]), "/spaces/a%20b%2Fc/memories/42");
        assert_eq!(SPACES.expand(&[]), "/spaces");
        assert_eq!(expand(STREAM_PATH, &["s.1_x-y~"]), "/spaces/s.1_x-y~/stream");
        let unsafe_routes: Vec<_> = ROUTES.iter().filter(|r| !r.safe).map(|r| r.path).collect();
        assert_eq!(
            unsafe_routes,
            ["/spaces", "/spaces/{space}/consolidate"],
            "only create_space and consolidate"
        );
    }

    #[test]
    fn none_fields_are_left_out() {
        let body = Remember {
            embedding: Embedding::Floats(vec![1.0]),
            content: None,
            confidence: Some(0.5),
            timestamp: None,
            metadata: None,
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"embedding":[1.0],"confidence":0.5}"#
        );
        let spread = Spread {
            seeds: Seeds::Weighted([(7, 0.5)].into_iter().collect()),
            options: SpreadOptions::default(),
        };
        assert_eq!(serde_json::to_string(&spread).unwrap(), r#"{"seeds":{"7":0.5}}"#);
    }
}
