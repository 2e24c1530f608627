//! Insert, lookup, update, delete and undelete, and the statuses of the protocol's tables.

use reqwest::Method;
use serde_json::{Value, json};
use tidemark_server::ServerConfig;
use tidemark_testkit::server::{Backend, TestServer};

use crate::common::Api;

async fn server(backend: Backend) -> (TestServer, Api) {
    let server = TestServer::start_open_on_backend(backend).await;
    let api = Api::new(server.url());
    (server, api)
}

fn is_protocol_date(value: &Value) -> bool {
    // 2024-05-01T12:34:56.123456Z
    value.as_str().is_some_and(|s| {
        s.len() == 27 && s.ends_with('Z') && s.as_bytes()[19] == b'.' && s.as_bytes()[10] == b'T'
    })
}

pub async fn insert_without_id_gets_a_uuid_and_every_system_property(backend: Backend) {
    let (_server, api) = server(backend).await;
    let reply = api.post("/tables/todoitem", json!({"text": "milk"})).await;
    assert_eq!(reply.status, 201);
    let item = &reply.body;
    assert_eq!(item["text"], "milk");
    assert!(uuid::Uuid::parse_str(reply.str("id")).is_ok(), "{item}");
    assert!(is_protocol_date(&item["createdAt"]), "{item}");
    assert_eq!(item["createdAt"], item["updatedAt"]);
    assert_eq!(item["deleted"], false);
    assert!(!reply.str("version").is_empty());
    assert_eq!(reply.etag, Some(format!("\"{}\"", reply.str("version"))));
}

pub async fn insert_keeps_a_client_made_id_and_nested_values(backend: Backend) {
    let (_server, api) = server(backend).await;
    let item = api
        .insert(json!({"id": "offline-1", "tags": ["a", "b"], "meta": {"n": 1}}))
        .await;
    assert_eq!(item["id"], "offline-1");
    assert_eq!(item["tags"], json!(["a", "b"]));
    assert_eq!(item["meta"], json!({"n": 1}));
}

pub async fn insert_of_an_existing_id_is_409_with_the_server_item(backend: Backend) {
    let (_server, api) = server(backend).await;
    let stored = api.insert(json!({"id": "a", "text": "server"})).await;
    let reply = api
        .post("/tables/todoitem", json!({"id": "a", "text": "client"}))
        .await;
    assert_eq!(reply.status, 409);
    assert_eq!(reply.body, stored);
    assert_eq!(
        reply.etag,
        Some(format!(
            "\"{}\"",
            stored["version"].as_str().unwrap_or_default()
        ))
    );
}

pub async fn insert_of_a_soft_deleted_id_is_409_with_the_deleted_item(backend: Backend) {
    let (_server, api) = server(backend).await;
    api.insert(json!({"id": "a"})).await;
    let deleted = api.delete("/tables/todoitem/a").await.body;
    let reply = api.post("/tables/todoitem", json!({"id": "a"})).await;
    assert_eq!(reply.status, 409);
    assert_eq!(reply.body, deleted);
    assert_eq!(reply.body["deleted"], true);
}

pub async fn insert_ignores_a_version_in_the_body(backend: Backend) {
    let (_server, api) = server(backend).await;
    let item = api.insert(json!({"id": "a", "version": "made-up"})).await;
    assert_ne!(item["version"], "made-up");
}

pub async fn lookup_returns_the_item_with_its_etag(backend: Backend) {
    let (_server, api) = server(backend).await;
    let stored = api.insert(json!({"id": "a", "text": "x"})).await;
    let reply = api.get("/tables/todoitem/a").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, stored);
    assert_eq!(reply.etag, Some(format!("\"{}\"", reply.str("version"))));
}

pub async fn lookup_of_a_missing_item_is_404(backend: Backend) {
    let (_server, api) = server(backend).await;
    let reply = api.get("/tables/todoitem/nope").await;
    assert_eq!(reply.status, 404);
    assert!(reply.error().contains("nope"));
}

