//! The SQLite store's `owners` table: the key each owner's rows are stored under (see
//! [`crate::store::OwnerKeys`]).

use rusqlite::{Connection, OptionalExtension, params};

use crate::store::Owner;

/// `owner`'s key, when it has one (it has written before).
pub(super) fn find(conn: &Connection, owner: &Owner) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached("SELECT key FROM owners WHERE user_id = ?1")?
        .query_row(params![owner.as_str()], |row| row.get(0))
        .optional()
}

/// `owner`'s key, given now when it has none. Runs on the writer outside any transaction, so
/// the key is committed (and may be cached) before the write that needed it begins.
pub(super) fn find_or_add(conn: &Connection, owner: &Owner) -> rusqlite::Result<i64> {
    if let Some(key) = find(conn, owner)? {
        return Ok(key);
    }
    conn.prepare_cached(
        "INSERT INTO owners (user_id) VALUES (?1) ON CONFLICT (user_id) DO NOTHING",
    )?
    .execute(params![owner.as_str()])?;
    conn.prepare_cached("SELECT key FROM owners WHERE user_id = ?1")?
        .query_row(params![owner.as_str()], |row| row.get(0))
}
