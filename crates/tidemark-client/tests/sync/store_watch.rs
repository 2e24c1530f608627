//! [`SyncContext::watch_store`]: another program's commits to the store (a second connection,
//! as the CLI next to the app) wake the watcher quickly; the context's own writes do not.

use std::time::Duration;

use tidemark_client::{RemoteConfig, SyncContext};

use crate::common::{TestResult, todo, todo_table, unreachable_url};

const EVERY: Duration = Duration::from_millis(100);

async fn open(path: &std::path::Path) -> anyhow::Result<SyncContext> {
    Ok(SyncContext::open(
        path,
        vec![todo_table()],
        RemoteConfig::new(unreachable_url()),
    )
    .await?)
}

#[tokio::test]
async fn another_programs_commit_wakes_the_watcher_and_updates_the_pending_count() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("store.db");
    let app = open(&path).await?;
    let mut watcher = app.watch_store(EVERY).await?;
    let mut status = app.subscribe();
    assert_eq!(status.borrow_and_update().pending, 0);

    let cli = open(&path).await?;
    cli.table("todoitem")?.insert(todo("from the CLI")).await?;
    cli.close().await;
    tokio::time::timeout(Duration::from_secs(2), watcher.changed())
        .await
        .map_err(|_| anyhow::anyhow!("another program's commit went unnoticed for 2 s"))??;
    assert!(status.has_changed()?, "the pending count was not published");
    assert_eq!(status.borrow_and_update().pending, 1);
    let items = app.table("todoitem")?.query(&Default::default()).await?;
    assert_eq!(items.len(), 1);
    app.close().await;
    Ok(())
}

#[tokio::test]
async fn the_contexts_own_writes_do_not_wake_the_watcher() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("store.db");
    let app = open(&path).await?;
    let before = app.data_version().await?;
    let mut watcher = app.watch_store(EVERY).await?;
    app.table("todoitem")?.insert(todo("mine")).await?;
    assert_eq!(app.data_version().await?, before);
    let woke = tokio::time::timeout(EVERY * 5, watcher.changed()).await;
    assert!(woke.is_err(), "woke for the context's own write: {woke:?}");
    app.close().await;
    Ok(())
}

#[tokio::test]
async fn a_closed_store_fails_the_watcher_instead_of_hanging() -> TestResult {
    let dir = tempfile::tempdir()?;
    let app = open(&dir.path().join("store.db")).await?;
    let mut watcher = app.watch_store(EVERY).await?;
    app.close().await;
    let result = tokio::time::timeout(Duration::from_secs(2), watcher.changed()).await?;
    assert!(result.is_err());
    Ok(())
}
