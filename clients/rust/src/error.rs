//! Typed errors. The server's error bodies are `{"error": {code, message, status, request_id,
//! retry_after_ms?}}` in API v1 and `{"error": {code, message, status, request_id, field,
//! retry_after_ms}}` in API v2 (`field` and `retry_after_ms` null when they do not apply);
//! [`ApiError::kind`] maps the stable `code` (then the HTTP status) onto an
//! [`ErrorKind`], with the same table as the Python client (`engram/client/errors.py`).

use std::fmt;
use std::time::Duration;

/// What went wrong, independent of the exact code string (several codes share a kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Bad input: `invalid_input`, `invalid_json`, `limit_exceeded`, `ambiguous_space` (400).
    InvalidInput,
    /// An embedding of the wrong length for the space (`dimension_mismatch`).
    DimensionMismatch,
    SpaceNotFound,
    MemoryNotFound,
    SpaceExists,
    /// `capacity_exceeded`: the space is full.
    Capacity,
    /// `storage_unavailable`, `backup_failed`: retried for idempotent calls.
    Storage,
    Corruption,
    /// `memory_pressure` (507): the server's memory budget is exhausted; not retried.
    MemoryPressure,
    /// An idempotency key reused with another payload (409).
    IdempotencyConflict,
    /// The API key is missing, unknown or revoked (401).
    Unauthenticated,
    /// The key lacks the role or the space (`forbidden`, 403).
    PermissionDenied,
    /// `payload_too_large`, `batch_too_large` (413).
    PayloadTooLarge,
    /// `overloaded` (429): retried automatically.
    Overloaded,
    /// `not_ready`, `shutting_down` (503): retried automatically.
    ServiceUnavailable,
    /// No usable answer: connection refused or reset, timeout, unreadable response.
    Transport,
    /// The server failed (5xx without a known code): a bug to report with the request id.
    Server,
    /// `route_not_found` (404): a client/server version mismatch.
    RouteNotFound,
    /// An error answer with neither a known code nor a status of its own (e.g. a 409 of a
    /// newer server).
    Other,
}

impl ErrorKind {
    /// The kind of a stable error code (`_BY_CODE` of the Python client), if known.
    pub fn from_code(code: &str) -> Option<ErrorKind> {
        use ErrorKind::*;
        Some(match code {
            "invalid_input" | "invalid_json" | "limit_exceeded" | "ambiguous_space" => InvalidInput,
            "dimension_mismatch" => DimensionMismatch,
            "space_not_found" => SpaceNotFound,
            "memory_not_found" => MemoryNotFound,
            "space_exists" => SpaceExists,
            "capacity_exceeded" => Capacity,
            "memory_pressure" => MemoryPressure,
            "idempotency_conflict" => IdempotencyConflict,
            "unauthenticated" => Unauthenticated,
            "forbidden" => PermissionDenied,
            "payload_too_large" | "batch_too_large" => PayloadTooLarge,
            "overloaded" => Overloaded,
            "not_ready" | "shutting_down" => ServiceUnavailable,
            "storage_unavailable" | "backup_failed" => Storage,
            "corruption" => Corruption,
            "route_not_found" => RouteNotFound,
            _ => return None,
        })
    }

    /// The kind of an HTTP status without a known code (`_BY_STATUS`, then 5xx: [`Server`]).
    ///
    /// [`Server`]: ErrorKind::Server
    pub fn from_status(status: u16) -> ErrorKind {
        use ErrorKind::*;
        match status {
            400 => InvalidInput,
            401 => Unauthenticated,
            403 => PermissionDenied,
            413 => PayloadTooLarge,
            429 => Overloaded,
            503 => ServiceUnavailable,
            507 => MemoryPressure,
            s if s >= 500 => Server,
            _ => Other,
        }
    }
}

/// An error answered by the server (or a stream's `reject`/`error` message).
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// The stable machine-readable code, e.g. `space_not_found` (empty when the body had none).
    pub code: String,
    /// The HTTP status (for stream messages: the close code less 4000, or 400).
    pub status: u16,
    /// What was wrong and what is expected.
    pub message: String,
    /// The request id to quote when reporting a problem (`X-Request-Id`).
    pub request_id: String,
    /// How long the server asked to wait before a retry (`retry_after_ms`, else `Retry-After`).
    pub retry_after_ms: Option<u64>,
    /// The request field the error is about, as a JSON Pointer (RFC 6901), e.g.
    /// `/items/1/embedding` for the second item of a batch (API v2); `None` when the error is
    /// about no one field or the answer did not say (API v1 writes no `field`).
    pub field: Option<String>,
}

