//! The client conformance scenario (clients/conformance/scenario.json, rules in its README.md),
//! run with this crate's typed client against a real engramd, over both API versions (v2, the
//! default, and v1), each against its own server. The Python and TypeScript clients run the
//! same file with their own runners; all must pass every step.
//!
//! `cargo test --test conformance` (engramd from `$ENGRAM_ENGRAMD`, else PATH; a missing
//! engramd fails the test, it never skips).

mod common;

use std::collections::BTreeMap;

use engram_client::{
    Client, CompleteOptions, ConsolidateParams, Error, LinkOptions, Observation, RecallOptions, RememberItem,
    RememberOptions, SpreadOptions, StreamOptions,
};
use serde_json::{json, Map, Value};

const NUMBER_TOLERANCE: f64 = 1e-4;
const RANGE_SLACK: f64 = 1e-6;

type Saved = Map<String, Value>;

// ---------------------------------------------------------------------------------- the rules

/// `"$name.1.id"`: the saved result `name`, then index 1, then key `id`.
fn lookup(saved: &Saved, reference: &str) -> Result<Value, String> {
    let mut parts = reference[1..].split('.');
    let name = parts.next().unwrap_or_default();
    let mut value = saved
        .get(name)
        .ok_or_else(|| format!("{reference}: no step saved a result named {name:?}"))?;
    for part in parts {
        value = match value {
            Value::Array(a) => part.parse::<usize>().ok().and_then(|i| a.get(i)),
            Value::Object(o) => o.get(part),
            _ => None,
        }
        .ok_or_else(|| format!("{reference}: nothing at {part:?} in {value}"))?;
    }
    Ok(value.clone())
}

/// Arguments with their `$` references replaced by saved results.
fn resolve(value: &Value, saved: &Saved) -> Result<Value, String> {
    Ok(match value {
        Value::String(s) if s.starts_with("$$") => Value::String(s[1..].to_string()),
        Value::String(s) if s.starts_with('$') => lookup(saved, s)?,
        Value::Array(a) => Value::Array(a.iter().map(|v| resolve(v, saved)).collect::<Result<_, _>>()?),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| Ok((k.clone(), resolve(v, saved)?)))
                .collect::<Result<_, String>>()?,
        ),
        v => v.clone(),
    })
}

fn is_matcher(expected: &Value) -> Option<(&str, &Value)> {
    match expected {
        Value::Object(o) if o.len() == 1 => {
            let (k, v) = o.iter().next()?;
            k.starts_with('$').then_some((k.as_str(), v))
        }
        _ => None,
    }
}

fn is_integer(v: &Value) -> bool {
    v.as_i64().is_some() || v.as_u64().is_some()
}

/// Python's `==` on JSON values: 1 == 1.0, otherwise structural.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

fn type_ok(kind: &str, actual: &Value) -> Result<bool, String> {
    Ok(match kind {
        "id" => is_integer(actual),
        "number" => actual.is_number(),
        "string" => actual.is_string(),
        "bool" => actual.is_boolean(),
        "array" => actual.is_array(),
        "object" => actual.is_object(),
        "null" => actual.is_null(),
        other => return Err(format!("unknown $type {other:?}")),
    })
}