pub async fn lookup_of_a_soft_deleted_item_is_404_unless_deleted_items_are_asked_for(
    backend: Backend,
) {
    let (_server, api) = server(backend).await;
    api.insert(json!({"id": "a"})).await;
    api.delete("/tables/todoitem/a").await;
    assert_eq!(api.get("/tables/todoitem/a").await.status, 404);
    let reply = api.get("/tables/todoitem/a?__includeDeleted=true").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["deleted"], true);
}

pub async fn update_merges_properties_and_moves_version_and_updated_at(backend: Backend) {
    let (_server, api) = server(backend).await;
    let before = api
        .insert(json!({"id": "a", "text": "x", "done": false}))
        .await;
    let reply = api.patch("/tables/todoitem/a", json!({"done": true})).await;
    assert_eq!(reply.status, 200);
    let after = &reply.body;
    assert_eq!(after["text"], "x");
    assert_eq!(after["done"], true);
    assert_eq!(after["createdAt"], before["createdAt"]);
    assert_ne!(after["version"], before["version"]);
    assert!(after["updatedAt"].as_str() > before["updatedAt"].as_str());
    assert_eq!(reply.etag, Some(format!("\"{}\"", reply.str("version"))));
}

pub async fn update_with_the_current_version_in_if_match_succeeds(backend: Backend) {
    let (_server, api) = server(backend).await;
    let item = api.insert(json!({"id": "a"})).await;
    let reply = api
        .req(Method::PATCH, "/tables/todoitem/a")
        .if_match(item["version"].as_str().unwrap_or_default())
        .json(&json!({"text": "y"}))
        .send()
        .await;
    assert_eq!(reply.status, 200);
}

pub async fn update_with_a_stale_if_match_is_412_with_the_server_item_and_its_etag(
    backend: Backend,
) {
    let (_server, api) = server(backend).await;
    let first = api.insert(json!({"id": "a", "text": "x"})).await;
    let current = api
        .patch("/tables/todoitem/a", json!({"text": "y"}))
        .await
        .body;
    let reply = api
        .req(Method::PATCH, "/tables/todoitem/a")
        .if_match(first["version"].as_str().unwrap_or_default())
        .json(&json!({"text": "z"}))
        .send()
        .await;
    assert_eq!(reply.status, 412);
    assert_eq!(reply.body, current);
    assert_eq!(reply.etag, Some(format!("\"{}\"", reply.str("version"))));
}

pub async fn update_with_if_match_star_skips_the_check(backend: Backend) {
    let (_server, api) = server(backend).await;
    api.insert(json!({"id": "a"})).await;
    let reply = api
        .req(Method::PATCH, "/tables/todoitem/a")
        .header("If-Match", "*")
        .json(&json!({"text": "y"}))
        .send()
        .await;
    assert_eq!(reply.status, 200);
}

pub async fn update_ignores_version_in_the_body_in_favour_of_if_match(backend: Backend) {
    let (_server, api) = server(backend).await;
    let item = api.insert(json!({"id": "a"})).await;
    let reply = api
        .patch(
            "/tables/todoitem/a",
            json!({"version": "stale", "text": "y"}),
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_ne!(reply.body["version"], item["version"]);
    assert_ne!(reply.body["version"], "stale");
}

pub async fn update_of_a_missing_or_soft_deleted_item_is_404(backend: Backend) {
    let (_server, api) = server(backend).await;
    assert_eq!(
        api.patch("/tables/todoitem/nope", json!({"a": 1}))
            .await
            .status,
        404
    );
    api.insert(json!({"id": "a"})).await;
    api.delete("/tables/todoitem/a").await;
    assert_eq!(
        api.patch("/tables/todoitem/a", json!({"a": 1}))
            .await
            .status,
        404
    );
}

pub async fn delete_is_soft_and_answers_the_deleted_item(backend: Backend) {
    let (_server, api) = server(backend).await;
    let item = api.insert(json!({"id": "a", "text": "x"})).await;
    let reply = api.delete("/tables/todoitem/a").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["deleted"], true);
    assert_eq!(reply.body["text"], "x");
    assert_ne!(reply.body["version"], item["version"]);
    assert!(reply.body["updatedAt"].as_str() > item["updatedAt"].as_str());
    assert!(api.get("/tables/todoitem").await.items().is_empty());
}

