//! Push of queued inserts to our server, one request per operation and in batches.

use std::time::Duration;

use tidemark_client::RemoteConfig;

use super::{Client, default_config, log_pids, our_server};
use crate::report::{Row, Section, group, per_sec, ratio, secs};

/// Push of `n` queued inserts to our server, one request per operation (unless `batch_only`),
/// then in batches of `batch_size` operations (the engine's default when `None`).
pub async fn push(
    n: usize,
    batch_only: bool,
    batch_size: Option<usize>,
) -> anyhow::Result<Section> {
    let mut section = Section::new(format!(
        "Push of {} queued inserts to our server",
        group(n as u64)
    ));
    let single = if batch_only {
        None
    } else {
        log::info!("push: {n} queued inserts, one request each");
        let single = push_ours(n, |url| RemoteConfig {
            batch_size: 0,
            ..RemoteConfig::new(url)
        })
        .await?;
        section.rows.push(Row::info(
            "per-request mode",
            format!("{} ({} ops/s)", secs(single), per_sec(n, single)),
        ));
        Some(single)
    };
    log::info!("push: {n} queued inserts in batches");
    let batch_size = batch_size.unwrap_or(default_config("").batch_size);
    let batched = push_ours(n, |url| RemoteConfig {
        batch_size,
        ..default_config(url)
    })
    .await?;
    let speedup = single.map_or(String::new(), |single| {
        format!("; {:.1}× per-request", ratio(single, batched))
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

/// Pushes `n` queued inserts to a fresh server of ours with this config; the time of the push.
async fn push_ours(n: usize, config: impl Fn(&str) -> RemoteConfig) -> anyhow::Result<Duration> {
    let dir = tempfile::tempdir()?;
    let server = our_server(dir.path()).await?;
    let client = Client::open(server.signed_in(config(server.url()))).await?;
    client.queue_inserts(n).await?;
    log_pids(std::process::id(), server.pid());
    client.timed_push(n).await
}
