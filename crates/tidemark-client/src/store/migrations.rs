//! Numbered migrations of the system tables, embedded in the binary. The schema version lives in
//! SQLite's `user_version`; a store from a newer engine is refused, never downgraded or reset.

use std::path::Path;

use rusqlite::Connection;

use crate::error::{ClientError, Result};

/// Migration `n` (1-based) brings the schema from version `n - 1` to `n`.
const MIGRATIONS: &[&str] = &[
    // 1: the operation queue, its errors, and the key/value config (delta tokens).
    "CREATE TABLE __operations (
        id TEXT PRIMARY KEY NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('insert', 'update', 'delete')),
        state TEXT NOT NULL CHECK (state IN ('pending', 'attempted', 'failed')),
        table_name TEXT NOT NULL,
        item_id TEXT NOT NULL,
        item TEXT,
        sequence INTEGER NOT NULL UNIQUE,
        version INTEGER NOT NULL,
        attempted_item TEXT,
        created_at TEXT NOT NULL,
        UNIQUE (table_name, item_id)
    );
    CREATE TABLE __errors (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        operation_id TEXT NOT NULL,
        operation_version INTEGER NOT NULL,
        kind TEXT NOT NULL,
        table_name TEXT NOT NULL,
        item_id TEXT NOT NULL,
        status INTEGER,
        raw_body TEXT,
        server_item TEXT,
        item TEXT,
        created_at TEXT NOT NULL
    );
    CREATE INDEX __errors_operation ON __errors (operation_id);
    CREATE TABLE __config (
        key TEXT PRIMARY KEY NOT NULL,
        value TEXT NOT NULL
    );",
];

/// The schema version this build writes.
pub(crate) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Reads the header and the catalogue, which fails on a file that is not a database.
pub(super) fn check_readable(conn: &Connection) -> rusqlite::Result<()> {
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    })?;
    Ok(())
}

/// Applies the missing migrations, each in its own transaction with its version bump.
pub(super) fn migrate(conn: &Connection, path: &Path) -> Result<()> {
    let store_err = |e: rusqlite::Error| ClientError::from_sqlite(path, e);
    let found: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(store_err)?;
    if found > SCHEMA_VERSION {
        return Err(ClientError::NewerSchema {
            path: path.to_path_buf(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(found.max(0) as usize) {
        let version = index as i64 + 1;
        conn.execute_batch("BEGIN IMMEDIATE").map_err(store_err)?;
        let applied = conn
            .execute_batch(sql)
            .and_then(|()| conn.pragma_update(None, "user_version", version));
        match applied {
            Ok(()) => conn.execute_batch("COMMIT").map_err(store_err)?,
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                return Err(store_err(e));
            }
        }
        log::info!(
            "local store {}: migrated to schema {version}",
            path.display()
        );
    }
    Ok(())
}
