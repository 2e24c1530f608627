//! The `TableStore` conformance suite: every function takes `impl TableStore` and states one
//! behaviour, so each backend (SQLite now, PostgreSQL later) runs the same list through
//! `store_conformance!` in `main.rs`.

use serde_json::{Map, Value, json};
use tidemark_protocol::headers::OperationTag;
use tidemark_protocol::odata::{Direction, OrderBy, parse_filter};
use tidemark_server::store::{
    Change, Item, ItemQuery, NewItem, StoreError, StoreWrite, TableStore, WriteOutcome,
};

use crate::support::{NOBODY, T, delete, new_item, props, undelete, update, write};

async fn insert(store: &impl TableStore, id: &str, value: Value) -> Item {
    match store
        .apply(NOBODY, write(Change::Insert(new_item(id, value))))
        .await
    {
        Ok(outcome) => outcome.item,
        Err(e) => panic!("insert {id}: {e}"),
    }
}

fn ok(result: Result<WriteOutcome, StoreError>) -> Item {
    match result {
        Ok(outcome) => outcome.item,
        Err(e) => panic!("write failed: {e}"),
    }
}

fn all(limit: u64) -> ItemQuery {
    ItemQuery {
        limit,
        include_deleted: true,
        ..ItemQuery::default()
    }
}

async fn ids(store: &impl TableStore, query: ItemQuery) -> Vec<String> {
    match store.query(NOBODY, T, &query).await {
        Ok(page) => page.items.into_iter().map(|i| i.id).collect(),
        Err(e) => panic!("query: {e}"),
    }
}

pub async fn insert_then_lookup_round_trips_properties(store: impl TableStore) {
    let stored = insert(&store, "a", json!({"text": "x", "n": 1.5, "tags": ["t"]})).await;
    assert_eq!(
        stored.properties,
        props(json!({"text": "x", "n": 1.5, "tags": ["t"]}))
    );
    assert_eq!(stored.created_at_us, stored.updated_at_us);
    assert!(!stored.deleted);
    let found = store.lookup(NOBODY, T, "a", false).await;
    assert_eq!(found.ok(), Some(stored));
}

pub async fn insert_without_id_makes_a_uuid(store: impl TableStore) {
    let item = ok(store
        .apply(NOBODY, write(Change::Insert(NewItem::default())))
        .await);
    assert!(uuid::Uuid::parse_str(&item.id).is_ok(), "{}", item.id);
}

pub async fn insert_of_an_existing_id_conflicts_with_the_stored_item(store: impl TableStore) {
    let stored = insert(&store, "a", json!({"v": 1})).await;
    let again = store
        .apply(
            NOBODY,
            write(Change::Insert(new_item("a", json!({"v": 2})))),
        )
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(item)) if *item == stored));
}

pub async fn tables_are_separate(store: impl TableStore) {
    insert(&store, "a", json!({})).await;
    let other = StoreWrite::new("other", Change::Insert(new_item("a", json!({}))));
    let other = store.apply(NOBODY, other).await;
    assert!(other.is_ok());
    assert!(matches!(
        store.lookup(NOBODY, "third", "a", true).await,
        Err(StoreError::NotFound(_))
    ));
}

pub async fn update_merges_and_restamps(store: impl TableStore) {
    let before = insert(&store, "a", json!({"text": "x", "n": 1})).await;
    let after = ok(store
        .apply(
            NOBODY,
            write(update("a", props(json!({"n": 2, "m": null})), None)),
        )
        .await);
    assert_eq!(
        after.properties,
        props(json!({"text": "x", "n": 2, "m": null}))
    );
    assert_eq!(after.created_at_us, before.created_at_us);
    assert!(after.updated_at_us > before.updated_at_us);
    assert_ne!(after.version, before.version);
}

