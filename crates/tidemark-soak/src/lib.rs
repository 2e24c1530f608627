//! The soak harness behind `scripts/soak`: many simulated devices, each a real
//! [`tidemark_client::SyncContext`] on its own SQLite file, make random offline edits and sync
//! them against one real `tidemark-server` process, which is killed with SIGKILL at random
//! moments and restarted on the same database and port. At the end every device must equal the
//! server and the server must equal an exact model of the acknowledged writes.
//!
//! # Accounts
//! The server runs with accounts on (its default mode, sign-up open; its token key file lives
//! next to the database, so tokens survive the kills). Several users sign up; device `n` signs
//! in as user `n % users` and syncs with that session. Every user has the same shared item ids,
//! so a row crossing users would show. Each user's rows, read with that user's session, must
//! equal the model of that user's devices plus that user's shared items, each device must equal
//! its user's rows, and no user may see an item of another user's device or a value one wrote
//! (`crossed`, which must be 0).
//!
//! # The model
//! - Each device owns a disjoint set of items (ids `d<device>-<n>`) that only it inserts,
//!   updates and deletes. The server must hold exactly the owner's last local state of each:
//!   every live item once (none lost, none duplicated, none resurrected), with its last values.
//!   Any conflict or refusal on an owned item is a false conflict.
//! - A few shared items per user (ids `shared-<k>`, created before the devices start) are only
//!   updated, by every device of that user. Conflicts on them are resolved by a declared rule: the server wins (the
//!   device drops its edit and takes the server's item). Every write the server accepted was
//!   made against the version before it, so the accepted writes of an item form one chain and
//!   the server must hold the acknowledged write with the latest `updatedAt` (or the seed).
//!   A conflict whose server copy was last written by the same device is a false conflict.
//! - A device that finds the server down ends its push or pull with a network error and keeps
//!   its queue; that is expected, counted as an offline sync, and not an error.

#![warn(missing_docs)]

mod device;
mod figures;
mod killer;
mod model;
mod report;
mod stats;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use rand::SeedableRng as _;
use rand::rngs::StdRng;
use tidemark_client::{AuthClient, RemoteClient, RemoteConfig, RemoteTable, Session};
use tidemark_testkit::server::{ServerProcess, server_binary};
use tokio::sync::watch;

use device::SimDevice;
pub use figures::Latency;
use killer::kill_server_at_random;
use model::{check, seed_shared_items, server_rows, user_of};
pub use report::SoakReport;
use stats::Stats;

/// The table every device syncs.
pub const TABLE: &str = "todoitem";

/// The password of every soak user (sign-up refuses short ones).
const PASSWORD: &str = "soak password, not a secret";

/// The name of soak user `u`.
fn user_name(u: usize) -> String {
    format!("soak-user-{u}")
}

/// What to run.
#[derive(Debug, Clone)]
pub struct SoakConfig {
    /// Simulated devices, each with its own store.
    pub devices: usize,
    /// Users the devices sign in as (device `n` as user `n % users`).
    pub users: usize,
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
            users: 4,
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
/// Runs a soak and returns its figures; `Err` only when the harness itself cannot run (no
/// server binary, no temp dir), never for what the soak finds: that is in the report.
pub async fn run(config: SoakConfig) -> anyhow::Result<SoakReport> {
    if config.devices == 0 || config.rounds == 0 || config.users == 0 {
        bail!("a soak needs at least one device, one user and one round");
    }
    let binary = match &config.server_binary {
        Some(b) => b.clone(),
        None => server_binary()?,
    };
    let dir = tempfile::tempdir().context("cannot create the soak's temporary directory")?;
    // Accounts on (the default); the token key is kept next to the database by default.
    let server =
        ServerProcess::spawn_binary(&binary, dir.path().join("server.db"), &["--signup", "open"])
            .await;
    let url = server.url().to_owned();
    let log_path = server.log_path().to_owned();
    let server = Arc::new(tokio::sync::Mutex::new(server));
    let stats = Arc::new(Stats::default());
    let auth = AuthClient::new(&RemoteConfig::new(&url))?;
    let user_tables = sign_up_users(&auth, &url, &config).await?;

    let mut devices = Vec::with_capacity(config.devices);
    for n in 0..config.devices {
        let rng = StdRng::seed_from_u64(config.seed.wrapping_mul(1_000_003).wrapping_add(n as u64));
        let session = auth
            .sign_in(&user_name(user_of(n, config.users)), PASSWORD)
            .await
            .with_context(|| format!("device {n} cannot sign in"))?;
        let device = SimDevice::open(
            n,
            dir.path(),
            &url,
            session,
            rng,
            Arc::clone(&stats),
            config.clone(),
        )
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
    let mut server_items = Vec::with_capacity(user_tables.len());
    for table in &user_tables {
        server_items.push(server_rows(table).await?);
    }
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
        users: config.users,
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
        crossed: checked.crossed,
        errors: stats.errors.load(Ordering::Relaxed),
        failures: stats.failures.lock().map(|f| f.clone()).unwrap_or_default(),
        server_rows: server_items.iter().map(BTreeMap::len).sum(),
        requests: access.requests,
        server_errors,
        duration,
        push_latency: Latency::of(&stats.push_times),
        pull_latency: Latency::of(&stats.pull_times),
        request_latency: Latency::from_millis(access.latencies_ms),
        server_peak_rss_kib: peak_rss.load(Ordering::Relaxed),
    })
}

/// Signs up every user and seeds its shared items; returns each user's view of the table (read
/// with that user's session), by user number.
async fn sign_up_users(
    auth: &AuthClient,
    url: &str,
    config: &SoakConfig,
) -> anyhow::Result<Vec<RemoteTable>> {
    let mut tables = Vec::with_capacity(config.users);
    for u in 0..config.users {
        let session: Session = auth
            .sign_up(&user_name(u), PASSWORD)
            .await
            .with_context(|| format!("user {u} cannot sign up"))?;
        let table = RemoteClient::new(RemoteConfig::new(url).with_session(session))?.table(TABLE);
        seed_shared_items(&table, config.shared_items)
            .await
            .with_context(|| format!("cannot seed user {u}'s shared items"))?;
        tables.push(table);
    }
    Ok(tables)
}
