//! The local store on its own: opening, reopening, local writes and reads, with no server.

use serde_json::json;
use tidemark_client::tidemark_protocol::odata::builder::{lit, prop};
use tidemark_client::{ClientError, OperationKind, PushStatus, Query, RemoteConfig, SyncContext};

use crate::common::{
    Device, TestResult, item, text_of, todo, todo_table, todo_with_id, unreachable_url,
};

#[tokio::test]
async fn opening_a_corrupt_file_is_an_error_naming_it_and_leaves_it_untouched() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("store.db");
    let garbage = b"this is not a database, it is a shopping list".repeat(200);
    std::fs::write(&path, &garbage)?;
    let err = SyncContext::open(&path, vec![todo_table()], RemoteConfig::default())
        .await
        .err();
    assert!(
        matches!(&err, Some(ClientError::CorruptStore { path: p, .. }) if p == &path),
        "{err:?}"
    );
    assert!(err.is_some_and(|e| e.to_string().contains("store.db")));
    assert_eq!(std::fs::read(&path)?, garbage);
    Ok(())
}

#[tokio::test]
async fn opening_a_store_from_a_newer_schema_is_refused() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("store.db");
    {
        let conn = rusqlite::Connection::open(&path)?;
        conn.pragma_update(None, "user_version", 999)?;
    }
    let err = SyncContext::open(&path, vec![todo_table()], RemoteConfig::default())
        .await
        .err();
    assert!(
        matches!(err, Some(ClientError::NewerSchema { found: 999, .. })),
        "{err:?}"
    );
    Ok(())
}

#[tokio::test]
async fn insert_makes_a_uuid_id_and_queues_one_insert() -> TestResult {
    let device = Device::open(&unreachable_url()).await?;
    let stored = device.table().insert(todo("milk")).await?;
    let id = text_of(&stored, "id").unwrap_or_default();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
    let ops = device.ctx.operations().await?;
    assert_eq!(ops.len(), 1);
    assert_eq!(
        (ops[0].kind, ops[0].item_id.as_str()),
        (OperationKind::Insert, id.as_str())
    );
    assert_eq!(device.ctx.pending_operations().await?, 1);
    Ok(())
}

#[tokio::test]
async fn insert_with_an_id_that_exists_locally_is_refused() -> TestResult {
    let device = Device::open(&unreachable_url()).await?;
    device.table().insert(todo_with_id("a", "one")).await?;
    let err = device.table().insert(todo_with_id("a", "two")).await.err();
    assert!(
        matches!(
            err,
            Some(ClientError::QueueConflict { .. } | ClientError::AlreadyExists { .. })
        ),
        "{err:?}"
    );
    assert_eq!(device.text("a").await?.as_deref(), Some("one"));
    assert_eq!(device.ctx.pending_operations().await?, 1);
    Ok(())
}

#[tokio::test]
async fn insert_of_an_unknown_column_is_refused() -> TestResult {
    let device = Device::open(&unreachable_url()).await?;
    let err = device
        .table()
        .insert(item(json!({"text": "x", "colour": "red"})))
        .await
        .err();
    assert!(
        matches!(err, Some(ClientError::InvalidInput { .. })),
        "{err:?}"
    );
    assert_eq!(device.ctx.pending_operations().await?, 0);
    Ok(())
}

#[tokio::test]
async fn insert_of_a_wrongly_typed_value_is_refused_and_nothing_is_queued() -> TestResult {
    let device = Device::open(&unreachable_url()).await?;
    let err = device
        .table()
        .insert(item(json!({"text": "x", "complete": "yes"})))
        .await
        .err();
    assert!(
        matches!(err, Some(ClientError::InvalidInput { .. })),
        "{err:?}"
    );
    assert_eq!(device.ctx.pending_operations().await?, 0);
    Ok(())
}

#[tokio::test]
async fn update_of_a_missing_item_is_not_found() -> TestResult {
    let device = Device::open(&unreachable_url()).await?;
    let err = device.table().update(todo_with_id("nope", "x")).await.err();
    assert!(matches!(err, Some(ClientError::NotFound { .. })), "{err:?}");
    Ok(())
}

#[tokio::test]
async fn rows_and_operations_survive_closing_and_reopening_the_store() -> TestResult {
    let device = Device::open(&unreachable_url()).await?;
    let a = device.add("a").await?;
    device.add("b").await?;
    let device = device.reopen(&unreachable_url()).await?;
    assert_eq!(device.ctx.pending_operations().await?, 2);
    assert_eq!(device.text(&a).await?.as_deref(), Some("a"));
    Ok(())
}