pub async fn update_with_a_stale_version_fails_with_the_stored_item(store: impl TableStore) {
    let first = insert(&store, "a", json!({})).await;
    let current = ok(store
        .apply(NOBODY, write(update("a", props(json!({"n": 1})), None)))
        .await);
    let stale = store
        .apply(
            NOBODY,
            write(update("a", props(json!({"n": 2})), Some(first.version))),
        )
        .await;
    assert!(matches!(stale, Err(StoreError::PreconditionFailed(item)) if *item == current));
}

pub async fn update_with_the_current_version_succeeds(store: impl TableStore) {
    let first = insert(&store, "a", json!({})).await;
    let updated = store
        .apply(
            NOBODY,
            write(update("a", props(json!({"n": 2})), Some(first.version))),
        )
        .await;
    assert!(updated.is_ok());
}

pub async fn update_of_a_deleted_item_is_not_found(store: impl TableStore) {
    insert(&store, "a", json!({})).await;
    ok(store.apply(NOBODY, write(delete("a", None))).await);
    let update = store
        .apply(NOBODY, write(update("a", Map::new(), None)))
        .await;
    assert!(matches!(update, Err(StoreError::NotFound(_))));
}

pub async fn delete_marks_deleted_and_hides_the_item(store: impl TableStore) {
    let before = insert(&store, "a", json!({"text": "x"})).await;
    let deleted = ok(store.apply(NOBODY, write(delete("a", None))).await);
    assert!(deleted.deleted);
    assert_eq!(deleted.properties, before.properties);
    assert!(deleted.updated_at_us > before.updated_at_us);
    assert!(matches!(
        store.lookup(NOBODY, T, "a", false).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(store.lookup(NOBODY, T, "a", true).await.ok(), Some(deleted));
    let live = ItemQuery {
        limit: 10,
        ..ItemQuery::default()
    };
    assert!(ids(&store, live).await.is_empty());
}

pub async fn delete_twice_is_not_found(store: impl TableStore) {
    insert(&store, "a", json!({})).await;
    ok(store.apply(NOBODY, write(delete("a", None))).await);
    assert!(matches!(
        store.apply(NOBODY, write(delete("a", None))).await,
        Err(StoreError::NotFound(_))
    ));
}

pub async fn undelete_clears_the_flag_with_a_new_version(store: impl TableStore) {
    insert(&store, "a", json!({})).await;
    let deleted = ok(store.apply(NOBODY, write(delete("a", None))).await);
    let restored = ok(store.apply(NOBODY, write(undelete("a", None))).await);
    assert!(!restored.deleted);
    assert_ne!(restored.version, deleted.version);
    assert!(restored.updated_at_us > deleted.updated_at_us);
}

pub async fn updated_at_strictly_increases_across_writes(store: impl TableStore) {
    let mut last = 0;
    for i in 0..50 {
        let item = insert(&store, &format!("{i:02}"), json!({})).await;
        assert!(item.updated_at_us > last);
        last = item.updated_at_us;
        let item = ok(store
            .apply(NOBODY, write(update(&item.id, Map::new(), None)))
            .await);
        assert!(item.updated_at_us > last);
        last = item.updated_at_us;
    }
}

pub async fn query_pages_report_whether_more_rows_follow(store: impl TableStore) {
    for i in 0..5 {
        insert(&store, &format!("{i}"), json!({})).await;
    }
    let page = |skip| ItemQuery { skip, ..all(2) };
    let first = store.query(NOBODY, T, &page(0)).await.ok();
    assert_eq!(first.as_ref().map(|p| p.more), Some(true));
    let last = store.query(NOBODY, T, &page(4)).await.ok();
    assert_eq!(
        last.as_ref().map(|p| (p.items.len(), p.more)),
        Some((1, false))
    );
}

pub async fn query_counts_every_match_when_asked(store: impl TableStore) {
    for i in 0..5 {
        insert(&store, &format!("{i}"), json!({"n": i})).await;
    }
    let query = ItemQuery {
        filter: parse_filter("n ge 1").ok(),
        count_total: true,
        ..all(2)
    };
    let page = store.query(NOBODY, T, &query).await.ok();
    assert_eq!(page.and_then(|p| p.total), Some(4));
}

pub async fn query_orders_with_id_as_the_tie_breaker(store: impl TableStore) {
    for (id, rank) in [("c", 1), ("a", 2), ("b", 1)] {
        insert(&store, id, json!({"rank": rank})).await;
    }
    let query = ItemQuery {
        orderby: vec![OrderBy {
            expr: tidemark_protocol::Expr::Property("rank".into()),
            direction: Direction::Asc,
        }],
        ..all(10)
    };
    assert_eq!(ids(&store, query).await, vec!["b", "c", "a"]);
}

pub async fn query_filters_on_updated_at_exactly(store: impl TableStore) {
    let items = [
        insert(&store, "a", json!({})).await,
        insert(&store, "b", json!({})).await,
    ];
    let stamp = tidemark_protocol::date::from_micros(items[1].updated_at_us)
        .map(|d| tidemark_protocol::date::format_date(&d))
        .unwrap_or_default();
    let query = ItemQuery {
        filter: parse_filter(&format!("updatedAt ge datetimeoffset'{stamp}'")).ok(),
        ..all(10)
    };
    assert_eq!(ids(&store, query).await, vec!["b"]);
}

pub async fn a_tagged_write_is_applied_once_and_replayed(store: impl TableStore) {
    let tag = OperationTag::new("op", 1);
    let first = store
        .apply(
            NOBODY,
            write(Change::Insert(new_item("a", json!({"n": 1})))).tagged(tag.clone()),
        )
        .await;
    let retry = store
        .apply(
            NOBODY,
            write(Change::Insert(new_item("a", json!({"n": 1})))).tagged(tag),
        )
        .await;
    let (first, retry) = (first.ok(), retry.ok());
    assert_eq!(first.as_ref().map(|o| o.replayed), Some(false));
    assert_eq!(retry.as_ref().map(|o| o.replayed), Some(true));
    assert_eq!(first.map(|o| o.item), retry.map(|o| o.item));
}

pub async fn a_replayed_update_does_not_write_again(store: impl TableStore) {
    insert(&store, "a", json!({})).await;
    let tag = OperationTag::new("op", 1);
    let first = ok(store
        .apply(
            NOBODY,
            write(update("a", props(json!({"n": 1})), None)).tagged(tag.clone()),
        )
        .await);
    ok(store
        .apply(NOBODY, write(update("a", props(json!({"n": 2})), None)))
        .await);
    let replay = ok(store
        .apply(
            NOBODY,
            write(update("a", props(json!({"n": 1})), None)).tagged(tag),
        )
        .await);
    assert_eq!(replay, first);
    let current = store.lookup(NOBODY, T, "a", false).await.ok();
    assert_eq!(current.map(|i| i.properties), Some(props(json!({"n": 2}))));
}

pub async fn a_failed_tagged_write_is_not_recorded(store: impl TableStore) {
    let tag = OperationTag::new("op", 1);
    let missing = store
        .apply(NOBODY, write(delete("a", None)).tagged(tag.clone()))
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound(_))));
    insert(&store, "a", json!({})).await;
    let applied = store
        .apply(NOBODY, write(delete("a", None)).tagged(tag))
        .await;
    assert_eq!(
        applied.ok().map(|o| (o.replayed, o.item.deleted)),
        Some((false, true))
    );
}

