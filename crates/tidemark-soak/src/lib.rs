//! The soak harness behind `scripts/soak`: many simulated devices, each a real
//! [`tidemark_client::SyncContext`] on its own SQLite file, make random offline edits and sync
//! them against one real `tidemark-server` process, which is killed with SIGKILL at random
//! moments and restarted on the same database and port. At the end every device must equal the
//! server and the server must equal an exact model of the acknowledged writes.
//!
//! # The model
//! - Each device owns a disjoint set of items (ids `d<device>-<n>`) that only it inserts,
//!   updates and deletes. The server must hold exactly the owner's last local state of each:
//!   every live item once (none lost, none duplicated, none resurrected), with its last values.
//!   Any conflict or refusal on an owned item is a false conflict.
//! - A few shared items (ids `shared-<k>`, created before the devices start) are only updated,
//!   by every device. Conflicts on them are resolved by a declared rule: the server wins (the
//!   device drops its edit and takes the server's item). Every write the server accepted was
//!   made against the version before it, so the accepted writes of an item form one chain and
//!   the server must hold the acknowledged write with the latest `updatedAt` (or the seed).
//!   A conflict whose server copy was last written by the same device is a false conflict.
//! - A device that finds the server down ends its push or pull with a network error and keeps
//!   its queue; that is expected, counted as an offline sync, and not an error.

#![warn(missing_docs)]

mod device;
mod figures;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use rand::rngs::StdRng;
use rand::{RngExt as _, SeedableRng as _};
use serde_json::Value;
use tidemark_client::tidemark_protocol::date;
use tidemark_client::{Item, Query, RemoteClient, RemoteConfig, RemoteTable};
use tidemark_testkit::server::{ServerProcess, server_binary};
use tokio::sync::watch;

use device::SimDevice;
pub use figures::Latency;

/// The table every device syncs.
pub const TABLE: &str = "todoitem";
/// The text the shared items start with.
const SEED_TEXT: &str = "seed";
/// How many failure messages a report keeps (the counters keep counting).
const MAX_FAILURE_MESSAGES: usize = 50;

/// What to run.
#[derive(Debug, Clone)]
pub struct SoakConfig {
    /// Simulated devices, each with its own store.
    pub devices: usize,
    /// Rounds per device: some offline edits, then a push and a pull.
    pub rounds: usize,
    /// Seeds every device's edits and the kill schedule.
    pub seed: u64,
    /// How many times the server is killed (SIGKILL) and restarted during the rounds.
    pub kills: usize,
    /// Items every device updates (conflicts resolved by "server wins").
    pub shared_items: usize,
    /// At most this many local edits per device per round (at least one).
    pub max_edits_per_round: usize,
    /// The longest the server stays down after a kill.
    pub max_downtime: Duration,
    /// The longest a device waits between rounds (a user's pause; a random part of it).
    pub max_think_time: Duration,
    /// The `tidemark-server` binary; found next to the running executable when `None`.
    pub server_binary: Option<PathBuf>,
}

impl Default for SoakConfig {
    fn default() -> Self {
        Self {
            devices: 100,
            rounds: 40,
            seed: 1,
            kills: 25,
            shared_items: 10,
            max_edits_per_round: 5,
            max_downtime: Duration::from_millis(300),
            max_think_time: Duration::from_millis(50),
            server_binary: None,
        }
    }
}

