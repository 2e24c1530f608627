//! The store's faults as the backend reports them: a corrupt file, a full disk, a store another
//! program holds locked. Each is refused with its own kind, names the file, and loses nothing
//! saved or queued before.

use std::sync::Arc;

use crate::backend::{Backend, BackendConfig};
use crate::settings::MemorySettingsStore;

/// Opens a backend on `data_dir` with no server, for the store-fault tests.
async fn open_at(data_dir: &std::path::Path) -> Result<Arc<Backend>, crate::error::CommandError> {
    Backend::open(
        BackendConfig {
            data_dir: data_dir.to_owned(),
            ..BackendConfig::default()
        },
        Box::new(MemorySettingsStore::default()),
        Arc::new(crate::backend::NoNotifier),
    )
    .await
}

#[tokio::test]
async fn a_corrupt_store_is_refused_by_name_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join(tidemark_todos::STORE_FILE_NAME);
    let garbage = b"not a database at all, but someone's bytes\n".repeat(20);
    std::fs::write(&store, &garbage).unwrap();
    let Err(error) = open_at(dir.path()).await else {
        panic!("a corrupt store opened")
    };
    assert_eq!(error.kind(), "storeCorrupt");
    assert_eq!(error.store_path(), Some(store.as_path()));
    assert_eq!(std::fs::read(&store).unwrap(), garbage);
}

#[tokio::test]
async fn a_full_disk_refuses_the_change_and_keeps_the_queue() {
    // /dev/full takes the place of the write-ahead log: every write fails with ENOSPC, as on
    // a full disk, while reads still work. It needs no privilege, unlike a small tmpfs.
    if !std::path::Path::new("/dev/full").exists() {
        println!("SKIPPED: no /dev/full on this system");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let backend = open_at(dir.path()).await.unwrap();
    backend.add_todo("Buy milk").await.unwrap();
    backend.close().await;
    let wal = dir
        .path()
        .join(format!("{}-wal", tidemark_todos::STORE_FILE_NAME));
    let _ = std::fs::remove_file(&wal);
    std::os::unix::fs::symlink("/dev/full", &wal).unwrap();

    let result = open_at(dir.path()).await;
    let error = match result {
        // Opening may already need the log (to check it), or only the first write does.
        Err(e) => e,
        Ok(backend) => {
            assert_eq!(backend.list_todos(true).await.unwrap().len(), 1);
            let e = backend.add_todo("Call the plumber").await.unwrap_err();
            backend.close().await;
            e
        }
    };
    assert!(matches!(error.kind(), "storeFull" | "store"), "{error:?}");
    // SQLite may have removed the link itself when it closed the store.
    let _ = std::fs::remove_file(&wal);
    let backend = open_at(dir.path()).await.unwrap();
    let todos = backend.list_todos(true).await.unwrap();
    assert_eq!(
        todos.iter().map(|t| t.text.as_str()).collect::<Vec<_>>(),
        ["Buy milk"]
    );
    assert_eq!(backend.status().await.unwrap().list.pending, 1);
    backend.close().await;
}

#[tokio::test]
async fn a_store_another_program_holds_locked_refuses_the_change_as_busy_and_keeps_the_list() {
    let dir = tempfile::tempdir().unwrap();
    let backend = open_at(dir.path()).await.unwrap();
    backend.add_todo("Buy milk").await.unwrap();
    // Another program (the CLI in the middle of a long write, say) holds the write lock past
    // the engine's wait.
    let store = dir.path().join(tidemark_todos::STORE_FILE_NAME);
    let other = rusqlite::Connection::open(&store).unwrap();
    other.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let error = backend.add_todo("Call the plumber").await.unwrap_err();
    assert_eq!(error.kind(), "storeBusy", "{error:?}");
    assert!(error.is_store_fault());
    assert_eq!(error.store_path(), Some(store.as_path()));
    assert!(error.to_string().contains("Try again"), "{error}");
    other.execute_batch("ROLLBACK").unwrap();
    drop(other);
    // Nothing was half-written, and the same change goes through once the lock is gone.
    assert_eq!(backend.status().await.unwrap().list.pending, 1);
    backend.add_todo("Call the plumber").await.unwrap();
    assert_eq!(backend.list_todos(true).await.unwrap().len(), 2);
    backend.close().await;
}
