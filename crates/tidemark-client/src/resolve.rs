//! The transactions that settle a refused operation: take the server's item, discard the local
//! item, or rebase the operation onto the server's version (client wins, merge, edit). Each
//! refuses when the operation changed since the error was read.

use rusqlite::Connection;
use serde_json::Value;
use tidemark_protocol::system;

use crate::error::{ClientError, Result};
use crate::queue::{Operation, OperationError, OperationKind, OperationState};
use crate::schema::{Item, TableDefinition, is_server_owned};
use crate::store::{ops, rows};

/// The queued operation, if it still has the version the caller saw.
fn expect_op(conn: &Connection, op_id: &str, version: u64) -> Result<Operation> {
    match ops::get(conn, op_id)? {
        Some(op) if op.version == version => Ok(op),
        _ => Err(ClientError::OperationChanged {
            operation_id: op_id.to_string(),
        }),
    }
}

/// True when the server's item says it is gone.
pub(crate) fn is_deleted(item: &Item) -> bool {
    item.get(system::DELETED).and_then(Value::as_bool) == Some(true)
}

/// Server wins: the operation goes, the local row becomes the server's item (or goes too).
/// `fetched` says the server was asked for `server_item` just now (`None` then means it no
/// longer has the item); otherwise it is a copy the caller held, which may be older than the
/// one recorded with the operation's error since.
pub(crate) fn take_server_item(
    conn: &mut Connection,
    def: &TableDefinition,
    op_id: &str,
    version: u64,
    server_item: Option<&Item>,
    fetched: bool,
) -> Result<u64> {
    let tx = conn.transaction()?;
    let op = expect_op(&tx, op_id, version)?;
    // A pull that met the item while the change waited recorded a newer copy than the one the
    // caller holds: take the newest, or the pull's watermark (already past it) would leave the
    // row behind for good. A copy asked for just now is the newest there is.
    let stored = match fetched {
        true => None,
        false => ops::error_server_item(&tx, op_id)?,
    };
    let server_item = newest(server_item, stored.as_ref());
    match server_item {
        Some(item) if !is_deleted(item) => {
            rows::delete(&tx, def, &op.item_id)?;
            rows::upsert(&tx, def, item, true)?;
        }
        _ => {
            rows::delete(&tx, def, &op.item_id)?;
        }
    }
    ops::remove(&tx, op_id)?;
    let pending = ops::count(&tx)?;
    tx.commit()?;
    Ok(pending)
}

/// The later of two copies of one server item, by `updatedAt` (the first when neither says).
fn newest<'a>(a: Option<&'a Item>, b: Option<&'a Item>) -> Option<&'a Item> {
    let stamp = |i: &Item| {
        i.get(system::UPDATED_AT)
            .and_then(Value::as_str)
            .and_then(|s| tidemark_protocol::date::parse_date(s).ok())
    };
    match (a, b) {
        (Some(a), Some(b)) if stamp(b) > stamp(a) => Some(b),
        (Some(a), _) => Some(a),
        (None, b) => b,
    }
}

/// Keep mine for an edit of an item deleted elsewhere: the operation becomes an update over
/// the brought-back item's version (`restored`, when the server undeleted it) or, when the
/// server could not bring it back, an insert of the whole local row; queued for the next push.
pub(crate) fn restore_local(
    conn: &mut Connection,
    def: &TableDefinition,
    op_id: &str,
    version: u64,
    restored: Option<&Item>,
) -> Result<u64> {
    let tx = conn.transaction()?;
    let op = expect_op(&tx, op_id, version)?;
    if op.kind != OperationKind::Update {
        return Err(ClientError::invalid(format!(
            "the {} of '{}' is not an edit of an item deleted elsewhere",
            op.kind, op.item_id
        )));
    }
    let server_version = restored
        .and_then(|item| item.get(system::VERSION))
        .and_then(Value::as_str)
        .map(str::to_string);
    let mut op = rebase_op(&tx, def, op, server_version.as_deref(), None, true)?;
    if restored.is_none() {
        // An insert sends the whole local row and no version (see `push::prepare`).
        op.kind = OperationKind::Insert;
        ops::save(&tx, &op)?;
    }
    let pending = ops::count(&tx)?;
    tx.commit()?;
    Ok(pending)
}

