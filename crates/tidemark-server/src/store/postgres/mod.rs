//! [`PostgresTableStore`]: the store for deployments beyond one machine, where several server
//! processes share one PostgreSQL database.
//!
//! Items keep their user properties in a `jsonb` column; the change clock is a locked row per
//! table (see [`clock`]), so `updatedAt` stays ordered across processes; operation records are
//! written in the write's transaction, so a retry that reaches another process is still
//! recognised. Connections come from a deadpool pool; when the database cannot be reached,
//! requests fail with [`StoreError::Unavailable`] and the pool reconnects once it is back.

pub mod clock;
mod migrations;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use base64::Engine as _;
use deadpool_postgres::Transaction;
use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use serde_json::{Map, Value};
use tidemark_protocol::headers::OperationTag;
use tidemark_sql::postgres::{PgParam, PostgresDialect};
use tokio_postgres::types::ToSql;
use tokio_postgres::{IsolationLevel, NoTls, Row};

use super::{ItemQuery, NewItem, QueryPage, StoreError, TableStore, WriteKind, WriteOutcome};
use crate::store::{Item, StampPolicy};
pub use migrations::MigrationError;

/// The item columns, in the order [`item_from_row`] reads them.
const ITEM_COLUMNS: &str = "id, created_at, updated_at, version, deleted, data";
/// One item by table and id.
const LOAD_ITEM: &str = "SELECT id, created_at, updated_at, version, deleted, data FROM items \
                         WHERE tbl = $1 AND id = $2";

/// Tuning of a [`PostgresTableStore`].
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    /// Connections this process keeps at most (each server process has its own pool).
    pub pool_size: usize,
    /// How long a request waits for a connection (or for connecting) before it fails with 503.
    pub connect_timeout: Duration,
    /// How writes are stamped; always [`StampPolicy::Ordered`] outside tests.
    pub stamp_policy: StampPolicy,
    /// Operation records older than this are pruned (default 7 days).
    pub operation_retention: Duration,
    /// At most this many operation records are kept per table, the newest (default 100 000).
    pub max_operations_per_table: u64,
    /// Pruning runs on every this many tagged writes of this process (default 256).
    pub prune_every: u32,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        Self {
            pool_size: 16,
            connect_timeout: Duration::from_secs(5),
            stamp_policy: StampPolicy::Ordered,
            operation_retention: Duration::from_secs(7 * 24 * 60 * 60),
            max_operations_per_table: 100_000,
            prune_every: 256,
        }
    }
}

/// A [`TableStore`] on a PostgreSQL database, shareable by several server processes.
#[derive(Clone)]
pub struct PostgresTableStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    options: PostgresOptions,
    /// The URL with its password hidden, for logs and errors.
    display_url: String,
    tagged_writes: AtomicU32,
}

impl fmt::Debug for PostgresTableStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresTableStore")
            .field("url", &self.inner.display_url)
            .finish_non_exhaustive()
    }
}

/// True when `db` names a PostgreSQL database rather than a SQLite file.
pub fn is_postgres_url(db: &str) -> bool {
    db.starts_with("postgres://") || db.starts_with("postgresql://")
}

/// `url` with the password replaced by `***`, safe to log.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

