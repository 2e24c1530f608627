//! The commands' behaviour without a display: [`Backend`] on a real store in a temporary
//! directory, against real servers on 127.0.0.1 (in-process, or the binary when it must go
//! down and come back).

use std::os::unix::fs::PermissionsExt as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tempfile::TempDir;
use tidemark_server::ServerConfig;
use tidemark_server::accounts::{AccountsConfig, AuthMode, ThrottleConfig};
use tidemark_testkit::server::{ServerProcess, TestServer};

use tidemark_todos::Resolution;

use crate::backend::{Backend, BackendConfig, Notifier, StatusView};
use crate::error::CommandError;
use crate::settings::{MemorySettingsStore, Settings, SettingsStore};

/// Keeps every status the backend published.
#[derive(Default)]
struct Recorder {
    statuses: Mutex<Vec<StatusView>>,
    reloads: Mutex<usize>,
}

impl Notifier for Recorder {
    fn status(&self, status: &StatusView) {
        self.statuses.lock().unwrap().push(status.clone());
    }
    fn todos_changed(&self) {
        *self.reloads.lock().unwrap() += 1;
    }
}

impl Recorder {
    /// Waits up to `secs` for a published status with this pending count.
    async fn heard_pending(self: &Arc<Self>, pending: u64, secs: u64) -> bool {
        eventually(secs, || {
            let r = Arc::clone(self);
            async move {
                let statuses = r.statuses.lock().unwrap();
                statuses.iter().any(|s| s.list.pending == pending)
            }
        })
        .await
    }
}

struct Fixture {
    backend: Arc<Backend>,
    recorder: Arc<Recorder>,
    dir: TempDir,
}

async fn open(settings: Option<Settings>) -> Fixture {
    open_with(settings, None).await
}

async fn open_with(settings: Option<Settings>, server_override: Option<&str>) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Arc::new(Recorder::default());
    let config = BackendConfig {
        data_dir: dir.path().join("data"),
        server_override: server_override.map(str::to_owned),
        app_key_override: None,
        session_file: Some(dir.path().join("session.json")),
        no_keyring: true,
    };
    let backend = Backend::open(
        config,
        Box::new(MemorySettingsStore::with(settings)),
        recorder.clone(),
    )
    .await
    .unwrap();
    Fixture {
        backend,
        recorder,
        dir,
    }
}

/// A second start of the app on `f`'s files (data directory and session file).
async fn reopen(f: &Fixture, settings: Option<Settings>) -> Arc<Backend> {
    let config = BackendConfig {
        data_dir: f.dir.path().join("data"),
        server_override: None,
        app_key_override: None,
        session_file: Some(f.dir.path().join("session.json")),
        no_keyring: true,
    };
    let settings = Box::new(MemorySettingsStore::with(settings));
    Backend::open(config, settings, Arc::new(Recorder::default()))
        .await
        .unwrap()
}

fn server_settings(url: &str, key: &str, auto: bool) -> Settings {
    Settings {
        server_url: url.to_owned(),
        app_key: key.to_owned(),
        sync_automatically: auto,
    }
}

/// Waits up to `secs` for `check` to hold.
async fn eventually<F, Fut>(secs: u64, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test]
async fn todos_are_added_completed_renamed_and_deleted_offline() {
    let f = open(None).await;
    let b = &f.backend;
    let milk = b.add_todo("  Buy milk ").await.unwrap();
    assert_eq!(milk.text, "Buy milk");
    let plumber = b.add_todo("Call the plumber").await.unwrap();
    b.set_complete(&plumber.id, true).await.unwrap();
    b.edit_todo(&milk.id, "Buy oat milk").await.unwrap();

    let all = b.list_todos(true).await.unwrap();
    assert_eq!(
        all.iter()
            .map(|t| (t.text.as_str(), t.complete))
            .collect::<Vec<_>>(),
        [("Buy oat milk", false), ("Call the plumber", true)]
    );
    assert_eq!(b.list_todos(false).await.unwrap().len(), 1);
    // Edits and completions fold into the queued inserts.
    assert_eq!(b.status().await.unwrap().list.pending, 2);

    b.delete_todo(&plumber.id).await.unwrap();
    assert_eq!(b.list_todos(true).await.unwrap().len(), 1);
    assert_eq!(b.status().await.unwrap().list.pending, 1);
}

