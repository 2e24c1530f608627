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
    ColumnType, Item, PullResult, Query, RemoteConfig, SyncContext, SyncTable, TableDefinition,
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

/// Our server on a fresh SQLite file in `dir`.
async fn our_server(dir: &Path) -> ServerProcess {
    ServerProcess::spawn(dir.join("server.db"), &["--no-auth"]).await
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
