//! The server's limits under hostile input: huge and deeply nested filters, out-of-range paging,
//! ids with unicode and path tricks, absurd headers, and clients that dribble bytes. Each is a
//! clear 4xx (or correct behaviour), never a 5xx, and the server keeps serving others.

use std::time::{Duration, Instant};

use serde_json::json;
use tidemark_server::{MAX_HEADER_BYTES, ServerConfig};
use tidemark_testkit::server::{Backend, TestServer};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::common::{Api, encode};

async fn start(backend: Backend) -> (TestServer, Api) {
    let server = TestServer::start_open_on_backend(backend).await;
    let api = Api::new(server.url());
    (server, api)
}

/// Asserts a 400 whose message mentions `needle`.
async fn assert_400(api: &Api, path: &str, needle: &str) {
    let reply = api.get(path).await;
    assert_eq!(reply.status, 400, "{path}: {}", reply.body);
    let message = reply.error().to_lowercase();
    assert!(
        message.contains(&needle.to_lowercase()),
        "{path}: {message:?} should mention {needle:?}"
    );
}

#[tokio::test]
async fn a_filter_longer_than_8192_characters_is_400() {
    let (_server, api) = start(Backend::Sqlite).await;
    let long = format!("text eq '{}'", "a".repeat(9000));
    assert_400(
        &api,
        &format!("/tables/todoitem?$filter={}", encode(&long)),
        "8192",
    )
    .await;
}

#[tokio::test]
async fn a_filter_nested_deeper_than_64_levels_is_400() {
    let (_server, api) = start(Backend::Sqlite).await;
    let parens = format!("{}n eq 1{}", "(".repeat(65), ")".repeat(65));
    assert_400(
        &api,
        &format!("/tables/todoitem?$filter={}", encode(&parens)),
        "64",
    )
    .await;
    let nots = format!("{}true", "not ".repeat(65));
    assert_400(
        &api,
        &format!("/tables/todoitem?$filter={}", encode(&nots)),
        "64",
    )
    .await;
    // At the limit of length, as deep as it goes: still a 400, not a stack overflow.
    let deepest = format!("{}1{}", "(".repeat(4000), ")".repeat(4000));
    assert_400(
        &api,
        &format!("/tables/todoitem?$filter={}", encode(&deepest)),
        "64",
    )
    .await;
}

#[tokio::test]
async fn a_filter_at_the_limits_is_served() {
    let (_server, api) = start(Backend::Sqlite).await;
    api.insert(json!({"id": "a", "n": 1})).await;
    let nested = format!("{}n eq 1{}", "(".repeat(60), ")".repeat(60));
    let reply = api
        .get(&format!("/tables/todoitem?$filter={}", encode(&nested)))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.ids(), vec!["a"]);
}

pub async fn paging_out_of_range_is_400_or_an_empty_page(backend: Backend) {
    let (_server, api) = start(backend).await;
    api.insert(json!({"id": "a"})).await;
    for (query, needle) in [
        ("$top=-5", "$top"),
        ("$top=18446744073709551616", "$top"),
        ("$top=99999999999999999999999", "$top"),
        ("$top=10001", "10000"),
        ("$top=1e3", "$top"),
        ("$top=%2B5", "$top"),
        ("$top=", "$top"),
        ("$skip=-1", "$skip"),
        ("$skip=18446744073709551616", "$skip"),
        ("$skip=0x10", "$skip"),
        ("$skip=%E2%91%A0", "$skip"),
    ] {
        assert_400(&api, &format!("/tables/todoitem?{query}"), needle).await;
    }
    // The largest counts that parse are valid requests: an empty page past the end.
    for query in [
        "$skip=18446744073709551615",
        "$skip=9223372036854775807&$top=10000",
    ] {
        let reply = api.get(&format!("/tables/todoitem?{query}")).await;
        assert_eq!(reply.status, 200, "{query}: {}", reply.body);
        assert_eq!(reply.items().len(), 0, "{query}");
    }
}