#[tokio::test]
async fn bad_text_is_refused_and_nothing_is_stored() {
    let f = open(None).await;
    for text in ["", "   ", "\n"] {
        let e = f.backend.add_todo(text).await.unwrap_err();
        assert_eq!(e.kind(), "invalidText");
        assert_eq!(e.to_string(), "The text of a todo cannot be empty.");
    }
    let e = f.backend.add_todo(&"x".repeat(1001)).await.unwrap_err();
    assert_eq!(e.kind(), "invalidText");
    assert!(e.to_string().contains("1000"), "{e}");
    assert!(f.backend.list_todos(true).await.unwrap().is_empty());

    let todo = f.backend.add_todo("Keep me").await.unwrap();
    let e = f.backend.edit_todo(&todo.id, " ").await.unwrap_err();
    assert_eq!(e.kind(), "invalidText");
    assert_eq!(f.backend.list_todos(true).await.unwrap()[0].text, "Keep me");
}

#[tokio::test]
async fn a_missing_todo_is_not_found() {
    let f = open(None).await;
    let e = f.backend.set_complete("nope", true).await.unwrap_err();
    assert_eq!(e.kind(), "notFound");
    assert_eq!(
        f.backend.delete_todo("nope").await.unwrap_err().kind(),
        "notFound"
    );
}

#[tokio::test]
async fn sync_without_a_server_says_to_set_one() {
    let f = open(None).await;
    f.backend.add_todo("Offline only").await.unwrap();
    let e = f.backend.sync().await.unwrap_err();
    assert_eq!(e.kind(), "noServer");
    let status = f.backend.status().await.unwrap();
    assert_eq!(status.list.pending, 1);
    assert_eq!(status.list.server, None);
    assert_eq!(status.last_error_kind, Some("noServer"));
}

#[tokio::test]
async fn an_unreachable_server_keeps_the_changes() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let f = open(Some(server_settings(&url, "", false))).await;
    f.backend.add_todo("Buy milk").await.unwrap();
    let e = f.backend.sync().await.unwrap_err();
    assert_eq!(e.kind(), "unreachable");
    assert!(e.to_string().contains(&url), "{e}");
    let status = f.backend.status().await.unwrap();
    assert_eq!(status.list.pending, 1);
    assert_eq!(status.last_error_kind, Some("unreachable"));
    assert_eq!(status.list.connectivity, "offline");
    assert_eq!(f.backend.list_todos(true).await.unwrap().len(), 1);
}

#[tokio::test]
async fn sync_pushes_then_pulls_and_clears_the_error() {
    let server = TestServer::start_open().await;
    let f = open(Some(server_settings(server.url(), "", false))).await;
    f.backend.add_todo("Buy milk").await.unwrap();
    let outcome = f.backend.sync().await.unwrap();
    assert_eq!(outcome.pushed, 1);
    assert_eq!(outcome.conflicts, 0);
    let status = f.backend.status().await.unwrap();
    assert_eq!(status.list.pending, 0);
    assert!(status.list.last_sync.is_some());
    assert_eq!(status.list.last_error, None);
    assert_eq!(status.list.connectivity, "online");
    assert!(
        *f.recorder.reloads.lock().unwrap() > 0,
        "the UI was not told to reload"
    );

    // Another client's todo arrives with the next sync.
    let other = open(Some(server_settings(server.url(), "", false))).await;
    other.backend.add_todo("From elsewhere").await.unwrap();
    other.backend.sync().await.unwrap();
    f.backend.sync().await.unwrap();
    let texts: Vec<String> = f
        .backend
        .list_todos(true)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.text)
        .collect();
    assert_eq!(texts, ["Buy milk", "From elsewhere"]);
}

