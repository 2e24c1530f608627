//! Accounts through the real binary: the refusal of `--no-auth` on an open network, the token
//! key file, the `user` administration commands, a trace-level log that never shows a
//! password or a token, and several processes on one PostgreSQL database sharing sessions.

mod common;

use std::ffi::OsStr;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;
use std::process::Output;

use serde_json::json;
use tidemark_testkit::postgres::PgDatabase;
use tidemark_testkit::server::ServerProcess;

use common::{Api, Reply};

const BINARY: &str = env!("CARGO_BIN_EXE_tidemark-server");
const PASSWORD: &str = "s3cret-passw0rd-for-tests";

fn temp_db() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("server.db");
    (dir, path)
}

/// Runs the binary with `args`, `stdin` as its input, and waits for it.
async fn run(args: &[&str], stdin: &str) -> Output {
    common::run_binary(BINARY, args, stdin).await
}

/// `tidemark-server --db DB user …` (DB a SQLite path or a PostgreSQL URL), which must
/// succeed; answers its stdout.
async fn user(db: impl AsRef<OsStr>, args: &[&str], stdin: &str) -> String {
    let output = user_output(db, args, stdin).await;
    assert!(
        output.status.success(),
        "user {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

async fn user_output(db: impl AsRef<OsStr>, args: &[&str], stdin: &str) -> Output {
    let db = db.as_ref().to_string_lossy();
    let full: Vec<&str> = ["--db", &db, "user"]
        .into_iter()
        .chain(args.iter().copied())
        .collect();
    run(&full, stdin).await
}

async fn login(api: &Api, name: &str, password: &str) -> Reply {
    api.post(
        "/.auth/login/tidemark",
        json!({"username": name, "password": password}),
    )
    .await
}

fn token_of(reply: &Reply) -> String {
    match reply.body["authenticationToken"].as_str() {
        Some(token) => token.to_owned(),
        None => panic!("no token: {} {}", reply.status, reply.body),
    }
}

#[tokio::test]
async fn no_auth_on_a_non_loopback_address_is_refused() {
    let (_dir, db) = temp_db();
    let db = db.to_string_lossy();
    let output = run(&["--db", &db, "--listen", "0.0.0.0:0", "--no-auth"], "").await;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--allow-open-network"), "{stderr}");
    assert!(
        String::from_utf8_lossy(&output.stdout).is_empty(),
        "it never listened"
    );
}

#[tokio::test]
async fn postgres_needs_a_shared_token_key_file() {
    let output = run(
        &[
            "--db",
            "postgres://tidemark@127.0.0.1:1/tidemark",
            "--listen",
            "127.0.0.1:0",
        ],
        "",
    )
    .await;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--token-key-file is required"), "{stderr}");
}

#[tokio::test]
async fn the_token_key_file_is_created_private_and_a_readable_one_is_refused() {
    let (dir, db) = temp_db();
    let server = ServerProcess::spawn_binary(BINARY, &db, &[]).await;
    let key = dir.path().join("server.db.token-key");
    let mode = std::fs::metadata(&key)
        .unwrap_or_else(|e| panic!("no key file {}: {e}", key.display()))
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    drop(server);

    let shared = dir.path().join("shared.key");
    std::fs::write(&shared, [7u8; 64]).unwrap_or_else(|e| panic!("{e}"));
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o644))
        .unwrap_or_else(|e| panic!("{e}"));
    let db = db.to_string_lossy();
    let key_arg = shared.to_string_lossy();
    let output = run(
        &[
            "--db",
            &db,
            "--listen",
            "127.0.0.1:0",
            "--token-key-file",
            &key_arg,
        ],
        "",
    )
    .await;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("chmod 600"), "{stderr}");
}