pub async fn ids_with_unicode_round_trip(backend: Backend) {
    let (_server, api) = start(backend).await;
    for id in [
        "été",
        "日本語のid",
        "emoji 🦀 id",
        "...",
        "a.b",
        "é".repeat(255).as_str(),
    ] {
        let created = api
            .post("/tables/todoitem", json!({"id": id, "text": "x"}))
            .await;
        assert_eq!(created.status, 201, "{id}: {}", created.body);
        let path = format!("/tables/todoitem/{}", encode(id));
        let found = api.get(&path).await;
        assert_eq!(found.status, 200, "{id}: {}", found.body);
        assert_eq!(found.str("id"), id);
        let deleted = api.delete(&path).await;
        assert_eq!(deleted.status, 200, "{id}: {}", deleted.body);
    }
}

pub async fn ids_with_path_tricks_are_400_or_404_never_5xx(backend: Backend) {
    let (server, api) = start(backend).await;
    api.insert(json!({"id": "live"})).await;
    // HTTP clients resolve dot segments before sending; a hostile one need not.
    for path in [
        "/tables/todoitem/..",
        "/tables/todoitem/%2E%2E",
        "/tables/todoitem/.",
    ] {
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nZUMO-API-VERSION: 2.0.0\r\n\r\n");
        assert_eq!(
            raw_status(server.addr(), request.as_bytes()).await,
            400,
            "{path}"
        );
    }
    for path in [
        "/tables/todoitem/a%2Fb",
        "/tables/todoitem/%2F",
        "/tables/todoitem/a%00b",
        "/tables/todoitem/%00",
        "/tables/todoitem/a%5Cb",
        "/tables/todoitem/%FF%FE",
        "/tables/todoitem/live%2F..%2F..%2Fetc%2Fpasswd",
    ] {
        let reply = api.get(path).await;
        assert_eq!(reply.status, 400, "{path}: {}", reply.body);
        let deleted = api.delete(path).await;
        assert!(
            (400..500).contains(&deleted.status),
            "DELETE {path}: {} {}",
            deleted.status,
            deleted.body
        );
    }
    let long = "x".repeat(10_000);
    let reply = api.get(&format!("/tables/todoitem/{long}")).await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert!(reply.error().contains("255"), "{}", reply.body);
    // The item the tricks aimed around is untouched.
    assert_eq!(api.get("/tables/todoitem/live").await.status, 200);
}

backend_tests!(#[tokio::test];
    paging_out_of_range_is_400_or_an_empty_page,
    ids_with_unicode_round_trip,
    ids_with_path_tricks_are_400_or_404_never_5xx,
);

