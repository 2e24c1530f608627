//! Owners are isolated: every function takes `impl TableStore`, has user A write rows, and shows
//! that user B sees and changes none of them through any store call, each of A's ids answering
//! exactly as an id that does not exist; then adoption of the unowned rows and deletion of an
//! owner's rows. Run on both backends by `main.rs`, like the conformance suite.

use serde_json::{Value, json};
use tidemark_protocol::date;
use tidemark_protocol::headers::OperationTag;
use tidemark_protocol::odata::parse_filter;
use tidemark_server::store::{
    Change, Item, ItemQuery, Owner, StoreError, StoreWrite, TableStore, WriteOutcome,
};

use crate::support::{NOBODY, T, delete, new_item, props, undelete, update, write};

fn alice() -> Owner {
    Owner::user("alice")
}

fn bob() -> Owner {
    Owner::user("bob")
}

fn ok(result: Result<WriteOutcome, StoreError>) -> Item {
    match result {
        Ok(outcome) => outcome.item,
        Err(e) => panic!("write failed: {e}"),
    }
}

fn insert_of(id: &str, value: Value) -> StoreWrite {
    write(Change::Insert(new_item(id, value)))
}

async fn insert(store: &impl TableStore, owner: &Owner, id: &str, value: Value) -> Item {
    ok(store.apply(owner, insert_of(id, value)).await)
}

/// Every item of `owner` (deleted ones too), by id.
async fn everything(store: &impl TableStore, owner: &Owner) -> Vec<Item> {
    let query = ItemQuery {
        limit: 100,
        include_deleted: true,
        ..ItemQuery::default()
    };
    match store.query(owner, T, &query).await {
        Ok(page) => page.items,
        Err(e) => panic!("query: {e}"),
    }
}

fn ids(items: &[Item]) -> Vec<&str> {
    items.iter().map(|i| i.id.as_str()).collect()
}

/// Alice's rows: `a1` live, `a2` deleted, `a3` live; every write tagged (`tag-a1`, …).
async fn alice_writes(store: &impl TableStore) -> Vec<Item> {
    for (n, id) in ["a1", "a2", "a3"].iter().enumerate() {
        let tagged = insert_of(id, json!({"text": "secret", "n": n}))
            .tagged(OperationTag::new(format!("tag-{id}"), 1));
        ok(store.apply(&alice(), tagged).await);
    }
    let deleted = write(delete("a2", None)).tagged(OperationTag::new("tag-del-a2", 1));
    ok(store.apply(&alice(), deleted).await);
    everything(store, &alice()).await
}

/// Shows that Alice's rows are exactly `before`.
async fn assert_alice_unchanged(store: &impl TableStore, before: &[Item]) {
    assert_eq!(everything(store, &alice()).await, before, "alice's rows");
}

fn is_not_found<T: std::fmt::Debug>(result: &Result<T, StoreError>) -> bool {
    matches!(result, Err(StoreError::NotFound(_)))
}

pub async fn another_owners_rows_match_no_query_filter_or_count(store: impl TableStore) {
    let before = alice_writes(&store).await;
    insert(&store, &bob(), "b1", json!({"text": "mine", "n": 7})).await;
    let stamp = |us| date::from_micros(us).map(|d| date::format_date(&d));
    let (first, a1) = (&before[0], &before[0]);
    let mut filters = vec![
        "id eq 'a1'".to_owned(),
        "text eq 'secret'".to_owned(),
        "n le 2".to_owned(),
        "deleted eq true".to_owned(),
        // The owner is no column a client can name: this reads a user property `owner`.
        "owner eq 'alice'".to_owned(),
        format!("version eq '{}'", a1.version),
    ];
    for (column, us) in [
        ("updatedAt", first.updated_at_us),
        ("createdAt", first.created_at_us),
    ] {
        let Some(at) = stamp(us) else {
            panic!("{us} is no date")
        };
        filters.push(format!("{column} ge datetimeoffset'{at}'"));
        filters.push(format!("{column} eq datetimeoffset'{at}'"));
    }
    for filter in &filters {
        for include_deleted in [false, true] {
            let query = ItemQuery {
                filter: Some(parse_filter(filter).unwrap_or_else(|e| panic!("{filter}: {e}"))),
                limit: 100,
                include_deleted,
                count_total: true,
                ..ItemQuery::default()
            };
            let page = match store.query(&bob(), T, &query).await {
                Ok(page) => page,
                Err(e) => panic!("{filter}: {e}"),
            };
            assert!(
                page.items.iter().all(|i| i.id == "b1"),
                "{filter}: {page:?}"
            );
            assert_eq!(page.total, Some(page.items.len() as u64), "{filter}");
            let alice_sees = store.query(&alice(), T, &query).await;
            assert!(
                alice_sees.is_ok_and(|p| p.items.iter().all(|i| i.id.starts_with('a'))),
                "{filter}: alice sees only her own rows"
            );
        }
    }
    // An incremental pull from the beginning (ordered by updatedAt, id) and a count of all.
    let pull = ItemQuery {
        filter: parse_filter("updatedAt ge datetimeoffset'1970-01-01T00:00:00.000Z'").ok(),
        orderby: tidemark_protocol::odata::parse_orderby("updatedAt").unwrap_or_default(),
        limit: 100,
        include_deleted: true,
        count_total: true,
        ..ItemQuery::default()
    };
    let page = store.query(&bob(), T, &pull).await.ok();
    let seen = page.map(|p| (ids(&p.items).join(","), p.total));
    assert_eq!(seen, Some(("b1".to_owned(), Some(1))));
    let nobody = store.query(NOBODY, T, &pull).await.ok();
    assert_eq!(nobody.map(|p| (p.items.len(), p.total)), Some((0, Some(0))));
    assert_alice_unchanged(&store, &before).await;
}

