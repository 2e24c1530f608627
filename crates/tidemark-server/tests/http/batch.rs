//! `POST /$batch` (guarantee 3): operations applied in order, one result per operation with the
//! status and body of its single request, idempotent retries, and errors of the whole batch
//! applying nothing. Also the capabilities document and gzip responses.

use reqwest::Method;
use serde_json::{Value, json};
use tidemark_server::{Compression, ServerConfig};
use tidemark_testkit::server::{Backend, TestServer};

use crate::common::{Api, Reply};
use crate::dump;

const APP_KEY: &str = "sesame";

async fn server(backend: Backend) -> (TestServer, Api) {
    let server = TestServer::start_with_backend(
        backend,
        ServerConfig {
            tables: vec!["todoitem".into(), "notes".into()],
            app_key: Some(APP_KEY.into()),
            max_body_bytes: 64 * 1024,
            max_item_bytes: 64 * 1024,
            max_batch_operations: 5,
            ..ServerConfig::open()
        },
    )
    .await;
    let api = Api::new(server.url()).with_app_key(APP_KEY);
    (server, api)
}

async fn batch(api: &Api, operations: Value) -> Reply {
    api.post("/$batch", json!({ "operations": operations }))
        .await
}

/// The `results` of a 200 answer (asserting the status).
fn results(reply: &Reply) -> Vec<Value> {
    assert_eq!(reply.status, 200, "{}", reply.body);
    match reply.body.get("results") {
        Some(Value::Array(results)) => results.clone(),
        _ => panic!("no results array in {}", reply.body),
    }
}

fn statuses(results: &[Value]) -> Vec<u64> {
    results
        .iter()
        .map(|r| r["status"].as_u64().unwrap_or(0))
        .collect()
}

pub async fn operations_on_one_item_apply_in_order(backend: Backend) {
    let (_server, api) = server(backend).await;
    let reply = batch(
        &api,
        json!([
            {"op": "insert", "table": "todoitem", "item": {"id": "a", "text": "one", "n": 1}},
            {"op": "update", "table": "todoitem", "id": "a", "item": {"text": "two"}},
            {"op": "delete", "table": "todoitem", "id": "a"},
            {"op": "insert", "table": "notes", "id": "a", "item": {"body": "same id, other table"}},
        ]),
    )
    .await;
    let results = results(&reply);
    assert_eq!(statuses(&results), [201, 200, 200, 201]);
    assert_eq!(results[0]["item"]["text"], "one");
    assert_eq!(results[1]["item"]["text"], "two");
    assert_eq!(results[1]["item"]["n"], 1, "an update merges");
    assert_eq!(results[2]["item"]["deleted"], true);
    let versions: Vec<&Value> = results[..3].iter().map(|r| &r["item"]["version"]).collect();
    assert!(versions[0] != versions[1] && versions[1] != versions[2]);
    assert_eq!(api.get("/tables/todoitem/a").await.status, 404);
    let deleted = api.get("/tables/todoitem/a?__includeDeleted=true").await;
    assert_eq!(
        deleted.body, results[2]["item"],
        "the last result is what is stored"
    );
    assert_eq!(api.get("/tables/notes/a").await.body, results[3]["item"]);
}

