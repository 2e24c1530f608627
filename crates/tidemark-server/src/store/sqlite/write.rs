//! The SQLite store's writes inside an open transaction: replaying a recorded operation, loading
//! the item a write names, saving what [`rules::apply`] decided, recording the operation and
//! pruning old records.

use std::collections::BTreeSet;

use rusqlite::{Connection, OptionalExtension, params};

use super::load_item;
use crate::store::operations::{
    OperationRecord, OperationRetention, PruneSchedule, RecordedWrite, op_version,
};
use crate::store::rules::{self, Stamp};
use crate::store::{Item, StoreError, StoreWrite, WriteOutcome};

/// The operation-record bookkeeping a write needs: the retention and the store's schedule.
pub(super) struct Records<'a> {
    /// How long records are kept and how often they are pruned.
    pub retention: &'a OperationRetention,
    /// The store's count of tagged writes.
    pub schedule: &'a PruneSchedule,
}

/// One write of the owner keyed `owner` inside an open transaction: the operation-tag replay check, the
/// change with its stamp and the operation record; a table whose records are due for pruning
/// goes into `prune_due`, for [`prune_after_batch`] once the group's writes are done.
pub(super) fn write_one(
    conn: &Connection,
    owner: i64,
    write: StoreWrite,
    stamp: i64,
    records: &Records<'_>,
    prune_due: &mut BTreeSet<String>,
) -> Result<WriteOutcome, StoreError> {
    let StoreWrite { table, change, tag } = write;
    let kind = change.kind();
    if let Some(tag) = &tag
        && let Some(recorded) = recorded_write(conn, owner, &table, tag)?
    {
        let item = recorded.replay(tag, kind, change.item_id())?;
        return Ok(WriteOutcome {
            item,
            replayed: true,
        });
    }
    let existing = match change.item_id() {
        Some(id) => load_item(conn, owner, &table, id)?,
        None => None,
    };
    let is_new = existing.is_none();
    let item = rules::apply(existing, change, Stamp::at(stamp))?;
    save_item(conn, owner, &table, &item, is_new)?;
    if let Some(tag) = &tag {
        insert_record(
            conn,
            owner,
            &table,
            &OperationRecord::of(tag, kind, &item, stamp)?,
        )?;
        // Each prune scans up to `max_per_table` index entries: a group of 1000 tagged
        // writes pruning four times spent a tenth of its CPU there, so the commit prunes once.
        if records.schedule.tick(records.retention.prune_every) {
            prune_due.insert(table);
        }
    }
    Ok(WriteOutcome {
        item,
        replayed: false,
    })
}

/// Prunes the operation records of every table in `due`, each in its own savepoint: pruning is
/// housekeeping, so a failure is logged (the next due write tries again) and the batch's
/// writes still commit.
pub(super) fn prune_after_batch(
    tx: &mut rusqlite::Transaction<'_>,
    due: &BTreeSet<String>,
    stamp: i64,
    retention: &OperationRetention,
) {
    for table in due {
        let pruned = tx.savepoint().map_err(StoreError::internal).and_then(|sp| {
            prune_operations(&sp, table, stamp, retention)?;
            sp.commit().map_err(StoreError::internal)
        });
        if let Err(error) = pruned {
            log::warn!("cannot prune the operation records of table {table}: {error}");
        }
    }
}

fn save_item(
    tx: &Connection,
    owner: i64,
    table: &str,
    item: &Item,
    new: bool,
) -> Result<(), StoreError> {
    let data = serde_json::to_string(&item.properties).map_err(StoreError::internal)?;
    let sql = if new {
        "INSERT INTO items (tbl, owner, id, created_at, updated_at, version, deleted, data)
         VALUES (?1, ?8, ?2, ?3, ?4, ?5, ?6, ?7)"
    } else {
        "UPDATE items SET created_at = ?3, updated_at = ?4, version = ?5, deleted = ?6, data = ?7
         WHERE tbl = ?1 AND owner = ?8 AND id = ?2"
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
                data,
                owner
            ])
        })
        .map_err(StoreError::internal)?;
    Ok(())
}

/// The record of `tag` in the `table` of the owner keyed `owner`, if this operation was applied before.
fn recorded_write(
    tx: &Connection,
    owner: i64,
    table: &str,
    tag: &tidemark_protocol::headers::OperationTag,
) -> Result<Option<RecordedWrite>, StoreError> {
    tx.prepare_cached(
        "SELECT kind, item_id, outcome FROM operations
         WHERE tbl = ?1 AND owner = ?4 AND operation_id = ?2 AND op_version = ?3",
    )
    .and_then(|mut st| {
        let key = params![table, tag.operation_id, op_version(tag), owner];
        st.query_row(key, |r| {
            Ok(RecordedWrite {
                kind: r.get(0)?,
                item_id: r.get(1)?,
                outcome: r.get(2)?,
            })
        })
        .optional()
    })
    .map_err(StoreError::internal)
}

fn insert_record(
    tx: &Connection,
    owner: i64,
    table: &str,
    record: &OperationRecord,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO operations
             (tbl, owner, operation_id, op_version, kind, item_id, outcome, recorded_at)
         VALUES (?1, ?8, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .and_then(|mut st| {
        st.execute(params![
            table,
            record.operation_id,
            record.op_version,
            record.kind,
            record.item_id,
            record.outcome,
            record.recorded_at,
            owner
        ])
    })
    .map_err(StoreError::internal)?;
    Ok(())
}

/// Drops operation records of `table` older than the retention or beyond the per-table cap,
/// whoever they belong to: the cap bounds the table's storage, not one owner's.
fn prune_operations(
    tx: &Connection,
    table: &str,
    now_us: i64,
    retention: &OperationRetention,
) -> Result<(), StoreError> {
    let bounds = retention.bounds(now_us);
    tx.prepare_cached("DELETE FROM operations WHERE tbl = ?1 AND recorded_at < ?2")
        .and_then(|mut st| st.execute(params![table, bounds.cutoff_us]))
        .map_err(StoreError::internal)?;
    tx.prepare_cached(
        "DELETE FROM operations WHERE tbl = ?1 AND recorded_at <= (
             SELECT recorded_at FROM operations WHERE tbl = ?1
             ORDER BY recorded_at DESC LIMIT 1 OFFSET ?2)",
    )
    .and_then(|mut st| st.execute(params![table, bounds.keep]))
    .map_err(StoreError::internal)?;
    Ok(())
}