#[tokio::test]
async fn rebuilding_refuses_while_changes_wait_and_loses_only_the_confirmed_number() {
    let server = TestServer::start_open().await;
    let f = open(Some(server_settings(server.url(), "", false))).await;
    f.backend.add_todo("Synced").await.unwrap();
    f.backend.sync().await.unwrap();
    f.backend.add_todo("Not sent").await.unwrap();

    let refused = f.backend.rebuild_local_copy(0).await.unwrap_err();
    assert_eq!(refused, CommandError::ChangesWait(1));
    assert_eq!(refused.kind(), "changesWait");
    assert_eq!(
        refused.to_string(),
        "1 change has not been sent to the server yet and would be lost. Nothing was removed."
    );
    assert_eq!(
        f.backend.rebuild_local_copy(2).await.unwrap_err(),
        CommandError::ChangesWait(1)
    );
    assert_eq!(f.backend.list_todos(true).await.unwrap().len(), 2);

    let rebuilt = f.backend.rebuild_local_copy(1).await.unwrap();
    assert_eq!((rebuilt.removed, rebuilt.pulled, rebuilt.lost), (2, 1, 1));
    let texts: Vec<String> = f
        .backend
        .list_todos(true)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.text)
        .collect();
    assert_eq!(texts, ["Synced"]);
    assert_eq!(f.backend.status().await.unwrap().list.pending, 0);
}

#[tokio::test]
async fn a_wrong_app_key_is_unauthorized_and_the_right_one_syncs() {
    let server = TestServer::start_with(ServerConfig {
        app_key: Some("sesame".into()),
        ..ServerConfig::open()
    })
    .await;
    let f = open(Some(server_settings(server.url(), "wrong", false))).await;
    f.backend.add_todo("Buy milk").await.unwrap();
    let e = f.backend.sync().await.unwrap_err();
    assert_eq!(e.kind(), "unauthorized");
    assert_eq!(f.backend.status().await.unwrap().list.pending, 1);

    f.backend
        .save_settings(server_settings(server.url(), "sesame", false))
        .await
        .unwrap();
    f.backend.sync().await.unwrap();
    assert_eq!(f.backend.status().await.unwrap().list.pending, 0);
}

#[tokio::test]
async fn invalid_settings_are_refused_and_valid_ones_are_saved_and_applied() {
    let f = open(None).await;
    let before = f.backend.get_settings();
    let e = f
        .backend
        .save_settings(server_settings("ftp://example.org", "", true))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), "invalidServerUrl");
    assert_eq!(f.backend.get_settings(), before);

    let server = TestServer::start_open().await;
    let saved = f
        .backend
        .save_settings(server_settings(&format!("{}/", server.url()), " k ", false))
        .await
        .unwrap();
    assert_eq!(saved.settings.server_url, server.url());
    assert_eq!(saved.settings.app_key, "k");
    assert_eq!(saved.data_dir, f.dir.path().join("data"));
    assert_eq!(
        f.backend.status().await.unwrap().list.server.as_deref(),
        Some(server.url())
    );
    f.backend.add_todo("Buy milk").await.unwrap();
    f.backend.sync().await.unwrap();
}

#[tokio::test]
async fn the_environment_overrides_the_saved_server() {
    let f = open_with(
        Some(server_settings("http://127.0.0.1:1", "", false)),
        Some("http://127.0.0.1:2/"),
    )
    .await;
    let view = f.backend.get_settings();
    assert_eq!(view.settings.server_url, "http://127.0.0.1:2");
    assert!(view.server_from_env);
}

#[tokio::test]
async fn settings_round_trip_through_the_store() {
    let store = MemorySettingsStore::default();
    let s = server_settings("http://127.0.0.1:9", "key", true);
    store.save(&s).unwrap();
    assert_eq!(store.load(), Some(s));
}

