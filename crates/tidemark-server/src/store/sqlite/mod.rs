//! [`SqliteTableStore`]: the embedded default store, one SQLite file in WAL mode.
//!
//! One writer connection behind a mutex serializes every write (and the change clock with it);
//! reads use a small pool of read-only connections, so pulls never wait for writes. All SQLite
//! work runs on tokio's blocking threads.

mod clock;
mod migrations;

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use base64::Engine as _;
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use serde_json::{Map, Value};
use tidemark_protocol::headers::OperationTag;
use tidemark_sql::sqlite::SqliteDialect;

use super::{
    BatchOutcome, Change, ItemQuery, NewItem, QueryPage, StoreError, StoreWrite, TableStore,
    WriteKind, WriteOutcome,
};
use crate::store::Item;
use clock::ChangeClock;
pub use clock::{Clock, StampPolicy, SystemClock};
pub use migrations::MigrationError;

/// Page cache per connection, in SQLite's negative-means-KiB form: 64 MiB.
const CACHE_SIZE: i64 = -65_536;

/// The item columns, in the order [`item_from_row`] reads them.
const ITEM_COLUMNS: &str = "id, created_at, updated_at, version, deleted, data";

/// Tuning of a [`SqliteTableStore`].
#[derive(Clone)]
pub struct SqliteOptions {
    /// Where wall-clock time comes from (injectable for tests).
    pub clock: Arc<dyn Clock>,
    /// How writes are stamped; always [`StampPolicy::Ordered`] outside tests.
    pub stamp_policy: StampPolicy,
    /// How long a connection waits for a lock held by another connection.
    pub busy_timeout: Duration,
    /// Operation records older than this are pruned (default 7 days).
    pub operation_retention: Duration,
    /// At most this many operation records are kept per table, the newest (default 100 000).
    pub max_operations_per_table: u64,
    /// Pruning runs on every this many tagged writes (default 256), inside that write's
    /// transaction, so its cost is spread thin; a batch that makes it due prunes once, after
    /// its writes, in its transaction.
    pub prune_every: u32,
    /// Idle read connections kept open for reuse.
    pub max_idle_readers: usize,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            stamp_policy: StampPolicy::Ordered,
            busy_timeout: Duration::from_secs(5),
            operation_retention: Duration::from_secs(7 * 24 * 60 * 60),
            max_operations_per_table: 100_000,
            prune_every: 256,
            max_idle_readers: 4,
        }
    }
}

impl fmt::Debug for SqliteOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteOptions")
            .field("stamp_policy", &self.stamp_policy)
            .field("busy_timeout", &self.busy_timeout)
            .field("operation_retention", &self.operation_retention)
            .field("max_operations_per_table", &self.max_operations_per_table)
            .field("prune_every", &self.prune_every)
            .field("max_idle_readers", &self.max_idle_readers)
            .finish_non_exhaustive()
    }
}

/// A [`TableStore`] on one SQLite database file.
#[derive(Clone)]
pub struct SqliteTableStore {
    inner: Arc<Inner>,
}

impl fmt::Debug for SqliteTableStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteTableStore")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

struct Inner {
    path: PathBuf,
    options: SqliteOptions,
    writer: Mutex<Writer>,
    readers: Mutex<Vec<Connection>>,
}

struct Writer {
    conn: Connection,
    clock: ChangeClock,
    tagged_writes: u32,
}

