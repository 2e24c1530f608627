//! The HTTP face of the server: the router, its shared state and its layers.
//!
//! Layers, outermost first: access log, gzip compression (when asked for, at the configured
//! level), JSON error bodies (so responses made by layers and by
//! axum itself also read `{"error": …}`), the edge guard (origin, host, content type: see
//! [`origin`]) and CORS for allowed origins, timeout, body limit, then the protocol guard (API
//! version, application key) in front of the routes.

mod auth;
mod batch;
pub(crate) mod caller;
mod checksum;
mod guard;
mod log_layer;
mod openapi;
pub(crate) mod origin;
mod request;
mod tables;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tidemark_protocol::ErrorBody;
use tidemark_protocol::batch::BATCH_PATH;
use tidemark_protocol::checksum::CHECKSUM_PATH;
use tidemark_protocol::headers::{CAPABILITIES_PATH, Capabilities, TABLES_PATH};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower_http::CompressionLevel;
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use crate::accounts::{AccountService, AuthMode};
use crate::config::{Compression, ConfigError, ServerConfig};
use crate::error::ApiError;
use crate::store::TableStore;

/// What every handler shares: the store, the configuration and the table directory.
pub struct AppState<S> {
    store: S,
    config: ServerConfig,
    /// Lower-cased table name → the declared name (URLs match case-insensitively).
    tables: HashMap<String, String>,
    /// One permit per query answered at once (`max_concurrent_queries`).
    query_slots: Arc<Semaphore>,
    /// The configured public URL without its trailing `/`, the base of next-page links.
    public_base: Option<String>,
    /// Accounts, when sign-in is required; `None` in the open mode.
    accounts: Option<AccountService>,
}

/// How long a query waits for a free slot before it is answered 503. Long enough to ride out a
/// burst of ordinary queries (they take milliseconds), short enough that under sustained
/// overload clients hear "retry later" at once instead of piling up behind the slow ones.
const QUERY_SLOT_WAIT: Duration = Duration::from_millis(500);

impl<S> AppState<S> {
    /// A query slot, waiting at most [`QUERY_SLOT_WAIT`]; `None` when none came free.
    async fn query_permit(&self) -> Option<OwnedSemaphorePermit> {
        let slots = Arc::clone(&self.query_slots);
        tokio::time::timeout(QUERY_SLOT_WAIT, slots.acquire_owned())
            .await
            .ok()
            .and_then(Result::ok)
    }

    /// The configured limits of an item's shape.
    fn item_limits(&self) -> request::ItemLimits {
        request::ItemLimits {
            max_depth: self.config.max_item_depth,
            max_bytes: self.config.max_item_bytes,
        }
    }

    /// The declared name of the table a URL names, or 404.
    fn table(&self, name: &str) -> Result<&str, ApiError> {
        self.tables
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
            .ok_or_else(|| {
                ApiError::NotFound(format!(
                    "no table named '{name}'; this server serves: {}",
                    self.config.tables.join(", ")
                ))
            })
    }
}

/// The shared state as handlers extract it.
type Shared<S> = State<Arc<AppState<S>>>;

