//! A database from before owners (SQLite schema version 1, PostgreSQL version 2), with rows in
//! it, opens: it is migrated, its rows and operation records are unowned and still served to
//! `Owner::unowned()` (and to no user), and new writes work on the rebuilt tables. A database
//! whose owners are user ids (SQLite 3, PostgreSQL 4) opens with every row still its owner's,
//! the owners now keys.

use serde_json::json;
use tidemark_protocol::headers::OperationTag;
use tidemark_server::store::{
    Change, ItemQuery, Owner, PostgresTableStore, SqliteTableStore, StoreError, TableStore,
};
use tidemark_testkit::postgres::PgDatabase;

use crate::support::{NOBODY, T, new_item, props, write};

/// The SQL that made a schema-1 SQLite database, as the release before owners shipped it.
const SQLITE_V1: &str =
    include_str!("../../src/store/sqlite/migrations/0001_items_and_operations.sql");
/// The SQL of a schema-2 PostgreSQL database (before owners).
const POSTGRES_V2: [&str; 2] = [
    include_str!("../../src/store/postgres/migrations/0001_items_and_operations.sql"),
    include_str!("../../src/store/postgres/migrations/0002_filter_functions.sql"),
];

/// The SQL of a schema-3 SQLite database (owners as user ids, accounts).
const SQLITE_V3: [&str; 3] = [
    include_str!("../../src/store/sqlite/migrations/0001_items_and_operations.sql"),
    include_str!("../../src/store/sqlite/migrations/0002_owners.sql"),
    include_str!("../../src/store/sqlite/migrations/0003_accounts.sql"),
];
/// The SQL of a schema-4 PostgreSQL database (owners as user ids, accounts).
const POSTGRES_V4: [&str; 4] = [
    include_str!("../../src/store/postgres/migrations/0001_items_and_operations.sql"),
    include_str!("../../src/store/postgres/migrations/0002_filter_functions.sql"),
    include_str!("../../src/store/postgres/migrations/0003_owners.sql"),
    include_str!("../../src/store/postgres/migrations/0004_accounts.sql"),
];

/// Rows of Alice (`a1`, with the record of its tagged insert), of Bob (`b1`) and of nobody
/// (`n1`), owned by user id as schema 3 (SQLite) and 4 (PostgreSQL) stored them.
const OWNED_ROWS: &str = "
    INSERT INTO items (tbl, owner, id, created_at, updated_at, version, deleted, data) VALUES
        ('todoitem', 'alice-id', 'a1', 1000, 2000, 'va', FALSE, '{\"text\": \"alice\"}'),
        ('todoitem', 'bob-id', 'b1', 1000, 2100, 'vb', FALSE, '{\"text\": \"bob\"}'),
        ('todoitem', '', 'n1', 1000, 2200, 'vn', FALSE, '{\"text\": \"nobody\"}');
    INSERT INTO operations
        (tbl, owner, operation_id, op_version, kind, item_id, outcome, recorded_at)
    VALUES ('todoitem', 'alice-id', 'op-a', 1, 'insert', 'a1',
        '{\"id\":\"a1\",\"created_at_us\":1000,\"updated_at_us\":2000,\"version\":\"va\",\
\"deleted\":false,\"properties\":{\"text\":\"alice\"}}', 2000);";

