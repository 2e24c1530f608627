//! [`PostgresTableStore`]: the store for deployments beyond one machine, where several server
//! processes share one PostgreSQL database.
//!
//! Items keep their user properties in a `jsonb` column; the change clock is a locked row per
//! table (see [`clock`]), so `updatedAt` stays ordered across processes; operation records are
//! written in the write's transaction, so a retry that reaches another process is still
//! recognised. Connections come from a deadpool pool; when the database cannot be reached,
//! requests fail with [`StoreError::Unavailable`] and the pool reconnects once it is back.

mod accounts;
mod checksum;
pub mod clock;
mod migrations;
mod owners;
mod tls;
mod url;
mod write;

pub use url::redact_url;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use serde_json::Value;
use tidemark_sql::postgres::{PgParam, PostgresDialect};
use tokio_postgres::types::ToSql;
use tokio_postgres::{IsolationLevel, NoTls, Row};

use super::operations::{OperationRetention, PruneSchedule};
use super::{
    ItemQuery, MigrationError, NO_ROWS_KEY, Owner, OwnerKeys, PageBuilder, QueryPage, StoreError,
    StoreWrite, TableStore, WriteOutcome, adoption, visible,
};
use crate::store::Item;

/// The item columns, in the order [`item_from_row`] reads them.
const ITEM_COLUMNS: &str = "id, created_at, updated_at, version, deleted, data";
/// One item by table, owner and id.
pub(super) const LOAD_ITEM: &str = "SELECT id, created_at, updated_at, version, deleted, data \
                                    FROM items WHERE tbl = $1 AND owner = $2 AND id = $3";

/// Tuning of a [`PostgresTableStore`].
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    /// Connections this process keeps at most (each server process has its own pool).
    pub pool_size: usize,
    /// How long a request waits for a connection (or for connecting) before it fails with 503.
    pub connect_timeout: Duration,
    /// The statement that stamps each write, the first of its transaction: it takes the table
    /// as `$1` and returns the stamp as one `bigint`. [`clock::STAMP_ORDERED`] (the default)
    /// keeps protocol guarantee 1; tests put another here only to imitate servers without it.
    pub stamp_statement: &'static str,
    /// How long operation records are kept; a due prune runs inside the write's transaction.
    pub operations: OperationRetention,
    /// PostgreSQL's `statement_timeout` on every connection: a statement running longer is
    /// cancelled by the database itself (the server sets its request timeout here).
    pub statement_timeout: Duration,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        Self {
            pool_size: 16,
            connect_timeout: Duration::from_secs(5),
            stamp_statement: clock::STAMP_ORDERED,
            operations: OperationRetention::default(),
            statement_timeout: Duration::from_secs(30),
        }
    }
}

/// Rows asked for in the first fetch of a page; later fetches are sized from the rows' average
/// size so that a page of big items is fetched a few rows at a time and one of small items in
/// one or two round trips.
const FIRST_FETCH_ROWS: usize = 16;

/// The most rows asked for in one fetch.
const MAX_FETCH_ROWS: usize = 1024;

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
    prune_schedule: PruneSchedule,
    owner_keys: OwnerKeys,
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

