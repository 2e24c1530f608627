//! The PostgreSQL schema as numbered SQL files embedded in the binary, applied in order at
//! start. A transaction-scoped advisory lock makes concurrent starts of several server
//! processes take turns: the first migrates, the others then find nothing left to do.

use tokio_postgres::Client;

use crate::store::migrations::{MigrationError, pending};

/// The migrations, in order; migration `n` (1-based) brings the schema to version `n`.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_items_and_operations.sql"),
    include_str!("migrations/0002_filter_functions.sql"),
    include_str!("migrations/0003_owners.sql"),
    include_str!("migrations/0004_accounts.sql"),
    include_str!("migrations/0005_owner_keys.sql"),
];

/// The advisory lock key every Tidemark server takes while migrating ("tidemark" in ASCII).
const MIGRATION_LOCK: i64 = 0x7469_6465_6d61_726b;

/// Applies every migration the database has not seen yet, all in one transaction.
pub async fn migrate(client: &mut Client) -> Result<(), MigrationError> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS tidemark_schema (
             version    bigint PRIMARY KEY,
             applied_at timestamptz NOT NULL DEFAULT now()
         )",
    )
    .await?;
    let found: i64 = tx
        .query_one("SELECT coalesce(max(version), 0) FROM tidemark_schema", &[])
        .await?
        .get(0);
    for (version, sql) in pending(MIGRATIONS, found)? {
        tx.batch_execute(sql).await?;
        tx.execute(
            "INSERT INTO tidemark_schema (version) VALUES ($1)",
            &[&version],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}
