//! Malformed and hostile requests: each is answered with the right 4xx and an `{"error"}`
//! message, and leaves the database exactly as it was (deleted rows and operation records
//! included).

use reqwest::Method;
use serde_json::json;
use tidemark_server::ServerConfig;
use tidemark_testkit::server::{Backend, TestServer};

use crate::common::{Api, Reply};
use crate::dump;

const APP_KEY: &str = "sesame";

/// A server holding a live item `live`, a soft-deleted item `gone`, and one operation record.
struct Fixture {
    server: TestServer,
    api: Api,
}

impl Fixture {
    async fn new(backend: Backend) -> Self {
        let server = TestServer::start_with_backend(
            backend,
            ServerConfig {
                app_key: Some(APP_KEY.into()),
                max_body_bytes: 64 * 1024,
                max_item_bytes: 64 * 1024,
                ..ServerConfig::open()
            },
        )
        .await;
        let api = Api::new(server.url()).with_app_key(APP_KEY);
        api.req(Method::POST, "/tables/todoitem")
            .operation("seed:1")
            .json(&json!({"id": "live", "text": "x", "n": 1}))
            .send()
            .await;
        api.insert(json!({"id": "gone"})).await;
        api.delete("/tables/todoitem/gone").await;
        Self { server, api }
    }

    fn anonymous(&self) -> Api {
        Api::new(self.server.url())
    }
}

