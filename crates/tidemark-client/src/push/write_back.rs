//! Writing back what the server accepted: its item replaces the local row and the operation
//! leaves the queue, for many operations in one transaction; an operation edited while in
//! flight takes only the server's system fields and stays queued for its new data.

use std::collections::HashMap;
use std::sync::Arc;

use super::prepare::Prepared;
use crate::context::SyncContext;
use crate::error::Result;
use crate::item::Item;
use crate::queue::{Operation, OperationKind, OperationState};
use crate::resolve;
use crate::results::PushResult;
use crate::schema::{TableDefinition, is_server_owned};
use crate::store::{ops, rows};

/// Success: the server's item replaces the row and the operation goes, for every operation of
/// `successes` in one transaction, unless the item was edited meanwhile; then only the system
/// fields are taken and the operation stays queued for the new data.
pub(super) async fn apply_successes(
    ctx: &SyncContext,
    successes: Vec<(&Prepared, Option<Item>)>,
) -> Result<()> {
    let writes = successes
        .into_iter()
        .map(|(p, server_item)| WriteBack::new(p, server_item))
        .collect();
    apply_write_backs(ctx, writes).await?;
    Ok(())
}

/// What [`apply_write_backs`] did.
pub(super) struct Written {
    /// Operations written back.
    written: u64,
    /// Operations still queued after it (none when there was nothing to write).
    pending: Option<u64>,
}

impl Written {
    /// Counts the written operations and shows the new queue length.
    pub(super) fn report(self, ctx: &SyncContext, result: &mut PushResult) {
        result.pushed += self.written;
        if let Some(n) = self.pending {
            ctx.set_pending(n);
        }
    }
}

/// Writes back accepted operations in one transaction (see [`apply_successes`]).
pub(super) async fn apply_write_backs(
    ctx: &SyncContext,
    writes: Vec<WriteBack>,
) -> Result<Written> {
    if writes.is_empty() {
        return Ok(Written {
            written: 0,
            pending: None,
        });
    }
    ctx.inner
        .store
        .call(move |conn| {
            // A write-back lost to a power cut leaves its operation queued; the resend is
            // recognised as the same write (see `redoable`).
            crate::store::redoable(conn, |conn| {
                let tx = conn.transaction()?;
                let mut upserters = HashMap::new();
                let errors = ops::any_errors(&tx)?;
                for write in &writes {
                    write_back(&tx, write, &mut upserters, errors)?;
                }
                let pending = ops::count(&tx)?;
                tx.commit()?;
                Ok(Written {
                    written: writes.len() as u64,
                    pending: Some(pending),
                })
            })
        })
        .await
}

/// One accepted operation to write back.
pub(super) struct WriteBack {
    def: Arc<TableDefinition>,
    op_id: String,
    sent_version: u64,
    item_id: String,
    server_item: Option<Item>,
}

impl WriteBack {
    pub(super) fn new(p: &Prepared, server_item: Option<Item>) -> Self {
        Self {
            def: Arc::clone(&p.def),
            op_id: p.op.id.clone(),
            sent_version: p.op.version,
            item_id: p.op.item_id.clone(),
            server_item,
        }
    }
}

/// An accepted operation as the queue holds it now.
enum Queued {
    /// Unchanged since it was sent: this is its kind.
    AsSent(OperationKind),
    /// Edited while in flight: the operation as it is now.
    Edited(Operation),
}

/// Writes back one accepted operation; `upserters` keeps each table's statements for the
/// rest of the transaction, and `errors` says whether any operation has a recorded error.
fn write_back<'w>(
    tx: &rusqlite::Transaction<'_>,
    w: &'w WriteBack,
    upserters: &mut HashMap<&'w str, rows::Upserter<'w>>,
    errors: bool,
) -> Result<()> {
    let WriteBack {
        def,
        op_id,
        sent_version,
        item_id,
        server_item,
    } = w;
    let (def, sent_version) = (&**def, *sent_version);
    // The usual case (not edited in flight) needs only the kind; the rest is read otherwise.
    let queued = match ops::kind_and_version(tx, op_id)? {
        Some((kind, version)) if version == sent_version => Some(Queued::AsSent(kind)),
        Some(_) => ops::get(tx, op_id)?.map(Queued::Edited),
        None => None,
    };
    match queued {
        Some(Queued::AsSent(kind)) => {
            match (kind, server_item) {
                (OperationKind::Delete, _) => {
                    rows::delete(tx, def, item_id)?;
                }
                (_, Some(item)) if !resolve::is_deleted(item) => {
                    upserters
                        .entry(def.name.as_str())
                        .or_insert_with(|| rows::Upserter::new(def))
                        .upsert(tx, item, true)?;
                }
                _ => {}
            }
            if errors {
                ops::remove(tx, op_id)?;
            } else {
                ops::remove_only(tx, op_id)?;
            }
        }
        Some(Queued::Edited(mut op)) => {
            log::info!(
                "'{item_id}' changed while its {} was in flight; kept queued",
                op.kind
            );
            if let Some(item) = &server_item {
                let system_fields: Item = item
                    .iter()
                    .filter(|(k, _)| is_server_owned(k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                match op.kind {
                    OperationKind::Delete => {
                        let mut old = op.item.take().unwrap_or_default();
                        old.extend(system_fields);
                        op.item = Some(old);
                    }
                    _ => {
                        rows::update(tx, def, item_id, &system_fields, |_| true)?;
                    }
                }
            }
            if op.kind == OperationKind::Insert {
                op.kind = OperationKind::Update;
            }
            op.state = OperationState::Pending;
            op.attempted_items.clear();
            ops::save(tx, &op)?;
            ops::remove_errors(tx, op_id)?;
        }
        // Dropped meanwhile (forced purge): nothing to write back.
        None => {}
    }
    Ok(())
}
