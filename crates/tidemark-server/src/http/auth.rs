//! The sign-in routes, in the Azure App Service shape: `POST /.auth/login/tidemark`,
//! `POST /.auth/signup`, `GET /.auth/me`, `POST /.auth/refresh`, `POST /.auth/logout`; and how
//! an [`AuthError`] is answered.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::Value;
use tidemark_protocol::ErrorBody;

use super::AppState;
use super::request::{body_bytes, json_kind};
use crate::accounts::service::retry_secs;
use crate::accounts::{AccountService, AuthError, Identity, SignedIn};
use crate::error::ApiError;
use crate::store::TableStore;

/// Where every sign-in route lives; these need no `ZUMO-API-VERSION`.
pub const AUTH_PREFIX: &str = "/.auth/";
/// The one sign-in provider of our own accounts.
pub const PROVIDER: &str = "tidemark";

/// The sign-in routes.
pub fn routes<S: TableStore>() -> Router<Arc<AppState<S>>> {
    Router::new()
        .route("/.auth/login/{provider}", post(login::<S>))
        .route("/.auth/signup", post(signup::<S>))
        .route("/.auth/me", get(me::<S>))
        .route("/.auth/refresh", post(refresh::<S>))
        .route("/.auth/logout", post(logout::<S>))
}

/// A sign-in or sign-up body; `Debug` hides the password.
struct Credentials {
    username: String,
    password: String,
}

impl Credentials {
    /// Reads `{"username": "…", "password": "…"}` from a request body. Anything else (no body,
    /// not JSON, not an object, a missing, extra or non-string field) is 400 with the
    /// protocol's error body, as a malformed item is on the table routes. The messages name
    /// fields and JSON kinds, never a value: a password typed into the wrong field stays out of
    /// the answer.
    fn from_body(body: Result<Bytes, BytesRejection>) -> Result<Self, ApiError> {
        let bytes = body_bytes(body)?;
        let bad = |what: String| {
            ApiError::BadRequest(format!(
                "{what}; send {{\"username\": \"…\", \"password\": \"…\"}} as JSON"
            ))
        };
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(bad("the body is empty".into()));
        }
        let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
            bad(format!(
                "the body is not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            ))
        })?;
        let Value::Object(mut object) = value else {
            return Err(bad(format!(
                "the body must be a JSON object, not {}",
                json_kind(&value)
            )));
        };
        let mut field = |name: &str| match object.remove(name) {
            Some(Value::String(text)) => Ok(text),
            Some(other) => Err(bad(format!(
                "'{name}' must be a string, not {}",
                json_kind(&other)
            ))),
            None => Err(bad(format!("'{name}' is missing"))),
        };
        let username = field("username")?;
        let password = field("password")?;
        if let Some(extra) = object.keys().next() {
            return Err(bad(format!(
                "unknown property '{}': only 'username' and 'password' are read",
                extra.chars().take(64).collect::<String>()
            )));
        }
        Ok(Self { username, password })
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// The App Service login answer (plus `expiresAt`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LoginResponse {
    authentication_token: String,
    user: LoginUser,
    expires_at: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LoginUser {
    user_id: String,
    user_name: String,
}

/// `GET /.auth/me`'s answer.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MeResponse {
    user_id: String,
    user_name: Option<String>,
    provider: &'static str,
    expires_at: String,
}

/// Unix seconds as ISO-8601 UTC.
fn iso(secs: i64) -> String {
    DateTime::<Utc>::from_timestamp(secs, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn signed_in(status: StatusCode, signed: SignedIn) -> Response {
    let body = LoginResponse {
        authentication_token: signed.token,
        user: LoginUser {
            user_id: signed.user_id,
            user_name: signed.user_name,
        },
        expires_at: iso(signed.expires_at),
    };
    let mut response = (status, Json(body)).into_response();
    // A token must not sit in any cache.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The accounts of a server that has them, or 404.
fn accounts<S>(state: &AppState<S>) -> Result<&AccountService, AuthError> {
    state.accounts.as_ref().ok_or(AuthError::NoAccounts)
}

/// The client's address, from the connection (never from headers a client can forge); the
/// unspecified address when the router runs without connection info (in-process tests).
struct ClientAddress(IpAddr);

impl<T: Send + Sync> FromRequestParts<T> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &T) -> Result<Self, Self::Rejection> {
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.ip());
        Ok(Self(ip))
    }
}

