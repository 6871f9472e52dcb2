//! An async client of the Engram memory engine's HTTP API (`engramd`): API v2 by default, the
//! deprecated v1 on request ([`ClientBuilder::api_version`]).
//!
//! ```no_run
//! use engram_client::{Client, RecallOptions, RememberOptions};
//!
//! # async fn demo() -> engram_client::Result<()> {
//! let client = Client::builder("http://127.0.0.1:7432").api_key("engram_app_...").build()?;
//! client.create_space("notes", 4).await?;
//! let notes = client.space("notes");
//! let id = notes.remember(&[1.0, 0.0, 0.0, 0.0], RememberOptions::content("hello")).await?;
//! let hits = notes.search(&[1.0, 0.0, 0.0, 0.0], 5, None).await?;
//! assert_eq!(hits[0].id, id);
//! let recalled = notes.recall(&[1.0, 0.0, 0.0, 0.0], RecallOptions::default()).await?;
//! # let _ = recalled;
//! # Ok(()) }
//! ```
//!
//! Every call returns [`Result`]; a server's error is an [`ApiError`] with its stable `code`,
//! HTTP `status`, `request_id`, the request `field` it is about (API v2) and an [`ErrorKind`].
//! List calls follow v2's pages and return every item. Overload and unavailability answers and
//! failed connections are retried by the [`RetryPolicy`]; writes carry idempotency keys so a
//! retry never stores twice. [`Client::stream`] opens a reconnecting WebSocket stream of
//! observations.

mod client;
mod error;
mod retry;
mod stream;
mod types;
pub mod wire;

pub use client::{Client, ClientBuilder, Space, DEFAULT_API_VERSION, MAX_PAGES, PAGE_LIMIT};
pub use error::{ApiError, Error, ErrorKind, Result};
pub use retry::{random_key, RetryPolicy};
pub use stream::{Observation, ObservationStream, StreamOptions, StreamStats};
pub use types::*;
pub use wire::Encoding;
