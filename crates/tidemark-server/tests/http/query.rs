//! Queries: paging, counts, deleted items, `$select`, `$orderby`, and `$filter` over user and
//! system properties with every operator family and function of the spec.

use std::collections::HashSet;

use reqwest::Method;
use serde_json::{Value, json};
use tidemark_testkit::server::{Backend, TestServer};

use crate::common::{Api, encode, link_target};

async fn server_with(backend: Backend, items: Vec<Value>) -> (TestServer, Api) {
    let server = TestServer::start_open_on_backend(backend).await;
    let api = Api::new(server.url());
    for item in items {
        api.insert(item).await;
    }
    (server, api)
}

/// Ids matching `filter` (URL-encoded here), in id order.
async fn ids_where(api: &Api, filter: &str) -> Vec<String> {
    let path = format!("/tables/todoitem?$filter={}", encode(filter));
    let reply = api.get(&path).await;
    assert_eq!(reply.status, 200, "{filter}: {}", reply.body);
    reply.ids()
}

fn people() -> Vec<Value> {
    vec![
        json!({"id": "1", "name": "Alice", "age": 30, "done": true, "due": "2024-03-05T10:20:30.000Z", "score": 2.5}),
        json!({"id": "2", "name": "bob", "age": 25, "done": false, "due": "2023-12-31T23:59:59.999Z", "score": -1.5}),
        json!({"id": "3", "name": "  Carol ", "age": 35, "done": false, "score": 7}),
        json!({"id": "4", "name": null, "age": 40}),
    ]
}

pub async fn without_top_pages_of_50_are_linked_to_the_end_without_duplicates_or_gaps(
    backend: Backend,
) {
    let items = (0..120)
        .map(|i| json!({"id": format!("item-{i:03}")}))
        .collect();
    let (_server, api) = server_with(backend, items).await;
    let first = api.get("/tables/todoitem").await;
    assert_eq!(first.items().len(), 50);
    assert!(
        first
            .link
            .as_deref()
            .is_some_and(|l| l.ends_with("; rel=next"))
    );
    let all = api.get_all_pages("/tables/todoitem").await;
    let ids: Vec<&str> = all.iter().filter_map(|i| i["id"].as_str()).collect();
    let expected: Vec<String> = (0..120).map(|i| format!("item-{i:03}")).collect();
    assert_eq!(ids, expected);
}

pub async fn links_keep_the_filter_and_order_of_the_query(backend: Backend) {
    let items = (0..60)
        .map(|i| json!({"id": format!("{i:02}"), "even": i % 2 == 0}))
        .collect();
    let (_server, api) = server_with(backend, items).await;
    let all = api
        .get_all_pages("/tables/todoitem?$filter=even%20eq%20true&$orderby=id%20desc")
        .await;
    assert_eq!(all.len(), 30);
    assert_eq!(all[0]["id"], "58");
    assert_eq!(all[29]["id"], "00");
}

