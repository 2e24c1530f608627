//! `SyncTable`: local reads and writes of one table. Every write is one transaction holding the
//! row change and its queue entry (collapsed with any operation already queued for the item).

use std::sync::Arc;

use serde_json::Value;
use tidemark_protocol::system;

use crate::collapse::{Collapse, collapse};
use crate::context::SyncContext;
use crate::error::{ClientError, Result};
use crate::pull;
use crate::purge;
use crate::query::Query;
use crate::queue::{Operation, OperationKind, OperationState};
use crate::results::PullResult;
use crate::schema::{Item, TableDefinition, is_server_owned};
use crate::status::CancelToken;
use crate::store::{ops, rows};

/// One local table of a [`SyncContext`]: CRUD and queries on the local store, pull and purge.
#[derive(Debug, Clone)]
pub struct SyncTable {
    ctx: SyncContext,
    def: Arc<TableDefinition>,
}

impl SyncContext {
    /// The local table `name` (defined at open).
    pub fn table(&self, name: &str) -> Result<SyncTable> {
        let def = self.definition(name)?;
        Ok(SyncTable::new(self.clone(), def))
    }
}

impl SyncTable {
    pub(crate) fn new(ctx: SyncContext, def: Arc<TableDefinition>) -> Self {
        Self { ctx, def }
    }

    /// The table's name.
    pub fn name(&self) -> &str {
        &self.def.name
    }

    /// The table's definition.
    pub fn definition(&self) -> &TableDefinition {
        &self.def
    }

    /// Inserts an item locally and queues its insert. Makes a UUID id when the item has none;
    /// fails when the id exists locally. Returns the stored item.
    pub async fn insert(&self, item: Item) -> Result<Item> {
        let (id, item) = self.prepare_insert(item)?;
        self.write(OperationKind::Insert, id, move |tx, def, id| {
            insert_row(tx, def, id, &item)
        })
        .await
    }

    /// Inserts many items in one transaction, each with its queued insert: all are stored, or
    /// none (a bulk import must not stop half-way). Returns the stored items in order.
    pub async fn insert_many(&self, items: Vec<Item>) -> Result<Vec<Item>> {
        let prepared = items
            .into_iter()
            .map(|item| self.prepare_insert(item))
            .collect::<Result<Vec<_>>>()?;
        let def = Arc::clone(&self.def);
        let (stored, pending) = self
            .ctx
            .inner
            .store
            .call(move |conn| {
                let tx = conn.transaction()?;
                let mut stored = Vec::with_capacity(prepared.len());
                for (id, item) in prepared {
                    stored.push(apply_write(
                        &tx,
                        &def,
                        OperationKind::Insert,
                        id,
                        |tx, def, id| insert_row(tx, def, id, &item),
                    )?);
                }
                let pending = ops::count(&tx)?;
                tx.commit()?;
                Ok((stored, pending))
            })
            .await?;
        self.ctx.set_pending(pending);
        Ok(stored)
    }

    /// Gives an item to insert its id (a new UUID when absent) and checks id and fields.
    fn prepare_insert(&self, mut item: Item) -> Result<(String, Item)> {
        let id = match item.get(system::ID) {
            None | Some(Value::Null) => uuid::Uuid::new_v4().to_string(),
            Some(Value::String(id)) => id.clone(),
            Some(other) => {
                return Err(ClientError::invalid(format!(
                    "id must be a string, not {other}"
                )));
            }
        };
        system::validate_id(&id).map_err(|e| ClientError::invalid(e.to_string()))?;
        item.insert(system::ID.into(), Value::String(id.clone()));
        self.check_fields(&item)?;
        Ok((id, item))
    }

    /// Updates the fields given in `item` (which must carry the id) and queues an update.
    /// Fields not given keep their values. Returns the stored item.
    pub async fn update(&self, item: Item) -> Result<Item> {
        let id = match item.get(system::ID) {
            Some(Value::String(id)) => id.clone(),
            _ => return Err(ClientError::invalid("update needs the item's string id")),
        };
        self.check_fields(&item)?;
        self.write(OperationKind::Update, id, move |tx, def, id| {
            if !rows::update(tx, def, id, &item, |n| !is_server_owned(n))? {
                return Err(ClientError::NotFound {
                    table: def.name.clone(),
                    id: id.to_string(),
                });
            }
            Ok(None)
        })
        .await
    }

    /// Deletes an item locally and queues its delete (its version goes out as `If-Match`).
    pub async fn delete(&self, id: &str) -> Result<()> {
        self.write(OperationKind::Delete, id.to_string(), |tx, def, id| {
            let row = rows::get(tx, def, id)?.ok_or_else(|| ClientError::NotFound {
                table: def.name.clone(),
                id: id.to_string(),
            })?;
            rows::delete(tx, def, id)?;
            Ok(Some(row))
        })
        .await
        .map(|_| ())
    }

    /// The local item with this id.
    pub async fn lookup(&self, id: &str) -> Result<Option<Item>> {
        let def = Arc::clone(&self.def);
        let id = id.to_string();
        self.ctx
            .inner
            .store
            .call(move |c| rows::get(c, &def, &id))
            .await
    }