/// Cancel and discard: the operation and the local row both go.
pub(crate) fn discard_local(
    conn: &mut Connection,
    def: &TableDefinition,
    op_id: &str,
    version: u64,
) -> Result<u64> {
    let tx = conn.transaction()?;
    let op = expect_op(&tx, op_id, version)?;
    rows::delete(&tx, def, &op.item_id)?;
    ops::remove(&tx, op_id)?;
    let pending = ops::count(&tx)?;
    tx.commit()?;
    Ok(pending)
}

/// The app's "edit" resolution: the item (carrying the server's `version`) replaces the local
/// data and the operation is queued again.
pub(crate) fn update_operation(
    conn: &mut Connection,
    def: &TableDefinition,
    error: &OperationError,
    item: &Item,
) -> Result<()> {
    let tx = conn.transaction()?;
    let op = expect_op(&tx, &error.operation_id, error.operation_version)?;
    let version = item
        .get(system::VERSION)
        .and_then(Value::as_str)
        .map(str::to_string);
    rebase_op(
        &tx,
        def,
        op,
        version.as_deref(),
        Some(item),
        error.server_has_item(),
    )?;
    tx.commit()?;
    Ok(())
}

/// Client wins or merge during a push: point the operation at the server's version (writing
/// `merged` into the local row when given) and queue it again. Returns the rebased operation.
pub(crate) fn rebase(
    conn: &mut Connection,
    def: &TableDefinition,
    op_id: &str,
    expected_version: u64,
    server_item: &Item,
    merged: Option<&Item>,
    server_has_item: bool,
) -> Result<Operation> {
    let tx = conn.transaction()?;
    let op = expect_op(&tx, op_id, expected_version)?;
    let version = server_item
        .get(system::VERSION)
        .and_then(Value::as_str)
        .map(str::to_string);
    let op = rebase_op(&tx, def, op, version.as_deref(), merged, server_has_item)?;
    tx.commit()?;
    Ok(op)
}

fn rebase_op(
    tx: &Connection,
    def: &TableDefinition,
    mut op: Operation,
    server_version: Option<&str>,
    data: Option<&Item>,
    server_has_item: bool,
) -> Result<Operation> {
    let mut fields = Item::new();
    if let Some(data) = data {
        for (k, v) in data {
            if !is_server_owned(k) && k != system::ID {
                fields.insert(k.clone(), v.clone());
            }
        }
    }
    if let Some(v) = server_version {
        fields.insert(system::VERSION.into(), Value::String(v.to_string()));
    }
    match op.kind {
        OperationKind::Insert | OperationKind::Update => {
            if !rows::update(tx, def, &op.item_id, &fields, |_| true)? {
                return Err(ClientError::NotFound {
                    table: def.name.clone(),
                    id: op.item_id.clone(),
                });
            }
            // The server already has the id: the insert goes up as an update from now on.
            if op.kind == OperationKind::Insert && server_has_item {
                op.kind = OperationKind::Update;
            }
        }
        OperationKind::Delete => {
            let mut item = op.item.take().unwrap_or_default();
            if let Some(v) = server_version {
                item.insert(system::VERSION.into(), Value::String(v.to_string()));
            }
            op.item = Some(item);
        }
    }
    // A new version: the retry is a new write, not a replay of the refused one.
    op.version += 1;
    op.state = OperationState::Pending;
    op.attempted_items.clear();
    ops::save(tx, &op)?;
    ops::remove_errors(tx, &op.id)?;
    Ok(op)
}
