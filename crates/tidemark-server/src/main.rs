//! The `tidemark-server` binary: flags and environment in, a running server out; or, with
//! `user …`, account administration on the same database.

mod admin;
mod cli;

use anyhow::Context as _;
use clap::Parser;
use cli::{Args, Command, Signup};
use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;
use tidemark_server::accounts::{AccountsConfig, AuthMode, OidcConfig, TokenKey};
use tidemark_server::store::postgres::{is_postgres_url, redact_url};
use tidemark_server::store::{PostgresOptions, PostgresTableStore};
use tidemark_server::{ServerConfig, SqliteOptions, SqliteTableStore, TableStore};
use tidemark_sql::sqlite::MAX_TEXT_BYTES;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    env_logger::Builder::new()
        .filter_level(args.log_level)
        // The PostgreSQL driver logs statement parameters at debug level, and account
        // statements carry password hashes: never below info for it.
        .filter_module("tokio_postgres", args.log_level.min(log::LevelFilter::Info))
        .format_timestamp_millis()
        .init();
    let serving = args.command.is_none();
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
        // Only serving needs the key (and may create its file); administration does not.
        auth: if serving {
            auth_mode(&args)?
        } else {
            AuthMode::Open
        },
        ..ServerConfig::default()
    };
    if serving {
        raise_fd_limit();
    }
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
        dispatch(&args, config, store, redact_url(&args.db)).await
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
        dispatch(&args, config, store, db).await
    }
}

/// Serves, or runs the administration command given.
async fn dispatch(
    args: &Args,
    config: ServerConfig,
    store: impl TableStore,
    db: String,
) -> anyhow::Result<()> {
    match &args.command {
        Some(Command::User(command)) => admin::run(&store, command).await,
        None => run(args, config, store, db).await,
    }
}

/// The accounts mode the flags ask for: open (refused on a non-loopback listen address
/// without --allow-open-network), or accounts with the key from --token-key-file.
fn auth_mode(args: &Args) -> anyhow::Result<AuthMode> {
    if args.no_auth {
        if !args.listen.ip().is_loopback() && !args.allow_open_network {
            anyhow::bail!(
                "refusing to serve without accounts (--no-auth) on {}, which other machines \
                 can reach: anyone who reaches it would read and change every todo. Listen on \
                 a loopback address (127.0.0.1), drop --no-auth, or add --allow-open-network \
                 if this is really meant",
                args.listen
            );
        }
        if args.allow_open_network {
            log::warn!(
                "serving without accounts on {}: anyone who reaches it reads and changes \
                 every todo",
                args.listen
            );
        }
        return Ok(AuthMode::Open);
    }
    let key_file = match &args.token_key_file {
        Some(path) => path.clone(),
        None if is_postgres_url(&args.db) => anyhow::bail!(
            "with a PostgreSQL database, --token-key-file is required: every server process on \
             the database must sign tokens with the same key"
        ),
        None => PathBuf::from(format!("{}.token-key", args.db)),
    };
    let token_key = TokenKey::load_or_create(&key_file).context("cannot use the token key")?;
    let oidc = match (&args.oidc_issuer, &args.oidc_audience) {
        (Some(issuer), Some(audience)) => Some(OidcConfig {
            issuer: issuer.clone(),
            audience: audience.clone(),
        }),
        _ => None,
    };
    Ok(AuthMode::Accounts(AccountsConfig {
        token_key,
        token_lifetime: Duration::from_secs(args.token_lifetime),
        signup_open: args.signup == Signup::Open,
        oidc,
        ..AccountsConfig::default()
    }))
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
    let accounts = match &config.auth {
        AuthMode::Open => "no accounts (--no-auth): one shared list",
        AuthMode::Accounts(a) if a.signup_open => "accounts required, sign-up open",
        AuthMode::Accounts(_) => "accounts required, sign-up closed",
    };
    log::info!(
        "serving tables [{}] from {db}; {accounts}",
        config.tables.join(", ")
    );
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
