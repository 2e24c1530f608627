//! The store's schema as numbered SQL files embedded in the binary, applied in order at open;
//! `PRAGMA user_version` records how far a database has come.

use rusqlite::{Connection, TransactionBehavior};

use crate::store::migrations::{MigrationError, pending};

/// The migrations, in order; migration `n` (1-based) brings the schema to version `n`.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_items_and_operations.sql"),
    include_str!("migrations/0002_owners.sql"),
    include_str!("migrations/0003_accounts.sql"),
    include_str!("migrations/0004_owner_keys.sql"),
];

/// Applies every migration the database has not seen yet, each in its own transaction.
pub fn migrate(conn: &mut Connection) -> Result<(), MigrationError> {
    let found: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    for (version, sql) in pending(MIGRATIONS, found)? {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)?;
        // PRAGMA takes no bound parameters; the value is our own loop counter.
        tx.execute_batch(&format!("PRAGMA user_version = {version}"))?;
        tx.commit()?;
    }
    Ok(())
}