/// The figures of one soak run; [`SoakReport::is_clean`] says whether it passed.
#[derive(Debug, Clone, Default)]
pub struct SoakReport {
    /// Devices simulated.
    pub devices: usize,
    /// Rounds per device.
    pub rounds: usize,
    /// The seed of the run.
    pub seed: u64,
    /// Local edits made (inserts + updates + deletes).
    pub operations: u64,
    /// Local inserts.
    pub inserts: u64,
    /// Local updates (of owned and shared items).
    pub updates: u64,
    /// Local deletes.
    pub deletes: u64,
    /// Deletes the engine refused because the item's insert was sent with no answer yet
    /// (documented behaviour: push first, then delete); the item stays in the model.
    pub deferred_deletes: u64,
    /// Push + pull calls made (rounds and the final drain).
    pub syncs: u64,
    /// Pushes or pulls that ended with a network error because the server was down.
    pub offline_syncs: u64,
    /// SIGKILLs sent to the server (each followed by a restart).
    pub kills: u64,
    /// Writes to shared items whose acknowledgement a device received.
    pub acknowledged_shared_writes: u64,
    /// Conflicts on shared items, all resolved by the declared rule (server wins).
    pub resolved_conflicts: u64,
    /// Conflicts that should not have happened (owned items, or against the device's own write).
    pub false_conflicts: u64,
    /// Items of the model missing on the server or holding other values.
    pub lost: u64,
    /// Server rows the model does not have (duplicates, resurrections, strays).
    pub duplicated: u64,
    /// Devices whose rows differ from the server's at the end.
    pub diverged_devices: u64,
    /// Every failure: false conflicts, lost, duplicated, diverged, refused operations,
    /// unexpected errors, server 5xx answers, missed kills.
    pub errors: u64,
    /// The first failure messages.
    pub failures: Vec<String>,
    /// Live rows on the server at the end.
    pub server_rows: usize,
    /// HTTP requests the server answered (its access log, over every life of the process).
    pub requests: u64,
    /// Server answers with a 5xx status (counted in `errors`).
    pub server_errors: u64,
    /// Wall time of the rounds and the final drain.
    pub duration: Duration,
    /// Wall time of each push call, measured at the client.
    pub push_latency: Latency,
    /// Wall time of each pull call, measured at the client.
    pub pull_latency: Latency,
    /// Time to answer each request, measured by the server (its access log).
    pub request_latency: Latency,
    /// The largest peak resident set size (VmHWM) of any life of the server process, in KiB.
    pub server_peak_rss_kib: u64,
}

impl SoakReport {
    /// True when nothing went wrong: no error of any kind.
    pub fn is_clean(&self) -> bool {
        self.errors == 0 && self.failures.is_empty()
    }

    /// Server requests per second of wall time.
    pub fn requests_per_second(&self) -> f64 {
        let secs = self.duration.as_secs_f64();
        if secs > 0.0 {
            self.requests as f64 / secs
        } else {
            0.0
        }
    }
}

impl fmt::Display for SoakReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "soak: {} devices x {} rounds, seed {}",
            self.devices, self.rounds, self.seed
        )?;
        writeln!(
            f,
            "  operations        {} ({} inserts, {} updates, {} deletes; {} deletes deferred: insert unanswered)",
            self.operations, self.inserts, self.updates, self.deletes, self.deferred_deletes
        )?;
        writeln!(
            f,
            "  syncs             {} ({} offline: server down)",
            self.syncs, self.offline_syncs
        )?;
        writeln!(f, "  server kills      {}", self.kills)?;
        writeln!(
            f,
            "  shared writes     {} acknowledged, {} conflicts resolved (server wins)",
            self.acknowledged_shared_writes, self.resolved_conflicts
        )?;
        writeln!(f, "  server rows       {}", self.server_rows)?;
        writeln!(
            f,
            "  lost {}, duplicated {}, false conflicts {}, diverged devices {}",
            self.lost, self.duplicated, self.false_conflicts, self.diverged_devices
        )?;
        writeln!(
            f,
            "  errors            {} ({} server 5xx)",
            self.errors, self.server_errors
        )?;
        writeln!(
            f,
            "  duration          {:.1} s",
            self.duration.as_secs_f64()
        )?;
        writeln!(
            f,
            "  requests          {} ({:.0} req/s; counted by the server's access log)",
            self.requests,
            self.requests_per_second()
        )?;
        writeln!(
            f,
            "  request latency   {} (server-side, per HTTP request)",
            self.request_latency
        )?;
        writeln!(
            f,
            "  push latency      {} (client-side, per push call)",
            self.push_latency
        )?;
        writeln!(
            f,
            "  pull latency      {} (client-side, per pull call)",
            self.pull_latency
        )?;
        write!(
            f,
            "  server peak RSS   {:.1} MiB (VmHWM)",
            self.server_peak_rss_kib as f64 / 1024.0
        )?;
        for failure in &self.failures {
            write!(f, "\n  FAILURE: {failure}")?;
        }
        Ok(())
    }
}