#[tokio::test]
async fn conflicts_are_listed_and_each_resolution_syncs() {
    let server = TestServer::start_open().await;
    let settings = server_settings(server.url(), "", false);
    let me = open(Some(settings.clone())).await;
    let them = open(Some(settings)).await;
    let mut ids = Vec::new();
    for text in ["Buy milk", "Pay rent", "Fix bike"] {
        ids.push(me.backend.add_todo(text).await.unwrap().id);
    }
    me.backend.sync().await.unwrap();
    them.backend.sync().await.unwrap();
    for (id, text) in ids
        .iter()
        .zip(["Buy oat milk", "Pay rent today", "Fix bike brakes"])
    {
        them.backend.edit_todo(id, text).await.unwrap();
    }
    them.backend.sync().await.unwrap();
    for (id, text) in ids
        .iter()
        .zip(["Buy 2 milk", "Pay rent by card", "Fix bike chain"])
    {
        me.backend.edit_todo(id, text).await.unwrap();
    }

    let outcome = me.backend.sync().await.unwrap();
    assert_eq!(outcome.conflicts, 3);
    let conflicts = me.backend.conflicts().await.unwrap();
    assert_eq!(conflicts.len(), 3);
    assert_eq!(conflicts[0].mine.as_ref().unwrap().text, "Buy 2 milk");
    assert_eq!(conflicts[0].theirs.as_ref().unwrap().text, "Buy oat milk");
    assert_eq!(me.backend.status().await.unwrap().list.conflicts, 3);

    me.backend
        .resolve_conflict(&ids[0], Resolution::KeepMine)
        .await
        .unwrap();
    me.backend
        .resolve_conflict(&ids[1], Resolution::KeepTheirs)
        .await
        .unwrap();
    let e = me
        .backend
        .resolve_conflict(&ids[2], Resolution::KeepText(" ".into()))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), "invalidText");
    me.backend
        .resolve_conflict(
            &ids[2],
            Resolution::KeepText("Fix bike chain and brakes".into()),
        )
        .await
        .unwrap();
    let e = me
        .backend
        .resolve_conflict(&ids[0], Resolution::KeepMine)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), "noConflict");

    let outcome = me.backend.sync().await.unwrap();
    assert_eq!(outcome.conflicts, 0);
    them.backend.sync().await.unwrap();
    let texts =
        |todos: Vec<tidemark_todos::Todo>| todos.into_iter().map(|t| t.text).collect::<Vec<_>>();
    let expected = ["Buy 2 milk", "Pay rent today", "Fix bike chain and brakes"];
    assert_eq!(texts(me.backend.list_todos(true).await.unwrap()), expected);
    assert_eq!(
        texts(them.backend.list_todos(true).await.unwrap()),
        expected
    );
}

#[tokio::test]
async fn the_resolution_choice_reads_the_ui_shape() {
    let keep: Resolution =
        serde_json::from_value(serde_json::json!({"choice": "keepText", "text": "t"})).unwrap();
    assert_eq!(keep, Resolution::KeepText("t".into()));
    let mine: Resolution =
        serde_json::from_value(serde_json::json!({"choice": "keepMine"})).unwrap();
    assert_eq!(mine, Resolution::KeepMine);
}

#[tokio::test]
async fn status_changes_are_published() {
    let f = open(None).await;
    tokio::spawn(Arc::clone(&f.backend).watch_status());
    tokio::time::sleep(Duration::from_millis(50)).await;
    f.backend.add_todo("Buy milk").await.unwrap();
    assert!(
        f.recorder.heard_pending(1, 5).await,
        "no sync-status with pending 1"
    );
}

#[tokio::test]
async fn changes_made_by_another_program_show_up_within_two_seconds() {
    let f = open(None).await;
    tokio::spawn(Arc::clone(&f.backend).watch_store());
    // The CLI opens the same store and adds a todo.
    let cli = tidemark_todos::TodoList::open(&f.dir.path().join("data"), None, None)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let reloads_before = *f.recorder.reloads.lock().unwrap();
    cli.add("From the CLI").await.unwrap();
    cli.close().await;
    let recorder = Arc::clone(&f.recorder);
    // The README's promise: within two seconds.
    assert!(
        eventually(2, || {
            let r = Arc::clone(&recorder);
            async move { *r.reloads.lock().unwrap() > reloads_before }
        })
        .await,
        "the store change was not noticed within 2 s"
    );
    assert_eq!(
        f.backend.list_todos(true).await.unwrap()[0].text,
        "From the CLI"
    );
    // The badge heard of the CLI's queued change too.
    assert!(
        f.recorder.heard_pending(1, 2).await,
        "no sync-status with the CLI's pending change"
    );
}

#[tokio::test]
async fn the_apps_own_changes_do_not_look_like_another_programs() {
    let f = open(None).await;
    tokio::spawn(Arc::clone(&f.backend).watch_store());
    tokio::time::sleep(Duration::from_millis(100)).await;
    f.backend.add_todo("Mine").await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        *f.recorder.reloads.lock().unwrap(),
        0,
        "the app's own change made the list reload"
    );
}

