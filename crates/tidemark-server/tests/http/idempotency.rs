//! Idempotent writes (guarantee 2): a write tagged `X-Tidemark-Operation` applies at most once,
//! and its retry gets the original outcome.

use reqwest::Method;
use serde_json::json;
use tidemark_testkit::server::{Backend, TestServer};

use crate::common::Api;
use crate::dump;

async fn server(backend: Backend) -> (TestServer, Api) {
    let server = TestServer::start_with_backend(
        backend,
        tidemark_server::ServerConfig {
            tables: vec!["todoitem".into(), "notes".into()],
            ..tidemark_server::ServerConfig::open()
        },
    )
    .await;
    let api = Api::new(server.url());
    (server, api)
}

pub async fn a_retried_insert_gets_the_original_201_instead_of_409(backend: Backend) {
    let (server, api) = server(backend).await;
    let send = || {
        api.req(Method::POST, "/tables/todoitem")
            .operation("op-1:1")
            .json(&json!({"id": "a", "text": "x"}))
            .send()
    };
    let first = send().await;
    assert_eq!(first.status, 201);
    let before = dump(&server).await;
    let retry = send().await;
    assert_eq!(retry.status, 201);
    assert_eq!(retry.body, first.body);
    assert_eq!(retry.etag, first.etag);
    assert_eq!(dump(&server).await, before, "the retry wrote nothing");
}

pub async fn a_retried_insert_without_id_returns_the_same_server_made_id(backend: Backend) {
    let (_server, api) = server(backend).await;
    let send = || {
        api.req(Method::POST, "/tables/todoitem")
            .operation("op-1:1")
            .json(&json!({"text": "x"}))
            .send()
    };
    let first = send().await;
    let retry = send().await;
    assert_eq!(retry.body["id"], first.body["id"]);
    assert_eq!(api.get("/tables/todoitem").await.items().len(), 1);
}

pub async fn a_retried_update_gets_the_original_200_instead_of_412(backend: Backend) {
    let (_server, api) = server(backend).await;
    let item = api.insert(json!({"id": "a"})).await;
    let version = item["version"].as_str().unwrap_or_default().to_owned();
    let send = || {
        api.req(Method::PATCH, "/tables/todoitem/a")
            .if_match(&version)
            .operation("op-2:1")
            .json(&json!({"text": "y"}))
            .send()
    };
    let first = send().await;
    assert_eq!(first.status, 200);
    let retry = send().await;
    assert_eq!(retry.status, 200);
    assert_eq!(retry.body, first.body);
}

pub async fn a_retried_delete_gets_the_original_200_instead_of_404(backend: Backend) {
    let (_server, api) = server(backend).await;
    api.insert(json!({"id": "a"})).await;
    let send = || {
        api.req(Method::DELETE, "/tables/todoitem/a")
            .operation("op-3:1")
            .send()
    };
    let first = send().await;
    assert_eq!(first.status, 200);
    let retry = send().await;
    assert_eq!(retry.status, 200);
    assert_eq!(retry.body, first.body);
}

pub async fn a_new_op_version_is_a_new_write(backend: Backend) {
    let (_server, api) = server(backend).await;
    api.insert(json!({"id": "a"})).await;
    let patch = |tag: &'static str, text: &'static str| {
        api.req(Method::PATCH, "/tables/todoitem/a")
            .operation(tag)
            .json(&json!({"text": text}))
            .send()
    };
    let v1 = patch("op-4:1", "one").await;
    let v2 = patch("op-4:2", "two").await;
    assert_ne!(v1.body["version"], v2.body["version"]);
    assert_eq!(api.get("/tables/todoitem/a").await.body["text"], "two");
}

pub async fn the_same_tag_in_another_table_is_another_operation(backend: Backend) {
    let (_server, api) = server(backend).await;
    for table in ["todoitem", "notes"] {
        let reply = api
            .req(Method::POST, &format!("/tables/{table}"))
            .operation("op-5:1")
            .json(&json!({"id": "a", "table": table}))
            .send()
            .await;
        assert_eq!(reply.status, 201);
        assert_eq!(reply.body["table"], table);
    }
}

pub async fn a_failed_tagged_write_is_not_recorded_and_its_retry_is_judged_afresh(
    backend: Backend,
) {
    let (_server, api) = server(backend).await;
    let send = || {
        api.req(Method::PATCH, "/tables/todoitem/a")
            .operation("op-6:1")
            .json(&json!({"text": "y"}))
            .send()
    };
    assert_eq!(send().await.status, 404);
    api.insert(json!({"id": "a"})).await;
    assert_eq!(send().await.status, 200);
}

pub async fn a_tag_reused_for_a_different_write_is_400(backend: Backend) {
    let (_server, api) = server(backend).await;
    api.insert(json!({"id": "a"})).await;
    api.insert(json!({"id": "b"})).await;
    let first = api
        .req(Method::DELETE, "/tables/todoitem/a")
        .operation("op-7:1")
        .send()
        .await;
    assert_eq!(first.status, 200);
    let other = api
        .req(Method::DELETE, "/tables/todoitem/b")
        .operation("op-7:1")
        .send()
        .await;
    assert_eq!(other.status, 400);
    assert!(other.error().contains("op-7:1"), "{}", other.error());
    assert_eq!(api.get("/tables/todoitem/b").await.status, 200);
}

backend_tests!(#[tokio::test];
    a_retried_insert_gets_the_original_201_instead_of_409,
    a_retried_insert_without_id_returns_the_same_server_made_id,
    a_retried_update_gets_the_original_200_instead_of_412,
    a_retried_delete_gets_the_original_200_instead_of_404,
    a_new_op_version_is_a_new_write,
    the_same_tag_in_another_table_is_another_operation,
    a_failed_tagged_write_is_not_recorded_and_its_retry_is_judged_afresh,
    a_tag_reused_for_a_different_write_is_400,
);
