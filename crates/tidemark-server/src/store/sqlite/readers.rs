//! The SQLite store's read side: a fixed number of read-only connections, and how one read runs
//! on them so that it cannot outlive its request.
//!
//! A read waits (asynchronously, so for no longer than its request lives) for a free
//! connection, then runs on a blocking thread. Two things stop it early: dropping the read's
//! future (the timeout layer answering 408, a client going away) interrupts the connection
//! through SQLite's interrupt handle, and a progress handler stops any statement that runs past
//! the read's deadline. Either way the statement fails with `SQLITE_INTERRUPT`, the connection
//! goes back to the pool and its slot is freed only then, so the number of busy connections
//! never exceeds the pool's size.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rusqlite::limits::Limit;
use rusqlite::{Connection, ErrorCode, InterruptHandle, OpenFlags};
use tokio::sync::Semaphore;

use crate::store::StoreError;

/// Page cache per reader, in SQLite's negative-means-KiB form: 32 MiB. A pull reads rows in
/// change order, which for random ids jumps all over the table's pages: with 8 MiB the server
/// spent 11 % more CPU on a 100 000-row pull (perf task-clock, A/B against 64 MiB), with
/// 32 MiB a todo database of that size stays cached. The pool is fixed, so with the default
/// four readers this is 128 MiB at most, and only as far as pages are really read.
const READER_CACHE_SIZE: i64 = -32_768;

/// Page cache of the quick connection ([`Readers::run_quick`]): 512 KiB.
const QUICK_CACHE_SIZE: i64 = -512;

/// How many SQLite virtual-machine steps run between two looks at the deadline: frequent
/// enough to stop within milliseconds, rare enough to cost nothing measurable.
const PROGRESS_STEPS: i32 = 10_000;

/// How the read connections are set up.
#[derive(Debug, Clone)]
pub(super) struct ReaderSettings {
    /// How many connections (and so concurrent reads) there are.
    pub(super) count: usize,
    /// How long a connection waits for a lock.
    pub(super) busy_timeout: Duration,
    /// The longest any one read may run before it is stopped.
    pub(super) deadline: Duration,
    /// SQLite's length limit for strings and blobs on these connections.
    pub(super) max_value_bytes: usize,
}

/// The pool of read connections.
pub(super) struct Readers {
    path: PathBuf,
    settings: ReaderSettings,
    idle: Mutex<Vec<Connection>>,
    /// One permit per connection: a read holds one from before it takes a connection until
    /// after it has given it back.
    slots: Arc<Semaphore>,
    /// One more connection, outside the pool, for [`Readers::run_quick`].
    quick: Mutex<Connection>,
}

impl Readers {
    /// Opens every read connection of the database at `path`.
    pub(super) fn open(path: &Path, settings: ReaderSettings) -> rusqlite::Result<Self> {
        let count = settings.count.max(1);
        let quick = open_reader(path, &settings)?;
        // A quick read never waits for a lock: busy, it goes the pooled way instead.
        quick.busy_timeout(Duration::ZERO)?;
        // A small page cache: a point lookup reads few pages, and in WAL mode a connection
        // drops its whole cache whenever it finds the database changed (after every write), a
        // cost that grows with the cache (pcache1TruncateUnsafe in a profile of writes).
        quick.pragma_update(None, "cache_size", QUICK_CACHE_SIZE)?;
        let readers = Self {
            path: path.to_path_buf(),
            settings,
            idle: Mutex::new(Vec::with_capacity(count)),
            slots: Arc::new(Semaphore::new(count)),
            quick: Mutex::new(quick),
        };
        for _ in 0..count {
            let conn = readers.open_one()?;
            readers.put(conn);
        }
        Ok(readers)
    }

