//! The local SQLite store: one connection, owned by one dedicated thread, that runs closures
//! sent to it over a channel. Every other module reaches SQLite through [`LocalStore::call`],
//! and every SQL string lives in this module's files.
//!
//! Why a thread rather than a mutex: jobs run strictly in the order they were sent, and a slow
//! transaction never blocks a tokio worker.

mod migrations;
pub(crate) mod ops;
pub(crate) mod rows;
mod sql_query;
pub(crate) mod values;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{Connection, MAIN_DB, OpenFlags, TransactionBehavior};
use tokio::sync::oneshot;

use crate::error::{ClientError, Result};
use crate::schema::TableDefinition;

/// How long a statement waits for a lock held by another connection (e.g. a CLI next to the app).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// The local SQLite store: user tables plus `__operations`, `__errors` and `__config`.
#[derive(Clone)]
pub struct LocalStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    sender: Mutex<Option<mpsc::Sender<Job>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for LocalStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalStore")
            .field("path", &self.inner.path)
            .finish()
    }
}

impl LocalStore {
    /// Opens (or creates) the store at `path`, migrates its system tables and creates or
    /// widens the user tables. A corrupt file or a newer schema is an error; nothing is reset.
    pub async fn open(path: impl AsRef<Path>, tables: &[TableDefinition]) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        for t in tables {
            t.validate()?;
        }
        let tables = tables.to_vec();
        let (ready_tx, ready_rx) = oneshot::channel::<Result<()>>();
        let (sender, receiver) = mpsc::channel::<Job>();
        let thread_path = path.clone();
        let thread = std::thread::Builder::new()
            .name("tidemark-store".into())
            .spawn(move || {
                let mut conn = match open_connection(&thread_path, &tables) {
                    Ok(conn) => {
                        let _ = ready_tx.send(Ok(()));
                        conn
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                // Runs until every sender is gone, then the connection closes with the thread.
                while let Ok(job) = receiver.recv() {
                    job(&mut conn);
                }
            })
            .map_err(|e| ClientError::Store {
                path: path.clone(),
                message: format!("cannot start the store thread: {e}"),
            })?;
        let opened = ready_rx.await.map_err(|_| ClientError::Store {
            path: path.clone(),
            message: "the store thread stopped while opening".into(),
        });
        match opened.and_then(|r| r) {
            Ok(()) => Ok(Self {
                inner: Arc::new(Inner {
                    path,
                    sender: Mutex::new(Some(sender)),
                    thread: Mutex::new(Some(thread)),
                }),
            }),
            Err(e) => {
                let _ = thread.join();
                Err(e)
            }
        }
    }

    /// The file this store lives in.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` on the store's connection and returns its result. Errors from SQLite are
    /// reported with the store's path.
    pub(crate) async fn call<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<R> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let _ = tx.send(f(conn));
        });
        let sent = match self.inner.sender.lock() {
            Ok(guard) => guard.as_ref().map(|s| s.send(job).is_ok()).unwrap_or(false),
            Err(_) => false,
        };
        if !sent {
            return Err(self.closed());
        }
        match rx.await {
            Ok(result) => result.map_err(|e| self.with_path(e)),
            Err(_) => Err(self.closed()),
        }
    }

    /// Closes the connection after the jobs already sent, and waits for it to be closed.
    pub async fn close(&self) {
        let sender = self.inner.sender.lock().ok().and_then(|mut s| s.take());
        drop(sender);
        let thread = self.inner.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(thread) = thread {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }

    fn closed(&self) -> ClientError {
        ClientError::Store {
            path: self.inner.path.clone(),
            message: "the store is closed".into(),
        }
    }

    fn with_path(&self, e: ClientError) -> ClientError {
        e.with_store_path(&self.inner.path)
    }
}

impl From<rusqlite::Error> for ClientError {
    fn from(e: rusqlite::Error) -> Self {
        // The path is filled in by `LocalStore::call`, which knows it.
        ClientError::from_sqlite(Path::new(""), e)
    }
}

fn open_connection(path: &Path, tables: &[TableDefinition]) -> Result<Connection> {
    open_connection_inner(path, tables).map_err(|e| match e {
        // SQLite says only "unable to open database file" when it cannot create the WAL's
        // companion files on a read-only file system; the file system can say why.
        ClientError::Store { path, message } => match refuses_writes(&path) {
            Some(reason) => ClientError::ReadOnlyStore {
                path,
                message: format!("{reason} ({message})"),
            },
            None => ClientError::Store { path, message },
        },
        other => other,
    })
}

