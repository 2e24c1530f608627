//! Preparing operations to send: each is read in queue order, its request built from the
//! local row, and marked attempted (remembering the body sent), in one transaction; and put
//! back as it was when it is never sent after all.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;
use tidemark_protocol::system;

use crate::context::SyncContext;
use crate::error::Result;
use crate::item::Item;
use crate::queue::{MAX_REMEMBERED_ATTEMPTS, Operation, OperationKind, OperationState};
use crate::schema::TableDefinition;
use crate::store::{ops, rows};

// Why an attempt mark may be lost to a power cut (it is committed without waiting for the
// disk): a cut takes back only commits after the last durable one, and every user edit is
// durable. So a lost mark had no edit after it: the resend carries the very body the lost
// attempt sent, which our server recognises by its idempotency tag and the engine recognises
// on a stock server by comparing the server's copy with it.

/// An operation read and marked attempted, with what will be sent.
pub(super) struct Prepared {
    pub(super) op: Operation,
    pub(super) def: Arc<TableDefinition>,
    pub(super) body: Option<Item>,
    pub(super) if_match: Option<String>,
    /// The bodies of earlier attempts whose outcome was never learnt.
    pub(super) previous_attempts: Vec<Item>,
    /// The operation's state before it was marked attempted.
    previous_state: OperationState,
}

/// Reads the next operation after `after` in queue order, builds its request from the local
/// row, and marks it attempted, in one transaction.
pub(super) async fn prepare_next(ctx: &SyncContext, after: i64) -> Result<Option<Prepared>> {
    let mut batch = prepare_batch(ctx, after, 1).await?;
    Ok(batch.pop())
}

/// Like [`prepare_next`] for up to `size` operations, all in one transaction.
pub(super) async fn prepare_batch(
    ctx: &SyncContext,
    after: i64,
    size: usize,
) -> Result<Vec<Prepared>> {
    let tables = ctx.inner.tables.clone();
    ctx.inner
        .store
        // Committed without waiting for the disk; why that is safe is explained above `Prepared`.
        .call(move |conn| {
            crate::store::redoable(conn, |conn| {
                let tx = conn.transaction()?;
                let mut after = after;
                let mut batch = Vec::with_capacity(size.min(1024));
                while batch.len() < size {
                    let next = ops::list_after(&tx, after, size - batch.len())?;
                    if next.is_empty() {
                        break;
                    }
                    for op in next {
                        after = op.sequence;
                        if let Some(prepared) = prepare_in(&tx, &tables, op)? {
                            batch.push(prepared);
                        }
                    }
                }
                tx.commit()?;
                Ok(batch)
            })
        })
        .await
}

/// Prepares the operation with this id again (for a resend), if it is still queued.
pub(super) async fn prepare_op(ctx: &SyncContext, op_id: &str) -> Result<Option<Prepared>> {
    let tables = ctx.inner.tables.clone();
    let op_id = op_id.to_owned();
    ctx.inner
        .store
        .call(move |conn| {
            crate::store::redoable(conn, |conn| {
                let tx = conn.transaction()?;
                let prepared = match ops::get(&tx, &op_id)? {
                    Some(op) => prepare_in(&tx, &tables, op)?,
                    None => None,
                };
                tx.commit()?;
                Ok(prepared)
            })
        })
        .await
}

/// Builds `op`'s request from the local row and marks it attempted; `None` when it cannot be
/// sent (its table is no longer defined, or its row is gone: then it is dropped).
fn prepare_in(
    tx: &rusqlite::Transaction<'_>,
    tables: &HashMap<String, Arc<TableDefinition>>,
    mut op: Operation,
) -> Result<Option<Prepared>> {
    let Some(def) = tables.get(&op.table).cloned() else {
        // A table dropped from the app's definitions: its operations wait.
        log::warn!("operation {} is for undefined table '{}'", op.id, op.table);
        return Ok(None);
    };
    let (body, if_match) = match op.kind {
        OperationKind::Insert | OperationKind::Update => {
            let Some(mut row) = rows::get(tx, &def, &op.item_id)? else {
                log::warn!("operation {} has no local row; dropped", op.id);
                ops::remove(tx, &op.id)?;
                return Ok(None);
            };
            let version = row
                .get(system::VERSION)
                .and_then(Value::as_str)
                .map(str::to_string);
            system::strip_system_properties(&mut row);
            let if_match = if op.kind == OperationKind::Update {
                version
            } else {
                None
            };
            (Some(row), if_match)
        }
        OperationKind::Delete => {
            let version = op
                .item
                .as_ref()
                .and_then(|i| i.get(system::VERSION))
                .and_then(Value::as_str)
                .map(str::to_string);
            (None, version)
        }
    };
    let previous_attempts = op.attempted_items.clone();
    let previous_state = op.state;
    op.state = OperationState::Attempted;
    let sent = body.clone().unwrap_or_default();
    if !op.attempted_items.contains(&sent) {
        op.attempted_items.push(sent);
    }
    if op.attempted_items.len() > MAX_REMEMBERED_ATTEMPTS {
        op.attempted_items.remove(0);
    }
    ops::save(tx, &op)?;
    Ok(Some(Prepared {
        op,
        def,
        body,
        if_match,
        previous_attempts,
        previous_state,
    }))
}

/// Puts operations prepared but never sent back as they were before [`prepare_in`] marked
/// them attempted.
pub(super) async fn unmark(ctx: &SyncContext, unsent: Vec<Prepared>) -> Result<()> {
    if unsent.is_empty() {
        return Ok(());
    }
    ctx.inner
        .store
        .call(move |conn| {
            let tx = conn.transaction()?;
            for p in unsent {
                let mut op = p.op;
                op.state = p.previous_state;
                op.attempted_items = p.previous_attempts;
                // Only if nothing changed it since (an edit bumps the version).
                if ops::kind_and_version(&tx, &op.id)?.is_some_and(|(_, v)| v == op.version) {
                    ops::save(&tx, &op)?;
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
}
