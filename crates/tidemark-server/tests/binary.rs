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
    let server = ServerProcess::spawn_binary(BINARY, &db, &["--no-auth", "--table", "notes"]).await;
    assert!(server.url().starts_with("http://127.0.0.1:"));
    let api = Api::new(server.url());
    let created = api.post("/tables/notes", json!({"text": "x"})).await;
    assert_eq!(created.status, 201);
    assert_eq!(api.get("/tables/todoitem").await.status, 404);
}

#[tokio::test]
async fn sigterm_stops_the_binary_cleanly() {
    let (_dir, db) = temp_db();
    let mut server = ServerProcess::spawn_binary(BINARY, &db, &["--no-auth"]).await;
    Api::new(server.url()).insert(json!({"id": "a"})).await;
    let status = server.terminate().await;
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
}

#[tokio::test]
async fn a_killed_server_restarts_on_the_same_database_and_address_with_its_data() {
    let (_dir, db) = temp_db();
    let mut server = ServerProcess::spawn_binary(BINARY, &db, &["--no-auth"]).await;
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
    let server =
        ServerProcess::spawn_binary(BINARY, &db, &["--no-auth", "--app-key", "sesame"]).await;
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
        "--max-item-depth",
        "--max-item-bytes",
        "--allow-origin",
        "--public-url",
        "--max-connections",
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

/// The fields of `/proc/<pid>/limits` "Max open files": (soft, hard).
fn open_file_limits(pid: u32) -> (String, String) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap_or_default();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap_or_default()
        .to_owned();
    let mut fields = line
        .trim_start_matches("Max open files")
        .split_whitespace()
        .map(str::to_owned);
    let soft = fields.next().unwrap_or_default();
    let hard = fields.next().unwrap_or_default();
    (soft, hard)
}

/// The number of open file descriptors of process `pid`.
fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// The attack: a client opens a thousand idle sockets, so the server runs out of descriptors
/// and a normal request waits seconds. With `--max-connections 8` the server holds at most 8
/// of them (the rest wait in the backlog), drops the idle ones at the header timeout, and
/// serves a normal client within a few seconds; its soft fd limit was raised to the hard one.
#[tokio::test]
async fn idle_connections_beyond_the_cap_wait_and_others_are_still_served() {
    let (_dir, db) = temp_db();
    // The child inherits a low soft limit (nextest runs each test in its own process).
    let lowered = match rlimit::Resource::NOFILE.get() {
        Ok((_, hard)) => {
            let soft = hard.min(256);
            rlimit::Resource::NOFILE
                .set(soft, hard)
                .map(|()| soft)
                .unwrap_or_else(|e| panic!("cannot lower the fd limit: {e}"))
        }
        Err(e) => panic!("cannot read the fd limit: {e}"),
    };
    let server = ServerProcess::spawn_binary(
        BINARY,
        &db,
        &[
            "--no-auth",
            "--max-connections",
            "8",
            "--header-timeout",
            "1",
        ],
    )
    .await;
    let Some(pid) = server.pid() else {
        panic!("the server is not running");
    };
    let (soft, hard) = open_file_limits(pid);
    assert!(!soft.is_empty(), "no open-file limit read");
    assert_eq!(
        soft, hard,
        "the soft fd limit was not raised to the hard one"
    );
    if hard != lowered.to_string() {
        let log = std::fs::read_to_string(server.log_path()).unwrap_or_default();
        assert!(
            log.contains(&format!(
                "raised the open file limit from {lowered} to {hard}"
            )),
            "{log}"
        );
    }
    let api = Api::new(server.url());
    api.insert(json!({"id": "kept"})).await;
    let baseline = open_fds(pid);
    let addr = server
        .url()
        .trim_start_matches("http://")
        .parse::<std::net::SocketAddr>()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut idle = Vec::new();
    // Three rounds of 8 idle connections, each closed at the 1 s header timeout.
    for _ in 0..24 {
        match tokio::net::TcpStream::connect(addr).await {
            Ok(stream) => idle.push(stream),
            Err(e) => panic!("connect: {e}"),
        }
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let held = open_fds(pid).saturating_sub(baseline);
    assert!(
        held <= 8 + 2,
        "the server holds {held} more descriptors than before"
    );
    // A new client (its own connection) is served once the idle ones ahead of it time out.
    let started = std::time::Instant::now();
    let reply = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        Api::new(server.url()).get("/tables/todoitem/kept"),
    )
    .await;
    let elapsed = started.elapsed();
    let reply = reply.unwrap_or_else(|_| panic!("no answer within 30 s"));
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(elapsed < std::time::Duration::from_secs(8), "{elapsed:?}");
    eprintln!("a new client was served after {elapsed:?} behind 24 idle connections");
    // The server is still there.
    assert!(server.pid().is_some_and(|p| open_fds(p) > 0));
    drop(idle);
    let started = std::time::Instant::now();
    assert_eq!(api.get("/tables/todoitem/kept").await.status, 200);
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
}

/// A database URL's password never reaches the output: not when the database is unreachable,
/// not when the URL is malformed, not when a TLS setting is wrong.
#[test]
fn a_database_password_never_reaches_the_output() {
    const SECRET: &str = "Sup3rSecretPw";
    for url in [
        // Port 1: nothing listens there; the connection is refused at once.
        format!("postgres://tidemark:{SECRET}@127.0.0.1:1/tidemark"),
        format!("postgres://tidemark@127.0.0.1:1/tidemark?password={SECRET}&connect_timeout=2"),
        format!("postgres://tidemark:{SECRET}@127.0.0.1:notaport/tidemark"),
        format!(
            "postgres://tidemark:{SECRET}@127.0.0.1:1/tidemark?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem"
        ),
        format!("postgres://tidemark:{SECRET}@127.0.0.1:1/tidemark?sslmode=sideways"),
        format!("postgres://tidemark:{SECRET}@127.0.0.1:1/tidemark?bogus_option=1"),
    ] {
        let output = std::process::Command::new(BINARY)
            .args([
                "--listen",
                "127.0.0.1:0",
                "--no-auth",
                "--log-level",
                "trace",
                "--db",
            ])
            .arg(&url)
            .output();
        let output = match output {
            Ok(o) => o,
            Err(e) => panic!("{e}"),
        };
        assert!(!output.status.success(), "{url}");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !stdout.contains(SECRET) && !stderr.contains(SECRET),
            "{url}\nstdout: {stdout}\nstderr: {stderr}"
        );
        assert!(stderr.contains("cannot open database"), "{url}: {stderr}");
    }
}