pub async fn refused_operations_get_their_single_request_results_and_the_rest_land(
    backend: Backend,
) {
    let (server, api) = server(backend).await;
    let stale = api.insert(json!({"id": "a", "text": "old"})).await;
    api.patch("/tables/todoitem/a", json!({"text": "changed elsewhere"}))
        .await;
    let current = api.get("/tables/todoitem/a").await.body;
    let b = api.insert(json!({"id": "b", "text": "server's"})).await;
    let reply = batch(
        &api,
        json!([
            {"op": "update", "table": "todoitem", "id": "a", "item": {"text": "mine"},
             "version": stale["version"]},
            {"op": "insert", "table": "todoitem", "item": {"id": "b", "text": "mine"}},
            {"op": "insert", "table": "todoitem", "item": {"id": "c", "text": "new"}},
            {"op": "insert", "table": "users", "item": {"id": "d"}},
            {"op": "update", "table": "todoitem", "id": "bad/id", "item": {"text": "x"}},
        ]),
    )
    .await;
    let answered = results(&reply);
    assert_eq!(statuses(&answered), [412, 409, 201, 404, 400]);
    assert_eq!(
        answered[0]["item"], current,
        "412 carries the server's item"
    );
    assert_eq!(answered[1]["item"], b, "409 carries the server's item");
    assert!(answered[0]["error"].as_str().is_some_and(|e| !e.is_empty()));
    assert!(
        answered[3]["error"]
            .as_str()
            .is_some_and(|e| e.contains("users"))
    );
    assert!(
        answered[4]["error"]
            .as_str()
            .is_some_and(|e| e.contains("id"))
    );
    assert_eq!(
        api.get("/tables/todoitem/c").await.body,
        answered[2]["item"]
    );
    assert_eq!(
        api.get("/tables/todoitem/a").await.body,
        current,
        "412 wrote nothing"
    );
    let before = dump(&server).await;
    let again = batch(
        &api,
        json!([{"op": "update", "table": "todoitem", "id": "a", "item": {"text": "x"},
                "operation": "not a tag"}]),
    )
    .await;
    assert_eq!(statuses(&results(&again)), [400]);
    assert_eq!(dump(&server).await, before);
}

pub async fn a_retried_batch_replays_every_outcome_and_writes_nothing(backend: Backend) {
    let (server, api) = server(backend).await;
    let operations = json!([
        {"op": "insert", "table": "todoitem", "item": {"text": "server-made id"},
         "operation": "op-1:1"},
        {"op": "insert", "table": "todoitem", "id": "a", "item": {"text": "x"},
         "operation": "op-2:1"},
        {"op": "update", "table": "todoitem", "id": "a", "item": {"text": "y"},
         "operation": "op-2:2"},
        {"op": "delete", "table": "todoitem", "id": "a", "operation": "op-2:3"},
    ]);
    let first = results(&batch(&api, operations.clone()).await);
    assert_eq!(statuses(&first), [201, 201, 200, 200]);
    assert!(first.iter().all(|r| r.get("replayed").is_none()));
    let before = dump(&server).await;
    let retry = results(&batch(&api, operations).await);
    for (original, replayed) in first.iter().zip(&retry) {
        assert_eq!(replayed["replayed"], true, "{replayed}");
        assert_eq!(replayed["status"], original["status"]);
        assert_eq!(
            replayed["item"], original["item"],
            "same item, same version"
        );
    }
    assert_eq!(dump(&server).await, before, "the retry wrote nothing");
    assert_eq!(api.get("/tables/todoitem").await.items().len(), 1);
}

