//! Crash safety: a `tidemark sync` process killed with SIGKILL in the middle of a large pull or
//! of a long push resumes on the next run without losing, skipping or duplicating anything.

mod common;

use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use common::Device;
use serde_json::{Value, json};
use tidemark_testkit::server::TestServer;

/// Rows on the server for the pull test: enough pages that a kill lands mid-pull.
const PULL_ROWS: usize = 30_000;
/// Queued inserts for the push test.
const PUSH_OPS: usize = 3_000;

/// Counts rows of the local todo table through a separate read-only connection (WAL lets it
/// read while the CLI writes). A missing table or a locked file reads as 0.
fn local_rows(store: &Path) -> usize {
    let Ok(conn) =
        rusqlite::Connection::open_with_flags(store, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return 0;
    };
    conn.query_row("SELECT count(*) FROM todoitem", [], |r| r.get::<_, i64>(0))
        .map(|n| n as usize)
        .unwrap_or(0)
}

/// Counts every row the server holds, deleted or not, via `$inlinecount`.
async fn server_rows(http: &reqwest::Client, url: &str) -> usize {
    let body: Value = http
        .get(format!(
            "{url}/tables/todoitem?$top=1&$inlinecount=allpages&__includeDeleted=true"
        ))
        .header("ZUMO-API-VERSION", "2.0.0")
        .send()
        .await
        .expect("count request")
        .json()
        .await
        .expect("count body");
    body["count"].as_u64().expect("count") as usize
}

/// Fills the server with `n` rows over HTTP, 16 requests at a time.
async fn seed_server(url: &str, n: usize) {
    let http = reqwest::Client::new();
    let mut pending = tokio::task::JoinSet::new();
    for i in 0..n {
        let (http, url) = (http.clone(), url.to_owned());
        pending.spawn(async move {
            let status = http
                .post(format!("{url}/tables/todoitem"))
                .header("ZUMO-API-VERSION", "2.0.0")
                .json(&json!({"id": format!("row-{i:06}"), "text": format!("row {i}"), "complete": false}))
                .send()
                .await
                .expect("seed insert")
                .status();
            assert_eq!(status.as_u16(), 201);
        });
        if pending.len() >= 16 {
            pending.join_next().await.expect("task").expect("seed task");
        }
    }
    while let Some(done) = pending.join_next().await {
        done.expect("seed task");
    }
}

/// Waits until `ready` holds, then SIGKILLs the child; fails if the child ends first.
async fn kill_when(child: &mut Child, what: &str, mut ready: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            panic!("sync ended ({status}) before the kill point ({what}): make the test larger");
        }
        if ready().await {
            child.kill().expect("SIGKILL");
            child.wait().expect("reap");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "never reached the kill point ({what})"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_killed_midway_resumes_without_losing_or_duplicating_rows() {
    let server = TestServer::start_open().await;
    seed_server(server.url(), PULL_ROWS).await;
    let device = Device::with_server(server.url());
    let store = device.dir.path().join("tidemark.db");

    let mut child = device.command(&["sync"]).spawn().expect("spawn sync");
    kill_when(&mut child, "first rows stored", async || {
        local_rows(&store) > 0
    })
    .await;
    let after_kill = local_rows(&store);
    assert!(
        after_kill < PULL_ROWS,
        "the kill landed after the pull finished"
    );

    device.ok(&["sync"]);
    assert_eq!(local_rows(&store), PULL_ROWS);
    let todos = device.json(&["list", "--json"]);
    let mut ids: Vec<&str> = todos
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), PULL_ROWS, "every row exactly once");
    assert_eq!(device.ok(&["pending"]).trim(), "0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_killed_midway_resumes_and_lands_every_change_exactly_once() {
    let server = TestServer::start_open().await;
    let url = server.url();
    let device = Device::with_server(url);
    let lines: String = (0..PUSH_OPS).map(|i| format!("task {i}\n")).collect();
    let out = device.run_with_stdin(&["import", "-"], &lines);
    assert!(out.status.success());

    let http = reqwest::Client::new();
    let mut child = device.command(&["sync"]).spawn().expect("spawn sync");
    kill_when(&mut child, "first rows on the server", async || {
        server_rows(&http, url).await > 0
    })
    .await;
    let landed = server_rows(&http, url).await;
    assert!(landed < PUSH_OPS, "the kill landed after the push finished");

    device.ok(&["sync"]);
    assert_eq!(device.ok(&["pending"]).trim(), "0");
    assert_eq!(device.json(&["conflicts", "--json"]), json!([]));
    assert_eq!(server_rows(&http, url).await, PUSH_OPS);
    let page: Vec<Value> = http
        .get(format!("{url}/tables/todoitem?$top=10000"))
        .header("ZUMO-API-VERSION", "2.0.0")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut texts: Vec<String> = page
        .iter()
        .map(|t| t["text"].as_str().unwrap().to_owned())
        .collect();
    texts.sort_unstable();
    let before = texts.len();
    texts.dedup();
    assert_eq!(before, texts.len(), "no change landed twice");
    assert_eq!(texts.len(), PUSH_OPS);
}