    /// Runs `f` on a read connection on a blocking thread, stopping it when this future is
    /// dropped or the deadline passes (it then fails with [`StoreError::Unavailable`]).
    pub(super) async fn run<T, F>(self: &Arc<Self>, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let slot = Arc::clone(&self.slots)
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Unavailable("the store is closing".into()))?;
        let mut conn = self.take()?;
        let handle = Arc::new(Mutex::new(Some(conn.get_interrupt_handle())));
        let _interrupt_on_drop = InterruptOnDrop(Arc::clone(&handle));
        let readers = Arc::clone(self);
        let deadline = Instant::now() + self.settings.deadline;
        tokio::task::spawn_blocking(move || {
            let _slot = slot;
            // Abandoned while it waited for a blocking thread: an interrupt before a statement
            // starts does nothing, so do not start one.
            if handle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .is_none()
            {
                readers.put(conn);
                return Err(StoreError::Unavailable("the request was abandoned".into()));
            }
            let result = conn
                .progress_handler(PROGRESS_STEPS, Some(move || Instant::now() >= deadline))
                .map_err(StoreError::internal)
                .and_then(|()| f(&mut conn));
            // From here no interrupt may reach the connection: it is about to serve another
            // read. The guard and this line take the handle under one lock, so an interrupt
            // either lands while `f` runs or not at all.
            handle.lock().unwrap_or_else(PoisonError::into_inner).take();
            match conn.progress_handler(0, None::<fn() -> bool>) {
                Ok(()) => readers.put(conn),
                Err(e) => log::warn!("dropping a read connection: {e}"),
            }
            result
        })
        .await
        .map_err(StoreError::internal)?
    }

    /// Runs `f` at once, on this thread, when the quick connection is free: for point lookups
    /// by primary key that take microseconds (the session of a token, on every request), where
    /// the trip to a blocking thread and back costs several times the lookup (with it, a
    /// token check halved a single-row write's throughput). `None` when the connection is in
    /// use or the database is busy; the caller then uses [`Readers::run`]. Nothing else may
    /// run here: a statement on this connection blocks an async worker for as long as it runs.
    pub(super) fn run_quick<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Option<Result<T, StoreError>> {
        let conn = self.quick.try_lock().ok()?;
        match f(&conn) {
            Ok(value) => Some(Ok(value)),
            Err(e) if e.sqlite_error_code() == Some(ErrorCode::DatabaseBusy) => None,
            Err(e) => Some(Err(self.error(e))),
        }
    }

    /// The error a failed read step means: stopped (deadline or abandoned request), a value
    /// over the length limit (the query's fault: 400), or a storage failure.
    pub(super) fn error(&self, error: rusqlite::Error) -> StoreError {
        match error.sqlite_error_code() {
            Some(ErrorCode::OperationInterrupted) => StoreError::Unavailable(format!(
                "the query was stopped: it ran longer than {} s or its request was abandoned",
                self.settings.deadline.as_secs_f32()
            )),
            Some(ErrorCode::TooBig) => StoreError::InvalidQuery(format!(
                "a value the query reads or computes is longer than the limit of {} bytes",
                self.settings.max_value_bytes
            )),
            _ => StoreError::internal(error),
        }
    }

    /// An idle connection; a new one only if one was lost (a read that panicked).
    fn take(&self) -> Result<Connection, StoreError> {
        let pooled = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        match pooled {
            Some(conn) => Ok(conn),
            None => self.open_one().map_err(StoreError::internal),
        }
    }

    fn put(&self, conn: Connection) {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(conn);
    }

    fn open_one(&self) -> rusqlite::Result<Connection> {
        open_reader(&self.path, &self.settings)
    }
}

/// A read-only connection to the database at `path`, set up as `settings` say.
fn open_reader(path: &Path, settings: &ReaderSettings) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(settings.busy_timeout)?;
    tidemark_sql::sqlite::keep_plans(&conn)?;
    conn.pragma_update(None, "cache_size", READER_CACHE_SIZE)?;
    // Bounds every string SQLite makes on a reader (`replace`, `||`, …) and every value it
    // reads: a filter cannot build a value of hundreds of megabytes from one row.
    let max = i32::try_from(settings.max_value_bytes).unwrap_or(i32::MAX);
    conn.set_limit(Limit::SQLITE_LIMIT_LENGTH, max)?;
    tidemark_sql::sqlite::register(&conn)?;
    Ok(conn)
}

/// Interrupts the read's connection when dropped before the read took its handle back.
struct InterruptOnDrop(Arc<Mutex<Option<InterruptHandle>>>);

impl Drop for InterruptOnDrop {
    fn drop(&mut self) {
        let handle = self.0.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(handle) = handle {
            log::debug!("a read was abandoned; interrupting its statement");
            handle.interrupt();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn readers(dir: &Path) -> Readers {
        let path = dir.join("quick.db");
        let writer = Connection::open(&path).expect("opens");
        writer
            .execute_batch(
                "PRAGMA journal_mode=WAL; CREATE TABLE t (k INTEGER PRIMARY KEY); \
                 INSERT INTO t VALUES (1);",
            )
            .expect("creates");
        let settings = ReaderSettings {
            count: 1,
            busy_timeout: Duration::from_secs(1),
            deadline: Duration::from_secs(1),
            max_value_bytes: 1 << 20,
        };
        Readers::open(&path, settings).expect("opens the readers")
    }

    fn count(conn: &Connection) -> rusqlite::Result<i64> {
        conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0))
    }

    #[test]
    fn a_quick_read_runs_inline_and_declines_while_the_connection_is_in_use() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let readers = readers(dir.path());
        assert!(matches!(readers.run_quick(count), Some(Ok(1))));
        // Held by another read (another worker thread in the server): the caller is told to
        // go the pooled way rather than wait.
        let held = readers.quick.lock().expect("not poisoned");
        assert!(readers.run_quick(count).is_none());
        drop(held);
        // A failing statement is an error, not a decline.
        let failed =
            readers.run_quick(|c| c.query_row("SELECT nope FROM t", [], |r| r.get::<_, i64>(0)));
        assert!(matches!(failed, Some(Err(_))));
    }
}
