//! Divergence detected and repaired: after a pull from our server the engine compares the
//! server's checksum of the table with its own; a copy changed behind its back (raw SQLite on
//! the store file) is pulled again on the next sync, the status saying so. Against a stock
//! server (no checksum capability) nothing changes.

use rusqlite::params;
use serde_json::json;
use tidemark_client::{Query, RemoteConfig};

use std::time::Duration;

use tidemark_testkit::proxy::Fault;

use crate::common::{
    Device, TestResult, item, proxy, server, server_table, server_text, stock_like,
};

/// Changes the device's store file the way no engine code would: one row set back to an old
/// version and text, one row deleted, one row added that the server never had.
fn corrupt(device: &Device, stale: &str, lost: &str) -> anyhow::Result<()> {
    let conn = rusqlite::Connection::open(device.path())?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.execute(
        "UPDATE todoitem SET version = 'AAAAAAAAAAA=', text = 'old text' WHERE id = ?1",
        params![stale],
    )?;
    conn.execute("DELETE FROM todoitem WHERE id = ?1", params![lost])?;
    conn.execute(
        "INSERT INTO todoitem (id, updatedAt, version, text) \
         VALUES ('ghost', '2000-01-01T00:00:00.000000Z', 'AAAAAAAAAAE=', 'boo')",
        [],
    )?;
    Ok(())
}

#[tokio::test]
async fn a_copy_changed_behind_the_engines_back_is_repaired_on_the_next_sync() -> TestResult {
    let server = server().await;
    let device = Device::open(server.url()).await?;
    let mut ids = Vec::new();
    for text in ["milk", "eggs", "bread", "tea"] {
        ids.push(device.add_synced(text).await?);
    }
    let clean = device.pull_all().await?;
    assert_eq!(clean.repair, None, "{clean:?}");

    corrupt(&device, &ids[0], &ids[1])?;
    let repaired = device.pull_all().await?;
    let Some(repair) = &repaired.repair else {
        panic!("no repair: {repaired:?}");
    };
    assert_eq!(
        (repair.local_rows, repair.server_rows),
        (4, 4),
        "{repair:?}"
    );
    let differing: Vec<&str> = repair.differences.iter().map(|d| d.id.as_str()).collect();
    let mut expected = vec![ids[0].as_str(), ids[1].as_str(), "ghost"];
    expected.sort_unstable();
    assert_eq!(differing, expected, "{repair:?}");

    assert_eq!(device.text(&ids[0]).await?.as_deref(), Some("milk"));
    assert_eq!(device.text(&ids[1]).await?.as_deref(), Some("eggs"));
    assert_eq!(device.table().lookup("ghost").await?, None);
    assert_eq!(device.table().count(&Query::new()).await?, 4);
    let status = device.ctx.status();
    let said = status.repaired.unwrap_or_default();
    assert!(
        said.contains("todoitem") && said.contains("3 rows differed"),
        "{said}"
    );
    assert_eq!(status.last_error, None);

    // Matching again: no repair, and the status no longer says there was one.
    let after = device.pull_all().await?;
    assert_eq!(after.repair, None, "{after:?}");
    assert_eq!(device.ctx.status().repaired, None);
    Ok(())
}

#[tokio::test]
async fn an_ordinary_change_is_no_divergence_and_a_repair_keeps_the_users_edit() -> TestResult {
    let server = server().await;
    let device = Device::open(server.url()).await?;
    let id = device.add_synced("milk").await?;
    let other = device.add_synced("eggs").await?;
    device.pull_all().await?;
    // Another device edits `other`: an ordinary change, brought by the pull, no repair.
    server_table(server.url())?
        .update(&other, &item(json!({"text": "brown eggs"})), None)
        .await?;
    let r = device.pull_all().await?;
    assert_eq!(r.repair, None, "{r:?}");
    assert_eq!(device.text(&other).await?.as_deref(), Some("brown eggs"));

    // A local edit, pushed by the pull that then finds the copy corrupted: the edit reaches
    // the server and survives the repair.
    let conn = rusqlite::Connection::open(device.path())?;
    conn.execute(
        "UPDATE todoitem SET version = 'AAAAAAAAAAA=' WHERE id = ?1",
        params![other],
    )?;
    drop(conn);
    device.set_text(&id, "oat milk").await?;
    let r = device.pull_all().await?;
    assert!(r.repair.is_some(), "{r:?}");
    assert_eq!(device.text(&id).await?.as_deref(), Some("oat milk"));
    assert_eq!(
        server_text(server.url(), &id).await?.as_deref(),
        Some("oat milk")
    );
    assert_eq!(device.ctx.pending_operations().await?, 0);
    Ok(())
}