/// Sends `request` on a fresh connection and returns the status line's code (0 when the
/// server closed without answering).
async fn raw_status(addr: std::net::SocketAddr, request: &[u8]) -> u16 {
    let mut stream = match TcpStream::connect(addr).await {
        Ok(s) => s,
        Err(e) => panic!("connect: {e}"),
    };
    // The server may answer and close before it has read everything.
    let _ = stream.write_all(request).await;
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response)).await;
    String::from_utf8_lossy(&response)
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_header_of_100_kib_is_431_and_the_server_keeps_serving() {
    let (server, api) = start(Backend::Sqlite).await;
    let huge = "h".repeat(100 * 1024);
    let request = format!(
        "GET /tables/todoitem HTTP/1.1\r\nHost: localhost\r\nZUMO-API-VERSION: 2.0.0\r\nX-Big: {huge}\r\n\r\n"
    );
    assert_eq!(raw_status(server.addr(), request.as_bytes()).await, 431);
    // Many headers that add up past the limit are refused the same way.
    let many: String = (0..2000)
        .map(|i| format!("X-H{i}: {}\r\n", "v".repeat(40)))
        .collect();
    let request = format!("GET /tables/todoitem HTTP/1.1\r\nHost: localhost\r\n{many}\r\n");
    let status = raw_status(server.addr(), request.as_bytes()).await;
    assert!(status == 431 || status == 400, "{status}");
    // Just under the limit is an ordinary request.
    let fits = "f".repeat(MAX_HEADER_BYTES / 2);
    let reply = api
        .req(reqwest::Method::GET, "/tables/todoitem")
        .header("X-Fits", &fits)
        .send()
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

/// A server whose header and request timeouts are short enough to test.
async fn impatient_server() -> (TestServer, Api) {
    let config = ServerConfig {
        header_read_timeout: Duration::from_secs(1),
        request_timeout: Duration::from_secs(2),
        ..ServerConfig::open()
    };
    let server = TestServer::start_with(config).await;
    let api = Api::new(server.url());
    (server, api)
}

/// Writes `bytes` one at a time, `pause` apart, until the server closes the connection; then
/// reads what it answered. Returns how long the server put up with it and what it said.
async fn dribble(addr: std::net::SocketAddr, bytes: &[u8], pause: Duration) -> (Duration, String) {
    match TcpStream::connect(addr).await {
        Ok(stream) => dribble_on(stream, bytes, pause).await,
        Err(e) => panic!("connect: {e}"),
    }
}

#[tokio::test]
async fn a_client_dribbling_its_headers_is_cut_off_while_others_are_served() {
    let (server, api) = impatient_server().await;
    let addr = server.addr();
    let head = b"GET /tables/todoitem HTTP/1.1\r\nHost: localhost\r\nZUMO-API-VERSION: 2.0.0\r\nX-Slow: aaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let slow = tokio::spawn(dribble(addr, head, Duration::from_millis(250)));
    // While it dribbles, everyone else gets answers at once.
    for _ in 0..5 {
        let started = Instant::now();
        assert_eq!(api.get("/tables/todoitem").await.status, 200);
        assert!(started.elapsed() < Duration::from_millis(500));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (held, _answer) = match slow.await {
        Ok(r) => r,
        Err(e) => panic!("{e}"),
    };
    assert!(
        held >= Duration::from_millis(900) && held < Duration::from_secs(4),
        "held for {held:?}; the header read timeout is 1s"
    );
}

#[tokio::test]
async fn a_client_dribbling_its_body_gets_408_while_others_are_served() {
    let (server, api) = impatient_server().await;
    let addr = server.addr();
    let body = json!({"text": "x".repeat(200)}).to_string();
    let mut request = format!(
        "POST /tables/todoitem HTTP/1.1\r\nHost: localhost\r\nZUMO-API-VERSION: 2.0.0\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    let head_len = request.len();
    request.extend_from_slice(body.as_bytes());
    // The head goes at once; only the body dribbles.
    let slow = tokio::spawn(async move {
        let mut stream = match TcpStream::connect(addr).await {
            Ok(s) => s,
            Err(e) => panic!("connect: {e}"),
        };
        let _ = stream.write_all(&request[..head_len]).await;
        dribble_on(stream, &request[head_len..], Duration::from_millis(250)).await
    });
    for _ in 0..5 {
        assert_eq!(api.get("/tables/todoitem").await.status, 200);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (held, answer) = match slow.await {
        Ok(r) => r,
        Err(e) => panic!("{e}"),
    };
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("too long"), "{answer}");
    assert!(
        held < Duration::from_secs(5),
        "held for {held:?}; the request timeout is 2s"
    );
    // Nothing of the abandoned insert was stored.
    assert_eq!(api.get("/tables/todoitem").await.items().len(), 0);
}

/// [`dribble`] on an already-open stream; a closed connection shows as a readable EOF (or a
/// reset) between two bytes.
async fn dribble_on(mut stream: TcpStream, bytes: &[u8], pause: Duration) -> (Duration, String) {
    let started = Instant::now();
    for byte in bytes {
        if stream.write_all(std::slice::from_ref(byte)).await.is_err() {
            break;
        }
        let mut probe = [0u8; 4096];
        if let Ok(read) = tokio::time::timeout(pause, stream.read(&mut probe)).await {
            let mut answer = match read {
                Ok(n) => probe[..n].to_vec(),
                Err(_) => Vec::new(),
            };
            let _ = tokio::time::timeout(pause, stream.read_to_end(&mut answer)).await;
            return (
                started.elapsed(),
                String::from_utf8_lossy(&answer).into_owned(),
            );
        }
    }
    panic!(
        "the server read every dribbled byte over {:?}",
        started.elapsed()
    );
}
