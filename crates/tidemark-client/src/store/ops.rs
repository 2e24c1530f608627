//! SQL of the system tables: the operation queue (`__operations`), its errors (`__errors`) and
//! the key/value config (`__config`, where delta tokens live).

use chrono::Utc;
use rusqlite::{Connection, OptionalExtension, params};

use crate::error::Result;
use crate::queue::{Operation, OperationError, OperationKind, OperationState};
use crate::schema::Item;

const OP_COLUMNS: &str =
    "id, kind, state, table_name, item_id, item, sequence, version, attempted_item";

fn json_text(item: Option<&Item>) -> Option<String> {
    item.map(|i| serde_json::Value::Object(i.clone()).to_string())
}

fn parse_item(text: Option<String>) -> Option<Item> {
    text.and_then(|t| serde_json::from_str::<Item>(&t).ok())
}

/// The unanswered attempts: a JSON array of items (a single object from stores written before
/// every attempt was kept is one attempt).
fn parse_attempts(text: Option<String>) -> Vec<Item> {
    match text.and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok()) {
        Some(serde_json::Value::Array(items)) => items
            .into_iter()
            .filter_map(|v| match v {
                serde_json::Value::Object(item) => Some(item),
                _ => None,
            })
            .collect(),
        Some(serde_json::Value::Object(item)) => vec![item],
        _ => Vec::new(),
    }
}

fn attempts_text(items: &[Item]) -> Option<String> {
    (!items.is_empty()).then(|| {
        serde_json::Value::Array(
            items
                .iter()
                .cloned()
                .map(serde_json::Value::Object)
                .collect(),
        )
        .to_string()
    })
}

fn bad_value(column: usize, what: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        column,
        rusqlite::types::Type::Text,
        format!("unknown {what}").into(),
    )
}

fn row_to_op(r: &rusqlite::Row<'_>) -> rusqlite::Result<Operation> {
    let kind: String = r.get(1)?;
    let state: String = r.get(2)?;
    let version: i64 = r.get(7)?;
    Ok(Operation {
        id: r.get(0)?,
        kind: OperationKind::parse(&kind).ok_or_else(|| bad_value(1, "operation kind"))?,
        state: OperationState::parse(&state).ok_or_else(|| bad_value(2, "operation state"))?,
        table: r.get(3)?,
        item_id: r.get(4)?,
        item: parse_item(r.get(5)?),
        sequence: r.get(6)?,
        version: u64::try_from(version).unwrap_or(0),
        attempted_items: parse_attempts(r.get(8)?),
    })
}

/// The operation queued for an item, if any.
pub(crate) fn for_item(conn: &Connection, table: &str, item_id: &str) -> Result<Option<Operation>> {
    let sql =
        format!("SELECT {OP_COLUMNS} FROM __operations WHERE table_name = ?1 AND item_id = ?2");
    let mut stmt = conn.prepare_cached(&sql)?;
    Ok(stmt
        .query_row(params![table, item_id], row_to_op)
        .optional()?)
}

/// The operation with this id, if still queued.
pub(crate) fn get(conn: &Connection, id: &str) -> Result<Option<Operation>> {
    let sql = format!("SELECT {OP_COLUMNS} FROM __operations WHERE id = ?1");
    let mut stmt = conn.prepare_cached(&sql)?;
    Ok(stmt.query_row([id], row_to_op).optional()?)
}

/// The kind and version of the operation with this id, if still queued (without reading its
/// items, for the hot path of a push's write-back).
pub(crate) fn kind_and_version(
    conn: &Connection,
    id: &str,
) -> Result<Option<(OperationKind, u64)>> {
    let mut stmt = conn.prepare_cached("SELECT kind, version FROM __operations WHERE id = ?1")?;
    Ok(stmt
        .query_row([id], |r| {
            let kind: String = r.get(0)?;
            let version: i64 = r.get(1)?;
            Ok((
                OperationKind::parse(&kind).ok_or_else(|| bad_value(0, "operation kind"))?,
                u64::try_from(version).unwrap_or(0),
            ))
        })
        .optional()?)
}

