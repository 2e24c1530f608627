//! The PostgreSQL store's writes, one transaction each: the clock stamp first (which serializes
//! the table's writers until commit), replaying a recorded operation, loading the item a write
//! names, saving what [`rules::apply`] decided, recording the operation and pruning old records.

use deadpool_postgres::Transaction;
use serde_json::Value;
use tidemark_protocol::headers::OperationTag;

use super::{LOAD_ITEM, PostgresOptions, classify, item_from_row};
use crate::store::operations::{
    OperationRecord, OperationRetention, PruneSchedule, RecordedWrite, op_version,
};
use crate::store::rules::{self, Stamp};
use crate::store::{Item, StoreError, StoreWrite, WriteOutcome};

/// Applies the `write` of the owner keyed `owner` in `tx` and commits; dropping `tx` on an error rolls everything
/// back, the clock update included.
pub(super) async fn write_one(
    tx: Transaction<'_>,
    owner: i64,
    write: StoreWrite,
    options: &PostgresOptions,
    schedule: &PruneSchedule,
) -> Result<WriteOutcome, StoreError> {
    let StoreWrite { table, change, tag } = write;
    let row = tx.query_one(options.stamp_statement, &[&table]).await;
    let stamp: i64 = row.map_err(classify)?.get(0);
    let (kind, item_id) = (change.kind(), change.item_id());
    let recorded = match &tag {
        Some(tag) => recorded_write(&tx, owner, &table, tag).await?,
        None => None,
    };
    if let (Some(tag), Some(recorded)) = (&tag, recorded) {
        let item = recorded.replay(tag, kind, item_id)?;
        return Ok(WriteOutcome {
            item,
            replayed: true,
        });
    }
    let existing = match item_id {
        Some(id) => load_item(&tx, owner, &table, id).await?,
        None => None,
    };
    let is_new = existing.is_none();
    let item = rules::apply(existing, change, Stamp::at(stamp))?;
    save_item(&tx, owner, &table, &item, is_new).await?;
    if let Some(tag) = &tag {
        let record = OperationRecord::of(tag, kind, &item, stamp)?;
        insert_record(&tx, owner, &table, &record).await?;
        if schedule.tick(options.operations.prune_every) {
            prune_operations(&tx, &table, stamp, &options.operations).await?;
        }
    }
    tx.commit().await.map_err(classify)?;
    Ok(WriteOutcome {
        item,
        replayed: false,
    })
}

/// The item `id` of the `table` of the owner keyed `owner`, soft-deleted or not.
async fn load_item(
    tx: &Transaction<'_>,
    owner: i64,
    table: &str,
    id: &str,
) -> Result<Option<Item>, StoreError> {
    let statement = tx.prepare_cached(LOAD_ITEM).await.map_err(classify)?;
    let row = tx
        .query_opt(&statement, &[&table, &owner, &id])
        .await
        .map_err(classify)?;
    row.as_ref().map(item_from_row).transpose()
}

async fn save_item(
    tx: &Transaction<'_>,
    owner: i64,
    table: &str,
    item: &Item,
    new: bool,
) -> Result<(), StoreError> {
    let data = Value::Object(item.properties.clone());
    let sql = if new {
        "INSERT INTO items (tbl, owner, id, created_at, updated_at, version, deleted, data)
         VALUES ($1, $8, $2, $3, $4, $5, $6, $7)"
    } else {
        "UPDATE items SET created_at = $3, updated_at = $4, version = $5, deleted = $6, data = $7
         WHERE tbl = $1 AND owner = $8 AND id = $2"
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
            &owner,
        ],
    )
    .await
    .map_err(classify)?;
    Ok(())
}

/// The record of `tag` in the `table` of the owner keyed `owner`, if this operation was applied before (by any
/// process).
async fn recorded_write(
    tx: &Transaction<'_>,
    owner: i64,
    table: &str,
    tag: &OperationTag,
) -> Result<Option<RecordedWrite>, StoreError> {
    let row = tx
        .query_opt(
            "SELECT kind, item_id, outcome FROM operations
             WHERE tbl = $1 AND owner = $4 AND operation_id = $2 AND op_version = $3",
            &[&table, &tag.operation_id, &op_version(tag), &owner],
        )
        .await
        .map_err(classify)?;
    let Some(row) = row else {
        return Ok(None);
    };
    Ok(Some(RecordedWrite {
        kind: row.try_get(0).map_err(StoreError::internal)?,
        item_id: row.try_get(1).map_err(StoreError::internal)?,
        outcome: row.try_get(2).map_err(StoreError::internal)?,
    }))
}

async fn insert_record(
    tx: &Transaction<'_>,
    owner: i64,
    table: &str,
    record: &OperationRecord,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO operations
             (tbl, owner, operation_id, op_version, kind, item_id, outcome, recorded_at)
         VALUES ($1, $8, $2, $3, $4, $5, $6, $7)",
        &[
            &table,
            &record.operation_id,
            &record.op_version,
            &record.kind,
            &record.item_id,
            &record.outcome,
            &record.recorded_at,
            &owner,
        ],
    )
    .await
    .map_err(classify)?;
    Ok(())
}

/// Drops operation records of `table` older than the retention or beyond the per-table cap,
/// whoever they belong to: the cap bounds the table's storage, not one owner's.
async fn prune_operations(
    tx: &Transaction<'_>,
    table: &str,
    now_us: i64,
    retention: &OperationRetention,
) -> Result<(), StoreError> {
    let bounds = retention.bounds(now_us);
    tx.execute(
        "DELETE FROM operations WHERE tbl = $1 AND recorded_at < $2",
        &[&table, &bounds.cutoff_us],
    )
    .await
    .map_err(classify)?;
    tx.execute(
        "DELETE FROM operations WHERE tbl = $1 AND recorded_at <= (
             SELECT recorded_at FROM operations WHERE tbl = $1
             ORDER BY recorded_at DESC LIMIT 1 OFFSET $2)",
        &[&table, &bounds.keep],
    )
    .await
    .map_err(classify)?;
    Ok(())
}
