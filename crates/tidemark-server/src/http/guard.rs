//! The checks every request passes before a route sees it: the API version (header or query
//! parameter) and, when configured, the application key.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tidemark_protocol::headers::{
    API_VERSION_HEADER, API_VERSION_QUERY, APPLICATION_KEY_HEADER, check_api_version,
};

use super::AppState;
use super::request::query_param;
use crate::error::ApiError;
use crate::store::TableStore;

/// Rejects requests without a supported `ZUMO-API-VERSION` (400; `/.auth/*` need none) or
/// without the configured application key (401); `GET /openapi.json` passes unchecked.
pub async fn protocol_guard<S: TableStore>(
    State(state): State<Arc<AppState<S>>>,
    request: Request,
    next: Next,
) -> Response {
    // The API description is public: tools read it before they know the protocol's headers.
    if request.uri().path() == super::openapi::OPENAPI_PATH {
        return next.run(request).await;
    }
    match check(&state, &request) {
        Ok(()) => next.run(request).await,
        Err(error) => error.into_response(),
    }
}

fn check<S>(state: &AppState<S>, request: &Request) -> Result<(), ApiError> {
    // Sign-in routes follow App Service's `/.auth`, which has no API version.
    if !request.uri().path().starts_with(super::auth::AUTH_PREFIX) {
        check_version(request)?;
    }
    check_app_key(state, request)
}

/// Requires a supported `ZUMO-API-VERSION` (header or query parameter).
fn check_version(request: &Request) -> Result<(), ApiError> {
    let header = match request.headers().get(API_VERSION_HEADER) {
        Some(value) => Some(
            value
                .to_str()
                .map_err(|_| ApiError::BadRequest("ZUMO-API-VERSION header is not text".into()))?
                .to_owned(),
        ),
        None => None,
    };
    let version = header.or_else(|| query_param(request.uri().query(), API_VERSION_QUERY));
    check_api_version(version.as_deref()).map_err(|e| ApiError::BadRequest(e.to_string()))
}

/// Requires the configured application key, if any.
fn check_app_key<S>(state: &AppState<S>, request: &Request) -> Result<(), ApiError> {
    if let Some(expected) = &state.config.app_key {
        let given = request.headers().get(APPLICATION_KEY_HEADER);
        match given {
            None => {
                return Err(ApiError::Unauthorized(
                    "missing application key: send it in the X-ZUMO-APPLICATION header".into(),
                ));
            }
            Some(given) if !constant_time_eq(given.as_bytes(), expected.as_bytes()) => {
                return Err(ApiError::Unauthorized(
                    "the application key in X-ZUMO-APPLICATION is not valid".into(),
                ));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Compares without an early exit, so timing does not reveal how much of a guess was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
