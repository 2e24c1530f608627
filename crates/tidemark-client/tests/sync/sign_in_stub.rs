//! STUB-BASED tests of the engine's sign-in rules, against a small axum server in the test (not
//! the real server: accounts are written in parallel on another branch; the same behaviours
//! are proven against the real server in `accounts.rs`, which the lead includes after the
//! merge). The stub answers 401 with `WWW-Authenticate: Bearer` to any token it does not
//! accept, renews the token `old` as `new` on `POST /.auth/refresh`, and stores inserts.
//! Also here, needing no server at all: no token goes over plain http to another host.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::{Duration, Utc};
use serde_json::{Value, json};
use tidemark_client::{
    AuthClient, AuthError, ClientError, PushStatus, Query, RemoteConfig, Session, SyncContext,
};

use crate::common::{Device, Mode, TestResult, todo_table};

/// What the stub saw and accepts.
#[derive(Default)]
struct Seen {
    /// Every request: method, path and the `X-ZUMO-AUTH` sent.
    requests: Vec<(String, String, Option<String>)>,
    /// The tokens it accepts.
    accepted: HashSet<String>,
}

/// The stub server; its URL is loopback http.
struct Stub {
    url: String,
    seen: Arc<Mutex<Seen>>,
}

impl Stub {
    async fn start(accepted: &[&str]) -> anyhow::Result<Self> {
        let seen = Arc::new(Mutex::new(Seen {
            requests: Vec::new(),
            accepted: accepted.iter().map(|t| t.to_string()).collect(),
        }));
        let app = Router::new().fallback(answer).with_state(Arc::clone(&seen));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/", listener.local_addr()?);
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { url, seen })
    }

    fn accept(&self, token: &str) {
        if let Ok(mut s) = self.seen.lock() {
            s.accepted.insert(token.into());
        }
    }

    /// The table writes that reached the stub, with the token each carried.
    fn writes(&self) -> Vec<(String, Option<String>)> {
        self.seen
            .lock()
            .map(|s| {
                s.requests
                    .iter()
                    .filter(|(m, p, _)| m != "GET" && p.starts_with("/tables/"))
                    .map(|(_, p, t)| (p.clone(), t.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn paths(&self) -> Vec<String> {
        self.seen
            .lock()
            .map(|s| s.requests.iter().map(|r| r.1.clone()).collect())
            .unwrap_or_default()
    }
}

fn login_answer(token: &str) -> Value {
    json!({
        "authenticationToken": token,
        "user": {"userId": "u-alice", "userName": "alice"},
        "expiresAt": (Utc::now() + Duration::hours(24)).to_rfc3339(),
    })
}

async fn answer(
    State(seen): State<Arc<Mutex<Seen>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let token = headers
        .get("x-zumo-auth")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let path = uri.path().to_string();
    let accepted = {
        let Ok(mut s) = seen.lock() else {
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        };
        s.requests
            .push((method.to_string(), path.clone(), token.clone()));
        token.as_ref().is_some_and(|t| s.accepted.contains(t))
    };
    if !accepted {
        return (
            StatusCode::UNAUTHORIZED,
            [("www-authenticate", "Bearer")],
            axum::Json(json!({"error": "sign-in required: the token has expired"})),
        )
            .into_response();
    }
    match (method.as_str(), path.as_str()) {
        ("POST", "/.auth/refresh") => {
            if let Ok(mut s) = seen.lock() {
                s.accepted.insert("new".into());
            }
            axum::Json(login_answer("new")).into_response()
        }
        ("POST", "/tables/todoitem") => {
            let mut item: Value = serde_json::from_slice(&body).unwrap_or(json!({}));
            let now = Utc::now().to_rfc3339();
            item["version"] = json!("v1");
            item["updatedAt"] = json!(now);
            item["createdAt"] = json!(now);
            item["deleted"] = json!(false);
            (StatusCode::CREATED, axum::Json(item)).into_response()
        }
        ("GET", "/tables/todoitem") => axum::Json(json!([])).into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// A per-request device of `url` signed in with `token` as `u-alice`.
async fn device(url: &str, session: Session) -> anyhow::Result<Device> {
    let config = Mode::PerRequest.config(url).with_session(session);
    Device::open_with_config(Mode::PerRequest, config, todo_table()).await
}

fn alice(token: &str) -> Session {
    Session::new(token, "u-alice")
}

#[tokio::test]
async fn stub_a_401_stops_the_sync_as_sign_in_required_and_keeps_the_queue() -> TestResult {
    let stub = Stub::start(&[]).await?;
    let device = device(&stub.url, alice("revoked")).await?;
    device.add("a").await?;
    device.add("b").await?;
    let result = device.ctx.push().await;
    assert_eq!(result.status, PushStatus::CancelledBySignInRequired);
    assert!(
        result
            .message
            .as_deref()
            .is_some_and(|m| m.contains("expired")),
        "{result:?}"
    );
    assert_eq!(device.ctx.pending_operations().await?, 2);
    // A pull pushes first: stopped the same way, typed, nothing lost.
    let pulled = device.table().pull(Some("all"), &Query::new()).await;
    assert!(
        matches!(&pulled, Err(ClientError::PushFailed(p)) if p.status == PushStatus::CancelledBySignInRequired),
        "{pulled:?}"
    );
    assert_eq!(device.ctx.pending_operations().await?, 2);
    // Signed in again: the next sync sends them, with the new token.
    stub.accept("fresh");
    device.ctx.set_remote(
        Mode::PerRequest
            .config(&stub.url)
            .with_session(alice("fresh")),
    )?;
    device.push_ok().await?;
    assert_eq!(device.ctx.pending_operations().await?, 0);
    let accepted: Vec<_> = stub
        .writes()
        .into_iter()
        .filter(|(_, t)| t.as_deref() == Some("fresh"))
        .collect();
    assert_eq!(accepted.len(), 2, "{:?}", stub.writes());
    Ok(())
}

#[tokio::test]
async fn stub_an_empty_queue_pull_with_a_revoked_token_is_sign_in_required() -> TestResult {
    let stub = Stub::start(&[]).await?;
    let device = device(&stub.url, alice("revoked")).await?;
    let pulled = device.table().pull(Some("all"), &Query::new()).await;
    let kind = pulled.as_ref().err().map(ClientError::kind);
    assert_eq!(kind, Some(tidemark_client::ErrorKind::SignInRequired));
    Ok(())
}

#[tokio::test]
async fn stub_a_token_close_to_expiry_is_renewed_before_the_sync() -> TestResult {
    let stub = Stub::start(&["old"]).await?;
    let session = Session {
        expires_at: Some(Utc::now() + Duration::minutes(2)),
        obtained_at: Some(Utc::now() - Duration::hours(24)),
        ..alice("old")
    };
    let device = device(&stub.url, session).await?;
    device.add("a").await?;
    device.push_ok().await?;
    let paths = stub.paths();
    assert_eq!(paths.first().map(String::as_str), Some("/.auth/refresh"));
    assert_eq!(
        stub.writes().first().and_then(|w| w.1.clone()).as_deref(),
        Some("new")
    );
    let renewed = device.ctx.remote_config().session;
    assert_eq!(renewed.as_ref().map(|s| s.token.as_str()), Some("new"));
    assert!(renewed.is_some_and(|s| s.expires_at > Some(Utc::now() + Duration::hours(1))));
    // Not due any more: the next sync does not renew it again.
    device.add("b").await?;
    device.push_ok().await?;
    assert_eq!(
        stub.paths()
            .iter()
            .filter(|p| p.contains("refresh"))
            .count(),
        1
    );
    Ok(())
}

#[tokio::test]
async fn stub_a_store_synced_by_one_user_refuses_another() -> TestResult {
    let stub = Stub::start(&["a-token", "b-token"]).await?;
    let device = device(&stub.url, alice("a-token")).await?;
    device.add("alice's").await?;
    device.push_ok().await?;
    let bound = device.ctx.bound_account().await?;
    assert_eq!(bound.map(|b| b.user_id), Some("u-alice".into()));
    device.add("alice's, offline").await?;
    // Switching the open store to bob: the sync refuses, nothing goes out as bob.
    device.ctx.set_remote(
        Mode::PerRequest
            .config(&stub.url)
            .with_session(Session::new("b-token", "u-bob")),
    )?;
    let result = device.ctx.push().await;
    assert_eq!(result.status, PushStatus::CancelledByAuthenticationError);
    assert!(
        result
            .message
            .as_deref()
            .is_some_and(|m| m.contains("u-alice") && m.contains("u-bob"))
    );
    assert!(
        stub.writes()
            .iter()
            .all(|(_, t)| t.as_deref() != Some("b-token"))
    );
    assert_eq!(device.ctx.pending_operations().await?, 1);
    // Reopening the store as bob is refused at once, naming both.
    let path = device.path();
    let bob = Mode::PerRequest
        .config(&stub.url)
        .with_session(Session::new("b-token", "u-bob"));
    let opened = SyncContext::open(&path, vec![todo_table()], bob).await;
    assert!(
        matches!(&opened, Err(ClientError::WrongAccount { store_user, user, .. }) if store_user == "u-alice" && user == "u-bob"),
        "{opened:?}"
    );
    // Signed out, it opens (offline use) but does not sync.
    let out = SyncContext::open(
        &path,
        vec![todo_table()],
        Mode::PerRequest.config(&stub.url),
    )
    .await?;
    assert_eq!(
        out.push().await.status,
        PushStatus::CancelledBySignInRequired
    );
    Ok(())
}

#[tokio::test]
async fn no_token_or_password_goes_over_plain_http_to_another_host() -> TestResult {
    // No server: the refusal comes before any connection (nothing listens there anyway).
    let url = "http://todo.example.invalid:8080/";
    let device = device(url, alice("t0k3n")).await?;
    device.add("a").await?;
    let result = device.ctx.push().await;
    assert_eq!(result.status, PushStatus::CancelledByAuthenticationError);
    let message = result.message.unwrap_or_default();
    assert!(
        message.contains("https") && message.contains("plain http"),
        "{message}"
    );
    assert_eq!(device.ctx.pending_operations().await?, 1);
    let auth = AuthClient::new(&RemoteConfig::new(url))?;
    let signed_in = auth.sign_in("alice", "password1").await;
    assert!(
        matches!(
            &signed_in,
            Err(AuthError::Insecure(ClientError::InsecureTransport { .. }))
        ),
        "{signed_in:?}"
    );
    // A plain-http server on this machine is fine (the tests' own servers are).
    let stub = Stub::start(&["old"]).await?;
    let local = AuthClient::new(&RemoteConfig::new(
        stub.url.replace("127.0.0.1", "localhost"),
    ))?;
    assert!(local.refresh(&alice("old")).await.is_ok());
    Ok(())
}