/// None when `actual` matches `expected`; otherwise where and how it differs.
fn mismatch(actual: &Value, expected: &Value, saved: &Saved, at: &str) -> Option<String> {
    let unescaped;
    let mut expected = expected;
    if let Value::String(s) = expected {
        if s.starts_with("$$") {
            unescaped = Value::String(s[1..].to_string());
            expected = &unescaped;
        } else if s.starts_with('$') {
            return match lookup(saved, s) {
                Err(e) => Some(format!("{at}: {e}")),
                Ok(v) if same(actual, &v) => None,
                Ok(v) => Some(format!("{at}: {actual} != {v}")),
            };
        }
    }
    if let Some((op, arg)) = is_matcher(expected) {
        return match op {
            "$type" => match type_ok(arg.as_str().unwrap_or_default(), actual) {
                Err(e) => Some(format!("{at}: {e}")),
                Ok(true) => None,
                Ok(false) => Some(format!("{at}: {actual} is not of type {arg}")),
            },
            "$len" => {
                let n = match actual {
                    Value::Array(a) => Some(a.len()),
                    Value::String(s) => Some(s.chars().count()),
                    _ => None,
                };
                if n.is_some() && n.map(|n| n as u64) == arg.as_u64() {
                    None
                } else {
                    Some(format!("{at}: {actual} does not have length {arg}"))
                }
            }
            "$range" => {
                let (lo, hi) = (arg[0].as_f64().unwrap_or(f64::NAN), arg[1].as_f64().unwrap_or(f64::NAN));
                match actual.as_f64() {
                    Some(x) if lo - RANGE_SLACK <= x && x <= hi + RANGE_SLACK => None,
                    _ => Some(format!("{at}: {actual} is not in [{lo}, {hi}]")),
                }
            }
            "$all" => {
                let Value::Array(items) = actual else {
                    return Some(format!("{at}: {actual} is not an array"));
                };
                let mut free: Vec<usize> = (0..items.len()).collect();
                for (i, m) in arg.as_array().into_iter().flatten().enumerate() {
                    match free.iter().position(|&j| mismatch(&items[j], m, saved, "").is_none()) {
                        Some(p) => {
                            free.remove(p);
                        }
                        None => return Some(format!("{at}: no element matches $all[{i}] = {m} in {actual}")),
                    }
                }
                None
            }
            other => Some(format!("{at}: unknown matcher {other:?}")),
        };
    }
    match expected {
        Value::Object(want) => {
            let Value::Object(got) = actual else {
                return Some(format!("{at}: {actual} is not an object"));
            };
            for (k, v) in want {
                let here = format!("{at}.{k}");
                let Some(a) = got.get(k) else {
                    return Some(format!("{here}: missing"));
                };
                if let Some(why) = mismatch(a, v, saved, &here) {
                    return Some(why);
                }
            }
            None
        }
        Value::Array(want) => {
            let got = match actual {
                Value::Array(got) if got.len() == want.len() => got,
                _ => return Some(format!("{at}: {actual} is not an array of length {}", want.len())),
            };
            got.iter()
                .zip(want)
                .enumerate()
                .find_map(|(i, (a, e))| mismatch(a, e, saved, &format!("{at}.{i}")))
        }
        Value::Number(e) => {
            let e = e.as_f64().unwrap_or(f64::NAN);
            match actual.as_f64() {
                Some(a) if (a - e).abs() <= NUMBER_TOLERANCE * e.abs().max(1.0) => None,
                _ => Some(format!("{at}: {actual} != {e}")),
            }
        }
        _ if actual == expected => None,
        _ => Some(format!("{at}: {actual} != {expected}")),
    }
}

// ---------------------------------------------------------------------------------- the calls

enum Failure {
    Client(Error),
    Scenario(String),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Client(e)
    }
}

fn arg<'a>(args: &'a Value, name: &str) -> Result<&'a Value, Failure> {
    args.get(name)
        .filter(|v| !v.is_null())
        .ok_or_else(|| Failure::Scenario(format!("argument {name:?} missing")))
}

fn opt<'a>(args: &'a Value, name: &str) -> Option<&'a Value> {
    args.get(name).filter(|v| !v.is_null())
}

fn string(args: &Value, name: &str) -> Result<String, Failure> {
    arg(args, name)?
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| Failure::Scenario(format!("argument {name:?} is not a string")))
}

fn int(v: &Value, name: &str) -> Result<i64, Failure> {
    v.as_i64()
        .ok_or_else(|| Failure::Scenario(format!("{name:?}: {v} is not an integer")))
}

