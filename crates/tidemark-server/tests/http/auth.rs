//! Accounts over HTTP: sign-up, sign-in, `me`, refresh, logout, revocation by password change,
//! disable and delete, throttling, hostile tokens, and the table routes requiring a token.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use tidemark_server::ServerConfig;
use tidemark_server::accounts::{Password, ThrottleConfig, users};
use tidemark_server::store::{PostgresTableStore, SqliteTableStore};
use tidemark_testkit::server::{Backend, TestServer};

use crate::accounts_kit::{
    KEY, PASSWORD, accounts, credentials, login, me, signed_up, signup, start, token_of,
};
use crate::common::{Api, Reply};

/// Asserts the 401 of a request without a valid token.
fn assert_sign_in_required(reply: &Reply) {
    assert_eq!(reply.status, 401, "{}", reply.body);
    assert!(
        reply.error().starts_with("sign-in required"),
        "{}",
        reply.error()
    );
    assert_eq!(reply.www_authenticate.as_deref(), Some("Bearer"));
}

/// Runs one administration call on the server's database, through a second store on it.
macro_rules! admin {
    ($server:expr, |$store:ident| $call:expr) => {
        match $server.postgres() {
            Some(pg) => {
                let $store = PostgresTableStore::connect(pg.url())
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
                $call.await
            }
            None => {
                let $store =
                    SqliteTableStore::open($server.db_path()).unwrap_or_else(|e| panic!("{e}"));
                $call.await
            }
        }
        .unwrap_or_else(|e| panic!("{e}"))
    };
}

fn new_password(text: &str) -> Password {
    Password::new(text.to_owned()).unwrap_or_else(|e| panic!("{e}"))
}

backend_tests!(#[tokio::test]; sign_up_sign_in_me_refresh_and_logout, revoking_changes_end_earlier_tokens);

async fn sign_up_sign_in_me_refresh_and_logout(backend: Backend) {
    let server = start(backend).await;
    let api = Api::new(server.url());
    // Tables need a token.
    assert_sign_in_required(&api.get("/tables/todoitem").await);
    assert_sign_in_required(&api.post("/tables/todoitem", json!({"text": "x"})).await);
    assert_sign_in_required(&api.post("/$batch", json!({"operations": []})).await);

    let (alice, signup_token) = signed_up(&api, "Alice").await;
    assert_eq!(
        signup(&api, "ALICE").await.status,
        409,
        "names compare case-insensitively"
    );
    assert_eq!(
        alice.insert(json!({"id": "a", "text": "mine"})).await["text"],
        "mine"
    );
    assert_eq!(alice.get("/tables/todoitem").await.status, 200);

    let reply = login(&api, "alice", PASSWORD).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["user"]["userName"], "Alice");
    let token = token_of(&reply);
    assert_ne!(token, signup_token);
    let bearer = api
        .req(reqwest::Method::GET, "/tables/todoitem/a")
        .header("Authorization", &format!("Bearer {token}"))
        .send()
        .await;
    assert_eq!(bearer.status, 200, "Authorization: Bearer is accepted");

    let who = me(&api.clone().with_token(&token)).await;
    assert_eq!(who.status, 200, "{}", who.body);
    assert_eq!(who.body["userName"], "Alice");
    assert_eq!(who.body["provider"], "tidemark");
    assert_eq!(who.body["userId"], reply.body["user"]["userId"]);

    let refreshed = api
        .clone()
        .with_token(&token)
        .req(reqwest::Method::POST, "/.auth/refresh")
        .without_version()
        .send()
        .await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    let renewed = token_of(&refreshed);
    assert_eq!(me(&api.clone().with_token(&renewed)).await.status, 200);

    let out = api
        .clone()
        .with_token(&renewed)
        .req(reqwest::Method::POST, "/.auth/logout")
        .without_version()
        .send()
        .await;
    assert_eq!(out.status, 204);
    // The session is gone: both its tokens stop working, the other session goes on.
    assert_sign_in_required(&me(&api.clone().with_token(&renewed)).await);
    assert_sign_in_required(&api.clone().with_token(&token).get("/tables/todoitem").await);
    assert_eq!(alice.get("/tables/todoitem").await.status, 200);
}

