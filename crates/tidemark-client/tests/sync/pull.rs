//! Pull: incremental with a query id, whole without; deletes, pending rows, paging, purge.

use serde_json::json;
use tidemark_client::tidemark_protocol::odata::builder::{lit, prop};
use tidemark_client::{ClientError, Query, RemoteConfig};

use crate::common::{Device, TestResult, item, server, server_table, stock_like, text_of};

/// Writes `n` todos straight to the server (another device), returning their ids.
async fn server_adds(url: &str, n: usize, prefix: &str) -> anyhow::Result<Vec<String>> {
    let table = server_table(url)?;
    let mut ids = Vec::new();
    for i in 0..n {
        let stored = table
            .insert(&item(
                json!({"text": format!("{prefix}{i}"), "complete": false}),
            ))
            .await?;
        ids.extend(text_of(&stored, "id"));
    }
    Ok(ids)
}

#[tokio::test]
async fn pull_brings_every_server_row_into_the_local_table() -> TestResult {
    let server = server().await;
    server_adds(server.url(), 5, "t").await?;
    let device = Device::open(server.url()).await?;
    let r = device.pull_all().await?;
    assert_eq!((r.received, r.requests, r.upserted), (5, 1, 5));
    assert_eq!(device.table().count(&Query::new()).await?, 5);
    Ok(())
}

#[tokio::test]
async fn pull_with_no_server_changes_transfers_no_rows() -> TestResult {
    let server = server().await;
    server_adds(server.url(), 5, "t").await?;
    let device = Device::open(server.url()).await?;
    device.pull_all().await?;
    let again = device.pull_all().await?;
    assert_eq!((again.received, again.requests), (0, 1));
    Ok(())
}

#[tokio::test]
async fn pull_after_n_server_changes_transfers_n_rows() -> TestResult {
    let server = server().await;
    let ids = server_adds(server.url(), 20, "t").await?;
    let device = Device::open(server.url()).await?;
    device.pull_all().await?;
    let table = server_table(server.url())?;
    for id in ids.iter().take(3) {
        table
            .update(id, &item(json!({"text": "changed"})), None)
            .await?;
    }
    let r = device.pull_all().await?;
    assert_eq!((r.received, r.requests), (3, 1));
    assert_eq!(device.text(&ids[0]).await?.as_deref(), Some("changed"));
    Ok(())
}

#[tokio::test]
async fn pull_pages_through_more_rows_than_one_page() -> TestResult {
    let server = server().await;
    server_adds(server.url(), 25, "t").await?;
    let device = Device::open(server.url()).await?;
    device.ctx.set_remote(RemoteConfig {
        large_page_size: 10,
        ..RemoteConfig::new(server.url())
    })?;
    let r = device.pull_all().await?;
    assert_eq!((r.received, r.requests), (25, 3));
    assert_eq!(device.table().count(&Query::new()).await?, 25);
    Ok(())
}

#[tokio::test]
async fn pull_from_a_stock_server_pages_by_fifty_and_resumes_after_the_last_id() -> TestResult {
    let server = server().await;
    server_adds(server.url(), 60, "t").await?;
    let stock = stock_like(server.url()).await?;
    let device = Device::open(&stock.url()).await?;
    let r = device.pull_all().await?;
    assert_eq!((r.received, r.requests), (60, 2));
    assert!(
        stock
            .requests()
            .iter()
            .any(|l| l.contains("id%20gt%20") || l.contains("id+gt+")),
        "{:?}",
        stock.requests()
    );
    // Stock servers may have ties at the token: the next pull asks for the rows after the
    // last id received in that millisecond, so nothing comes again.
    let again = device.pull_all().await?;
    assert_eq!(again.received, 0);
    assert_eq!(device.table().count(&Query::new()).await?, 60);
    Ok(())
}

#[tokio::test]
async fn pull_ignores_server_fields_the_local_table_does_not_define() -> TestResult {
    let server = server().await;
    server_table(server.url())?
        .insert(&item(json!({"id": "x", "text": "t", "colour": "red"})))
        .await?;
    let device = Device::open(server.url()).await?;
    device.pull_all().await?;
    let local = device.table().lookup("x").await?.unwrap_or_default();
    assert_eq!(text_of(&local, "text").as_deref(), Some("t"));
    assert!(!local.contains_key("colour"));
    Ok(())
}

#[tokio::test]
async fn soft_deleted_server_rows_disappear_locally() -> TestResult {
    let server = server().await;
    let ids = server_adds(server.url(), 3, "t").await?;
    let device = Device::open(server.url()).await?;
    device.pull_all().await?;
    server_table(server.url())?.delete(&ids[1], None).await?;
    let r = device.pull_all().await?;
    assert_eq!(r.deleted, 1);
    assert_eq!(device.table().lookup(&ids[1]).await?, None);
    assert_eq!(device.table().count(&Query::new()).await?, 2);
    Ok(())
}

#[tokio::test]
async fn rows_with_a_pending_local_operation_are_not_overwritten() -> TestResult {
    let server = server().await;
    let ids = server_adds(server.url(), 1, "t").await?;
    let proxy = crate::common::proxy(server.url()).await?;
    let device = Device::open(&proxy.url()).await?;
    device.pull_all().await?;
    server_table(server.url())?
        .update(&ids[0], &item(json!({"text": "server"})), None)
        .await?;
    // The local edit lands while the pull's page is on its way.
    proxy.hold_responses("GET", 1);
    let table = device.table();
    let pull = tokio::spawn(async move { table.pull(Some("all"), &Query::new()).await });
    proxy.wait_held().await;
    device.set_text(&ids[0], "local").await?;
    proxy.release();
    let r = pull.await??;
    assert_eq!((r.received, r.skipped_pending), (1, 1));
    assert_eq!(device.text(&ids[0]).await?.as_deref(), Some("local"));
    assert_eq!(device.ctx.pending_operations().await?, 1);
    Ok(())
}