#[tokio::test]
async fn the_status_reaches_the_ui_as_one_flat_object() {
    let f = open(None).await;
    f.backend.add_todo("Buy milk").await.unwrap();
    let json = serde_json::to_value(f.backend.status().await.unwrap()).unwrap();
    assert_eq!(json["pending"], 1);
    assert_eq!(json["connectivity"], "unknown");
    assert_eq!(json["syncAutomatically"], false);
    assert!(json["lastError"].is_null() && json["lastErrorKind"].is_null());
    assert!(json.get("list").is_none(), "{json}");
    assert!(json["user"].is_null(), "signed out: {json}");
}

#[tokio::test]
async fn sync_automatically_syncs_after_edits_and_when_the_server_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::spawn(dir.path().join("server.db"), &["--no-auth"]).await;
    let f = open(Some(server_settings(server.url(), "", true))).await;
    tokio::spawn(Arc::clone(&f.backend).auto_sync());

    f.backend.add_todo("Buy milk").await.unwrap();
    let b = Arc::clone(&f.backend);
    assert!(
        eventually(10, || {
            let b = Arc::clone(&b);
            async move { b.status().await.unwrap().list.pending == 0 }
        })
        .await,
        "the edit was not synced automatically"
    );

    server.terminate().await;
    f.backend.add_todo("Call the plumber").await.unwrap();
    let b = Arc::clone(&f.backend);
    assert!(
        eventually(10, || {
            let b = Arc::clone(&b);
            async move { b.status().await.unwrap().last_error_kind == Some("unreachable") }
        })
        .await,
        "the failed automatic sync was not reported"
    );
    assert_eq!(f.backend.status().await.unwrap().list.pending, 1);

    server.restart().await;
    let b = Arc::clone(&f.backend);
    assert!(
        eventually(20, || {
            let b = Arc::clone(&b);
            async move { b.status().await.unwrap().list.pending == 0 }
        })
        .await,
        "no automatic sync once the server was back"
    );
}

#[tokio::test]
async fn no_sync_happens_by_default() {
    let server = TestServer::start_open().await;
    let f = open(Some(server_settings(server.url(), "", false))).await;
    tokio::spawn(Arc::clone(&f.backend).auto_sync());
    f.backend.add_todo("Buy milk").await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let status = f.backend.status().await.unwrap();
    assert_eq!(status.list.pending, 1);
    assert_eq!(status.list.connectivity, "unknown");
}

/// A server with accounts on and sign-up open.
async fn accounts_server() -> TestServer {
    TestServer::start_with_signup().await
}

const PASSWORD: &str = "correct horse battery";

fn texts(todos: Vec<tidemark_todos::Todo>) -> Vec<String> {
    todos.into_iter().map(|t| t.text).collect()
}

#[tokio::test]
async fn each_account_has_its_own_store_and_the_local_list_can_come_in() {
    let server = accounts_server().await;
    let f = open(Some(server_settings(server.url(), "", false))).await;
    let b = &f.backend;
    // Signed out: the local list, which the server does not take.
    b.add_todo("Written before signing in").await.unwrap();
    assert_eq!(b.account().await.unwrap().user, None);
    let refused = b.sync().await.unwrap_err();
    assert_eq!(refused.kind(), "account");
    assert!(
        refused.to_string().contains("1 change(s) are kept"),
        "{refused}"
    );

    // Signing up opens Alice's own store; the local list waits to be brought in.
    let alice = b.sign_in("alice", PASSWORD, true).await.unwrap();
    assert_eq!(alice.user.as_deref(), Some("alice"));
    assert_eq!(alice.local_todos, 1);
    assert_eq!(b.status().await.unwrap().user.as_deref(), Some("alice"));
    assert!(b.list_todos(true).await.unwrap().is_empty());
    b.add_todo("Alice's own").await.unwrap();
    assert_eq!(b.bring_local_list().await.unwrap(), 1);
    assert_eq!(b.account().await.unwrap().local_todos, 0);
    assert_eq!(b.sync().await.unwrap().pushed, 2);

    // Signed out with nothing waiting; then Bob, on the same computer, starts empty.
    let out = b.sign_out().await.unwrap();
    assert_eq!((out.pending_kept, out.ended_on_server), (0, true));
    assert!(b.list_todos(true).await.unwrap().is_empty());
    b.sign_in("bob", PASSWORD, true).await.unwrap();
    assert!(b.list_todos(true).await.unwrap().is_empty());
    b.add_todo("Bob's, not synced").await.unwrap();
    let out = b.sign_out().await.unwrap();
    assert_eq!(out.pending_kept, 1);

    // Alice again: her list, nothing of Bob's; the server agrees.
    b.sign_in("alice", PASSWORD, false).await.unwrap();
    let mut hers = texts(b.list_todos(true).await.unwrap());
    hers.sort();
    assert_eq!(hers, ["Alice's own", "Written before signing in"]);
    b.sync().await.unwrap();
    assert_eq!(b.list_todos(true).await.unwrap().len(), 2);
    // Bob's waiting change is still in his store when he comes back, and goes up then.
    b.sign_out().await.unwrap();
    b.sign_in("bob", PASSWORD, false).await.unwrap();
    assert_eq!(b.status().await.unwrap().list.pending, 1);
    assert_eq!(b.sync().await.unwrap().pushed, 1);
    assert_eq!(
        texts(b.list_todos(true).await.unwrap()),
        ["Bob's, not synced"]
    );
}