/// Counters and samples shared by the devices, the killer and the checks.
#[derive(Default)]
pub(crate) struct Stats {
    pub(crate) inserts: AtomicU64,
    pub(crate) updates: AtomicU64,
    pub(crate) deletes: AtomicU64,
    pub(crate) deferred_deletes: AtomicU64,
    pub(crate) syncs: AtomicU64,
    pub(crate) offline_syncs: AtomicU64,
    pub(crate) resolved_conflicts: AtomicU64,
    pub(crate) false_conflicts: AtomicU64,
    pub(crate) errors: AtomicU64,
    failures: Mutex<Vec<String>>,
    pub(crate) push_times: Mutex<Vec<Duration>>,
    pub(crate) pull_times: Mutex<Vec<Duration>>,
    /// Per shared item: (server `updatedAt`, text) of every acknowledged write.
    pub(crate) shared_acks: Mutex<HashMap<String, Vec<(String, String)>>>,
}

impl Stats {
    /// Counts an error and keeps its message (the first few).
    pub(crate) fn fail(&self, message: String) {
        log::error!("{message}");
        self.errors.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut f) = self.failures.lock()
            && f.len() < MAX_FAILURE_MESSAGES
        {
            f.push(message);
        }
    }

    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// The id of shared item `k`.
pub(crate) fn shared_id(k: usize) -> String {
    format!("shared-{k}")
}

/// True for the ids of shared items.
pub(crate) fn is_shared(id: &str) -> bool {
    id.starts_with("shared-")
}

/// The user fields the model compares: text, complete, priority.
pub(crate) type Fields = (String, bool, i64);

/// The compared fields of an item (from the server or a local store).
pub(crate) fn fields_of(item: &Item) -> Fields {
    (
        item.get("text")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        item.get("complete")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        item.get("priority").and_then(Value::as_i64).unwrap_or(0),
    )
}

