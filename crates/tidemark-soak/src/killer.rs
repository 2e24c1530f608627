//! The server's killer: SIGKILL at random points of the devices' progress, then a restart.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{RngExt as _, SeedableRng as _};
use tidemark_testkit::server::ServerProcess;
use tokio::sync::watch;

use crate::{SoakConfig, figures};

/// Kills the server at `config.kills` random points of the devices' progress (a random few
/// milliseconds after a round ends, so kills land in the middle of requests), keeps it down
/// for a random while, and restarts it on the same database and port. After each restart it
/// waits for a quarter of the devices to reach the server again, so kills do not bunch up
/// while rounds that meet a dead server end quickly.
pub(crate) async fn kill_server_at_random(
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
