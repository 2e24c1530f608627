//! The owner of a row is no column a client can read, filter on or set: `owner` in a filter,
//! a `$select` or an item is an ordinary property name, and ownership never follows it.

use serde_json::json;
use tidemark_testkit::server::Backend;

use super::{filter_path, user_id};
use crate::accounts_kit::{signed_up, start};
use crate::common::Api;
use crate::dump;

backend_tests!(#[tokio::test]; the_owner_is_no_column_a_client_can_read_filter_or_set);

async fn the_owner_is_no_column_a_client_can_read_filter_or_set(backend: Backend) {
    let server = start(backend).await;
    let api = Api::new(server.url());
    let (alice, _) = signed_up(&api, "alice").await;
    let (bob, _) = signed_up(&api, "bob").await;
    let alice_id = user_id(&alice).await;
    let bob_id = user_id(&bob).await;

    // Not read: an item carries its system properties and what its user sent, nothing more.
    let stored = alice.insert(json!({"id": "a1", "text": "mine"})).await;
    let mut keys: Vec<&str> = stored
        .as_object()
        .map(|m| m.keys().map(String::as_str).collect())
        .unwrap_or_default();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["createdAt", "deleted", "id", "text", "updatedAt", "version"]
    );
    for path in [
        "/tables/todoitem/a1",
        "/tables/todoitem?__includeDeleted=true",
        "/tables/todoitem?$inlinecount=allpages",
    ] {
        let body = alice.get(path).await.body.to_string();
        assert!(!body.contains(&alice_id), "{path} shows the owner: {body}");
        assert!(!body.to_lowercase().contains("owner"), "{path}: {body}");
    }
    let selected = alice.get("/tables/todoitem?$select=id,owner").await;
    assert_eq!(selected.body, json!([{"id": "a1"}]));

    // Not filtered on: `owner` names an item property like any unknown name, so it matches
    // nothing, for the owner herself as for anyone else.
    for who in [&alice, &bob] {
        for column in ["owner", "Owner", "no_such_property"] {
            let path = filter_path(&format!("{column} eq '{alice_id}'"));
            let reply = who.get(&path).await;
            assert_eq!(reply.status, 200, "{path}: {}", reply.body);
            assert_eq!(reply.body["count"], 0, "{path}: {}", reply.body);
        }
    }
    let ordered = bob.get("/tables/todoitem?$orderby=owner").await;
    assert_eq!((ordered.status, ordered.items().len()), (200, 0));

    // Not set: an `owner` sent by Bob is his own row's property and gives Alice nothing.
    let before = dump(&server).await;
    let spoof = bob
        .post(
            "/tables/todoitem",
            json!({"id": "b1", "text": "spoof", "owner": alice_id}),
        )
        .await;
    assert_eq!(spoof.status, 201, "{}", spoof.body);
    assert_eq!(spoof.body["owner"], json!(alice_id), "kept as Bob's data");
    let same_id = bob
        .post("/tables/todoitem", json!({"id": "a1", "owner": alice_id}))
        .await;
    assert_eq!(
        same_id.status, 201,
        "a fresh row of Bob's: {}",
        same_id.body
    );
    let patched = bob
        .patch(
            "/tables/todoitem/b1",
            json!({"owner": alice_id, "text": "again"}),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    let batch = bob
        .post(
            "/$batch",
            json!({"operations": [{"op": "insert", "table": "todoitem", "owner": alice_id,
                                   "item": {"id": "b2"}}]}),
        )
        .await;
    assert_eq!(
        batch.status, 400,
        "an owner in a batch operation: {}",
        batch.body
    );

    assert_eq!(alice.get("/tables/todoitem").await.ids(), ["a1"]);
    assert_eq!(alice.get("/tables/todoitem/a1").await.body, stored);
    assert_eq!(alice.get("/tables/todoitem/b1").await.status, 404);
    let mut bobs = bob.get("/tables/todoitem").await.ids();
    bobs.sort();
    assert_eq!(bobs, ["a1", "b1"]);
    // In the database, the new rows are Bob's and Alice's are as they were.
    let after = dump(&server).await;
    // Alice's rows: those naming her that are not Bob's (his may name her in their data).
    let alices = |dump: &[String]| -> Vec<String> {
        dump.iter()
            .filter(|l| l.starts_with("items") && l.contains(&alice_id) && !l.contains(&bob_id))
            .cloned()
            .collect()
    };
    assert_eq!(alices(&after), alices(&before));
    assert_eq!(alices(&before).len(), 1);
    let added: Vec<&String> = after
        .iter()
        .filter(|l| l.starts_with("items") && !before.contains(l))
        .collect();
    assert_eq!(added.len(), 2, "{added:?}");
    for line in added {
        assert!(line.contains(&bob_id), "a new row not Bob's: {line}");
    }
}