#[tokio::test]
async fn user_commands_add_list_passwd_disable_enable_and_delete() {
    let (_dir, db) = temp_db();
    let added = user(
        &db,
        &["add", "Alice", "--password-stdin"],
        &format!("{PASSWORD}\n"),
    )
    .await;
    assert!(added.contains("added user 'Alice'"), "{added}");
    let taken = user_output(
        &db,
        &["add", "alice", "--password-stdin"],
        "another password\n",
    )
    .await;
    assert!(!taken.status.success(), "names compare case-insensitively");
    let short = user_output(&db, &["add", "bob", "--password-stdin"], "short\n").await;
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 8"));
    let no_terminal = user_output(&db, &["add", "bob"], "").await;
    assert!(String::from_utf8_lossy(&no_terminal.stderr).contains("--password-stdin"));

    let server = ServerProcess::spawn_binary(BINARY, &db, &[]).await;
    let api = Api::new(server.url());
    let first = token_of(&login(&api, "alice", PASSWORD).await);
    let alice = api.clone().with_token(&first);
    assert_eq!(alice.get("/tables/todoitem").await.status, 200);

    let list = user(&db, &["list"], "").await;
    assert!(list.contains("Alice") && list.contains("enabled"), "{list}");

    user(
        &db,
        &["passwd", "alice", "--password-stdin"],
        "brand new password\n",
    )
    .await;
    assert_eq!(
        alice.get("/tables/todoitem").await.status,
        401,
        "a password change revokes"
    );
    assert_eq!(login(&api, "alice", PASSWORD).await.status, 401);
    assert_eq!(login(&api, "alice", "brand new password").await.status, 200);

    user(&db, &["disable", "alice"], "").await;
    assert!(user(&db, &["list"], "").await.contains("disabled"));
    assert_eq!(login(&api, "alice", "brand new password").await.status, 401);
    user(&db, &["enable", "alice"], "").await;
    assert_eq!(login(&api, "alice", "brand new password").await.status, 200);

    let refused = user_output(&db, &["delete", "alice"], "not alice\n").await;
    assert!(
        !refused.status.success(),
        "an unconfirmed delete deletes nothing"
    );
    assert_eq!(login(&api, "alice", "brand new password").await.status, 200);
    let confirmed = user(&db, &["delete", "alice"], "Alice\n").await;
    assert!(confirmed.contains("deleted user 'Alice'"), "{confirmed}");
    assert_eq!(login(&api, "alice", "brand new password").await.status, 401);
    user(
        &db,
        &["add", "carol", "--password-stdin"],
        &format!("{PASSWORD}\n"),
    )
    .await;
    user(&db, &["delete", "carol", "--yes"], "").await;
    assert!(!user(&db, &["list"], "").await.contains("carol"));
    let missing = user_output(&db, &["disable", "nobody"], "").await;
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no user named 'nobody'"));
}

#[tokio::test]
async fn a_trace_log_shows_no_password_and_no_token() {
    let (_dir, db) = temp_db();
    let mut server =
        ServerProcess::spawn_binary(BINARY, &db, &["--log-level", "trace", "--signup", "open"])
            .await;
    let api = Api::new(server.url());
    let mut secrets = vec![PASSWORD.to_owned(), "wrong-guess-password".to_owned()];
    let signed_up = api
        .post(
            "/.auth/signup",
            json!({"username": "trace", "password": PASSWORD}),
        )
        .await;
    assert_eq!(signed_up.status, 201, "{}", signed_up.body);
    secrets.push(token_of(&signed_up));
    assert_eq!(
        login(&api, "trace", "wrong-guess-password").await.status,
        401
    );
    let token = token_of(&login(&api, "trace", PASSWORD).await);
    secrets.push(token.clone());
    let alice = api.clone().with_token(&token);
    alice.insert(json!({"id": "a", "text": "logged?"})).await;
    assert_eq!(
        alice
            .get("/tables/todoitem?$filter=text eq 'x'")
            .await
            .status,
        200
    );
    let bearer = api
        .req(reqwest::Method::GET, "/tables/todoitem/a")
        .header("Authorization", &format!("Bearer {token}"))
        .send()
        .await;
    assert_eq!(bearer.status, 200);
    let refreshed = alice.post("/.auth/refresh", json!({})).await;
    let renewed = token_of(&refreshed);
    secrets.push(renewed.clone());
    let renewed_api = api.clone().with_token(&renewed);
    assert_eq!(
        renewed_api.post("/.auth/logout", json!({})).await.status,
        204
    );
    assert_eq!(renewed_api.get("/tables/todoitem").await.status, 401);
    server.terminate().await;

    let log = std::fs::read_to_string(server.log_path()).unwrap_or_else(|e| panic!("{e}"));
    assert!(log.contains("DEBUG"), "debug lines are logged:\n{log}");
    assert!(log.contains("/.auth/login/tidemark"), "requests are logged");
    for secret in &secrets {
        assert!(!log.contains(secret.as_str()), "the log shows a secret");
        // Not even one of a token's three parts (its signature above all).
        for part in secret.split('.').filter(|p| p.len() > 16) {
            assert!(!log.contains(part), "the log shows part of a token");
        }
    }
}