#[tokio::test]
async fn account_errors_are_said_in_plain_words_and_change_nothing() {
    let server = accounts_server().await;
    // No server: nothing to sign in to.
    let offline = open(None).await;
    let none = offline.backend.sign_in("alice", PASSWORD, true).await;
    assert_eq!(none.unwrap_err(), CommandError::NoServer);
    let signed_out = offline.backend.bring_local_list().await.unwrap_err();
    assert!(
        signed_out.to_string().contains("Sign in first"),
        "{signed_out}"
    );
    let nothing = offline.backend.sign_out().await.unwrap();
    assert_eq!((nothing.pending_kept, nothing.ended_on_server), (0, false));

    let f = open(Some(server_settings(server.url(), "", false))).await;
    let b = &f.backend;
    b.sign_in("alice", PASSWORD, true).await.unwrap();
    b.sign_out().await.unwrap();
    let cases = [
        (
            "alice",
            "not the password",
            false,
            "Wrong user name or password.",
        ),
        ("nobody", PASSWORD, false, "Wrong user name or password."),
        (
            "alice",
            PASSWORD,
            true,
            "The user name is taken: choose another.",
        ),
    ];
    for (user, password, create, said) in cases {
        let e = b.sign_in(user, password, create).await.unwrap_err();
        assert_eq!((e.kind(), e.to_string().as_str()), ("account", said));
        assert_eq!(b.account().await.unwrap().user, None, "still signed out");
    }
    // An unreachable server says so.
    let gone = open(Some(server_settings("http://127.0.0.1:9", "", false))).await;
    let e = gone
        .backend
        .sign_in("alice", PASSWORD, false)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), "unreachable");
}

#[tokio::test]
async fn a_session_saved_by_the_cli_is_used_at_start_and_kept_out_of_the_settings() {
    let server = accounts_server().await;
    let f = open(Some(server_settings(server.url(), "", false))).await;
    f.backend.sign_in("alice", PASSWORD, true).await.unwrap();
    f.backend.add_todo("Kept in Alice's store").await.unwrap();
    f.backend.close().await;
    // The session file holds the token, private to the user; the settings never do.
    let session_file = f.dir.path().join("session.json");
    let mode = std::fs::metadata(&session_file).map(|m| m.permissions().mode() & 0o777);
    assert_eq!(mode.ok(), Some(0o600));
    let account = f.backend.account().await.unwrap();
    assert_eq!(account.token_place, Some(tidemark_todos::TokenPlace::File));
    let saved = std::fs::read_to_string(&session_file).unwrap();
    let token = serde_json::from_str::<serde_json::Value>(&saved).unwrap()["sessions"]
        [server.url().trim_end_matches('/')]["token"]
        .as_str()
        .map(str::to_owned)
        .unwrap();
    let settings = serde_json::to_string(&f.backend.get_settings()).unwrap();
    assert!(!settings.contains(&token));

    // The next start (the same files) opens Alice's store, signed in.
    let again = reopen(&f, Some(server_settings(server.url(), "", false))).await;
    assert_eq!(
        again.account().await.unwrap().user.as_deref(),
        Some("alice")
    );
    assert_eq!(
        texts(again.list_todos(true).await.unwrap()),
        ["Kept in Alice's store"]
    );
    assert_eq!(again.sync().await.unwrap().pushed, 1);
}