impl PostgresTableStore {
    /// Connects to the database at `url` with default options and migrates its schema.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, PostgresOptions::default()).await
    }

    /// Connects to the database at `url` (`postgres://user:password@host:port/db`) and brings
    /// its schema up to date; fails when the URL is malformed or the database unreachable.
    pub async fn connect_with(url: &str, options: PostgresOptions) -> Result<Self, StoreError> {
        let display_url = redact_url(url);
        let mut config = tokio_postgres::Config::from_str(url).map_err(|e| {
            StoreError::internal(format!("'{display_url}' is not a PostgreSQL URL: {e}"))
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(options.connect_timeout);
        }
        config.application_name("tidemark-server");
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                // A connection that broke while pooled is noticed on checkout, not mid-request.
                recycling_method: RecyclingMethod::Verified,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(options.connect_timeout))
            .create_timeout(Some(options.connect_timeout))
            .recycle_timeout(Some(options.connect_timeout))
            .build()
            .map_err(StoreError::internal)?;
        let store = Self {
            inner: Arc::new(Inner {
                pool,
                options,
                display_url,
                tagged_writes: AtomicU32::new(0),
            }),
        };
        let mut client = store.client().await?;
        migrations::migrate(&mut client)
            .await
            .map_err(|e| match e {
                MigrationError::Postgres(e) => classify(e),
                other => StoreError::internal(other),
            })?;
        Ok(store)
    }

    /// The database URL with its password hidden.
    pub fn display_url(&self) -> &str {
        &self.inner.display_url
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.inner.pool.get().await.map_err(|e| match e {
            PoolError::Backend(e) => classify(e),
            other => StoreError::Unavailable(format!(
                "no connection to {}: {other}",
                self.inner.display_url
            )),
        })
    }

    /// Runs one write as a transaction: the clock stamp first (which serializes the table's
    /// writers until commit), the operation-tag replay check, the write, the operation record.
    async fn write(
        &self,
        table: &str,
        kind: WriteKind,
        item_id: Option<&str>,
        tag: Option<OperationTag>,
        apply: Apply,
    ) -> Result<WriteOutcome, StoreError> {
        let options = &self.inner.options;
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(classify)?;
        let stamp_sql = match options.stamp_policy {
            StampPolicy::Ordered => clock::STAMP_ORDERED,
            StampPolicy::Unordered => clock::STAMP_UNORDERED,
        };
        let stamp: i64 = tx
            .query_one(stamp_sql, &[&table])
            .await
            .map_err(classify)?
            .get(0);
        if let Some(tag) = &tag
            && let Some(item) = recorded_outcome(&tx, table, tag, kind, item_id).await?
        {
            // Dropping the transaction rolls back the clock update too.
            return Ok(WriteOutcome {
                item,
                replayed: true,
            });
        }
        let item = apply.run(&tx, stamp).await?;
        if let Some(tag) = &tag {
            record_outcome(&tx, table, tag, kind, &item, stamp).await?;
            let n = self
                .inner
                .tagged_writes
                .fetch_add(1, Ordering::Relaxed)
                .wrapping_add(1);
            if n.is_multiple_of(options.prune_every.max(1)) {
                prune_operations(&tx, table, stamp, options).await?;
            }
        }
        tx.commit().await.map_err(classify)?;
        Ok(WriteOutcome {
            item,
            replayed: false,
        })
    }
}

/// Which write [`PostgresTableStore::write`] applies.
enum Apply {
    Insert {
        table: String,
        item: Item,
    },
    Update {
        table: String,
        id: String,
        patch: Map<String, Value>,
        expected: Option<String>,
    },
    Delete {
        table: String,
        id: String,
        expected: Option<String>,
    },
    Undelete {
        table: String,
        id: String,
        expected: Option<String>,
    },
}

impl Apply {
    /// Applies the write inside `tx` with `stamp` and returns the stored item.
    async fn run(self, tx: &Transaction<'_>, stamp: i64) -> Result<Item, StoreError> {
        match self {
            Apply::Insert { table, mut item } => {
                if let Some(existing) = load_item(tx, &table, &item.id).await? {
                    return Err(StoreError::Conflict(Box::new(existing)));
                }
                item.created_at_us = stamp;
                item.updated_at_us = stamp;
                save_item(tx, &table, &item, true).await?;
                Ok(item)
            }
            Apply::Update {
                table,
                id,
                patch,
                expected,
            } => {
                let mut item = live_item(tx, &table, &id, expected.as_deref()).await?;
                item.properties.extend(patch);
                stamp_write(&mut item, stamp);
                save_item(tx, &table, &item, false).await?;
                Ok(item)
            }
            Apply::Delete {
                table,
                id,
                expected,
            } => {
                let mut item = live_item(tx, &table, &id, expected.as_deref()).await?;
                item.deleted = true;
                stamp_write(&mut item, stamp);
                save_item(tx, &table, &item, false).await?;
                Ok(item)
            }
            Apply::Undelete {
                table,
                id,
                expected,
            } => {
                let mut item = load_item(tx, &table, &id)
                    .await?
                    .ok_or(StoreError::NotFound(id))?;
                check_version(&item, expected.as_deref())?;
                item.deleted = false;
                stamp_write(&mut item, stamp);
                save_item(tx, &table, &item, false).await?;
                Ok(item)
            }
        }
    }
}