fn floats(v: &Value, name: &str) -> Result<Vec<f32>, Failure> {
    v.as_array()
        .and_then(|a| a.iter().map(|x| x.as_f64().map(|f| f as f32)).collect())
        .ok_or_else(|| Failure::Scenario(format!("{name:?}: {v} is not an array of numbers")))
}

fn metadata(v: Option<&Value>) -> Result<Option<BTreeMap<String, String>>, Failure> {
    v.map(|m| {
        m.as_object()
            .and_then(|o| {
                o.iter()
                    .map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                    .collect()
            })
            .ok_or_else(|| Failure::Scenario(format!("metadata {m} is not an object of strings")))
    })
    .transpose()
}

fn f(x: f32) -> Value {
    json!(f64::from(x))
}

fn fs(xs: &[f32]) -> Value {
    Value::Array(xs.iter().map(|&x| f(x)).collect())
}

/// One scenario call with the Rust client, its result in the scenario's JSON shape.
async fn call(client: &Client, name: &str, args: &Value) -> Result<Value, Failure> {
    let space = match opt(args, "space") {
        Some(_) => Some(client.space(string(args, "space")?)),
        None => None,
    };
    let sp = || {
        space
            .as_ref()
            .ok_or_else(|| Failure::Scenario(format!("{name} needs a space")))
    };
    let id = |key: &str| int(arg(args, key)?, key);
    let n = |key: &str| opt(args, key).map(|v| int(v, key).map(|x| x as u32)).transpose();
    Ok(match name {
        "create_space" => {
            let s = client
                .create_space(&string(args, "name")?, int(arg(args, "dim")?, "dim")? as u32)
                .await?;
            json!({"name": s.name, "dim": s.dim})
        }
        "spaces" => json!(client.spaces().await?),
        "drop_space" => {
            client.drop_space(&string(args, "name")?).await?;
            Value::Null
        }
        "remember" => {
            let options = RememberOptions {
                content: opt(args, "content").and_then(Value::as_str).map(str::to_string),
                confidence: opt(args, "confidence").and_then(Value::as_f64).map(|c| c as f32),
                timestamp: opt(args, "timestamp").and_then(Value::as_f64),
                metadata: metadata(opt(args, "metadata"))?,
                idempotency_key: opt(args, "idempotency_key").and_then(Value::as_str).map(str::to_string),
            };
            json!(
                sp()?
                    .remember(&floats(arg(args, "embedding")?, "embedding")?, options)
                    .await?
            )
        }
        "remember_batch" => {
            let mut items = Vec::new();
            for it in arg(args, "items")?.as_array().into_iter().flatten() {
                items.push(RememberItem {
                    embedding: floats(arg(it, "embedding")?, "embedding")?,
                    content: opt(it, "content").and_then(Value::as_str).map(str::to_string),
                    confidence: opt(it, "confidence").and_then(Value::as_f64).map(|c| c as f32),
                    timestamp: opt(it, "timestamp").and_then(Value::as_f64),
                    metadata: metadata(opt(it, "metadata"))?,
                });
            }
            json!(sp()?.remember_batch(items).await?)
        }
        "get" => {
            let m = sp()?.get(id("id")?).await?;
            json!({"id": m.id, "kind": m.kind, "embedding": fs(&m.embedding), "content": m.content,
                   "confidence": f(m.confidence), "timestamp": m.timestamp, "metadata": m.metadata})
        }
        "forget" => {
            sp()?.forget(id("id")?).await?;
            Value::Null
        }
        "search" => {
            let k = n("k")?.ok_or_else(|| Failure::Scenario("search needs k".into()))?;
            let hits = sp()?
                .search(&floats(arg(args, "embedding")?, "embedding")?, k, n("ef")?)
                .await?;
            Value::Array(hits.iter().map(|h| json!({"id": h.id, "score": f(h.score)})).collect())
        }
        "recall" => {
            let options = RecallOptions {
                k: n("k")?,
                ..Default::default()
            };
            let rows = sp()?.recall(&floats(arg(args, "cue")?, "cue")?, options).await?;
            Value::Array(
                rows.iter()
                    .map(|r| {
                        json!({"id": r.id, "kind": r.kind, "score": f(r.score),
                                    "confidence": f(r.confidence), "activation": f(r.activation)})
                    })
                    .collect(),
            )
        }
        "link" => {
            let options = LinkOptions {
                weight: opt(args, "weight").and_then(Value::as_f64).map(|w| w as f32),
                ..Default::default()
            };
            json!(sp()?.link(id("src")?, id("dst")?, options).await?)
        }
        "neighbors" => {
            let rows = sp()?.neighbors(id("id")?).await?;
            Value::Array(
                rows.iter()
                    .map(|r| json!({"id": r.id, "weight": f(r.weight), "kind": r.kind}))
                    .collect(),
            )
        }
        "spread" => {
            let seeds = arg(args, "seeds")?
                .as_array()
                .into_iter()
                .flatten()
                .map(|s| int(s, "seeds"))
                .collect::<Result<Vec<_>, _>>()?;
            let rows = sp()?.spread(seeds, SpreadOptions::default()).await?;
            Value::Array(
                rows.iter()
                    .map(|r| json!({"id": r.id, "activation": f(r.activation), "hops": r.hops}))
                    .collect(),
            )
        }
        "complete" => {
            let partial: Vec<Option<f32>> = arg(args, "partial")?
                .as_array()
                .into_iter()
                .flatten()
                .map(|v| v.as_f64().map(|x| x as f32))
                .collect();
            let c = sp()?.complete(&partial, CompleteOptions::default()).await?;
            json!({"vector": fs(&c.vector), "confidence": f(c.confidence), "accepted": c.accepted,
                   "sources": c.sources})
        }
        "consolidate" => {
            let r = sp()?.consolidate(ConsolidateParams::default()).await?;
            json!({"formed": r.formed, "updated": r.updated})
        }
        "concepts" => {
            let rows = sp()?.concepts().await?;
            Value::Array(
                rows.iter()
                    .map(|c| {
                        json!({"id": c.id, "members": c.members, "coherence": f(c.coherence),
                                    "confidence": f(c.confidence)})
                    })
                    .collect(),
            )
        }
        "concept_members" => json!(sp()?.concept_members(id("id")?).await?),
        "stream" => {
            let stream = client.stream(&string(args, "space")?, StreamOptions::default()).await?;
            let mut order = Vec::new();
            for o in arg(args, "observations")?.as_array().into_iter().flatten() {
                let mut obs = Observation::new(floats(arg(o, "embedding")?, "embedding")?);
                obs.content = opt(o, "content").and_then(Value::as_str).map(str::to_string);
                order.push(stream.send(obs).await?);
            }
            let acked = stream.flush().await?;
            stream.close().await?;
            let ids: Option<Vec<i64>> = order.iter().map(|i| acked.get(i).copied()).collect();
            json!(ids.ok_or_else(|| Failure::Scenario(format!("not every observation was acknowledged: {acked:?}")))?)
        }
        other => return Err(Failure::Scenario(format!("unknown scenario call {other:?}"))),
    })
}