pub async fn delete_of_an_already_deleted_item_is_404(backend: Backend) {
    let (_server, api) = server(backend).await;
    api.insert(json!({"id": "a"})).await;
    api.delete("/tables/todoitem/a").await;
    assert_eq!(api.delete("/tables/todoitem/a").await.status, 404);
}

pub async fn delete_with_a_stale_if_match_is_412_and_deletes_nothing(backend: Backend) {
    let (_server, api) = server(backend).await;
    let first = api.insert(json!({"id": "a"})).await;
    api.patch("/tables/todoitem/a", json!({"text": "y"})).await;
    let reply = api
        .req(Method::DELETE, "/tables/todoitem/a")
        .if_match(first["version"].as_str().unwrap_or_default())
        .send()
        .await;
    assert_eq!(reply.status, 412);
    assert_eq!(reply.body["deleted"], false);
    assert_eq!(api.get("/tables/todoitem/a").await.status, 200);
}

pub async fn undelete_restores_the_item_with_a_new_version(backend: Backend) {
    let (_server, api) = server(backend).await;
    api.insert(json!({"id": "a", "text": "x"})).await;
    let deleted = api.delete("/tables/todoitem/a").await.body;
    let reply = api.req(Method::POST, "/tables/todoitem/a").send().await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["deleted"], false);
    assert_eq!(reply.body["text"], "x");
    assert_ne!(reply.body["version"], deleted["version"]);
    assert_eq!(api.get("/tables/todoitem/a").await.status, 200);
}

pub async fn undelete_with_a_stale_if_match_is_412(backend: Backend) {
    let (_server, api) = server(backend).await;
    let item = api.insert(json!({"id": "a"})).await;
    api.delete("/tables/todoitem/a").await;
    let reply = api
        .req(Method::POST, "/tables/todoitem/a")
        .if_match(item["version"].as_str().unwrap_or_default())
        .send()
        .await;
    assert_eq!(reply.status, 412);
    assert_eq!(reply.body["deleted"], true);
}

pub async fn undelete_of_a_missing_item_is_404(backend: Backend) {
    let (_server, api) = server(backend).await;
    let reply = api.req(Method::POST, "/tables/todoitem/nope").send().await;
    assert_eq!(reply.status, 404);
}

pub async fn an_unknown_table_is_404(backend: Backend) {
    let (_server, api) = server(backend).await;
    let reply = api.get("/tables/todoitems").await;
    assert_eq!(reply.status, 404);
    assert!(reply.error().contains("todoitem"), "{}", reply.error());
}

pub async fn table_names_match_case_insensitively(backend: Backend) {
    let (_server, api) = server(backend).await;
    api.insert(json!({"id": "a"})).await;
    assert_eq!(api.get("/tables/TodoItem/a").await.status, 200);
}

pub async fn only_declared_tables_are_served_and_they_are_separate(backend: Backend) {
    let server = TestServer::start_with_backend(
        backend,
        ServerConfig {
            tables: vec!["todoitem".into(), "notes".into()],
            ..ServerConfig::open()
        },
    )
    .await;
    let api = Api::new(server.url());
    api.insert(json!({"id": "a", "text": "todo"})).await;
    let note = api
        .post("/tables/notes", json!({"id": "a", "text": "note"}))
        .await;
    assert_eq!(note.status, 201, "same id in another table is no conflict");
    assert_eq!(api.get("/tables/notes/a").await.body["text"], "note");
    assert_eq!(api.get("/tables/todoitem/a").await.body["text"], "todo");
}

pub async fn the_api_version_may_come_as_a_query_parameter(backend: Backend) {
    let (_server, api) = server(backend).await;
    let reply = api
        .req(Method::GET, "/tables/todoitem?ZUMO-API-VERSION=2.0.0")
        .without_version()
        .send()
        .await;
    assert_eq!(reply.status, 200);
}