impl ApiError {
    /// The kind, by code first, then by status.
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::from_code(&self.code).unwrap_or_else(|| ErrorKind::from_status(self.status))
    }

    /// The error of an HTTP error answer: its status, body (raw bytes, parsed here when it is
    /// Engram's JSON error body), `X-Request-Id` and `Retry-After` headers.
    pub fn from_response(status: u16, body: &[u8], request_id: &str, retry_after: Option<&str>) -> ApiError {
        let parsed: Option<serde_json::Value> = serde_json::from_slice(body).ok();
        let err = parsed.as_ref().and_then(|v| v.get("error")).filter(|e| e.is_object());
        let header_retry = retry_after
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(|s| (s * 1000.0).round() as u64);
        let Some(err) = err else {
            return ApiError {
                code: String::new(),
                status,
                message: format!("HTTP {status} without an error body"),
                request_id: request_id.to_string(),
                retry_after_ms: header_retry,
                field: None,
            };
        };
        Self::from_error_object(status, err, request_id, header_retry)
    }

    /// The error of an `{code, message, request_id?, field?, retry_after_ms?}` object (an error
    /// body's `error`, or a stream message).
    pub(crate) fn from_error_object(
        status: u16,
        err: &serde_json::Value,
        request_id: &str,
        fallback_retry_ms: Option<u64>,
    ) -> ApiError {
        let text = |k: &str| match err.get(k) {
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            Some(v) if !v.is_null() => Some(v.to_string()),
            _ => None,
        };
        let retry = err
            .get("retry_after_ms")
            .and_then(|v| v.as_f64())
            .filter(|v| v.is_finite() && *v >= 0.0)
            .map(|v| v.round() as u64)
            .or(fallback_retry_ms);
        ApiError {
            code: text("code").unwrap_or_default(),
            status,
            message: text("message").unwrap_or_default(),
            request_id: text("request_id").unwrap_or_else(|| request_id.to_string()),
            retry_after_ms: retry,
            field: err.get("field").and_then(|v| v.as_str()).map(str::to_string),
        }
    }

    /// `retry_after_ms` as a duration.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after_ms.map(Duration::from_millis)
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} [{}, HTTP {}, request {}]",
            self.message, self.code, self.status, self.request_id
        )
    }
}

impl std::error::Error for ApiError {}

/// Every error of this crate.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server answered with an error.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// No usable answer: the connection failed or was lost, the call timed out, or the answer
    /// could not be read.
    #[error("{0}")]
    Transport(String),
    /// The client was built with an unusable setting (URL, API key, TLS setup).
    #[error("invalid client configuration: {0}")]
    Config(String),
}

impl Error {
    /// The kind of error ([`ErrorKind::Transport`] for transport failures and configuration).
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Api(e) => e.kind(),
            Error::Transport(_) | Error::Config(_) => ErrorKind::Transport,
        }
    }

    /// The server's error code (empty when the server did not answer one).
    pub fn code(&self) -> &str {
        match self {
            Error::Api(e) => &e.code,
            _ => "",
        }
    }

    /// The HTTP status (0 when there was no answer).
    pub fn status(&self) -> u16 {
        match self {
            Error::Api(e) => e.status,
            _ => 0,
        }
    }

    /// The request id of the answer (empty when there was none).
    pub fn request_id(&self) -> &str {
        match self {
            Error::Api(e) => &e.request_id,
            _ => "",
        }
    }

    /// How long the server asked to wait before retrying.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Api(e) => e.retry_after(),
            _ => None,
        }
    }

    /// The request field the error is about, a JSON Pointer (API v2; `None` otherwise).
    pub fn field(&self) -> Option<&str> {
        match self {
            Error::Api(e) => e.field.as_deref(),
            _ => None,
        }
    }

    /// The server's error, if it answered one.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Error::Api(e) => Some(e),
            _ => None,
        }
    }
}