/// Every step in order; the failures, each naming its step (empty: all passed).
async fn run_scenario(scenario: &Value, url: &str) -> Vec<String> {
    run_scenario_over(scenario, url, engram_client::DEFAULT_API_VERSION).await
}

async fn run_scenario_over(scenario: &Value, url: &str, api_version: &str) -> Vec<String> {
    let mut clients = BTreeMap::new();
    for (name, key) in scenario["keys"].as_object().expect("keys") {
        let client = Client::builder(url)
            .api_version(api_version)
            .api_key_opt(key.as_str().map(str::to_string))
            .build()
            .expect("a client");
        clients.insert(name.clone(), client);
    }
    let mut saved = Saved::new();
    let mut failures = Vec::new();
    for (i, step) in scenario["steps"].as_array().expect("steps").iter().enumerate() {
        let label = format!("step {i} ({})", step["name"].as_str().unwrap_or("?"));
        let key = step.get("key").and_then(Value::as_str).unwrap_or("admin");
        let Some(client) = clients.get(key) else {
            failures.push(format!("{label}: no key named {key:?} in the scenario's keys"));
            continue;
        };
        let args = match resolve(step.get("args").unwrap_or(&json!({})), &saved) {
            Ok(a) => a,
            Err(e) => {
                failures.push(format!("{label}: {e}"));
                continue;
            }
        };
        let name = step["call"].as_str().unwrap_or_default();
        let result = match call(client, name, &args).await {
            Ok(v) => v,
            Err(Failure::Scenario(why)) => {
                failures.push(format!("{label}: {why}"));
                continue;
            }
            Err(Failure::Client(e)) => {
                match step.get("error") {
                    None => failures.push(format!("{label}: unexpected error {e}")),
                    Some(want) => {
                        let (code, status) = (
                            want["code"].as_str().unwrap_or(""),
                            want["status"].as_u64().unwrap_or(0),
                        );
                        if (e.code(), u64::from(e.status())) != (code, status) {
                            failures.push(format!(
                                "{label}: error {}/{} ({e}), expected {code}/{status}",
                                e.code(),
                                e.status()
                            ));
                        }
                    }
                }
                continue;
            }
        };
        if let Some(want) = step.get("error") {
            failures.push(format!("{label}: returned {result}, expected error {want}"));
            continue;
        }
        if let Some(why) = mismatch(&result, step.get("expect").unwrap_or(&Value::Null), &saved, "result") {
            failures.push(format!("{label}: {why}"));
        }
        if let Some(name) = step.get("save").and_then(Value::as_str) {
            saved.insert(name.to_string(), result);
        }
    }
    failures
}

