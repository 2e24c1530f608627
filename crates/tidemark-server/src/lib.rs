//! The Tidemark sync server: the Azure Mobile Apps table protocol (ZUMO-API-VERSION 2.0.0)
//! over HTTP, with our extensions (ordered change clock, idempotent writes), on a pluggable
//! [`store::TableStore`] (embedded SQLite by default).
//!
//! [`router`] builds the axum application; [`serve`] runs it on a listener (plain HTTP, or
//! HTTPS with [`ServerConfig::tls`]) until a shutdown future completes, letting in-flight
//! requests finish.

pub mod accounts;
pub mod config;
pub mod error;
mod http;
pub mod rate_log;
pub mod store;
pub mod tls;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tower::ServiceExt as _;

pub use config::{Compression, ConfigError, ServerConfig};
pub use error::ApiError;
pub use http::router;
pub use store::{SqliteOptions, SqliteTableStore, StoreError, TableStore};
pub use tls::{TlsConfig, TlsError};

/// Why [`serve`] stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The configuration cannot be served.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The listener failed.
    #[error("server I/O failed: {0}")]
    Io(#[from] std::io::Error),
    /// The TLS certificate or key cannot be used.
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// The largest request head (request line and headers) a connection may send; a larger one is
/// answered 431 and the connection closed. Generous for any real client (ours sends under 1 KiB),
/// small enough that a flood of huge headers cannot eat memory.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

/// How long to pause accepting after the listener fails (e.g. out of file descriptors), so a
/// persistent failure does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// How often a failing `accept` is logged at most (the repeats are counted), so running out of
/// file descriptors does not also fill the disk.
const ACCEPT_ERROR_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Serves the table protocol on `listener` until `shutdown` completes; in-flight requests are
/// finished before it returns.
///
/// Each connection is served by hyper's HTTP/1 server with `config`'s header read timeout and
/// [`MAX_HEADER_BYTES`], which axum's own `serve` does not let us set; the router's timeout layer
/// bounds everything after the head.
///
/// At most `config.max_connections` connections are served at once: each holds a permit of a
/// semaphore, and while none is free the loop stops accepting, so further clients wait in the
/// kernel's listen backlog (and are served as connections end) instead of taking file
/// descriptors and memory. Idle connections do not hold a permit forever: one that sends no
/// request head within the header read timeout is closed.
///
/// With `config.tls`, every connection is TLS: the handshake runs in the connection's own task
/// (holding its permit) and must finish within the header read timeout too, so a client that
/// connects and never completes a handshake cannot hold a slot. The certificate is reloaded on
/// SIGHUP while serving (see [`tls`]).
pub async fn serve<S: TableStore>(
    listener: tokio::net::TcpListener,
    store: S,
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let header_read_timeout = config.header_read_timeout;
    let tls = match &config.tls {
        Some(tls) => {
            let resolver = Arc::new(tls::CertResolver::new(tls.clone(), tls::provider())?);
            let acceptor =
                tokio_rustls::TlsAcceptor::from(tls::server_config(Arc::clone(&resolver))?);
            Some((acceptor, tls::reload_on_sighup(resolver)))
        }
        None => None,
    };
    let acceptor = tls.as_ref().map(|(acceptor, _)| acceptor.clone());
    let connections = Arc::new(tokio::sync::Semaphore::new(config.max_connections));
    let app = router(store, config, listener.local_addr()?)?;
    let accept_errors = rate_log::RateLimitedLog::new(ACCEPT_ERROR_LOG_INTERVAL);
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout)
        .max_header_size(MAX_HEADER_BYTES);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = Arc::clone(&connections).acquire_owned() => match permit {
                Ok(permit) => permit,
                // The semaphore is never closed; should it be, serving cannot go on.
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_errors.warn(|suppressed| {
                        format!("cannot accept a connection: {e}{suppressed}")
                    });
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    continue;
                }
            },
        };
        if let Err(e) = stream.set_nodelay(true) {
            log::debug!("cannot set TCP_NODELAY for {peer}: {e}");
        }
        // The client's address for sign-in throttling, from the connection itself.
        let service = TowerToHyperService::new(app.clone().map_request(
            move |mut request: axum::http::Request<hyper::body::Incoming>| {
                request
                    .extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                request
            },
        ));
        // Taken now, before any later shutdown signal, so a connection still in its TLS
        // handshake when shutdown starts is closed gracefully once it is up.
        let watcher = graceful.watcher();
        let builder = builder.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            match acceptor {
                None => serve_connection(&builder, stream, service, watcher, peer).await,
                Some(acceptor) => {
                    match tokio::time::timeout(header_read_timeout, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => {
                            serve_connection(&builder, stream, service, watcher, peer).await;
                        }
                        Ok(Err(e)) => log::debug!("TLS handshake with {peer} failed: {e}"),
                        Err(_) => log::debug!("TLS handshake with {peer} timed out"),
                    }
                }
            }
            // The connection's slot frees only when it is gone.
            drop(permit);
        });
    }
    drop(listener);
    if let Some((_, reloader)) = tls {
        reloader.abort();
    }
    graceful.shutdown().await;
    Ok(())
}

/// Serves HTTP/1 on one accepted (and, with TLS, handshaken) connection until it ends.
async fn serve_connection<I, S>(
    builder: &http1::Builder,
    io: I,
    service: TowerToHyperService<S>,
    watcher: Watcher,
    peer: std::net::SocketAddr,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: tower::Service<
            hyper::Request<hyper::body::Incoming>,
            Response = axum::response::Response,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let connection = watcher.watch(builder.serve_connection(TokioIo::new(io), service));
    // Timeouts, resets and malformed requests end here; hyper has answered what it could.
    if let Err(e) = connection.await {
        log::debug!("connection from {peer} ended: {e}");
    }
}