macro_rules! rejects {
    ($( $name:ident: $status:literal, $message:literal, |$api:ident, $fx:ident| $request:expr; )*) => { $(
        #[allow(unused_variables)]
        pub async fn $name(backend: Backend) {
            let $fx = Fixture::new(backend).await;
            let before = dump(&$fx.server).await;
            let $api = &$fx.api;
            let reply: Reply = $request.await;
            assert_eq!(reply.status, $status, "{}", reply.body);
            let message = reply.error();
            assert!(
                message.to_lowercase().contains(&$message.to_lowercase()),
                "message {message:?} should mention {:?}", $message
            );
            assert_eq!(dump(&$fx.server).await, before, "the database changed");
        }
    )*
        backend_tests!(#[tokio::test]; $($name),*);
    };
}

rejects! {
    filter_with_a_syntax_error_is_400:
        400, "$filter", |api, fx| api.get("/tables/todoitem?$filter=text%20eq");
    filter_with_an_unknown_function_is_400:
        400, "frobnicate", |api, fx| api.get("/tables/todoitem?$filter=frobnicate(text)%20eq%201");
    filter_with_an_unterminated_string_is_400:
        400, "$filter", |api, fx| api.get("/tables/todoitem?$filter=text%20eq%20'abc");
    filter_with_sql_after_the_expression_is_400:
        400, "$filter", |api, fx| api.get(
            "/tables/todoitem?$filter=text%20eq%20'a'%3B%20DROP%20TABLE%20items%3B%20--");
    filter_with_sql_comment_injection_is_400:
        400, "$filter", |api, fx| api.get("/tables/todoitem?$filter=1%20eq%201%20--%20and");
    filter_comparing_updated_at_with_a_non_date_is_400:
        400, "updatedAt", |api, fx| api.get("/tables/todoitem?$filter=updatedAt%20ge%20'yesterday'");
    filter_given_twice_is_400:
        400, "$filter", |api, fx| api.get("/tables/todoitem?$filter=n%20eq%201&$filter=n%20eq%202");
    orderby_with_sql_injection_is_400:
        400, "$orderby", |api, fx| api.get("/tables/todoitem?$orderby=id%3B%20DROP%20TABLE%20items");
    orderby_with_an_unknown_direction_is_400:
        400, "$orderby", |api, fx| api.get("/tables/todoitem?$orderby=id%20sideways");
    top_above_ten_thousand_is_400:
        400, "10000", |api, fx| api.get("/tables/todoitem?$top=10001");
    negative_top_is_400:
        400, "$top", |api, fx| api.get("/tables/todoitem?$top=-1");
    non_numeric_top_is_400:
        400, "$top", |api, fx| api.get("/tables/todoitem?$top=ten");
    non_numeric_skip_is_400:
        400, "$skip", |api, fx| api.get("/tables/todoitem?$skip=abc");
    unknown_inlinecount_is_400:
        400, "$inlinecount", |api, fx| api.get("/tables/todoitem?$inlinecount=some");
    insert_of_text_that_is_not_json_is_400:
        400, "not valid JSON", |api, fx| api.req(Method::POST, "/tables/todoitem")
            .header("Content-Type", "application/json").raw("text: milk").send();
    insert_of_truncated_json_is_400:
        400, "line 1", |api, fx| api.req(Method::POST, "/tables/todoitem")
            .header("Content-Type", "application/json").raw("{\"text\": ").send();
    insert_of_a_json_array_is_400:
        400, "an array", |api, fx| api.post("/tables/todoitem", json!([{"id": "x"}]));
    insert_of_a_json_string_is_400:
        400, "a string", |api, fx| api.post("/tables/todoitem", json!("milk"));
    insert_without_a_body_is_400:
        400, "empty", |api, fx| api.req(Method::POST, "/tables/todoitem").send();
    insert_setting_created_at_is_400:
        400, "createdAt", |api, fx| api.post("/tables/todoitem", json!({"createdAt": "2024-01-01T00:00:00Z"}));
    insert_setting_updated_at_in_other_case_is_400:
        400, "UPDATEDAT", |api, fx| api.post("/tables/todoitem", json!({"UPDATEDAT": "2024-01-01T00:00:00Z"}));
    update_setting_deleted_is_400:
        400, "deleted", |api, fx| api.patch("/tables/todoitem/live", json!({"deleted": true}));
    update_with_a_json_array_is_400:
        400, "an array", |api, fx| api.patch("/tables/todoitem/live", json!([1, 2]));
    insert_with_a_slash_in_the_id_is_400:
        400, "'/'", |api, fx| api.post("/tables/todoitem", json!({"id": "a/b"}));
    insert_with_a_numeric_id_is_400:
        400, "string", |api, fx| api.post("/tables/todoitem", json!({"id": 5}));
    insert_with_an_overlong_id_is_400:
        400, "255", |api, fx| api.post("/tables/todoitem", json!({"id": "x".repeat(256)}));
    lookup_with_a_control_character_in_the_id_is_400:
        400, "control", |api, fx| api.get("/tables/todoitem/a%01b");
    lookup_with_a_plus_in_the_id_is_400:
        400, "'+'", |api, fx| api.get("/tables/todoitem/a+b");
    lookup_with_sql_in_the_id_is_a_plain_404:
        404, "no item", |api, fx| api.get("/tables/todoitem/x'%20OR%20'1'%3D'1");
    update_with_an_id_differing_from_the_url_is_400:
        400, "differs", |api, fx| api.patch("/tables/todoitem/live", json!({"id": "other"}));
    update_with_an_unquoted_if_match_is_400:
        400, "If-Match", |api, fx| api.req(Method::PATCH, "/tables/todoitem/live")
            .header("If-Match", "abc").json(&json!({"n": 2})).send();
    delete_with_an_empty_if_match_is_400:
        400, "If-Match", |api, fx| api.req(Method::DELETE, "/tables/todoitem/live")
            .header("If-Match", "\"\"").send();
    update_with_a_malformed_operation_tag_is_400:
        400, "X-Tidemark-Operation", |api, fx| api.req(Method::PATCH, "/tables/todoitem/live")
            .operation("no-version").json(&json!({"n": 2})).send();
    undelete_with_a_body_is_400:
        400, "no body", |api, fx| api.req(Method::POST, "/tables/todoitem/gone")
            .header("Content-Type", "application/json").raw("{}").send();
    undelete_with_a_text_body_is_415:
        415, "application/json", |api, fx| api.req(Method::POST, "/tables/todoitem/gone").raw("{}").send();
    insert_of_json_sent_as_text_is_415:
        415, "Content-Type: application/json", |api, fx| api.req(Method::POST, "/tables/todoitem")
            .header("Content-Type", "text/plain").raw("{\"text\": \"milk\"}").send();
    insert_of_json_without_a_content_type_is_415:
        415, "application/json", |api, fx| api.req(Method::POST, "/tables/todoitem").raw("{}").send();
    delete_of_an_already_deleted_item_is_404:
        404, "gone", |api, fx| api.delete("/tables/todoitem/gone");
    insert_into_an_unknown_table_is_404:
        404, "todoitem", |api, fx| api.post("/tables/users", json!({"name": "mallory"}));
    a_body_over_the_limit_is_413:
        413, "limit", |api, fx| api.post("/tables/todoitem", json!({"text": "x".repeat(100 * 1024)}));
    a_chunked_body_over_the_limit_is_413:
        413, "limit", |api, fx| chunked_post(fx.server.addr(), 100 * 1024);
    a_request_without_the_api_version_is_400_saying_what_to_send:
        400, "ZUMO-API-VERSION: 2.0.0", |api, fx| api.req(Method::POST, "/tables/todoitem")
            .without_version().json(&json!({"text": "x"})).send();
    a_request_with_api_version_1_is_400:
        400, "ZUMO-API-VERSION: 2.0.0", |api, fx| api.req(Method::POST, "/tables/todoitem")
            .without_version().header("ZUMO-API-VERSION", "1.0.0").json(&json!({"text": "x"})).send();
    a_write_with_a_wrong_app_key_is_401:
        401, "X-ZUMO-APPLICATION", |api, fx| fx.anonymous().with_app_key("guess")
            .post("/tables/todoitem", json!({"text": "x"}));
    a_write_without_the_app_key_is_401:
        401, "X-ZUMO-APPLICATION", |api, fx| fx.anonymous().delete("/tables/todoitem/live");
}

/// POSTs `size` bytes with `Transfer-Encoding: chunked` (no length known up front, so the
/// limit is hit while reading), over a raw socket since our reqwest has no streaming bodies.
async fn chunked_post(addr: std::net::SocketAddr, size: usize) -> Reply {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = match tokio::net::TcpStream::connect(addr).await {
        Ok(s) => s,
        Err(e) => panic!("connect: {e}"),
    };
    let head = format!(
        "POST /tables/todoitem HTTP/1.1\r\nHost: {addr}\r\nZUMO-API-VERSION: 2.0.0\r\n\
         X-ZUMO-APPLICATION: {APP_KEY}\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let chunk = vec![b' '; 1024];
    for _ in 0..size / 1024 {
        // The server may answer and close before all chunks are sent.
        if stream.write_all(b"400\r\n").await.is_err()
            || stream.write_all(&chunk).await.is_err()
            || stream.write_all(b"\r\n").await.is_err()
        {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let text = String::from_utf8_lossy(&response);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str(b).ok())
        .unwrap_or_default();
    Reply {
        status,
        body,
        etag: None,
        link: None,
        retry_after: None,
        www_authenticate: None,
    }
}
