//! In-process and child-process `tidemark-server` instances on loopback for tests.
//!
//! [`TestServer`] runs the server library inside the test's tokio runtime, over a SQLite file in
//! its own temporary directory: fast, and the test can reach the store. [`ServerProcess`] runs
//! the real binary as a child process, for tests that need to kill it (crash recovery) or check
//! the binary's own behaviour. Both listen on 127.0.0.1 only. Failures to start panic with a
//! message saying why: these are test fixtures.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use anyhow::{Context as _, bail};
use tempfile::TempDir;
use tidemark_server::accounts::{AccountsConfig, AuthMode};
use tidemark_server::store::PostgresTableStore;
use tidemark_server::{ServeError, ServerConfig, SqliteOptions, SqliteTableStore};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::postgres::PgDatabase;

/// How long a server may take to start or stop before the fixture gives up.
const START_STOP_TIMEOUT: Duration = Duration::from_secs(20);
/// The line prefix the binary prints once it listens.
const LISTENING_PREFIX: &str = "tidemark-server listening on ";

/// Which store a [`TestServer`] runs on; the shared suites run once per backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in a temporary directory (the embedded default).
    Sqlite,
    /// A fresh database on the shared test PostgreSQL cluster ([`crate::postgres`]).
    Postgres,
}

/// An in-process server on `127.0.0.1`, stopped when dropped.
#[derive(Debug)]
pub struct TestServer {
    addr: SocketAddr,
    url: String,
    db_path: PathBuf,
    config: ServerConfig,
    options: SqliteOptions,
    running: Option<Running>,
    // After the server, so its connections are gone (or forced away) when the database drops.
    pg: Option<PgDatabase>,
    // Declared last so the server (and its SQLite connections) goes before the directory.
    _dir: Option<TempDir>,
}

#[derive(Debug)]
struct Running {
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<Result<(), ServeError>>,
}

impl TestServer {
    /// Starts a server without accounts ([`ServerConfig::open`]: table `todoitem`, one shared
    /// list, no sign-in) on a fresh database. Tests that need accounts pass a configuration
    /// (e.g. `ServerConfig::default()`) to [`TestServer::start_with`].
    pub async fn start_open() -> Self {
        Self::start_with(ServerConfig::open()).await
    }

    /// Starts a server with accounts required and sign-up open (anyone may create an account)
    /// on a fresh database: what the clients' account tests sign up with.
    pub async fn start_with_signup() -> Self {
        Self::start_with(ServerConfig {
            auth: AuthMode::Accounts(AccountsConfig {
                signup_open: true,
                ..AccountsConfig::default()
            }),
            ..ServerConfig::default()
        })
        .await
    }

    /// Starts a server without accounts ([`ServerConfig::open`]) on a fresh database of
    /// `backend`.
    pub async fn start_open_on_backend(backend: Backend) -> Self {
        Self::start_with_backend(backend, ServerConfig::open()).await
    }

    /// Starts a server with `config` on a fresh database of `backend`.
    pub async fn start_with_backend(backend: Backend, config: ServerConfig) -> Self {
        match backend {
            Backend::Sqlite => Self::start_with(config).await,
            Backend::Postgres => {
                let pg = PgDatabase::create().await;
                let db = PathBuf::from(pg.url());
                let mut server = Self::launch(db, config, SqliteOptions::default(), None).await;
                server.pg = Some(pg);
                server
            }
        }
    }

