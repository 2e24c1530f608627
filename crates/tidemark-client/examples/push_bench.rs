//! Times one push of N queued inserts (default 10 000) from a fresh engine store to our server
//! (SQLite, in this process, on 127.0.0.1), end to end: the engine reads its queue, sends it,
//! the server applies it, the engine writes every answer back.
//!
//! Usage: `cargo run --release -p tidemark-client --example push_bench -- [inserts] [batch size]`
//! (batch size 0 = one request per operation; default 1000).

use std::time::Instant;

use anyhow::Context as _;
use serde_json::json;
use tidemark_client::{ColumnType, RemoteConfig, SyncContext, TableDefinition};
use tidemark_testkit::server::TestServer;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let count: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(10_000);
    let batch_size: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(1000);
    let server = TestServer::start().await;
    let dir = tempfile::tempdir()?;
    let def = TableDefinition::new("todoitem")
        .column("text", ColumnType::Text)
        .column("complete", ColumnType::Boolean);
    let mut config = RemoteConfig::new(server.url());
    config.batch_size = batch_size;
    let ctx = SyncContext::open(dir.path().join("store.db"), vec![def], config).await?;
    let table = ctx.table("todoitem")?;
    let items = (0..count)
        .map(
            |i| match json!({"text": format!("item {i}"), "complete": false}) {
                serde_json::Value::Object(map) => map,
                _ => serde_json::Map::new(),
            },
        )
        .collect();
    table.insert_many(items).await.context("queueing inserts")?;
    let started = Instant::now();
    let result = ctx.push().await;
    let elapsed = started.elapsed();
    anyhow::ensure!(result.is_success(), "push failed: {result}");
    anyhow::ensure!(result.pushed == count as u64, "pushed {}", result.pushed);
    println!(
        "pushed {count} queued inserts (batch size {batch_size}) in {:.3} s ({:.0} ops/s)",
        elapsed.as_secs_f64(),
        count as f64 / elapsed.as_secs_f64()
    );
    Ok(())
}
