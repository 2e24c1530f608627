//! The stock `azure-mobile-apps` v4 Node.js server, installed into a cache directory and run on loopback.
//!
//! [`StockServer::start`] runs `scripts/stock-server install` once per process (the first
//! install compiles sqlite3 and takes a few minutes; later ones return at once), then spawns
//! `scripts/stock-server run --port 0 --db <temp file>` and reads the address it prints.
//! `tests/stock-server/README.md` lists how that server behaves.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::OnceCell;

/// How long the first install (npm ci plus compiling sqlite3) may take.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(20 * 60);
/// How long the server may take to print its address after being spawned.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(90);
/// How long the server may take to answer once it printed its address.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long [`StockServer::stop`] waits after SIGTERM before killing.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);
/// The line prefix `server.js` prints once it is listening.
const LISTENING_PREFIX: &str = "stock server listening on ";
/// Lines of the child's output kept to explain a failure.
const TAIL_LINES: usize = 60;

/// The outcome of `scripts/stock-server install` in this process; a failure is kept too, so
/// that every later test fails at once instead of retrying a long install.
static INSTALL: OnceCell<std::result::Result<(), String>> = OnceCell::const_new();

/// Settings for a [`StockServer`]; `None` keeps the server's default.
#[derive(Debug, Clone, Default)]
pub struct StockOptions {
    /// Rows a query returns when it has no `$top` (server default 50).
    pub page_size: Option<u32>,
    /// Largest `$top` accepted; more answers 400 (server default 1000).
    pub max_top: Option<u32>,
}

/// A `todoitem` row written straight into a stock server's database by
/// [`StockServer::write_rows`], stored exactly as the server stores its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockRow {
    /// The row's id.
    pub id: String,
    /// The `text` column.
    pub text: String,
    /// The `complete` column.
    pub complete: bool,
    /// `createdAt` and `updatedAt`, as the server writes them: `YYYY-MM-DDTHH:MM:SS.sssZ`.
    pub updated_at: String,
    /// Soft-deleted.
    pub deleted: bool,
}

impl StockRow {
    /// A live, not complete row stamped `updated_at`.
    pub fn new(
        id: impl Into<String>,
        text: impl Into<String>,
        updated_at: impl Into<String>,
    ) -> Self {
        StockRow {
            id: id.into(),
            text: text.into(),
            complete: false,
            updated_at: updated_at.into(),
            deleted: false,
        }
    }
}

/// A running stock `azure-mobile-apps` server on 127.0.0.1 with a `todoitem` table, its data in
/// an SQLite file in a temporary directory; killed when dropped.
pub struct StockServer {
    child: Option<Child>,
    url: String,
    db: PathBuf,
    _dir: tempfile::TempDir,
}

impl std::fmt::Debug for StockServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StockServer")
            .field("url", &self.url)
            .field("db", &self.db)
            .field("pid", &self.child.as_ref().and_then(Child::id))
            .finish()
    }
}

impl StockServer {
    /// Installs the stock server if needed and starts one with its default settings.
    pub async fn start() -> Result<StockServer> {
        Self::start_with(StockOptions::default()).await
    }

