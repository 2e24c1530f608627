//! Every store failure a person acts on has its typed kind ([`ErrorKind`]), classified from
//! SQLite's result codes and the OS's error kinds: a file that is not a database, a store
//! another program holds locked, a folder the store cannot be created in.

use std::path::Path;
use std::time::{Duration, Instant};

use tidemark_client::{ClientError, ErrorKind, RemoteConfig, SyncContext};

use crate::common::{TestResult, todo, todo_table, unreachable_url};

async fn open(path: &Path) -> Result<SyncContext, ClientError> {
    SyncContext::open(
        path,
        vec![todo_table()],
        RemoteConfig::new(unreachable_url()),
    )
    .await
}

#[tokio::test]
async fn a_file_that_is_not_a_database_is_of_kind_store_corrupt() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("store.db");
    let bytes = b"a shopping list, not a database\n".repeat(64);
    std::fs::write(&path, &bytes)?;
    let err = open(&path)
        .await
        .expect_err("a text file opened as a store");
    assert_eq!(err.kind(), ErrorKind::StoreCorrupt, "{err:?}");
    assert!(err.kind().is_store_fault());
    assert_eq!(err.store_path(), Some(path.as_path()));
    assert_eq!(std::fs::read(&path)?, bytes, "the file was changed");
    Ok(())
}

#[tokio::test]
async fn a_store_another_program_holds_locked_is_of_kind_store_busy_and_nothing_is_queued()
-> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("store.db");
    let ctx = open(&path).await?;
    let table = ctx.table("todoitem")?;
    table.insert(todo("milk")).await?;
    // Another program takes the write lock and keeps it past the engine's busy timeout.
    let other = rusqlite::Connection::open(&path)?;
    other.execute_batch("BEGIN EXCLUSIVE")?;
    let started = Instant::now();
    let err = table
        .insert(todo("eggs"))
        .await
        .expect_err("a write went through a locked store");
    assert_eq!(err.kind(), ErrorKind::StoreBusy, "{err:?}");
    assert!(err.kind().is_store_fault());
    assert_eq!(err.store_path(), Some(path.as_path()));
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "gave up at once instead of waiting for the lock"
    );
    // Once the other program lets go, the same write goes through; the refused one left nothing.
    other.execute_batch("ROLLBACK")?;
    drop(other);
    assert_eq!(ctx.pending_operations().await?, 1);
    table.insert(todo("eggs")).await?;
    assert_eq!(ctx.pending_operations().await?, 2);
    ctx.close().await;
    Ok(())
}

#[tokio::test]
async fn a_store_in_a_folder_that_does_not_exist_is_of_kind_store() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("missing").join("store.db");
    let err = open(&path).await.expect_err("a store opened in no folder");
    assert_eq!(err.kind(), ErrorKind::Store, "{err:?}");
    assert!(!err.kind().is_store_fault());
    assert_eq!(err.store_path(), Some(path.as_path()));
    Ok(())
}

#[tokio::test]
async fn io_errors_on_the_store_folder_are_classified_by_kind() {
    let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
    let err = ClientError::from_store_io("/data/store.db", "creating its folder", &denied);
    assert_eq!(err.kind(), ErrorKind::StoreReadOnly);
    assert!(err.to_string().contains("creating its folder"), "{err}");
}
