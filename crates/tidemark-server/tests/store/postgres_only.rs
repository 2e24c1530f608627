//! Behaviours of the PostgreSQL store beyond the shared suite: the change clock when several
//! stores (as several server processes would) write one database. A write is held back after
//! taking its stamp by an uncommitted row of the test's own connection on the same key; the
//! test then shows that stamping with `now()` lets an incremental reader miss that late commit,
//! and that the ordered clock does not. Also: one owner's incremental pull reads the change
//! index in order.

use std::time::Duration;

use serde_json::json;
use tidemark_server::store::{Change, PostgresOptions, PostgresTableStore, TableStore};
use tidemark_testkit::stamps::STOCK_STAMP_STATEMENT;

use crate::PgFixture;
use crate::support::{LateCommit, NOBODY, T, new_item, spawn_insert, write};

/// Another store on the database at `url`, stamping like a stock server when `stock`.
async fn store_on(url: &str, stock: bool) -> PostgresTableStore {
    let mut options = PostgresOptions::default();
    if stock {
        options.stamp_statement = STOCK_STAMP_STATEMENT;
    }
    match PostgresTableStore::connect_with(url, options).await {
        Ok(s) => s,
        Err(e) => panic!("connect: {e}"),
    }
}

/// Writer A (one store) takes its stamp and is held back; writer B (another store) writes; the
/// reader (a third) pulls; A is released and commits; the reader pulls again.
async fn late_commit_scenario(stock: bool) -> LateCommit {
    let fixture = PgFixture::new().await;
    let (a_store, b_store, reader_store) = (
        store_on(fixture.url(), stock).await,
        store_on(fixture.url(), stock).await,
        fixture.store.clone(),
    );
    // The blocker: an uncommitted row with A's key, so A's insert waits after its stamp.
    let (mut blocker, connection) =
        match tokio_postgres::connect(fixture.url(), tokio_postgres::NoTls).await {
            Ok(c) => c,
            Err(e) => panic!("connect: {e}"),
        };
    tokio::spawn(connection);
    let block = match blocker.transaction().await {
        Ok(tx) => tx,
        Err(e) => panic!("begin: {e}"),
    };
    let held = block
        .execute(
            "INSERT INTO items (tbl, id, created_at, updated_at, version, deleted, data)
             VALUES ($1, 'a', 0, 0, 'x', false, '{}')",
            &[&T],
        )
        .await;
    assert!(held.is_ok(), "{held:?}");
    let a = spawn_insert(a_store, "a");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let b = spawn_insert(b_store, "b");
    let release = async move {
        let released = block.rollback().await;
        assert!(released.is_ok(), "{released:?}");
    };
    LateCommit::finish(&reader_store, a, b, release).await
}

#[tokio::test]
async fn stamping_with_now_lets_an_incremental_reader_miss_a_late_commit() {
    late_commit_scenario(true).await.assert_a_was_missed();
}

#[tokio::test]
async fn the_clock_row_lets_no_late_commit_slip_behind_an_incremental_reader() {
    late_commit_scenario(false)
        .await
        .assert_nothing_was_missed();
}

#[tokio::test]
async fn several_stores_starting_at_once_migrate_the_database_once() {
    let fixture = PgFixture::new().await;
    let url = fixture.url().to_owned();
    let starts: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { PostgresTableStore::connect(&url).await.map(|_| ()) })
        })
        .collect();
    for start in starts {
        let started = start.await;
        assert!(matches!(started, Ok(Ok(()))), "{started:?}");
    }
}

#[tokio::test]
async fn a_bad_url_and_an_unreachable_database_are_clear_errors() {
    let bad = PostgresTableStore::connect("postgres://user:secret@[nonsense").await;
    let message = bad.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains("not a PostgreSQL URL"), "{message}");
    assert!(!message.contains("secret"), "{message}");
    // Port 1 on loopback: nothing listens there.
    let down = PostgresTableStore::connect_with(
        "postgres://postgres@127.0.0.1:1/none",
        PostgresOptions {
            connect_timeout: Duration::from_secs(2),
            ..PostgresOptions::default()
        },
    )
    .await;
    assert!(
        matches!(down, Err(tidemark_server::StoreError::Unavailable(_))),
        "{down:?}"
    );
}