#[tokio::test]
async fn sign_up_is_offered_where_the_server_allows_it() {
    let open_server = accounts_server().await;
    let closed_server = TestServer::start_with(ServerConfig::default()).await;
    let open_app = open(Some(server_settings(open_server.url(), "", false))).await;
    assert_eq!(open_app.backend.signup_allowed().await, Some(true));
    let closed_app = open(Some(server_settings(closed_server.url(), "", false))).await;
    assert_eq!(closed_app.backend.signup_allowed().await, Some(false));
    let refused = closed_app.backend.sign_in("alice", PASSWORD, true).await;
    let refused = refused.unwrap_err();
    assert_eq!(refused.kind(), "account");
    assert!(
        refused.to_string().contains("Sign-up is closed"),
        "{refused}"
    );
    let no_server = open(None).await;
    assert_eq!(no_server.backend.signup_allowed().await, None);
}

#[tokio::test]
async fn an_ended_session_keeps_the_changes_until_the_next_sign_in() {
    let server = accounts_server().await;
    let f = open(Some(server_settings(server.url(), "", false))).await;
    let b = &f.backend;
    b.sign_in("alice", PASSWORD, true).await.unwrap();
    b.add_todo("one").await.unwrap();
    b.sync().await.unwrap();
    b.add_todo("two").await.unwrap();
    // The session ends elsewhere (a sign-out on another device).
    let saved = std::fs::read_to_string(f.dir.path().join("session.json")).unwrap();
    let saved: serde_json::Value = serde_json::from_str(&saved).unwrap();
    let session: tidemark_todos::tidemark_client::Session =
        serde_json::from_value(saved["sessions"][server.url().trim_end_matches('/')].clone())
            .unwrap();
    let auth = tidemark_todos::auth_client(server.url(), None).unwrap();
    auth.logout(&session).await.unwrap();

    let e = b.sync().await.unwrap_err();
    assert_eq!(e.kind(), "account");
    assert!(e.to_string().contains("1 change(s) are kept"), "{e}");
    let account = b.account().await.unwrap();
    assert!(account.session_ended);
    assert_eq!(account.user.as_deref(), Some("alice"));
    assert_eq!(b.status().await.unwrap().list.pending, 1);

    b.sign_in("alice", PASSWORD, false).await.unwrap();
    assert!(!b.account().await.unwrap().session_ended);
    assert_eq!(b.sync().await.unwrap().pushed, 1);
    let mut all = texts(b.list_todos(true).await.unwrap());
    all.sort();
    assert_eq!(all, ["one", "two"]);
}

#[tokio::test]
async fn too_many_failed_sign_ins_say_how_long_to_wait() {
    let server = TestServer::start_with(ServerConfig {
        auth: AuthMode::Accounts(AccountsConfig {
            signup_open: true,
            throttle: ThrottleConfig {
                per_name: 2,
                ..ThrottleConfig::default()
            },
            ..AccountsConfig::default()
        }),
        ..ServerConfig::default()
    })
    .await;
    let f = open(Some(server_settings(server.url(), "", false))).await;
    let b = &f.backend;
    b.sign_in("alice", PASSWORD, true).await.unwrap();
    b.sign_out().await.unwrap();
    for _ in 0..2 {
        let wrong = b.sign_in("alice", "not it", false).await.unwrap_err();
        assert_eq!(wrong.to_string(), "Wrong user name or password.");
    }
    let throttled = b.sign_in("alice", PASSWORD, false).await.unwrap_err();
    assert_eq!(throttled.kind(), "account");
    let said = throttled.to_string();
    assert!(
        said.starts_with("Too many failed sign-ins; try again in ") && said.ends_with(" s."),
        "{said}"
    );
    assert_eq!(b.account().await.unwrap().user, None);
}
