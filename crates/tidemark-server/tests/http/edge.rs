//! The request edge under attack (issue 14): poison items (too deep, too large), cross-site
//! requests from browser pages, DNS rebinding, and next-page links steered by hostile headers.
//! Each attack is reproduced against a real server; the database is checked to hold nothing
//! of it, and the server to keep answering.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tidemark_server::ServerConfig;
use tidemark_testkit::server::{Backend, TestServer};

use crate::common::{Api, header_value, raw};
use crate::dump;

/// A browser origin the tests allow.
const ALLOWED: &str = "https://app.example.test";
/// A page an attacker controls.
const FOREIGN: &str = "http://evil.example.test";

/// A server with small item limits (depth 32 as by default, 4 KiB per item) and one allowed
/// origin.
async fn start(backend: Backend) -> (TestServer, Api) {
    let server = TestServer::start_with_backend(
        backend,
        ServerConfig {
            max_item_bytes: 4 * 1024,
            allow_origins: vec![ALLOWED.into()],
            ..ServerConfig::open()
        },
    )
    .await;
    let api = Api::new(server.url());
    (server, api)
}

/// An item `{"id": id, "x": …}` whose nesting is `depth` levels, the item itself being one.
fn nested_item(id: &str, depth: usize) -> Value {
    let mut value = json!("bottom");
    for _ in 1..depth {
        value = Value::Array(vec![value]);
    }
    json!({"id": id, "x": value})
}