/// A filter parameter as the driver takes it.
fn as_sql(param: &PgParam) -> &(dyn ToSql + Sync) {
    match param {
        PgParam::Text(s) => s,
        PgParam::Int(i) => i,
        PgParam::Json(v) => v,
    }
}

impl TableStore for PostgresTableStore {
    async fn query(&self, table: &str, query: &ItemQuery) -> Result<QueryPage, StoreError> {
        let mut params: Vec<PgParam> = vec![PgParam::Text(table.to_owned())];
        let mut where_sql = String::from("tbl = $1");
        if !query.include_deleted {
            where_sql.push_str(" AND NOT deleted");
        }
        if let Some(expr) = &query.filter {
            let sql = tidemark_sql::filter(&PostgresDialect, expr)
                .map_err(|e| StoreError::InvalidQuery(e.to_string()))?;
            where_sql.push_str(" AND (");
            where_sql.push_str(&sql.numbered(params.len() + 1));
            where_sql.push(')');
            params.extend(sql.params);
        }
        let order = tidemark_sql::order_by(&PostgresDialect, &query.orderby)
            .map_err(|e| StoreError::InvalidQuery(e.to_string()))?;
        let count_sql = format!("SELECT count(*) FROM items WHERE {where_sql}");
        let mut page_params = params.clone();
        let order_text = order.numbered(page_params.len() + 1);
        page_params.extend(order.params);
        // One more row than asked tells whether another page follows.
        let limit = query.limit.min(i64::MAX as u64 - 1) as i64;
        page_params.push(PgParam::Int(limit + 1));
        page_params.push(PgParam::Int(query.skip.min(i64::MAX as u64) as i64));
        let n = page_params.len();
        let page_sql = format!(
            "SELECT {ITEM_COLUMNS} FROM items WHERE {where_sql} ORDER BY {order_text} \
             LIMIT ${}::bigint OFFSET ${n}::bigint",
            n - 1
        );
        let mut client = self.client().await?;
        // Count and page from one snapshot, so they agree.
        let tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(classify)?;
        let total = if query.count_total {
            let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(as_sql).collect();
            let n: i64 = tx
                .query_one(&count_sql, &refs)
                .await
                .map_err(classify)?
                .get(0);
            Some(u64::try_from(n).unwrap_or(0))
        } else {
            None
        };
        let refs: Vec<&(dyn ToSql + Sync)> = page_params.iter().map(as_sql).collect();
        let rows = tx.query(&page_sql, &refs).await.map_err(classify)?;
        tx.commit().await.map_err(classify)?;
        let mut items = rows
            .iter()
            .map(item_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let more = items.len() as u64 > limit as u64;
        items.truncate(limit as usize);
        Ok(QueryPage { items, more, total })
    }

    async fn lookup(
        &self,
        table: &str,
        id: &str,
        include_deleted: bool,
    ) -> Result<Item, StoreError> {
        let client = self.client().await?;
        let statement = client.prepare_cached(LOAD_ITEM).await.map_err(classify)?;
        let row = client
            .query_opt(&statement, &[&table, &id])
            .await
            .map_err(classify)?;
        match row.as_ref().map(item_from_row).transpose()? {
            Some(item) if include_deleted || !item.deleted => Ok(item),
            _ => Err(StoreError::NotFound(id.to_owned())),
        }
    }

    async fn insert(
        &self,
        table: &str,
        item: NewItem,
        tag: Option<OperationTag>,
    ) -> Result<WriteOutcome, StoreError> {
        let hint = item.id.clone();
        let stored = Item {
            id: item.id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            created_at_us: 0,
            updated_at_us: 0,
            version: new_version(),
            deleted: false,
            properties: item.properties,
        };
        let apply = Apply::Insert {
            table: table.to_owned(),
            item: stored,
        };
        self.write(table, WriteKind::Insert, hint.as_deref(), tag, apply)
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
        let apply = Apply::Update {
            table: table.to_owned(),
            id: id.to_owned(),
            patch,
            expected: expected_version,
        };
        self.write(table, WriteKind::Update, Some(id), tag, apply)
            .await
    }

    async fn delete(
        &self,
        table: &str,
        id: &str,
        expected_version: Option<String>,
        tag: Option<OperationTag>,
    ) -> Result<WriteOutcome, StoreError> {
        let apply = Apply::Delete {
            table: table.to_owned(),
            id: id.to_owned(),
            expected: expected_version,
        };
        self.write(table, WriteKind::Delete, Some(id), tag, apply)
            .await
    }

    async fn undelete(
        &self,
        table: &str,
        id: &str,
        expected_version: Option<String>,
        tag: Option<OperationTag>,
    ) -> Result<WriteOutcome, StoreError> {
        let apply = Apply::Undelete {
            table: table.to_owned(),
            id: id.to_owned(),
            expected: expected_version,
        };
        self.write(table, WriteKind::Undelete, Some(id), tag, apply)
            .await
    }
}

/// Sorts a driver error: a lost or refused connection is [`StoreError::Unavailable`] (retry
/// later), anything else is internal.
fn classify(error: tokio_postgres::Error) -> StoreError {
    let unavailable = error.is_closed()
        || error.code().is_some_and(|code| {
            // Class 08 (connection exception), 57P01-03 (admin shutdown, crash shutdown,
            // cannot connect now), 53300 (too many connections).
            let code = code.code();
            code.starts_with("08") || code.starts_with("57P0") || code == "53300"
        })
        || (error.code().is_none()
            && std::error::Error::source(&error)
                .is_some_and(|s| s.downcast_ref::<std::io::Error>().is_some()));
    // The driver's Display says only "db error"; the log needs PostgreSQL's own message.
    let message = match error.as_db_error() {
        Some(db) => format!("{error}: {} ({})", db.message(), db.code().code()),
        None => error.to_string(),
    };
    if unavailable {
        StoreError::Unavailable(message)
    } else {
        StoreError::internal(message)
    }
}

/// A fresh opaque version: 8 random bytes in base64, as the SQLite store makes them.
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
async fn live_item(
    tx: &Transaction<'_>,
    table: &str,
    id: &str,
    expected: Option<&str>,
) -> Result<Item, StoreError> {
    match load_item(tx, table, id).await? {
        Some(item) if !item.deleted => {
            check_version(&item, expected)?;
            Ok(item)
        }
        _ => Err(StoreError::NotFound(id.to_owned())),
    }
}

fn item_from_row(row: &Row) -> Result<Item, StoreError> {
    let data: Value = row.try_get(5).map_err(StoreError::internal)?;
    let Value::Object(properties) = data else {
        return Err(StoreError::internal("an item holds non-object data"));
    };
    Ok(Item {
        id: row.try_get(0).map_err(StoreError::internal)?,
        created_at_us: row.try_get(1).map_err(StoreError::internal)?,
        updated_at_us: row.try_get(2).map_err(StoreError::internal)?,
        version: row.try_get(3).map_err(StoreError::internal)?,
        deleted: row.try_get(4).map_err(StoreError::internal)?,
        properties,
    })
}

async fn load_item(
    tx: &Transaction<'_>,
    table: &str,
    id: &str,
) -> Result<Option<Item>, StoreError> {
    let statement = tx.prepare_cached(LOAD_ITEM).await.map_err(classify)?;
    let row = tx
        .query_opt(&statement, &[&table, &id])
        .await
        .map_err(classify)?;
    row.as_ref().map(item_from_row).transpose()
}

async fn save_item(
    tx: &Transaction<'_>,
    table: &str,
    item: &Item,
    new: bool,
) -> Result<(), StoreError> {
    let data = Value::Object(item.properties.clone());
    let sql = if new {
        "INSERT INTO items (tbl, id, created_at, updated_at, version, deleted, data)
         VALUES ($1, $2, $3, $4, $5, $6, $7)"
    } else {
        "UPDATE items SET created_at = $3, updated_at = $4, version = $5, deleted = $6, data = $7
         WHERE tbl = $1 AND id = $2"
    };
    tx.execute(
        sql,
        &[
            &table,
            &item.id,
            &item.created_at_us,
            &item.updated_at_us,
            &item.version,
            &item.deleted,
            &data,
        ],
    )
    .await
    .map_err(classify)?;
    Ok(())
}

/// The recorded outcome of `tag`, if this operation was applied before (by any process).
async fn recorded_outcome(
    tx: &Transaction<'_>,
    table: &str,
    tag: &OperationTag,
    kind: WriteKind,
    item_id: Option<&str>,
) -> Result<Option<Item>, StoreError> {
    let row = tx
        .query_opt(
            "SELECT kind, item_id, outcome FROM operations
             WHERE tbl = $1 AND operation_id = $2 AND op_version = $3",
            &[&table, &tag.operation_id, &op_version(tag)],
        )
        .await
        .map_err(classify)?;
    let Some(row) = row else {
        return Ok(None);
    };
    let recorded_kind: String = row.try_get(0).map_err(StoreError::internal)?;
    let recorded_id: String = row.try_get(1).map_err(StoreError::internal)?;
    let outcome: String = row.try_get(2).map_err(StoreError::internal)?;
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

async fn record_outcome(
    tx: &Transaction<'_>,
    table: &str,
    tag: &OperationTag,
    kind: WriteKind,
    item: &Item,
    stamp: i64,
) -> Result<(), StoreError> {
    let outcome = serde_json::to_string(item).map_err(StoreError::internal)?;
    tx.execute(
        "INSERT INTO operations (tbl, operation_id, op_version, kind, item_id, outcome, recorded_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &table,
            &tag.operation_id,
            &op_version(tag),
            &kind.as_str(),
            &item.id,
            &outcome,
            &stamp,
        ],
    )
    .await
    .map_err(classify)?;
    Ok(())
}

/// `bigint` is signed; versions beyond `i64::MAX` are stored as their bit pattern (as in SQLite).
fn op_version(tag: &OperationTag) -> i64 {
    tag.version as i64
}

/// Drops operation records of `table` older than the retention or beyond the per-table cap.
async fn prune_operations(
    tx: &Transaction<'_>,
    table: &str,
    now_us: i64,
    options: &PostgresOptions,
) -> Result<(), StoreError> {
    let retention_us = i64::try_from(options.operation_retention.as_micros()).unwrap_or(i64::MAX);
    let cutoff = now_us.saturating_sub(retention_us);
    let keep = i64::try_from(options.max_operations_per_table).unwrap_or(i64::MAX);
    tx.execute(
        "DELETE FROM operations WHERE tbl = $1 AND recorded_at < $2",
        &[&table, &cutoff],
    )
    .await
    .map_err(classify)?;
    tx.execute(
        "DELETE FROM operations WHERE tbl = $1 AND recorded_at <= (
             SELECT recorded_at FROM operations WHERE tbl = $1
             ORDER BY recorded_at DESC LIMIT 1 OFFSET $2)",
        &[&table, &keep],
    )
    .await
    .map_err(classify)?;
    Ok(())
}
