//! The client against the server's OpenAPI document (`/openapi.json`, OpenAPI 3.1, which Rust
//! generators such as progenitor do not take, so the client is written by hand and checked
//! here instead): every route the client calls exists with its method in both API versions
//! (`/api/v2`, the default, and `/api/v1`); every request body the client sends, fully
//! populated, emits only properties of the schema the route refers to (in v2 that may be
//! `<Name>V2`, which takes ids as strings too; v1's is `<Name>`), every required one, and values
//! of the schema's types, enums and bounds. So the client cannot drift from the server.
//!
//! Response schemas are empty in the document today; the response types (src/types.rs) are
//! hand-written and exercised by tests/conformance.rs instead.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use engram_client::wire::{self, Embedding, Encoding};
use engram_client::*;
use serde::Serialize;
use serde_json::{json, Value};

/// The document, and the API prefixes of a default client (v2) and of a v1 client.
async fn document() -> (Value, [String; 2]) {
    let scenario = common::load_scenario();
    let server = common::Server::start(&scenario);
    let doc: Value = reqwest::get(format!("{}/openapi.json", server.url))
        .await
        .expect("GET /openapi.json")
        .json()
        .await
        .expect("the document is JSON");
    let default = Client::new(server.url.clone()).unwrap().api_prefix().to_string();
    let v1 = Client::builder(server.url.clone())
        .api_version("v1")
        .build()
        .unwrap()
        .api_prefix()
        .to_string();
    (doc, [default, v1])
}

fn to_json<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).expect("serializable")
}

fn metadata() -> Option<Metadata> {
    Some([("source".to_string(), "openapi".to_string())].into_iter().collect())
}

/// One fully-populated instance of every request body the client sends (both embedding
/// encodings where there is an embedding), by schema name.
fn full_bodies() -> BTreeMap<&'static str, Vec<Value>> {
    let mut out: BTreeMap<&'static str, Vec<Value>> = BTreeMap::new();
    for enc in [Encoding::Json, Encoding::Base64] {
        let emb = || Embedding::encode(&[1.0, 0.5, 0.0, -0.25], enc);
        out.entry("Remember").or_default().push(to_json(&wire::Remember {
            embedding: emb(),
            content: Some("c".into()),
            confidence: Some(0.5),
            timestamp: Some(1.7e9),
            metadata: metadata(),
        }));
        let item = wire::RememberItem {
            embedding: emb(),
            content: Some("c".into()),
            confidence: Some(0.5),
            timestamp: Some(1.7e9),
            metadata: metadata(),
        };
        out.entry("RememberBatch")
            .or_default()
            .push(to_json(&wire::RememberBatch {
                items: vec![item.clone(), item],
            }));
        out.entry("Search").or_default().push(to_json(&wire::Search {
            embedding: emb(),
            k: 10,
            ef: Some(64),
        }));
        out.entry("Recall").or_default().push(to_json(&wire::Recall {
            cue: emb(),
            options: RecallOptions {
                k: Some(5),
                mode: Some(RecallMode::Blended),
                semantic_weight: Some(0.3),
                threshold: Some(0.1),
                now: Some(1.7e9),
                decay: Some(RecallDecay::TwoComponent),
                include_concepts: Some(true),
                spreading: Some(true),
                spread_hops: Some(2),
            },
        }));
    }
    out.insert(
        "CreateSpace",
        vec![to_json(&wire::CreateSpace {
            name: "space".into(),
            options: SpaceOptions {
                dim: Some(4),
                m: Some(16),
                ef_construction: Some(200),
                ef_search: Some(64),
                max_memories: Some(1000),
            },
        })],
    );
    out.insert(
        "Link",
        vec![to_json(&wire::Link {
            src: 1,
            dst: 2,
            options: LinkOptions {
                weight: Some(0.8),
                kind: Some(LinkKind::Association),
                strength: Some(1.0),
                contribution: Some(1.0),
            },
        })],
    );
    let spread_options = SpreadOptions {
        max_hops: Some(3),
        decay: Some(SpreadDecay::Exponential),
        decay_rate: Some(0.5),
        threshold: Some(0.1),
        fan_effect: Some(true),
        max_results: Some(100),
        direction_weights: Some(DirectionWeights {
            upward: Some(0.8),
            downward: Some(0.6),
            lateral: Some(0.4),
            episodic: Some(0.3),
        }),
    };
    out.insert(
        "Spread",
        vec![
            to_json(&wire::Spread {
                seeds: Seeds::Ids(vec![1, 2]),
                options: spread_options.clone(),
            }),
            to_json(&wire::Spread {
                seeds: Seeds::Weighted([(1, 1.0), (-2, 0.5)].into_iter().collect()),
                options: spread_options,
            }),
        ],
    );
    out.insert(
        "Complete",
        vec![to_json(&wire::Complete {
            partial: vec![Some(1.0), None, Some(0.0)],
            options: CompleteOptions {
                neighbors: Some(8),
                hypotheses: Some(3),
                ca1_threshold: Some(0.7),
            },
        })],
    );
    out.insert(
        "Consolidate",
        vec![to_json(&wire::Consolidate {
            params: ConsolidateParams {
                similarity_threshold: Some(0.9),
                coherence_threshold: Some(0.8),
                min_cluster_size: Some(3),
                max_concepts_per_run: Some(10),
            },
        })],
    );
    out
}