/// A row changed on the server between the pull and the checksum leaves the checksum's range
/// while the old copy is still here: it looks like a divergence until it is pulled. The check
/// catches up first and finds the copies equal: no repair.
#[tokio::test]
async fn a_change_on_the_server_during_the_check_is_caught_up_not_repaired() -> TestResult {
    let server = server().await;
    let proxy = proxy(server.url()).await?;
    let device = Device::open(&proxy.url()).await?;
    let id = device.add_synced("milk").await?;
    device.add_synced("eggs").await?;
    device.pull_all().await?;

    proxy.add_rule(
        "GET",
        "checksum",
        Fault::Delay(Duration::from_millis(700)),
        1,
    );
    let server_side = server_table(server.url())?;
    let (pulled, changed) = tokio::join!(device.pull_all(), async {
        // Once the checksum request is on its way (held by the proxy), another device edits.
        while !proxy.requests().iter().any(|l| l.contains("checksum")) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        server_side
            .update(&id, &item(json!({"text": "oat milk"})), None)
            .await
    });
    changed?;
    let pulled = pulled?;
    assert_eq!(pulled.repair, None, "{pulled:?}");
    assert_eq!(
        pulled.received, 1,
        "the catch-up pull brought the edit: {pulled:?}"
    );
    assert_eq!(device.text(&id).await?.as_deref(), Some("oat milk"));
    assert_eq!(device.ctx.status().repaired, None);
    Ok(())
}

/// With the default interval the check does not run on every pull (an idle pull stays one
/// request): a copy corrupted right after a check waits for the next one, which repairs it.
#[tokio::test]
async fn the_check_runs_at_most_once_per_interval() -> TestResult {
    let server = server().await;
    let proxy = proxy(server.url()).await?;
    let device = Device::open(&proxy.url()).await?;
    device.ctx.set_remote(RemoteConfig::new(proxy.url()))?;
    let kept = device.add_synced("milk").await?;
    let lost = device.add_synced("eggs").await?;
    device.pull_all().await?;
    device.pull_all().await?;
    corrupt(&device, &kept, &lost)?;
    let checks = || {
        proxy
            .requests()
            .iter()
            .filter(|l| l.contains("checksum"))
            .count()
    };
    let r = device.pull_all().await?;
    assert_eq!((r.repair.is_none(), checks()), (true, 0), "{r:?}");
    assert!(device.table().lookup("ghost").await?.is_some());

    // The interval has passed (here: it is made zero): the next pull checks and repairs.
    let mut config = RemoteConfig::new(proxy.url());
    config.verify_interval = Duration::ZERO;
    device.ctx.set_remote(config)?;
    let r = device.pull_all().await?;
    assert!(r.repair.is_some(), "{r:?}");
    assert_eq!(checks(), 1);
    assert_eq!(device.table().lookup("ghost").await?, None);
    Ok(())
}

#[tokio::test]
async fn against_a_stock_server_nothing_is_checked() -> TestResult {
    let server = server().await;
    let stock = stock_like(server.url()).await?;
    let device = Device::open(&stock.url()).await?;
    let kept = device.add_synced("milk").await?;
    let lost = device.add_synced("eggs").await?;
    device.pull_all().await?;
    corrupt(&device, &kept, &lost)?;
    let r = device.pull_all().await?;
    assert_eq!(r.repair, None, "{r:?}");
    assert!(
        !stock
            .requests()
            .iter()
            .any(|l| l.contains("$checksum") || l.contains("%24checksum")),
        "{:?}",
        stock.requests()
    );
    // The stock-like server answered nothing about it, so the damage stays.
    assert!(device.table().lookup("ghost").await?.is_some());
    Ok(())
}
