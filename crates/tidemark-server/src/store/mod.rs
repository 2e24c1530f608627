//! Storage behind the HTTP layer: the [`TableStore`] trait answers the routes' reads and
//! applies their writes, so the routes never see SQL and either backend comes in through the
//! same door.
//!
//! What a write does to an item is decided once, in [`rules`]; what operation records hold and
//! when they are pruned, once, in `operations`. Everything dialect-specific (SQL text, column
//! types, how the change clock is kept) lives in the backend modules ([`sqlite`],
//! [`postgres`]), which only load, save and keep records.

mod adoption;
mod item;
mod migrations;
mod operations;
mod owner;
pub mod postgres;
pub mod rules;
pub mod sqlite;

use std::future::Future;

use serde_json::{Map, Value};
use tidemark_protocol::checksum::TableChecksum;
use tidemark_protocol::headers::OperationTag;
use tidemark_protocol::odata::{Expr, OrderBy};

pub use item::{Item, WireItem, WireItems, serialize_wire_option};
pub use migrations::MigrationError;
pub use operations::OperationRetention;
pub use owner::Owner;
pub(crate) use owner::{NO_ROWS_KEY, OwnerKeys};
pub use postgres::{PostgresOptions, PostgresTableStore};
pub use sqlite::{Clock, SqliteOptions, SqliteTableStore, SystemClock};

/// Why a store request did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No item with that id (or it is soft-deleted, where that counts as gone).
    #[error("no item with id '{0}'")]
    NotFound(String),
    /// An insert named an id that already exists (soft-deleted or not); holds the stored item.
    #[error("an item with id '{}' already exists", .0.id)]
    Conflict(Box<Item>),
    /// The caller's expected version is not the stored one; holds the stored item.
    #[error("item '{}' has changed (its version is now {})", .0.id, .0.version)]
    PreconditionFailed(Box<Item>),
    /// The query cannot be evaluated (a construct the backend cannot translate, a bad literal).
    #[error("{0}")]
    InvalidQuery(String),
    /// The request contradicts stored state in a way the client must fix (e.g. an operation tag
    /// reused for a different write).
    #[error("{0}")]
    BadRequest(String),
    /// The database cannot be reached right now (down, restarting, out of connections); nothing
    /// was written and a retry may succeed.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The backend failed; nothing was written.
    #[error("storage failure: {0}")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    /// Wraps any backend error as [`StoreError::Internal`].
    pub fn internal(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        StoreError::Internal(error.into())
    }
}

/// A query against one table, with every default already resolved by the caller.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ItemQuery {
    /// `$filter`, if any.
    pub filter: Option<Expr>,
    /// `$orderby` keys; the store always appends `id` as the final tie-breaker.
    pub orderby: Vec<OrderBy>,
    /// Rows to skip.
    pub skip: u64,
    /// Rows to return at most.
    pub limit: u64,
    /// Whether soft-deleted items are included.
    pub include_deleted: bool,
    /// Whether to count every matching row (ignoring `skip`/`limit`).
    pub count_total: bool,
    /// The page's byte budget: the store stops reading rows once the JSON size of those read
    /// reaches it (always after at least one row) and reports [`QueryPage::more`]. `None`: no
    /// budget, only `limit`.
    pub max_bytes: Option<usize>,
}

/// One page of query results.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryPage {
    /// The items, in query order.
    pub items: Vec<Item>,
    /// Whether more rows match after this page.
    pub more: bool,
    /// The number of matching rows when [`ItemQuery::count_total`] was set.
    pub total: Option<u64>,
}

// The read rules both stores share; only the SQL around them differs.
impl ItemQuery {
    /// How many rows a store fetches for one page: one more than asked tells whether another
    /// page follows.
    pub(crate) fn fetch_limit(&self) -> i64 {
        self.limit.min(i64::MAX as u64 - 1) as i64 + 1
    }

    /// The rows to skip, as SQL takes them.
    pub(crate) fn offset(&self) -> i64 {
        self.skip.min(i64::MAX as u64) as i64
    }
}

/// One page as a store reads it, row by row: it says when to stop reading, at the row limit or
/// the byte budget, so a page of big items is cut while it is read rather than after every row
/// is in memory.
#[derive(Debug)]
pub(crate) struct PageBuilder {
    items: Vec<Item>,
    bytes: usize,
    limit: usize,
    max_bytes: usize,
}

impl PageBuilder {
    /// An empty page for `query`.
    pub(crate) fn new(query: &ItemQuery) -> Self {
        let limit = usize::try_from(query.limit).unwrap_or(usize::MAX);
        Self {
            // Never reserve for a huge `$top` up front: most pages are short.
            items: Vec::with_capacity(limit.min(64)),
            bytes: 0,
            limit,
            max_bytes: query.max_bytes.unwrap_or(usize::MAX),
        }
    }

    /// True when the page takes no more rows: it holds `limit` rows, or their size reached the
    /// budget. An empty page always takes a row, so a page is never empty while rows remain.
    pub(crate) fn is_full(&self) -> bool {
        self.items.len() >= self.limit || (!self.items.is_empty() && self.bytes >= self.max_bytes)
    }

