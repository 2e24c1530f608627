//! [`Caller`]: who sends a request, and so whose rows its store calls read and write.
//!
//! Without accounts ([`AuthMode::Open`](crate::accounts::AuthMode)) every caller is
//! [`Owner::unowned`], the single shared list. With accounts, the request must carry a token in
//! `X-ZUMO-AUTH` or `Authorization: Bearer`; a valid one makes the caller its user, anything
//! else is answered 401 with `WWW-Authenticate: Bearer` and the reason. Table and batch routes
//! sit behind [`require_caller`], which checks the token once before the body is read and
//! leaves the [`Caller`] in the request for the handlers' extractor.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::accounts::{AuthError, Identity};
use crate::store::{Owner, TableStore};

/// The header Azure App Service clients send their token in.
pub const ZUMO_AUTH_HEADER: &str = "x-zumo-auth";

/// The caller of a request, as the handlers extract it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    owner: Owner,
    identity: Option<Identity>,
}

impl Caller {
    /// Whose rows this request reads and writes.
    pub fn owner(&self) -> &Owner {
        &self.owner
    }

    /// Who signed in (`None` on a server without accounts).
    pub fn identity(&self) -> Option<&Identity> {
        self.identity.as_ref()
    }
}

/// The token a request carries: `X-ZUMO-AUTH`, else `Authorization: Bearer`.
fn token(headers: &HeaderMap) -> Result<&str, AuthError> {
    let missing = || {
        AuthError::SignInRequired(
            "no token; send it in X-ZUMO-AUTH or Authorization: Bearer (sign in at \
             POST /.auth/login/tidemark)"
                .into(),
        )
    };
    let unreadable = || AuthError::SignInRequired("the token header is not text".into());
    if let Some(value) = headers.get(ZUMO_AUTH_HEADER) {
        let token = value.to_str().map_err(|_| unreadable())?.trim();
        return if token.is_empty() {
            Err(missing())
        } else {
            Ok(token)
        };
    }
    let Some(value) = headers.get(axum::http::header::AUTHORIZATION) else {
        return Err(missing());
    };
    let value = value.to_str().map_err(|_| unreadable())?.trim();
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(token.trim())
        }
        _ => Err(AuthError::SignInRequired(
            "the Authorization header is not 'Bearer <token>'".into(),
        )),
    }
}

/// Who sends a request with these headers.
pub(super) async fn authenticate<S: TableStore>(
    headers: &HeaderMap,
    state: &AppState<S>,
) -> Result<Caller, AuthError> {
    let Some(accounts) = &state.accounts else {
        return Ok(Caller {
            owner: Owner::unowned(),
            identity: None,
        });
    };
    let identity = accounts.authenticate(&state.store, token(headers)?).await?;
    Ok(Caller {
        owner: identity.owner(),
        identity: Some(identity),
    })
}

impl<S: TableStore> FromRequestParts<Arc<AppState<S>>> for Caller {
    type Rejection = Response;

    /// The caller [`require_caller`] found, or the token checked now.
    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState<S>>,
    ) -> Result<Self, Self::Rejection> {
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(caller.clone());
        }
        authenticate(&parts.headers, state)
            .await
            .map_err(IntoResponse::into_response)
    }
}

/// Answers 401 to a request without a valid token (when accounts are required) before its
/// route reads the body, and leaves the [`Caller`] for the handler.
pub async fn require_caller<S: TableStore>(
    State(state): State<Arc<AppState<S>>>,
    mut request: Request,
    next: Next,
) -> Response {
    match authenticate(request.headers(), &state).await {
        Ok(caller) => {
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Err(error) => error.into_response(),
    }
}