/// Every step over `api_version`, against a fresh engramd (the scenario names its spaces).
async fn every_step_passes_over(api_version: &str) {
    let scenario = common::load_scenario();
    let steps = scenario["steps"].as_array().map_or(0, Vec::len);
    assert!(steps >= 30, "a scenario that lost its steps measures nothing");
    let server = common::Server::start(&scenario);
    let failures = run_scenario_over(&scenario, &server.url, api_version).await;
    println!(
        "conformance over API {api_version}: {} of {steps} steps passed",
        steps - failures.len()
    );
    assert!(
        failures.is_empty(),
        "over API {api_version}, {} of {steps} conformance steps failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// API v2, the default: ids written as strings (read back as `i64`), lists in pages.
#[tokio::test]
async fn every_step_passes_over_api_v2() {
    assert_eq!(engram_client::DEFAULT_API_VERSION, "v2");
    every_step_passes_over("v2").await;
}

/// API v1, deprecated but served: ids written as integers, lists in one piece.
#[tokio::test]
async fn every_step_passes_over_api_v1() {
    every_step_passes_over("v1").await;
}

// ---------------------------------------------------------------------------------- self-tests

/// The rules of the README, including what must not match (so a broken matcher is caught);
/// the same cases as the Python runner's, and a few more.
#[test]
fn the_matcher_can_fail() {
    let saved: Saved = json!({"saved": 7, "list": [{"id": 3}, {"id": 4}]})
        .as_object()
        .unwrap()
        .clone();
    let cases = [
        (json!({"a": 1, "b": 2}), json!({"a": 1}), true),
        (json!([1, 2]), json!([1]), false),
        (json!(0.89999997), json!(0.9), true),
        (json!(0.8), json!(0.9), false),
        (json!([3, 1, 2]), json!({"$all": [1, 2]}), true),
        (json!([1, 1]), json!({"$all": [1, 1, 1]}), false),
        (json!(5), json!({"$type": "id"}), true),
        (json!(5.5), json!({"$type": "id"}), false),
        (json!(true), json!({"$type": "id"}), false),
        (json!(0.5), json!({"$range": [0, 1]}), true),
        (json!(1.5), json!({"$range": [0, 1]}), false),
        (json!("$x"), json!("$$x"), true),
        (json!(7), json!("$saved"), true),
        (json!(8), json!("$saved"), false),
        (json!(null), json!(null), true),
        (json!(false), json!(null), false),
        // beyond the Python cases
        (json!(4), json!("$list.1.id"), true),
        (json!(3), json!("$list.1.id"), false),
        (json!(1), json!("$nothing"), false),
        (json!({"b": 1}), json!({"a": 1}), false),
        (json!("abc"), json!({"$len": 3}), true),
        (json!([1, 2]), json!({"$len": 3}), false),
        (json!(1), json!(true), false),
        (json!("1"), json!(1), false),
        (json!(1000.05), json!(1000), true),
        (json!(1000.2), json!(1000), false),
        (json!(2), json!({"$type": "number"}), true),
        (json!("2"), json!({"$type": "number"}), false),
        (json!(1), json!({"$oops": 1}), false),
        (
            json!([{"id": 1, "x": 0}, {"id": 2}]),
            json!({"$all": [{"id": 2}, {"id": 1}]}),
            true,
        ),
        (json!([{"id": 1}]), json!({"$all": [{"id": 1}, {"id": 1}]}), false),
    ];
    let mut wrong = Vec::new();
    for (actual, expected, ok) in &cases {
        let got = mismatch(actual, expected, &saved, "result");
        if got.is_none() != *ok {
            wrong.push(format!("{actual} vs {expected}: expected match={ok}, got {got:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn references_resolve_and_escape() {
    let saved: Saved = json!({"batch": [10, 11], "report": {"formed": [20]}})
        .as_object()
        .unwrap()
        .clone();
    let args = json!({"id": "$batch.1", "ids": ["$report.formed.0"], "name": "$$literal", "n": 3});
    assert_eq!(
        resolve(&args, &saved).unwrap(),
        json!({"id": 11, "ids": [20], "name": "$literal", "n": 3})
    );
    assert!(resolve(&json!("$missing"), &saved).is_err());
    assert!(resolve(&json!("$batch.9"), &saved).is_err());
}

#[test]
fn a_missing_engramd_is_a_failure_with_a_clear_message() {
    let why = common::find_engramd_in(Some("/nonexistent/engramd".into()), None).unwrap_err();
    assert!(
        why.contains("ENGRAM_ENGRAMD=/nonexistent/engramd is not an executable"),
        "{why}"
    );
    let why = common::find_engramd_in(None, Some("/nonexistent-dir".into())).unwrap_err();
    assert!(why.contains("engramd not found: set ENGRAM_ENGRAMD"), "{why}");
}

/// The runner itself can fail: a scenario with three wrong expectations fails exactly those
/// three steps, each reported by name (and the other steps still pass).
#[tokio::test]
async fn wrong_expectations_fail_their_steps_by_name() {
    let mut scenario = common::load_scenario();
    let steps = scenario["steps"].as_array_mut().expect("steps");
    let find = |steps: &Vec<Value>, name: &str| steps.iter().position(|s| s["name"] == name).expect(name);
    let a = find(steps, "create a space");
    steps[a]["expect"]["dim"] = json!(5);
    let b = find(steps, "creating it again is refused");
    steps[b]["error"]["code"] = json!("not_the_code");
    let c = find(steps, "link alpha to beta");
    steps[c]["expect"] = json!(false);
    let server = common::Server::start(&scenario);
    let failures = run_scenario(&scenario, &server.url).await;
    let labels: Vec<String> = [a, b, c]
        .iter()
        .map(|&i| format!("step {i} ({})", scenario["steps"][i]["name"].as_str().unwrap()))
        .collect();
    assert_eq!(failures.len(), 3, "{failures:#?}");
    for (failure, label) in failures.iter().zip(&labels) {
        assert!(failure.starts_with(label.as_str()), "{failure} does not name {label}");
    }
}