    /// Adds a row whose JSON form is about `bytes` long.
    pub(crate) fn push(&mut self, item: Item, bytes: usize) {
        self.bytes = self.bytes.saturating_add(bytes);
        self.items.push(item);
    }

    /// The bytes still free in the budget (at least 1).
    pub(crate) fn bytes_left(&self) -> usize {
        self.max_bytes.saturating_sub(self.bytes).max(1)
    }

    /// The rows still free under the row limit.
    pub(crate) fn rows_left(&self) -> usize {
        self.limit.saturating_sub(self.items.len())
    }

    /// The average size of the rows read so far, if any.
    pub(crate) fn average_row_bytes(&self) -> Option<usize> {
        (!self.items.is_empty()).then(|| (self.bytes / self.items.len()).max(1))
    }

    /// The page; `more` says whether a matching row follows the last one read, `count` is the
    /// database's `count(*)` (never negative) when asked for.
    pub(crate) fn finish(self, more: bool, count: Option<i64>) -> QueryPage {
        QueryPage {
            items: self.items,
            more,
            total: count.map(|n| u64::try_from(n).unwrap_or(0)),
        }
    }
}

/// What a lookup answers for the stored row: soft-deleted items only when asked for.
pub(crate) fn visible(
    item: Option<Item>,
    id: &str,
    include_deleted: bool,
) -> Result<Item, StoreError> {
    match item {
        Some(item) if include_deleted || !item.deleted => Ok(item),
        _ => Err(StoreError::NotFound(id.to_owned())),
    }
}

impl From<tidemark_sql::TranslateError> for StoreError {
    fn from(error: tidemark_sql::TranslateError) -> Self {
        StoreError::InvalidQuery(error.to_string())
    }
}

/// A new item: its id when the client chose one, and its user properties.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewItem {
    /// The client-made id, or `None` for a server-made UUID.
    pub id: Option<String>,
    /// The user properties (no system properties).
    pub properties: Map<String, Value>,
}

/// The result of a write.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteOutcome {
    /// The item as stored by the write.
    pub item: Item,
    /// True when this is the recorded outcome of an earlier request with the same operation tag
    /// (nothing was written this time).
    pub replayed: bool,
}

/// What one write changes, as the store applies it (ids validated, no system properties).
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Store a new item; the id must not exist, even soft-deleted.
    Insert(NewItem),
    /// Merge `patch` into a live item.
    Update {
        /// The item's id.
        id: String,
        /// The properties to merge.
        patch: Map<String, Value>,
        /// The version `If-Match` requires, if any.
        expected_version: Option<String>,
        /// The largest the merged item's properties may be, in bytes of compact JSON
        /// ([`rules::stored_size`]); `None` leaves it unchecked. A patch can be small while
        /// the item it grows is not, so this is checked on the merged item.
        max_bytes: Option<usize>,
    },
    /// Soft-delete a live item (an already deleted one is not found).
    Delete {
        /// The item's id.
        id: String,
        /// The version `If-Match` requires, if any.
        expected_version: Option<String>,
    },
    /// Clear an item's deleted flag, deleted or not (always a write: new `updatedAt` and
    /// `version`, as stock servers do).
    Undelete {
        /// The item's id.
        id: String,
        /// The version `If-Match` requires, if any.
        expected_version: Option<String>,
    },
}

impl Change {
    /// The kind of write, as operation records name it.
    pub fn kind(&self) -> WriteKind {
        match self {
            Change::Insert(_) => WriteKind::Insert,
            Change::Update { .. } => WriteKind::Update,
            Change::Delete { .. } => WriteKind::Delete,
            Change::Undelete { .. } => WriteKind::Undelete,
        }
    }

    /// The id the write names (none for an insert with a server-made id).
    pub fn item_id(&self) -> Option<&str> {
        match self {
            Change::Insert(item) => item.id.as_deref(),
            Change::Update { id, .. } | Change::Delete { id, .. } | Change::Undelete { id, .. } => {
                Some(id)
            }
        }
    }
}

/// One write of any kind: the table, the change and its idempotency tag.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreWrite {
    /// The declared table name.
    pub table: String,
    /// What the write changes.
    pub change: Change,
    /// The idempotency tag, when the request carried one.
    pub tag: Option<OperationTag>,
}

impl StoreWrite {
    /// An untagged write of `change` to `table`.
    pub fn new(table: impl Into<String>, change: Change) -> Self {
        Self {
            table: table.into(),
            change,
            tag: None,
        }
    }

    /// This write, carrying the idempotency tag `tag`.
    pub fn tagged(self, tag: OperationTag) -> Self {
        Self {
            tag: Some(tag),
            ..self
        }
    }
}

/// What [`TableStore::apply_batch`] answers: one result per attempted write, in order. It is
/// shorter than the batch when the store had to stop (the rest were not attempted).
pub type BatchOutcome = Vec<Result<WriteOutcome, StoreError>>;

