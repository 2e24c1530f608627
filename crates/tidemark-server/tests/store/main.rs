//! Store-level tests: the conformance suite and the owner isolation tests (`isolation`) run
//! against `SqliteTableStore` and `PostgresTableStore` (once each, from the same functions),
//! both stores answering random queries alike (`differential`), the PostgreSQL change clock
//! across stores sharing one database, migrating a database from before owners, and the SQLite
//! store's own behaviours (the change clock under a late commit, operation-record pruning,
//! reopening). The write rules themselves are unit-tested without a
//! database (`src/store/rules.rs`).

mod checksum;
mod differential;
mod isolation;
mod migration;
mod postgres_only;
mod sqlite_only;
mod suite;
mod support;

use tempfile::TempDir;
use tidemark_server::store::{
    PostgresOptions, PostgresTableStore, SqliteOptions, SqliteTableStore,
};
use tidemark_testkit::postgres::PgDatabase;

/// A SQLite store in its own temporary directory (removed when dropped).
pub struct SqliteFixture {
    /// The store.
    pub store: SqliteTableStore,
    _dir: TempDir,
}

impl SqliteFixture {
    /// A fresh store with `options`.
    pub fn with(options: SqliteOptions) -> Self {
        let dir = match tempfile::tempdir() {
            Ok(d) => d,
            Err(e) => panic!("tempdir: {e}"),
        };
        let store = match SqliteTableStore::open_with(dir.path().join("store.db"), options) {
            Ok(s) => s,
            Err(e) => panic!("open: {e}"),
        };
        Self { store, _dir: dir }
    }

    /// A fresh store with default options.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        Self::with(SqliteOptions::default())
    }
}

/// A PostgreSQL store on a fresh database of the shared test cluster (dropped with it).
pub struct PgFixture {
    /// The store.
    pub store: PostgresTableStore,
    // After the store, so the database goes once the store is done with it.
    db: PgDatabase,
}

impl PgFixture {
    /// A fresh store with `options`.
    pub async fn with(options: PostgresOptions) -> Self {
        let db = PgDatabase::create().await;
        let store = match PostgresTableStore::connect_with(db.url(), options).await {
            Ok(s) => s,
            Err(e) => panic!("connect: {e}"),
        };
        Self { store, db }
    }

    /// A fresh store with default options.
    pub async fn new() -> Self {
        Self::with(PostgresOptions::default()).await
    }

    /// The database's URL (for a second store on it, as another server process would open).
    pub fn url(&self) -> &str {
        self.db.url()
    }
}

/// Instantiates every test of the module `$suite` listed for one backend, in the module
/// `$backend`: `$make` returns a fixture with a `store` field that lives as long as the test.
macro_rules! store_conformance {
    ($backend:ident, $suite:ident, $make:expr; $($name:ident),* $(,)?) => {
        mod $backend {
            use super::*;
            $(
                #[tokio::test]
                async fn $name() {
                    let fixture = $make;
                    $suite::$name(fixture.store.clone()).await;
                }
            )*
        }
    };
}

/// Calls `$callback!($args; <every conformance test>)`, so the list is written once and
/// every backend runs all of it.
macro_rules! with_conformance_tests {
    ($callback:ident!($($args:tt)*)) => {
        $callback!($($args)*;
            insert_then_lookup_round_trips_properties,
            insert_without_id_makes_a_uuid,
            insert_of_an_existing_id_conflicts_with_the_stored_item,
            tables_are_separate,
            update_merges_and_restamps,
            update_with_a_stale_version_fails_with_the_stored_item,
            update_with_the_current_version_succeeds,
            update_of_a_deleted_item_is_not_found,
            delete_marks_deleted_and_hides_the_item,
            delete_twice_is_not_found,
            undelete_clears_the_flag_with_a_new_version,
            updated_at_strictly_increases_across_writes,
            query_pages_report_whether_more_rows_follow,
            query_counts_every_match_when_asked,
            query_orders_with_id_as_the_tie_breaker,
            query_filters_on_updated_at_exactly,
            a_tagged_write_is_applied_once_and_replayed,
            a_replayed_update_does_not_write_again,
            a_failed_tagged_write_is_not_recorded,
            a_tag_reused_for_another_item_is_a_bad_request,
            an_untranslatable_query_is_invalid,
            a_batch_applies_in_order_and_a_failed_write_rolls_back_alone,
            a_retried_batch_replays_and_writes_nothing,
            an_empty_batch_answers_nothing,
        );
    };
}

/// Calls `$callback!($args; <every isolation test>)`, as [`with_conformance_tests`] does.
macro_rules! with_isolation_tests {
    ($callback:ident!($($args:tt)*)) => {
        $callback!($($args)*;
            another_owners_rows_match_no_query_filter_or_count,
            another_owners_id_is_not_found_by_lookup,
            an_insert_with_another_owners_id_stores_a_fresh_row,
            updates_deletes_and_undeletes_of_another_owners_id_are_not_found,
            a_tag_another_owner_used_is_judged_afresh,
            a_batch_touches_only_its_owners_rows,
            adopting_the_unowned_rows_moves_them_and_their_tags,
            adopting_is_refused_when_an_id_collides_and_moves_nothing,
            deleting_an_owners_rows_removes_them_and_their_tags_only,
        );
    };
}

with_conformance_tests!(store_conformance!(sqlite, suite, SqliteFixture::new()));
with_conformance_tests!(store_conformance!(postgres, suite, PgFixture::new().await));
with_isolation_tests!(store_conformance!(
    sqlite_isolation,
    isolation,
    SqliteFixture::new()
));
with_isolation_tests!(store_conformance!(
    postgres_isolation,
    isolation,
    PgFixture::new().await
));