/// Why the file at `path` cannot be opened for writing, when that is the trouble. Opening an
/// existing file for writing changes nothing in it; a missing one SQLite could not create is
/// tried the same way, and the empty file removed again when that works.
fn refuses_writes(path: &Path) -> Option<String> {
    let attempt = if path.exists() {
        std::fs::OpenOptions::new().write(true).open(path).map(drop)
    } else {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map(|_| {
                let _ = std::fs::remove_file(path);
            })
    };
    match attempt {
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::ReadOnlyFilesystem | std::io::ErrorKind::PermissionDenied
            ) =>
        {
            Some(e.to_string())
        }
        _ => None,
    }
}

fn open_connection_inner(path: &Path, tables: &[TableDefinition]) -> Result<Connection> {
    let store_err = |e: rusqlite::Error| ClientError::from_sqlite(path, e);
    let mut conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI,
    )
    .map_err(store_err)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(store_err)?;
    // The first real read: a file that is not a database fails here, before anything is written.
    migrations::check_readable(&conn).map_err(store_err)?;
    // A truncated or partly overwritten file can still answer the first read; walking every
    // page once (milliseconds for a todo store) finds the damage before anything is written.
    let verdict: String = conn
        .query_row("PRAGMA quick_check(1)", [], |r| r.get(0))
        .map_err(store_err)?;
    if verdict != "ok" {
        return Err(ClientError::CorruptStore {
            path: path.to_path_buf(),
            message: format!("the integrity check failed: {verdict}"),
        });
    }
    // SQLite quietly opens a file it may not write (read-only file system or file) read-only;
    // say so now rather than at the first change the user makes.
    if conn.is_readonly(MAIN_DB).map_err(store_err)? {
        return Err(ClientError::ReadOnlyStore {
            path: path.to_path_buf(),
            message: "SQLite could open it for reading only".into(),
        });
    }
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(store_err)?;
    // FULL syncs the WAL at every commit: a change the user was told is saved survives a
    // power cut (NORMAL syncs only at checkpoints, which could lose days of offline edits).
    // Writes that a later sync redoes opt out with `redoable`.
    conn.pragma_update(None, "synchronous", SYNC_EVERY_COMMIT)
        .map_err(store_err)?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(store_err)?;
    // 16 MiB instead of SQLite's 2 MB: a pull page or a push batch touches more pages than
    // that (rows, the queue and their indexes), which otherwise spill and are read back.
    conn.pragma_update(None, "cache_size", -16_384)
        .map_err(store_err)?;
    // Checkpoint every 32 MiB of WAL rather than 4: a pull commits a page of rows at a time,
    // and rows with random ids dirty index pages all over the file; a page changed by many
    // commits is then copied back to the database once instead of once per checkpoint.
    conn.pragma_update(None, "wal_autocheckpoint", 8192)
        .map_err(store_err)?;
    conn.set_prepared_statement_cache_capacity(64);
    // Cached statements are not parsed and planned again for each new `LIMIT ?` value.
    tidemark_sql::sqlite::keep_plans(&conn).map_err(store_err)?;
    // The SQL functions local queries use (Unicode case mapping, dates…), as on the server.
    tidemark_sql::sqlite::register(&conn).map_err(store_err)?;
    // Every transaction here writes. Taking the write lock when it begins lets SQLite wait
    // (BUSY_TIMEOUT) for another program that holds it: a deferred one that has read first
    // gets SQLITE_BUSY at once when it tries to write, without waiting at all.
    conn.set_transaction_behavior(TransactionBehavior::Immediate);
    migrations::migrate(&conn, path)?;
    rows::ensure_tables(&conn, tables).map_err(store_err)?;
    Ok(conn)
}

/// The store's `PRAGMA data_version`: a number that changes when another connection (another
/// process, such as the CLI next to the app) commits to the file, and not on this one's commits.
/// The store's `synchronous` setting: every commit is on disk before it returns.
const SYNC_EVERY_COMMIT: &str = "FULL";

/// Runs `f`, whose commits a later sync redoes if a power cut takes them back, without waiting
/// for the disk: a pulled page (its rows and its delta token are lost together, so the page is
/// pulled again) and the write-back of an accepted operation (the operation stays queued and
/// its resend is recognised: the server replays the original outcome for its idempotency tag,
/// a stock server's copy is compared with what was sent). WAL commits stay in order, so the
/// next synced commit makes these durable too; see docs/reliability.md.
pub(crate) fn redoable<R>(
    conn: &mut Connection,
    f: impl FnOnce(&mut Connection) -> Result<R>,
) -> Result<R> {
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    let outcome = f(conn);
    // Back to durable commits whatever `f` did: a user's next change must not inherit this.
    let restored = conn.pragma_update(None, "synchronous", SYNC_EVERY_COMMIT);
    let value = outcome?;
    restored?;
    Ok(value)
}

pub(crate) fn data_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA data_version", [], |r| r.get(0))
}
