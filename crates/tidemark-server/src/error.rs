//! [`ApiError`]: every way a request can fail, and the one place that turns a failure into a
//! response, so every error has the protocol's shape (`{"error": "…"}`, or the server's item for
//! 409/412).

use axum::Json;
use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
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
    /// 403: the request came from a browser origin that is not allowed.
    #[error("{0}")]
    Forbidden(String),
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
    /// 415: a body that is not declared `application/json`.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 421: the `Host` is not one this server answers for (DNS rebinding).
    #[error("{0}")]
    MisdirectedRequest(String),
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
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::MisdirectedRequest(_) => StatusCode::MISDIRECTED_REQUEST,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl ApiError {
    /// This error as one result of a batch: the status, and the body (server item or message)
    /// its single request would have answered.
    pub fn into_batch_result(self) -> BatchResult {
        let (status, item, error) = self.into_batch_parts();
        BatchResult {
            status,
            item: item.map(|item| item.to_json()),
            error: Some(error),
            replayed: false,
        }
    }

    /// What a batch result of this error holds: the status, the server's item (409 and 412)
    /// and the message; the `POST /$batch` route sends these without a JSON value per item.
    pub(crate) fn into_batch_parts(self) -> (u16, Option<Box<Item>>, String) {
        let status = self.status().as_u16();
        let message = self.to_string();
        match self {
            ApiError::Conflict(item) | ApiError::PreconditionFailed(item) => {
                (status, Some(item), message)
            }
            ApiError::Internal(message) => (status, None, message),
            _ => (status, None, message),
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
    let mut response = json_response(status, &item.wire(), 256);
    if let Ok(etag) = HeaderValue::from_str(&quote_etag(&item.version)) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response
}

/// A JSON response serialised in one pass into a buffer of `capacity_hint` bytes to start with
/// (a good guess saves the buffer's regrowth on pages of a thousand items).
///
/// Like axum's `Json`, but the caller sizes the buffer; a value that cannot be serialised (not
/// one of ours: their keys are strings) is answered 500 with the protocol's error body.
pub fn json_response<T: Serialize + ?Sized>(
    status: StatusCode,
    value: &T,
    capacity_hint: usize,
) -> Response {
    let mut buffer = Vec::with_capacity(capacity_hint);
    match serde_json::to_writer(&mut buffer, value) {
        Ok(()) => {
            let mut response = Response::new(Body::from(buffer));
            *response.status_mut() = status;
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
        Err(error) => {
            log::error!("cannot serialise a response: {error}");
            ApiError::Internal("the server failed to write the response".into()).into_response()
        }
    }
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
