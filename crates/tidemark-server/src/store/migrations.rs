//! What both stores' migrations share: numbered SQL files embedded in the binary, applied in
//! order, and a database newer than this build refused. Each backend records its version its own
//! way (`PRAGMA user_version`, a `tidemark_schema` table).

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
    /// SQLite failed.
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL failed.
    #[error(transparent)]
    Postgres(#[from] tokio_postgres::Error),
}

/// The migrations a database at schema version `found` has not seen yet, each with the version
/// it brings the schema to (migration `n`, 1-based, brings it to `n`).
pub(crate) fn pending<'a>(
    migrations: &'a [&'a str],
    found: i64,
) -> Result<impl Iterator<Item = (i64, &'a str)> + 'a, MigrationError> {
    let known = i64::try_from(migrations.len()).unwrap_or(i64::MAX);
    if found > known {
        return Err(MigrationError::TooNew { found, known });
    }
    let done = usize::try_from(found).unwrap_or(0);
    Ok((1..).zip(migrations.iter().copied()).skip(done))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: &[&str] = &["one", "two", "three"];

    fn versions(found: i64) -> Option<Vec<(i64, &'static str)>> {
        pending(ALL, found).ok().map(Iterator::collect)
    }

    #[test]
    fn only_the_migrations_after_the_found_version_are_pending() {
        assert_eq!(
            versions(0),
            Some(vec![(1, "one"), (2, "two"), (3, "three")])
        );
        assert_eq!(versions(2), Some(vec![(3, "three")]));
        assert_eq!(versions(3), Some(vec![]));
    }

    #[test]
    fn a_newer_database_is_refused() {
        let newer = pending(ALL, 4).err();
        assert!(matches!(
            newer,
            Some(MigrationError::TooNew { found: 4, known: 3 })
        ));
    }
}
