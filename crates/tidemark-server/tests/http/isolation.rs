//! Per-user data (issue 15): user B tries each of user A's rows through every route and sees
//! and changes nothing, every answer being the one for an id that does not exist (never a
//! 409 or 412); and ([`owner_column`]) the owner is no column a client can read, filter on or
//! set.

use std::cell::RefCell;

use reqwest::Method;
use serde_json::{Value, json};
use tidemark_testkit::server::{Backend, TestServer};

use crate::accounts_kit::{me, signed_up, start};
use crate::common::{Api, Reply, Req, encode};
use crate::dump;

/// In every text of Alice's, so any of them in another user's answer is seen.
const SECRET: &str = "ALICE-SECRET";
/// A value of Alice's that no one else ever sends.
const ALICE_DUE: &str = "2030-01-02T03:04:05.000Z";
/// The idempotency tag of one of Alice's writes; the others send it too.
const ALICE_TAG: &str = "alice-op:1";

/// Alice's ids, each paired with an id no one ever uses: another user's answers for the two
/// must be the same.
const PAIRS: [(&str, &str); 3] = [
    ("a-open", "n-open"),
    ("a-done", "n-done"),
    ("a-gone", "n-gone"),
];

/// A user who must see nothing of Alice's: every answer it gets is kept for the leak check.
struct Attacker {
    api: Api,
    seen: RefCell<Vec<(String, Reply)>>,
}

impl Attacker {
    fn new(api: Api) -> Self {
        Self {
            api,
            seen: RefCell::new(Vec::new()),
        }
    }

    /// Sends `req` and keeps its answer under `what`.
    async fn send(&self, what: &str, req: Req<'_>) -> Reply {
        let reply = req.send().await;
        self.seen
            .borrow_mut()
            .push((what.to_owned(), reply.clone()));
        reply
    }

    async fn get(&self, path: &str) -> Reply {
        self.send(&format!("GET {path}"), self.api.req(Method::GET, path))
            .await
    }