#[tokio::test]
async fn a_retry_reaching_another_store_gets_the_recorded_outcome() {
    let fixture = PgFixture::new().await;
    let other = store_on(fixture.url(), false).await;
    let tag = tidemark_protocol::headers::OperationTag::new("op", 1);
    // The same tagged insert sent to two processes at once: one applies it, one replays it.
    let (first, second) = tokio::join!(
        fixture.store.apply(
            NOBODY,
            write(Change::Insert(new_item("a", json!({})))).tagged(tag.clone())
        ),
        other.apply(
            NOBODY,
            write(Change::Insert(new_item("a", json!({})))).tagged(tag.clone())
        ),
    );
    let (first, second) = match (first, second) {
        (Ok(f), Ok(s)) => (f, s),
        other => panic!("a write failed: {other:?}"),
    };
    assert_eq!(first.item, second.item);
    assert!(first.replayed != second.replayed, "exactly one replay");
    let retry = other
        .apply(
            NOBODY,
            write(Change::Insert(new_item("a", json!({})))).tagged(tag),
        )
        .await;
    assert!(retry.is_ok_and(|o| o.replayed && o.item == first.item));
}

/// PostgreSQL's plan for one owner's incremental pull from `watermark`, with the SQL the store
/// runs (the same translation of the same `$filter` and `$orderby`).
async fn pull_plan(client: &tokio_postgres::Client, watermark: i64) -> String {
    use tidemark_protocol::odata::{parse_filter, parse_orderby};
    use tidemark_sql::postgres::PostgresDialect;
    let filter = parse_filter("updatedAt ge datetimeoffset'2026-01-01T00:00:00.000Z'");
    let filter = filter.unwrap_or_else(|e| panic!("{e}"));
    let filter = tidemark_sql::filter(&PostgresDialect, &filter).unwrap_or_else(|e| panic!("{e}"));
    let order = parse_orderby("updatedAt").unwrap_or_else(|e| panic!("{e}"));
    let order = tidemark_sql::order_by(&PostgresDialect, &order).unwrap_or_else(|e| panic!("{e}"));
    let sql = format!(
        "EXPLAIN SELECT id, created_at, updated_at, version, deleted, data FROM items
         WHERE tbl = $1 AND owner = $2 AND ({}) ORDER BY {} LIMIT 101 OFFSET 0",
        filter.numbered(3),
        order.numbered(4)
    );
    let rows = client.query(&sql, &[&T, &1_i64, &watermark]).await;
    let rows = rows.unwrap_or_else(|e| panic!("{sql}: {e}"));
    rows.iter()
        .map(|row| row.get::<_, String>(0))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn an_incremental_pull_of_one_owner_reads_the_change_index_in_order() {
    let fixture = PgFixture::new().await;
    let (client, connection) = tokio_postgres::connect(fixture.url(), tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    tokio::spawn(connection);
    // 3000 rows for each of three owners (keys 1, 2 and nobody's 0), stamped 1..=3000.
    let seeded = client
        .batch_execute(
            "INSERT INTO owners (key, user_id) VALUES (1, 'alice'), (2, 'bob');
             INSERT INTO items (tbl, owner, id, created_at, updated_at, version, deleted, data)
             SELECT 'todoitem', o, g::text, g, g, 'v', false, '{}'
             FROM generate_series(1, 3000) AS g, unnest(ARRAY[1, 2, 0]) AS o;
             ANALYZE items;",
        )
        .await;
    assert!(seeded.is_ok(), "{seeded:?}");
    // From the start (a first pull, one page of many) and near the end (a catch-up).
    for watermark in [0, 2990] {
        let plan = pull_plan(&client, watermark).await;
        assert!(plan.contains("Index Scan using items_by_change"), "{plan}");
        assert!(
            plan.contains("(owner = '1'::bigint) AND (updated_at >="),
            "{plan}"
        );
        assert!(
            !plan.contains("Sort"),
            "read in order, never sorted: {plan}"
        );
    }
}