/// Which kind of write an operation tag was recorded for; a retry must be the same kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WriteKind {
    /// An insert (`POST /tables/{t}`).
    Insert,
    /// A merge update (`PATCH`).
    Update,
    /// A soft delete.
    Delete,
    /// An undelete (`POST /tables/{t}/{id}`).
    Undelete,
}

impl WriteKind {
    /// The name stored with operation records.
    pub fn as_str(self) -> &'static str {
        match self {
            WriteKind::Insert => "insert",
            WriteKind::Update => "update",
            WriteKind::Delete => "delete",
            WriteKind::Undelete => "undelete",
        }
    }
}

/// The storage the server needs: reads, and writes of any kind through [`TableStore::apply`].
///
/// Table names are the declared, validated ones; ids are validated; property maps hold no
/// system properties. Every write is atomic: either the row, its new `updatedAt`/`version` and
/// the operation record (when `tag` is given) are all stored, or none is.
///
/// Every call is scoped to one [`Owner`]: it reads and writes only that owner's rows, and a
/// row of another owner is exactly like a row that does not exist (a lookup, update, delete or
/// undelete of its id is not found, an insert with its id stores a fresh row of this owner,
/// queries and counts never see it). Ids are unique per (table, owner).
///
/// Writes carrying an [`OperationTag`] are applied at most once per table and owner: when a
/// record for `(table, owner, tag)` exists, the store returns its outcome with `replayed: true`
/// instead of writing. Only successful writes are recorded; a failed write changed nothing, so a
/// retry is judged afresh. Another owner's write with the same tag is judged afresh too.
pub trait TableStore: crate::accounts::AccountStore + Send + Sync + 'static {
    /// Items of `owner` in `table` matching `query`, one page.
    fn query(
        &self,
        owner: &Owner,
        table: &str,
        query: &ItemQuery,
    ) -> impl Future<Output = Result<QueryPage, StoreError>> + Send;

    /// The item of `owner` with this id; soft-deleted items only when `include_deleted`.
    fn lookup(
        &self,
        owner: &Owner,
        table: &str,
        id: &str,
        include_deleted: bool,
    ) -> impl Future<Output = Result<Item, StoreError>> + Send;

    /// The checksum ([`tidemark_protocol::checksum`]) of `owner`'s live rows of `table` whose
    /// `updatedAt` is at or before `until` (microseconds since the epoch; `None`: every live
    /// row), read from one snapshot. Only `owner`'s rows count, as for every other read.
    fn checksum(
        &self,
        owner: &Owner,
        table: &str,
        until: Option<i64>,
    ) -> impl Future<Output = Result<TableChecksum, StoreError>> + Send;

    /// Applies one write of any kind, atomically: the write rules ([`rules::apply`]) decide
    /// the stored item or the error, and a tagged write is recorded (or replayed), all as
    /// `owner`'s.
    fn apply(
        &self,
        owner: &Owner,
        write: StoreWrite,
    ) -> impl Future<Output = Result<WriteOutcome, StoreError>> + Send;

    /// Applies `writes` in order, each atomic on its own (a failed write changes nothing and the
    /// next one is still applied), and answers one result per write.
    ///
    /// When the database becomes unavailable the store stops: the answer then holds the results
    /// of the writes before it and the rest were not attempted. `Err` means nothing at all was
    /// applied. This default applies the writes one by one; a store may do better (one
    /// transaction for the whole batch) as long as the results are the same.
    fn apply_batch(
        &self,
        owner: &Owner,
        writes: Vec<StoreWrite>,
    ) -> impl Future<Output = Result<BatchOutcome, StoreError>> + Send {
        async move {
            let total = writes.len();
            let mut results = Vec::with_capacity(total);
            for write in writes {
                match self.apply(owner, write).await {
                    Err(StoreError::Unavailable(reason)) if results.is_empty() => {
                        return Err(StoreError::Unavailable(reason));
                    }
                    Err(StoreError::Unavailable(reason)) => {
                        log::warn!(
                            "batch stopped after {} of {total} writes: database unavailable: \
                             {reason}",
                            results.len()
                        );
                        break;
                    }
                    other => results.push(other),
                }
            }
            Ok(results)
        }
    }

    /// Gives every unowned row ([`Owner::unowned`]) and unowned operation record of every table
    /// to `owner`, atomically, and answers how many items moved. The rows keep their
    /// `updatedAt` and version: this is meant for an owner who has pulled nothing yet (a new
    /// account adopting a database from before accounts).
    ///
    /// When `owner` already has an item with the id of an unowned one, nothing moves and the
    /// answer is [`StoreError::BadRequest`] naming the ids. An unowned operation record whose
    /// tag `owner` already used is dropped (it could only replay into the wrong item).
    fn adopt_unowned(&self, owner: &Owner) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Deletes (for good, not soft) every item and operation record of `owner` in every table,
    /// atomically, and answers how many items went.
    fn delete_rows_of(&self, owner: &Owner)
    -> impl Future<Output = Result<u64, StoreError>> + Send;
}