/// What a migrated database with owned rows must answer: each owner sees exactly their rows,
/// Alice's operation record replays for her alone, and a new user's rows are theirs.
async fn assert_rows_keep_their_owners(store: &impl TableStore) {
    let query = ItemQuery {
        limit: 10,
        include_deleted: true,
        count_total: true,
        ..ItemQuery::default()
    };
    let alice = Owner::user("alice-id");
    let bob = Owner::user("bob-id");
    let carol = Owner::user("carol-id");
    for (owner, expected) in [(&alice, "a1"), (&bob, "b1"), (NOBODY, "n1")] {
        let page = store.query(owner, T, &query).await;
        let page = page.unwrap_or_else(|e| panic!("{owner}: {e}"));
        let ids: Vec<&str> = page.items.iter().map(|i| i.id.as_str()).collect();
        assert_eq!((ids, page.total), (vec![expected], Some(1)), "{owner}");
        let item = store.lookup(owner, T, expected, false).await;
        assert!(item.is_ok_and(|i| i.updated_at_us > 1000), "{owner}");
    }
    let retry = write(Change::Insert(new_item("a1", json!({"text": "alice"}))))
        .tagged(OperationTag::new("op-a", 1));
    let replay = store.apply(&alice, retry.clone()).await;
    assert!(replay.is_ok_and(|o| o.replayed && o.item.version == "va"));
    let not_bobs = store.apply(&bob, retry).await;
    assert!(not_bobs.is_ok_and(|o| !o.replayed));
    // A user new since the migration gets a key of their own: none of the others' rows.
    let first = store.query(&carol, T, &query).await;
    assert_eq!(first.ok().map(|p| p.total), Some(Some(0)));
    let insert = write(Change::Insert(new_item("c1", json!({}))));
    assert!(store.apply(&carol, insert).await.is_ok());
    let page = store.query(&carol, T, &query).await;
    let ids: Vec<String> = page
        .map(|p| p.items.into_iter().map(|i| i.id).collect())
        .unwrap_or_default();
    assert_eq!(ids, ["c1"]);
    let alices = store.query(&alice, T, &query).await;
    assert_eq!(alices.ok().map(|p| p.total), Some(Some(1)));
}

/// Two items (`old`, and `gone` soft-deleted) and the record of the tagged insert of `old`, as
/// an old server stored them. `$n` parameters: SQLite reads them too.
const OLD_ROWS: &str = "
    INSERT INTO items (tbl, id, created_at, updated_at, version, deleted, data) VALUES
        ('todoitem', 'old', 1000, 2000, 'v1', FALSE, '{\"text\": \"kept\"}'),
        ('todoitem', 'gone', 1000, 3000, 'v2', TRUE, '{}');
    INSERT INTO operations (tbl, operation_id, op_version, kind, item_id, outcome, recorded_at)
    VALUES ('todoitem', 'op-old', 1, 'insert', 'old',
        '{\"id\":\"old\",\"created_at_us\":1000,\"updated_at_us\":2000,\"version\":\"v1\",\
\"deleted\":false,\"properties\":{\"text\":\"kept\"}}', 2000);";

/// What every migrated database must answer.
async fn assert_rows_are_unowned_and_served(store: &impl TableStore) {
    let old = store.lookup(NOBODY, T, "old", false).await;
    let old = old.unwrap_or_else(|e| panic!("old: {e}"));
    assert_eq!(
        (old.properties, old.updated_at_us, old.version.as_str()),
        (props(json!({"text": "kept"})), 2000, "v1")
    );
    let query = ItemQuery {
        limit: 10,
        include_deleted: true,
        count_total: true,
        ..ItemQuery::default()
    };
    let page = store.query(NOBODY, T, &query).await;
    let page = page.unwrap_or_else(|e| panic!("query: {e}"));
    let ids: Vec<&str> = page.items.iter().map(|i| i.id.as_str()).collect();
    assert_eq!((ids, page.total), (vec!["gone", "old"], Some(2)));
    // The old operation record still replays, for the unowned rows only.
    let retry = write(Change::Insert(new_item("old", json!({"text": "kept"}))))
        .tagged(OperationTag::new("op-old", 1));
    let replay = store.apply(NOBODY, retry.clone()).await;
    assert!(replay.is_ok_and(|o| o.replayed && o.item.id == "old"));
    // No user sees them; a user's insert of the same id is that user's own row.
    let alice = Owner::user("alice");
    let lookup = store.lookup(&alice, T, "old", true).await;
    assert!(matches!(lookup, Err(StoreError::NotFound(_))), "{lookup:?}");
    let page = store.query(&alice, T, &query).await.ok();
    assert_eq!(page.map(|p| (p.items.len(), p.total)), Some((0, Some(0))));
    let fresh = store.apply(&alice, retry).await;
    assert!(fresh.is_ok_and(|o| !o.replayed && o.item.version != "v1"));
    // New writes stamp after the old rows.
    let new = store
        .apply(NOBODY, write(Change::Insert(new_item("new", json!({})))))
        .await;
    assert!(new.is_ok_and(|o| o.item.updated_at_us > 3000));
}