pub async fn a_link_carries_an_api_version_given_as_a_query_parameter(backend: Backend) {
    let items = (0..60).map(|i| json!({"id": format!("{i:02}")})).collect();
    let (_server, api) = server_with(backend, items).await;
    let first = api
        .req(
            Method::GET,
            "/tables/todoitem?ZUMO-API-VERSION=2.0.0&$orderby=id%20desc",
        )
        .without_version()
        .send()
        .await;
    assert_eq!(first.status, 200, "{}", first.body);
    let next = link_target(first.link.as_deref().unwrap_or_default());
    let path = next
        .split_once("/tables/")
        .map(|(_, p)| format!("/tables/{p}"));
    let second = api
        .req(Method::GET, &path.unwrap_or_default())
        .without_version()
        .send()
        .await;
    assert_eq!(second.status, 200, "{next}: {}", second.body);
    let ids: Vec<String> = second
        .items()
        .iter()
        .filter_map(|i| i["id"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        ids,
        (0..10).rev().map(|i| format!("{i:02}")).collect::<Vec<_>>()
    );
    assert_eq!(second.link, None);
}

pub async fn the_last_page_has_no_link(backend: Backend) {
    let items = (0..50).map(|i| json!({"id": format!("{i:02}")})).collect();
    let (_server, api) = server_with(backend, items).await;
    let reply = api.get("/tables/todoitem").await;
    assert_eq!(reply.items().len(), 50);
    assert_eq!(reply.link, None);
}

pub async fn top_returns_that_many_and_no_link(backend: Backend) {
    let items = (0..70).map(|i| json!({"id": format!("{i:02}")})).collect();
    let (_server, api) = server_with(backend, items).await;
    let reply = api.get("/tables/todoitem?$top=60").await;
    assert_eq!(reply.items().len(), 60);
    assert_eq!(reply.link, None);
    let small = api.get("/tables/todoitem?$top=3&$skip=68").await;
    assert_eq!(small.ids(), vec!["68", "69"]);
}

pub async fn top_up_to_ten_thousand_is_accepted(backend: Backend) {
    let (_server, api) = server_with(backend, vec![json!({})]).await;
    assert_eq!(api.get("/tables/todoitem?$top=10000").await.status, 200);
}

pub async fn inlinecount_allpages_wraps_results_with_the_total(backend: Backend) {
    let items = (0..7).map(|i| json!({"id": format!("{i}")})).collect();
    let (_server, api) = server_with(backend, items).await;
    let reply = api
        .get("/tables/todoitem?$top=2&$inlinecount=allpages")
        .await;
    assert_eq!(reply.body["count"], 7);
    assert_eq!(reply.ids(), vec!["0", "1"]);
}

pub async fn soft_deleted_items_appear_only_with_include_deleted(backend: Backend) {
    let (_server, api) = server_with(backend, vec![json!({"id": "a"}), json!({"id": "b"})]).await;
    api.delete("/tables/todoitem/a").await;
    assert_eq!(api.get("/tables/todoitem").await.ids(), vec!["b"]);
    let all = api.get("/tables/todoitem?__includeDeleted=true").await;
    assert_eq!(all.ids(), vec!["a", "b"]);
    assert_eq!(all.items()[0]["deleted"], true);
}

pub async fn select_returns_only_the_named_properties(backend: Backend) {
    let (_server, api) = server_with(backend, people()).await;
    let reply = api.get("/tables/todoitem?$select=id,name&$top=1").await;
    assert_eq!(reply.body, json!([{"id": "1", "name": "Alice"}]));
}

pub async fn orderby_ties_are_broken_by_id(backend: Backend) {
    let items = vec![
        json!({"id": "c", "rank": 1}),
        json!({"id": "a", "rank": 2}),
        json!({"id": "b", "rank": 1}),
        json!({"id": "d", "rank": 2}),
    ];
    let (_server, api) = server_with(backend, items).await;
    let asc = api.get("/tables/todoitem?$orderby=rank").await;
    assert_eq!(asc.ids(), vec!["b", "c", "a", "d"]);
    let desc = api.get("/tables/todoitem?$orderby=rank%20desc").await;
    assert_eq!(desc.ids(), vec!["a", "d", "b", "c"]);
}

pub async fn orderby_updated_at_follows_write_order(backend: Backend) {
    let (_server, api) = server_with(backend, vec![json!({"id": "b"}), json!({"id": "a"})]).await;
    api.patch("/tables/todoitem/b", json!({"x": 1})).await;
    let reply = api.get("/tables/todoitem?$orderby=updatedAt").await;
    assert_eq!(reply.ids(), vec!["a", "b"]);
}

pub async fn filters_compare_user_strings_numbers_and_booleans(backend: Backend) {
    let (_server, api) = server_with(backend, people()).await;
    assert_eq!(ids_where(&api, "name eq 'Alice'").await, vec!["1"]);
    assert_eq!(ids_where(&api, "age gt 30").await, vec!["3", "4"]);
    assert_eq!(
        ids_where(&api, "age ge 30 and age lt 40").await,
        vec!["1", "3"]
    );
    assert_eq!(
        ids_where(&api, "age le 25 or age eq 40").await,
        vec!["2", "4"]
    );
    assert_eq!(ids_where(&api, "done eq true").await, vec!["1"]);
    assert_eq!(ids_where(&api, "done eq false").await, vec!["2", "3"]);
    assert_eq!(
        ids_where(&api, "not (done eq true)").await,
        vec!["2", "3", "4"]
    );
    assert_eq!(ids_where(&api, "score lt 0.0").await, vec!["2"]);
    assert_eq!(ids_where(&api, "age eq 30L").await, vec!["1"]);
}

pub async fn eq_null_finds_null_and_missing_properties(backend: Backend) {
    let (_server, api) = server_with(backend, people()).await;
    assert_eq!(ids_where(&api, "name eq null").await, vec!["4"]);
    assert_eq!(ids_where(&api, "done eq null").await, vec!["4"]);
    assert_eq!(ids_where(&api, "name ne null").await, vec!["1", "2", "3"]);
}

pub async fn arithmetic_operators_work_in_filters(backend: Backend) {
    let (_server, api) = server_with(backend, people()).await;
    assert_eq!(ids_where(&api, "age add 5 eq 35").await, vec!["1"]);
    assert_eq!(ids_where(&api, "age sub 5 eq 20").await, vec!["2"]);
    assert_eq!(ids_where(&api, "age mul 2 eq 70").await, vec!["3"]);
    assert_eq!(ids_where(&api, "age div 10 eq 4").await, vec!["4"]);
    assert_eq!(ids_where(&api, "age mod 7 eq 4").await, vec!["2"]);
    assert_eq!(ids_where(&api, "-age eq -25").await, vec!["2"]);
}

pub async fn string_functions_work_in_filters(backend: Backend) {
    let (_server, api) = server_with(backend, people()).await;
    assert_eq!(ids_where(&api, "substringof('lic', name)").await, vec!["1"]);
    assert_eq!(ids_where(&api, "startswith(name, 'Al')").await, vec!["1"]);
    assert_eq!(ids_where(&api, "endswith(name, 'ob')").await, vec!["2"]);
    assert_eq!(ids_where(&api, "tolower(name) eq 'alice'").await, vec!["1"]);
    assert_eq!(ids_where(&api, "toupper(name) eq 'BOB'").await, vec!["2"]);
    assert_eq!(ids_where(&api, "length(name) eq 3").await, vec!["2"]);
    assert_eq!(ids_where(&api, "trim(name) eq 'Carol'").await, vec!["3"]);
    assert_eq!(
        ids_where(&api, "concat(name, '!') eq 'bob!'").await,
        vec!["2"]
    );
    assert_eq!(
        ids_where(&api, "indexof(name, 'ice') eq 2").await,
        vec!["1"]
    );
    assert_eq!(
        ids_where(&api, "substring(name, 1) eq 'lice'").await,
        vec!["1"]
    );
    assert_eq!(
        ids_where(&api, "substring(name, 0, 2) eq 'bo'").await,
        vec!["2"]
    );
    assert_eq!(
        ids_where(&api, "replace(name, 'b', 'B') eq 'BoB'").await,
        vec!["2"]
    );
}

pub async fn math_functions_work_in_filters(backend: Backend) {
    let (_server, api) = server_with(backend, people()).await;
    assert_eq!(ids_where(&api, "round(score) eq 3").await, vec!["1"]);
    assert_eq!(ids_where(&api, "floor(score) eq -2").await, vec!["2"]);
    assert_eq!(ids_where(&api, "ceiling(score) eq 3").await, vec!["1"]);
    assert_eq!(ids_where(&api, "floor(score) eq 7").await, vec!["3"]);
}

pub async fn date_functions_read_user_date_strings(backend: Backend) {
    let (_server, api) = server_with(backend, people()).await;
    assert_eq!(ids_where(&api, "year(due) eq 2024").await, vec!["1"]);
    assert_eq!(ids_where(&api, "month(due) eq 12").await, vec!["2"]);
    assert_eq!(ids_where(&api, "day(due) eq 5").await, vec!["1"]);
    assert_eq!(ids_where(&api, "hour(due) eq 23").await, vec!["2"]);
    assert_eq!(ids_where(&api, "minute(due) eq 20").await, vec!["1"]);
    assert_eq!(ids_where(&api, "second(due) eq 59").await, vec!["2"]);
}

pub async fn user_date_strings_compare_with_date_literals_as_instants(backend: Backend) {
    let (_server, api) = server_with(backend, people()).await;
    assert_eq!(
        ids_where(&api, "due gt datetimeoffset'2024-01-01T00:00:00Z'").await,
        vec!["1"]
    );
    assert_eq!(
        ids_where(&api, "due eq datetime'2023-12-31T23:59:59.999'").await,
        vec!["2"]
    );
}

pub async fn updated_at_compares_exactly_with_datetimeoffset_literals(backend: Backend) {
    let (_server, api) = server_with(
        backend,
        vec![json!({"id": "a"}), json!({"id": "b"}), json!({"id": "c"})],
    )
    .await;
    let b = api.get("/tables/todoitem/b").await;
    let stamp = b.str("updatedAt").to_owned();
    assert_eq!(
        ids_where(&api, &format!("updatedAt ge datetimeoffset'{stamp}'")).await,
        vec!["b", "c"]
    );
    assert_eq!(
        ids_where(&api, &format!("updatedAt gt datetimeoffset'{stamp}'")).await,
        vec!["c"]
    );
    assert_eq!(
        ids_where(&api, &format!("updatedAt eq datetimeoffset'{stamp}'")).await,
        vec!["b"]
    );
}

pub async fn created_at_compares_with_datetime_literals_and_date_parts(backend: Backend) {
    let (_server, api) = server_with(backend, vec![json!({"id": "a"})]).await;
    assert_eq!(
        ids_where(&api, "createdAt gt datetime'2000-01-01T00:00:00'").await,
        vec!["a"]
    );
    assert!(
        ids_where(&api, "createdAt lt datetime'2000-01-01T00:00:00'")
            .await
            .is_empty()
    );
    assert_eq!(ids_where(&api, "year(createdAt) ge 2024").await, vec!["a"]);
}

pub async fn system_columns_deleted_id_and_version_can_be_filtered(backend: Backend) {
    let (_server, api) = server_with(backend, vec![json!({"id": "a"}), json!({"id": "b"})]).await;
    let deleted = api.delete("/tables/todoitem/a").await.body;
    let path = "/tables/todoitem?__includeDeleted=true&$filter=deleted%20eq%20true";
    assert_eq!(api.get(path).await.ids(), vec!["a"]);
    assert_eq!(ids_where(&api, "id eq 'b'").await, vec!["b"]);
    let version = deleted["version"].as_str().unwrap_or_default();
    let path = format!(
        "/tables/todoitem?__includeDeleted=true&$filter={}",
        encode(&format!("version eq '{version}'"))
    );
    assert_eq!(api.get(&path).await.ids(), vec!["a"]);
}

pub async fn sql_in_a_filter_string_is_matched_literally(backend: Backend) {
    let evil = "x' OR 1=1; DROP TABLE items; --";
    let (_server, api) = server_with(
        backend,
        vec![json!({"id": "a", "name": evil}), json!({"id": "b"})],
    )
    .await;
    let filter = format!("name eq '{}'", evil.replace('\'', "''"));
    assert_eq!(ids_where(&api, &filter).await, vec!["a"]);
    assert_eq!(api.get("/tables/todoitem").await.ids().len(), 2);
}

pub async fn property_names_that_look_like_sql_are_just_json_keys(backend: Backend) {
    let (_server, api) = server_with(backend, vec![json!({"id": "a", "data": 1, "tbl": 2})]).await;
    assert_eq!(ids_where(&api, "data eq 1 and tbl eq 2").await, vec!["a"]);
}

pub async fn every_item_is_reachable_by_filtered_paging(backend: Backend) {
    let items = (0..130)
        .map(|i| json!({"id": format!("{i:03}"), "n": i}))
        .collect();
    let (_server, api) = server_with(backend, items).await;
    let all = api
        .get_all_pages("/tables/todoitem?$filter=n%20ge%2010")
        .await;
    let ids: HashSet<String> = all
        .iter()
        .filter_map(|i| i["id"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(all.len(), 120);
    assert_eq!(ids.len(), 120);
}

backend_tests!(#[tokio::test];
    without_top_pages_of_50_are_linked_to_the_end_without_duplicates_or_gaps,
    links_keep_the_filter_and_order_of_the_query,
    a_link_carries_an_api_version_given_as_a_query_parameter,
    the_last_page_has_no_link,
    top_returns_that_many_and_no_link,
    top_up_to_ten_thousand_is_accepted,
    inlinecount_allpages_wraps_results_with_the_total,
    soft_deleted_items_appear_only_with_include_deleted,
    select_returns_only_the_named_properties,
    orderby_ties_are_broken_by_id,
    orderby_updated_at_follows_write_order,
    filters_compare_user_strings_numbers_and_booleans,
    eq_null_finds_null_and_missing_properties,
    arithmetic_operators_work_in_filters,
    string_functions_work_in_filters,
    math_functions_work_in_filters,
    date_functions_read_user_date_strings,
    user_date_strings_compare_with_date_literals_as_instants,
    updated_at_compares_exactly_with_datetimeoffset_literals,
    created_at_compares_with_datetime_literals_and_date_parts,
    system_columns_deleted_id_and_version_can_be_filtered,
    sql_in_a_filter_string_is_matched_literally,
    property_names_that_look_like_sql_are_just_json_keys,
    every_item_is_reachable_by_filtered_paging,
);