#[tokio::test]
async fn pull_fails_when_its_push_fails_and_keeps_the_local_change() -> TestResult {
    let server = server().await;
    let ids = server_adds(server.url(), 1, "t").await?;
    let proxy = crate::common::proxy(server.url()).await?;
    let device = Device::open(&proxy.url()).await?;
    device.pull_all().await?;
    server_table(server.url())?
        .update(&ids[0], &item(json!({"text": "server"})), None)
        .await?;
    device.set_text(&ids[0], "local").await?;
    // The push cannot complete (the connection drops): the pull does not run. A change the
    // server refuses is another matter: it waits for a decision and the pull goes on
    // (`waiting.rs`).
    proxy.add_rule(
        "POST",
        "$batch",
        tidemark_testkit::proxy::Fault::DropRequest,
        usize::MAX,
    );
    let r = device.table().pull(Some("all"), &Query::new()).await;
    assert!(matches!(r, Err(ClientError::PushFailed(_))), "{r:?}");
    assert_eq!(device.text(&ids[0]).await?.as_deref(), Some("local"));
    assert_eq!(device.ctx.pending_operations().await?, 1);
    Ok(())
}

#[tokio::test]
async fn pull_pushes_pending_operations_first() -> TestResult {
    let server = server().await;
    let device = Device::open(server.url()).await?;
    let id = device.add("mine").await?;
    device.pull_all().await?;
    assert_eq!(device.ctx.pending_operations().await?, 0);
    assert_eq!(
        crate::common::server_text(server.url(), &id)
            .await?
            .as_deref(),
        Some("mine")
    );
    Ok(())
}

/// A server whose pages stop at 8 KiB, and 12 todos of about 3 KiB each on it: every page the
/// engine asks for is cut short by the budget (three items at most) and links to the rest.
async fn server_with_small_pages()
-> anyhow::Result<(tidemark_testkit::server::TestServer, Vec<String>)> {
    let config = tidemark_server::ServerConfig {
        max_page_bytes: 8 * 1024,
        ..tidemark_server::ServerConfig::open()
    };
    let server = tidemark_testkit::server::TestServer::start_with(config).await;
    let table = server_table(server.url())?;
    let mut ids = Vec::new();
    for i in 0..12 {
        let text = format!("{i}:{}", "x".repeat(3000));
        let stored = table
            .insert(&item(json!({"text": text, "complete": false})))
            .await?;
        ids.extend(text_of(&stored, "id"));
    }
    Ok((server, ids))
}

#[tokio::test]
async fn a_pull_follows_pages_cut_short_by_the_server_byte_budget() -> TestResult {
    let (server, ids) = server_with_small_pages().await?;
    let device = Device::open(server.url()).await?;
    let r = device.pull_all().await?;
    assert_eq!(r.received, 12, "{r:?}");
    assert!(r.requests >= 4, "every page was cut: {r:?}");
    assert_eq!(device.table().count(&Query::new()).await?, 12);
    // Incremental: changes after the token, again in short pages, all come down.
    let table = server_table(server.url())?;
    for id in ids.iter().take(7) {
        table
            .update(
                id,
                &item(json!({"text": format!("changed {}", "y".repeat(3000))})),
                None,
            )
            .await?;
    }
    let again = device.pull_all().await?;
    assert_eq!(again.received, 7, "{again:?}");
    assert!(again.requests >= 3, "{again:?}");
    for id in ids.iter().take(7) {
        assert!(
            device
                .text(id)
                .await?
                .is_some_and(|t| t.starts_with("changed")),
            "{id}"
        );
    }
    // Without a query id, with and without take: every row, and take is honoured.
    let whole = device.table().pull(None, &Query::new()).await?;
    assert_eq!(whole.received, 12, "{whole:?}");
    let some = device.table().pull(None, &Query::new().take(5)).await?;
    assert_eq!(some.received, 5, "{some:?}");
    Ok(())
}

#[tokio::test]
async fn pull_without_a_query_id_fetches_the_whole_query_every_time() -> TestResult {
    let server = server().await;
    server_adds(server.url(), 4, "t").await?;
    let device = Device::open(server.url()).await?;
    let q = Query::new().filter(prop("complete").equals(lit(false)));
    let first = device.table().pull(None, &q).await?;
    let second = device.table().pull(None, &q).await?;
    assert_eq!((first.received, second.received), (4, 4));
    Ok(())
}

#[tokio::test]
async fn purge_removes_matching_rows_and_resets_the_query_token() -> TestResult {
    let server = server().await;
    server_adds(server.url(), 3, "t").await?;
    let device = Device::open(server.url()).await?;
    device.pull_all().await?;
    let q = Query::new().filter(prop("text").equals(lit("t0")));
    assert_eq!(device.table().purge(Some("all"), &q, false).await?, 1);
    assert_eq!(device.table().count(&Query::new()).await?, 2);
    let again = device.pull_all().await?;
    assert_eq!(again.received, 3);
    Ok(())
}

#[tokio::test]
async fn purging_the_whole_table_resets_every_token_of_the_table() -> TestResult {
    let server = server().await;
    server_adds(server.url(), 2, "t").await?;
    let device = Device::open(server.url()).await?;
    let open = Query::new().filter(prop("complete").equals(lit(false)));
    device.table().pull(Some("open"), &open).await?;
    device.pull_all().await?;
    device.table().purge(None, &Query::new(), false).await?;
    assert_eq!(device.table().pull(Some("open"), &open).await?.received, 2);
    assert_eq!(device.pull_all().await?.received, 2);
    Ok(())
}