pub async fn another_owners_id_is_not_found_by_lookup(store: impl TableStore) {
    let before = alice_writes(&store).await;
    for id in ["a1", "a2", "a3"] {
        for include_deleted in [false, true] {
            let found = store.lookup(&bob(), T, id, include_deleted).await;
            assert!(is_not_found(&found), "{id}: {found:?}");
            let nobody = store.lookup(NOBODY, T, id, include_deleted).await;
            assert!(is_not_found(&nobody), "{id}: {nobody:?}");
        }
    }
    let own = store.lookup(&alice(), T, "a2", true).await;
    assert_eq!(own.ok().as_ref(), before.iter().find(|i| i.id == "a2"));
}

pub async fn an_insert_with_another_owners_id_stores_a_fresh_row(store: impl TableStore) {
    let before = alice_writes(&store).await;
    for id in ["a1", "a2"] {
        let mine = store
            .apply(&bob(), insert_of(id, json!({"text": "mine"})))
            .await;
        let mine = mine.unwrap_or_else(|e| panic!("{id}: {e}"));
        assert!(!mine.replayed);
        assert_eq!(mine.item.properties, props(json!({"text": "mine"})));
        assert!(!mine.item.deleted);
    }
    // Now Bob has his own a1: inserting it again conflicts with his row, never Alice's.
    let again = store
        .apply(&bob(), insert_of("a1", json!({"text": "again"})))
        .await;
    assert!(
        matches!(&again, Err(StoreError::Conflict(item)) if item.properties == props(json!({"text": "mine"}))),
        "{again:?}"
    );
    assert_eq!(ids(&everything(&store, &bob()).await), ["a1", "a2"]);
    assert_alice_unchanged(&store, &before).await;
}

pub async fn updates_deletes_and_undeletes_of_another_owners_id_are_not_found(
    store: impl TableStore,
) {
    let before = alice_writes(&store).await;
    for item in &before {
        // With no version, and with Alice's current one: never 412, which would tell it exists.
        for version in [None, Some(item.version.clone())] {
            let patch = props(json!({"text": "stolen"}));
            let changes = [
                update(&item.id, patch, version.clone()),
                delete(&item.id, version.clone()),
                undelete(&item.id, version),
            ];
            for change in changes {
                let result = store.apply(&bob(), write(change.clone())).await;
                assert!(is_not_found(&result), "{change:?}: {result:?}");
            }
        }
    }
    assert!(everything(&store, &bob()).await.is_empty());
    assert_alice_unchanged(&store, &before).await;
}

pub async fn a_tag_another_owner_used_is_judged_afresh(store: impl TableStore) {
    let before = alice_writes(&store).await;
    // Alice's insert tag on Bob's insert of the same id: a fresh insert of Bob's, no replay.
    let tag = OperationTag::new("tag-a1", 1);
    let fresh = store
        .apply(
            &bob(),
            insert_of("a1", json!({"text": "bob"})).tagged(tag.clone()),
        )
        .await;
    assert!(
        fresh
            .as_ref()
            .is_ok_and(|o| !o.replayed && o.item.properties == props(json!({"text": "bob"}))),
        "{fresh:?}"
    );
    // Alice's tag on Bob's write of another item: no "tag reused for another item".
    let other = insert_of("b9", json!({})).tagged(OperationTag::new("tag-a3", 1));
    let other = store.apply(&bob(), other).await;
    assert!(other.as_ref().is_ok_and(|o| !o.replayed), "{other:?}");
    // Alice's delete tag on Bob's delete of her item: judged as Bob's, so not found.
    let steal = write(delete("a2", None)).tagged(OperationTag::new("tag-del-a2", 1));
    let steal = store.apply(&bob(), steal).await;
    assert!(is_not_found(&steal), "{steal:?}");
    // Each owner's retry replays its own outcome.
    let retry = store
        .apply(
            &bob(),
            insert_of("a1", json!({"text": "bob"})).tagged(tag.clone()),
        )
        .await;
    assert!(retry.is_ok_and(|o| o.replayed && o.item.properties == props(json!({"text": "bob"}))));
    let alice_retry = store
        .apply(&alice(), insert_of("a1", json!({})).tagged(tag))
        .await;
    assert!(alice_retry.is_ok_and(|o| o.replayed && o.item == before[0]));
    assert_alice_unchanged(&store, &before).await;
}