#[tokio::test]
async fn local_query_filters_orders_skips_and_takes() -> TestResult {
    let device = Device::open(&unreachable_url()).await?;
    for (text, done, priority) in [
        ("c", false, 3),
        ("a", false, 1),
        ("b", true, 2),
        ("d", false, 4),
    ] {
        device
            .table()
            .insert(item(
                json!({"text": text, "complete": done, "priority": priority}),
            ))
            .await?;
    }
    let q = Query::new()
        .filter(prop("complete").equals(lit(false)))
        .order_by_desc("priority")
        .skip(1)
        .take(2);
    let texts: Vec<_> = device
        .table()
        .query(&q)
        .await?
        .iter()
        .filter_map(|i| text_of(i, "text"))
        .collect();
    assert_eq!(texts, ["c", "a"]);
    let n = device
        .table()
        .count(&Query::new().filter(prop("priority").gt(lit(1))))
        .await?;
    assert_eq!(n, 3);
    Ok(())
}

#[tokio::test]
async fn local_query_on_an_unknown_column_is_an_error() -> TestResult {
    let device = Device::open(&unreachable_url()).await?;
    let err = device
        .table()
        .query(&Query::new().filter(prop("colour").equals(lit("red"))))
        .await
        .err();
    assert!(
        matches!(err, Some(ClientError::InvalidInput { .. })),
        "{err:?}"
    );
    Ok(())
}

#[tokio::test]
async fn push_to_an_unreachable_server_keeps_every_operation() -> TestResult {
    let device = Device::open(&unreachable_url()).await?;
    device.add("a").await?;
    device.add("b").await?;
    let result = device.ctx.push().await;
    assert_eq!(result.status, PushStatus::CancelledByNetworkError);
    assert_eq!(device.ctx.pending_operations().await?, 2);
    Ok(())
}

#[tokio::test]
async fn push_with_an_invalid_url_is_a_network_error_and_keeps_every_operation() -> TestResult {
    let device = Device::open("not a url at all").await?;
    device.add("a").await?;
    let result = device.ctx.push().await;
    assert_eq!(result.status, PushStatus::CancelledByNetworkError);
    assert_eq!(device.ctx.pending_operations().await?, 1);
    assert_eq!(
        device
            .text(&device.ctx.operations().await?[0].item_id)
            .await?
            .as_deref(),
        Some("a")
    );
    Ok(())
}

#[tokio::test]
async fn status_counts_pending_operations_for_the_badge() -> TestResult {
    let device = Device::open(&unreachable_url()).await?;
    let status = device.ctx.subscribe();
    device.add("a").await?;
    device.add("b").await?;
    assert_eq!(status.borrow().pending, 2);
    Ok(())
}

#[tokio::test]
async fn pull_refuses_bad_query_ids_select_and_paging_with_a_query_id() -> TestResult {
    let device = Device::open(&unreachable_url()).await?;
    let t = device.table();
    for qid in ["", "a|b", &"x".repeat(256)] {
        assert!(
            matches!(
                t.pull(Some(qid), &Query::new()).await,
                Err(ClientError::InvalidInput { .. })
            ),
            "{qid}"
        );
    }
    for q in [
        Query::new().select(["text"]),
        Query::new().order_by("text"),
        Query::new().skip(1),
        Query::new().take(1),
    ] {
        assert!(
            matches!(
                t.pull(Some("q"), &q).await,
                Err(ClientError::InvalidInput { .. })
            ),
            "{q:?}"
        );
    }
    assert!(matches!(
        t.pull(None, &Query::new().select(["text"])).await,
        Err(ClientError::InvalidInput { .. })
    ));
    Ok(())
}

#[tokio::test]
async fn purge_refuses_while_the_table_has_pending_operations() -> TestResult {
    let device = Device::open(&unreachable_url()).await?;
    let id = device.add("a").await?;
    let err = device.table().purge(None, &Query::new(), false).await.err();
    assert!(
        matches!(err, Some(ClientError::PendingOperations { pending: 1, .. })),
        "{err:?}"
    );
    assert!(device.table().lookup(&id).await?.is_some());
    Ok(())
}

#[tokio::test]
async fn forced_purge_drops_the_tables_operations_and_rows() -> TestResult {
    let device = Device::open(&unreachable_url()).await?;
    device.add("a").await?;
    device.add("b").await?;
    let removed = device.table().purge(None, &Query::new(), true).await?;
    assert_eq!(removed, 2);
    assert_eq!(device.ctx.pending_operations().await?, 0);
    assert!(device.table().query(&Query::new()).await?.is_empty());
    Ok(())
}
