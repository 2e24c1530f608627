//! The measurements. Each phase starts its own servers and stores in a temporary directory, so
//! phases are independent (`--only`) and no figure benefits from another phase's warm caches.
//! What is timed is exactly the engine call named in the row; setting up the data is not.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use tempfile::TempDir;
use tidemark_client::{
    ColumnType, Item, PullResult, Query, RemoteConfig, SyncContext, SyncTable, TableDefinition,
};
use tidemark_server::store::{Change, NewItem, SqliteTableStore, StoreWrite, TableStore};
use tidemark_testkit::proxy::FaultProxy;
use tidemark_testkit::server::ServerProcess;
use tidemark_testkit::stock::{StockOptions, StockServer};

use crate::report::{Row, Section, group, millis, per_sec, secs};

/// The table every phase uses (the stock server has only this one).
const TABLE: &str = "todoitem";
/// The query id of every incremental pull.
const QUERY_ID: &str = "all";
/// The stock server's largest page (its default `maxTop`); the stock run pulls at this size.
const STOCK_MAX_PAGE: u32 = 1000;
/// How many pulls with no changes are timed (the median is reported).
const NO_CHANGE_RUNS: usize = 50;

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
    ServerProcess::spawn(dir.join("server.db"), &[]).await
}

/// Says which processes do the measured work, for `scripts/bench --profile`, which reads
/// these lines to split its recording into client and server.
fn log_pids(client: u32, server: Option<u32>) {
    if let Some(server) = server {
        log::info!("profile pids: client={client} server={server}");
    }
}

/// Local inserts through the sync table, each its own transaction with its queue entry.
pub async fn local_inserts(n: usize) -> anyhow::Result<Section> {
    log::info!("local: {n} inserts through the sync table");
    // Nothing listens on the remote: local writes never touch the network.
    let client = Client::open(RemoteConfig::new("http://127.0.0.1:9/")).await?;
    let table = client.table()?;
    let mut times = Vec::with_capacity(n);
    for i in 0..n {
        let item = todo(i);
        let started = Instant::now();
        table.insert(item).await?;
        times.push(started.elapsed());
    }
    times.sort();
    let p50 = percentile(&times, 50.0);
    let p99 = percentile(&times, 99.0);
    let mut section = Section::new(format!(
        "Local insert through the sync table ({} inserts)",
        group(n as u64)
    ));
    section.rows.push(Row::info("p50 per insert", millis(p50)));
    section.rows.push(Row::target(
        "p99 per insert",
        millis(p99),
        "≤ 1 ms",
        p99 <= Duration::from_millis(1),
    ));
    section.notes.push(format!(
        "`SyncTable::insert` awaited one after another on an empty store (WAL, synchronous=NORMAL); each is one transaction with its queue entry; max {}.",
        millis(times.last().copied().unwrap_or_default())
    ));
    Ok(section)
}

/// The `p`th percentile of sorted durations (nearest rank).
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Push of `n` queued inserts to our server, one request per operation (unless `batch_only`),
/// then in batches.
pub async fn push(n: usize, batch_only: bool) -> anyhow::Result<Section> {
    let mut section = Section::new(format!(
        "Push of {} queued inserts to our server",
        group(n as u64)
    ));
    let single = if batch_only {
        None
    } else {
        log::info!("push: {n} queued inserts, one request each");
        let single = push_ours(n, per_request_config).await?;
        section.rows.push(Row::info(
            "per-request mode",
            format!("{} ({} ops/s)", secs(single), per_sec(n, single)),
        ));
        Some(single)
    };
    log::info!("push: {n} queued inserts in batches");
    let batched = push_ours(n, default_config).await?;
    let batch_size = default_config("").batch_size;
    let speedup = single.map_or(String::new(), |single| {
        format!(
            "; {:.1}× per-request",
            single.as_secs_f64() / batched.as_secs_f64().max(1e-9)
        )
    });
    section.rows.push(Row::target(
        format!("batch mode (`/$batch`, {batch_size} operations per request)"),
        format!("{} ({} ops/s){speedup}", secs(batched), per_sec(n, batched),),
        "≤ 0.5 s",
        batched <= Duration::from_millis(500),
    ));
    section.notes.push(
        "a fresh server per mode; the queue is filled with `insert_many` first (not timed), then `SyncContext::push` is timed until every operation is accepted.".to_owned(),
    );
    Ok(section)
}

/// The engine's config for one request per operation.
fn per_request_config(url: &str) -> RemoteConfig {
    RemoteConfig {
        batch_size: 0,
        ..RemoteConfig::new(url)
    }
}