async fn revoking_changes_end_earlier_tokens(backend: Backend) {
    let server = start(backend).await;
    let api = Api::new(server.url());
    let (alice, _) = signed_up(&api, "alice").await;
    admin!(server, |store| users::set_password(
        &store,
        "alice",
        new_password("new password 1")
    ));
    assert_sign_in_required(&alice.get("/tables/todoitem").await);
    assert_eq!(login(&api, "alice", PASSWORD).await.status, 401);
    let reply = login(&api, "alice", "new password 1").await;
    let alice = api.clone().with_token(&token_of(&reply));
    assert_eq!(alice.get("/tables/todoitem").await.status, 200);

    admin!(server, |store| users::set_enabled(&store, "alice", false));
    assert_sign_in_required(&alice.get("/tables/todoitem").await);
    let disabled = login(&api, "alice", "new password 1").await;
    assert_eq!(disabled.status, 401);
    assert_eq!(disabled.error(), "wrong user name or password");
    admin!(server, |store| users::set_enabled(&store, "alice", true));
    let reply = login(&api, "alice", "new password 1").await;
    let alice = api.clone().with_token(&token_of(&reply));
    assert_eq!(alice.get("/tables/todoitem").await.status, 200);

    admin!(server, |store| users::delete_user(&store, "alice"));
    assert_sign_in_required(&alice.get("/tables/todoitem").await);
    assert_eq!(login(&api, "alice", "new password 1").await.status, 401);
}

#[tokio::test]
async fn wrong_password_unknown_user_and_bad_input_answers() {
    let server = start(Backend::Sqlite).await;
    let api = Api::new(server.url());
    signed_up(&api, "bob").await;
    let wrong = login(&api, "bob", "not the password").await;
    let unknown = login(&api, "nobody", "not the password").await;
    assert_eq!(wrong.status, 401);
    assert_eq!(
        wrong.body, unknown.body,
        "an unknown user answers as a wrong password"
    );
    assert_eq!(wrong.error(), "wrong user name or password");

    let short = api
        .req(reqwest::Method::POST, "/.auth/signup")
        .json(&credentials("carol", "short"))
        .send()
        .await;
    assert_eq!(short.status, 400);
    assert!(short.error().contains("at least 8"), "{}", short.error());
    let bad_name = api
        .req(reqwest::Method::POST, "/.auth/signup")
        .json(&credentials(" carol", PASSWORD))
        .send()
        .await;
    assert_eq!(bad_name.status, 400);
    assert!(
        bad_name.error().contains("user name"),
        "{}",
        bad_name.error()
    );
    let other_provider = api
        .req(reqwest::Method::POST, "/.auth/login/google")
        .json(&credentials("bob", PASSWORD))
        .send()
        .await;
    assert_eq!(other_provider.status, 404);
}

