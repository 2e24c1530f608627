//! The query plans of the SQLite store's hot reads: with every row owned, an incremental pull
//! must still be one index range scan in change order (no sort), a lookup one primary-key probe.

use rusqlite::Connection;
use tidemark_protocol::odata::{parse_filter, parse_orderby};

use super::{ITEM_COLUMNS, ItemQuery, migrations, query_sql};

/// A migrated in-memory database with the store's SQL functions.
fn database() -> Connection {
    let mut conn = Connection::open_in_memory().unwrap_or_else(|e| panic!("open: {e}"));
    tidemark_sql::sqlite::register(&conn).unwrap_or_else(|e| panic!("register: {e}"));
    migrations::migrate(&mut conn).unwrap_or_else(|e| panic!("migrate: {e}"));
    conn
}

/// SQLite's plan of `sql` with `params`, one line per step.
fn plan(conn: &Connection, sql: &str, params: &[rusqlite::types::Value]) -> String {
    let mut st = conn
        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let rows = st
        .query_map(rusqlite::params_from_iter(params), |r| {
            r.get::<_, String>(3)
        })
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    rows.join("\n")
}

/// The engine's pull: `updatedAt ge <watermark>` ordered by updatedAt (then id), one owner.
fn pull(include_deleted: bool) -> ItemQuery {
    ItemQuery {
        filter: parse_filter("updatedAt ge datetimeoffset'2026-01-01T00:00:00.000Z'").ok(),
        orderby: parse_orderby("updatedAt").unwrap_or_default(),
        limit: 100,
        include_deleted,
        count_total: true,
        ..ItemQuery::default()
    }
}

#[test]
fn an_incremental_pull_of_one_owner_scans_the_change_index_in_order() {
    let conn = database();
    for include_deleted in [true, false] {
        let sql =
            query_sql(1, "todoitem", &pull(include_deleted)).unwrap_or_else(|e| panic!("{e}"));
        let page = plan(&conn, &sql.page_sql, &sql.page_params);
        assert!(
            page.contains("USING INDEX items_by_change (tbl=? AND owner=? AND updated_at>?)"),
            "{page}"
        );
        assert!(!page.contains("TEMP B-TREE"), "no sort: {page}");
        let count = plan(&conn, &sql.count_sql, &sql.params);
        assert!(
            count.contains("INDEX items_by_change (tbl=? AND owner=? AND updated_at>?)"),
            "{count}"
        );
    }
}

#[test]
fn a_lookup_is_one_primary_key_probe() {
    let conn = database();
    let sql = format!("SELECT {ITEM_COLUMNS} FROM items WHERE tbl = ?1 AND owner = ?2 AND id = ?3");
    let params = ["todoitem", "alice", "a"].map(|s| rusqlite::types::Value::Text(s.into()));
    let lookup = plan(&conn, &sql, &params);
    assert!(
        lookup.contains("USING PRIMARY KEY (tbl=? AND owner=? AND id=?)"),
        "{lookup}"
    );
}
