//! The SQLite store's administrative changes of many rows (see [`crate::store::adoption`]),
//! each inside the writer's open transaction.

use rusqlite::{Transaction, params};

use super::owners;
use crate::store::adoption::{self, COLLISIONS};
use crate::store::{Owner, StoreError};

/// Gives every unowned item and record to `owner` (see `TableStore::adopt_unowned`).
pub(super) fn adopt_unowned(tx: &Transaction<'_>, owner: &Owner) -> Result<u64, StoreError> {
    adoption::check_adopter(owner)?;
    let key = owners::find_or_add(tx, owner).map_err(StoreError::internal)?;
    let collisions = tx
        .prepare(COLLISIONS)
        .and_then(|mut st| {
            st.query_map(params![key], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<Vec<(String, String)>>>()
        })
        .map_err(StoreError::internal)?;
    if !collisions.is_empty() {
        return Err(adoption::refused(owner, &collisions));
    }
    run(tx, adoption::DROP_SHADOWED_RECORDS, key)?;
    run(tx, adoption::ADOPT_RECORDS, key)?;
    run(tx, adoption::ADOPT_ITEMS, key)
}

/// Deletes every item and record of `owner` (see `TableStore::delete_rows_of`).
pub(super) fn delete_rows_of(tx: &Transaction<'_>, owner: &Owner) -> Result<u64, StoreError> {
    // An owner without a key never wrote: there is nothing to delete.
    let Some(key) = owners::find(tx, owner).map_err(StoreError::internal)? else {
        return Ok(0);
    };
    run(tx, adoption::DELETE_RECORDS, key)?;
    run(tx, adoption::DELETE_ITEMS, key)
}

/// Runs `sql` with the owner's key as `$1`; answers the rows changed.
fn run(tx: &Transaction<'_>, sql: &str, key: i64) -> Result<u64, StoreError> {
    let n = tx
        .execute(sql, params![key])
        .map_err(StoreError::internal)?;
    Ok(n as u64)
}
