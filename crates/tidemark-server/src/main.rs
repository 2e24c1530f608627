//! The `tidemark-server` binary: flags and environment in, a running server out.

use anyhow::Context as _;
use clap::Parser;
use std::io::Write as _;
use std::net::SocketAddr;
use std::time::Duration;
use tidemark_server::store::postgres::{is_postgres_url, redact_url};
use tidemark_server::store::{PostgresOptions, PostgresTableStore};
use tidemark_server::{Compression, ServerConfig, SqliteOptions, SqliteTableStore, TableStore};
use tidemark_sql::sqlite::MAX_TEXT_BYTES;

/// Tidemark sync server: serves the Azure Mobile Apps table protocol (ZUMO-API-VERSION 2.0.0)
/// on an embedded SQLite database, or on PostgreSQL shared by several server processes.
// No `Debug`: the arguments hold the database URL and the application key, which must not be
// printed.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on; use port 0 for any free port (the chosen address is printed).
    #[arg(long, env = "TIDEMARK_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,

    /// The database: a SQLite file path (created if missing), or a PostgreSQL URL
    /// (postgres://user:password@host:5432/dbname) that several server processes can share. Its
    /// schema is migrated at start.
    #[arg(
        long,
        env = "TIDEMARK_DB",
        default_value = "./tidemark-server.db",
        hide_env_values = true
    )]
    db: String,

    /// PostgreSQL only: connections this process keeps open at most. Keep the sum over all
    /// processes below the database's max_connections.
    #[arg(long, env = "TIDEMARK_DB_POOL_SIZE", default_value_t = 16)]
    db_pool_size: usize,

    /// A table to serve (repeatable; the environment variable takes a comma-separated list).
    /// Names are identifiers (letters, digits, underscore); URLs match them case-insensitively,
    /// and any other table name answers 404.
    #[arg(
        long = "table",
        env = "TIDEMARK_TABLES",
        value_delimiter = ',',
        default_value = "todoitem"
    )]
    tables: Vec<String>,

    /// Application key; when set, every request must send it in X-ZUMO-APPLICATION (else 401).
    #[arg(long, env = "TIDEMARK_APP_KEY", hide_env_values = true)]
    app_key: Option<String>,

    /// Largest request body accepted, in bytes; larger bodies are answered 413.
    #[arg(long, env = "TIDEMARK_MAX_BODY", default_value_t = 1024 * 1024)]
    max_body: usize,

    /// Seconds a request may take once its headers are in; slower ones are answered 408.
    #[arg(long, env = "TIDEMARK_REQUEST_TIMEOUT", default_value_t = 30)]
    request_timeout: u64,

    /// Seconds a connection has to send a request's headers; slower ones are closed, so clients
    /// that dribble bytes cannot hold connections.
    #[arg(long, env = "TIDEMARK_HEADER_TIMEOUT", default_value_t = 10)]
    header_timeout: u64,
    /// The most operations one POST /$batch may carry (clients push their queue in batches of
    /// at most this many; a larger batch is answered 400 and nothing of it is applied).
    #[arg(long, env = "TIDEMARK_MAX_BATCH_OPERATIONS", default_value_t = 1000)]
    max_batch_operations: usize,

    /// gzip level of responses to clients that accept gzip: fastest (level 1, most of the
    /// saving for little CPU), default (6), best (9), or off (never compress, e.g. behind a
    /// compressing proxy). Clients that do not send Accept-Encoding: gzip always get plain bodies.
    #[arg(long, env = "TIDEMARK_COMPRESSION", value_enum, default_value_t = Compression::Fastest)]
    compression: Compression,

    // Query cost limits (issue 14).
    /// A page stops once its items' JSON reaches this many bytes (always after at least one
    /// item), whatever $top asks, and a Link header points to the rest.
    #[arg(long, env = "TIDEMARK_MAX_PAGE_BYTES", default_value_t = 16 * 1024 * 1024)]
    max_page_bytes: usize,

    /// Queries (GET /tables/...) answered at once; another waits up to half a second for a
    /// slot, then is answered 503 with Retry-After. Default: one less than --readers on SQLite
    /// (so a lookup always finds a free reader soon), half of --db-pool-size on PostgreSQL.
    #[arg(long, env = "TIDEMARK_MAX_CONCURRENT_QUERIES")]
    max_concurrent_queries: Option<usize>,

    /// SQLite only: read connections, opened at start and never more (each keeps a page cache
    /// of at most 32 MiB); reads beyond this many wait for one.
    #[arg(long, env = "TIDEMARK_READERS", default_value_t = 4)]
    readers: usize,
    // --- The request edge (issue 14). ---
    /// The deepest an item may nest objects and arrays (the item itself is level 1); deeper
    /// items are answered 400 and never stored, so no client meets one it cannot parse.
    #[arg(long, env = "TIDEMARK_MAX_ITEM_DEPTH", default_value_t = 32)]
    max_item_depth: usize,

    /// The largest an item may be, in bytes of its compact JSON (at most --max-body); larger
    /// inserts and updates are answered 400.
    #[arg(long, env = "TIDEMARK_MAX_ITEM_BYTES", default_value_t = 256 * 1024)]
    max_item_bytes: usize,

    /// A browser origin (scheme://host[:port]) allowed to call this server (repeatable; the
    /// environment variable takes a comma-separated list). Requests carrying any other Origin
    /// header are answered 403; allowed origins get CORS answers. None by default.
    #[arg(
        long = "allow-origin",
        env = "TIDEMARK_ALLOW_ORIGINS",
        value_delimiter = ','
    )]
    allow_origins: Vec<String>,

    /// The URL clients reach this server at (e.g. https://todo.example.com behind a proxy):
    /// next-page links are built on it (relative otherwise), and its host is accepted in the
    /// Host header. On a loopback listen only loopback hosts are accepted without it (DNS
    /// rebinding); on other listens, setting it makes the server refuse any other Host.
    #[arg(long, env = "TIDEMARK_PUBLIC_URL")]
    public_url: Option<String>,

    /// Connections served at once; while all are taken, new ones wait in the listen backlog.
    #[arg(long, env = "TIDEMARK_MAX_CONNECTIONS", default_value_t = 1024)]
    max_connections: usize,

    /// Serve HTTPS with this certificate chain (PEM, leaf first); needs --tls-key. Both files
    /// are read again on SIGHUP (a renewed certificate needs no restart).
    #[arg(long, env = "TIDEMARK_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<std::path::PathBuf>,

    /// The private key (PEM) of --tls-cert.
    #[arg(long, env = "TIDEMARK_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<std::path::PathBuf>,

    /// Log level: error, warn, info (one line per request), debug or trace.
    #[arg(long, env = "TIDEMARK_LOG_LEVEL", default_value = "info")]
    log_level: log::LevelFilter,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    env_logger::Builder::new()
        .filter_level(args.log_level)
        .format_timestamp_millis()
        .init();
    let config = ServerConfig {
        tables: args.tables.clone(),
        app_key: args.app_key.clone(),
        max_body_bytes: args.max_body,
        request_timeout: Duration::from_secs(args.request_timeout),
        header_read_timeout: Duration::from_secs(args.header_timeout),
        max_batch_operations: args.max_batch_operations,
        compression: args.compression,
        max_page_bytes: args.max_page_bytes,
        max_concurrent_queries: args.max_concurrent_queries.unwrap_or_else(|| {
            if is_postgres_url(&args.db) {
                (args.db_pool_size / 2).max(1)
            } else {
                args.readers.saturating_sub(1).max(1)
            }
        }),
        max_item_depth: args.max_item_depth,
        max_item_bytes: args.max_item_bytes,
        allow_origins: args.allow_origins.clone(),
        public_url: args.public_url.clone(),
        max_connections: args.max_connections,
        tls: args
            .tls_cert
            .clone()
            .zip(args.tls_key.clone())
            .map(|(cert_path, key_path)| tidemark_server::TlsConfig {
                cert_path,
                key_path,
            }),
        ..ServerConfig::default()
    };
    raise_fd_limit();
    config.validate().context("invalid configuration")?;
    if let Some(tls) = &config.tls {
        tls.load(&tidemark_server::tls::provider())
            .context("cannot serve HTTPS")?;
    }
    if args.readers == 0 {
        anyhow::bail!("invalid configuration: --readers must be at least 1");
    }
    if is_postgres_url(&args.db) {
        let options = PostgresOptions {
            pool_size: args.db_pool_size,
            // A statement never outlives the request that asked for it.
            statement_timeout: config.request_timeout,
            ..PostgresOptions::default()
        };
        let store = PostgresTableStore::connect_with(&args.db, options)
            .await
            .with_context(|| format!("cannot open database {}", redact_url(&args.db)))?;
        run(&args, config, store, redact_url(&args.db)).await
    } else {
        let options = SqliteOptions {
            readers: args.readers,
            // A read never outlives the request that asked for it.
            read_deadline: config.request_timeout,
            // Stored items are at most a body long, and a merge can add to one; the readers'
            // length limit must never refuse a stored item.
            max_value_bytes: MAX_TEXT_BYTES.max(args.max_body.saturating_mul(2)),
            ..SqliteOptions::default()
        };
        let store = SqliteTableStore::open_with(&args.db, options)
            .with_context(|| format!("cannot open database {}", args.db))?;
        let db = args.db.clone();
        run(&args, config, store, db).await
    }
}

