//! The same client against the stock azure-mobile-apps server and ours, side by side.

use std::time::Duration;

use anyhow::ensure;
use tidemark_client::RemoteConfig;
use tidemark_testkit::stock::{StockOptions, StockServer};

use super::{Client, default_config, our_server};
use crate::report::{Row, Section, group, per_sec, pull_figure, ratio, secs};

/// The stock server's largest page (its default `maxTop`); the stock run pulls at this size.
const STOCK_MAX_PAGE: u32 = 1000;

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
    let server = our_server(dir.path()).await?;
    let ours = push_then_pull(n, |url| server.signed_in(default_config(url)), server.url()).await?;

    section.rows.push(Row::info(
        "push to stock (one request per operation: it has no batch)",
        format!("{} ({} ops/s)", secs(stock.push), per_sec(n, stock.push)),
    ));
    section.rows.push(Row::info(
        "push to ours (engine defaults: batches)",
        format!("{} ({} ops/s)", secs(ours.push), per_sec(n, ours.push)),
    ));
    section
        .rows
        .push(faster_by("push", ratio(stock.push, ours.push), 20.0));
    section.rows.push(Row::info(
        format!("pull from stock (pages of {STOCK_MAX_PAGE}, its largest)"),
        pull_figure(stock.pull, n, stock.pull_requests),
    ));
    section.rows.push(Row::info(
        "pull from ours (engine defaults)",
        pull_figure(ours.pull, n, ours.pull_requests),
    ));
    section
        .rows
        .push(faster_by("pull", ratio(stock.pull, ours.pull), 5.0));
    section.notes.push(format!(
        "one client queues {n} inserts and pushes them (timed), then a second, empty client pulls them all (timed); the stock server runs with `--page-size {STOCK_MAX_PAGE} --max-top {STOCK_MAX_PAGE}` and the client's stock `page_size` is set to {STOCK_MAX_PAGE}; our server is a fresh `tidemark-server` on SQLite."
    ));
    Ok(section)
}

/// The row saying how many times faster than stock ours is at `what`, against a target of
/// at least `target` times.
fn faster_by(what: &str, times: f64, target: f64) -> Row {
    Row::target(
        format!("{what}: ours faster by"),
        format!("{times:.1}×"),
        &format!("≥ {target}×"),
        times >= target,
    )
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
