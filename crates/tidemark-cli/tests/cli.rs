//! The `tidemark` binary as a user runs it: one process per command, a real server on
//! 127.0.0.1, real stores in temporary directories. Exit codes and one-line errors are part of
//! the contract, and nothing may be lost along the way.

mod common;

use common::{Device, run_raw};
use tidemark_testkit::server::TestServer;

#[test]
fn help_lists_every_subcommand_and_the_exit_codes() {
    let out = run_raw(&["--help"], None);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for sub in [
        "add",
        "list",
        "done",
        "undone",
        "edit",
        "rm",
        "import",
        "sync",
        "pending",
        "conflicts",
        "resolve",
        "purge",
        "rebuild",
        "status",
    ] {
        assert!(help.contains(sub), "help lacks {sub}:\n{help}");
    }
    assert!(help.contains("Exit codes"), "{help}");
    for sub in ["add", "list", "resolve", "purge", "import"] {
        let out = run_raw(&[sub, "--help"], None);
        assert!(out.status.success(), "{sub} --help failed");
        assert!(!out.stdout.is_empty());
    }
}

#[test]
fn add_prints_the_id_and_list_shows_the_todo() {
    let device = Device::offline();
    let id = device.ok(&["add", "Buy milk"]);
    assert_eq!(id.trim().len(), 36, "a UUID: {id}");
    let list = device.ok(&["list"]);
    assert!(
        list.contains("Buy milk") && list.contains(id.trim()),
        "{list}"
    );
}

#[test]
fn done_hides_a_todo_from_the_default_list_but_not_from_all() {
    let device = Device::offline();
    let id = device.add("Walk the dog");
    device.ok(&["done", &id]);
    assert!(!device.ok(&["list"]).contains("Walk the dog"));
    assert!(device.ok(&["list", "--all"]).contains("[x]"));
    device.ok(&["undone", &id]);
    assert!(device.ok(&["list"]).contains("Walk the dog"));
}

#[test]
fn edit_and_rm_change_the_list_and_json_output_is_parseable() {
    let device = Device::offline();
    let id = device.add("Draft");
    device.ok(&["edit", &id, "Final"]);
    let todos = device.json(&["list", "--all", "--json"]);
    assert_eq!(todos[0]["text"], "Final");
    assert_eq!(todos[0]["complete"], false);
    device.ok(&["rm", &id]);
    assert_eq!(
        device.json(&["list", "--all", "--json"]),
        serde_json::json!([])
    );
}

#[test]
fn import_adds_one_todo_per_non_empty_line() {
    let device = Device::offline();
    let out = device.run_with_stdin(&["import", "-"], "one\n\n  two  \n\nthree\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let todos = device.json(&["list", "--json"]);
    let texts: Vec<&str> = todos
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts.len(), 3);
    for t in ["one", "two", "three"] {
        assert!(texts.contains(&t), "{texts:?}");
    }
    assert_eq!(device.ok(&["pending"]).trim(), "3");
}

#[test]
fn import_with_one_bad_line_adds_nothing() {
    let device = Device::offline();
    let long = "x".repeat(1001);
    let out = device.run_with_stdin(&["import", "-"], &format!("fine\n{long}\n"));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(device.ok(&["pending"]).trim(), "0");
}

#[test]
fn empty_text_is_a_one_line_error_with_exit_code_1() {
    let device = Device::offline();
    let out = device.run(&["add", "   "]);
    assert_eq!(out.status.code(), Some(1));
    common::assert_one_line_error(&out, "empty");
    assert_eq!(device.ok(&["pending"]).trim(), "0");
}