/// Listens, announces the address and serves on `store` until a shutdown signal.
async fn run(
    args: &Args,
    config: ServerConfig,
    store: impl TableStore,
    db: String,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let address = listener
        .local_addr()
        .context("cannot read the listening address")?;
    // Tests that start us on port 0 read this line to learn the port; flush it right away.
    let mut stdout = std::io::stdout();
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    writeln!(stdout, "tidemark-server listening on {scheme}://{address}")
        .and_then(|()| stdout.flush())
        .context("cannot write to stdout")?;
    log::info!("serving tables [{}] from {}", config.tables.join(", "), db);
    tidemark_server::serve(listener, store, config, shutdown_signal())
        .await
        .context("server failed")?;
    log::info!("stopped");
    Ok(())
}

/// Raises the soft limit of open files to the hard one: every connection takes a descriptor,
/// and the common soft default (1024) is below what `--max-connections` allows.
fn raise_fd_limit() {
    let before = rlimit::Resource::NOFILE.get().map(|(soft, _)| soft);
    match (before, rlimit::increase_nofile_limit(u64::MAX)) {
        (Ok(before), Ok(now)) if now != before => {
            log::info!("raised the open file limit from {before} to {now}");
        }
        (_, Ok(now)) => log::info!("open file limit: {now}"),
        (_, Err(e)) => log::warn!("cannot raise the open file limit: {e}"),
    }
}