    /// The local items matching a query (filter, order, skip, take).
    pub async fn query(&self, query: &Query) -> Result<Vec<Item>> {
        if !query.select.is_empty() {
            return Err(ClientError::invalid("select is for online queries only"));
        }
        let def = Arc::clone(&self.def);
        let query = query.clone();
        self.ctx
            .inner
            .store
            .call(move |c| rows::query(c, &def, &query))
            .await
    }

    /// How many local items match the query's filter.
    pub async fn count(&self, query: &Query) -> Result<u64> {
        let def = Arc::clone(&self.def);
        let query = query.clone();
        self.ctx
            .inner
            .store
            .call(move |c| rows::count(c, &def, &query))
            .await
    }

    /// Pulls server rows into this table; see [`PullResult`]. With a query id the pull is
    /// incremental (a delta token per query id); without one the whole query comes every time.
    pub async fn pull(&self, query_id: Option<&str>, query: &Query) -> Result<PullResult> {
        self.pull_with_cancel(query_id, query, &CancelToken::new())
            .await
    }

    /// Like [`SyncTable::pull`], stopping between pages when `cancel` is cancelled.
    pub async fn pull_with_cancel(
        &self,
        query_id: Option<&str>,
        query: &Query,
        cancel: &CancelToken,
    ) -> Result<PullResult> {
        pull::run(&self.ctx, &self.def, query_id, query, cancel).await
    }

    /// Removes local rows matching the query and resets the query id's delta token (every
    /// token of the table when the query is the whole table). Refuses when the table has
    /// queued operations, unless `force`, which drops them and their errors. Returns the
    /// number of rows removed.
    pub async fn purge(&self, query_id: Option<&str>, query: &Query, force: bool) -> Result<u64> {
        purge::run(&self.ctx, &self.def, query_id, query, force).await
    }

    /// Refuses fields the table does not define: they would be silently lost otherwise.
    fn check_fields(&self, item: &Item) -> Result<()> {
        for key in item.keys() {
            if self.def.column_type(key).is_none() && !system::is_system_property(key) {
                return Err(ClientError::invalid(format!(
                    "'{key}' is not a column of table '{}'",
                    self.def.name
                )));
            }
        }
        Ok(())
    }

    /// One local write: `change` edits the row (returning the old row for deletes), and the
    /// queue entry is added or collapsed in the same transaction.
    async fn write<F>(&self, kind: OperationKind, id: String, change: F) -> Result<Item>
    where
        F: FnOnce(&rusqlite::Connection, &TableDefinition, &str) -> Result<Option<Item>>
            + Send
            + 'static,
    {
        let def = Arc::clone(&self.def);
        let (item, pending) = self
            .ctx
            .inner
            .store
            .call(move |conn| {
                let tx = conn.transaction()?;
                let item = apply_write(&tx, &def, kind, id, change)?;
                let pending = ops::count(&tx)?;
                tx.commit()?;
                Ok((item, pending))
            })
            .await?;
        self.ctx.set_pending(pending);
        Ok(item)
    }
}

/// Stores a new row, refusing an id that exists locally.
fn insert_row(
    tx: &rusqlite::Connection,
    def: &TableDefinition,
    id: &str,
    item: &Item,
) -> Result<Option<Item>> {
    if rows::exists(tx, def, id)? {
        return Err(ClientError::AlreadyExists {
            table: def.name.clone(),
            id: id.to_string(),
        });
    }
    rows::insert(tx, def, item, |n| !is_server_owned(n))?;
    Ok(None)
}

/// One local write inside the caller's transaction: `change` edits the row (returning the old
/// row for deletes), and the queue entry is added or collapsed. Returns the stored row.
fn apply_write<F>(
    tx: &rusqlite::Connection,
    def: &TableDefinition,
    kind: OperationKind,
    id: String,
    change: F,
) -> Result<Item>
where
    F: FnOnce(&rusqlite::Connection, &TableDefinition, &str) -> Result<Option<Item>>,
{
    let queued = ops::for_item(tx, &def.name, &id)?;
    let decision = collapse(queued.as_ref(), kind)?;
    let old_row = change(tx, def, &id)?;
    match (decision, queued) {
        (Collapse::Append(kind), _) => {
            let op = Operation {
                id: uuid::Uuid::new_v4().to_string(),
                kind,
                state: OperationState::Pending,
                table: def.name.clone(),
                item_id: id.clone(),
                item: old_row,
                sequence: ops::next_sequence(tx)?,
                version: 1,
                attempted_items: Vec::new(),
            };
            ops::insert(tx, &op)?;
        }
        (Collapse::Bump, Some(mut op)) => {
            op.version += 1;
            // A failed operation with new data is worth sending again.
            if op.state == OperationState::Failed {
                op.state = OperationState::Pending;
            }
            ops::save(tx, &op)?;
        }
        (Collapse::Cancel, Some(op)) => ops::remove(tx, &op.id)?,
        (Collapse::MoveToEnd(kind), Some(mut op)) => {
            op.kind = kind;
            op.item = old_row;
            op.sequence = ops::next_sequence(tx)?;
            op.version += 1;
            ops::save(tx, &op)?;
        }
        (_, None) => {
            return Err(ClientError::protocol("collapse without a queued operation"));
        }
    }
    Ok(rows::get(tx, def, &id)?.unwrap_or_default())
}
