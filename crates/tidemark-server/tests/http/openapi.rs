//! `GET /openapi.json`: served without the protocol's headers, and in step with the router:
//! every documented path and method is served, every router route is documented.

use reqwest::Method;
use serde_json::{Value, json};
use tidemark_server::ServerConfig;
use tidemark_testkit::server::TestServer;

use crate::common::Api;

/// The router's source: the test counts its `.route(` calls to catch an undocumented route.
const ROUTER_SOURCE: &str = include_str!("../../src/http/mod.rs");

/// Methods the probe tries on every documented path.
const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

async fn document(api: &Api) -> Value {
    let reply = api
        .req(Method::GET, "/openapi.json")
        .without_version()
        .send()
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body
}

/// A concrete URL for a documented path template.
fn sample(path: &str) -> String {
    path.replace("{table}", "todoitem")
        .replace("{id}", "sample")
}

#[tokio::test]
async fn the_document_is_served_without_version_or_app_key() {
    let config = ServerConfig {
        app_key: Some("s3cret".into()),
        ..ServerConfig::open()
    };
    let server = TestServer::start_with(config).await;
    let doc = document(&Api::new(server.url())).await;
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    // The rest of the server still checks the key.
    let capabilities = Api::new(server.url()).get("/$capabilities").await;
    assert_eq!(capabilities.status, 401, "{}", capabilities.body);
}

#[tokio::test]
async fn every_documented_route_is_served_and_every_route_is_documented() {
    let server = TestServer::start_open().await;
    let api = Api::new(server.url());
    let doc = document(&api).await;
    let Some(paths) = doc["paths"].as_object() else {
        panic!("the document has no paths: {doc}");
    };
    let capabilities = api.get("/$capabilities").await;
    let batch_offered = capabilities.body["batch"] == json!(true);
    let mut served_paths = 0;
    for (path, item) in paths {
        if path == "/$batch" && !batch_offered {
            // Documented for servers that offer it; this build says it does not.
            continue;
        }
        served_paths += 1;
        for method in METHODS {
            let documented = item.get(method).is_some();
            let http_method =
                Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap_or(Method::GET);
            let reply = api.req(http_method, &sample(path)).send().await;
            // The fallback answers 404 with this message; a route without the method, 405.
            let unrouted = reply.status == 405
                || (reply.status == 404
                    && reply.body["error"]
                        .as_str()
                        .is_some_and(|m| m.contains("no such resource")));
            assert_eq!(
                !unrouted, documented,
                "{method} {path}: documented {documented}, answered {} {}",
                reply.status, reply.body
            );
            if let Some(responses) = item[method]["responses"].as_object() {
                assert!(
                    responses.contains_key(&reply.status.to_string()),
                    "{method} {path} answered {} which the document does not list",
                    reply.status
                );
            }
        }
    }
    let routes = ROUTER_SOURCE.matches(".route(").count();
    assert_eq!(
        routes, served_paths,
        "src/http/mod.rs has {routes} .route( calls but the document describes {served_paths} \
         served paths: document the new route in src/http/openapi.json"
    );
}