/// Completes on SIGINT or SIGTERM; if a handler cannot be installed, that signal is ignored.
async fn shutdown_signal() {
    let interrupt = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            log::error!("cannot listen for SIGINT: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                log::error!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    log::info!("shutting down: finishing in-flight requests");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compression_defaults_to_fastest_and_takes_every_level() {
        let parse = |extra: &[&str]| {
            Args::try_parse_from(std::iter::once("tidemark-server").chain(extra.iter().copied()))
        };
        let args = parse(&[]).expect("no flags parse");
        assert_eq!(args.compression, Compression::Fastest);
        for (name, level) in [
            ("fastest", Compression::Fastest),
            ("default", Compression::Default),
            ("best", Compression::Best),
            ("off", Compression::Off),
        ] {
            let args = parse(&["--compression", name]).expect("a known level parses");
            assert_eq!(args.compression, level);
        }
        for bad in ["fast", "1", ""] {
            assert!(parse(&["--compression", bad]).is_err(), "{bad}");
        }
    }

    #[test]
    fn tls_cert_and_key_go_together() {
        let parse = |extra: &[&str]| {
            Args::try_parse_from(std::iter::once("tidemark-server").chain(extra.iter().copied()))
        };
        assert!(parse(&["--tls-cert", "c.pem"]).is_err());
        assert!(parse(&["--tls-key", "k.pem"]).is_err());
        let args = parse(&["--tls-cert", "c.pem", "--tls-key", "k.pem"]).expect("both parse");
        assert_eq!(
            args.tls_cert.as_deref(),
            Some(std::path::Path::new("c.pem"))
        );
        assert!(parse(&[]).expect("neither").tls_cert.is_none());
    }
}