/// This crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_kinds() {
        let cases = [
            ("invalid_input", ErrorKind::InvalidInput),
            ("invalid_json", ErrorKind::InvalidInput),
            ("limit_exceeded", ErrorKind::InvalidInput),
            ("ambiguous_space", ErrorKind::InvalidInput),
            ("dimension_mismatch", ErrorKind::DimensionMismatch),
            ("space_not_found", ErrorKind::SpaceNotFound),
            ("memory_not_found", ErrorKind::MemoryNotFound),
            ("space_exists", ErrorKind::SpaceExists),
            ("capacity_exceeded", ErrorKind::Capacity),
            ("memory_pressure", ErrorKind::MemoryPressure),
            ("idempotency_conflict", ErrorKind::IdempotencyConflict),
            ("unauthenticated", ErrorKind::Unauthenticated),
            ("forbidden", ErrorKind::PermissionDenied),
            ("payload_too_large", ErrorKind::PayloadTooLarge),
            ("batch_too_large", ErrorKind::PayloadTooLarge),
            ("overloaded", ErrorKind::Overloaded),
            ("not_ready", ErrorKind::ServiceUnavailable),
            ("shutting_down", ErrorKind::ServiceUnavailable),
            ("storage_unavailable", ErrorKind::Storage),
            ("backup_failed", ErrorKind::Storage),
            ("corruption", ErrorKind::Corruption),
            ("route_not_found", ErrorKind::RouteNotFound),
        ];
        for (code, kind) in cases {
            let body = format!(r#"{{"error":{{"code":"{code}","message":"m","status":418,"request_id":"r"}}}}"#);
            let e = ApiError::from_response(418, body.as_bytes(), "", None);
            assert_eq!(e.kind(), kind, "{code}");
            assert_eq!(e.code, code);
        }
        assert_eq!(ErrorKind::from_code("brand_new_code"), None);
    }

    #[test]
    fn unknown_codes_and_missing_bodies_map_by_status() {
        for (status, kind) in [
            (400, ErrorKind::InvalidInput),
            (401, ErrorKind::Unauthenticated),
            (403, ErrorKind::PermissionDenied),
            (409, ErrorKind::Other),
            (413, ErrorKind::PayloadTooLarge),
            (429, ErrorKind::Overloaded),
            (500, ErrorKind::Server),
            (502, ErrorKind::Server),
            (503, ErrorKind::ServiceUnavailable),
            (507, ErrorKind::MemoryPressure),
        ] {
            let e = ApiError::from_response(status, br#"{"error":{"code":"new_code","message":"m"}}"#, "", None);
            assert_eq!(e.kind(), kind, "{status} with an unknown code");
            let e = ApiError::from_response(status, b"<html>proxy</html>", "rid-1", None);
            assert_eq!(e.kind(), kind, "{status} without a body");
            assert_eq!(e.code, "");
            assert_eq!(e.request_id, "rid-1");
        }
    }

    #[test]
    fn the_body_fields_and_retry_after_are_read() {
        let body =
            br#"{"error":{"code":"overloaded","message":"busy","status":429,"request_id":"abc","retry_after_ms":250}}"#;
        let e = ApiError::from_response(429, body, "header-id", Some("3"));
        assert_eq!(e.message, "busy");
        assert_eq!(e.request_id, "abc", "the body's request id wins");
        assert_eq!(
            e.retry_after_ms,
            Some(250),
            "the body's retry_after_ms wins over Retry-After"
        );
        assert_eq!(e.to_string(), "busy [overloaded, HTTP 429, request abc]");
        let e = ApiError::from_response(
            503,
            br#"{"error":{"code":"not_ready","message":"m"}}"#,
            "h",
            Some("1.5"),
        );
        assert_eq!(e.retry_after_ms, Some(1500), "Retry-After in seconds");
        assert_eq!(e.request_id, "h");
        let err = Error::from(e);
        assert_eq!(err.kind(), ErrorKind::ServiceUnavailable);
        assert_eq!((err.code(), err.status()), ("not_ready", 503));
        assert_eq!(err.retry_after(), Some(Duration::from_millis(1500)));
        let t = Error::Transport("reset".into());
        assert_eq!((t.kind(), t.code(), t.status()), (ErrorKind::Transport, "", 0));
        assert_eq!(t.field(), None);
    }

    #[test]
    fn the_v2_field_is_read_and_null_is_none() {
        let body = br#"{"error":{"code":"invalid_input","message":"m","status":400,"request_id":"r",
            "field":"/items/1/embedding","retry_after_ms":null}}"#;
        let e = ApiError::from_response(400, body, "", Some("2"));
        assert_eq!(e.field.as_deref(), Some("/items/1/embedding"));
        assert_eq!(
            e.retry_after_ms,
            Some(2000),
            "a null retry_after_ms falls back on Retry-After"
        );
        assert_eq!(Error::from(e).field(), Some("/items/1/embedding"));
        let body = br#"{"error":{"code":"invalid_input","message":"m","status":400,"request_id":"r",
            "field":null,"retry_after_ms":null}}"#;
        let e = ApiError::from_response(400, body, "", None);
        assert_eq!((e.field, e.retry_after_ms), (None, None));
        let v1 = ApiError::from_response(400, br#"{"error":{"code":"invalid_input","message":"m"}}"#, "", None);
        assert_eq!(v1.field, None);
        assert_eq!(ApiError::from_response(502, b"<html>", "", None).field, None);
    }
}