/// A database from before accounts: its rows are served only without accounts until
/// `user add NAME --adopt-unowned` gives them to that user; `user delete --yes` then deletes
/// the user's rows with the account.
#[tokio::test]
async fn adopt_unowned_gives_old_rows_to_a_user_and_delete_takes_them_away() {
    let (_dir, db) = temp_db();
    let open = ServerProcess::spawn_binary(BINARY, &db, &["--no-auth"]).await;
    let shared = Api::new(open.url());
    for id in ["old-1", "old-2"] {
        assert_eq!(
            shared
                .post("/tables/todoitem", json!({"id": id, "text": "from before"}))
                .await
                .status,
            201
        );
    }
    drop(open);

    let added = user(
        &db,
        &["add", "dana", "--adopt-unowned", "--password-stdin"],
        &format!("{PASSWORD}\n"),
    )
    .await;
    assert!(added.contains("dana"), "{added}");
    let server = ServerProcess::spawn_binary(BINARY, &db, &[]).await;
    let api = Api::new(server.url());
    let dana = api
        .clone()
        .with_token(&token_of(&login(&api, "dana", PASSWORD).await));
    let mut ids = dana.get("/tables/todoitem").await.ids();
    ids.sort();
    assert_eq!(ids, ["old-1", "old-2"], "the old rows are dana's now");
    drop(server);

    let open = ServerProcess::spawn_binary(BINARY, &db, &["--no-auth"]).await;
    let shared = Api::new(open.url());
    assert!(
        shared.get("/tables/todoitem").await.ids().is_empty(),
        "adopted rows are no longer the shared list's"
    );
    drop(open);

    let deleted = user(&db, &["delete", "dana", "--yes"], "").await;
    assert!(deleted.contains("their 2 rows"), "{deleted}");
    let conn = rusqlite::Connection::open(&db).unwrap_or_else(|e| panic!("{e}"));
    let left: i64 = conn
        .query_row("SELECT count(*) FROM items", [], |r| r.get(0))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(left, 0, "the user's rows went with the account");
}

/// Writes a fresh random token key to `path`, readable by its owner only.
fn write_private_key(path: &Path) {
    let key: Vec<u8> = [uuid::Uuid::new_v4(), uuid::Uuid::new_v4()]
        .iter()
        .flat_map(|u| *u.as_bytes())
        .collect();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    file.write_all(&key).unwrap_or_else(|e| panic!("{e}"));
}