pub async fn a_batch_touches_only_its_owners_rows(store: impl TableStore) {
    let before = alice_writes(&store).await;
    let batch = vec![
        insert_of("a1", json!({"text": "bob"})),
        write(update("a3", props(json!({"text": "stolen"})), None)),
        write(delete("a3", None)),
        write(undelete("a2", None)),
        insert_of("a3", json!({})).tagged(OperationTag::new("tag-a3", 1)),
        write(update(
            "a2",
            props(json!({})),
            Some(before[1].version.clone()),
        )),
    ];
    let results = match store.apply_batch(&bob(), batch).await {
        Ok(results) => results,
        Err(e) => panic!("batch: {e}"),
    };
    assert_eq!(results.len(), 6);
    assert!(results[0].as_ref().is_ok_and(|o| !o.replayed));
    for (n, result) in results.iter().enumerate().skip(1) {
        match n {
            4 => assert!(result.as_ref().is_ok_and(|o| !o.replayed), "{result:?}"),
            _ => assert!(is_not_found(result), "{n}: {result:?}"),
        }
    }
    assert_eq!(ids(&everything(&store, &bob()).await), ["a1", "a3"]);
    assert_alice_unchanged(&store, &before).await;
}

pub async fn adopting_the_unowned_rows_moves_them_and_their_tags(store: impl TableStore) {
    let shared = insert(&store, NOBODY, "u1", json!({"n": 1})).await;
    let tagged = insert_of("u2", json!({"n": 2})).tagged(OperationTag::new("shared-op", 1));
    let tagged = ok(store.apply(NOBODY, tagged).await);
    // A tag both used: Alice's record stays hers, the shared one is dropped.
    let both = OperationTag::new("both", 1);
    ok(store
        .apply(NOBODY, insert_of("u3", json!({})).tagged(both.clone()))
        .await);
    let own = ok(store
        .apply(&alice(), insert_of("a1", json!({})).tagged(both.clone()))
        .await);
    assert_eq!(store.adopt_unowned(&alice()).await.ok(), Some(3));
    assert!(everything(&store, NOBODY).await.is_empty());
    let adopted = everything(&store, &alice()).await;
    assert_eq!(ids(&adopted), ["a1", "u1", "u2", "u3"]);
    assert_eq!(adopted[1], shared, "same item, same updatedAt and version");
    let retry = store
        .apply(
            &alice(),
            insert_of("u2", json!({"n": 2})).tagged(OperationTag::new("shared-op", 1)),
        )
        .await;
    assert!(retry.is_ok_and(|o| o.replayed && o.item == tagged));
    let retry = store
        .apply(&alice(), insert_of("a1", json!({})).tagged(both))
        .await;
    assert!(retry.is_ok_and(|o| o.replayed && o.item == own));
    assert_eq!(
        store.adopt_unowned(&alice()).await.ok(),
        Some(0),
        "none left"
    );
}

pub async fn adopting_is_refused_when_an_id_collides_and_moves_nothing(store: impl TableStore) {
    insert(&store, NOBODY, "x", json!({"from": "nobody"})).await;
    insert(&store, NOBODY, "y", json!({})).await;
    let nobody_before = everything(&store, NOBODY).await;
    insert(&store, &alice(), "x", json!({"from": "alice"})).await;
    let alice_before = everything(&store, &alice()).await;
    let refused = store.adopt_unowned(&alice()).await;
    assert!(
        matches!(&refused, Err(StoreError::BadRequest(m)) if m.contains("todoitem/x") && !m.contains("/y")),
        "{refused:?}"
    );
    assert_eq!(everything(&store, NOBODY).await, nobody_before);
    assert_eq!(everything(&store, &alice()).await, alice_before);
    let by_nobody = store.adopt_unowned(NOBODY).await;
    assert!(
        matches!(by_nobody, Err(StoreError::BadRequest(_))),
        "{by_nobody:?}"
    );
}

pub async fn deleting_an_owners_rows_removes_them_and_their_tags_only(store: impl TableStore) {
    alice_writes(&store).await;
    let bobs = insert(&store, &bob(), "a1", json!({})).await;
    let shared = insert(&store, NOBODY, "a1", json!({})).await;
    assert_eq!(store.delete_rows_of(&alice()).await.ok(), Some(3));
    assert!(everything(&store, &alice()).await.is_empty());
    assert_eq!(everything(&store, &bob()).await, [bobs]);
    assert_eq!(everything(&store, NOBODY).await, [shared]);
    // Her tags went with her rows: the same tagged insert is a fresh write.
    let again = insert_of("a1", json!({})).tagged(OperationTag::new("tag-a1", 1));
    let again = store.apply(&alice(), again).await;
    assert!(again.is_ok_and(|o| !o.replayed));
    assert_eq!(
        store.delete_rows_of(&Owner::user("nobody-here")).await.ok(),
        Some(0)
    );
}
