//! API v2 against a real engramd (what the conformance scenario does not show): lists followed
//! through pages of a small `page_limit`, the `field` of v2's errors, and the deprecation of
//! v1's routes told once per route (and never for v2).

mod common;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use engram_client::{Client, ErrorKind, LinkOptions, RememberItem};
use serde_json::Value;

fn admin_key(scenario: &Value) -> String {
    scenario["keys"]["admin"].as_str().expect("an admin key").to_string()
}

fn client(server: &common::Server, key: &str, version: &str) -> Client {
    Client::builder(&server.url)
        .api_key(key)
        .api_version(version)
        .build()
        .unwrap()
}

/// How many requests of `method route` engramd has logged (its `request` events).
fn logged(server: &common::Server, method: &str, route: &str) -> usize {
    server
        .log()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["event"] == "request" && e["method"] == method && e["route"] == route)
        .count()
}

/// [`logged`] once it reaches `want` (the log is read by another thread), or after 5 s.
fn logged_reaching(server: &common::Server, method: &str, route: &str, want: usize) -> usize {
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let n = logged(server, method, route);
        if n >= want || Instant::now() > until {
            return n;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[tokio::test]
async fn v2_lists_are_followed_through_pages_of_page_limit_items() {
    let scenario = common::load_scenario();
    let server = common::Server::start(&scenario);
    let key = admin_key(&scenario);
    let paged = Client::builder(&server.url)
        .api_key(&key)
        .page_limit(2)
        .build()
        .unwrap();
    for i in 0..5 {
        paged.create_space(&format!("paged-{i}"), 4).await.unwrap();
    }
    let v1 = client(&server, &key, "v1");
    let all = v1.spaces().await.unwrap();
    assert_eq!(all.len(), 5, "{all:?}");

    let before = logged(&server, "GET", "/api/v2/spaces");
    assert_eq!(
        paged.spaces().await.unwrap(),
        all,
        "the pages merged, in the server's order"
    );
    assert_eq!(
        logged_reaching(&server, "GET", "/api/v2/spaces", before + 3) - before,
        3,
        "5 spaces in pages of 2"
    );
    let default = client(&server, &key, "v2");
    assert_eq!(default.spaces().await.unwrap(), all);
    assert_eq!(
        logged_reaching(&server, "GET", "/api/v2/spaces", before + 4) - before,
        4,
        "pages of 1000: one request"
    );

    // a memory with 5 out-edges: 3 pages of neighbours
    let sp = paged.space("paged-0");
    let ids = sp
        .remember_batch(
            (0..6)
                .map(|i| RememberItem::new(vec![1.0, i as f32, 0.0, 0.0]))
                .collect(),
        )
        .await
        .unwrap();
    for (i, &dst) in ids[1..].iter().enumerate() {
        let options = LinkOptions {
            weight: Some((i + 1) as f32 / 10.0),
            ..Default::default()
        };
        assert!(sp.link(ids[0], dst, options).await.unwrap());
    }
    let route = "/api/v2/spaces/{space}/memories/{memory_id}/neighbors";
    let before = logged(&server, "GET", route);
    let neighbors = sp.neighbors(ids[0]).await.unwrap();
    assert_eq!(logged_reaching(&server, "GET", route, before + 3) - before, 3);
    assert_eq!(neighbors, v1.space("paged-0").neighbors(ids[0]).await.unwrap());
    let mut got: Vec<i64> = neighbors.iter().map(|n| n.id).collect();
    got.sort_unstable();
    assert_eq!(got, ids[1..]);
}

#[tokio::test]
async fn v2_errors_name_their_field() {
    let scenario = common::load_scenario();
    let server = common::Server::start(&scenario);
    let key = admin_key(&scenario);
    let v2 = client(&server, &key, "v2");
    v2.create_space("fields", 4).await.unwrap();
    let bad_second = || vec![RememberItem::new(vec![1.0, 0.0, 0.0, 0.0]), RememberItem::new(vec![])];
    let err = v2.space("fields").remember_batch(bad_second()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert_eq!(err.field(), Some("/items/1/embedding"), "{err}");
    assert_eq!(err.retry_after(), None);
    let err = v2
        .space("fields")
        .search(&[1.0, 0.0, 0.0, 0.0], 0, None)
        .await
        .unwrap_err();
    assert_eq!(err.field(), Some("/k"), "{err}");
    let err = v2.space("nowhere").info().await.unwrap_err();
    assert_eq!((err.kind(), err.field()), (ErrorKind::SpaceNotFound, None));
    // v1 writes no field
    let v1 = client(&server, &key, "v1");
    let err = v1.space("fields").remember_batch(bad_second()).await.unwrap_err();
    assert_eq!((err.kind(), err.field()), (ErrorKind::InvalidInput, None), "{err}");
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

/// The deprecation warnings about the server at `url` so far.
fn warnings_about(url: &str) -> Vec<String> {
    WARNINGS
        .lock()
        .unwrap()
        .iter()
        .filter(|w| w.contains("is deprecated by") && w.contains(&format!("by {url} ")))
        .cloned()
        .collect()
}

#[tokio::test]
async fn v1_routes_are_told_deprecated_once_per_route_and_v2_never() {
    static CAPTURE: Capture = Capture;
    let _ = log::set_logger(&CAPTURE);
    log::set_max_level(log::LevelFilter::Warn);
    let scenario = common::load_scenario();
    let server = common::Server::start(&scenario);
    let key = admin_key(&scenario);

    let v2 = client(&server, &key, "v2");
    v2.create_space("deprecation-a", 4).await.unwrap();
    let a = v2.space("deprecation-a");
    let id_a = a
        .remember_batch(vec![RememberItem::new(vec![1.0, 0.0, 0.0, 0.0])])
        .await
        .unwrap()[0];
    a.get(id_a).await.unwrap();
    a.get(id_a).await.unwrap();
    v2.spaces().await.unwrap();
    assert_eq!(
        warnings_about(&server.url),
        Vec::<String>::new(),
        "v2 is not deprecated"
    );

    let v1 = client(&server, &key, "v1");
    v1.create_space("deprecation-b", 4).await.unwrap();
    let b = v1.space("deprecation-b");
    let ids = b
        .remember_batch(vec![
            RememberItem::new(vec![1.0, 0.0, 0.0, 0.0]),
            RememberItem::new(vec![0.0, 1.0, 0.0, 0.0]),
        ])
        .await
        .unwrap();
    let before = warnings_about(&server.url).len();
    assert_eq!(
        before,
        2,
        "POST /spaces and POST .../memories/batch: {:#?}",
        warnings_about(&server.url)
    );
    // three calls of one route: two memories of one space, and another space
    b.get(ids[0]).await.unwrap();
    b.get(ids[1]).await.unwrap();
    v1.space("deprecation-a").get(id_a).await.unwrap();
    let told = warnings_about(&server.url);
    assert_eq!(told.len(), before + 1, "{told:#?}");
    let w = &told[before];
    assert!(
        w.starts_with("GET /api/v1/spaces/{space}/memories/{memory_id} is deprecated by"),
        "{w}"
    );
    assert!(w.contains("sunset: Wed, 01 Jul 2027 00:00:00 GMT"), "{w}");
    assert!(w.contains("migration notes: /api/migration/v1-to-v2"), "{w}");
    // another client of the same server: the route was told already
    client(&server, &key, "v1")
        .space("deprecation-b")
        .get(ids[0])
        .await
        .unwrap();
    assert_eq!(warnings_about(&server.url).len(), before + 1);
}
