//! `tidemark-bench stores` (`scripts/bench --stores`, quoted in `docs/deploy.md`): the server's
//! throughput on SQLite and on PostgreSQL (the shared throwaway cluster of `tidemark-testkit`),
//! through real `tidemark-server` processes, spoken to by the engine's `RemoteTable`:
//! - push: N inserts, one after another, as an engine without batching pushes its queue;
//! - pull: N rows paged by `updatedAt` 1000 at a time, as an incremental pull reads them;
//! - write throughput with 1, 2 and 4 server processes on one PostgreSQL database (16
//!   concurrent writers spread over the processes), beside one SQLite process.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use serde_json::{Map, Value};
use tidemark_client::tidemark_protocol::date::parse_date;
use tidemark_client::tidemark_protocol::odata::builder::prop;
use tidemark_client::tidemark_protocol::system::{ID, UPDATED_AT};
use tidemark_client::tidemark_protocol::{Direction, TableQuery};
use tidemark_client::{RemoteClient, RemoteConfig, RemoteTable};
use tidemark_server::store::{PostgresTableStore, SqliteTableStore};
use tidemark_testkit::postgres::PgDatabase;
use tidemark_testkit::server::{ServerProcess, server_binary};

use crate::phases::TABLE;
use crate::seed::{Ids, seed};

/// Concurrent writers of the throughput runs.
const WRITERS: usize = 16;
/// Writes of one throughput run, spread over the writers.
const THROUGHPUT_WRITES: usize = 4_000;
/// Rows per page of the pull (`$top`).
const PAGE: u64 = 1000;
/// Tasks that seed a database before a pull (seeding is not measured).
const SEED_WRITERS: usize = 8;

/// Where a run's servers keep their data.
enum Db {
    Sqlite(tempfile::TempDir),
    Postgres(PgDatabase),
}

impl Db {
    async fn new(postgres: bool) -> anyhow::Result<Self> {
        Ok(if postgres {
            Db::Postgres(PgDatabase::create().await)
        } else {
            Db::Sqlite(tempfile::tempdir()?)
        })
    }

    /// What `tidemark-server --db` takes: a SQLite path or a `postgres://` URL.
    fn target(&self) -> String {
        match self {
            Db::Sqlite(dir) => dir.path().join("bench.db").to_string_lossy().into_owned(),
            Db::Postgres(db) => db.url().to_owned(),
        }
    }

    /// Stores `rows` items straight through the store, before any server starts.
    async fn seed(&self, rows: usize) -> anyhow::Result<()> {
        match self {
            Db::Sqlite(_) => {
                let store = SqliteTableStore::open(self.target())?;
                seed(&store, TABLE, rows, Ids::Ascending, SEED_WRITERS, text).await
            }
            Db::Postgres(db) => {
                let store = PostgresTableStore::connect(db.url()).await?;
                seed(&store, TABLE, rows, Ids::Ascending, SEED_WRITERS, text).await
            }
        }
    }

    /// Starts `processes` servers on this database, logging into `dir`.
    async fn start(&self, processes: usize, dir: &Path) -> anyhow::Result<Vec<ServerProcess>> {
        let binary = server_binary()?;
        let mut servers = Vec::new();
        for n in 0..processes {
            let log = dir.join(format!("server{n}.log"));
            servers.push(
                ServerProcess::spawn_with_log(&binary, &self.target(), log, &["--no-auth"]).await,
            );
        }
        Ok(servers)
    }
}

/// The properties of the `n`th seeded row.
fn text(n: usize) -> Map<String, Value> {
    let mut item = Map::new();
    item.insert("text".into(), Value::String(format!("row {n}")));
    item
}

/// A pushed row: its id and a short text.
fn pushed(id: String) -> Map<String, Value> {
    let mut item = Map::new();
    item.insert(ID.into(), Value::String(id));
    item.insert("text".into(), Value::String("x".into()));
    item
}

/// The todo table of the server at `url`, through a client of its own (its own connections).
fn remote_table(url: &str) -> anyhow::Result<RemoteTable> {
    Ok(RemoteClient::new(RemoteConfig::new(url))?.table(TABLE))
}

/// Times `rows` inserts, one request after another, into a fresh database.
async fn push(postgres: bool, rows: usize, dir: &Path) -> anyhow::Result<Duration> {
    let db = Db::new(postgres).await?;
    let servers = db.start(1, dir).await?;
    let table = remote_table(servers[0].url())?;
    let started = Instant::now();
    for n in 0..rows {
        table.insert(&pushed(format!("p{n}"))).await?;
    }
    Ok(started.elapsed())
}