/// Builds the application: every route of the table protocol on `store`, with `config`'s limits,
/// for a server listening on `local` (a loopback listen checks `Host`, see [`origin`]).
pub fn router<S: TableStore>(
    store: S,
    config: ServerConfig,
    local: SocketAddr,
) -> Result<Router, ConfigError> {
    config.validate()?;
    let edge = Arc::new(origin::EdgePolicy::new(
        &config.allow_origins,
        config.public_url.as_deref(),
        local.ip().is_loopback(),
    ));
    let cors = edge.cors_layer();
    let tables = config
        .tables
        .iter()
        .map(|t| (t.to_ascii_lowercase(), t.clone()))
        .collect();
    let max_body = config.max_body_bytes;
    let timeout = config.request_timeout;
    let compression = compression_layer(config.compression);
    let query_slots = Arc::new(Semaphore::new(config.max_concurrent_queries));
    let public_base = config
        .public_url
        .as_deref()
        .and_then(|u| origin::PublicUrl::parse(u).ok())
        .map(|u| u.base);
    let accounts = match &config.auth {
        AuthMode::Open => None,
        AuthMode::Accounts(accounts) => {
            Some(AccountService::new(accounts).map_err(ConfigError::BadLimit)?)
        }
    };
    let state = Arc::new(AppState {
        store,
        config,
        tables,
        query_slots,
        public_base,
        accounts,
    });
    let app = Router::new()
        .route(BATCH_PATH, post(batch::batch::<S>))
        .route(
            &format!("{CHECKSUM_PATH}/{{table}}"),
            get(checksum::checksum::<S>),
        )
        .route(
            &format!("{TABLES_PATH}/{{table}}"),
            get(tables::query::<S>).post(tables::insert::<S>),
        )
        .route(
            &format!("{TABLES_PATH}/{{table}}/{{id}}"),
            get(tables::lookup::<S>)
                .patch(tables::update::<S>)
                .delete(tables::delete::<S>)
                .post(tables::undelete::<S>),
        )
        // Only the routes above (tables, batch and checksum) require a signed-in caller.
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            caller::require_caller::<S>,
        ))
        .route(CAPABILITIES_PATH, get(capabilities::<S>))
        .route(openapi::OPENAPI_PATH, get(openapi::document))
        .merge(auth::routes::<S>())
        .fallback(no_route)
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            guard::protocol_guard::<S>,
        ))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(RequestBodyLimitLayer::new(max_body))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        // CORS inside the edge guard: only allowed origins get past it to be answered.
        .layer(cors)
        .layer(middleware::from_fn_with_state(edge, origin::edge_guard))
        .layer(middleware::map_response_with_state(
            max_body,
            json_error_bodies,
        ))
        // Outside the error-body layer, so that every body, errors included, is compressed
        // when the client sends `Accept-Encoding: gzip`.
        .layer(compression)
        .layer(middleware::from_fn(log_layer::access_log))
        .with_state(state);
    Ok(app)
}

/// The gzip layer for `level`. Its default predicate is kept: bodies under 32 bytes, images and
/// event streams go out plain, as does every response to a client that does not accept gzip.
fn compression_layer(level: Compression) -> CompressionLayer {
    let layer = CompressionLayer::new();
    match level {
        Compression::Fastest => layer.quality(CompressionLevel::Fastest),
        Compression::Default => layer.quality(CompressionLevel::Default),
        Compression::Best => layer.quality(CompressionLevel::Best),
        // With no encoding enabled the layer passes every response through untouched; it stays
        // in place so the router has one type whatever the level.
        Compression::Off => layer.no_gzip(),
    }
}

/// `GET /$capabilities`: the extensions this server offers.
async fn capabilities<S: TableStore>(State(state): Shared<S>) -> Json<Capabilities> {
    Json(Capabilities {
        idempotent_writes: true,
        batch: true,
        max_batch_operations: u64::try_from(state.config.max_batch_operations).unwrap_or(u64::MAX),
        max_top: state.config.max_top,
        changes_feed: false,
        auth_required: state.accounts.is_some(),
        signup: state.accounts.as_ref().is_some_and(|a| a.signup_open()),
        checksum: true,
    })
}

async fn no_route() -> ApiError {
    ApiError::NotFound(format!(
        "no such resource; tables live at {TABLES_PATH}/{{table}}"
    ))
}

/// Gives error responses that layers or axum produced without a JSON body (413 from the body
/// limit, 408 from the timeout, 405 from routing) the protocol's `{"error": …}` shape.
async fn json_error_bodies(State(max_body): State<usize>, response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json {
        return response;
    }
    let message = match status {
        StatusCode::PAYLOAD_TOO_LARGE => {
            format!("request body is larger than the limit of {max_body} bytes")
        }
        StatusCode::REQUEST_TIMEOUT => "the request took too long and was abandoned".into(),
        StatusCode::METHOD_NOT_ALLOWED => "this method is not allowed on this path".into(),
        other => other.canonical_reason().unwrap_or("error").to_owned(),
    };
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    let mut rebuilt = (status, Json(ErrorBody::new(message))).into_response();
    // Keep informative headers such as `Allow` on a 405.
    for (name, value) in parts.headers {
        if let Some(name) = name
            && name != header::CONTENT_TYPE
        {
            rebuilt.headers_mut().insert(name, value);
        }
    }
    rebuilt
}