#[test]
fn an_unknown_id_is_a_one_line_error_with_exit_code_1() {
    let device = Device::offline();
    device.add("keep me");
    for args in [
        &["done", "no-such-id"][..],
        &["edit", "no-such-id", "x"],
        &["rm", "no-such-id"],
    ] {
        let out = device.run(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        common::assert_one_line_error(&out, "no-such-id");
    }
    assert_eq!(device.ok(&["pending"]).trim(), "1");
}

#[test]
fn a_malformed_server_url_is_a_one_line_error_with_exit_code_1() {
    let device = Device::offline();
    let out = device.run(&["--server", "not a url", "sync"]);
    assert_eq!(out.status.code(), Some(1));
    common::assert_one_line_error(&out, "invalid server URL");
}

#[test]
fn an_unreachable_server_exits_3_and_keeps_every_change() {
    let device = Device::with_server(&common::unreachable_url());
    device.add("offline one");
    device.add("offline two");
    let out = device.run(&["sync"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    common::assert_one_line_error(&out, "unreachable");
    assert_eq!(device.ok(&["pending"]).trim(), "2");
}

#[test]
fn a_corrupt_store_is_a_one_line_error_and_the_file_is_left_untouched() {
    let device = Device::offline();
    let store = device.dir.path().join("tidemark.db");
    let garbage = b"this is not a SQLite database, but it is somebody's file".repeat(100);
    std::fs::write(&store, &garbage).unwrap();
    let out = device.run(&["list"]);
    assert_eq!(out.status.code(), Some(1));
    common::assert_one_line_error(&out, "tidemark.db");
    assert_eq!(std::fs::read(&store).unwrap(), garbage);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_pushes_then_pulls_and_a_second_device_sees_the_changes() {
    let server = TestServer::start_open().await;
    let laptop = Device::with_server(server.url());
    let id = laptop.add("Buy milk");
    laptop.add("Call mum");
    laptop.ok(&["done", &id]);
    assert_eq!(
        laptop.ok(&["pending"]).trim(),
        "2",
        "insert+update collapse"
    );
    assert_eq!(
        laptop.json(&["status", "--json"])["lastSync"],
        serde_json::Value::Null
    );
    let out = laptop.ok(&["sync"]);
    assert!(out.contains("pushed 2"), "{out}");
    assert_eq!(laptop.ok(&["pending"]).trim(), "0");
    assert!(
        laptop.json(&["status", "--json"])["lastSync"].is_string(),
        "the last sync is kept in the store for the next process"
    );

    let desktop = Device::with_server(server.url());
    desktop.ok(&["sync"]);
    let todos = desktop.json(&["list", "--all", "--json"]);
    assert_eq!(todos.as_array().unwrap().len(), 2);
    let milk = todos
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == id.as_str())
        .unwrap();
    assert_eq!(milk["complete"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflicting_sync_exits_2_and_resolve_keeps_mine_or_theirs() {
    let server = TestServer::start_open().await;
    let a = Device::with_server(server.url());
    let b = Device::with_server(server.url());
    let first = a.add("first");
    let second = a.add("second");
    a.ok(&["sync"]);
    b.ok(&["sync"]);

    a.ok(&["edit", &first, "first from A"]);
    a.ok(&["edit", &second, "second from A"]);
    a.ok(&["sync"]);
    b.ok(&["edit", &first, "first from B"]);
    b.ok(&["edit", &second, "second from B"]);

    let out = b.run(&["sync"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let conflicts = b.json(&["conflicts", "--json"]);
    assert_eq!(conflicts.as_array().unwrap().len(), 2);
    assert_eq!(conflicts[0]["status"], 412);

    b.ok(&["resolve", &first, "--keep", "mine"]);
    b.ok(&["resolve", &second, "--keep", "theirs"]);
    b.ok(&["sync"]);
    a.ok(&["sync"]);
    for device in [&a, &b] {
        let todos = device.json(&["list", "--all", "--json"]);
        let text_of = |id: &str| {
            todos
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["id"] == id)
                .map(|t| t["text"].as_str().unwrap().to_owned())
                .unwrap()
        };
        assert_eq!(text_of(&first), "first from B");
        assert_eq!(text_of(&second), "second from A");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_refuses_with_pending_changes_and_the_next_sync_brings_rows_back() {
    let server = TestServer::start_open().await;
    let device = Device::with_server(server.url());
    device.add("synced");
    device.ok(&["sync"]);
    device.add("not yet pushed");

    let out = device.run(&["purge"]);
    assert_eq!(out.status.code(), Some(1));
    common::assert_one_line_error(&out, "pending");
    assert_eq!(
        device.json(&["list", "--json"]).as_array().unwrap().len(),
        2
    );

    device.ok(&["purge", "--force"]);
    assert_eq!(device.json(&["list", "--json"]), serde_json::json!([]));
    assert_eq!(device.ok(&["pending"]).trim(), "0");
    device.ok(&["sync"]);
    let todos = device.json(&["list", "--json"]);
    assert_eq!(todos.as_array().unwrap().len(), 1);
    assert_eq!(todos[0]["text"], "synced");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuild_refuses_naming_the_waiting_changes_then_pulls_everything_again() {
    let server = TestServer::start_open().await;
    let device = Device::with_server(server.url());
    device.add("synced");
    device.ok(&["sync"]);
    device.add("not yet pushed");
    device.add("nor this");

    // Refused, saying how many would be lost; nothing removed.
    let out = device.run(&["rebuild"]);
    assert_eq!(out.status.code(), Some(1));
    common::assert_one_line_error(&out, "2 change(s) have not been sent");
    common::assert_one_line_error(&out, "tidemark rebuild --lose 2");
    // A number that is not the count is refused too.
    let out = device.run(&["rebuild", "--lose", "1"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        device.json(&["list", "--json"]).as_array().map(Vec::len),
        Some(3)
    );

    let said = device.ok(&["rebuild", "--lose", "2"]);
    assert!(
        said.contains("3 todo(s) removed, 1 pulled from the server; 2 unsent change(s) dropped"),
        "{said}"
    );
    let todos = device.json(&["list", "--json"]);
    assert_eq!(todos.as_array().map(Vec::len), Some(1));
    assert_eq!(todos[0]["text"], "synced");
    assert_eq!(device.ok(&["pending"]).trim(), "0");

    // Nothing waiting: it simply rebuilds.
    let said = device.ok(&["rebuild"]);
    assert!(said.contains("1 todo(s) removed, 1 pulled"), "{said}");

    // The server gone: refused before anything is removed.
    drop(server);
    let out = device.run(&["rebuild"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert_eq!(
        device.json(&["list", "--json"]).as_array().map(Vec::len),
        Some(1)
    );
}

#[test]
fn status_json_reports_pending_and_server() {
    let device = Device::with_server("http://127.0.0.1:9");
    device.add("x");
    let status = device.json(&["status", "--json"]);
    assert_eq!(status["pending"], 1);
    assert_eq!(status["server"], "http://127.0.0.1:9");
}