/// A SQLite database made by `schema` (the migrations up to `version`) holding `rows`.
fn sqlite_database_at(path: &std::path::Path, schema: &[&str], version: i64, rows: &str) {
    let conn = rusqlite::Connection::open(path).unwrap_or_else(|e| panic!("{e}"));
    let setup = format!(
        "{}\n{rows}\nPRAGMA user_version = {version};",
        schema.join("\n")
    );
    conn.execute_batch(&setup)
        .unwrap_or_else(|e| panic!("schema {version}: {e}"));
}

/// The schema version and integrity of the SQLite database at `path`, once migrated.
fn assert_sqlite_is_current(path: &std::path::Path) {
    let conn = rusqlite::Connection::open(path).unwrap_or_else(|e| panic!("{e}"));
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        version, 4,
        "migrated to the newest schema (owners, accounts, then owner keys)"
    );
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(check, "ok");
}

/// A PostgreSQL database made by `schema` (the migrations `1..=schema.len()`) holding `rows`,
/// then opened (and so migrated) by the store.
async fn postgres_store_from(db: &PgDatabase, schema: &[&str], rows: &str) -> PostgresTableStore {
    let (client, connection) = tokio_postgres::connect(db.url(), tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    let connection = tokio::spawn(connection);
    let versions: Vec<String> = (1..=schema.len()).map(|v| format!("({v})")).collect();
    let setup = format!(
        "{}\n{rows}
         CREATE TABLE tidemark_schema (
             version    bigint PRIMARY KEY,
             applied_at timestamptz NOT NULL DEFAULT now());
         INSERT INTO tidemark_schema (version) VALUES {};",
        schema.join("\n"),
        versions.join(", ")
    );
    client
        .batch_execute(&setup)
        .await
        .unwrap_or_else(|e| panic!("schema {}: {e}", schema.len()));
    drop(client);
    let _ = connection.await;
    PostgresTableStore::connect(db.url())
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"))
}

#[tokio::test]
async fn a_sqlite_database_of_schema_1_is_migrated_and_its_rows_are_unowned() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("old.db");
    sqlite_database_at(&path, &[SQLITE_V1], 1, OLD_ROWS);
    let store = SqliteTableStore::open(&path).unwrap_or_else(|e| panic!("open: {e}"));
    assert_rows_are_unowned_and_served(&store).await;
    assert_sqlite_is_current(&path);
}

#[tokio::test]
async fn a_postgres_database_of_schema_2_is_migrated_and_its_rows_are_unowned() {
    let db = PgDatabase::create().await;
    let store = postgres_store_from(&db, &POSTGRES_V2, OLD_ROWS).await;
    assert_rows_are_unowned_and_served(&store).await;
}

#[tokio::test]
async fn a_sqlite_database_with_owners_as_user_ids_keeps_every_row_with_its_owner() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("v3.db");
    sqlite_database_at(&path, &SQLITE_V3, 3, OWNED_ROWS);
    let store = SqliteTableStore::open(&path).unwrap_or_else(|e| panic!("open: {e}"));
    assert_rows_keep_their_owners(&store).await;
    assert_sqlite_is_current(&path);
}

#[tokio::test]
async fn a_postgres_database_with_owners_as_user_ids_keeps_every_row_with_its_owner() {
    let db = PgDatabase::create().await;
    let store = postgres_store_from(&db, &POSTGRES_V4, OWNED_ROWS).await;
    assert_rows_keep_their_owners(&store).await;
}
