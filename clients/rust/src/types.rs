//! The options of the calls and the values they return.
//!
//! Options are serialized into the request bodies of [`crate::wire`] (a `None` field is left out,
//! so the server applies its default); `tests/openapi.rs` checks them against the server's
//! OpenAPI document. The response types are written by hand: the document's response schemas
//! are empty today. Unknown response fields are ignored, so a newer server's additions do not
//! break this client, and ids are read as JSON integers (API v1) or strings of decimal digits
//! (API v2).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A memory id (a concept's id too).
pub type MemoryId = i64;

/// String metadata of a memory.
pub type Metadata = BTreeMap<String, String>;

// ------------------------------------------------------------------------------ options

/// Options of [`crate::Client::create_space_with`] (`None`: the server's default).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SpaceOptions {
    /// Embedding dimension (the engine's default when `None`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dim: Option<u32>,
    /// HNSW links per node.
    #[serde(rename = "M", skip_serializing_if = "Option::is_none")]
    pub m: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ef_construction: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ef_search: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_memories: Option<u64>,
}

/// Options of [`crate::Space::remember`].
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RememberOptions {
    /// Text content (server default: empty).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// In `[0, 1]` (server default: 1.0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f32>,
    /// Seconds since the epoch (server default: its clock).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    /// Sent as the `Idempotency-Key` header; a random one per call when `None`. Replaying a
    /// key with the same payload answers the first id; with another payload, a conflict.
    #[serde(skip)]
    pub idempotency_key: Option<String>,
}

impl RememberOptions {
    /// Options with this content.
    pub fn content(content: impl Into<String>) -> Self {
        RememberOptions {
            content: Some(content.into()),
            ..Default::default()
        }
    }
}

/// One memory of [`crate::Space::remember_batch`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RememberItem {
    pub embedding: Vec<f32>,
    pub content: Option<String>,
    pub confidence: Option<f32>,
    pub timestamp: Option<f64>,
    pub metadata: Option<Metadata>,
}

impl RememberItem {
    /// An item with this embedding and the server's defaults for the rest.
    pub fn new(embedding: impl Into<Vec<f32>>) -> Self {
        RememberItem {
            embedding: embedding.into(),
            ..Default::default()
        }
    }
}

/// Which memories [`crate::Space::recall`] draws on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecallMode {
    Blended,
    Episodic,
    Semantic,
}

/// The decay model of [`crate::Space::recall`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecallDecay {
    TwoComponent,
    Exponential,
    PowerLaw,
    Hybrid,
}

/// Options of [`crate::Space::recall`].
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RecallOptions {
    /// How many results (server default 10).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub k: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<RecallMode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub semantic_weight: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f32>,
    /// The time recall is as of (seconds since the epoch; server default: now).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub now: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decay: Option<RecallDecay>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub include_concepts: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spreading: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spread_hops: Option<u32>,
}

/// The kind of an edge made by [`crate::Space::link`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    Association,
    Binding,
    Hierarchy,
}

/// Options of [`crate::Space::link`].
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LinkOptions {
    /// Server default 1.0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<f32>,
    /// Server default `association`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<LinkKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strength: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contribution: Option<f32>,
}

/// The decay of activation along edges in [`crate::Space::spread`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SpreadDecay {
    Exponential,
    PowerLaw,
    Linear,
}

/// Per-direction weights of [`SpreadOptions`] (`None`: the server's default).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DirectionWeights {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upward: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub downward: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lateral: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub episodic: Option<f32>,
}

/// Options of [`crate::Space::spread`].
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SpreadOptions {
    /// Server default 3.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_hops: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decay: Option<SpreadDecay>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decay_rate: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fan_effect: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_results: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direction_weights: Option<DirectionWeights>,
}

/// Where [`crate::Space::spread`] starts.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Seeds {
    /// Memory ids, each with activation 1.0.
    Ids(Vec<MemoryId>),
    /// Memory id -> activation in `(0, 1]`.
    Weighted(BTreeMap<MemoryId, f32>),
}

impl From<&[MemoryId]> for Seeds {
    fn from(ids: &[MemoryId]) -> Self {
        Seeds::Ids(ids.to_vec())
    }
}

impl From<Vec<MemoryId>> for Seeds {
    fn from(ids: Vec<MemoryId>) -> Self {
        Seeds::Ids(ids)
    }
}

impl<const N: usize> From<[MemoryId; N]> for Seeds {
    fn from(ids: [MemoryId; N]) -> Self {
        Seeds::Ids(ids.to_vec())
    }
}

impl From<BTreeMap<MemoryId, f32>> for Seeds {
    fn from(w: BTreeMap<MemoryId, f32>) -> Self {
        Seeds::Weighted(w)
    }
}

/// Options of [`crate::Space::complete`].
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CompleteOptions {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub neighbors: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hypotheses: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca1_threshold: Option<f32>,
}

/// Parameters of [`crate::Space::consolidate`] (`None`: the server's configuration).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ConsolidateParams {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub similarity_threshold: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coherence_threshold: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_cluster_size: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_concepts_per_run: Option<u32>,
}

// ------------------------------------------------------------------------------ results
// Hand-written: the OpenAPI document's response schemas are empty today.

/// A space as the server describes it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SpaceInfo {
    pub name: String,
    pub dim: u32,
    #[serde(default)]
    pub memories: u64,
}