pub async fn a_configured_app_key_is_required_and_checked(backend: Backend) {
    let server = TestServer::start_with_backend(
        backend,
        ServerConfig {
            app_key: Some("sesame".into()),
            ..ServerConfig::open()
        },
    )
    .await;
    let anonymous = Api::new(server.url());
    let missing = anonymous.get("/tables/todoitem").await;
    assert_eq!(missing.status, 401);
    assert!(missing.error().contains("X-ZUMO-APPLICATION"));
    let wrong = Api::new(server.url())
        .with_app_key("guess")
        .get("/tables/todoitem")
        .await;
    assert_eq!(wrong.status, 401);
    let right = Api::new(server.url())
        .with_app_key("sesame")
        .get("/tables/todoitem")
        .await;
    assert_eq!(right.status, 200);
}

pub async fn capabilities_advertise_idempotent_writes_batch_and_max_top(backend: Backend) {
    let (_server, api) = server(backend).await;
    let reply = api.get("/$capabilities").await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.body,
        json!({"idempotentWrites": true, "batch": true, "maxBatchOperations": 1000, "maxTop": 10000, "changesFeed": false, "authRequired": false, "signup": false, "checksum": true})
    );
}

pub async fn capabilities_need_the_api_version_like_everything_else(backend: Backend) {
    let (_server, api) = server(backend).await;
    let reply = api
        .req(Method::GET, "/$capabilities")
        .without_version()
        .send()
        .await;
    assert_eq!(reply.status, 400);
}

pub async fn unknown_routes_and_methods_answer_with_error_bodies(backend: Backend) {
    let (_server, api) = server(backend).await;
    let route = api.get("/nothing/here").await;
    assert_eq!(route.status, 404);
    assert!(!route.error().is_empty());
    let method = api.req(Method::PUT, "/tables/todoitem").send().await;
    assert_eq!(method.status, 405);
    assert!(!method.error().is_empty());
}

pub async fn updated_at_has_six_fractional_digits(backend: Backend) {
    let (_server, api) = server(backend).await;
    let item = api.insert(json!({})).await;
    assert!(is_protocol_date(&item["updatedAt"]), "{item}");
}

pub async fn a_restarted_server_keeps_its_data_and_address(backend: Backend) {
    let mut server = TestServer::start_open_on_backend(backend).await;
    let url = server.url().to_owned();
    let stored = Api::new(&url).insert(json!({"id": "a"})).await;
    server.restart().await;
    assert_eq!(server.url(), url);
    assert_eq!(Api::new(&url).get("/tables/todoitem/a").await.body, stored);
}

backend_tests!(#[tokio::test];
    insert_without_id_gets_a_uuid_and_every_system_property,
    insert_keeps_a_client_made_id_and_nested_values,
    insert_of_an_existing_id_is_409_with_the_server_item,
    insert_of_a_soft_deleted_id_is_409_with_the_deleted_item,
    insert_ignores_a_version_in_the_body,
    lookup_returns_the_item_with_its_etag,
    lookup_of_a_missing_item_is_404,
    lookup_of_a_soft_deleted_item_is_404_unless_deleted_items_are_asked_for,
    update_merges_properties_and_moves_version_and_updated_at,
    update_with_the_current_version_in_if_match_succeeds,
    update_with_a_stale_if_match_is_412_with_the_server_item_and_its_etag,
    update_with_if_match_star_skips_the_check,
    update_ignores_version_in_the_body_in_favour_of_if_match,
    update_of_a_missing_or_soft_deleted_item_is_404,
    delete_is_soft_and_answers_the_deleted_item,
    delete_of_an_already_deleted_item_is_404,
    delete_with_a_stale_if_match_is_412_and_deletes_nothing,
    undelete_restores_the_item_with_a_new_version,
    undelete_with_a_stale_if_match_is_412,
    undelete_of_a_missing_item_is_404,
    an_unknown_table_is_404,
    table_names_match_case_insensitively,
    only_declared_tables_are_served_and_they_are_separate,
    the_api_version_may_come_as_a_query_parameter,
    a_configured_app_key_is_required_and_checked,
    capabilities_advertise_idempotent_writes_batch_and_max_top,
    capabilities_need_the_api_version_like_everything_else,
    unknown_routes_and_methods_answer_with_error_bodies,
    updated_at_has_six_fractional_digits,
    a_restarted_server_keeps_its_data_and_address,
);
