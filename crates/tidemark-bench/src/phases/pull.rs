//! Pull of many rows into an empty store (in a child process, for its peak RSS), the SQLite
//! floor for the same rows, and incremental pulls with no changes.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use serde::{Deserialize, Serialize};
use tidemark_client::{Query, RemoteConfig, Session, SyncContext};
use tidemark_server::store::SqliteTableStore;
use tidemark_testkit::proxy::FaultProxy;

use super::floor::{Floor, sqlite_floor};
use super::{
    OurServer, QUERY_ID, TABLE, log_pids, our_server_adopting, percentile, todo, todo_table,
};
use crate::report::{Row, Section, group, millis, per_sec, pull_figure, ratio, secs};
use crate::seed::{Ids, seed};

/// How many pulls with no changes are timed (the median is reported).
const NO_CHANGE_RUNS: usize = 50;

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
///
/// The session to pull as comes as one JSON line on standard input (never on the command line,
/// where other users could read the token).
pub async fn pull_child(url: &str, store: &Path) -> anyhow::Result<()> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("reading the session from standard input")?;
    let session: Session = serde_json::from_str(&line).context("reading the session")?;
    let remote = RemoteConfig::new(url).with_session(session);
    let ctx = SyncContext::open(store, vec![todo_table()], remote).await?;
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
    seed_todos(&db, rows, Ids::Random).await?;
    let server = our_server_adopting(&db).await?;
    let store = dir.path().join("client.db");
    let (pulled, child, floor) =
        pull_and_floor(&server, &store, &dir.path().join("floor.db"), rows).await?;

    // The same with ids in ascending order: the best case for every B-tree on both sides,
    // shown beside the realistic one to say how much of the time random ids cost.
    log::info!("pull: the same with ascending ids");
    let sorted_dir = tempfile::tempdir()?;
    let sorted_db = sorted_dir.path().join("server.db");
    seed_todos(&sorted_db, rows, Ids::Ascending).await?;
    let sorted_server = our_server_adopting(&sorted_db).await?;
    let (sorted_pulled, sorted_child, sorted_floor) = pull_and_floor(
        &sorted_server,
        &sorted_dir.path().join("client.db"),
        &sorted_dir.path().join("floor.db"),
        rows,
    )
    .await?;
    drop(sorted_server);

    log::info!("pull: incremental pulls with no changes");
    let quiet = no_change_pulls(&store, &server).await?;

    let mut section = Section::new(format!(
        "Pull of {} rows into an empty store",
        group(rows as u64)
    ));
    section.rows.push(Row::target(
        "pull from our server (random UUID ids, as the app creates them)",
        pull_figure(pulled, rows, child.requests),
        "≤ 1 s",
        pulled <= Duration::from_secs(1),
    ));
    section.rows.push(Row::info(
        "floor: bare rusqlite insert of the same rows, one transaction",
        format!(
            "{} ({} rows/s); pull = {:.1}× floor",
            secs(floor.elapsed),
            per_sec(rows, floor.elapsed),
            ratio(pulled, floor.elapsed)
        ),
    ));
    section.rows.push(Row::info(
        "the same rows with ascending ids: pull, and its floor",
        format!(
            "{}; floor {} ({:.1}×)",
            pull_figure(sorted_pulled, rows, sorted_child.requests),
            secs(sorted_floor.elapsed),
            ratio(sorted_pulled, sorted_floor.elapsed)
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
        "the server's SQLite file is filled through its store before it starts (not timed), once with ids drawn at random (UUID v4, what the app creates) and once with ids in ascending order; the RSS is the larger of the two pulls'; the pull runs in a child process (`tidemark-bench pull-child`) whose `VmHWM` is the peak RSS, timing `SyncTable::pull` with a query id; the floor copies the pulled rows into a new file with the same table and indexes (WAL, synchronous=NORMAL) with one prepared statement in one transaction; the no-change pull is timed {NO_CHANGE_RUNS} times on the pulled store after a first pull that learned the server's capabilities, and its requests are counted by a `FaultProxy` in front of the server, on a second store that pulled everything through it (a store stays bound to the server address it first synced with). Every request is signed in: the pulls run as the user the seeded rows were given to (`tidemark-server user add bench --adopt-unowned`)."
    ));
    Ok(section)
}

/// Pulls everything from `server` into a new store at `store` in a child process, checks the
/// counts, then measures the bare SQLite floor for the same rows into `floor_db`.
async fn pull_and_floor(
    server: &OurServer,
    store: &Path,
    floor_db: &Path,
    rows: usize,
) -> anyhow::Result<(Duration, ChildFigures, Floor)> {
    log::info!("pull: {rows} rows into an empty store (child process)");
    flush_writes();
    let child = run_pull_child(server, store).await?;
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
/// Fills a new server database at `db` with `rows` todos, one after another.
async fn seed_todos(db: &Path, rows: usize, ids: Ids) -> anyhow::Result<()> {
    seed(&SqliteTableStore::open(db)?, TABLE, rows, ids, 1, todo).await
}

/// Runs this binary's `pull-child` against `url` and reads its figures.
async fn run_pull_child(server: &OurServer, store: &Path) -> anyhow::Result<ChildFigures> {
    use tokio::io::AsyncWriteExt as _;
    let exe = std::env::current_exe().context("locating the benchmark binary")?;
    let mut child = tokio::process::Command::new(exe)
        .arg("pull-child")
        .arg(server.url())
        .arg(store)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .context("running the pull child")?;
    if let Some(mut stdin) = child.stdin.take() {
        let session = serde_json::to_string(&server.session)?;
        stdin.write_all(format!("{session}\n").as_bytes()).await?;
    }
    if let Some(pid) = child.id() {
        log_pids(pid, server.pid());
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
/// No-change pull figures.
struct Quiet {
    median: Duration,
    max: Duration,
    requests: Vec<String>,
}

/// Times incremental pulls on an up-to-date store, then counts one's requests through a proxy.
async fn no_change_pulls(store: &Path, server: &OurServer) -> anyhow::Result<Quiet> {
    let url = server.url();
    let ctx = SyncContext::open(
        store,
        vec![todo_table()],
        server.signed_in(RemoteConfig::new(url)),
    )
    .await?;
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

    ctx.close().await;

    // The requests are counted on a second store that syncs through a proxy from the start: a
    // store is bound to the server it first synced with, and the proxy has another address.
    let proxy = FaultProxy::start(url).await?;
    let counted = SyncContext::open(
        store.with_extension("counted.db"),
        vec![todo_table()],
        server.signed_in(RemoteConfig::new(proxy.url())),
    )
    .await?;
    let counted_table = counted.table(TABLE)?;
    counted_table.pull(Some(QUERY_ID), &Query::new()).await?;
    let before = proxy.requests().len();
    counted_table.pull(Some(QUERY_ID), &Query::new()).await?;
    let requests = proxy.requests().split_off(before);
    counted.close().await;
    Ok(Quiet {
        median: percentile(&times, 50.0),
        max: times.last().copied().unwrap_or_default(),
        requests,
    })
}