/// Up to `limit` queued operations after `sequence`, in queue order.
pub(crate) fn list_after(conn: &Connection, sequence: i64, limit: usize) -> Result<Vec<Operation>> {
    let sql = format!(
        "SELECT {OP_COLUMNS} FROM __operations WHERE sequence > ?1 ORDER BY sequence LIMIT ?2"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let ops = stmt
        .query_map(params![sequence, limit], row_to_op)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(ops)
}

/// Every queued operation, in queue order.
pub(crate) fn list(conn: &Connection) -> Result<Vec<Operation>> {
    let sql = format!("SELECT {OP_COLUMNS} FROM __operations ORDER BY sequence");
    let mut stmt = conn.prepare_cached(&sql)?;
    let ops = stmt
        .query_map([], row_to_op)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(ops)
}

/// The sequence number after the last one in the queue.
pub(crate) fn next_sequence(conn: &Connection) -> Result<i64> {
    let mut stmt =
        conn.prepare_cached("SELECT COALESCE(MAX(sequence), 0) + 1 FROM __operations")?;
    Ok(stmt.query_row([], |r| r.get(0))?)
}

/// Adds an operation (its sequence must be fresh).
pub(crate) fn insert(conn: &Connection, op: &Operation) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO __operations (id, kind, state, table_name, item_id, item, sequence, version,
             attempted_item, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    stmt.execute(params![
        op.id,
        op.kind.as_str(),
        op.state.as_str(),
        op.table,
        op.item_id,
        json_text(op.item.as_ref()),
        op.sequence,
        i64::try_from(op.version).unwrap_or(i64::MAX),
        attempts_text(&op.attempted_items),
        Utc::now().to_rfc3339(),
    ])?;
    Ok(())
}

/// Writes every field of an operation that is already queued.
pub(crate) fn save(conn: &Connection, op: &Operation) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "UPDATE __operations SET kind = ?2, state = ?3, item = ?4, sequence = ?5, version = ?6,
             attempted_item = ?7
         WHERE id = ?1",
    )?;
    stmt.execute(params![
        op.id,
        op.kind.as_str(),
        op.state.as_str(),
        json_text(op.item.as_ref()),
        op.sequence,
        i64::try_from(op.version).unwrap_or(i64::MAX),
        attempts_text(&op.attempted_items),
    ])?;
    Ok(())
}

/// Removes an operation and its recorded errors.
pub(crate) fn remove(conn: &Connection, id: &str) -> Result<()> {
    remove_only(conn, id)?;
    remove_errors(conn, id)?;
    Ok(())
}

/// Removes an operation, leaving `__errors` alone: for callers that know it holds none (see
/// [`any_errors`]), so a push's write-back of thousands of operations skips that lookup.
pub(crate) fn remove_only(conn: &Connection, id: &str) -> Result<()> {
    conn.prepare_cached("DELETE FROM __operations WHERE id = ?1")?
        .execute([id])?;
    Ok(())
}

/// True when some operation has a recorded error.
pub(crate) fn any_errors(conn: &Connection) -> Result<bool> {
    let mut stmt = conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM __errors)")?;
    Ok(stmt.query_row([], |r| r.get(0))?)
}