    /// Which store this server runs on.
    pub fn backend(&self) -> Backend {
        if self.pg.is_some() {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }

    /// Starts a server with `config` on a fresh database in its own temporary directory.
    pub async fn start_with(config: ServerConfig) -> Self {
        Self::start_with_options(config, SqliteOptions::default()).await
    }

    /// Starts a server with `config` and store `options` (e.g. a scripted clock) on a fresh
    /// database in its own temporary directory.
    pub async fn start_with_options(config: ServerConfig, options: SqliteOptions) -> Self {
        let dir = tempfile::tempdir()
            .unwrap_or_else(|e| panic!("TestServer: cannot create a temporary directory: {e}"));
        let db_path = dir.path().join("server.db");
        let mut server = Self::launch(db_path, config, options, None).await;
        server._dir = Some(dir);
        server
    }

    /// Starts a server with `config` on the database at `db_path` (which the caller owns), e.g.
    /// to reopen a database another server wrote.
    pub async fn start_on(db_path: impl Into<PathBuf>, config: ServerConfig) -> Self {
        Self::launch(db_path.into(), config, SqliteOptions::default(), None).await
    }

    async fn launch(
        db_path: PathBuf,
        config: ServerConfig,
        options: SqliteOptions,
        addr: Option<SocketAddr>,
    ) -> Self {
        let addr = addr.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
        let (running, addr) = Self::run(&db_path, &config, &options, addr)
            .await
            .unwrap_or_else(|e| panic!("TestServer: cannot start on {}: {e:#}", db_path.display()));
        let scheme = if config.tls.is_some() {
            "https"
        } else {
            "http"
        };
        Self {
            addr,
            url: format!("{scheme}://{addr}"),
            db_path,
            config,
            options,
            running: Some(running),
            pg: None,
            _dir: None,
        }
    }

    async fn run(
        db_path: &Path,
        config: &ServerConfig,
        options: &SqliteOptions,
        addr: SocketAddr,
    ) -> anyhow::Result<(Running, SocketAddr)> {
        // The server checks its configuration when it starts serving, inside the spawned task;
        // checked here too, a test's bad configuration fails loudly instead of leaving a port
        // that refuses every connection.
        config
            .validate()
            .context("the server's configuration is invalid")?;
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let addr = listener.local_addr()?;
        let (shutdown, signal) = oneshot::channel::<()>();
        let config = config.clone();
        // A dropped sender means the fixture is gone: stop as well.
        let stopped = async {
            let _ = signal.await;
        };
        let db = db_path.to_string_lossy();
        let task = if tidemark_server::store::postgres::is_postgres_url(&db) {
            let store = PostgresTableStore::connect(&db)
                .await
                .context("cannot open the store")?;
            tokio::spawn(tidemark_server::serve(listener, store, config, stopped))
        } else {
            let store = SqliteTableStore::open_with(db_path, options.clone())
                .context("cannot open the store")?;
            tokio::spawn(tidemark_server::serve(listener, store, config, stopped))
        };
        Ok((Running { shutdown, task }, addr))
    }

    /// The base URL, e.g. `http://127.0.0.1:40123` (no trailing slash; `https://` when the
    /// config has `tls`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL of a table, e.g. `http://127.0.0.1:40123/tables/todoitem`.
    pub fn table_url(&self, table: &str) -> String {
        format!("{}/tables/{table}", self.url)
    }

    /// The SQLite database file the server uses (for a PostgreSQL server: its URL).
    pub fn db_path(&self) -> &Path {
        &self.db_path
    }

    /// The PostgreSQL database the server uses, if it runs on PostgreSQL.
    pub fn postgres(&self) -> Option<&PgDatabase> {
        self.pg.as_ref()
    }

    /// The configuration the server runs with.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// Stops the server gracefully (in-flight requests finish) and waits for it.
    pub async fn stop(mut self) {
        self.shut_down().await;
    }

    /// Stops the server gracefully and starts it again on the same address and database.
    pub async fn restart(&mut self) {
        self.pause().await;
        self.start_again().await;
    }

    /// Stops the server gracefully (in-flight requests finish), keeping its address and
    /// database for [`TestServer::start_again`]: e.g. to turn a simulated power back on in
    /// between.
    pub async fn pause(&mut self) {
        self.shut_down().await;
    }

    /// Starts a paused server again on the same address and database (no-op when running).
    pub async fn start_again(&mut self) {
        if self.running.is_some() {
            return;
        }
        let (running, _) = Self::run(&self.db_path, &self.config, &self.options, self.addr)
            .await
            .unwrap_or_else(|e| panic!("TestServer: cannot restart on {}: {e:#}", self.addr));
        self.running = Some(running);
    }

    async fn shut_down(&mut self) {
        let Some(Running { shutdown, mut task }) = self.running.take() else {
            return;
        };
        let _ = shutdown.send(());
        match tokio::time::timeout(START_STOP_TIMEOUT, &mut task).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => log::warn!("TestServer on {} failed: {e}", self.addr),
            Ok(Err(e)) => log::warn!("TestServer on {} panicked: {e}", self.addr),
            Err(_) => {
                log::warn!("TestServer on {} did not stop in time; aborting", self.addr);
                task.abort();
            }
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(Running { shutdown, task }) = self.running.take() {
            let _ = shutdown.send(());
            // Drop cannot wait; abort so the listener closes now rather than with the runtime.
            task.abort();
        }
    }
}

/// The real `tidemark-server` binary running as a child process on `127.0.0.1`, killed when
/// dropped.
#[derive(Debug)]
pub struct ServerProcess {
    binary: PathBuf,
    db_path: PathBuf,
    extra_args: Vec<String>,
    listen: SocketAddr,
    url: String,
    log_path: PathBuf,
    child: Option<Child>,
}

impl ServerProcess {
    /// Runs the binary found by [`server_binary`] on `db_path`, listening on a free port, with
    /// `extra_args` appended (e.g. `["--table", "notes"]`). The binary requires accounts unless
    /// `extra_args` holds `--no-auth`; a SQLite server then keeps its token key next to the
    /// database.
    pub async fn spawn(db_path: impl Into<PathBuf>, extra_args: &[&str]) -> Self {
        let binary = server_binary().unwrap_or_else(|e| panic!("ServerProcess: {e:#}"));
        Self::spawn_binary(binary, db_path, extra_args).await
    }