impl SqliteTableStore {
    /// Opens (creating if needed) the database at `path` with default options.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_with(path, SqliteOptions::default())
    }

    /// Opens (creating if needed) the database at `path`, migrating its schema.
    pub fn open_with(path: impl AsRef<Path>, options: SqliteOptions) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        let mut conn = Connection::open(&path).map_err(StoreError::internal)?;
        conn.busy_timeout(options.busy_timeout)
            .map_err(StoreError::internal)?;
        // WAL lets readers keep their snapshot while the writer commits; NORMAL sync is
        // durable against process crashes, which is what WAL needs.
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .map_err(StoreError::internal)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::internal(format!(
                "{} does not support WAL (journal mode is {mode})",
                path.display()
            )));
        }
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(StoreError::internal)?;
        // A batch runs each write in a savepoint, whose undo pages go to a statement journal:
        // a temporary file by default (a write syscall per page), memory with this.
        conn.pragma_update(None, "temp_store", "MEMORY")
            .map_err(StoreError::internal)?;
        // SQLite's default 2 MB page cache is smaller than one batch's changes to the items and
        // operation tables with their indexes: it spills pages to the WAL mid-transaction and
        // reads them back.
        conn.pragma_update(None, "cache_size", CACHE_SIZE)
            .map_err(StoreError::internal)?;
        // Checkpoint every 32 MiB of WAL rather than 4: a page written by many commits in a
        // row (index pages, the tail of the items table) is copied back to the database once.
        conn.pragma_update(None, "wal_autocheckpoint", 8192)
            .map_err(StoreError::internal)?;
        tidemark_sql::sqlite::register(&conn).map_err(StoreError::internal)?;
        migrations::migrate(&mut conn).map_err(StoreError::internal)?;
        let last_us: Option<i64> = conn
            .query_row("SELECT max(updated_at) FROM items", [], |row| row.get(0))
            .map_err(StoreError::internal)?;
        let writer = Writer {
            conn,
            clock: ChangeClock::starting_after(last_us.unwrap_or(0)),
            tagged_writes: 0,
        };
        Ok(Self {
            inner: Arc::new(Inner {
                path,
                options,
                writer: Mutex::new(writer),
                readers: Mutex::new(Vec::new()),
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` on a read connection on a blocking thread.
    async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let mut conn = inner.take_reader()?;
            let result = f(&mut conn);
            inner.return_reader(conn);
            result
        })
        .await
        .map_err(StoreError::internal)?
    }

    /// Runs one write as a single immediate transaction on the writer.
    async fn write(&self, write: StoreWrite) -> Result<WriteOutcome, StoreError> {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let options = &inner.options;
            // The unordered policy models servers that read the time before they get the lock.
            let early_reading = match options.stamp_policy {
                StampPolicy::Unordered => Some(options.clock.now_us()),
                StampPolicy::Ordered => None,
            };
            let mut writer = inner.lock_writer();
            let reading = early_reading.unwrap_or_else(|| options.clock.now_us());
            let Writer {
                conn,
                clock,
                tagged_writes,
            } = &mut *writer;
            let stamp = clock.stamp(options.stamp_policy, reading);
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(StoreError::internal)?;
            let outcome = write_one(&tx, write, stamp, tagged_writes, options, Pruning::Now)?;
            tx.commit().map_err(StoreError::internal)?;
            Ok(outcome)
        })
        .await
        .map_err(StoreError::internal)?
    }
}

/// When a write that makes pruning due prunes.
enum Pruning<'a> {
    /// Right after the write, in its transaction (single writes).
    Now,
    /// Once, after the whole batch: the table goes into this set. Each prune scans up to
    /// `max_operations_per_table` index entries, so a batch of 1000 tagged writes pruning four
    /// times spent a tenth of its CPU there.
    AfterBatch(&'a mut BTreeSet<String>),
}

/// One write inside an open transaction: the operation-tag replay check, the change with its
/// stamp, the operation record (and now and then the pruning of old records).
fn write_one(
    conn: &Connection,
    write: StoreWrite,
    stamp: i64,
    tagged_writes: &mut u32,
    options: &SqliteOptions,
    pruning: Pruning<'_>,
) -> Result<WriteOutcome, StoreError> {
    let StoreWrite { table, change, tag } = write;
    let kind = change.kind();
    if let Some(tag) = &tag
        && let Some(item) = recorded_outcome(conn, &table, tag, kind, change.item_id())?
    {
        return Ok(WriteOutcome {
            item,
            replayed: true,
        });
    }
    let item = apply_change(conn, &table, change, stamp)?;
    if let Some(tag) = &tag {
        record_outcome(conn, &table, tag, kind, &item, stamp)?;
        *tagged_writes = tagged_writes.wrapping_add(1);
        if tagged_writes.is_multiple_of(options.prune_every.max(1)) {
            match pruning {
                Pruning::Now => prune_operations(conn, &table, stamp, options)?,
                Pruning::AfterBatch(due) => {
                    due.insert(table);
                }
            }
        }
    }
    Ok(WriteOutcome {
        item,
        replayed: false,
    })
}

/// Applies `change` to `table` with `stamp` and returns the stored item.
fn apply_change(
    conn: &Connection,
    table: &str,
    change: Change,
    stamp: i64,
) -> Result<Item, StoreError> {
    match change {
        Change::Insert(item) => {
            let id = item.id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
            if let Some(existing) = load_item(conn, table, &id)? {
                return Err(StoreError::Conflict(Box::new(existing)));
            }
            let stored = Item {
                id,
                created_at_us: stamp,
                updated_at_us: stamp,
                version: new_version(),
                deleted: false,
                properties: item.properties,
            };
            save_item(conn, table, &stored, true)?;
            Ok(stored)
        }
        Change::Update {
            id,
            patch,
            expected_version,
        } => {
            let mut item = live_item(conn, table, &id, expected_version.as_deref())?;
            item.properties.extend(patch);
            stamp_write(&mut item, stamp);
            save_item(conn, table, &item, false)?;
            Ok(item)
        }
        Change::Delete {
            id,
            expected_version,
        } => {
            let mut item = live_item(conn, table, &id, expected_version.as_deref())?;
            item.deleted = true;
            stamp_write(&mut item, stamp);
            save_item(conn, table, &item, false)?;
            Ok(item)
        }
        Change::Undelete {
            id,
            expected_version,
        } => {
            let mut item = load_item(conn, table, &id)?.ok_or(StoreError::NotFound(id))?;
            check_version(&item, expected_version.as_deref())?;
            item.deleted = false;
            stamp_write(&mut item, stamp);
            save_item(conn, table, &item, false)?;
            Ok(item)
        }
    }
}

impl Inner {
    fn lock_writer(&self) -> MutexGuard<'_, Writer> {
        // A panic while holding the lock dropped its transaction (rolled back), so the
        // connection is still sound.
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn take_reader(&self) -> Result<Connection, StoreError> {
        let pooled = self.readers.lock().unwrap_or_else(|p| p.into_inner()).pop();
        match pooled {
            Some(conn) => Ok(conn),
            None => self.open_reader().map_err(StoreError::internal),
        }
    }

    fn return_reader(&self, conn: Connection) {
        let mut pool = self.readers.lock().unwrap_or_else(|p| p.into_inner());
        if pool.len() < self.options.max_idle_readers {
            pool.push(conn);
        }
    }

    fn open_reader(&self) -> rusqlite::Result<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(self.options.busy_timeout)?;
        conn.pragma_update(None, "cache_size", CACHE_SIZE)?;
        tidemark_sql::sqlite::register(&conn)?;
        Ok(conn)
    }
}

impl TableStore for SqliteTableStore {
    async fn query(&self, table: &str, query: &ItemQuery) -> Result<QueryPage, StoreError> {
        let mut where_sql = String::from("tbl = ?");
        let mut params = vec![SqlValue::Text(table.to_owned())];
        if !query.include_deleted {
            where_sql.push_str(" AND deleted = 0");
        }
        if let Some(expr) = &query.filter {
            let sql = tidemark_sql::filter(&SqliteDialect::items(), expr)
                .map_err(|e| StoreError::InvalidQuery(e.to_string()))?;
            where_sql.push_str(" AND (");
            where_sql.push_str(&sql.text);
            where_sql.push(')');
            params.extend(sql.params);
        }
        let order = tidemark_sql::order_by(&SqliteDialect::items(), &query.orderby)
            .map_err(|e| StoreError::InvalidQuery(e.to_string()))?;
        let count_sql = format!("SELECT count(*) FROM items WHERE {where_sql}");
        let page_sql = format!(
            "SELECT {ITEM_COLUMNS} FROM items WHERE {where_sql} ORDER BY {} LIMIT ? OFFSET ?",
            order.text
        );
        let mut page_params = params.clone();
        page_params.extend(order.params);
        // One more row than asked tells whether another page follows.
        let limit = query.limit.min(i64::MAX as u64 - 1) as i64;
        page_params.push(SqlValue::Integer(limit + 1));
        page_params.push(SqlValue::Integer(query.skip.min(i64::MAX as u64) as i64));
        let count_total = query.count_total;
        self.read(move |conn| {
            // Count and page from one snapshot, so they agree.
            let tx = conn.transaction().map_err(StoreError::internal)?;
            let total = if count_total {
                let n: i64 = tx
                    .prepare_cached(&count_sql)
                    .and_then(|mut st| {
                        st.query_row(rusqlite::params_from_iter(params.iter()), |r| r.get(0))
                    })
                    .map_err(StoreError::internal)?;
                Some(u64::try_from(n).unwrap_or(0))
            } else {
                None
            };
            let mut items = {
                let mut st = tx.prepare_cached(&page_sql).map_err(StoreError::internal)?;
                let rows = st
                    .query_map(rusqlite::params_from_iter(page_params.iter()), raw_row)
                    .map_err(StoreError::internal)?;
                let mut items = Vec::new();
                for row in rows {
                    items.push(item_from_raw(row.map_err(StoreError::internal)?)?);
                }
                items
            };
            tx.finish().map_err(StoreError::internal)?;
            let more = items.len() as u64 > limit as u64;
            items.truncate(limit as usize);
            Ok(QueryPage { items, more, total })
        })
        .await
    }

    async fn lookup(
        &self,
        table: &str,
        id: &str,
        include_deleted: bool,
    ) -> Result<Item, StoreError> {
        let (table, id) = (table.to_owned(), id.to_owned());
        self.read(move |conn| match load_item(conn, &table, &id)? {
            Some(item) if include_deleted || !item.deleted => Ok(item),
            _ => Err(StoreError::NotFound(id)),
        })
        .await
    }

    async fn insert(
        &self,
        table: &str,
        item: NewItem,
        tag: Option<OperationTag>,
    ) -> Result<WriteOutcome, StoreError> {
        self.apply(StoreWrite {
            table: table.to_owned(),
            change: Change::Insert(item),
            tag,
        })
        .await
    }

    async fn update(
        &self,
        table: &str,
        id: &str,
        patch: Map<String, Value>,
        expected_version: Option<String>,
        tag: Option<OperationTag>,
    ) -> Result<WriteOutcome, StoreError> {
        let change = Change::Update {
            id: id.to_owned(),
            patch,
            expected_version,
        };
        self.apply(StoreWrite {
            table: table.to_owned(),
            change,
            tag,
        })
        .await
    }

    async fn delete(
        &self,
        table: &str,
        id: &str,
        expected_version: Option<String>,
        tag: Option<OperationTag>,
    ) -> Result<WriteOutcome, StoreError> {
        let change = Change::Delete {
            id: id.to_owned(),
            expected_version,
        };
        self.apply(StoreWrite {
            table: table.to_owned(),
            change,
            tag,
        })
        .await
    }

    async fn undelete(
        &self,
        table: &str,
        id: &str,
        expected_version: Option<String>,
        tag: Option<OperationTag>,
    ) -> Result<WriteOutcome, StoreError> {
        let change = Change::Undelete {
            id: id.to_owned(),
            expected_version,
        };
        self.apply(StoreWrite {
            table: table.to_owned(),
            change,
            tag,
        })
        .await
    }

    async fn apply(&self, write: StoreWrite) -> Result<WriteOutcome, StoreError> {
        self.write(write).await
    }

    /// The whole batch in one immediate transaction, each write inside its own savepoint: a
    /// failed write rolls back alone, and the batch costs one commit instead of one per write.
    async fn apply_batch(&self, writes: Vec<StoreWrite>) -> Result<BatchOutcome, StoreError> {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let options = &inner.options;
            let mut writer = inner.lock_writer();
            let Writer {
                conn,
                clock,
                tagged_writes,
            } = &mut *writer;
            let mut tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(StoreError::internal)?;
            let mut results = Vec::with_capacity(writes.len());
            let mut prune_due = BTreeSet::new();
            let mut last_stamp = None;
            for write in writes {
                let stamp = clock.stamp(options.stamp_policy, options.clock.now_us());
                last_stamp = Some(stamp);
                let savepoint = tx.savepoint().map_err(StoreError::internal)?;
                let pruning = Pruning::AfterBatch(&mut prune_due);
                match write_one(&savepoint, write, stamp, tagged_writes, options, pruning) {
                    Ok(outcome) => {
                        savepoint.commit().map_err(StoreError::internal)?;
                        results.push(Ok(outcome));
                    }
                    // Dropping the savepoint rolls back whatever the failed write did.
                    Err(error) => results.push(Err(error)),
                }
            }
            if let Some(stamp) = last_stamp {
                prune_after_batch(&mut tx, &prune_due, stamp, options);
            }
            // If this fails, nothing of the batch was stored: the caller answers one error.
            tx.commit().map_err(StoreError::internal)?;
            Ok(results)
        })
        .await
        .map_err(StoreError::internal)?
    }
}

/// Prunes the operation records of every table in `due`, each in its own savepoint: pruning is
/// housekeeping, so a failure is logged (the next due write tries again) and the batch's
/// writes still commit.
fn prune_after_batch(
    tx: &mut rusqlite::Transaction<'_>,
    due: &BTreeSet<String>,
    stamp: i64,
    options: &SqliteOptions,
) {
    for table in due {
        let pruned = tx.savepoint().map_err(StoreError::internal).and_then(|sp| {
            prune_operations(&sp, table, stamp, options)?;
            sp.commit().map_err(StoreError::internal)
        });
        if let Err(error) = pruned {
            log::warn!("cannot prune the operation records of table {table}: {error}");
        }
    }
}

/// A fresh opaque version: 8 random bytes in base64, like a SQL Server rowversion looks.
fn new_version() -> String {
    let uuid = uuid::Uuid::new_v4();
    base64::engine::general_purpose::STANDARD.encode(&uuid.as_bytes()[..8])
}

fn stamp_write(item: &mut Item, stamp: i64) {
    item.updated_at_us = stamp;
    item.version = new_version();
}

fn check_version(item: &Item, expected: Option<&str>) -> Result<(), StoreError> {
    match expected {
        Some(v) if v != item.version => Err(StoreError::PreconditionFailed(Box::new(item.clone()))),
        _ => Ok(()),
    }
}

/// The item if it exists, is not soft-deleted and has the expected version.
fn live_item(
    conn: &Connection,
    table: &str,
    id: &str,
    expected: Option<&str>,
) -> Result<Item, StoreError> {
    match load_item(conn, table, id)? {
        Some(item) if !item.deleted => {
            check_version(&item, expected)?;
            Ok(item)
        }
        _ => Err(StoreError::NotFound(id.to_owned())),
    }
}

type RawRow = (String, i64, i64, String, bool, String);

fn raw_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<RawRow> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
    ))
}

fn item_from_raw(
    (id, created_at_us, updated_at_us, version, deleted, data): RawRow,
) -> Result<Item, StoreError> {
    let properties = match serde_json::from_str(&data).map_err(StoreError::internal)? {
        Value::Object(map) => map,
        _ => {
            return Err(StoreError::internal(format!(
                "item {id} holds non-object data"
            )));
        }
    };
    Ok(Item {
        id,
        created_at_us,
        updated_at_us,
        version,
        deleted,
        properties,
    })
}

fn load_item(conn: &Connection, table: &str, id: &str) -> Result<Option<Item>, StoreError> {
    let raw = conn
        .prepare_cached(&format!(
            "SELECT {ITEM_COLUMNS} FROM items WHERE tbl = ?1 AND id = ?2"
        ))
        .and_then(|mut st| st.query_row(params![table, id], raw_row).optional())
        .map_err(StoreError::internal)?;
    raw.map(item_from_raw).transpose()
}

fn save_item(tx: &Connection, table: &str, item: &Item, new: bool) -> Result<(), StoreError> {
    let data = serde_json::to_string(&item.properties).map_err(StoreError::internal)?;
    let sql = if new {
        "INSERT INTO items (tbl, id, created_at, updated_at, version, deleted, data)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
    } else {
        "UPDATE items SET created_at = ?3, updated_at = ?4, version = ?5, deleted = ?6, data = ?7
         WHERE tbl = ?1 AND id = ?2"
    };
    tx.prepare_cached(sql)
        .and_then(|mut st| {
            st.execute(params![
                table,
                item.id,
                item.created_at_us,
                item.updated_at_us,
                item.version,
                item.deleted,
                data
            ])
        })
        .map_err(StoreError::internal)?;
    Ok(())
}

/// The recorded outcome of `tag`, if this operation was applied before.
fn recorded_outcome(
    tx: &Connection,
    table: &str,
    tag: &OperationTag,
    kind: WriteKind,
    item_id: Option<&str>,
) -> Result<Option<Item>, StoreError> {
    let record: Option<(String, String, String)> = tx
        .prepare_cached(
            "SELECT kind, item_id, outcome FROM operations
             WHERE tbl = ?1 AND operation_id = ?2 AND op_version = ?3",
        )
        .and_then(|mut st| {
            st.query_row(params![table, tag.operation_id, op_version(tag)], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()
        })
        .map_err(StoreError::internal)?;
    let Some((recorded_kind, recorded_id, outcome)) = record else {
        return Ok(None);
    };
    if recorded_kind != kind.as_str() || item_id.is_some_and(|id| id != recorded_id) {
        return Err(StoreError::BadRequest(format!(
            "operation {tag} was already applied as a {recorded_kind} of item '{recorded_id}'; \
             a retry must repeat the same write"
        )));
    }
    serde_json::from_str(&outcome)
        .map(Some)
        .map_err(StoreError::internal)
}

fn record_outcome(
    tx: &Connection,
    table: &str,
    tag: &OperationTag,
    kind: WriteKind,
    item: &Item,
    stamp: i64,
) -> Result<(), StoreError> {
    let outcome = serde_json::to_string(item).map_err(StoreError::internal)?;
    tx.prepare_cached(
        "INSERT INTO operations (tbl, operation_id, op_version, kind, item_id, outcome, recorded_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .and_then(|mut st| {
        st.execute(params![
            table,
            tag.operation_id,
            op_version(tag),
            kind.as_str(),
            item.id,
            outcome,
            stamp
        ])
    })
    .map_err(StoreError::internal)?;
    Ok(())
}

/// SQLite integers are signed; versions beyond `i64::MAX` are stored as their bit pattern.
fn op_version(tag: &OperationTag) -> i64 {
    tag.version as i64
}

/// Drops operation records of `table` older than the retention or beyond the per-table cap.
fn prune_operations(
    tx: &Connection,
    table: &str,
    now_us: i64,
    options: &SqliteOptions,
) -> Result<(), StoreError> {
    let retention_us = i64::try_from(options.operation_retention.as_micros()).unwrap_or(i64::MAX);
    let cutoff = now_us.saturating_sub(retention_us);
    let keep = i64::try_from(options.max_operations_per_table).unwrap_or(i64::MAX);
    tx.prepare_cached("DELETE FROM operations WHERE tbl = ?1 AND recorded_at < ?2")
        .and_then(|mut st| st.execute(params![table, cutoff]))
        .map_err(StoreError::internal)?;
    tx.prepare_cached(
        "DELETE FROM operations WHERE tbl = ?1 AND recorded_at <= (
             SELECT recorded_at FROM operations WHERE tbl = ?1
             ORDER BY recorded_at DESC LIMIT 1 OFFSET ?2)",
    )
    .and_then(|mut st| st.execute(params![table, keep]))
    .map_err(StoreError::internal)?;
    Ok(())
}