/// Runs a soak and returns its figures; `Err` only when the harness itself cannot run (no
/// server binary, no temp dir), never for what the soak finds: that is in the report.
pub async fn run(config: SoakConfig) -> anyhow::Result<SoakReport> {
    if config.devices == 0 || config.rounds == 0 {
        bail!("a soak needs at least one device and one round");
    }
    let binary = match &config.server_binary {
        Some(b) => b.clone(),
        None => server_binary()?,
    };
    let dir = tempfile::tempdir().context("cannot create the soak's temporary directory")?;
    let server = ServerProcess::spawn_binary(&binary, dir.path().join("server.db"), &[]).await;
    let url = server.url().to_owned();
    let log_path = server.log_path().to_owned();
    let server = Arc::new(tokio::sync::Mutex::new(server));
    let stats = Arc::new(Stats::default());
    let admin = RemoteClient::new(RemoteConfig::new(&url))?.table(TABLE);
    seed_shared_items(&admin, config.shared_items).await?;

    let mut devices = Vec::with_capacity(config.devices);
    for n in 0..config.devices {
        let rng = StdRng::seed_from_u64(config.seed.wrapping_mul(1_000_003).wrapping_add(n as u64));
        let device = SimDevice::open(n, dir.path(), &url, rng, Arc::clone(&stats), config.clone())
            .await
            .with_context(|| format!("cannot open device {n}"))?;
        devices.push(device);
    }
    // Every device starts with the shared items, as an app does after its first sync.
    for d in &mut devices {
        d.initial_pull().await?;
    }

    let started = Instant::now();
    // (rounds done, rounds whose push reached the server)
    let (progress, progress_rx) = watch::channel((0usize, 0usize));
    let progress = Arc::new(progress);
    let peak_rss = Arc::new(AtomicU64::new(0));
    let kills = Arc::new(AtomicU64::new(0));
    let killer = tokio::spawn(kill_server_at_random(
        config.clone(),
        Arc::clone(&server),
        progress_rx,
        Arc::clone(&peak_rss),
        Arc::clone(&kills),
    ));
    let mut tasks = tokio::task::JoinSet::new();
    for mut d in devices {
        let progress = Arc::clone(&progress);
        let rounds = config.rounds;
        tasks.spawn(async move {
            for _ in 0..rounds {
                let online = d.round().await;
                progress.send_modify(|(all, reached)| {
                    *all += 1;
                    *reached += usize::from(online);
                });
            }
            d
        });
    }
    let mut devices = Vec::with_capacity(config.devices);
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(d) => devices.push(d),
            Err(e) => stats.fail(format!("a device task failed: {e}")),
        }
    }
    // Every device is done: a killer still waiting for progress kills at once now.
    drop(progress);
    if let Err(e) = killer.await {
        stats.fail(format!("the killer task failed: {e}"));
    }
    devices.sort_by_key(SimDevice::number);

    // Drain: the server is up for good; every queue empties, then everyone pulls everything.
    {
        let mut server = server.lock().await;
        if server.pid().is_none() {
            server.restart().await;
        }
    }
    for d in &mut devices {
        d.drain().await;
    }
    for d in &mut devices {
        d.final_pull().await;
    }
    let duration = started.elapsed();

    let kills = kills.load(Ordering::Relaxed);
    if kills < config.kills as u64 {
        stats.fail(format!("only {kills} of {} kills happened", config.kills));
    }
    let server_items = server_rows(&admin).await?;
    let checked = check(&config, &devices, &server_items, &stats).await;
    {
        let server = server.lock().await;
        if let Some(pid) = server.pid() {
            peak_rss.fetch_max(figures::peak_rss_kib(pid), Ordering::Relaxed);
        }
    }
    let access = figures::access_log(&log_path);
    for line in access.server_errors.iter().take(5) {
        stats.fail(format!("the server answered 5xx: {line}"));
    }
    let server_errors = access.server_errors.len() as u64;
    if server_errors > 5 {
        // The first five were counted one by one above.
        stats.errors.fetch_add(server_errors - 5, Ordering::Relaxed);
    }
    for d in devices {
        d.close().await;
    }
    // Stop the server before its directory goes.
    server.lock().await.kill().await;

    let inserts = stats.inserts.load(Ordering::Relaxed);
    let updates = stats.updates.load(Ordering::Relaxed);
    let deletes = stats.deletes.load(Ordering::Relaxed);
    let acked = stats
        .shared_acks
        .lock()
        .map(|a| a.values().map(Vec::len).sum::<usize>())
        .unwrap_or(0);
    Ok(SoakReport {
        devices: config.devices,
        rounds: config.rounds,
        seed: config.seed,
        operations: inserts + updates + deletes,
        inserts,
        updates,
        deletes,
        deferred_deletes: stats.deferred_deletes.load(Ordering::Relaxed),
        syncs: stats.syncs.load(Ordering::Relaxed),
        offline_syncs: stats.offline_syncs.load(Ordering::Relaxed),
        kills,
        acknowledged_shared_writes: acked as u64,
        resolved_conflicts: stats.resolved_conflicts.load(Ordering::Relaxed),
        false_conflicts: stats.false_conflicts.load(Ordering::Relaxed),
        lost: checked.lost,
        duplicated: checked.duplicated,
        diverged_devices: checked.diverged,
        errors: stats.errors.load(Ordering::Relaxed),
        failures: stats.failures.lock().map(|f| f.clone()).unwrap_or_default(),
        server_rows: server_items.len(),
        requests: access.requests,
        server_errors,
        duration,
        push_latency: Latency::of(&stats.push_times),
        pull_latency: Latency::of(&stats.pull_times),
        request_latency: Latency::from_millis(access.latencies_ms),
        server_peak_rss_kib: peak_rss.load(Ordering::Relaxed),
    })
}

/// Creates the shared items on the server before any device exists.
async fn seed_shared_items(admin: &RemoteTable, n: usize) -> anyhow::Result<()> {
    for k in 0..n {
        let mut item = Item::new();
        item.insert("id".into(), Value::String(shared_id(k)));
        item.insert("text".into(), Value::String(SEED_TEXT.into()));
        item.insert("complete".into(), Value::Bool(false));
        item.insert("priority".into(), Value::from(0));
        admin
            .insert(&item)
            .await
            .with_context(|| format!("cannot create shared item {k}"))?;
    }
    Ok(())
}