#[tokio::test]
async fn sign_in_bodies_of_the_wrong_shape_answer_400() {
    let server = start(Backend::Sqlite).await;
    let api = Api::new(server.url());
    let before = crate::dump(&server).await;
    let json = |body: Value| body.to_string().into_bytes();
    // (what, the body, a phrase the message must hold)
    let cases: [(&str, Vec<u8>, &str); 9] = [
        (
            "a number as user name",
            json(json!({"username": 5, "password": PASSWORD})),
            "'username' must be a string, not a number",
        ),
        (
            "no password",
            json(json!({"username": "kim"})),
            "'password' is missing",
        ),
        (
            "no user name",
            json(json!({"password": PASSWORD})),
            "'username' is missing",
        ),
        (
            "a null password",
            json(json!({"username": "kim", "password": null})),
            "'password' must be a string, not null",
        ),
        (
            "an extra property",
            json(json!({"username": "kim", "password": PASSWORD, "admin": true})),
            "unknown property 'admin'",
        ),
        (
            "an array",
            json(json!([{"username": "kim", "password": PASSWORD}])),
            "must be a JSON object, not an array",
        ),
        (
            "a string",
            json(json!("kim")),
            "must be a JSON object, not a string",
        ),
        (
            "not JSON",
            b"username=kim&password=correct+horse".to_vec(),
            "not valid JSON",
        ),
        ("an empty body", Vec::new(), "the body is empty"),
    ];
    for path in ["/.auth/signup", "/.auth/login/tidemark"] {
        for (what, body, phrase) in &cases {
            let reply = api
                .req(reqwest::Method::POST, path)
                .without_version()
                .header("Content-Type", "application/json")
                .raw(body.clone())
                .send()
                .await;
            assert_eq!(reply.status, 400, "{path}, {what}: {}", reply.body);
            let message = reply.error();
            assert!(message.contains(phrase), "{path}, {what}: {message}");
            assert!(
                message.contains("\"username\""),
                "{path}, {what}: says what to send: {message}"
            );
            assert!(
                !message.contains(PASSWORD),
                "{path}, {what}: echoes the password"
            );
        }
        // No body and no Content-Type at all: the same 400, not axum's 415 or 422.
        let bare = api
            .req(reqwest::Method::POST, path)
            .without_version()
            .send()
            .await;
        assert_eq!(bare.status, 400, "{path}, no body: {}", bare.body);
        assert!(
            bare.error().contains("the body is empty"),
            "{}",
            bare.error()
        );
        // A body declared as something else is refused at the edge, as on the table routes.
        let form = api
            .req(reqwest::Method::POST, path)
            .without_version()
            .header("Content-Type", "application/x-www-form-urlencoded")
            .raw("username=kim&password=correct+horse")
            .send()
            .await;
        assert_eq!(form.status, 415, "{path}, a form: {}", form.body);
        assert!(
            form.error().contains("application/json"),
            "{}",
            form.error()
        );
    }
    assert_eq!(crate::dump(&server).await, before, "nothing was created");
    // The same server signs a well-formed body up, so the refusals above were for the shape.
    signed_up(&api, "kim").await;
    assert_ne!(crate::dump(&server).await, before);
}

#[tokio::test]
async fn sign_up_is_closed_by_default_and_capabilities_say_so() {
    let server = TestServer::start_with(ServerConfig::default()).await;
    let api = Api::new(server.url());
    let closed = signup(&api, "dave").await;
    assert_eq!(closed.status, 403);
    assert_eq!(closed.error(), "sign-up is closed on this server");
    let caps = api.get("/$capabilities").await;
    assert_eq!(caps.body["authRequired"], true);
    assert_eq!(caps.body["signup"], false);

    let open = start(Backend::Sqlite).await;
    assert_eq!(
        Api::new(open.url()).get("/$capabilities").await.body["signup"],
        true
    );
    let no_auth = TestServer::start_open().await;
    let api = Api::new(no_auth.url());
    assert_eq!(api.get("/$capabilities").await.body["authRequired"], false);
    assert_eq!(login(&api, "dave", PASSWORD).await.status, 404);
}

#[tokio::test]
async fn the_application_key_is_still_checked_on_sign_in() {
    let config = ServerConfig {
        app_key: Some("sesame".into()),
        ..accounts(true, ThrottleConfig::default())
    };
    let server = TestServer::start_with(config).await;
    let api = Api::new(server.url());
    assert_eq!(signup(&api, "erin").await.status, 401);
    let keyed = api.clone().with_app_key("sesame");
    let (erin, _) = signed_up(&keyed, "erin").await;
    assert_eq!(erin.get("/tables/todoitem").await.status, 200);
}

#[tokio::test]
async fn failed_sign_ins_are_throttled_per_name_and_per_address() {
    let throttle = ThrottleConfig {
        per_name: 3,
        per_address: 6,
        window: Duration::from_secs(60),
    };
    let server = TestServer::start_with(accounts(true, throttle)).await;
    let api = Api::new(server.url());
    signed_up(&api, "frank").await;
    for _ in 0..3 {
        assert_eq!(login(&api, "frank", "guess guess").await.status, 401);
    }
    // Now even the right password waits.
    let blocked = login(&api, "FRANK", PASSWORD).await;
    assert_eq!(blocked.status, 429, "{}", blocked.body);
    assert!(
        blocked.error().starts_with("too many failed sign-ins"),
        "{}",
        blocked.error()
    );
    let wait: u64 = blocked
        .retry_after
        .as_deref()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no Retry-After: {blocked:?}"));
    assert!((1..=60).contains(&wait), "{wait}");
    // Other names from this address still get their own tries, up to the address's limit.
    for name in ["gina", "hank", "ivan"] {
        assert_eq!(login(&api, name, "guess guess").await.status, 401);
    }
    let by_address = login(&api, "judy", "guess guess").await;
    assert_eq!(by_address.status, 429);
    assert!(by_address.retry_after.is_some());
}