fn deref<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let name = r.strip_prefix("#/components/schemas/").expect("a local schema ref");
            &doc["components"]["schemas"][name]
        }
        None => schema,
    }
}

fn type_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The JSON Schema keywords the document uses for request bodies: `$ref`, `anyOf`, `type`,
/// `enum`, `properties`, `required`, `additionalProperties`, `propertyNames`, `items`,
/// `minItems`/`maxItems`, `minimum`/`maximum`/`exclusiveMinimum`. Problems go to `errors`.
fn check(value: &Value, schema: &Value, doc: &Value, at: &str, errors: &mut Vec<String>) {
    let schema = deref(doc, schema);
    if let Some(branches) = schema.get("anyOf").and_then(Value::as_array) {
        let results: Vec<Vec<String>> = branches
            .iter()
            .map(|b| {
                let mut e = Vec::new();
                check(value, b, doc, at, &mut e);
                e
            })
            .collect();
        if !results.iter().any(Vec::is_empty) {
            errors.push(format!("{at}: {value} matches no branch of anyOf: {results:?}"));
        }
        return;
    }
    // `type` is a name or, in OpenAPI 3.1, a list of names (`["string", "null"]`)
    let types: Vec<&str> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    if !types.is_empty() {
        let actual = type_of(value);
        if !types
            .iter()
            .any(|&t| actual == t || (t == "number" && actual == "integer"))
        {
            errors.push(format!("{at}: {value} is {actual}, the schema wants {types:?}"));
            return;
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        if !allowed.contains(value) {
            errors.push(format!("{at}: {value} is not one of {allowed:?}"));
        }
    }
    if let Some(x) = value.as_f64() {
        let bound = |k: &str| schema.get(k).and_then(Value::as_f64);
        if bound("minimum").is_some_and(|m| x < m)
            || bound("maximum").is_some_and(|m| x > m)
            || bound("exclusiveMinimum").is_some_and(|m| x <= m)
        {
            errors.push(format!("{at}: {x} is outside the schema's bounds"));
        }
    }
    if let Value::Array(items) = value {
        let n = items.len() as u64;
        if schema.get("minItems").and_then(Value::as_u64).is_some_and(|m| n < m)
            || schema.get("maxItems").and_then(Value::as_u64).is_some_and(|m| n > m)
        {
            errors.push(format!("{at}: {n} items is outside the schema's bounds"));
        }
        if let Some(item_schema) = schema.get("items") {
            for (i, item) in items.iter().enumerate() {
                check(item, item_schema, doc, &format!("{at}[{i}]"), errors);
            }
        }
    }
    if let Value::Object(fields) = value {
        let props = schema.get("properties").and_then(Value::as_object);
        for req in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
            let req = req.as_str().unwrap_or_default();
            if !fields.contains_key(req) {
                errors.push(format!("{at}: the required property {req:?} is not emitted"));
            }
        }
        let names = schema.get("propertyNames").map(|s| deref(doc, s));
        for (k, v) in fields {
            if let Some(allowed) = names.and_then(|n| n.get("enum")).and_then(Value::as_array) {
                if !allowed.contains(&json!(k)) {
                    errors.push(format!("{at}: the key {k:?} is not one of {allowed:?}"));
                }
            }
            match (props.and_then(|p| p.get(k)), schema.get("additionalProperties")) {
                (Some(s), _) => check(v, s, doc, &format!("{at}.{k}"), errors),
                (None, Some(Value::Object(extra))) => {
                    check(v, &Value::Object(extra.clone()), doc, &format!("{at}.{k}"), errors)
                }
                (None, _) if props.is_some() => {
                    errors.push(format!("{at}: {k:?} is not a property of the schema"));
                }
                (None, _) => {}
            }
        }
    }
}

