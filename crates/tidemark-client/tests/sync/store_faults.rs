//! The local store when its disk misbehaves: full, read-only, damaged. Each failure is a typed
//! error naming the file (so the app can tell the three apart), and nothing already queued is
//! lost.
//!
//! The full and read-only cases use a real small file system: a tmpfs mounted for the test
//! (the suite runs as root in CI). SQLite's `PRAGMA max_page_count` cannot stand in for it, as
//! it is a setting of the engine's own connection, out of a test's reach. Where mounting is not
//! permitted (not root, or a container without `CAP_SYS_ADMIN`) those tests print SKIPPED and
//! return; the damaged-file cases need no mount.

use std::path::{Path, PathBuf};
use std::process::Command;

use tidemark_client::{ClientError, RemoteConfig, SyncContext};
use tidemark_testkit::server::TestServer;

use crate::common::{TestResult, server, server_rows, text_of, todo, todo_table};

/// A tmpfs of a fixed size mounted on a fresh temporary directory, unmounted when dropped.
struct SmallFs {
    dir: tempfile::TempDir,
}

impl SmallFs {
    /// Mounts a tmpfs of `size` (e.g. `"1m"`), or `None` (after saying why) when mounting is
    /// not permitted here.
    fn mount(size: &str) -> Option<Self> {
        let dir = tempfile::tempdir().ok()?;
        let status = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0755"),
                "tidemark-test",
            ])
            .arg(dir.path())
            .status();
        match status {
            Ok(s) if s.success() => Some(Self { dir }),
            other => {
                eprintln!(
                    "SKIPPED: cannot mount a small tmpfs here ({other:?}); the full-disk and \
                     read-only store tests need root with CAP_SYS_ADMIN"
                );
                None
            }
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Remounts read-only (`true`) or read-write (`false`).
    fn remount(&self, read_only: bool) -> TestResult {
        let mode = if read_only {
            "remount,ro"
        } else {
            "remount,rw"
        };
        let status = Command::new("mount")
            .args(["-o", mode])
            .arg(self.path())
            .status()?;
        anyhow::ensure!(status.success(), "mount -o {mode} failed: {status}");
        Ok(())
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        // Lazy, so a file still open somewhere cannot leave the mount behind.
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

async fn open(path: &Path, url: &str) -> Result<SyncContext, ClientError> {
    SyncContext::open(path, vec![todo_table()], RemoteConfig::new(url)).await
}

async fn add(ctx: &SyncContext, text: &str) -> Result<String, ClientError> {
    let stored = ctx.table("todoitem")?.insert(todo(text)).await?;
    Ok(text_of(&stored, "id").unwrap_or_default())
}

/// Fills the file system holding `dir` with a file of its own; returns that file.
fn fill(dir: &Path) -> anyhow::Result<PathBuf> {
    use std::io::Write as _;
    let filler = dir.join("filler");
    let mut file = std::fs::File::create(&filler)?;
    let chunk = vec![0xA5u8; 4096];
    while file.write_all(&chunk).is_ok() {}
    let _ = file.sync_all();
    Ok(filler)
}

#[tokio::test]
async fn a_full_disk_is_reported_as_full_and_the_queue_survives_to_be_pushed() -> TestResult {
    let Some(fs) = SmallFs::mount("2m") else {
        return Ok(());
    };
    let server: TestServer = server().await;
    let path = fs.path().join("store.db");
    let ctx = open(&path, server.url()).await?;
    let mut queued = Vec::new();
    for text in ["milk", "eggs", "bread"] {
        queued.push(add(&ctx, text).await?);
    }
    let filler = fill(fs.path())?;
    // Large items, so the pages SQLite still has free are used up within a few writes.
    let big = "x".repeat(64 * 1024);
    let mut failure = None;
    for _ in 0..64 {
        match add(&ctx, &big).await {
            Ok(id) => queued.push(id),
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    match &failure {
        Some(ClientError::StoreFull { path: p, .. }) => assert_eq!(p, &path),
        other => panic!("expected StoreFull, got {other:?}"),
    }
    let message = failure.map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains("disk is full"), "{message}");
    assert!(message.contains("store.db"), "{message}");
    // Everything queued before the failure is still there, readable and counted.
    assert_eq!(ctx.pending_operations().await?, queued.len() as u64);
    let ops: Vec<String> = ctx
        .operations()
        .await?
        .into_iter()
        .map(|op| op.item_id)
        .collect();
    assert_eq!(ops, queued);
    // Space is freed: the same write now succeeds and the whole queue lands on the server.
    std::fs::remove_file(&filler)?;
    queued.push(add(&ctx, &big).await?);
    let pushed = ctx.push().await;
    assert!(pushed.is_success(), "{pushed} {:?}", pushed.errors);
    assert_eq!(ctx.pending_operations().await?, 0);
    let mut on_server: Vec<String> = server_rows(server.url())
        .await?
        .iter()
        .filter_map(|r| text_of(r, "id"))
        .collect();
    on_server.sort();
    queued.sort();
    assert_eq!(on_server, queued);
    ctx.close().await;
    Ok(())
}

#[tokio::test]
async fn a_store_on_a_read_only_file_system_is_reported_read_only_and_left_untouched() -> TestResult
{
    let Some(fs) = SmallFs::mount("4m") else {
        return Ok(());
    };
    let path = fs.path().join("store.db");
    let url = "http://127.0.0.1:9/";
    let ctx = open(&path, url).await?;
    add(&ctx, "milk").await?;
    add(&ctx, "eggs").await?;
    ctx.close().await;
    let before = std::fs::read(&path)?;
    fs.remount(true)?;
    let err = open(&path, url).await.err();
    match &err {
        Some(ClientError::ReadOnlyStore { path: p, .. }) => assert_eq!(p, &path),
        other => panic!("expected ReadOnlyStore, got {other:?}"),
    }
    assert!(err.is_some_and(|e| e.to_string().contains("read-only")));
    fs.remount(false)?;
    assert_eq!(std::fs::read(&path)?, before);
    let ctx = open(&path, url).await?;
    assert_eq!(ctx.pending_operations().await?, 2);
    ctx.close().await;
    Ok(())
}

#[tokio::test]
async fn a_store_opened_read_only_is_reported_read_only() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("store.db");
    let url = "http://127.0.0.1:9/";
    let ctx = open(&path, url).await?;
    add(&ctx, "milk").await?;
    ctx.close().await;
    // Root ignores file permissions, so ask SQLite itself for a read-only connection.
    let uri = PathBuf::from(format!("file:{}?mode=ro", path.display()));
    let err = open(&uri, url).await.err();
    assert!(
        matches!(&err, Some(ClientError::ReadOnlyStore { .. })),
        "{err:?}"
    );
    let ctx = open(&path, url).await?;
    assert_eq!(ctx.pending_operations().await?, 1);
    ctx.close().await;
    Ok(())
}

/// A store holding enough items to span many pages, closed; returns its bytes.
async fn store_with_items(path: &Path) -> anyhow::Result<Vec<u8>> {
    let ctx = open(path, "http://127.0.0.1:9/").await?;
    for i in 0..200 {
        add(&ctx, &format!("item {i} {}", "y".repeat(200))).await?;
    }
    ctx.close().await;
    Ok(std::fs::read(path)?)
}

#[tokio::test]
async fn a_truncated_store_is_corrupt_names_the_file_and_is_not_replaced() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("store.db");
    let bytes = store_with_items(&path).await?;
    let truncated = &bytes[..bytes.len() / 2];
    std::fs::write(&path, truncated)?;
    let err = open(&path, "http://127.0.0.1:9/").await.err();
    match &err {
        Some(ClientError::CorruptStore { path: p, .. }) => assert_eq!(p, &path),
        other => panic!("expected CorruptStore, got {other:?}"),
    }
    assert!(err.is_some_and(|e| e.to_string().contains("store.db")));
    assert_eq!(
        std::fs::read(&path)?,
        truncated,
        "the damaged file was changed"
    );
    Ok(())
}

#[tokio::test]
async fn a_store_with_garbage_over_its_pages_is_corrupt_and_is_not_replaced() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("store.db");
    let mut bytes = store_with_items(&path).await?;
    // Keep the header (so it still looks like SQLite) and scribble over the pages after it.
    let start = 4096.min(bytes.len());
    let end = (start + 16 * 4096).min(bytes.len());
    for (i, b) in bytes[start..end].iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(31).wrapping_add(7);
    }
    std::fs::write(&path, &bytes)?;
    let err = open(&path, "http://127.0.0.1:9/").await.err();
    assert!(
        matches!(&err, Some(ClientError::CorruptStore { path: p, .. }) if p == &path),
        "{err:?}"
    );
    assert_eq!(std::fs::read(&path)?, bytes, "the damaged file was changed");
    Ok(())
}

#[tokio::test]
async fn a_new_store_in_a_read_only_folder_is_reported_read_only_and_nothing_is_left_behind()
-> TestResult {
    let Some(fs) = SmallFs::mount("1m") else {
        return Ok(());
    };
    fs.remount(true)?;
    let path = fs.path().join("store.db");
    let err = open(&path, "http://127.0.0.1:9/")
        .await
        .expect_err("a store was created on a read-only file system");
    assert_eq!(
        err.kind(),
        tidemark_client::ErrorKind::StoreReadOnly,
        "{err:?}"
    );
    assert_eq!(err.store_path(), Some(path.as_path()));
    fs.remount(false)?;
    assert!(!path.exists(), "a file was left behind");
    Ok(())
}
