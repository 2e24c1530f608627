//! The Tidemark sync server: the Azure Mobile Apps table protocol (ZUMO-API-VERSION 2.0.0)
//! over HTTP, with our extensions (ordered change clock, idempotent writes), on a pluggable
//! [`store::TableStore`] (embedded SQLite by default).
//!
//! [`router`] builds the axum application; [`serve`] runs it on a listener until a shutdown
//! future completes, letting in-flight requests finish.

pub mod config;
pub mod error;
mod http;
pub mod store;

use std::future::Future;

pub use config::{ConfigError, ServerConfig};
pub use error::ApiError;
pub use http::router;
pub use store::{SqliteOptions, SqliteTableStore, StoreError, TableStore};

/// Why [`serve`] stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The configuration cannot be served.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The listener failed.
    #[error("server I/O failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Serves the table protocol on `listener` until `shutdown` completes; in-flight requests are
/// finished before it returns.
pub async fn serve<S: TableStore>(
    listener: tokio::net::TcpListener,
    store: S,
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let app = router(store, config)?;
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}