pub async fn a_tag_reused_for_another_item_is_a_bad_request(store: impl TableStore) {
    insert(&store, "a", json!({})).await;
    insert(&store, "b", json!({})).await;
    let tag = OperationTag::new("op", 1);
    ok(store
        .apply(NOBODY, write(delete("a", None)).tagged(tag.clone()))
        .await);
    let reuse = store
        .apply(NOBODY, write(delete("b", None)).tagged(tag))
        .await;
    assert!(matches!(reuse, Err(StoreError::BadRequest(_))));
    assert!(store.lookup(NOBODY, T, "b", false).await.is_ok());
}

pub async fn an_untranslatable_query_is_invalid(store: impl TableStore) {
    let query = ItemQuery {
        filter: parse_filter("updatedAt gt 'not a date'").ok(),
        ..all(10)
    };
    assert!(matches!(
        store.query(NOBODY, T, &query).await,
        Err(StoreError::InvalidQuery(_))
    ));
}

pub async fn a_batch_applies_in_order_and_a_failed_write_rolls_back_alone(store: impl TableStore) {
    let stale = insert(&store, "b", json!({"n": 0})).await;
    ok(store
        .apply(NOBODY, write(update("b", props(json!({"n": 1})), None)))
        .await);
    let batch = vec![
        write(Change::Insert(new_item("a", json!({"n": 1})))),
        write(update("a", props(json!({"m": 2})), None)),
        write(update("b", props(json!({"n": 9})), Some(stale.version))),
        write(Change::Insert(new_item("a", json!({"n": 3})))),
        write(delete("a", None)),
        write(update("missing", Map::new(), None)),
    ];
    let results = match store.apply_batch(NOBODY, batch).await {
        Ok(r) => r,
        Err(e) => panic!("batch: {e}"),
    };
    assert_eq!(results.len(), 6);
    let a = results[1].as_ref().ok().map(|o| o.item.clone());
    assert_eq!(
        a.map(|i| i.properties),
        Some(props(json!({"n": 1, "m": 2})))
    );
    assert!(
        matches!(results[2], Err(StoreError::PreconditionFailed(ref i)) if i.properties == props(json!({"n": 1})))
    );
    assert!(matches!(results[3], Err(StoreError::Conflict(ref i)) if i.id == "a"));
    assert_eq!(results[4].as_ref().ok().map(|o| o.item.deleted), Some(true));
    assert!(matches!(results[5], Err(StoreError::NotFound(_))));
    let b = store.lookup(NOBODY, T, "b", false).await.ok();
    assert_eq!(
        b.map(|i| i.properties),
        Some(props(json!({"n": 1}))),
        "412 wrote nothing"
    );
    let stamps: Vec<i64> = [&results[0], &results[1], &results[4]]
        .iter()
        .filter_map(|r| r.as_ref().ok().map(|o| o.item.updated_at_us))
        .collect();
    assert!(stamps.windows(2).all(|w| w[0] < w[1]), "{stamps:?}");
    let after = insert(&store, "c", json!({})).await;
    assert!(
        after.updated_at_us > stamps[2],
        "later writes stamp after the batch"
    );
}