/// How many operations are queued.
pub(crate) fn count(conn: &Connection) -> Result<u64> {
    let mut stmt = conn.prepare_cached("SELECT count(*) FROM __operations")?;
    let n: i64 = stmt.query_row([], |r| r.get(0))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// How many operations are queued for one table.
pub(crate) fn count_for_table(conn: &Connection, table: &str) -> Result<u64> {
    let mut stmt =
        conn.prepare_cached("SELECT count(*) FROM __operations WHERE table_name = ?1")?;
    let n: i64 = stmt.query_row([table], |r| r.get(0))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Drops every operation of a table and their errors (forced purge).
pub(crate) fn remove_for_table(conn: &Connection, table: &str) -> Result<()> {
    conn.prepare_cached("DELETE FROM __errors WHERE table_name = ?1")?
        .execute([table])?;
    conn.prepare_cached("DELETE FROM __operations WHERE table_name = ?1")?
        .execute([table])?;
    Ok(())
}

/// Records a failed operation's error.
pub(crate) fn add_error(conn: &Connection, e: &OperationError) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO __errors (operation_id, operation_version, kind, table_name, item_id, status,
             raw_body, server_item, item, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    stmt.execute(params![
        e.operation_id,
        i64::try_from(e.operation_version).unwrap_or(i64::MAX),
        e.kind.as_str(),
        e.table,
        e.item_id,
        e.status,
        e.raw_body,
        json_text(e.server_item.as_ref()),
        json_text(e.item.as_ref()),
        Utc::now().to_rfc3339(),
    ])?;
    Ok(())
}

/// Replaces the server's copy recorded with an operation's errors by a newer one (a pull met
/// the item while its change waits for a decision), so that "keep theirs" takes the newest.
pub(crate) fn refresh_error_server_item(
    conn: &Connection,
    operation_id: &str,
    server_item: &Item,
) -> Result<()> {
    conn.prepare_cached("UPDATE __errors SET server_item = ?2 WHERE operation_id = ?1")?
        .execute(params![operation_id, json_text(Some(server_item))])?;
    Ok(())
}

/// The server's copy recorded with an operation's latest error, if any.
pub(crate) fn error_server_item(conn: &Connection, operation_id: &str) -> Result<Option<Item>> {
    let mut stmt = conn.prepare_cached(
        "SELECT server_item FROM __errors WHERE operation_id = ?1 ORDER BY id DESC LIMIT 1",
    )?;
    let text: Option<Option<String>> = stmt.query_row([operation_id], |r| r.get(0)).optional()?;
    Ok(text.flatten().and_then(|t| parse_item(Some(t))))
}

/// Forgets the errors of one operation.
pub(crate) fn remove_errors(conn: &Connection, operation_id: &str) -> Result<()> {
    conn.prepare_cached("DELETE FROM __errors WHERE operation_id = ?1")?
        .execute([operation_id])?;
    Ok(())
}

/// Every recorded error, oldest first.
pub(crate) fn errors(conn: &Connection) -> Result<Vec<OperationError>> {
    let mut stmt = conn.prepare_cached(
        "SELECT operation_id, operation_version, kind, table_name, item_id, status, raw_body,
             server_item, item
         FROM __errors ORDER BY id",
    )?;
    let rows = stmt
        .query_map([], |r| {
            let kind: String = r.get(2)?;
            let version: i64 = r.get(1)?;
            Ok(OperationError {
                operation_id: r.get(0)?,
                operation_version: u64::try_from(version).unwrap_or(0),
                kind: OperationKind::parse(&kind).ok_or_else(|| bad_value(2, "operation kind"))?,
                table: r.get(3)?,
                item_id: r.get(4)?,
                status: r.get(5)?,
                raw_body: r.get(6)?,
                server_item: parse_item(r.get(7)?),
                item: parse_item(r.get(8)?),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// A config value.
pub(crate) fn config_get(conn: &Connection, key: &str) -> Result<Option<String>> {
    let mut stmt = conn.prepare_cached("SELECT value FROM __config WHERE key = ?1")?;
    Ok(stmt.query_row([key], |r| r.get(0)).optional()?)
}

/// Sets a config value.
pub(crate) fn config_set(conn: &Connection, key: &str, value: &str) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO __config (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )?
    .execute(params![key, value])?;
    Ok(())
}

/// Removes a config value.
pub(crate) fn config_remove(conn: &Connection, key: &str) -> Result<()> {
    conn.prepare_cached("DELETE FROM __config WHERE key = ?1")?
        .execute([key])?;
    Ok(())
}

/// Every (key, value) whose key starts with `prefix` (compared exactly, not as LIKE).
pub(crate) fn config_list_prefix(conn: &Connection, prefix: &str) -> Result<Vec<(String, String)>> {
    let mut stmt = conn
        .prepare_cached("SELECT key, value FROM __config WHERE substr(key, 1, length(?1)) = ?1")?;
    let rows = stmt
        .query_map([prefix], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Removes every config value whose key starts with `prefix` (compared exactly, not as LIKE).
pub(crate) fn config_remove_prefix(conn: &Connection, prefix: &str) -> Result<()> {
    conn.prepare_cached("DELETE FROM __config WHERE substr(key, 1, length(?1)) = ?1")?
        .execute([prefix])?;
    Ok(())
}
