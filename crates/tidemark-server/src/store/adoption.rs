//! What both stores run to hand rows from one owner to another or delete them: the SQL (the same
//! text on both backends: SQLite reads `$1` as a parameter too) and the refusal message. The
//! backends only run these statements in one transaction each.

use super::{Owner, StoreError};

/// How many colliding ids a refused adoption names.
const SHOWN: usize = 5;

/// The `(table, id)` of unowned items whose id the owner keyed `$1` already has, at most
/// [`SHOWN`] + 1 (one more tells whether there are others).
pub(crate) const COLLISIONS: &str = "
    SELECT u.tbl, u.id FROM items AS u
    WHERE u.owner = 0 AND EXISTS (
        SELECT 1 FROM items AS o WHERE o.tbl = u.tbl AND o.owner = $1 AND o.id = u.id)
    ORDER BY u.tbl, u.id LIMIT 6";

/// Drops the unowned operation records whose tag the owner keyed `$1` already used: adopted, they
/// would collide with the owner's own, and they could only replay into another item.
pub(crate) const DROP_SHADOWED_RECORDS: &str = "
    DELETE FROM operations
    WHERE owner = 0 AND EXISTS (
        SELECT 1 FROM operations AS o
        WHERE o.tbl = operations.tbl AND o.owner = $1
          AND o.operation_id = operations.operation_id AND o.op_version = operations.op_version)";

/// Gives the unowned operation records to the owner keyed `$1`.
pub(crate) const ADOPT_RECORDS: &str = "UPDATE operations SET owner = $1 WHERE owner = 0";

/// Gives the unowned items to the owner keyed `$1`; the row count is the answer.
pub(crate) const ADOPT_ITEMS: &str = "UPDATE items SET owner = $1 WHERE owner = 0";

/// Deletes the operation records of the owner keyed `$1`.
pub(crate) const DELETE_RECORDS: &str = "DELETE FROM operations WHERE owner = $1";

/// Deletes the items of the owner keyed `$1`; the row count is the answer.
pub(crate) const DELETE_ITEMS: &str = "DELETE FROM items WHERE owner = $1";

/// Refuses an adoption by nobody: the unowned rows already are nobody's.
pub(crate) fn check_adopter(owner: &Owner) -> Result<(), StoreError> {
    if owner.is_unowned() {
        return Err(StoreError::BadRequest(
            "unowned rows can only be adopted by a user".into(),
        ));
    }
    Ok(())
}

/// The error of an adoption refused because `owner` already has some of the unowned ids;
/// `collisions` holds `(table, id)` pairs as [`COLLISIONS`] answers them.
pub(crate) fn refused(owner: &Owner, collisions: &[(String, String)]) -> StoreError {
    let shown: Vec<String> = collisions
        .iter()
        .take(SHOWN)
        .map(|(table, id)| format!("{table}/{id}"))
        .collect();
    let more = if collisions.len() > SHOWN {
        ", …"
    } else {
        ""
    };
    StoreError::BadRequest(format!(
        "cannot adopt the unowned rows: {owner} already has items with the same ids ({}{more}); \
         nothing was moved",
        shown.join(", ")
    ))
}
