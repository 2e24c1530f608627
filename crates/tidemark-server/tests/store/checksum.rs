//! The table checksum (`TableStore::checksum`) on both stores: the same rows give the same
//! count and digest on SQLite and PostgreSQL, only the owner's live rows of the table up to
//! `until` count, and the digest is the protocol's (the same sum a client computes).
//!
//! Versions are random per write, so after the writes both databases get the same fixed
//! versions and stamps by plain SQL: then the rows are the same, byte for byte, on both.

use serde_json::json;
use tidemark_protocol::checksum::TableChecksum;
use tidemark_server::store::{Owner, StoreWrite, TableStore};

use crate::support::{T, delete, new_item, write};
use crate::{PgFixture, SqliteFixture};

/// Each row written: owner, table, id, its fixed `updated_at` (µs) and version.
const ROWS: [(&str, &str, &str, i64, &str); 8] = [
    ("alice", T, "a1", 1_000, "AAAAAAAAAAE="),
    ("alice", T, "a2", 2_000, "AAAAAAAAAAI="),
    ("alice", T, "a3", 3_000, "AAAAAAAAAAM="),
    // Deleted below: never counted.
    ("alice", T, "a4", 3_500, "AAAAAAAAAAQ="),
    ("alice", T, "a5", 4_000, "AAAAAAAAAAU="),
    // Another table of alice's, and bob's rows (one with an id alice has too).
    ("alice", "other", "a1", 1_000, "AAAAAAAAAAE="),
    ("bob", T, "a1", 1_000, "AAAAAAAAAAE="),
    ("bob", T, "b1", 2_000, "AAAAAAAAAAY="),
];

async fn seed(store: &impl TableStore) {
    for (owner, table, id, _, _) in ROWS {
        let insert = StoreWrite::new(
            table,
            tidemark_server::store::Change::Insert(new_item(id, json!({"text": id}))),
        );
        if let Err(e) = store.apply(&Owner::user(owner), insert).await {
            panic!("insert {owner}/{table}/{id}: {e}");
        }
    }
    if let Err(e) = store
        .apply(&Owner::user("alice"), write(delete("a4", None)))
        .await
    {
        panic!("delete a4: {e}");
    }
}

/// The fixed stamp and version of every row, set the same way in either database (the
/// statement is the same text in both dialects apart from the placeholders).
fn fixes() -> impl Iterator<Item = (i64, &'static str, &'static str, &'static str)> {
    ROWS.into_iter()
        .map(|(_, table, id, at, version)| (at, version, table, id))
}

fn fix_sqlite(path: &std::path::Path) {
    let conn = match rusqlite::Connection::open(path) {
        Ok(c) => c,
        Err(e) => panic!("open {}: {e}", path.display()),
    };
    for (at, version, table, id) in fixes() {
        if let Err(e) = conn.execute(
            "UPDATE items SET updated_at = ?1, version = ?2 WHERE tbl = ?3 AND id = ?4",
            rusqlite::params![at, version, table, id],
        ) {
            panic!("fix {table}/{id}: {e}");
        }
    }
}

async fn fix_postgres(url: &str) {
    let (client, connection) = match tokio_postgres::connect(url, tokio_postgres::NoTls).await {
        Ok(c) => c,
        Err(e) => panic!("connect {url}: {e}"),
    };
    tokio::spawn(connection);
    for (at, version, table, id) in fixes() {
        if let Err(e) = client
            .execute(
                "UPDATE items SET updated_at = $1, version = $2 WHERE tbl = $3 AND id = $4",
                &[&at, &version, &table, &id],
            )
            .await
        {
            panic!("fix {table}/{id}: {e}");
        }
    }
}

/// What the checksum of `ids` (with their fixed versions) must be.
fn expected(ids: &[&str]) -> TableChecksum {
    let mut sum = TableChecksum::default();
    for id in ids {
        let version = ROWS
            .iter()
            .find(|r| r.0 == "alice" && r.1 == T && r.2 == *id)
            .map_or("", |r| r.4);
        sum.add(id, version);
    }
    sum
}

async fn checksum(store: &impl TableStore, owner: &str, until: Option<i64>) -> TableChecksum {
    match store.checksum(&Owner::user(owner), T, until).await {
        Ok(sum) => sum,
        Err(e) => panic!("checksum of {owner}'s rows until {until:?}: {e}"),
    }
}

#[tokio::test]
async fn both_stores_give_the_same_checksum_of_an_owners_live_rows_up_to_a_stamp() {
    let sqlite = SqliteFixture::new();
    let pg = PgFixture::new().await;
    seed(&sqlite.store).await;
    seed(&pg.store).await;
    fix_sqlite(sqlite.store.path());
    fix_postgres(pg.url()).await;

    for (until, ids) in [
        (None, vec!["a1", "a2", "a3", "a5"]),
        (Some(4_000), vec!["a1", "a2", "a3", "a5"]),
        (Some(3_999), vec!["a1", "a2", "a3"]),
        (Some(2_000), vec!["a1", "a2"]),
        (Some(999), vec![]),
    ] {
        let on_sqlite = checksum(&sqlite.store, "alice", until).await;
        let on_postgres = checksum(&pg.store, "alice", until).await;
        assert_eq!(on_sqlite, on_postgres, "until {until:?}");
        assert_eq!(on_sqlite, expected(&ids), "until {until:?}");
    }
    // Bob sees only his own two rows; a user who never wrote has none.
    let bob = checksum(&sqlite.store, "bob", None).await;
    assert_eq!(bob, checksum(&pg.store, "bob", None).await);
    assert_eq!(bob.count, 2);
    assert_eq!(
        checksum(&pg.store, "carol", None).await,
        TableChecksum::default()
    );
    assert_eq!(
        checksum(&sqlite.store, "carol", None).await,
        TableChecksum::default()
    );
}