/// The engine's default config (what the app uses).
fn default_config(url: &str) -> RemoteConfig {
    RemoteConfig::new(url)
}

/// Pushes `n` queued inserts to a fresh server of ours with this config; the time of the push.
async fn push_ours(n: usize, config: fn(&str) -> RemoteConfig) -> anyhow::Result<Duration> {
    let dir = tempfile::tempdir()?;
    let server = our_server(dir.path()).await;
    let client = Client::open(config(server.url())).await?;
    client.queue_inserts(n).await?;
    log_pids(std::process::id(), server.pid());
    client.timed_push(n).await
}

/// What the pull child reports.
#[derive(Debug, Serialize, Deserialize)]
struct ChildFigures {
    /// Seconds the pull took.
    secs: f64,
    /// The engine's counters.
    received: u64,
    requests: u64,
    upserted: u64,
    /// Peak resident set of the child process (`VmHWM`), kB.
    peak_rss_kb: u64,
}

/// The child side of the big pull: pull everything into a new store and print the figures.
pub async fn pull_child(url: &str, store: &Path) -> anyhow::Result<()> {
    let ctx = SyncContext::open(store, vec![todo_table()], RemoteConfig::new(url)).await?;
    let table = ctx.table(TABLE)?;
    let started = Instant::now();
    let result = table.pull(Some(QUERY_ID), &Query::new()).await?;
    let elapsed = started.elapsed();
    ctx.close().await;
    let figures = ChildFigures {
        secs: elapsed.as_secs_f64(),
        received: result.received,
        requests: result.requests,
        upserted: result.upserted,
        peak_rss_kb: peak_rss_kb()?,
    };
    println!("{}", serde_json::to_string(&figures)?);
    Ok(())
}

/// This process's peak resident set size in kB, from `/proc/self/status`.
fn peak_rss_kb() -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status").context("reading /proc")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmHWM in /proc/self/status")
}

/// Pull of `rows` rows into an empty store (in a child process), the bare SQLite floor for the
/// same rows, and incremental pulls with no changes.
pub async fn pull(rows: usize) -> anyhow::Result<Section> {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("server.db");
    log::info!("pull: seeding {rows} rows with random ids into the server's database");
    seed(&db, rows, Ids::Random).await?;
    let server = ServerProcess::spawn(&db, &[]).await;
    let store = dir.path().join("client.db");
    let (pulled, child, floor) =
        pull_and_floor(&server, &store, &dir.path().join("floor.db"), rows).await?;

    // The same with ids in ascending order: the best case for every B-tree on both sides,
    // shown beside the realistic one to say how much of the time random ids cost.
    log::info!("pull: the same with ascending ids");
    let sorted_dir = tempfile::tempdir()?;
    let sorted_db = sorted_dir.path().join("server.db");
    seed(&sorted_db, rows, Ids::Ascending).await?;
    let sorted_server = ServerProcess::spawn(&sorted_db, &[]).await;
    let (sorted_pulled, sorted_child, sorted_floor) = pull_and_floor(
        &sorted_server,
        &sorted_dir.path().join("client.db"),
        &sorted_dir.path().join("floor.db"),
        rows,
    )
    .await?;
    drop(sorted_server);

    log::info!("pull: incremental pulls with no changes");
    let quiet = no_change_pulls(&store, server.url()).await?;

    let mut section = Section::new(format!(
        "Pull of {} rows into an empty store",
        group(rows as u64)
    ));
    section.rows.push(Row::target(
        "pull from our server (random UUID ids, as the app creates them)",
        format!(
            "{} ({} rows/s, {} requests)",
            secs(pulled),
            per_sec(rows, pulled),
            child.requests
        ),
        "≤ 1 s",
        pulled <= Duration::from_secs(1),
    ));
    section.rows.push(Row::info(
        "floor: bare rusqlite insert of the same rows, one transaction",
        format!(
            "{} ({} rows/s); pull = {:.1}× floor",
            secs(floor.elapsed),
            per_sec(rows, floor.elapsed),
            pulled.as_secs_f64() / floor.elapsed.as_secs_f64().max(1e-9)
        ),
    ));
    section.rows.push(Row::info(
        "the same rows with ascending ids: pull, and its floor",
        format!(
            "{} ({} rows/s, {} requests); floor {} ({:.1}×)",
            secs(sorted_pulled),
            per_sec(rows, sorted_pulled),
            sorted_child.requests,
            secs(sorted_floor.elapsed),
            sorted_pulled.as_secs_f64() / sorted_floor.elapsed.as_secs_f64().max(1e-9)
        ),
    ));
    let rss_mb = child.peak_rss_kb.max(sorted_child.peak_rss_kb) as f64 / 1024.0;
    section.rows.push(Row::target(
        "client peak RSS during the pull",
        format!("{rss_mb:.1} MB"),
        "≤ 150 MB",
        rss_mb <= 150.0,
    ));
    section.rows.push(Row::target(
        "incremental pull with no changes: time (median)",
        format!(
            "{} (max {} over {NO_CHANGE_RUNS})",
            millis(quiet.median),
            millis(quiet.max)
        ),
        "≤ 10 ms",
        quiet.median <= Duration::from_millis(10),
    ));
    section.rows.push(Row::target(
        "incremental pull with no changes: HTTP requests",
        format!(
            "{} (`{}`)",
            quiet.requests.len(),
            quiet.requests.join("`, `")
        ),
        "1",
        quiet.requests.len() == 1,
    ));
    section.notes.push(format!(
        "the server's SQLite file is filled through its store before it starts (not timed), once with ids drawn at random (UUID v4, what the app creates) and once with ids in ascending order; the RSS is the larger of the two pulls'; the pull runs in a child process (`tidemark-bench pull-child`) whose `VmHWM` is the peak RSS, timing `SyncTable::pull` with a query id; the floor copies the pulled rows into a new file with the same table and indexes (WAL, synchronous=NORMAL) with one prepared statement in one transaction; the no-change pull is timed {NO_CHANGE_RUNS} times on the pulled store after a first pull that learned the server's capabilities, and its requests are counted by a `FaultProxy` in front of the server."
    ));
    Ok(section)
}