/// Kills the server at `config.kills` random points of the devices' progress (a random few
/// milliseconds after a round ends, so kills land in the middle of requests), keeps it down
/// for a random while, and restarts it on the same database and port. After each restart it
/// waits for a quarter of the devices to reach the server again, so kills do not bunch up
/// while rounds that meet a dead server end quickly.
async fn kill_server_at_random(
    config: SoakConfig,
    server: Arc<tokio::sync::Mutex<ServerProcess>>,
    mut progress: watch::Receiver<(usize, usize)>,
    peak_rss: Arc<AtomicU64>,
    kills: Arc<AtomicU64>,
) {
    let mut rng = StdRng::seed_from_u64(config.seed ^ 0x6b69_6c6c);
    let total = config.devices * config.rounds;
    // Kill points over the first 80% of the rounds, so the last kill still meets traffic.
    let span = (total * 8 / 10).max(1);
    let gap = (config.devices / 4).max(1);
    let mut online_at_restart = 0;
    let mut points: Vec<usize> = (0..config.kills)
        .map(|_| rng.random_range(0..span))
        .collect();
    points.sort_unstable();
    let max_down = config.max_downtime.as_millis().max(1) as u64;
    for point in points {
        let reached = progress
            .wait_for(|(all, online)| *all >= point && *online >= online_at_restart + gap)
            .await
            .map(|p| p.1);
        match reached {
            Ok(online) => online_at_restart = online,
            // The devices are done: the remaining kills follow at once, before the drain.
            Err(_) => log::warn!(
                "the rounds ended before kill {}",
                kills.load(Ordering::Relaxed) + 1
            ),
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..20))).await;
        let mut server = server.lock().await;
        if let Some(pid) = server.pid() {
            // VmHWM is this life's peak; read it while the process still exists.
            peak_rss.fetch_max(figures::peak_rss_kib(pid), Ordering::Relaxed);
        }
        server.kill().await;
        kills.fetch_add(1, Ordering::Relaxed);
        log::info!("killed the server (kill {})", kills.load(Ordering::Relaxed));
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..max_down))).await;
        server.restart().await;
    }
}

/// Every live row of the server, by id.
async fn server_rows(admin: &RemoteTable) -> anyhow::Result<BTreeMap<String, Item>> {
    const PAGE: u64 = 5000;
    let mut rows = BTreeMap::new();
    let mut fetched = 0u64;
    loop {
        let query = Query::new().order_by("id").skip(fetched).take(PAGE);
        let page = admin
            .query(&query.to_table_query())
            .await
            .context("cannot read the server's rows")?;
        let n = page.items.len() as u64;
        fetched += n;
        for item in page.items {
            let id = item
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            if rows.insert(id.clone(), item).is_some() {
                // The store's primary key makes this impossible; check anyway.
                bail!("the server returned id '{id}' twice");
            }
        }
        if n < PAGE {
            return Ok(rows);
        }
    }
}

/// What the final comparison found.
struct Checked {
    lost: u64,
    duplicated: u64,
    diverged: u64,
}

/// Compares the server with the model and every device with the server.
async fn check(
    config: &SoakConfig,
    devices: &[SimDevice],
    server: &BTreeMap<String, Item>,
    stats: &Stats,
) -> Checked {
    let mut expected: BTreeMap<String, Fields> = BTreeMap::new();
    for d in devices {
        expected.extend(d.model().iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    let acks = stats
        .shared_acks
        .lock()
        .map(|a| a.clone())
        .unwrap_or_default();
    for k in 0..config.shared_items {
        let id = shared_id(k);
        let last = acks.get(&id).and_then(|writes| {
            writes
                .iter()
                .filter_map(|(at, text)| date::parse_date(at).ok().map(|at| (at, text)))
                .max_by_key(|(at, _)| *at)
                .map(|(_, text)| text.clone())
        });
        let text = last.unwrap_or_else(|| SEED_TEXT.to_owned());
        // Shared writes change only the text; complete and priority keep their seeds.
        expected.insert(id, (text, false, 0));
    }
    let mut checked = Checked {
        lost: 0,
        duplicated: 0,
        diverged: 0,
    };
    for (id, want) in &expected {
        match server.get(id).map(fields_of) {
            Some(got) if &got == want => {}
            Some(got) => {
                checked.lost += 1;
                stats.fail(format!(
                    "'{id}' on the server is {got:?}, the model says {want:?}"
                ));
            }
            None => {
                checked.lost += 1;
                stats.fail(format!("'{id}' ({want:?}) is missing on the server"));
            }
        }
    }
    for (id, item) in server {
        if !expected.contains_key(id) {
            checked.duplicated += 1;
            stats.fail(format!(
                "the server has '{id}' ({:?}), which the model does not",
                fields_of(item)
            ));
        }
    }
    for d in devices {
        if !d.equals_server(server).await {
            checked.diverged += 1;
        }
    }
    checked
}