async fn login<S: TableStore>(
    State(state): State<Arc<AppState<S>>>,
    Path(provider): Path<String>,
    ClientAddress(address): ClientAddress,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let accounts = match accounts(&state) {
        Ok(accounts) => accounts,
        Err(error) => return error.into_response(),
    };
    if provider != PROVIDER {
        return ApiError::NotFound(format!(
            "no sign-in provider '{provider}'; this server signs in with '{PROVIDER}'"
        ))
        .into_response();
    }
    let body = match Credentials::from_body(body) {
        Ok(body) => body,
        Err(error) => return error.into_response(),
    };
    match accounts
        .sign_in(&state.store, &body.username, body.password, address)
        .await
    {
        Ok(signed) => signed_in(StatusCode::OK, signed),
        Err(error) => error.into_response(),
    }
}

async fn signup<S: TableStore>(
    State(state): State<Arc<AppState<S>>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let accounts = match accounts(&state) {
        Ok(accounts) => accounts,
        Err(error) => return error.into_response(),
    };
    let body = match Credentials::from_body(body) {
        Ok(body) => body,
        Err(error) => return error.into_response(),
    };
    match accounts
        .sign_up(&state.store, &body.username, body.password)
        .await
    {
        Ok(signed) => signed_in(StatusCode::CREATED, signed),
        Err(error) => error.into_response(),
    }
}

/// The accounts and the signed-in identity of a request to an accounts route.
async fn identity<'a, S: TableStore>(
    state: &'a AppState<S>,
    headers: &HeaderMap,
) -> Result<(&'a AccountService, Identity), AuthError> {
    let accounts = accounts(state)?;
    let caller = super::caller::authenticate(headers, state).await?;
    let identity = caller
        .identity()
        .cloned()
        .ok_or_else(|| AuthError::SignInRequired("no token".into()))?;
    Ok((accounts, identity))
}

async fn me<S: TableStore>(State(state): State<Arc<AppState<S>>>, headers: HeaderMap) -> Response {
    match identity(&state, &headers).await {
        Ok((_, identity)) => Json(MeResponse {
            provider: identity.provider(),
            user_id: identity.user_id,
            user_name: identity.user_name,
            expires_at: iso(identity.expires_at),
        })
        .into_response(),
        Err(error) => error.into_response(),
    }
}

async fn refresh<S: TableStore>(
    State(state): State<Arc<AppState<S>>>,
    headers: HeaderMap,
) -> Response {
    let refreshed = match identity(&state, &headers).await {
        Ok((accounts, identity)) => accounts.refresh(&state.store, &identity).await,
        Err(error) => Err(error),
    };
    match refreshed {
        Ok(signed) => signed_in(StatusCode::OK, signed),
        Err(error) => error.into_response(),
    }
}

async fn logout<S: TableStore>(
    State(state): State<Arc<AppState<S>>>,
    headers: HeaderMap,
) -> Response {
    let ended = match identity(&state, &headers).await {
        Ok((accounts, identity)) => accounts.logout(&state.store, &identity).await,
        Err(error) => Err(error),
    };
    match ended {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => error.into_response(),
    }
}

fn error_body(status: StatusCode, message: String) -> Response {
    (status, Json(ErrorBody::new(message))).into_response()
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        let message = self.to_string();
        match self {
            AuthError::WrongCredentials => error_body(StatusCode::UNAUTHORIZED, message),
            AuthError::Throttled(wait) => {
                let mut response = error_body(StatusCode::TOO_MANY_REQUESTS, message);
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_secs(wait)));
                response
            }
            AuthError::SignupClosed => error_body(StatusCode::FORBIDDEN, message),
            AuthError::NameTaken => error_body(StatusCode::CONFLICT, message),
            AuthError::BadName(_)
            | AuthError::BadPassword(_)
            | AuthError::NotForThisIdentity(_) => error_body(StatusCode::BAD_REQUEST, message),
            AuthError::SignInRequired(_) => {
                let mut response = error_body(StatusCode::UNAUTHORIZED, message);
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                response
            }
            AuthError::NoSuchUser(_) | AuthError::NoAccounts => {
                error_body(StatusCode::NOT_FOUND, message)
            }
            AuthError::Store(error) => ApiError::from(error).into_response(),
            AuthError::Internal(reason) => {
                log::error!("accounts failure: {reason}");
                ApiError::Internal("the server failed to complete the request".into())
                    .into_response()
            }
        }
    }
}
