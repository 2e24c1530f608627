//! A database from before owners (SQLite schema version 1, PostgreSQL version 2), with rows in
//! it, opens: it is migrated, its rows and operation records are unowned and still served to
//! `Owner::unowned()` (and to no user), and new writes work on the rebuilt tables.

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

#[tokio::test]
async fn a_sqlite_database_of_schema_1_is_migrated_and_its_rows_are_unowned() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("old.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap_or_else(|e| panic!("{e}"));
        let setup = format!("{SQLITE_V1}\n{OLD_ROWS}\nPRAGMA user_version = 1;");
        conn.execute_batch(&setup)
            .unwrap_or_else(|e| panic!("schema 1: {e}"));
    }
    let store = SqliteTableStore::open(&path).unwrap_or_else(|e| panic!("open: {e}"));
    assert_rows_are_unowned_and_served(&store).await;
    let conn = rusqlite::Connection::open(&path).unwrap_or_else(|e| panic!("{e}"));
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        version, 3,
        "migrated to the newest schema (owners, then accounts)"
    );
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(check, "ok");
}

#[tokio::test]
async fn a_postgres_database_of_schema_2_is_migrated_and_its_rows_are_unowned() {
    let db = PgDatabase::create().await;
    {
        let (client, connection) = tokio_postgres::connect(db.url(), tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("connect: {e}"));
        let connection = tokio::spawn(connection);
        let setup = format!(
            "{}\n{}\n{OLD_ROWS}
             CREATE TABLE tidemark_schema (
                 version    bigint PRIMARY KEY,
                 applied_at timestamptz NOT NULL DEFAULT now());
             INSERT INTO tidemark_schema (version) VALUES (1), (2);",
            POSTGRES_V2[0], POSTGRES_V2[1]
        );
        client
            .batch_execute(&setup)
            .await
            .unwrap_or_else(|e| panic!("schema 2: {e}"));
        drop(client);
        let _ = connection.await;
    }
    let store = PostgresTableStore::connect(db.url())
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    assert_rows_are_unowned_and_served(&store).await;
}
