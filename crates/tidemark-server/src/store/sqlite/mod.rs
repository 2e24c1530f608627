//! [`SqliteTableStore`]: the embedded default store, one SQLite file in WAL mode.
//!
//! One writer connection behind a mutex serializes every write (and the change clock with it),
//! committing writes that arrive together as one group ([`group`]);
//! reads use a fixed pool of read-only connections ([`readers`]), so pulls never wait for
//! writes, and a read stops when its request is abandoned. All SQLite work runs on tokio's
//! blocking threads.

mod accounts;
mod admin;
mod checksum;
mod clock;
mod group;
mod migrations;
mod owners;
#[cfg(test)]
mod plan_tests;
mod readers;
mod write;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde_json::Value;
use tidemark_sql::sqlite::SqliteDialect;

use super::operations::{OperationRetention, PruneSchedule};
use super::{
    BatchOutcome, ItemQuery, NO_ROWS_KEY, Owner, OwnerKeys, PageBuilder, QueryPage, StoreError,
    StoreWrite, TableStore, WriteOutcome, visible,
};
use crate::store::Item;
use clock::ChangeClock;
pub use clock::{Clock, SystemClock};
use readers::{ReaderSettings, Readers};
use write::Records;

/// Page cache of the writer, in SQLite's negative-means-KiB form: 64 MiB.
const CACHE_SIZE: i64 = -65_536;

/// The JSON an item's system properties add to its stored `data` on the wire (keys, two
/// 27-character dates, `deleted`, punctuation), besides its id and version: a page's size is
/// counted from the stored text without serialising each row twice.
const SYSTEM_PROPERTY_BYTES: usize = 128;

/// The item columns, in the order [`item_from_row`] reads them.
const ITEM_COLUMNS: &str = "id, created_at, updated_at, version, deleted, data";

/// Tuning of a [`SqliteTableStore`].
#[derive(Clone)]
pub struct SqliteOptions {
    /// Where wall-clock time comes from, and how writes are stamped with it (injectable for
    /// tests; the ordered [`SystemClock`] outside them).
    pub clock: Arc<dyn Clock>,
    /// How long a connection waits for a lock held by another connection.
    pub busy_timeout: Duration,
    /// How long operation records are kept. A due prune runs inside the write's transaction;
    /// a batch that makes it due prunes once, after its writes, in its transaction.
    pub operations: OperationRetention,
    /// Read connections, opened at start and never more: at most this many reads run at once,
    /// the others wait (for no longer than their request lives).
    pub readers: usize,
    /// The longest one read may run; a statement still running then is stopped (the server
    /// sets its request timeout here).
    pub read_deadline: Duration,
    /// The longest string or blob a reader reads or makes, in bytes (SQLite's length limit on
    /// the read connections); a query that makes a longer one is refused. Must exceed the
    /// largest stored item.
    pub max_value_bytes: usize,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            busy_timeout: Duration::from_secs(5),
            operations: OperationRetention::default(),
            readers: 4,
            read_deadline: Duration::from_secs(30),
            max_value_bytes: tidemark_sql::sqlite::MAX_TEXT_BYTES,
        }
    }
}

impl fmt::Debug for SqliteOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteOptions")
            .field("busy_timeout", &self.busy_timeout)
            .field("operations", &self.operations)
            .field("readers", &self.readers)
            .field("read_deadline", &self.read_deadline)
            .field("max_value_bytes", &self.max_value_bytes)
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
    /// Where writes go to be committed ([`group`]).
    committer: group::Committer,
    readers: Arc<Readers>,
    prune_schedule: PruneSchedule,
    owner_keys: OwnerKeys,
}

