//! What the accounts suites share: a server with accounts and a fixed signing key, and sign-up,
//! sign-in and `me` requests.

use serde_json::{Value, json};
use tidemark_server::ServerConfig;
use tidemark_server::accounts::{AccountsConfig, AuthMode, ThrottleConfig, TokenKey};
use tidemark_testkit::server::{Backend, TestServer};

use crate::common::{Api, Reply};

/// The signing key of the servers these tests start, so they can forge tokens with it.
pub(crate) const KEY: &[u8; 32] = b"0123456789abcdef0123456789abcdef";
/// The password every test user signs up with.
pub(crate) const PASSWORD: &str = "correct horse battery";

/// A configuration with accounts required, signed with [`KEY`].
pub(crate) fn accounts(signup_open: bool, throttle: ThrottleConfig) -> ServerConfig {
    let token_key = TokenKey::from_bytes(KEY.to_vec()).unwrap_or_else(|e| panic!("{e}"));
    ServerConfig {
        auth: AuthMode::Accounts(AccountsConfig {
            token_key,
            signup_open,
            throttle,
            ..AccountsConfig::default()
        }),
        ..ServerConfig::default()
    }
}

/// A server on `backend` with accounts and open sign-up.
pub(crate) async fn start(backend: Backend) -> TestServer {
    TestServer::start_with_backend(backend, accounts(true, ThrottleConfig::default())).await
}

/// The body of a sign-up or sign-in.
pub(crate) fn credentials(name: &str, password: &str) -> Value {
    json!({"username": name, "password": password})
}

/// `POST /.auth/signup` for `name` with [`PASSWORD`].
pub(crate) async fn signup(api: &Api, name: &str) -> Reply {
    api.req(reqwest::Method::POST, "/.auth/signup")
        .without_version()
        .json(&credentials(name, PASSWORD))
        .send()
        .await
}

/// `POST /.auth/login/tidemark`.
pub(crate) async fn login(api: &Api, name: &str, password: &str) -> Reply {
    api.req(reqwest::Method::POST, "/.auth/login/tidemark")
        .without_version()
        .json(&credentials(name, password))
        .send()
        .await
}

/// The token of a sign-in or sign-up reply (asserting its App Service shape).
pub(crate) fn token_of(reply: &Reply) -> String {
    let body = &reply.body;
    assert!(
        body["user"]["userId"]
            .as_str()
            .is_some_and(|id| !id.is_empty()),
        "{body}"
    );
    assert!(
        body["expiresAt"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{body}"
    );
    match body["authenticationToken"].as_str() {
        Some(token) => token.to_owned(),
        None => panic!("no token in {} {body}", reply.status),
    }
}

/// Signs `name` up and answers a client sending its token, and the token.
pub(crate) async fn signed_up(api: &Api, name: &str) -> (Api, String) {
    let reply = signup(api, name).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let token = token_of(&reply);
    (api.clone().with_token(&token), token)
}

/// `GET /.auth/me`.
pub(crate) async fn me(api: &Api) -> Reply {
    api.req(reqwest::Method::GET, "/.auth/me")
        .without_version()
        .send()
        .await
}
