//! `GET /$checksum/{table}` over HTTP: advertised in `/$capabilities`, per signed-in user like
//! every table read (another user's rows never count, no token is 401), `until` bounds it by
//! the change clock, and bad input is a clear 400. Equality across the two stores for the same
//! rows is in `tests/store/checksum.rs` (versions are random, so it needs rows fixed by SQL).

use reqwest::Method;
use serde_json::json;
use tidemark_protocol::checksum::TableChecksum;
use tidemark_testkit::server::Backend;

use crate::accounts_kit::{signed_up, start};
use crate::common::{Api, encode};

backend_tests!(#[tokio::test]; the_checksum_counts_only_the_callers_live_rows_up_to_until);

async fn checksum(api: &Api, query: &str) -> TableChecksum {
    let reply = api.get(&format!("/$checksum/todoitem{query}")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    match serde_json::from_value(reply.body.clone()) {
        Ok(sum) => sum,
        Err(e) => panic!("{}: {e}", reply.body),
    }
}

async fn the_checksum_counts_only_the_callers_live_rows_up_to_until(backend: Backend) {
    let server = start(backend).await;
    let api = Api::new(server.url());
    assert_eq!(
        api.get("/$capabilities").await.body["checksum"],
        json!(true)
    );
    let (alice, _) = signed_up(&api, "alice").await;
    let (bob, _) = signed_up(&api, "bob").await;

    let mut rows = Vec::new();
    for id in ["a1", "a2", "a3"] {
        rows.push(alice.insert(json!({"id": id, "text": id})).await);
    }
    assert_eq!(alice.delete("/tables/todoitem/a2").await.status, 200);
    // Bob's row with one of Alice's ids, written last: it never counts for Alice.
    bob.insert(json!({"id": "a1", "text": "bob's"})).await;

    let mut live = TableChecksum::default();
    for row in [&rows[0], &rows[2]] {
        live.add(
            row["id"].as_str().unwrap_or(""),
            row["version"].as_str().unwrap_or(""),
        );
    }
    assert_eq!(checksum(&alice, "").await, live);
    let first_stamp = rows[0]["updatedAt"].as_str().unwrap_or("");
    let mut first = TableChecksum::default();
    first.add("a1", rows[0]["version"].as_str().unwrap_or(""));
    assert_eq!(
        checksum(&alice, &format!("?until={}", encode(first_stamp))).await,
        first
    );
    assert_eq!(checksum(&bob, "").await.count, 1);

    let anonymous = api.get("/$checksum/todoitem").await;
    assert_eq!(anonymous.status, 401, "{}", anonymous.body);
    for (query, says) in [
        ("?until=yesterday", "not a date"),
        ("?since=2020-01-01T00:00:00Z", "unknown parameter 'since'"),
    ] {
        let reply = alice
            .req(Method::GET, &format!("/$checksum/todoitem{query}"))
            .send()
            .await;
        assert_eq!(reply.status, 400, "{query}: {}", reply.body);
        assert!(reply.error().contains(says), "{query}: {}", reply.body);
    }
    assert_eq!(alice.get("/$checksum/nosuchtable").await.status, 404);
}
