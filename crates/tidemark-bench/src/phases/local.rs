//! Local inserts through the sync table: no network, the store and its queue only.

use std::time::{Duration, Instant};

use tidemark_client::RemoteConfig;

use super::{Client, percentile, todo};
use crate::report::{Row, Section, group, millis};

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
        "`SyncTable::insert` awaited one after another on an empty store (WAL, synchronous=FULL: each is on disk before it returns); each is one transaction with its queue entry; max {}.",
        millis(times.last().copied().unwrap_or_default())
    ));
    Ok(section)
}