    /// Installs the stock server if needed and starts one with the given settings.
    pub async fn start_with(options: StockOptions) -> Result<StockServer> {
        install().await?;

        let dir = tempfile::Builder::new()
            .prefix("tidemark-stock-")
            .tempdir()
            .context("creating the stock server's temporary directory")?;
        let db = dir.path().join("stock.db");

        let mut command = Command::new("bash");
        command
            .arg(script_path())
            .arg("run")
            .arg("--port")
            .arg("0")
            .arg("--db")
            .arg(&db);
        if let Some(page_size) = options.page_size {
            command.arg("--page-size").arg(page_size.to_string());
        }
        if let Some(max_top) = options.max_top {
            command.arg("--max-top").arg(max_top.to_string());
        }
        command
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .with_context(|| format!("spawning {} run", script_path().display()))?;

        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let stderr = child.stderr.take().expect("stderr is piped");
        let stderr_task = tokio::spawn(drain(stderr, "stderr", tail.clone()));
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut stdout = BufReader::new(stdout).lines();

        let waited = tokio::time::timeout(LISTEN_TIMEOUT, async {
            while let Some(line) = stdout.next_line().await? {
                log::debug!("stock server stdout: {line}");
                if let Some(url) = line.trim().strip_prefix(LISTENING_PREFIX) {
                    return Ok::<_, std::io::Error>(Some(url.trim_end_matches('/').to_owned()));
                }
                remember(&tail, format!("stdout: {line}"));
            }
            Ok(None)
        })
        .await;
        let url = match waited {
            Ok(Ok(Some(url))) => url,
            Ok(Ok(None)) => {
                let status = child.wait().await.ok();
                let _ = tokio::time::timeout(Duration::from_secs(2), stderr_task).await;
                bail!(
                    "the stock server exited ({}) before printing its address:\n{}",
                    status.map_or_else(|| "unknown status".to_owned(), |s| s.to_string()),
                    tail_text(&tail)
                );
            }
            Ok(Err(err)) => {
                return Err(err).context("reading the stock server's stdout");
            }
            Err(_) => {
                let _ = child.start_kill();
                bail!(
                    "the stock server printed no address within {LISTEN_TIMEOUT:?}:\n{}",
                    tail_text(&tail)
                );
            }
        };
        tokio::spawn(drain_lines(stdout, "stdout", tail.clone()));

        let mut server = StockServer {
            child: Some(child),
            url,
            db,
            _dir: dir,
        };
        if let Err(err) = server.wait_ready().await {
            let text = tail_text(&tail);
            server.kill().await;
            return Err(err.context(format!("stock server output:\n{text}")));
        }
        log::info!("stock server ready at {}", server.url);
        Ok(server)
    }

    /// The base URL, `http://127.0.0.1:PORT` without a trailing slash; tables are under `/tables/`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The SQLite file holding the server's data.
    pub fn db_path(&self) -> &Path {
        &self.db
    }

    /// Writes rows straight into the server's SQLite file, in one transaction, the way the
    /// server stores its own (text stamps, version `1`, booleans as 0/1), so that it serves them
    /// as if it had written them. Only this can give many rows one `updatedAt`: the server
    /// stamps rows with its clock. The server's own connection waits on the file lock meanwhile.
    pub fn write_rows(&self, rows: &[StockRow]) -> Result<()> {
        for row in rows {
            if !is_stock_stamp(&row.updated_at) {
                bail!(
                    "'{}' is not a stamp as the stock server writes them (YYYY-MM-DDTHH:MM:SS.sssZ)",
                    row.updated_at
                );
            }
        }
        let mut conn = rusqlite::Connection::open(&self.db)
            .with_context(|| format!("opening {}", self.db.display()))?;
        conn.busy_timeout(Duration::from_secs(10))?;
        let tx = conn.transaction()?;
        {
            let mut insert = tx.prepare(
                "INSERT INTO todoitem (id, text, complete, createdAt, updatedAt, version, deleted) \
                 VALUES (?1, ?2, ?3, ?4, ?4, '1', ?5)",
            )?;
            for row in rows {
                insert
                    .execute(rusqlite::params![
                        row.id,
                        row.text,
                        i64::from(row.complete),
                        row.updated_at,
                        i64::from(row.deleted)
                    ])
                    .with_context(|| format!("writing row '{}' into the stock database", row.id))?;
            }
        }
        tx.commit()
            .context("committing rows into the stock database")?;
        Ok(())
    }

