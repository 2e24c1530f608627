//! Push of queued inserts to our server, one request per operation and in batches.

use std::time::{Duration, Instant};

use serde_json::Value;
use tidemark_client::{RemoteClient, RemoteConfig};

use super::{Client, TABLE, default_config, log_pids, our_server, todo};
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
    let mut rates = Vec::new();
    for writers in [1, CONCURRENT_WRITERS] {
        log::info!("push: server writes/s, {writers} writer(s)");
        rates.push(format!(
            "{writers} writer{}: {:.0}/s",
            if writers == 1 { "" } else { "s" },
            server_writes_per_sec(writers).await?
        ));
    }
    section.rows.push(Row::info(
        "server single-request writes/s (each on disk before its answer)",
        rates.join("; "),
    ));
    section.notes.push(format!(
        "writes/s: {WRITES_PER_WRITER} inserts per writer, one `POST` each, every writer a device of its own on a fresh server; the server syncs every commit (`synchronous = FULL`), and writes that arrive while one commits share the next commit."
    ));
    Ok(section)
}

/// Writers at once in the second writes/s figure (the first has one).
const CONCURRENT_WRITERS: usize = 16;
/// Inserts each writer sends in the writes/s figures.
const WRITES_PER_WRITER: usize = 250;

/// Single-request inserts per second that `writers` devices get from a fresh server of ours.
async fn server_writes_per_sec(writers: usize) -> anyhow::Result<f64> {
    let dir = tempfile::tempdir()?;
    let server = our_server(dir.path()).await?;
    let mut tables = Vec::with_capacity(writers);
    for _ in 0..writers {
        let client = RemoteClient::new(server.signed_in(RemoteConfig::new(server.url())))?;
        tables.push(client.table(TABLE));
    }
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (w, table) in tables.into_iter().enumerate() {
        tasks.spawn(async move {
            for n in 0..WRITES_PER_WRITER {
                let mut item = todo(n);
                item.insert("id".into(), Value::String(format!("w{w}-{n}")));
                table.insert(&item).await?;
            }
            Ok::<_, anyhow::Error>(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok((writers * WRITES_PER_WRITER) as f64 / started.elapsed().as_secs_f64())
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