struct Writer {
    conn: Connection,
    clock: ChangeClock,
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
        // WAL lets readers keep their snapshot while the writer commits.
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .map_err(StoreError::internal)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::internal(format!(
                "{} does not support WAL (journal mode is {mode})",
                path.display()
            )));
        }
        // FULL syncs the WAL at every commit: what the server acknowledged survives a power
        // cut, not only a crash (NORMAL syncs only at checkpoints). Group commit ([`group`])
        // makes writes that arrive together share one sync.
        conn.pragma_update(None, "synchronous", "FULL")
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
        tidemark_sql::sqlite::keep_plans(&conn).map_err(StoreError::internal)?;
        tidemark_sql::sqlite::register(&conn).map_err(StoreError::internal)?;
        migrations::migrate(&mut conn).map_err(StoreError::internal)?;
        let last_us: Option<i64> = conn
            .query_row("SELECT max(updated_at) FROM items", [], |row| row.get(0))
            .map_err(StoreError::internal)?;
        let writer = Writer {
            conn,
            clock: ChangeClock::starting_after(last_us.unwrap_or(0)),
        };
        let readers = Readers::open(
            &path,
            ReaderSettings {
                count: options.readers,
                busy_timeout: options.busy_timeout,
                deadline: options.read_deadline,
                max_value_bytes: options.max_value_bytes,
            },
        )
        .map_err(StoreError::internal)?;
        let (committer, jobs) = group::Committer::channel();
        let inner = Arc::new(Inner {
            path,
            options,
            writer: Mutex::new(writer),
            committer,
            readers: Arc::new(readers),
            prune_schedule: PruneSchedule::default(),
            owner_keys: OwnerKeys::default(),
        });
        group::Committer::start(&inner, jobs).map_err(StoreError::internal)?;
        Ok(Self { inner })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` on a read connection on a blocking thread; see [`readers`].
    async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.inner.readers.run(f).await
    }

    /// `owner`'s key for a read: [`NO_ROWS_KEY`] when it has none (it never wrote).
    async fn read_key(&self, owner: &Owner) -> Result<i64, StoreError> {
        let asked = owner.clone();
        let found = self.read(move |conn| owners::find(conn, &asked).map_err(StoreError::internal));
        let key = self.inner.owner_keys.resolve(owner, found).await?;
        Ok(key.unwrap_or(NO_ROWS_KEY))
    }

    /// Queues `writes` of `owner`'s for the writer's next commit ([`group`]) and waits for their
    /// outcomes. A `single` write lets a stock-imitating clock take its reading before it
    /// queues.
    async fn commit(
        &self,
        owner: &Owner,
        writes: Vec<StoreWrite>,
        single: bool,
    ) -> Result<BatchOutcome, StoreError> {
        let clock = &self.inner.options.clock;
        // Only a clock imitating a stock server reads the time before the write is queued; a
        // test's clock may block there, so it reads on a blocking thread.
        let early_reading = if single && clock.reads_early() {
            let clock = Arc::clone(clock);
            tokio::task::spawn_blocking(move || clock.early_reading())
                .await
                .map_err(StoreError::internal)?
        } else {
            None
        };
        let (reply, outcome) = tokio::sync::oneshot::channel();
        self.inner.committer.submit(group::Job {
            owner: owner.clone(),
            writes,
            early_reading,
            reply,
        })?;
        outcome
            .await
            .map_err(|_| StoreError::internal("a queued write was dropped without an outcome"))?
    }

    /// Runs `f` in one immediate transaction on the writer and commits it when `f` succeeds:
    /// administrative changes of many rows, serialized with every write.
    async fn admin<F>(&self, f: F) -> Result<u64, StoreError>
    where
        F: FnOnce(&rusqlite::Transaction<'_>) -> Result<u64, StoreError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let mut writer = inner.lock_writer();
            let tx = writer
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(StoreError::internal)?;
            let n = f(&tx)?;
            tx.commit().map_err(StoreError::internal)?;
            Ok(n)
        })
        .await
        .map_err(StoreError::internal)?
    }
}

impl Inner {
    /// The operation-record bookkeeping of this store's writes.
    fn records(&self) -> Records<'_> {
        Records {
            retention: &self.options.operations,
            schedule: &self.prune_schedule,
        }
    }

    /// `owner`'s key for a write, given on its first write; `conn` is the writer, held by the
    /// caller, outside any transaction.
    fn write_key(&self, conn: &Connection, owner: &Owner) -> Result<i64, StoreError> {
        if let Some(key) = self.owner_keys.known(owner) {
            return Ok(key);
        }
        let key = owners::find_or_add(conn, owner).map_err(StoreError::internal)?;
        self.owner_keys.remember(owner, key);
        Ok(key)
    }

    fn lock_writer(&self) -> MutexGuard<'_, Writer> {
        // A panic while holding the lock dropped its transaction (rolled back), so the
        // connection is still sound.
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl TableStore for SqliteTableStore {
    async fn query(
        &self,
        owner: &Owner,
        table: &str,
        query: &ItemQuery,
    ) -> Result<QueryPage, StoreError> {
        let key = self.read_key(owner).await?;
        let QuerySql {
            count_sql,
            page_sql,
            params,
            page_params,
        } = query_sql(key, table, query)?;
        let query = query.clone();
        let readers = Arc::clone(&self.inner.readers);
        self.read(move |conn| {
            let fail = |e| readers.error(e);
            // Count and page from one snapshot, so they agree.
            let tx = conn.transaction().map_err(fail)?;
            let count = if query.count_total {
                let n: i64 = tx
                    .prepare_cached(&count_sql)
                    .and_then(|mut st| {
                        st.query_row(rusqlite::params_from_iter(params.iter()), |r| r.get(0))
                    })
                    .map_err(fail)?;
                Some(n)
            } else {
                None
            };
            let page = {
                let mut st = tx.prepare_cached(&page_sql).map_err(fail)?;
                let mut rows = st
                    .query(rusqlite::params_from_iter(page_params.iter()))
                    .map_err(fail)?;
                let mut page = PageBuilder::new(&query);
                let mut more = false;
                // Rows are read one at a time and reading stops once the page is full, so a
                // page of big items never has more than one item over its budget in memory.
                while let Some(row) = rows.next().map_err(fail)? {
                    if page.is_full() {
                        more = true;
                        break;
                    }
                    let raw = raw_row(row).map_err(fail)?;
                    let bytes = raw.5.len() + raw.0.len() + raw.3.len() + SYSTEM_PROPERTY_BYTES;
                    page.push(item_from_raw(raw)?, bytes);
                }
                page.finish(more, count)
            };
            tx.finish().map_err(fail)?;
            Ok(page)
        })
        .await
    }

    async fn lookup(
        &self,
        owner: &Owner,
        table: &str,
        id: &str,
        include_deleted: bool,
    ) -> Result<Item, StoreError> {
        let key = self.read_key(owner).await?;
        let (table, id) = (table.to_owned(), id.to_owned());
        self.read(move |conn| {
            let item = load_item(conn, key, &table, &id)?;
            visible(item, &id, include_deleted)
        })
        .await
    }

    async fn checksum(
        &self,
        owner: &Owner,
        table: &str,
        until: Option<i64>,
    ) -> Result<tidemark_protocol::checksum::TableChecksum, StoreError> {
        self.checksum_rows(owner, table, until).await
    }

    async fn apply(&self, owner: &Owner, write: StoreWrite) -> Result<WriteOutcome, StoreError> {
        let mut outcome = self.commit(owner, vec![write], true).await?;
        outcome
            .pop()
            .unwrap_or_else(|| Err(StoreError::internal("a write came back without an outcome")))
    }

    /// The whole batch in the writer's next commit, each write inside its own savepoint: a
    /// failed write rolls back alone, and the batch shares one commit (and fsync) with
    /// whatever else is queued.
    async fn apply_batch(
        &self,
        owner: &Owner,
        writes: Vec<StoreWrite>,
    ) -> Result<BatchOutcome, StoreError> {
        self.commit(owner, writes, false).await
    }

    async fn adopt_unowned(&self, owner: &Owner) -> Result<u64, StoreError> {
        let owner = owner.clone();
        self.admin(move |tx| admin::adopt_unowned(tx, &owner)).await
    }

    async fn delete_rows_of(&self, owner: &Owner) -> Result<u64, StoreError> {
        let owner = owner.clone();
        self.admin(move |tx| admin::delete_rows_of(tx, &owner))
            .await
    }
}

/// The SQL of one query: the count and the page, with their parameters.
struct QuerySql {
    count_sql: String,
    page_sql: String,
    /// The count's parameters (the page's begin with them).
    params: Vec<SqlValue>,
    page_params: Vec<SqlValue>,
}

/// The SQL answering `query` on the rows of `table` of the owner keyed `owner`. Every query
/// starts with `tbl = ? AND owner = ?`, the prefix of both the primary key and the change index.
fn query_sql(owner: i64, table: &str, query: &ItemQuery) -> Result<QuerySql, StoreError> {
    let mut where_sql = String::from("tbl = ? AND owner = ?");
    let mut params = vec![SqlValue::Text(table.to_owned()), SqlValue::Integer(owner)];
    if !query.include_deleted {
        where_sql.push_str(" AND deleted = 0");
    }
    if let Some(expr) = &query.filter {
        let sql = tidemark_sql::filter(&SqliteDialect::items(), expr)?;
        where_sql.push_str(" AND (");
        where_sql.push_str(&sql.text);
        where_sql.push(')');
        params.extend(sql.params);
    }
    let order = tidemark_sql::order_by(&SqliteDialect::items(), &query.orderby)?;
    let count_sql = format!("SELECT count(*) FROM items WHERE {where_sql}");
    let page_sql = format!(
        "SELECT {ITEM_COLUMNS} FROM items WHERE {where_sql} ORDER BY {} LIMIT ? OFFSET ?",
        order.text
    );
    let mut page_params = params.clone();
    page_params.extend(order.params);
    page_params.push(SqlValue::Integer(query.fetch_limit()));
    page_params.push(SqlValue::Integer(query.offset()));
    Ok(QuerySql {
        count_sql,
        page_sql,
        params,
        page_params,
    })
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

/// The item `id` of the `table` of the owner keyed `owner`, soft-deleted or not.
fn load_item(
    conn: &Connection,
    owner: i64,
    table: &str,
    id: &str,
) -> Result<Option<Item>, StoreError> {
    let raw = conn
        .prepare_cached(&format!(
            "SELECT {ITEM_COLUMNS} FROM items WHERE tbl = ?1 AND owner = ?2 AND id = ?3"
        ))
        .and_then(|mut st| st.query_row(params![table, owner, id], raw_row).optional())
        .map_err(StoreError::internal)?;
    raw.map(item_from_raw).transpose()
}