/// The query of one page of the pull: after `watermark`, in `updatedAt` order, deleted too.
fn page_query(watermark: Option<&str>) -> anyhow::Result<TableQuery> {
    let query = TableQuery::new()
        .order_by(UPDATED_AT, Direction::Asc)
        .with_top(PAGE)
        .with_include_deleted(true);
    Ok(match watermark {
        Some(mark) => query.with_filter(prop(UPDATED_AT).gt(parse_date(mark)?)),
        None => query,
    })
}

/// Times reading `rows` seeded rows page by page, each page after the last `updatedAt` seen.
async fn pull(postgres: bool, rows: usize, dir: &Path) -> anyhow::Result<Duration> {
    let db = Db::new(postgres).await?;
    db.seed(rows).await?;
    let servers = db.start(1, dir).await?;
    let table = remote_table(servers[0].url())?;
    let started = Instant::now();
    let (mut seen, mut watermark) = (0usize, None::<String>);
    loop {
        let page = table.query(&page_query(watermark.as_deref())?).await?;
        seen += page.items.len();
        let last = page.items.last().and_then(|i| i[UPDATED_AT].as_str());
        match last {
            Some(mark) if page.items.len() as u64 == PAGE => watermark = Some(mark.to_owned()),
            _ => break,
        }
    }
    ensure!(seen == rows, "pulled {seen} of {rows} rows");
    Ok(started.elapsed())
}

/// Inserts per second of [`WRITERS`] concurrent writers spread over `processes` servers.
async fn throughput(postgres: bool, processes: usize, dir: &Path) -> anyhow::Result<f64> {
    let db = Db::new(postgres).await?;
    let servers = db.start(processes, dir).await?;
    // One client per writer, as separate devices would be, each talking to one process.
    let tables = (0..WRITERS)
        .map(|w| remote_table(servers[w % servers.len()].url()))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (w, table) in tables.into_iter().enumerate() {
        tasks.spawn(async move {
            for n in 0..THROUGHPUT_WRITES / WRITERS {
                table.insert(&pushed(format!("t{w}-{n}"))).await?;
            }
            Ok::<_, anyhow::Error>(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok(THROUGHPUT_WRITES as f64 / started.elapsed().as_secs_f64())
}

/// Prints one row of times: SQLite's, then PostgreSQL's.
fn print_times(what: &str, sqlite: Duration, postgres: Duration) {
    println!(
        "{what:<34} {:>11.1}s {:>11.1}s",
        sqlite.as_secs_f64(),
        postgres.as_secs_f64()
    );
}

/// Measures both stores and prints their table.
pub async fn run(push_rows: usize, pull_rows: usize) -> anyhow::Result<()> {
    let dir = tempfile::tempdir().context("a directory for the servers' logs")?;
    println!("{:<34} {:>12} {:>12}", "", "SQLite", "PostgreSQL");
    print_times(
        &format!("push {push_rows} (one at a time)"),
        push(false, push_rows, dir.path()).await?,
        push(true, push_rows, dir.path()).await?,
    );
    print_times(
        &format!("pull {pull_rows} (pages of {PAGE})"),
        pull(false, pull_rows, dir.path()).await?,
        pull(true, pull_rows, dir.path()).await?,
    );
    let sqlite = throughput(false, 1, dir.path()).await?;
    for processes in [1, 2, 4] {
        let pg = throughput(true, processes, dir.path()).await?;
        let sqlite_cell = if processes == 1 {
            format!("{sqlite:.0}")
        } else {
            "-".to_owned()
        };
        println!(
            "{:<34} {:>12} {:>12.0}",
            format!("writes/s, {processes} process(es), {WRITERS} writers"),
            sqlite_cell,
            pg
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_page_has_no_filter_and_later_ones_start_after_the_watermark() -> anyhow::Result<()>
    {
        assert_eq!(
            page_query(None)?.to_query_string(),
            "$orderby=updatedAt+asc&$top=1000&__includeDeleted=true"
        );
        assert_eq!(
            page_query(Some("2024-05-01T10:00:00.123456Z"))?.to_query_string(),
            "$filter=%28updatedAt+gt+datetimeoffset%272024-05-01T10%3A00%3A00.123456Z%27%29\
             &$orderby=updatedAt+asc&$top=1000&__includeDeleted=true"
        );
        assert!(page_query(Some("not a date")).is_err());
        Ok(())
    }
}