/// A stored memory (an episode or a concept).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Memory {
    #[serde(deserialize_with = "id::one")]
    pub id: MemoryId,
    /// `episode` or `concept`.
    pub kind: String,
    pub embedding: Vec<f32>,
    #[serde(default)]
    pub content: String,
    pub confidence: f32,
    pub timestamp: f64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub metadata: Metadata,
}

/// A search result.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Hit {
    #[serde(deserialize_with = "id::one")]
    pub id: MemoryId,
    pub score: f32,
}

/// Where a recollection's score came from.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Provenance {
    pub kind: String,
    pub episodic_weight: f32,
    pub semantic_weight: f32,
}

/// A recall result.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Recollection {
    #[serde(deserialize_with = "id::one")]
    pub id: MemoryId,
    pub kind: String,
    pub score: f32,
    pub confidence: f32,
    #[serde(default)]
    pub activation: f32,
    #[serde(default)]
    pub provenance: Option<Provenance>,
    #[serde(default)]
    pub episodic: f32,
    #[serde(default)]
    pub semantic: f32,
}

/// An out-edge of a memory.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Neighbor {
    #[serde(deserialize_with = "id::one")]
    pub id: MemoryId,
    pub weight: f32,
    pub kind: String,
}

/// A memory reached by spreading activation.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Activated {
    #[serde(deserialize_with = "id::one")]
    pub id: MemoryId,
    pub activation: f32,
    pub hops: u32,
}

/// One alternative of a completion.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Hypothesis {
    pub vector: Vec<f32>,
    pub confidence: f32,
    #[serde(deserialize_with = "id::one")]
    pub source: MemoryId,
    pub kind: String,
}

/// A completed pattern.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Completion {
    pub vector: Vec<f32>,
    pub confidence: f32,
    pub accepted: bool,
    #[serde(deserialize_with = "id::many")]
    pub sources: Vec<MemoryId>,
    #[serde(default)]
    pub source_similarity: Vec<f32>,
    #[serde(default)]
    pub alternatives: Vec<Hypothesis>,
    #[serde(default)]
    pub known_dims: u32,
    #[serde(default)]
    pub provenance: Option<String>,
}

/// A concept formed by consolidation.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Concept {
    #[serde(deserialize_with = "id::one")]
    pub id: MemoryId,
    #[serde(default)]
    pub centroid: Vec<f32>,
    pub coherence: f32,
    pub confidence: f32,
    #[serde(default)]
    pub formed_at: f64,
    #[serde(default)]
    pub updated_at: f64,
    #[serde(deserialize_with = "id::many")]
    pub members: Vec<MemoryId>,
}

/// What one consolidation run did. The counters beyond `formed` and `updated` are kept in
/// `details` as the server sent them.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ConsolidationReport {
    #[serde(deserialize_with = "id::many")]
    pub formed: Vec<MemoryId>,
    #[serde(deserialize_with = "id::many")]
    pub updated: Vec<MemoryId>,
    #[serde(flatten)]
    pub details: serde_json::Map<String, serde_json::Value>,
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Memory ids in answers: JSON integers (API v1) or strings of decimal digits (API v2).
pub(crate) mod id {
    use serde::{de, Deserialize, Deserializer};

    use super::MemoryId;

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw<'a> {
        Int(i64),
        Text(&'a str),
        Owned(String),
    }

    fn parse<E: de::Error>(raw: Raw<'_>) -> Result<MemoryId, E> {
        let text = match raw {
            Raw::Int(i) => return Ok(i),
            Raw::Text(t) => t,
            Raw::Owned(ref t) => t.as_str(),
        };
        text.parse()
            .map_err(|_| E::custom(format!("memory id {text:?} is not a 64-bit integer")))
    }

    pub(crate) fn one<'de, D: Deserializer<'de>>(d: D) -> Result<MemoryId, D::Error> {
        parse(Raw::deserialize(d)?)
    }

    pub(crate) fn many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<MemoryId>, D::Error> {
        Vec::<Raw<'de>>::deserialize(d)?.into_iter().map(parse).collect()
    }

    /// An id in a stream message.
    pub(crate) fn of_value(v: &serde_json::Value) -> Option<MemoryId> {
        v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_read_as_integers_or_decimal_strings() {
        let h: Hit = serde_json::from_str(r#"{"id": 1099511627777, "score": 1.0}"#).unwrap();
        assert_eq!(h.id, 1_099_511_627_777);
        let h: Hit = serde_json::from_str(r#"{"id": "1099511627777", "score": 1.0}"#).unwrap();
        assert_eq!(h.id, 1_099_511_627_777);
        let r: ConsolidationReport =
            serde_json::from_str(r#"{"formed": ["5", 6], "updated": [], "concepts_formed": 2}"#).unwrap();
        assert_eq!(r.formed, [5, 6]);
        assert_eq!(r.details["concepts_formed"], 2);
        assert!(serde_json::from_str::<Hit>(r#"{"id": "x1", "score": 1.0}"#).is_err());
        assert!(serde_json::from_str::<Hit>(r#"{"id": 1.5, "score": 1.0}"#).is_err());
        let m: Memory = serde_json::from_str(
            r#"{"id":"7","kind":"episode","embedding":[1.0],"content":"","confidence":1.0,"timestamp":1.0,"metadata":null}"#,
        )
        .unwrap();
        assert!(m.metadata.is_empty());
        assert_eq!(id::of_value(&serde_json::json!("12")), Some(12));
    }
}
