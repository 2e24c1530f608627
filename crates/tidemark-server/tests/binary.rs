//! The `tidemark-server` binary as a child process: it prints its address, serves, stops
//! cleanly on SIGTERM, survives SIGKILL with its data, and explains its flags.

mod common;

use serde_json::json;
use tidemark_testkit::server::ServerProcess;

use common::Api;

const BINARY: &str = env!("CARGO_BIN_EXE_tidemark-server");

fn temp_db() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("{e}"),
    };
    let path = dir.path().join("server.db");
    (dir, path)
}

#[tokio::test]
async fn the_binary_prints_its_address_and_serves_the_declared_tables() {
    let (_dir, db) = temp_db();
    let server = ServerProcess::spawn_binary(BINARY, &db, &["--table", "notes"]).await;
    assert!(server.url().starts_with("http://127.0.0.1:"));
    let api = Api::new(server.url());
    let created = api.post("/tables/notes", json!({"text": "x"})).await;
    assert_eq!(created.status, 201);
    assert_eq!(api.get("/tables/todoitem").await.status, 404);
}

#[tokio::test]
async fn sigterm_stops_the_binary_cleanly() {
    let (_dir, db) = temp_db();
    let mut server = ServerProcess::spawn_binary(BINARY, &db, &[]).await;
    Api::new(server.url()).insert(json!({"id": "a"})).await;
    let status = server.terminate().await;
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
}

#[tokio::test]
async fn a_killed_server_restarts_on_the_same_database_and_address_with_its_data() {
    let (_dir, db) = temp_db();
    let mut server = ServerProcess::spawn_binary(BINARY, &db, &[]).await;
    let url = server.url().to_owned();
    let stored = Api::new(&url)
        .insert(json!({"id": "a", "text": "kept"}))
        .await;
    server.kill().await;
    server.restart().await;
    assert_eq!(server.url(), url);
    let api = Api::new(server.url());
    assert_eq!(api.get("/tables/todoitem/a").await.body, stored);
    let updated = api
        .patch("/tables/todoitem/a", json!({"text": "new"}))
        .await;
    assert!(updated.body["updatedAt"].as_str() > stored["updatedAt"].as_str());
}

#[tokio::test]
async fn the_app_key_flag_is_enforced() {
    let (_dir, db) = temp_db();
    let server = ServerProcess::spawn_binary(BINARY, &db, &["--app-key", "sesame"]).await;
    assert_eq!(
        Api::new(server.url()).get("/tables/todoitem").await.status,
        401
    );
    let keyed = Api::new(server.url()).with_app_key("sesame");
    assert_eq!(keyed.get("/tables/todoitem").await.status, 200);
}

#[test]
fn help_explains_every_flag_and_its_environment_variable() {
    let output = std::process::Command::new(BINARY).arg("--help").output();
    let help = match output {
        Ok(o) => String::from_utf8_lossy(&o.stdout).into_owned(),
        Err(e) => panic!("{e}"),
    };
    for flag in [
        "--listen",
        "--db",
        "--table",
        "--app-key",
        "--max-body",
        "--log-level",
        "--max-page-bytes",
        "--max-concurrent-queries",
        "--readers",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}:\n{help}");
    }
    for var in [
        "TIDEMARK_LISTEN",
        "TIDEMARK_DB",
        "TIDEMARK_TABLES",
        "TIDEMARK_APP_KEY",
        "TIDEMARK_MAX_BODY",
        "TIDEMARK_LOG_LEVEL",
        "TIDEMARK_MAX_PAGE_BYTES",
        "TIDEMARK_MAX_CONCURRENT_QUERIES",
        "TIDEMARK_READERS",
    ] {
        assert!(help.contains(var), "--help lacks {var}:\n{help}");
    }
}

#[test]
fn a_bad_table_name_stops_the_binary_with_a_message() {
    let (_dir, db) = temp_db();
    let output = std::process::Command::new(BINARY)
        .args(["--listen", "127.0.0.1:0", "--table", "todo-item", "--db"])
        .arg(&db)
        .output();
    let output = match output {
        Ok(o) => o,
        Err(e) => panic!("{e}"),
    };
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("todo-item"), "{stderr}");
}