pub async fn errors_of_the_whole_batch_apply_nothing(backend: Backend) {
    let (server, api) = server(backend).await;
    api.insert(json!({"id": "a"})).await;
    let before = dump(&server).await;
    let insert =
        |i: usize| json!({"op": "insert", "table": "todoitem", "item": {"id": format!("n{i}")}});
    let too_many: Vec<Value> = (0..6).map(insert).collect();
    let reply = batch(&api, Value::Array(too_many)).await;
    assert_eq!(reply.status, 400);
    assert!(reply.error().contains("at most") || reply.error().contains("most one batch"));
    let big = json!([insert(0), {"op": "insert", "table": "todoitem",
                     "item": {"text": "x".repeat(100 * 1024)}}]);
    let reply = batch(&api, big).await;
    assert_eq!(reply.status, 413, "{}", reply.body);
    assert!(reply.error().contains("limit"));
    let reply = api
        .req(Method::POST, "/$batch")
        .raw(r#"{"operations": [{"op": "insert", "table": "todoitem", "item": {"#)
        .header("Content-Type", "application/json")
        .send()
        .await;
    assert_eq!(reply.status, 400);
    assert!(reply.error().contains("not a batch request"));
    let unknown_op = json!([insert(1), {"op": "upsert", "table": "todoitem", "id": "a"}]);
    let reply = batch(&api, unknown_op).await;
    assert_eq!(reply.status, 400);
    assert!(reply.error().contains("upsert"), "{}", reply.error());
    let unknown_field = json!([insert(2), {"op": "delete", "table": "todoitem", "id": "a",
                               "etag": "x"}]);
    assert_eq!(batch(&api, unknown_field).await.status, 400);
    let not_a_batch = api.post("/$batch", json!([insert(3)])).await;
    assert_eq!(not_a_batch.status, 400);
    let without_version = api
        .req(Method::POST, "/$batch")
        .without_version()
        .json(&json!({"operations": [insert(4)]}))
        .send()
        .await;
    assert_eq!(without_version.status, 400);
    assert!(without_version.error().contains("ZUMO-API-VERSION"));
    let anonymous = Api::new(server.url())
        .post("/$batch", json!({"operations": [insert(5)]}))
        .await;
    assert_eq!(anonymous.status, 401);
    let get = api.get("/$batch").await;
    assert_eq!(get.status, 405);
    assert_eq!(
        dump(&server).await,
        before,
        "nothing of any refused batch was applied"
    );
    assert_eq!(results(&batch(&api, json!([])).await).len(), 0);
}

pub async fn capabilities_advertise_batch_and_its_limit(backend: Backend) {
    let (_server, api) = server(backend).await;
    let reply = api.get("/$capabilities").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["batch"], true);
    assert_eq!(reply.body["maxBatchOperations"], 5);
}

/// Sends `GET path` with or without `Accept-Encoding: gzip` on a client that does not decode,
/// and answers the `Content-Encoding` header and the raw body.
async fn raw_get(server: &TestServer, path: &str, gzip: bool) -> (Option<String>, Vec<u8>) {
    raw_request(server, Method::GET, path, None, gzip).await
}

/// Sends a request with or without `Accept-Encoding: gzip` on a client that does not decode,
/// and answers the `Content-Encoding` header and the raw body.
async fn raw_request(
    server: &TestServer,
    method: Method,
    path: &str,
    body: Option<&Value>,
    gzip: bool,
) -> (Option<String>, Vec<u8>) {
    let http = match reqwest::Client::builder().gzip(false).build() {
        Ok(c) => c,
        Err(e) => panic!("client: {e}"),
    };
    let mut request = http
        .request(method, format!("{}{path}", server.url()))
        .header("ZUMO-API-VERSION", "2.0.0")
        .header("X-ZUMO-APPLICATION", APP_KEY);
    if gzip {
        request = request.header("Accept-Encoding", "gzip");
    }
    if let Some(body) = body {
        request = request
            .header("Content-Type", "application/json")
            .body(body.to_string());
    }
    let response = match request.send().await {
        Ok(r) => r,
        Err(e) => panic!("{path}: {e}"),
    };
    let encoding = response
        .headers()
        .get("content-encoding")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response
        .bytes()
        .await
        .map(|b| b.to_vec())
        .unwrap_or_default();
    (encoding, body)
}

/// The bytes a gzip stream holds.
fn gunzip(zipped: &[u8]) -> Vec<u8> {
    use std::io::Read as _;
    let mut plain = Vec::new();
    if let Err(e) = flate2::read::GzDecoder::new(zipped).read_to_end(&mut plain) {
        panic!("not a gzip stream: {e}");
    }
    plain
}

/// A body as JSON.
fn json_of(bytes: &[u8]) -> Value {
    match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => panic!("not JSON ({e}): {}", String::from_utf8_lossy(bytes)),
    }
}

