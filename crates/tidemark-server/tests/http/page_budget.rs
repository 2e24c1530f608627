//! Pages cut short by the byte budget (`max_page_bytes`): the next link continues exactly
//! after the rows sent, with `$top` too, and a page always holds at least one item.

use serde_json::json;
use tidemark_server::ServerConfig;
use tidemark_testkit::server::{Backend, TestServer};

use crate::common::{Api, link_target};

/// A server whose pages stop at `budget` bytes, holding `n` items of about 1 KiB each.
async fn server(backend: Backend, budget: usize, n: usize) -> (TestServer, Api) {
    let config = ServerConfig {
        max_page_bytes: budget,
        ..ServerConfig::open()
    };
    let server = TestServer::start_with_backend(backend, config).await;
    let api = Api::new(server.url());
    for i in 0..n {
        api.insert(json!({"id": format!("{i:02}"), "text": "x".repeat(1000)}))
            .await;
    }
    (server, api)
}

/// The path and query of a link target, whether absolute or relative.
fn path_of(link: &str) -> String {
    let target = link_target(link);
    match target.split_once("://") {
        Some((_, rest)) => rest[rest.find('/').unwrap_or(rest.len())..].to_owned(),
        None => target,
    }
}

pub async fn a_cut_page_under_top_links_to_the_rest_of_the_top(backend: Backend) {
    let (_server, api) = server(backend, 4096, 20).await;
    let first = api.get("/tables/todoitem?$top=15").await;
    let n = first.items().len();
    assert!((1..15).contains(&n), "{n} items");
    let next = path_of(first.link.as_deref().unwrap_or_default());
    assert!(
        next.contains(&format!("$skip={n}")) && next.contains(&format!("$top={}", 15 - n)),
        "{next}"
    );
    let all = api.get_all_pages("/tables/todoitem?$top=15").await;
    let ids: Vec<&str> = all.iter().filter_map(|i| i["id"].as_str()).collect();
    let expected: Vec<String> = (0..15).map(|i| format!("{i:02}")).collect();
    assert_eq!(ids, expected, "the first 15, each once, nothing past $top");
}

pub async fn a_cut_page_without_top_links_from_after_the_rows_sent(backend: Backend) {
    let (_server, api) = server(backend, 4096, 20).await;
    let first = api
        .get("/tables/todoitem?$skip=2&$inlinecount=allpages")
        .await;
    let n = first.items().len();
    assert!((1..20).contains(&n), "{n} items");
    assert_eq!(first.body["count"], 20);
    let next = path_of(first.link.as_deref().unwrap_or_default());
    assert!(next.contains(&format!("$skip={}", 2 + n)), "{next}");
    assert!(!next.contains("$top"), "{next}");
    let all = api.get_all_pages("/tables/todoitem?$skip=2").await;
    let ids: Vec<&str> = all.iter().filter_map(|i| i["id"].as_str()).collect();
    let expected: Vec<String> = (2..20).map(|i| format!("{i:02}")).collect();
    assert_eq!(ids, expected);
}

pub async fn an_item_larger_than_the_budget_comes_alone(backend: Backend) {
    let (_server, api) = server(backend, 100, 3).await;
    let all = api.get_all_pages("/tables/todoitem?$top=10").await;
    assert_eq!(all.len(), 3);
    let first = api.get("/tables/todoitem?$top=10").await;
    assert_eq!(first.items().len(), 1);
    let last = api.get("/tables/todoitem?$top=1&$skip=2").await;
    assert_eq!((last.items().len(), last.link), (1, None));
}

pub async fn an_uncut_page_under_top_has_no_link(backend: Backend) {
    let (_server, api) = server(backend, 16 * 1024 * 1024, 20).await;
    let reply = api.get("/tables/todoitem?$top=15").await;
    assert_eq!((reply.items().len(), reply.link), (15, None));
}

backend_tests!(#[tokio::test];
    a_cut_page_under_top_links_to_the_rest_of_the_top,
    a_cut_page_without_top_links_from_after_the_rows_sent,
    an_item_larger_than_the_budget_comes_alone,
    an_uncut_page_under_top_has_no_link,
);