/// Signs `claims` with `key` under `alg`, the header being `{"alg", "typ"}`.
fn forge(alg: jsonwebtoken::Algorithm, key: &[u8], claims: &Value) -> String {
    let key = jsonwebtoken::EncodingKey::from_secret(key).unwrap_or_else(|e| panic!("{e}"));
    jsonwebtoken::encode(&jsonwebtoken::Header::new(alg), claims, &key)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The claims of a token, read without checking.
fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap_or_default();
    let bytes = URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap_or_else(|e| panic!("{e}"));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn hostile_tokens_are_refused() {
    let server = start(Backend::Sqlite).await;
    let api = Api::new(server.url());
    let (_, token) = signed_up(&api, "mallory").await;
    let claims = claims_of(&token);
    let now = claims["iat"].as_i64().unwrap_or_default();
    let with = |changes: Value| {
        let mut changed = claims.clone();
        if let (Some(map), Some(changes)) = (changed.as_object_mut(), changes.as_object()) {
            for (k, v) in changes {
                map.insert(k.clone(), v.clone());
            }
        }
        changed
    };
    let hs256 = jsonwebtoken::Algorithm::HS256;
    // A control: the same claims signed with the server's key are accepted, so each refusal
    // below is for the one thing changed.
    let control = forge(hs256, KEY, &claims);
    assert_eq!(me(&api.clone().with_token(&control)).await.status, 200);

    let header_none = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signature = token.rsplit('.').next().unwrap_or_default();
    let tampered_payload = URL_SAFE_NO_PAD.encode(with(json!({"sub": "someone-else"})).to_string());
    let mut parts = token.split('.');
    let real_header = parts.next().unwrap_or_default();
    let hostile = [
        ("alg none", format!("{header_none}.{payload}.")),
        (
            "alg none, signature kept",
            format!("{header_none}.{payload}.{signature}"),
        ),
        (
            "another key",
            forge(hs256, b"another key of thirty-two bytes!", &claims),
        ),
        (
            "another algorithm",
            forge(jsonwebtoken::Algorithm::HS512, KEY, &claims),
        ),
        (
            "expired",
            forge(hs256, KEY, &with(json!({"exp": now - 3600}))),
        ),
        (
            "not yet valid",
            forge(hs256, KEY, &with(json!({"nbf": now + 3600}))),
        ),
        (
            "another issuer",
            forge(hs256, KEY, &with(json!({"iss": "evil"}))),
        ),
        (
            "another audience",
            forge(hs256, KEY, &with(json!({"aud": "evil"}))),
        ),
        ("no expiry", {
            let mut c = claims.clone();
            c.as_object_mut().map(|m| m.remove("exp"));
            forge(hs256, KEY, &c)
        }),
        (
            "unknown session",
            forge(hs256, KEY, &with(json!({"sid": "made-up"}))),
        ),
        (
            "another user's session",
            forge(hs256, KEY, &with(json!({"sub": "other"}))),
        ),
        (
            "tampered payload",
            format!("{real_header}.{tampered_payload}.{signature}"),
        ),
        ("garbage", "not.a.token".to_owned()),
        ("empty", String::new()),
    ];
    for (what, token) in hostile {
        let client = api.clone().with_token(&token);
        let write = client.post("/tables/todoitem", json!({"id": "x"})).await;
        assert_eq!(write.status, 401, "{what}: {}", write.body);
        assert_eq!(me(&client).await.status, 401, "{what}");
    }
    let expired =
        me(&api
            .clone()
            .with_token(&forge(hs256, KEY, &with(json!({"exp": now - 3600})))))
        .await;
    assert!(expired.error().contains("expired"), "{}", expired.error());
    // Nothing was written by any of them.
    let mallory = api.clone().with_token(&token);
    assert_eq!(mallory.get("/tables/todoitem").await.items().len(), 0);
}
