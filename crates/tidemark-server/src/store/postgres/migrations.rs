//! The PostgreSQL schema as numbered SQL files embedded in the binary, applied in order at
//! start. A transaction-scoped advisory lock makes concurrent starts of several server
//! processes take turns: the first migrates, the others then find nothing left to do.

use tokio_postgres::Client;

/// The migrations, in order; migration `n` (1-based) brings the schema to version `n`.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_items_and_operations.sql"),
    include_str!("migrations/0002_filter_functions.sql"),
];

/// The advisory lock key every Tidemark server takes while migrating ("tidemark" in ASCII).
const MIGRATION_LOCK: i64 = 0x7469_6465_6d61_726b;

/// Why the schema could not be brought up to date.
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    /// The database was migrated by a newer server.
    #[error("database schema version {found} is newer than this server knows ({known})")]
    TooNew {
        /// The database's version.
        found: i64,
        /// The newest version this build knows.
        known: i64,
    },
    /// PostgreSQL failed.
    #[error(transparent)]
    Postgres(#[from] tokio_postgres::Error),
}

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
    let known = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
    if found > known {
        return Err(MigrationError::TooNew { found, known });
    }
    for (index, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(found).unwrap_or(0))
    {
        tx.batch_execute(sql).await?;
        let version = i64::try_from(index + 1).unwrap_or(i64::MAX);
        tx.execute(
            "INSERT INTO tidemark_schema (version) VALUES ($1)",
            &[&version],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}