/// Asserts that the server still answers a plain query promptly.
async fn still_answers(api: &Api) {
    let started = Instant::now();
    let reply = api.get("/tables/todoitem").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

/// The 125-level item of the original attack (accepted before, then unreadable in every page)
/// is refused, alone and inside a batch, and nothing of it is stored.
async fn a_poison_item_too_deep_is_refused_alone_and_in_a_batch(backend: Backend) {
    let (server, api) = start(backend).await;
    api.insert(json!({"id": "kept", "text": "milk"})).await;
    let before = dump(&server).await;
    let reply = api.post("/tables/todoitem", nested_item("deep", 125)).await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(
        reply.error(),
        "the item is nested 125 levels deep; the limit is 32"
    );
    // An update may not bring it in either.
    let reply = api
        .patch("/tables/todoitem/kept", nested_item("kept", 40))
        .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert!(reply.error().contains("40 levels"), "{}", reply.body);
    // In a batch the operation gets its own 400 naming the limit, as every refused operation
    // does (batches are not transactions: see tidemark_protocol::batch).
    let batch = json!({"operations": [
        {"op": "insert", "table": "todoitem", "item": nested_item("deep", 120)},
        {"op": "update", "table": "todoitem", "id": "kept", "item": nested_item("kept", 33)},
    ]});
    let reply = api.post("/$batch", batch).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let results = reply.body["results"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(results.len(), 2, "{}", reply.body);
    for (result, depth) in results.iter().zip([120, 33]) {
        assert_eq!(result["status"], 400, "{result}");
        assert_eq!(
            result["error"],
            format!("the item is nested {depth} levels deep; the limit is 32")
        );
    }
    // Deeper than the batch body's parser goes: the whole batch is refused.
    let batch = json!({"operations": [
        {"op": "insert", "table": "todoitem", "item": nested_item("deep", 127)},
    ]});
    assert_eq!(api.post("/$batch", batch).await.status, 400);
    assert_eq!(dump(&server).await, before, "the database changed");
    still_answers(&api).await;
}

/// An item exactly at the depth limit is stored and reads back equal, alone and in a batch.
async fn an_item_at_the_depth_limit_is_stored_and_reads_back_equal(backend: Backend) {
    let (_server, api) = start(backend).await;
    let item = nested_item("edge", 32);
    let created = api.post("/tables/todoitem", item.clone()).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let read = api.get("/tables/todoitem/edge").await;
    assert_eq!(read.body["x"], item["x"]);
    let batch = json!({"operations": [
        {"op": "insert", "table": "todoitem", "item": nested_item("edge2", 32)},
    ]});
    let reply = api.post("/$batch", batch).await;
    assert_eq!(reply.body["results"][0]["status"], 201, "{}", reply.body);
    let page = api.get("/tables/todoitem").await;
    assert_eq!(page.ids().len(), 2, "{}", page.body);
}

/// An item over the size limit is refused on insert, in a batch, and when an update would
/// grow a stored item past it with a small patch; the stored item is untouched.
async fn an_item_over_the_size_limit_is_refused(backend: Backend) {
    let (server, api) = start(backend).await;
    api.insert(json!({"id": "grow", "a": "x".repeat(3000)}))
        .await;
    let before = dump(&server).await;
    let reply = api
        .post(
            "/tables/todoitem",
            json!({"id": "big", "t": "x".repeat(5000)}),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert!(
        reply.error().contains("the limit is 4096 bytes"),
        "{}",
        reply.body
    );
    // 3000 + 1500 bytes of text: each part fits, the merged item does not.
    let reply = api
        .patch("/tables/todoitem/grow", json!({"b": "y".repeat(1500)}))
        .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert!(
        reply.error().contains("limit is 4096 bytes"),
        "{}",
        reply.body
    );
    let batch = json!({"operations": [
        {"op": "insert", "table": "todoitem", "item": {"id": "big", "t": "x".repeat(5000)}},
        {"op": "update", "table": "todoitem", "id": "grow", "item": {"b": "y".repeat(1500)}},
    ]});
    let reply = api.post("/$batch", batch).await;
    let results = reply.body["results"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(results.len(), 2, "{}", reply.body);
    for result in &results {
        assert_eq!(result["status"], 400, "{result}");
        assert!(
            result["error"]
                .as_str()
                .is_some_and(|e| e.contains("limit is 4096 bytes")),
            "{result}"
        );
    }
    assert_eq!(dump(&server).await, before, "the database changed");
    still_answers(&api).await;
}

/// The cross-site attack: a page posts `text/plain` (no preflight needed) or JSON to the
/// batch endpoint. Both are refused before anything is read, and nothing is stored.
async fn cross_site_posts_are_refused_and_store_nothing(backend: Backend) {
    let (server, api) = start(backend).await;
    let body =
        json!({"operations": [{"op": "insert", "table": "todoitem", "item": {"id": "csrf"}}]})
            .to_string();
    let path = "/$batch?ZUMO-API-VERSION=2.0.0";
    for content_type in ["text/plain", "application/json"] {
        let reply = api
            .req(reqwest::Method::POST, path)
            .without_version()
            .header("Origin", FOREIGN)
            .header("Content-Type", content_type)
            .raw(body.clone())
            .send()
            .await;
        assert_eq!(reply.status, 403, "{content_type}: {}", reply.body);
        assert!(reply.error().contains(FOREIGN), "{}", reply.body);
    }
    // Without an Origin (not a browser), text/plain is still refused: 415.
    let reply = api
        .req(reqwest::Method::POST, path)
        .header("Content-Type", "text/plain")
        .raw(body.clone())
        .send()
        .await;
    assert_eq!(reply.status, 415, "{}", reply.body);
    assert!(reply.error().contains("application/json"), "{}", reply.body);
    assert_eq!(api.get("/tables/todoitem/csrf").await.status, 404);
    assert!(api.get("/tables/todoitem").await.ids().is_empty());
    // The configured origin gets through, with CORS headers; `charset` is fine.
    let reply = raw(
        server.addr(),
        &format!(
            "POST {path} HTTP/1.1\r\nHost: localhost\r\nOrigin: {ALLOWED}\r\n\
             Content-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{body}",
            body.len()
        ),
    )
    .await;
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    let lower = reply.to_ascii_lowercase();
    assert!(
        lower.contains(&format!("access-control-allow-origin: {ALLOWED}")),
        "{reply}"
    );
    assert_eq!(api.get("/tables/todoitem/csrf").await.status, 200);
}

/// Preflights: the allowed origin is told what it may send; a foreign one is refused.
async fn preflights_are_answered_for_allowed_origins_only(backend: Backend) {
    let (server, _api) = start(backend).await;
    let preflight = |origin: &str| {
        format!(
            "OPTIONS /tables/todoitem HTTP/1.1\r\nHost: localhost\r\nOrigin: {origin}\r\n\
             Access-Control-Request-Method: POST\r\n\
             Access-Control-Request-Headers: content-type, zumo-api-version\r\n\
             Connection: close\r\n\r\n"
        )
    };
    let allowed = raw(server.addr(), &preflight(ALLOWED)).await;
    assert!(allowed.starts_with("HTTP/1.1 200"), "{allowed}");
    let lower = allowed.to_ascii_lowercase();
    assert!(lower.contains("access-control-allow-methods:"), "{allowed}");
    assert!(lower.contains("zumo-api-version"), "{allowed}");
    let foreign = raw(server.addr(), &preflight(FOREIGN)).await;
    assert!(foreign.starts_with("HTTP/1.1 403"), "{foreign}");
    assert!(
        !foreign
            .to_ascii_lowercase()
            .contains("access-control-allow"),
        "{foreign}"
    );
}

/// DNS rebinding: a page on the attacker's name, resolved to 127.0.0.1, reaches the loopback
/// server with `Host: <attacker's name>`. It is refused; loopback names are served.
async fn a_loopback_server_refuses_foreign_hosts(backend: Backend) {
    let (server, api) = start(backend).await;
    let port = server.addr().port();
    let get = |host: &str| {
        format!(
            "GET /tables/todoitem HTTP/1.1\r\nHost: {host}\r\nZUMO-API-VERSION: 2.0.0\r\n\
             Connection: close\r\n\r\n"
        )
    };
    for host in [
        format!("rebind.evil.test:{port}"),
        "evil.test".into(),
        "10.0.0.1".into(),
    ] {
        let reply = raw(server.addr(), &get(&host)).await;
        assert!(reply.starts_with("HTTP/1.1 421"), "{host}: {reply}");
        assert!(reply.contains("\"error\""), "{reply}");
    }
    let body = json!({"id": "rebound"}).to_string();
    let post = format!(
        "POST /tables/todoitem HTTP/1.1\r\nHost: rebind.evil.test:{port}\r\n\
         ZUMO-API-VERSION: 2.0.0\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    assert!(raw(server.addr(), &post).await.starts_with("HTTP/1.1 421"));
    assert_eq!(api.get("/tables/todoitem/rebound").await.status, 404);
    for host in [
        format!("localhost:{port}"),
        format!("LocalHost:{port}"),
        format!("127.0.0.1:{port}"),
        format!("[::1]:{port}"),
        "localhost".into(),
    ] {
        let reply = raw(server.addr(), &get(&host)).await;
        assert!(reply.starts_with("HTTP/1.1 200"), "{host}: {reply}");
    }
}

/// The `Link` to the next page is relative, whatever `Host` or `X-Forwarded-Host` say; with a
/// public URL it is built on that URL.
async fn next_page_links_ignore_hostile_host_headers(backend: Backend) {
    let paged = TestServer::start_with_backend(
        backend,
        ServerConfig {
            default_page_size: 2,
            ..ServerConfig::open()
        },
    )
    .await;
    let paged_api = Api::new(paged.url());
    for i in 0..3 {
        paged_api.insert(json!({"id": format!("i{i}")})).await;
    }
    let request = "GET /tables/todoitem?ZUMO-API-VERSION=2.0.0 HTTP/1.1\r\n\
                   Host: localhost:1\r\nX-Forwarded-Host: evil.test\r\nX-Forwarded-Proto: https\r\n\
                   Forwarded: host=evil.test\r\nConnection: close\r\n\r\n";
    let reply = raw(paged.addr(), request).await;
    let link = header_value(&reply, "link").unwrap_or_default();
    assert_eq!(
        link, "</tables/todoitem?$skip=2&ZUMO-API-VERSION=2.0.0>; rel=next",
        "{reply}"
    );
    // Our own client follows it: every item comes down.
    assert_eq!(paged_api.get_all_pages("/tables/todoitem").await.len(), 3);
    drop(paged);
    let public = TestServer::start_with_backend(
        backend,
        ServerConfig {
            default_page_size: 2,
            public_url: Some("https://todo.example.test/sync/".into()),
            ..ServerConfig::open()
        },
    )
    .await;
    let public_api = Api::new(public.url());
    for i in 0..3 {
        public_api.insert(json!({"id": format!("i{i}")})).await;
    }
    let request = "GET /tables/todoitem HTTP/1.1\r\nHost: todo.example.test\r\n\
                   ZUMO-API-VERSION: 2.0.0\r\nX-Forwarded-Host: evil.test\r\n\
                   Connection: close\r\n\r\n";
    let reply = raw(public.addr(), request).await;
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert_eq!(
        header_value(&reply, "link").as_deref(),
        Some("<https://todo.example.test/sync/tables/todoitem?$skip=2>; rel=next"),
        "{reply}"
    );
}

backend_tests!(#[tokio::test];
    a_poison_item_too_deep_is_refused_alone_and_in_a_batch,
    an_item_at_the_depth_limit_is_stored_and_reads_back_equal,
    an_item_over_the_size_limit_is_refused,
    cross_site_posts_are_refused_and_store_nothing,
    preflights_are_answered_for_allowed_origins_only,
    a_loopback_server_refuses_foreign_hosts,
    next_page_links_ignore_hostile_host_headers,
);