impl PostgresTableStore {
    /// Connects to the database at `url` with default options and migrates its schema.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, PostgresOptions::default()).await
    }

    /// Connects to the database at `url` (`postgres://user:password@host:port/db`) and brings
    /// its schema up to date; fails when the URL is malformed or the database unreachable.
    pub async fn connect_with(url: &str, options: PostgresOptions) -> Result<Self, StoreError> {
        let display_url = redact_url(url);
        let (url, tls_params) = url::take_tls_params(url);
        // tokio-postgres' parse errors name the option, never its value: safe to show.
        let mut config = tokio_postgres::Config::from_str(&url).map_err(|e| {
            StoreError::internal(format!("'{display_url}' is not a PostgreSQL URL: {e}"))
        })?;
        let unix_only = config
            .get_hosts()
            .iter()
            .all(|h| matches!(h, tokio_postgres::config::Host::Unix(_)));
        let (tls, ssl_mode) = tls::tls_for(&tls_params, unix_only)
            .map_err(|e| StoreError::internal(format!("'{display_url}': {e}")))?;
        config.ssl_mode(ssl_mode);
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(options.connect_timeout);
        }
        config.application_name("tidemark-server");
        // Every statement of this server's sessions is cancelled by PostgreSQL once it runs
        // longer than a request may: the future of an abandoned request is dropped without
        // cancelling its query (a cancel request would need a second connection per query),
        // so this is what stops the database's work. Options from the URL are kept.
        let timeout = format!(
            "-c statement_timeout={}",
            options.statement_timeout.as_millis().max(1)
        );
        let startup = match config.get_options() {
            Some(given) if !given.trim().is_empty() => format!("{given} {timeout}"),
            _ => timeout,
        };
        config.options(&startup);
        let manager_config = ManagerConfig {
            // A connection that broke while pooled is noticed on checkout, not mid-request.
            recycling_method: RecyclingMethod::Verified,
        };
        let manager = match tls {
            tls::Tls::Off => Manager::from_config(config, NoTls, manager_config),
            tls::Tls::Rustls(tls) => Manager::from_config(config, tls, manager_config),
        };
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
                prune_schedule: PruneSchedule::default(),
                owner_keys: OwnerKeys::default(),
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

    /// `owner`'s key for a read: [`NO_ROWS_KEY`] when it has none (it never wrote).
    async fn read_key(
        &self,
        client: &deadpool_postgres::Object,
        owner: &Owner,
    ) -> Result<i64, StoreError> {
        let found = owners::find(&***client, owner);
        let key = self.inner.owner_keys.resolve(owner, found).await?;
        Ok(key.unwrap_or(NO_ROWS_KEY))
    }

    /// `owner`'s key for a write, given on its first write (outside any transaction).
    async fn write_key(
        &self,
        client: &deadpool_postgres::Object,
        owner: &Owner,
    ) -> Result<i64, StoreError> {
        if let Some(key) = self.inner.owner_keys.known(owner) {
            return Ok(key);
        }
        let key = owners::find_or_add(&***client, owner).await?;
        self.inner.owner_keys.remember(owner, key);
        Ok(key)
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
    async fn query(
        &self,
        owner: &Owner,
        table: &str,
        query: &ItemQuery,
    ) -> Result<QueryPage, StoreError> {
        let mut client = self.client().await?;
        let key = self.read_key(&client, owner).await?;
        let mut params: Vec<PgParam> = vec![PgParam::Text(table.to_owned()), PgParam::Int(key)];
        // The prefix of both the primary key and the change index.
        let mut where_sql = String::from("tbl = $1 AND owner = $2");
        if !query.include_deleted {
            where_sql.push_str(" AND NOT deleted");
        }
        if let Some(expr) = &query.filter {
            let sql = tidemark_sql::filter(&PostgresDialect, expr)?;
            where_sql.push_str(" AND (");
            where_sql.push_str(&sql.numbered(params.len() + 1));
            where_sql.push(')');
            params.extend(sql.params);
        }
        let order = tidemark_sql::order_by(&PostgresDialect, &query.orderby)?;
        let count_sql = format!("SELECT count(*) FROM items WHERE {where_sql}");
        let mut page_params = params.clone();
        let order_text = order.numbered(page_params.len() + 1);
        page_params.extend(order.params);
        page_params.push(PgParam::Int(query.fetch_limit()));
        page_params.push(PgParam::Int(query.offset()));
        let n = page_params.len();
        let page_sql = format!(
            "SELECT {ITEM_COLUMNS} FROM items WHERE {where_sql} ORDER BY {order_text} \
             LIMIT ${}::bigint OFFSET ${n}::bigint",
            n - 1
        );
        // Count and page from one snapshot, so they agree.
        let tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(classify)?;
        let count = if query.count_total {
            let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(as_sql).collect();
            Some(
                tx.query_one(&count_sql, &refs)
                    .await
                    .map_err(classify)?
                    .get(0),
            )
        } else {
            None
        };
        let refs: Vec<&(dyn ToSql + Sync)> = page_params.iter().map(as_sql).collect();
        // Rows come through a portal a few at a time, and fetching stops once the page is
        // full, so a page of big items never has more than one fetch beyond its budget in
        // memory.
        let portal = tx.bind(&page_sql, &refs).await.map_err(classify)?;
        let mut page = PageBuilder::new(query);
        let mut more = false;
        let mut fetch = FIRST_FETCH_ROWS.min(page.rows_left().saturating_add(1));
        'fetch: loop {
            let rows = tx
                .query_portal(&portal, i32::try_from(fetch).unwrap_or(i32::MAX))
                .await
                .map_err(classify)?;
            let exhausted = rows.len() < fetch;
            for row in &rows {
                if page.is_full() {
                    more = true;
                    break 'fetch;
                }
                let item = item_from_row(row)?;
                let bytes = item.wire_len();
                page.push(item, bytes);
            }
            if exhausted {
                break;
            }
            // One more than the rows still wanted tells whether another page follows.
            let by_size = page
                .average_row_bytes()
                .map_or(FIRST_FETCH_ROWS, |avg| page.bytes_left() / avg + 1);
            fetch = by_size
                .min(page.rows_left().saturating_add(1))
                .clamp(1, MAX_FETCH_ROWS);
        }
        drop(portal);
        tx.commit().await.map_err(classify)?;
        Ok(page.finish(more, count))
    }

    async fn checksum(
        &self,
        owner: &Owner,
        table: &str,
        until: Option<i64>,
    ) -> Result<tidemark_protocol::checksum::TableChecksum, StoreError> {
        self.checksum_rows(owner, table, until).await
    }

    async fn lookup(
        &self,
        owner: &Owner,
        table: &str,
        id: &str,
        include_deleted: bool,
    ) -> Result<Item, StoreError> {
        let client = self.client().await?;
        let key = self.read_key(&client, owner).await?;
        let statement = client.prepare_cached(LOAD_ITEM).await.map_err(classify)?;
        let row = client
            .query_opt(&statement, &[&table, &key, &id])
            .await
            .map_err(classify)?;
        visible(
            row.as_ref().map(item_from_row).transpose()?,
            id,
            include_deleted,
        )
    }

    async fn apply(&self, owner: &Owner, write: StoreWrite) -> Result<WriteOutcome, StoreError> {
        let mut client = self.client().await?;
        let key = self.write_key(&client, owner).await?;
        let tx = client.transaction().await.map_err(classify)?;
        let (options, schedule) = (&self.inner.options, &self.inner.prune_schedule);
        write::write_one(tx, key, write, options, schedule).await
    }

    async fn adopt_unowned(&self, owner: &Owner) -> Result<u64, StoreError> {
        adoption::check_adopter(owner)?;
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(classify)?;
        // Taken before the check, so no write of either owner slips in between.
        tx.batch_execute("LOCK TABLE items, operations IN SHARE ROW EXCLUSIVE MODE")
            .await
            .map_err(classify)?;
        let key = owners::find_or_add(&*tx, owner).await?;
        let collisions = tx
            .query(adoption::COLLISIONS, &[&key])
            .await
            .map_err(classify)?
            .iter()
            .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .collect::<Result<Vec<(String, String)>, tokio_postgres::Error>>()
            .map_err(StoreError::internal)?;
        if !collisions.is_empty() {
            return Err(adoption::refused(owner, &collisions));
        }
        let statements = [
            adoption::DROP_SHADOWED_RECORDS,
            adoption::ADOPT_RECORDS,
            adoption::ADOPT_ITEMS,
        ];
        run_for(tx, key, &statements).await
    }

    async fn delete_rows_of(&self, owner: &Owner) -> Result<u64, StoreError> {
        let client = self.client().await?;
        // An owner without a key never wrote: there is nothing to delete.
        let Some(key) = owners::find(&**client, owner).await? else {
            return Ok(0);
        };
        let mut client = client;
        let tx = client.transaction().await.map_err(classify)?;
        run_for(tx, key, &[adoption::DELETE_RECORDS, adoption::DELETE_ITEMS]).await
    }
}

