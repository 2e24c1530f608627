//! [`ApiError`]: every way a request can fail, and the one place that turns a failure into a
//! response, so every error has the protocol's shape (`{"error": "…"}`, or the server's item for
//! 409/412).

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tidemark_protocol::ErrorBody;
use tidemark_protocol::batch::BatchResult;
use tidemark_protocol::etag::quote_etag;

use crate::store::{Item, StoreError};

/// A failed request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed; the message says what and where.
    #[error("{0}")]
    BadRequest(String),
    /// 401: missing or wrong credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// 404: no such table, route or item.
    #[error("{0}")]
    NotFound(String),
    /// 409: an insert named an existing id; carries the server's item.
    #[error("conflict on item '{}'", .0.id)]
    Conflict(Box<Item>),
    /// 412: `If-Match` does not match; carries the server's item.
    #[error("precondition failed on item '{}'", .0.id)]
    PreconditionFailed(Box<Item>),
    /// 413: the body exceeds the configured limit.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 503: the database is unreachable for now; the client should retry later.
    #[error("{0}")]
    Unavailable(String),
    /// 500: something failed on our side; details go to the log, not to the client.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// The status code of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl ApiError {
    /// This error as one result of a batch: the status, and the body (server item or message)
    /// its single request would have answered.
    pub fn into_batch_result(self) -> BatchResult {
        let status = self.status().as_u16();
        let message = self.to_string();
        let (item, error) = match self {
            ApiError::Conflict(item) | ApiError::PreconditionFailed(item) => {
                (Some(item.to_json()), message)
            }
            ApiError::Internal(message) => (None, message),
            _ => (None, message),
        };
        BatchResult {
            status,
            item,
            error: Some(error),
            replayed: false,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound(_) => ApiError::NotFound(error.to_string()),
            StoreError::Conflict(item) => ApiError::Conflict(item),
            StoreError::PreconditionFailed(item) => ApiError::PreconditionFailed(item),
            StoreError::InvalidQuery(msg) => ApiError::BadRequest(format!("invalid query: {msg}")),
            StoreError::BadRequest(msg) => ApiError::BadRequest(msg),
            StoreError::Unavailable(reason) => {
                log::warn!("database unavailable: {reason}");
                ApiError::Unavailable(
                    "the database is unavailable; nothing was written, retry later".into(),
                )
            }
            StoreError::Internal(source) => {
                log::error!("store failure: {source}");
                ApiError::Internal("the server failed to complete the request".into())
            }
        }
    }
}

/// An item response: the item's JSON with its version as `ETag`.
pub fn item_response(status: StatusCode, item: &Item) -> Response {
    let mut response = (status, Json(item.to_json())).into_response();
    if let Ok(etag) = HeaderValue::from_str(&quote_etag(&item.version)) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        match self {
            ApiError::Conflict(item) | ApiError::PreconditionFailed(item) => {
                item_response(status, &item)
            }
            ApiError::Internal(message) => (status, Json(ErrorBody::new(message))).into_response(),
            other => (status, Json(ErrorBody::new(other.to_string()))).into_response(),
        }
    }
}