pub async fn a_retried_batch_replays_and_writes_nothing(store: impl TableStore) {
    let batch = || {
        vec![
            write(Change::Insert(NewItem {
                id: None,
                properties: props(json!({"n": 1})),
            }))
            .tagged(OperationTag::new("op1", 1)),
            write(update("x", Map::new(), None)).tagged(OperationTag::new("op2", 1)),
            write(Change::Insert(new_item("a", json!({"n": 2}))))
                .tagged(OperationTag::new("op3", 1)),
        ]
    };
    let first = store
        .apply_batch(NOBODY, batch())
        .await
        .ok()
        .unwrap_or_default();
    assert!(matches!(first[1], Err(StoreError::NotFound(_))));
    let retry = store
        .apply_batch(NOBODY, batch())
        .await
        .ok()
        .unwrap_or_default();
    assert_eq!(retry.len(), 3);
    for i in [0, 2] {
        let (a, b) = (first[i].as_ref().ok(), retry[i].as_ref().ok());
        assert_eq!(a.map(|o| o.replayed), Some(false));
        assert_eq!(b.map(|o| o.replayed), Some(true));
        assert_eq!(a.map(|o| &o.item), b.map(|o| &o.item));
    }
    assert!(
        matches!(retry[1], Err(StoreError::NotFound(_))),
        "a failure is not recorded"
    );
    assert_eq!(ids(&store, all(10)).await.len(), 2);
}

pub async fn an_empty_batch_answers_nothing(store: impl TableStore) {
    let results = store.apply_batch(NOBODY, Vec::new()).await;
    assert_eq!(results.ok().map(|r| r.len()), Some(0));
}