/// Runs `statements` with the owner's `key` as `$1` in `tx` and commits; answers the rows the
/// last one changed.
async fn run_for(
    tx: deadpool_postgres::Transaction<'_>,
    key: i64,
    statements: &[&str],
) -> Result<u64, StoreError> {
    let mut changed = 0;
    for sql in statements {
        changed = tx.execute(*sql, &[&key]).await.map_err(classify)?;
    }
    tx.commit().await.map_err(classify)?;
    Ok(changed)
}

/// Sorts a driver error: a lost or refused connection is [`StoreError::Unavailable`] (retry
/// later), anything else is internal.
pub(super) fn classify(error: tokio_postgres::Error) -> StoreError {
    let unavailable = error.is_closed()
        || error.code().is_some_and(|code| {
            // Class 08 (connection exception), 57P01-03 (admin shutdown, crash shutdown,
            // cannot connect now), 53300 (too many connections).
            let code = code.code();
            code.starts_with("08") || code.starts_with("57P0") || code == "53300"
        })
        // 57014: cancelled, here by `statement_timeout`: the query ran longer than a request
        // may, nothing was written, and the database is busy rather than broken.
        || error
            .code()
            .is_some_and(|code| *code == tokio_postgres::error::SqlState::QUERY_CANCELED)
        || (error.code().is_none()
            && std::error::Error::source(&error)
                .is_some_and(|s| s.downcast_ref::<std::io::Error>().is_some()));
    // The driver's Display says only "db error"; the log needs PostgreSQL's own message.
    // For the rest, its sources say why (refused, TLS certificate not trusted...); none of
    // them quotes the connection's configuration, so no password can show.
    let message = match error.as_db_error() {
        Some(db) => format!("{error}: {} ({})", db.message(), db.code().code()),
        None => {
            let mut message = error.to_string();
            let mut source = std::error::Error::source(&error);
            while let Some(cause) = source {
                let text = cause.to_string();
                if !message.ends_with(&text) {
                    message.push_str(": ");
                    message.push_str(&text);
                }
                source = cause.source();
            }
            message
        }
    };
    if unavailable {
        StoreError::Unavailable(message)
    } else {
        StoreError::internal(message)
    }
}

pub(super) fn item_from_row(row: &Row) -> Result<Item, StoreError> {
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