/// Pulls everything from `server` into a new store at `store` in a child process, checks the
/// counts, then measures the bare SQLite floor for the same rows into `floor_db`.
async fn pull_and_floor(
    server: &ServerProcess,
    store: &Path,
    floor_db: &Path,
    rows: usize,
) -> anyhow::Result<(Duration, ChildFigures, Floor)> {
    log::info!("pull: {rows} rows into an empty store (child process)");
    flush_writes();
    let child = run_pull_child(server.url(), server.pid(), store).await?;
    ensure!(
        child.received == rows as u64 && child.upserted == rows as u64,
        "the pull received {} and stored {} of {rows} rows",
        child.received,
        child.upserted
    );
    let pulled = Duration::from_secs_f64(child.secs);
    log::info!("pull: the bare SQLite floor for the same rows");
    flush_writes();
    let floor = sqlite_floor(store, floor_db)?;
    ensure!(
        floor.rows == rows,
        "the floor copied {} of {rows} rows",
        floor.rows
    );
    Ok((pulled, child, floor))
}

/// Writes out the dirty pages of what came before (seeding, an earlier pull), so that their
/// writeback does not compete with the next timed part.
fn flush_writes() {
    if let Err(e) = std::process::Command::new("sync").status() {
        log::warn!("could not run sync: {e}");
    }
}

/// How the seeded rows' ids are made.
#[derive(Debug, Clone, Copy)]
enum Ids {
    /// Drawn by the store (UUID v4), as for items the app creates.
    Random,
    /// `seed-0000000`, `seed-0000001`, …: every insert and lookup goes to the end of a B-tree.
    Ascending,
}

/// Fills a new server database with `rows` todos through the server's own store.
async fn seed(db: &Path, rows: usize, ids: Ids) -> anyhow::Result<()> {
    let store = SqliteTableStore::open(db)?;
    for n in 0..rows {
        let id = match ids {
            Ids::Random => None,
            Ids::Ascending => Some(format!("seed-{n:07}")),
        };
        let item = NewItem {
            id,
            properties: todo(n),
        };
        store
            .apply(StoreWrite::new(TABLE, Change::Insert(item)))
            .await?;
    }
    Ok(())
}

