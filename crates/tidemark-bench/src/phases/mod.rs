//! The measurements. Each phase starts its own servers and stores in a temporary directory, so
//! phases are independent (`--only`) and no figure benefits from another phase's warm caches.
//! What is timed is exactly the engine call named in the row; setting up the data is not.
//!
//! This module holds what the phases share: the todo table, one client, our server.

mod app;
mod floor;
mod local;
mod pull;
mod push;
mod stock;

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use serde_json::{Map, Value, json};
use tempfile::TempDir;
use tidemark_client::{
    AuthClient, ColumnType, Item, PullResult, Query, RemoteConfig, Session, SyncContext, SyncTable,
    TableDefinition,
};
use tidemark_testkit::server::ServerProcess;

pub use app::app;
pub use local::local_inserts;
pub use pull::{pull, pull_child};
pub use push::push;
pub use stock::stock;

/// The table every phase uses (the stock server has only this one).
pub const TABLE: &str = "todoitem";
/// The query id of every incremental pull.
const QUERY_ID: &str = "all";

/// `todoitem(text, complete, priority)`, the app's todo table.
fn todo_table() -> TableDefinition {
    TableDefinition::new(TABLE)
        .column("text", ColumnType::Text)
        .column("complete", ColumnType::Boolean)
        .column("priority", ColumnType::Integer)
}

/// The `n`th todo of a run: a realistic short row.
fn todo(n: usize) -> Item {
    let mut item = Map::new();
    item.insert("text".into(), Value::String(format!("todo number {n}")));
    item.insert("complete".into(), Value::Bool(n.is_multiple_of(3)));
    item.insert("priority".into(), json!(n % 5));
    item
}

/// One client: a sync context on its own store file.
struct Client {
    _dir: TempDir,
    ctx: SyncContext,
}

impl Client {
    async fn open(remote: RemoteConfig) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let ctx = SyncContext::open(dir.path().join("store.db"), vec![todo_table()], remote)
            .await
            .context("opening the client store")?;
        Ok(Self { _dir: dir, ctx })
    }

    fn table(&self) -> anyhow::Result<SyncTable> {
        Ok(self.ctx.table(TABLE)?)
    }

    /// Queues `n` inserts in one local transaction (set-up, not timed).
    async fn queue_inserts(&self, n: usize) -> anyhow::Result<()> {
        self.table()?
            .insert_many((0..n).map(todo).collect())
            .await
            .context("queueing inserts")?;
        Ok(())
    }

    /// Times one push and checks that all `n` queued operations were accepted.
    async fn timed_push(&self, n: usize) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let result = self.ctx.push().await;
        let elapsed = started.elapsed();
        ensure!(
            result.is_success() && result.pushed == n as u64,
            "push failed or incomplete ({} of {n} pushed): {result} {:?}",
            result.pushed,
            result.errors.first()
        );
        Ok(elapsed)
    }

    /// Times one incremental pull of everything.
    async fn timed_pull(&self) -> anyhow::Result<(Duration, PullResult)> {
        let table = self.table()?;
        let started = Instant::now();
        let result = table.pull(Some(QUERY_ID), &Query::new()).await?;
        Ok((started.elapsed(), result))
    }
}

/// The user every phase signs in as on our server.
const BENCH_USER: &str = "bench";

/// Our server as it is deployed: accounts on, every request carrying a token that is checked
/// (signature, then the session in the database), and the session the benchmark signed in with.
struct OurServer {
    process: ServerProcess,
    session: Session,
}

impl OurServer {
    /// The server's URL.
    fn url(&self) -> &str {
        self.process.url()
    }

    /// The server's process id.
    fn pid(&self) -> Option<u32> {
        self.process.pid()
    }

    /// `config` for this server, signed in.
    fn signed_in(&self, config: RemoteConfig) -> RemoteConfig {
        config.with_session(self.session.clone())
    }
}

/// Our server on a fresh SQLite file in `dir`, with the benchmark's user signed up.
async fn our_server(dir: &Path) -> anyhow::Result<OurServer> {
    let process = ServerProcess::spawn(dir.join("server.db"), &["--signup", "open"]).await;
    let password = bench_password();
    let session = AuthClient::new(&RemoteConfig::new(process.url()))?
        .sign_up(BENCH_USER, &password)
        .await
        .context("signing up the benchmark's user")?;
    Ok(OurServer { process, session })
}

/// Our server on the existing database `db`, whose unowned rows are first given to the
/// benchmark's user with `tidemark-server user add --adopt-unowned` (how an administrator
/// hands a database from before accounts to its user); then signed in as that user.
async fn our_server_adopting(db: &Path) -> anyhow::Result<OurServer> {
    use tokio::io::AsyncWriteExt as _;
    let password = bench_password();
    let binary = tidemark_testkit::server::server_binary()?;
    let mut add = tokio::process::Command::new(binary)
        .arg("--db")
        .arg(db)
        .args([
            "user",
            "add",
            BENCH_USER,
            "--adopt-unowned",
            "--password-stdin",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .context("running tidemark-server user add")?;
    if let Some(mut stdin) = add.stdin.take() {
        stdin.write_all(format!("{password}\n").as_bytes()).await?;
    }
    let status = add.wait().await?;
    ensure!(
        status.success(),
        "tidemark-server user add failed ({status})"
    );
    let process = ServerProcess::spawn(db, &[]).await;
    let session = AuthClient::new(&RemoteConfig::new(process.url()))?
        .sign_in(BENCH_USER, &password)
        .await
        .context("signing in as the benchmark's user")?;
    Ok(OurServer { process, session })
}

/// A fresh random password for the benchmark's user (never printed).
fn bench_password() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Says which processes do the measured work, for `scripts/bench --profile`, which reads
/// these lines to split its recording into client and server.
fn log_pids(client: u32, server: Option<u32>) {
    if let Some(server) = server {
        log::info!("profile pids: client={client} server={server}");
    }
}
/// The `p`th percentile of sorted durations (nearest rank).
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}
/// The engine's default config (what the app uses).
fn default_config(url: &str) -> RemoteConfig {
    RemoteConfig::new(url)
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let times: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&times, 50.0), Duration::from_millis(50));
        assert_eq!(percentile(&times, 99.0), Duration::from_millis(99));
        assert_eq!(percentile(&times[..1], 99.0), Duration::from_millis(1));
        assert_eq!(percentile(&[], 50.0), Duration::ZERO);
    }
}