pub async fn every_compression_level_sends_the_same_json(backend: Backend) {
    for level in [
        Compression::Fastest,
        Compression::Default,
        Compression::Best,
        Compression::Off,
    ] {
        let config = ServerConfig {
            app_key: Some(APP_KEY.into()),
            compression: level,
            ..ServerConfig::open()
        };
        let server = TestServer::start_with_backend(backend, config).await;
        let operations: Vec<Value> = (0..40)
            .map(|i| {
                json!({"op": "insert", "table": "todoitem",
                            "item": {"id": format!("i{i:02}"), "text": "milk and eggs ".repeat(i),
                                     "n": i, "done": i % 3 == 0}})
            })
            .collect();
        let body = json!({ "operations": operations });
        let (encoding, answer) =
            raw_request(&server, Method::POST, "/$batch", Some(&body), true).await;
        let answer = match encoding.as_deref() {
            Some("gzip") => gunzip(&answer),
            _ => answer,
        };
        let results = json_of(&answer)["results"].as_array().cloned();
        assert_eq!(results.map(|r| r.len()), Some(40), "{level:?}");
        for path in [
            "/tables/todoitem?$top=100",
            "/tables/todoitem?$inlinecount=allpages&$orderby=n desc",
            "/tables/todoitem?$select=id,text",
            "/tables/todoitem/i07",
        ] {
            let (plain_encoding, plain) = raw_get(&server, path, false).await;
            assert_eq!(
                plain_encoding, None,
                "{level:?} {path}: no gzip unless asked"
            );
            let (encoding, zipped) = raw_get(&server, path, true).await;
            if level == Compression::Off {
                assert_eq!(encoding, None, "{path}: off never compresses");
                assert_eq!(zipped, plain, "{path}");
            } else {
                assert_eq!(encoding.as_deref(), Some("gzip"), "{level:?} {path}");
                assert!(zipped.len() < plain.len(), "{level:?} {path}");
                assert_eq!(gunzip(&zipped), plain, "{level:?} {path}");
            }
            json_of(&plain);
        }
        server.stop().await;
    }
}

pub async fn responses_are_gzipped_when_the_client_asks(backend: Backend) {
    let (server, api) = server(backend).await;
    let operations: Vec<Value> = (0..5)
        .map(|i| json!({"op": "insert", "table": "todoitem",
                        "item": {"id": format!("i{i}"), "text": "the same words again ".repeat(20)}}))
        .collect();
    results(&batch(&api, Value::Array(operations)).await);
    let (encoding, zipped) = raw_get(&server, "/tables/todoitem", true).await;
    assert_eq!(encoding.as_deref(), Some("gzip"));
    assert_eq!(&zipped[..2], [0x1f, 0x8b], "a gzip stream");
    let (encoding, plain) = raw_get(&server, "/tables/todoitem", false).await;
    assert_eq!(encoding, None, "no gzip unless asked");
    assert!(
        zipped.len() * 3 < plain.len(),
        "{} vs {}",
        zipped.len(),
        plain.len()
    );
    // A decoding client (the engine's) reads the same items.
    let decoded = api.get("/tables/todoitem").await;
    let parsed: Value = serde_json::from_slice(&plain).unwrap_or_default();
    assert_eq!(decoded.body, parsed);
    let (encoding, _) = raw_get(&server, "/tables/todoitem/missing", true).await;
    assert_eq!(encoding.as_deref(), Some("gzip"), "error bodies too");
}

backend_tests!(#[tokio::test];
    operations_on_one_item_apply_in_order,
    refused_operations_get_their_single_request_results_and_the_rest_land,
    a_retried_batch_replays_every_outcome_and_writes_nothing,
    errors_of_the_whole_batch_apply_nothing,
    capabilities_advertise_batch_and_its_limit,
    responses_are_gzipped_when_the_client_asks,
    every_compression_level_sends_the_same_json,
);
