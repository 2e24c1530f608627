//! `GET /openapi.json`: served without the protocol's headers, and in step with the router:
//! every documented path and method is served, every router route is documented, every answer
//! a probe gets is listed, and the security the document states is what the server requires.

use reqwest::Method;
use serde_json::{Value, json};
use tidemark_server::ServerConfig;
use tidemark_server::accounts::{AccountsConfig, AuthMode};
use tidemark_testkit::server::TestServer;

use crate::common::{Api, Reply};

/// The router's sources, the table routes and the sign-in routes it merges: the test counts
/// their `.route(` calls to catch an undocumented route.
const ROUTER_SOURCES: [&str; 2] = [
    include_str!("../../src/http/mod.rs"),
    include_str!("../../src/http/auth.rs"),
];

/// Methods the probe tries on every documented path.
const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// The account the probes sign up and sign in as.
const PROBER: &str = "prober";
const PASSWORD: &str = "probing password";

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
        .replace("{provider}", "tidemark")
}

fn credentials() -> Value {
    json!({"username": PROBER, "password": PASSWORD})
}

/// A server with accounts on and sign-up open.
fn with_accounts() -> ServerConfig {
    ServerConfig {
        auth: AuthMode::Accounts(AccountsConfig {
            signup_open: true,
            ..AccountsConfig::default()
        }),
        ..ServerConfig::default()
    }
}

/// The token of a sign-in (`path` `/.auth/login/tidemark`) or sign-up answering `status`.
async fn token_from(api: &Api, path: &str, status: u16) -> String {
    let reply = api
        .req(Method::POST, path)
        .without_version()
        .json(&credentials())
        .send()
        .await;
    assert_eq!(reply.status, status, "{path}: {}", reply.body);
    match reply.body["authenticationToken"].as_str() {
        Some(token) => token.to_owned(),
        None => panic!("{path}: no token in {}", reply.body),
    }
}

/// A response of the document, its `$ref` followed.
fn resolve<'a>(doc: &'a Value, response: &'a Value) -> &'a Value {
    match response["$ref"]
        .as_str()
        .and_then(|r| r.strip_prefix("#/components/responses/"))
    {
        Some(name) => &doc["components"]["responses"][name],
        None => response,
    }
}

/// Whether `operation` needs a token: its own `security`, else the document's.
fn secured(doc: &Value, operation: &Value) -> bool {
    let security = operation.get("security").unwrap_or(&doc["security"]);
    security.as_array().is_some_and(|s| !s.is_empty())
}

/// Sends `method path` as `api`: with the probe's credentials as the body of a sign-in route
/// that takes one, otherwise without a body.
async fn probe(api: &Api, method: &str, path: &str, operation: Option<&Value>) -> Reply {
    let http_method =
        Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap_or(Method::GET);
    let request = api.req(http_method, &sample(path));
    let takes_body = operation.is_some_and(|o| o.get("requestBody").is_some());
    if path.starts_with("/.auth/") && takes_body {
        request.json(&credentials()).send().await
    } else {
        request.send().await
    }
}

fn assert_listed(operation: &Value, method: &str, path: &str, reply: &Reply, who: &str) {
    let listed = operation["responses"]
        .as_object()
        .is_some_and(|r| r.contains_key(&reply.status.to_string()));
    assert!(
        listed,
        "{method} {path} ({who}) answered {} which the document does not list: {}",
        reply.status, reply.body
    );
}

/// Probes every documented path with every method and answers how many paths were probed.
/// With `token`, each operation is probed signed in and again without a token: a secured one
/// must then answer 401 with `WWW-Authenticate: Bearer`, an open one must not ask for a token.
async fn check_every_route(doc: &Value, server: &TestServer, token: Option<&str>) -> usize {
    let anonymous = Api::new(server.url());
    let Some(paths) = doc["paths"].as_object() else {
        panic!("the document has no paths: {doc}");
    };
    let capabilities = anonymous.get("/$capabilities").await;
    let batch_offered = capabilities.body["batch"] == json!(true);
    let mut served_paths = 0;
    for (path, item) in paths {
        if path == "/$batch" && !batch_offered {
            // Documented for servers that offer it; this build says it does not.
            continue;
        }
        served_paths += 1;
        for method in METHODS {
            let operation = item.get(method);
            let caller = match token {
                // A logout ends the session: it gets one of its own.
                Some(_) if path == "/.auth/logout" => anonymous
                    .clone()
                    .with_token(&token_from(&anonymous, "/.auth/login/tidemark", 200).await),
                Some(token) => anonymous.clone().with_token(token),
                None => anonymous.clone(),
            };
            let reply = probe(&caller, method, path, operation).await;
            // The fallback answers 404 with this message; a route without the method, 405.
            let unrouted = reply.status == 405
                || (reply.status == 404
                    && reply.body["error"]
                        .as_str()
                        .is_some_and(|m| m.contains("no such resource")));
            assert_eq!(
                !unrouted,
                operation.is_some(),
                "{method} {path}: documented {}, answered {} {}",
                operation.is_some(),
                reply.status,
                reply.body
            );
            let Some(operation) = operation else {
                continue;
            };
            assert_listed(operation, method, path, &reply, "as sent");
            if token.is_none() {
                continue;
            }
            assert_ne!(
                reply.status, 401,
                "{method} {path} refused a valid token: {}",
                reply.body
            );
            let bare = probe(&anonymous, method, path, Some(operation)).await;
            assert_listed(operation, method, path, &bare, "without a token");
            if secured(doc, operation) {
                assert_eq!(bare.status, 401, "{method} {path} without a token");
                assert_eq!(bare.www_authenticate.as_deref(), Some("Bearer"));
                let listed = resolve(doc, &operation["responses"]["401"]);
                assert!(
                    listed["headers"].get("WWW-Authenticate").is_some(),
                    "{method} {path}: the 401 does not document WWW-Authenticate"
                );
            } else {
                assert_ne!(
                    bare.status, 401,
                    "{method} {path} is documented as open but asks for a token: {}",
                    bare.body
                );
            }
        }
    }
    served_paths
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
    let server = TestServer::start_with(with_accounts()).await;
    let api = Api::new(server.url());
    let doc = document(&api).await;
    let token = token_from(&api, "/.auth/signup", 201).await;
    let served_paths = check_every_route(&doc, &server, Some(&token)).await;
    let routes: usize = ROUTER_SOURCES
        .iter()
        .map(|source| source.matches(".route(").count())
        .sum();
    assert_eq!(
        routes, served_paths,
        "src/http/mod.rs and auth.rs have {routes} .route( calls but the document describes \
         {served_paths} served paths: document the new route in src/http/openapi.json"
    );
    // The sign-in routes' paths are written out in auth.rs: each is documented as such.
    for literal in ROUTER_SOURCES[1].split(".route(\"").skip(1) {
        let path = literal.split('"').next().unwrap_or_default();
        assert!(
            doc["paths"].get(path).is_some(),
            "{path} is routed in auth.rs but not documented"
        );
    }
}

#[tokio::test]
async fn every_answer_of_a_server_without_accounts_is_documented() {
    let server = TestServer::start_open().await;
    let api = Api::new(server.url());
    let doc = document(&api).await;
    check_every_route(&doc, &server, None).await;
    // The sign-in routes are there, and say why they cannot help.
    let me = api
        .req(Method::GET, "/.auth/me")
        .without_version()
        .send()
        .await;
    assert_eq!(me.status, 404);
    assert!(me.error().contains("--no-auth"), "{}", me.error());
}