/// Runs this binary's `pull-child` against `url` and reads its figures.
async fn run_pull_child(
    url: &str,
    server_pid: Option<u32>,
    store: &Path,
) -> anyhow::Result<ChildFigures> {
    let exe = std::env::current_exe().context("locating the benchmark binary")?;
    let child = tokio::process::Command::new(exe)
        .arg("pull-child")
        .arg(url)
        .arg(store)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .context("running the pull child")?;
    if let Some(pid) = child.id() {
        log_pids(pid, server_pid);
    }
    let output = child
        .wait_with_output()
        .await
        .context("waiting for the pull child")?;
    ensure!(
        output.status.success(),
        "the pull child failed ({})",
        output.status
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .context("the pull child printed no figures")?;
    serde_json::from_str(line).with_context(|| format!("reading the child's figures: {line}"))
}

/// The floor's figures.
struct Floor {
    elapsed: Duration,
    rows: usize,
}

/// Copies every row of the pulled table into a new database with the same schema, timing only
/// the insert transaction: the least any pull of these rows can cost in SQLite.
fn sqlite_floor(pulled: &Path, target: &Path) -> anyhow::Result<Floor> {
    use rusqlite::{Connection, params_from_iter, types::Value as Sql};
    let source = Connection::open(pulled)?;
    let schema: Vec<String> = source
        .prepare(
            "SELECT sql FROM sqlite_master WHERE tbl_name = ?1 AND sql IS NOT NULL \
             ORDER BY type = 'table' DESC",
        )?
        .query_map([TABLE], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    ensure!(!schema.is_empty(), "the pulled store has no {TABLE} table");
    let mut select = source.prepare(&format!("SELECT * FROM \"{TABLE}\""))?;
    let columns = select.column_count();
    let rows: Vec<Vec<Sql>> = select
        .query_map([], |r| (0..columns).map(|i| r.get::<_, Sql>(i)).collect())?
        .collect::<Result<_, _>>()?;
    drop(select);

    let mut target = Connection::open(target)?;
    target.pragma_update(None, "journal_mode", "WAL")?;
    target.pragma_update(None, "synchronous", "NORMAL")?;
    for sql in &schema {
        target.execute_batch(sql)?;
    }
    let placeholders = vec!["?"; columns].join(", ");
    let started = Instant::now();
    let tx = target.transaction()?;
    {
        let mut insert = tx.prepare(&format!("INSERT INTO \"{TABLE}\" VALUES ({placeholders})"))?;
        for row in &rows {
            insert.execute(params_from_iter(row.iter()))?;
        }
    }
    tx.commit()?;
    Ok(Floor {
        elapsed: started.elapsed(),
        rows: rows.len(),
    })
}

/// No-change pull figures.
struct Quiet {
    median: Duration,
    max: Duration,
    requests: Vec<String>,
}

/// Times incremental pulls on an up-to-date store, then counts one's requests through a proxy.
async fn no_change_pulls(store: &Path, url: &str) -> anyhow::Result<Quiet> {
    let ctx = SyncContext::open(store, vec![todo_table()], RemoteConfig::new(url)).await?;
    let table = ctx.table(TABLE)?;
    // The first pull of a session also asks for the server's capabilities (once per client).
    let first = table.pull(Some(QUERY_ID), &Query::new()).await?;
    ensure!(first.received == 0, "the store was not up to date");
    let mut times = Vec::with_capacity(NO_CHANGE_RUNS);
    for _ in 0..NO_CHANGE_RUNS {
        let started = Instant::now();
        let result = table.pull(Some(QUERY_ID), &Query::new()).await?;
        times.push(started.elapsed());
        ensure!(result.received == 0, "a no-change pull received rows");
    }
    times.sort();

    let proxy = FaultProxy::start(url).await?;
    ctx.set_remote(RemoteConfig::new(proxy.url()))?;
    table.pull(Some(QUERY_ID), &Query::new()).await?;
    let before = proxy.requests().len();
    table.pull(Some(QUERY_ID), &Query::new()).await?;
    let requests = proxy.requests().split_off(before);
    ctx.close().await;
    Ok(Quiet {
        median: percentile(&times, 50.0),
        max: times.last().copied().unwrap_or_default(),
        requests,
    })
}

/// The same client pushing `n` queued inserts to, and pulling `n` rows from, the stock server
/// and ours.
pub async fn stock(n: usize) -> anyhow::Result<Section> {
    let mut section = Section::new(format!(
        "Stock azure-mobile-apps v4 server vs ours, {} rows, same client",
        group(n as u64)
    ));
    let stock = match stock_figures(n).await {
        Ok(figures) => figures,
        Err(e) => {
            log::warn!("the stock server could not be measured: {e:#}");
            let why = format!(
                "stock server unavailable: {}",
                first_line(&format!("{e:#}"))
            );
            section
                .rows
                .push(Row::missing("push, stock vs ours", &why, "≥ 20×"));
            section
                .rows
                .push(Row::missing("pull, stock vs ours", &why, "≥ 5×"));
            return Ok(section);
        }
    };
    log::info!("stock: the same against our server");
    let dir = tempfile::tempdir()?;
    let server = our_server(dir.path()).await;
    let ours = push_then_pull(n, default_config, server.url()).await?;

    section.rows.push(Row::info(
        "push to stock (one request per operation: it has no batch)",
        format!("{} ({} ops/s)", secs(stock.push), per_sec(n, stock.push)),
    ));
    section.rows.push(Row::info(
        "push to ours (engine defaults: batches)",
        format!("{} ({} ops/s)", secs(ours.push), per_sec(n, ours.push)),
    ));
    let push_ratio = stock.push.as_secs_f64() / ours.push.as_secs_f64().max(1e-9);
    section.rows.push(Row::target(
        "push: ours faster by",
        format!("{push_ratio:.1}×"),
        "≥ 20×",
        push_ratio >= 20.0,
    ));
    section.rows.push(Row::info(
        format!("pull from stock (pages of {STOCK_MAX_PAGE}, its largest)"),
        format!(
            "{} ({} rows/s, {} requests)",
            secs(stock.pull),
            per_sec(n, stock.pull),
            stock.pull_requests
        ),
    ));
    section.rows.push(Row::info(
        "pull from ours (engine defaults)",
        format!(
            "{} ({} rows/s, {} requests)",
            secs(ours.pull),
            per_sec(n, ours.pull),
            ours.pull_requests
        ),
    ));
    let pull_ratio = stock.pull.as_secs_f64() / ours.pull.as_secs_f64().max(1e-9);
    section.rows.push(Row::target(
        "pull: ours faster by",
        format!("{pull_ratio:.1}×"),
        "≥ 5×",
        pull_ratio >= 5.0,
    ));
    section.notes.push(format!(
        "one client queues {n} inserts and pushes them (timed), then a second, empty client pulls them all (timed); the stock server runs with `--page-size {STOCK_MAX_PAGE} --max-top {STOCK_MAX_PAGE}` and the client's stock `page_size` is set to {STOCK_MAX_PAGE}; our server is a fresh `tidemark-server` on SQLite."
    ));
    Ok(section)
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_owned()
}

/// One side of the comparison.
struct SideBySide {
    push: Duration,
    pull: Duration,
    pull_requests: u64,
}

async fn stock_figures(n: usize) -> anyhow::Result<SideBySide> {
    log::info!("stock: installing (if needed) and starting the stock server");
    let server = StockServer::start_with(StockOptions {
        page_size: Some(STOCK_MAX_PAGE),
        max_top: Some(STOCK_MAX_PAGE),
    })
    .await?;
    log::info!("stock: push {n} and pull {n} against the stock server");
    let figures = push_then_pull(
        n,
        |url| RemoteConfig {
            page_size: u64::from(STOCK_MAX_PAGE),
            ..RemoteConfig::new(url)
        },
        server.url(),
    )
    .await?;
    server.stop().await?;
    Ok(figures)
}

/// Pushes `n` queued inserts from one client, then pulls them into a second, empty one.
async fn push_then_pull(
    n: usize,
    config: impl Fn(&str) -> RemoteConfig,
    url: &str,
) -> anyhow::Result<SideBySide> {
    let writer = Client::open(config(url)).await?;
    writer.queue_inserts(n).await?;
    let push = writer.timed_push(n).await?;
    let reader = Client::open(config(url)).await?;
    let (pull, result) = reader.timed_pull().await?;
    ensure!(
        result.received == n as u64,
        "pulled {} of {n} rows",
        result.received
    );
    Ok(SideBySide {
        push,
        pull,
        pull_requests: result.requests,
    })
}

/// The desktop app's figures, as `scripts/bench-app` prints them.
#[derive(Debug, Deserialize)]
struct AppFigures {
    launch_ms: f64,
    add_ms: f64,
}

/// The app's rows, read from the file `scripts/bench` saved `scripts/bench-app`'s line in.
pub fn app(figures: Option<&Path>, missing: &str) -> anyhow::Result<Section> {
    let mut section = Section::new("Desktop app, 10 000 items");
    let launch = "launch to 10 000 items shown";
    let add = "add one item with 10 000 present";
    let Some(path) = figures else {
        section.rows.push(Row::missing(launch, missing, "≤ 1.5 s"));
        section.rows.push(Row::missing(add, missing, ""));
        return Ok(section);
    };
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let line = text
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .with_context(|| format!("{} holds no JSON line", path.display()))?;
    let figures: AppFigures = serde_json::from_str(line)
        .with_context(|| format!("{} does not hold the app's figures: {line}", path.display()))?;
    section.rows.push(Row::target(
        launch,
        format!("{:.0} ms", figures.launch_ms),
        "≤ 1.5 s",
        figures.launch_ms <= 1500.0,
    ));
    section
        .rows
        .push(Row::info(add, format!("{:.1} ms", figures.add_ms)));
    section
        .notes
        .push("measured by `scripts/bench-app` in its own run of the app.".to_owned());
    Ok(section)
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
