//! `scripts/bench --stores`: the server's throughput on SQLite and on PostgreSQL (the shared test
//! cluster of `tidemark-testkit`), through real `tidemark-server` processes over HTTP:
//! - push: N inserts, one after another, as an engine without batching pushes its queue;
//! - pull: N rows paged by `updatedAt` 1000 at a time, as an incremental pull reads them;
//! - write throughput with 1, 2 and 4 server processes on one PostgreSQL database (16
//!   concurrent writers spread over the processes), beside one SQLite process.
//!
//! Usage: `cargo run --release -p tidemark-server --example bench -- [push rows] [pull rows]`
//! (defaults 10 000 and 100 000). Build the release binary first (`scripts/bench --stores` does).

use std::time::{Duration, Instant};

use anyhow::Context as _;
use reqwest::Client;
use serde_json::{Map, Value, json};
use tidemark_server::store::{
    Change, NewItem, PostgresTableStore, SqliteTableStore, StoreWrite, TableStore,
};
use tidemark_testkit::postgres::PgDatabase;
use tidemark_testkit::server::{ServerProcess, server_binary};

const WRITERS: usize = 16;
const THROUGHPUT_WRITES: usize = 4_000;

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

    fn target(&self) -> String {
        match self {
            Db::Sqlite(dir) => dir.path().join("bench.db").to_string_lossy().into_owned(),
            Db::Postgres(db) => db.url().to_owned(),
        }
    }

    /// Stores `rows` items straight through the store (seeding is not what is measured).
    async fn seed(&self, rows: usize) -> anyhow::Result<()> {
        match self {
            Db::Sqlite(_) => seed(&SqliteTableStore::open(self.target())?, rows).await,
            Db::Postgres(db) => seed(&PostgresTableStore::connect(db.url()).await?, rows).await,
        }
    }
}

async fn seed<S: TableStore + Clone>(store: &S, rows: usize) -> anyhow::Result<()> {
    let mut tasks = tokio::task::JoinSet::new();
    let per = rows.div_ceil(8);
    for w in 0..8 {
        let store = store.clone();
        tasks.spawn(async move {
            for n in (w * per)..((w + 1) * per).min(rows) {
                let mut properties = Map::new();
                properties.insert("text".into(), Value::String(format!("row {n}")));
                let item = NewItem {
                    id: Some(format!("seed-{n:07}")),
                    properties,
                };
                let write = StoreWrite::new("todoitem", Change::Insert(item));
                store.apply(write).await?;
            }
            Ok::<_, tidemark_server::StoreError>(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok(())
}

async fn start(
    db: &Db,
    processes: usize,
    dir: &std::path::Path,
) -> anyhow::Result<Vec<ServerProcess>> {
    let binary = server_binary()?;
    let mut servers = Vec::new();
    for n in 0..processes {
        let log = dir.join(format!("server{n}.log"));
        servers.push(ServerProcess::spawn_with_log(&binary, &db.target(), log, &[]).await);
    }
    Ok(servers)
}

async fn insert(http: &Client, url: &str, body: Value) -> anyhow::Result<()> {
    let response = http
        .post(format!("{url}/tables/todoitem"))
        .header("ZUMO-API-VERSION", "2.0.0")
        .json(&body)
        .send()
        .await?;
    anyhow::ensure!(
        response.status().as_u16() == 201,
        "insert answered {}",
        response.status()
    );
    Ok(())
}

async fn push(postgres: bool, rows: usize, dir: &std::path::Path) -> anyhow::Result<Duration> {
    let db = Db::new(postgres).await?;
    let servers = start(&db, 1, dir).await?;
    let http = Client::new();
    let started = Instant::now();
    for n in 0..rows {
        insert(
            &http,
            servers[0].url(),
            json!({"id": format!("p{n}"), "text": "x"}),
        )
        .await?;
    }
    Ok(started.elapsed())
}

async fn pull(postgres: bool, rows: usize, dir: &std::path::Path) -> anyhow::Result<Duration> {
    let db = Db::new(postgres).await?;
    db.seed(rows).await?;
    let servers = start(&db, 1, dir).await?;
    let http = Client::new();
    let started = Instant::now();
    let (mut seen, mut watermark) = (0usize, None::<String>);
    loop {
        let mut url = format!(
            "{}/tables/todoitem?$orderby=updatedAt&$top=1000&__includeDeleted=true",
            servers[0].url()
        );
        if let Some(mark) = &watermark {
            url.push_str(&format!("&$filter=updatedAt%20gt%20datetimeoffset'{mark}'"));
        }
        let page: Vec<Value> = http
            .get(&url)
            .header("ZUMO-API-VERSION", "2.0.0")
            .send()
            .await?
            .json()
            .await?;
        seen += page.len();
        match page.last().and_then(|i| i["updatedAt"].as_str()) {
            Some(mark) if page.len() == 1000 => watermark = Some(mark.to_owned()),
            _ => break,
        }
    }
    anyhow::ensure!(seen == rows, "pulled {seen} of {rows} rows");
    Ok(started.elapsed())
}

async fn throughput(
    postgres: bool,
    processes: usize,
    dir: &std::path::Path,
) -> anyhow::Result<f64> {
    let db = Db::new(postgres).await?;
    let servers = start(&db, processes, dir).await?;
    let urls: Vec<String> = servers.iter().map(|s| s.url().to_owned()).collect();
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..WRITERS {
        let (http, url) = (Client::new(), urls[w % urls.len()].clone());
        tasks.spawn(async move {
            for n in 0..THROUGHPUT_WRITES / WRITERS {
                insert(&http, &url, json!({"id": format!("t{w}-{n}"), "text": "x"})).await?;
            }
            Ok::<_, anyhow::Error>(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok(THROUGHPUT_WRITES as f64 / started.elapsed().as_secs_f64())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let push_rows: usize = args
        .next()
        .map_or(Ok(10_000), |a| a.parse())
        .context("push rows")?;
    let pull_rows: usize = args
        .next()
        .map_or(Ok(100_000), |a| a.parse())
        .context("pull rows")?;
    let dir = tempfile::tempdir()?;
    println!("{:<34} {:>12} {:>12}", "", "SQLite", "PostgreSQL");
    let (s, p) = (
        push(false, push_rows, dir.path()).await?,
        push(true, push_rows, dir.path()).await?,
    );
    println!(
        "{:<34} {:>11.1}s {:>11.1}s",
        format!("push {push_rows} (one at a time)"),
        s.as_secs_f64(),
        p.as_secs_f64()
    );
    let (s, p) = (
        pull(false, pull_rows, dir.path()).await?,
        pull(true, pull_rows, dir.path()).await?,
    );
    println!(
        "{:<34} {:>11.1}s {:>11.1}s",
        format!("pull {pull_rows} (pages of 1000)"),
        s.as_secs_f64(),
        p.as_secs_f64()
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