#[tokio::test]
async fn the_client_matches_the_servers_openapi_document() {
    let (doc, prefixes) = document().await;
    assert_eq!(prefixes, ["/api/v2", "/api/v1"], "v2 by default, v1 on request");
    assert!(
        doc["openapi"].as_str().unwrap_or("").starts_with("3."),
        "an OpenAPI document"
    );
    let paths = doc["paths"].as_object().expect("paths");
    let schemas = doc["components"]["schemas"].as_object().expect("components.schemas");
    let bodies = full_bodies();
    let mut errors = Vec::new();
    // (prefix, schema) pairs checked, and the body names checked in every version
    let mut checked: BTreeSet<(String, String)> = BTreeSet::new();
    let mut names = BTreeSet::new();
    for prefix in &prefixes {
        let v1 = prefix == "/api/v1";
        for route in wire::ROUTES {
            let path = format!("{prefix}{}", route.path);
            let method = route.method.to_lowercase();
            let Some(op) = paths.get(&path).and_then(|p| p.get(&method)) else {
                errors.push(format!("{} {path}: not in the document's paths", route.method));
                continue;
            };
            if op.get("deprecated").and_then(Value::as_bool).unwrap_or(false) != v1 {
                errors.push(format!(
                    "{} {path}: deprecated is {}, expected {v1}",
                    route.method, op["deprecated"]
                ));
            }
            let schema = op.pointer("/requestBody/content/application~1json/schema");
            match (route.body, schema) {
                (None, None) => {}
                (None, Some(_)) => errors.push(format!("{} {path}: takes a body the client never sends", route.method)),
                (Some(name), None) => errors.push(format!(
                    "{} {path}: the client sends {name}, the server takes no body",
                    route.method
                )),
                (Some(name), Some(schema)) => {
                    // v1 refers to <Name>; v2 to <Name>V2 where it has its own, else to <Name>
                    let v2_name = format!("{name}V2");
                    let want = if !v1 && schemas.contains_key(&v2_name) {
                        v2_name
                    } else {
                        name.to_string()
                    };
                    let reference = format!("#/components/schemas/{want}");
                    if schema.get("$ref").and_then(Value::as_str) != Some(reference.as_str()) {
                        errors.push(format!(
                            "{} {path}: the body's schema is {schema}, not {reference}",
                            route.method
                        ));
                    }
                    let Some(instances) = bodies.get(name) else {
                        errors.push(format!("{name}: no fully-populated instance in this test"));
                        continue;
                    };
                    for body in instances {
                        check(body, schema, &doc, &format!("{prefix} {want}"), &mut errors);
                    }
                    checked.insert((prefix.clone(), want));
                    names.insert(name);
                }
            }
        }
    }
    let unchecked: Vec<_> = bodies.keys().filter(|k| !names.contains(*k)).collect();
    assert!(unchecked.is_empty(), "bodies of no route: {unchecked:?}");
    let per_version = |p: &str| checked.iter().filter(|(q, _)| q == p).count();
    assert!(
        per_version("/api/v2") >= 9 && per_version("/api/v1") >= 9,
        "{checked:?}"
    );
    let v2_own: Vec<_> = checked.iter().filter(|(_, n)| n.ends_with("V2")).collect();
    assert!(
        v2_own.len() >= 2,
        "the v2 routes' own schemas (LinkV2, SpreadV2) were checked: {checked:?}"
    );
    assert!(
        errors.is_empty(),
        "the client disagrees with /openapi.json:\n{}",
        errors.join("\n")
    );
}