    /// Like [`ServerProcess::spawn`] with an explicit binary (e.g.
    /// `env!("CARGO_BIN_EXE_tidemark-server")` in the server's own tests).
    pub async fn spawn_binary(
        binary: impl Into<PathBuf>,
        db_path: impl Into<PathBuf>,
        extra_args: &[&str],
    ) -> Self {
        let db_path = db_path.into();
        let log_path = db_path.with_extension("server.log");
        let mut process = Self {
            binary: binary.into(),
            db_path,
            extra_args: extra_args.iter().map(|s| (*s).to_owned()).collect(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            url: String::new(),
            log_path,
            child: None,
        };
        process
            .launch()
            .await
            .unwrap_or_else(|e| panic!("ServerProcess: cannot start: {e:#}"));
        process
    }

    /// Runs `binary` with `--db <db>` (a SQLite path or a `postgres://` URL), logging to
    /// `log_path`, listening on a free port, with `extra_args` appended.
    pub async fn spawn_with_log(
        binary: impl Into<PathBuf>,
        db: &str,
        log_path: impl Into<PathBuf>,
        extra_args: &[&str],
    ) -> Self {
        let mut process = Self {
            binary: binary.into(),
            db_path: PathBuf::from(db),
            extra_args: extra_args.iter().map(|s| (*s).to_owned()).collect(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            url: String::new(),
            log_path: log_path.into(),
            child: None,
        };
        process
            .launch()
            .await
            .unwrap_or_else(|e| panic!("ServerProcess: cannot start: {e:#}"));
        process
    }

    async fn launch(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .with_context(|| format!("cannot open {}", self.log_path.display()))?;
        let mut child = Command::new(&self.binary)
            .arg("--listen")
            .arg(self.listen.to_string())
            .arg("--db")
            .arg(&self.db_path)
            .args(&self.extra_args)
            .env_remove("TIDEMARK_LISTEN")
            .env_remove("TIDEMARK_DB")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot run {}", self.binary.display()))?;
        let stdout = child.stdout.take().context("child has no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let url = tokio::time::timeout(START_STOP_TIMEOUT, async {
            while let Some(line) = lines.next_line().await? {
                if let Some(url) = line.trim().strip_prefix(LISTENING_PREFIX) {
                    return Ok(Some(url.to_owned()));
                }
            }
            Ok::<_, std::io::Error>(None)
        })
        .await;
        let url = match url {
            Ok(Ok(Some(url))) => url,
            other => {
                let _ = child.start_kill();
                let log = std::fs::read_to_string(&self.log_path).unwrap_or_default();
                bail!(
                    "{} did not report its address ({other:?}); its log:\n{log}",
                    self.binary.display()
                );
            }
        };
        // Keep draining stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        self.listen = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"))
            .and_then(|a| a.parse().ok())
            .with_context(|| format!("unexpected address line: {url}"))?;
        self.url = url;
        self.child = Some(child);
        Ok(())
    }

    /// The base URL, e.g. `http://127.0.0.1:40123` (`https://` when started with
    /// `--tls-cert/--tls-key`); it stays the same across restarts.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The URL of a table.
    pub fn table_url(&self, table: &str) -> String {
        format!("{}/tables/{table}", self.url)
    }

    /// The database file.
    pub fn db_path(&self) -> &Path {
        &self.db_path
    }

    /// The file that receives the child's log (its stderr).
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The child's process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
    }

    /// Kills the child with SIGKILL (a crash: nothing gets to finish) and reaps it.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    /// Sends SIGTERM (graceful shutdown) and waits for the exit; SIGKILL if it takes too long.
    pub async fn terminate(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        if let Some(pid) = child.id().and_then(|p| libc::pid_t::try_from(p).ok()) {
            // SAFETY: kill(2) with a pid we spawned and still own (not yet reaped) has no
            // memory-safety requirements.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
        match tokio::time::timeout(START_STOP_TIMEOUT, child.wait()).await {
            Ok(status) => status.ok(),
            Err(_) => {
                log::warn!("tidemark-server did not stop after SIGTERM; killing it");
                let _ = child.kill().await;
                None
            }
        }
    }

    /// Starts the binary again on the same database, address and arguments (after
    /// [`kill`](Self::kill) or [`terminate`](Self::terminate); a running child is killed first).
    pub async fn restart(&mut self) {
        self.kill().await;
        self.launch()
            .await
            .unwrap_or_else(|e| panic!("ServerProcess: cannot restart: {e:#}"));
    }
}

/// Finds the `tidemark-server` binary: `CARGO_BIN_EXE_tidemark-server` when set, else next to
/// the running test executable (`target/<profile>/`, the parent of its `deps` directory). Build
/// it first (`cargo build -p tidemark-server`) when testing from another package.
pub fn server_binary() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("CARGO_BIN_EXE_tidemark-server") {
        return Ok(PathBuf::from(path));
    }
    let exe = std::env::current_exe().context("cannot locate the test executable")?;
    let mut dir = exe.parent().context("test executable has no directory")?;
    if dir.ends_with("deps") {
        dir = dir.parent().context("deps directory has no parent")?;
    }
    let candidate = dir.join(format!("tidemark-server{}", std::env::consts::EXE_SUFFIX));
    if candidate.is_file() {
        Ok(candidate)
    } else {
        bail!(
            "tidemark-server binary not found at {}; build it first with \
             `cargo build -p tidemark-server`",
            candidate.display()
        )
    }
}