    /// Stops the server with SIGTERM (SIGKILL if it has not exited within 5 s) and waits for it.
    pub async fn stop(mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        if let Some(pid) = child.id() {
            // The script execs node, so this pid is the server's.
            let _ = std::process::Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        match tokio::time::timeout(STOP_TIMEOUT, child.wait()).await {
            Ok(status) => {
                status.context("waiting for the stock server to exit")?;
            }
            Err(_) => {
                log::warn!("stock server ignored SIGTERM for {STOP_TIMEOUT:?}; killing it");
                child.kill().await.context("killing the stock server")?;
            }
        }
        Ok(())
    }

    async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    /// Polls the todoitem table until it answers 200.
    async fn wait_ready(&mut self) -> Result<()> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .context("building an HTTP client")?;
        let target = format!("{}/tables/todoitem?$top=1", self.url);
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                bail!("the stock server exited ({status}) right after printing its address");
            }
            let last = match client
                .get(&target)
                .header("ZUMO-API-VERSION", "2.0.0")
                .send()
                .await
            {
                Ok(response) if response.status().is_success() => return Ok(()),
                Ok(response) => format!("status {}", response.status()),
                Err(err) => err.to_string(),
            };
            if Instant::now() >= deadline {
                return Err(anyhow!(
                    "the stock server at {} did not answer GET /tables/todoitem with 200 within {READY_TIMEOUT:?}; last: {last}",
                    self.url
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for StockServer {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
        }
    }
}

/// True when `stamp` has the exact shape the stock server stores, and compares as text.
fn is_stock_stamp(stamp: &str) -> bool {
    let shape = b"dddd-dd-ddTdd:dd:dd.dddZ";
    stamp.len() == shape.len()
        && stamp.bytes().zip(shape).all(|(c, &s)| match s {
            b'd' => c.is_ascii_digit(),
            _ => c == s,
        })
}

/// The repository root: the testkit lives at `crates/tidemark-testkit`.
fn repo_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = manifest.join("..").join("..");
    root.canonicalize().unwrap_or(root)
}

fn script_path() -> PathBuf {
    repo_root().join("scripts").join("stock-server")
}

/// Runs `scripts/stock-server install` once for the whole process.
async fn install() -> Result<()> {
    let outcome = INSTALL
        .get_or_init(|| async { run_install().await.map_err(|err| format!("{err:#}")) })
        .await;
    outcome
        .clone()
        .map_err(|err| anyhow!("installing the stock server failed: {err}"))
}

async fn run_install() -> Result<()> {
    let script = script_path();
    log::info!(
        "running {} install (the first one compiles sqlite3: minutes)",
        script.display()
    );
    let started = Instant::now();
    let child = Command::new("bash")
        .arg(&script)
        .arg("install")
        .current_dir(repo_root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("spawning {} install", script.display()))?;
    let output = tokio::time::timeout(INSTALL_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| anyhow!("{} install took over {INSTALL_TIMEOUT:?}", script.display()))?
        .with_context(|| format!("waiting for {} install", script.display()))?;
    if !output.status.success() {
        let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&output.stderr));
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n");
        bail!(
            "{} install exited with {}:\n{tail}",
            script.display(),
            output.status
        );
    }
    log::info!(
        "stock server installed or up to date after {:?}",
        started.elapsed()
    );
    Ok(())
}

/// Forwards a child's output to the log, keeping its last lines for error messages.
async fn drain<R: AsyncRead + Unpin>(
    reader: R,
    name: &'static str,
    tail: Arc<Mutex<VecDeque<String>>>,
) {
    drain_lines(BufReader::new(reader).lines(), name, tail).await;
}

async fn drain_lines<R: AsyncRead + Unpin>(
    mut lines: tokio::io::Lines<BufReader<R>>,
    name: &'static str,
    tail: Arc<Mutex<VecDeque<String>>>,
) {
    while let Ok(Some(line)) = lines.next_line().await {
        log::debug!("stock server {name}: {line}");
        remember(&tail, format!("{name}: {line}"));
    }
}

fn remember(tail: &Mutex<VecDeque<String>>, line: String) {
    let mut tail = tail.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if tail.len() == TAIL_LINES {
        tail.pop_front();
    }
    tail.push_back(line);
}

fn tail_text(tail: &Mutex<VecDeque<String>>) -> String {
    let tail = tail.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    tail.iter().cloned().collect::<Vec<_>>().join("\n")
}