    /// `GET path` answering 200; its items.
    async fn items(&self, path: &str) -> Vec<Value> {
        let reply = self.get(path).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.body);
        reply.items()
    }

    /// A `/$batch` answering 200; its results.
    async fn batch(&self, operations: Value) -> Vec<Value> {
        let req = self
            .api
            .req(Method::POST, "/$batch")
            .json(&json!({ "operations": operations }));
        let reply = self.send("POST /$batch", req).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.body["results"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// An incremental pull (`updatedAt ge since`, ordered by updatedAt, deleted rows too),
    /// every page followed; its items.
    async fn pull(&self, since: &str) -> Vec<Value> {
        let filter = encode(&format!("updatedAt ge datetimeoffset'{since}'"));
        let path =
            format!("/tables/todoitem?$filter={filter}&$orderby=updatedAt&__includeDeleted=true");
        let items = self.api.get_all_pages(&path).await;
        let page = Reply {
            status: 200,
            body: Value::Array(items.clone()),
            etag: None,
            link: None,
            retry_after: None,
            www_authenticate: None,
        };
        self.seen.borrow_mut().push((format!("pull {path}"), page));
        items
    }
}

fn ids(items: &[Value]) -> Vec<&str> {
    items.iter().filter_map(|i| i["id"].as_str()).collect()
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_default()
}

/// A reply's status and body with `id` written as `<id>`: what must not differ between
/// another user's id and one that does not exist.
fn shape(status: u16, body: &Value, id: &str) -> (u16, String) {
    (status, body.to_string().replace(id, "<id>"))
}

/// An inserted item without what differs from one insert to the next (id, version, stamps).
fn without_system(item: &Value) -> Value {
    let mut item = item.clone();
    if let Some(map) = item.as_object_mut() {
        for key in ["id", "version", "createdAt", "updatedAt"] {
            map.remove(key);
        }
    }
    item
}

/// Filters on every column of `row` (one of Alice's) that find it for her.
fn filters_on(row: &Value) -> Vec<String> {
    let id = text(&row["id"]);
    let (created, updated) = (text(&row["createdAt"]), text(&row["updatedAt"]));
    let mut filters = vec![
        format!("id eq '{id}'"),
        format!("text eq '{}'", text(&row["text"])),
        format!("complete eq {}", row["complete"]),
        format!("priority eq {}", row["priority"]),
        format!("version eq '{}'", text(&row["version"])),
        format!("createdAt eq datetimeoffset'{created}'"),
        format!("updatedAt eq datetimeoffset'{updated}'"),
        format!("updatedAt ge datetimeoffset'{updated}'"),
        format!("id eq '{id}' and deleted eq {}", row["deleted"]),
        format!("startswith(text, '{SECRET}')"),
        format!("substringof('{id}', id)"),
    ];
    if row["deleted"] == true {
        filters.push("deleted eq true".into());
    }
    if row.get("due").is_some() {
        filters.push(format!("due eq datetimeoffset'{ALICE_DUE}'"));
    }
    filters
}

fn filter_path(filter: &str) -> String {
    format!(
        "/tables/todoitem?__includeDeleted=true&$inlinecount=allpages&$filter={}",
        encode(filter)
    )
}

/// What every single route answers `user` for `id`, a version being sent as If-Match where
/// the route takes one: get, update, delete and undelete.
async fn single_route_answers(
    user: &Attacker,
    id: &str,
    version: &str,
) -> Vec<(&'static str, u16, String)> {
    let item = format!("/tables/todoitem/{id}");
    let patch = json!({"text": "bob was here", "complete": true});
    let api = &user.api;
    let cases: Vec<(&'static str, Req<'_>)> = vec![
        ("get", api.req(Method::GET, &item)),
        (
            "get with deleted",
            api.req(Method::GET, &format!("{item}?__includeDeleted=true")),
        ),
        ("patch", api.req(Method::PATCH, &item).json(&patch)),
        (
            "patch if-match",
            api.req(Method::PATCH, &item).if_match(version).json(&patch),
        ),
        (
            "patch if-match *",
            api.req(Method::PATCH, &item)
                .header("If-Match", "*")
                .json(&patch),
        ),
        ("delete", api.req(Method::DELETE, &item)),
        (
            "delete if-match",
            api.req(Method::DELETE, &item).if_match(version),
        ),
        ("undelete", api.req(Method::POST, &item)),
        (
            "undelete if-match",
            api.req(Method::POST, &item).if_match(version),
        ),
    ];
    let mut answers = Vec::new();
    for (what, req) in cases {
        let reply = user.send(&format!("{what} {id}"), req).await;
        let (status, body) = shape(reply.status, &reply.body, id);
        answers.push((what, status, body));
    }
    answers
}

/// The batch operations that name an existing item, for `id`: update and delete, with and
/// without the version.
fn batch_writes(id: &str, version: &str) -> Vec<Value> {
    let item = json!({"text": "bob was here"});
    vec![
        json!({"op": "update", "table": "todoitem", "id": id, "item": item}),
        json!({"op": "update", "table": "todoitem", "id": id, "item": item, "version": version}),
        json!({"op": "delete", "table": "todoitem", "id": id, "version": version}),
        json!({"op": "delete", "table": "todoitem", "id": id}),
    ]
}

/// Everything of the database that names `user_id`.
async fn rows_naming(server: &TestServer, user_id: &str) -> Vec<String> {
    let lines: Vec<String> = dump(server)
        .await
        .into_iter()
        .filter(|line| line.contains(user_id))
        .collect();
    assert!(!lines.is_empty(), "nothing in the database names {user_id}");
    lines
}

/// Alice's rows as she reads them: the list with deleted rows, and each row by id.
async fn alices_view(alice: &Api) -> Vec<Value> {
    let list = alice
        .get("/tables/todoitem?__includeDeleted=true&$orderby=id")
        .await;
    assert_eq!(list.status, 200, "{}", list.body);
    let mut view = vec![list.body];
    for (id, _) in PAIRS {
        let reply = alice
            .get(&format!("/tables/todoitem/{id}?__includeDeleted=true"))
            .await;
        assert_eq!(reply.status, 200, "{id}: {}", reply.body);
        view.push(reply.body);
    }
    view
}

async fn user_id(api: &Api) -> String {
    let who = me(api).await;
    assert_eq!(who.status, 200, "{}", who.body);
    text(&who.body["userId"]).to_owned()
}

mod owner_column;

backend_tests!(#[tokio::test]; another_users_rows_answer_every_route_as_ids_that_do_not_exist);

async fn another_users_rows_answer_every_route_as_ids_that_do_not_exist(backend: Backend) {
    let server = start(backend).await;
    let api = Api::new(server.url());
    let (alice, _) = signed_up(&api, "alice").await;
    let (bob_api, _) = signed_up(&api, "bob").await;
    let (carol_api, _) = signed_up(&api, "carol").await;
    let alice_id = user_id(&alice).await;
    let (bob, carol) = (Attacker::new(bob_api), Attacker::new(carol_api));
    // Bob's own row comes first, so filters on Alice's later stamps cannot match it.
    let own = bob
        .api
        .insert(json!({"id": "b-own", "text": "bob's"}))
        .await;

    let tagged = alice
        .req(Method::POST, "/tables/todoitem")
        .operation(ALICE_TAG)
        .json(
            &json!({"id": "a-open", "text": format!("{SECRET} open"), "complete": false,
                      "priority": 3, "tags": [format!("{SECRET} tag")],
                      "meta": {"note": format!("{SECRET} note")}}),
        )
        .send()
        .await;
    assert_eq!(tagged.status, 201, "{}", tagged.body);
    alice
        .insert(
            json!({"id": "a-done", "text": format!("{SECRET} done"), "complete": false,
                       "priority": 7, "due": ALICE_DUE}),
        )
        .await;
    let done = alice
        .patch("/tables/todoitem/a-done", json!({"complete": true}))
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    alice
        .insert(
            json!({"id": "a-gone", "text": format!("{SECRET} gone"), "complete": false,
                       "priority": 1}),
        )
        .await;
    assert_eq!(alice.delete("/tables/todoitem/a-gone").await.status, 200);
    let rows = alice
        .get("/tables/todoitem?__includeDeleted=true&$orderby=id")
        .await
        .items();
    assert_eq!(ids(&rows), ["a-done", "a-gone", "a-open"]);
    let row = |id: &str| match rows.iter().find(|r| r["id"] == id) {
        Some(row) => row.clone(),
        None => panic!("Alice has no {id}"),
    };
    let first_stamp = text(&row("a-open")["updatedAt"]).to_owned();

    // Controls: each filter and the pull find Alice's row for her, so finding nothing for
    // another user means something.
    for alices in &rows {
        for filter in filters_on(alices) {
            let reply = alice.get(&filter_path(&filter)).await;
            assert_eq!(reply.status, 200, "{filter}: {}", reply.body);
            assert!(
                reply.ids().contains(&text(&alices["id"]).to_owned()),
                "{filter}"
            );
            assert!(reply.body["count"].as_u64() >= Some(1), "{filter}");
        }
    }
    let alices_pull = alice
        .get_all_pages(&format!(
            "/tables/todoitem?$filter={}&$orderby=updatedAt&__includeDeleted=true",
            encode(&format!("updatedAt ge datetimeoffset'{first_stamp}'"))
        ))
        .await;
    assert_eq!(ids(&alices_pull), ["a-open", "a-done", "a-gone"]);

    let stored_before = rows_naming(&server, &alice_id).await;
    let view_before = alices_view(&alice).await;

    // Reads: lists, counts, filters on every column, incremental pulls.
    for path in [
        "/tables/todoitem",
        "/tables/todoitem?__includeDeleted=true",
        "/tables/todoitem?__includeDeleted=true&$orderby=text&$select=id,text",
    ] {
        assert_eq!(ids(&bob.items(path).await), ["b-own"], "{path}");
    }
    let counted = bob
        .get("/tables/todoitem?__includeDeleted=true&$inlinecount=allpages")
        .await;
    assert_eq!(
        (counted.ids(), &counted.body["count"]),
        (vec!["b-own".to_owned()], &json!(1))
    );
    for alices in &rows {
        for filter in filters_on(alices) {
            let reply = bob.get(&filter_path(&filter)).await;
            assert_eq!(reply.status, 200, "{filter}: {}", reply.body);
            assert_eq!(reply.body["count"], 0, "{filter}: {}", reply.body);
            assert!(reply.items().is_empty(), "{filter}: {}", reply.body);
        }
    }
    assert_eq!(
        ids(&bob.pull("1970-01-01T00:00:00.000000Z").await),
        ["b-own"]
    );
    assert!(bob.pull(&first_stamp).await.is_empty());

    // Writes of single requests: get, update, delete, undelete, with and without Alice's
    // version in If-Match; all as for an id that does not exist.
    for (id, never) in PAIRS {
        let version = text(&row(id)["version"]).to_owned();
        let answers = single_route_answers(&bob, id, &version).await;
        for (what, status, body) in &answers {
            assert_eq!(*status, 404, "{what} {id}: {body}");
        }
        assert_eq!(answers, single_route_answers(&bob, never, &version).await);
    }

    // The same through /$batch (it carries inserts, updates and deletes; no reads).
    let mut operations = Vec::new();
    for (id, never) in PAIRS {
        let version = text(&row(id)["version"]).to_owned();
        operations.extend(batch_writes(id, &version));
        operations.extend(batch_writes(never, &version));
    }
    let results = bob.batch(Value::Array(operations)).await;
    assert_eq!(results.len(), PAIRS.len() * 8);
    for ((id, never), results) in PAIRS.iter().zip(results.chunks(8)) {
        for (i, result) in results[..4].iter().enumerate() {
            assert_eq!(result["status"], 404, "{id} #{i}: {result}");
            let status = result["status"].as_u64().unwrap_or_default() as u16;
            let other = &results[i + 4];
            let other_status = other["status"].as_u64().unwrap_or_default() as u16;
            assert_eq!(shape(status, result, id), shape(other_status, other, never));
        }
    }

    // Inserts with Alice's ids are fresh rows of the inserter's (Bob by single requests,
    // Carol by a batch), exactly like inserts of unused ids; Alice's tag is no replay.
    for (id, never) in PAIRS {
        let mine = json!({"id": id, "text": "bob's own"});
        let reply = bob
            .send(
                &format!("insert {id}"),
                bob.api.req(Method::POST, "/tables/todoitem").json(&mine),
            )
            .await;
        let unused = json!({"id": never, "text": "bob's own"});
        let control = bob
            .send(
                &format!("insert {never}"),
                bob.api.req(Method::POST, "/tables/todoitem").json(&unused),
            )
            .await;
        assert_eq!((reply.status, control.status), (201, 201), "{}", reply.body);
        assert_eq!(reply.body["id"], id);
        assert_eq!(without_system(&reply.body), without_system(&control.body));
        assert_eq!(
            without_system(&reply.body),
            json!({"text": "bob's own", "deleted": false})
        );
    }
    let req = bob
        .api
        .req(Method::POST, "/tables/todoitem")
        .operation(ALICE_TAG)
        .json(&json!({"id": "b-tagged", "text": "bob's tagged"}));
    let reply = bob.send("insert with Alice's tag", req).await;
    assert_eq!(
        (reply.status, &reply.body["id"]),
        (201, &json!("b-tagged")),
        "{}",
        reply.body
    );
    let mut inserts: Vec<Value> = PAIRS
        .iter()
        .flat_map(|(id, never)| [id, never])
        .map(|id| json!({"op": "insert", "table": "todoitem", "item": {"id": id, "text": "carol's"}}))
        .collect();
    inserts.push(
        json!({"op": "insert", "table": "todoitem", "operation": ALICE_TAG,
                        "item": {"id": "c-tagged", "text": "carol's"}}),
    );
    let results = carol.batch(Value::Array(inserts)).await;
    assert_eq!(results.len(), PAIRS.len() * 2 + 1);
    for pair in results[..PAIRS.len() * 2].chunks(2) {
        assert_eq!(
            (&pair[0]["status"], &pair[1]["status"]),
            (&json!(201), &json!(201))
        );
        assert_eq!(
            without_system(&pair[0]["item"]),
            without_system(&pair[1]["item"])
        );
        assert_eq!(pair[0]["item"]["text"], "carol's");
    }
    assert_eq!(
        (&results[6]["status"], &results[6]["item"]["id"]),
        (&json!(201), &json!("c-tagged"))
    );

    // Alice's rows are exactly as they were, stored and as she reads them.
    assert_eq!(rows_naming(&server, &alice_id).await, stored_before);
    assert_eq!(alices_view(&alice).await, view_before);
    // The others hold their own rows under the same ids.
    assert_eq!(
        bob.api.get("/tables/todoitem/a-open").await.body["text"],
        "bob's own"
    );
    assert_eq!(
        carol.api.get("/tables/todoitem/a-gone").await.body["text"],
        "carol's"
    );
    assert_eq!(bob.api.get("/tables/todoitem/b-own").await.body, own);

    // Not one value of Alice's reached them, in any answer.
    let mut marks = vec![SECRET.to_owned(), ALICE_DUE.to_owned(), alice_id.clone()];
    for alices in &rows {
        for key in ["version", "createdAt", "updatedAt"] {
            marks.push(text(&alices[key]).to_owned());
        }
    }
    let seen: Vec<(String, Reply)> = [bob.seen.take(), carol.seen.take()].concat();
    assert!(seen.len() > 50, "only {} answers", seen.len());
    for (what, reply) in &seen {
        let body = reply.body.to_string();
        for mark in &marks {
            assert!(!body.contains(mark.as_str()), "{what} shows {mark}: {body}");
        }
        assert!(
            ![409, 412].contains(&reply.status),
            "{what}: {}",
            reply.status
        );
    }
}