/// `GET /.auth/me`: its status and the user name it names.
async fn me(api: &Api) -> (u16, String) {
    let reply = api.get("/.auth/me").await;
    let name = reply.body["userName"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    (reply.status, name)
}

/// Three processes on one PostgreSQL database and one token key file: a token from any of
/// them works on all, rows written through one are read through another, a refresh on one
/// is honoured by the others, and so are a logout and a password change. A fourth process
/// with another key accepts none of their tokens, which shows it is the shared key at work.
#[tokio::test]
async fn three_processes_on_one_postgres_share_tokens_and_honour_a_logout() {
    let pg = PgDatabase::create().await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let key = dir.path().join("token.key");
    write_private_key(&key);
    let key = key.to_string_lossy().into_owned();
    user(
        pg.url(),
        &["add", "Alice", "--password-stdin"],
        &format!("{PASSWORD}\n"),
    )
    .await;
    let mut servers = Vec::new();
    for n in 1..=3 {
        let log = dir.path().join(format!("server-{n}.log"));
        let args = ["--token-key-file", key.as_str()];
        servers.push(ServerProcess::spawn_with_log(BINARY, pg.url(), log, &args).await);
    }
    let apis: Vec<Api> = servers.iter().map(|s| Api::new(s.url())).collect();
    let on = |process: usize, token: &str| apis[process - 1].clone().with_token(token);

    let signed_in = login(&apis[0], "alice", PASSWORD).await;
    assert_eq!(signed_in.status, 200, "{}", signed_in.body);
    let token = token_of(&signed_in);
    for process in 1..=3 {
        assert_eq!(me(&on(process, &token)).await, (200, "Alice".to_owned()));
    }
    let stored = on(2, &token)
        .insert(json!({"id": "shared", "text": "through process 2"}))
        .await;
    assert_eq!(
        on(3, &token).get("/tables/todoitem/shared").await.body,
        stored
    );

    let refreshed = on(3, &token).post("/.auth/refresh", json!({})).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    let renewed = token_of(&refreshed);
    assert_ne!(renewed, token);
    let patched = on(1, &renewed)
        .patch(
            "/tables/todoitem/shared",
            json!({"text": "through process 1"}),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    let read = on(2, &renewed).get("/tables/todoitem/shared").await;
    assert_eq!(read.body["text"], "through process 1");

    // Another session, signed in on process 3, outlives the logout of the first.
    let other = token_of(&login(&apis[2], "alice", PASSWORD).await);
    // A process with a key of its own accepts none of these tokens, nor they its.
    let stranger_log = dir.path().join("stranger.log");
    let stranger_key = dir.path().join("stranger.key");
    let stranger_key = stranger_key.to_string_lossy();
    let stranger = ServerProcess::spawn_with_log(
        BINARY,
        pg.url(),
        stranger_log,
        &["--token-key-file", &stranger_key],
    )
    .await;
    let stranger = Api::new(stranger.url());
    assert_eq!(me(&stranger.clone().with_token(&other)).await.0, 401);
    let strangers = token_of(&login(&stranger, "alice", PASSWORD).await);
    assert_eq!(me(&stranger.clone().with_token(&strangers)).await.0, 200);
    assert_eq!(me(&on(1, &strangers)).await.0, 401);

    let out = on(2, &renewed).post("/.auth/logout", json!({})).await;
    assert_eq!(out.status, 204, "{}", out.body);
    for process in 1..=3 {
        for (which, ended) in [("signed-in", &token), ("refreshed", &renewed)] {
            let api = on(process, ended);
            assert_eq!(me(&api).await.0, 401, "{which} token on process {process}");
            let write = api
                .post("/tables/todoitem", json!({"text": "after logout"}))
                .await;
            assert_eq!(write.status, 401, "{which} token on process {process}");
        }
        let still = on(process, &other).get("/tables/todoitem").await;
        assert_eq!(
            still.ids(),
            ["shared"],
            "the other session on process {process}"
        );
    }

    // A password change made by `user passwd` ends every earlier session on every process.
    user(
        pg.url(),
        &["passwd", "alice", "--password-stdin"],
        "a new password for alice\n",
    )
    .await;
    for process in 1..=3 {
        assert_eq!(me(&on(process, &other)).await.0, 401, "process {process}");
    }
    assert_eq!(me(&stranger.clone().with_token(&strangers)).await.0, 401);
    assert_eq!(login(&apis[1], "alice", PASSWORD).await.status, 401);
    let fresh = token_of(&login(&apis[1], "alice", "a new password for alice").await);
    for process in 1..=3 {
        assert_eq!(me(&on(process, &fresh)).await.0, 200, "process {process}");
    }
}