#[tokio::test]
async fn enums_errors_and_the_stream_match_the_document() {
    let (doc, [prefix, _]) = document().await;
    let schemas = &doc["components"]["schemas"];
    let mut errors = Vec::new();
    // every variant of every enum the client can send
    let variants: [(&str, &str, Vec<Value>); 4] = [
        (
            "Recall",
            "mode",
            [RecallMode::Blended, RecallMode::Episodic, RecallMode::Semantic]
                .iter()
                .map(to_json)
                .collect(),
        ),
        (
            "Recall",
            "decay",
            [
                RecallDecay::TwoComponent,
                RecallDecay::Exponential,
                RecallDecay::PowerLaw,
                RecallDecay::Hybrid,
            ]
            .iter()
            .map(to_json)
            .collect(),
        ),
        (
            "Link",
            "kind",
            [LinkKind::Association, LinkKind::Binding, LinkKind::Hierarchy]
                .iter()
                .map(to_json)
                .collect(),
        ),
        (
            "Spread",
            "decay",
            [SpreadDecay::Exponential, SpreadDecay::PowerLaw, SpreadDecay::Linear]
                .iter()
                .map(to_json)
                .collect(),
        ),
    ];
    for (schema, field, values) in variants {
        for v in values {
            check(
                &v,
                &schemas[schema]["properties"][field],
                &doc,
                &format!("{schema}.{field}"),
                &mut errors,
            );
        }
    }
    // the error bodies ApiError reads: v1's, and v2's with `field`
    for (schema, fields) in [
        (
            "Error",
            &["code", "message", "status", "request_id", "retry_after_ms"][..],
        ),
        (
            "ErrorV2",
            &["code", "message", "status", "request_id", "retry_after_ms", "field"][..],
        ),
    ] {
        let error = &schemas[schema]["properties"]["error"]["properties"];
        for field in fields {
            if error.get(field).is_none() {
                errors.push(format!("{schema}.error has no {field}"));
            }
        }
    }
    // the v2 routes answer errors of ErrorV2
    let v2_error = doc.pointer("/paths/~1api~1v2~1spaces/get/responses/400/content/application~1json/schema/$ref");
    if v2_error.and_then(Value::as_str) != Some("#/components/schemas/ErrorV2") {
        errors.push(format!("GET /api/v2/spaces answers 400 with {v2_error:?}, not ErrorV2"));
    }
    // the stream is described, not listed as an operation: its path and observation fields
    let description = doc["info"]["description"].as_str().unwrap_or_default();
    // "a WebSocket at /api/v1/spaces/{space}/stream", or "/api/v2/spaces/{space}/stream (or
    // /api/v1/...)" once v2 is served
    let stream_path = format!("{prefix}{}", wire::STREAM_PATH);
    if !(description.contains(&stream_path)
        || (description.contains(wire::STREAM_PATH) && description.contains(&format!("{prefix}/"))))
    {
        errors.push(format!("the description does not mention {stream_path}"));
    }
    let described: BTreeSet<String> = description
        .split_once("the client sends {")
        .and_then(|(_, rest)| rest.split_once('}'))
        .map(|(fields, _)| {
            fields
                .split(',')
                .map(|f| f.split(':').next().unwrap().trim().to_string())
                .collect()
        })
        .unwrap_or_default();
    let observation = to_json(&wire::StreamObservation {
        kind: "observation",
        seq: 1,
        embedding: vec![1.0],
        content: Some("c".into()),
        confidence: Some(1.0),
        timestamp: Some(1.0),
        metadata: metadata(),
        idempotency_key: "k".into(),
    });
    let sent: BTreeSet<String> = observation.as_object().unwrap().keys().cloned().collect();
    if sent != described {
        errors.push(format!(
            "stream observation fields {sent:?}, the document describes {described:?}"
        ));
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

/// The checker itself can fail (so a broken checker is caught).
#[test]
fn the_schema_check_can_fail() {
    let doc = json!({"components": {"schemas": {"S": {
        "type": "object", "additionalProperties": false, "required": ["a"],
        "properties": {"a": {"type": "integer", "minimum": 0},
                       "e": {"anyOf": [{"type": "array", "items": {"type": "number"}}, {"type": "string"}]},
                       "k": {"enum": ["x", "y"], "type": "string"}}}}}});
    let schema = json!({"$ref": "#/components/schemas/S"});
    let run = |v: Value| {
        let mut e = Vec::new();
        check(&v, &schema, &doc, "S", &mut e);
        e
    };
    assert!(run(json!({"a": 1, "e": [1.5], "k": "x"})).is_empty());
    assert!(run(json!({"a": 1, "e": "AAAA"})).is_empty());
    assert_eq!(run(json!({"e": [1]})).len(), 1, "required a missing");
    assert_eq!(run(json!({"a": 1, "z": 0})).len(), 1, "z is not a property");
    assert_eq!(run(json!({"a": -1})).len(), 1, "below the minimum");
    assert_eq!(run(json!({"a": 1.5})).len(), 1, "not an integer");
    assert_eq!(run(json!({"a": 1, "e": [true]})).len(), 1, "no anyOf branch");
    assert_eq!(run(json!({"a": 1, "k": "w"})).len(), 1, "not in the enum");
    let nullable = json!({"type": ["string", "null"]});
    let run_type = |v: Value| {
        let mut e = Vec::new();
        check(&v, &nullable, &doc, "T", &mut e);
        e
    };
    assert!(run_type(json!("x")).is_empty() && run_type(json!(null)).is_empty());
    assert_eq!(run_type(json!(1)).len(), 1, "neither a string nor null");
}
