//! Changes waiting for a decision, through the `tidemark` binary: an edit of a todo deleted on
//! another device, a change the server refuses, and a sync that still brings everyone else's
//! todos while such changes wait. How `sync` and `conflicts` show them, and `resolve`.

mod common;

use common::Device;
use tidemark_testkit::server::TestServer;

/// The text of todo `id` on `device` (`None` when it has no such todo).
fn text_of(device: &Device, id: &str) -> Option<String> {
    device
        .json(&["list", "--all", "--json"])
        .as_array()?
        .iter()
        .find(|t| t["id"] == id)
        .and_then(|t| t["text"].as_str().map(str::to_owned))
}

/// `sync` on `device`, which must end with changes waiting (exit 2); returns its output.
fn sync_waiting(device: &Device) -> String {
    let out = device.run(&["sync"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_of_a_todo_deleted_on_another_device_is_shown_so_and_resolved_either_way() {
    let server = TestServer::start_open().await;
    let a = Device::with_server(server.url());
    let b = Device::with_server(server.url());
    let back = a.add("bring me back");
    let gone = a.add("let me go");
    a.ok(&["sync"]);
    b.ok(&["sync"]);
    a.ok(&["rm", &back]);
    a.ok(&["rm", &gone]);
    a.ok(&["sync"]);
    b.ok(&["edit", &back, "edited on b"]);
    b.ok(&["edit", &gone, "edited too"]);

    let said = sync_waiting(&b);
    assert!(said.contains("2 change(s) wait for a decision"), "{said}");
    let shown = b.ok(&["conflicts"]);
    assert!(shown.contains("deleted on another device"), "{shown}");
    assert!(shown.contains("--keep mine (bring it back)"), "{shown}");
    let listed = b.json(&["conflicts", "--json"]);
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["kind"] == "deletedElsewhere"),
        "{listed}"
    );

    b.ok(&["resolve", &back, "--keep", "mine"]);
    b.ok(&["resolve", &gone, "--keep", "theirs"]);
    assert_eq!(text_of(&b, &gone), None);
    b.ok(&["sync"]);
    a.ok(&["sync"]);
    for device in [&a, &b] {
        assert_eq!(text_of(device, &back).as_deref(), Some("edited on b"));
        assert_eq!(text_of(device, &gone), None);
    }
    assert!(
        b.json(&["conflicts", "--json"])
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_change_shows_the_servers_reason_and_is_edited_or_discarded() {
    let server = TestServer::start_with(tidemark_server::ServerConfig {
        max_item_bytes: 300,
        ..tidemark_server::ServerConfig::open()
    })
    .await;
    let device = Device::with_server(server.url());
    let other = Device::with_server(server.url());
    let todo = device.add("short");
    device.ok(&["sync"]);
    let long = "far too long ".repeat(40);
    device.ok(&["edit", &todo, &long]);
    let lands = device.add("lands anyway");

    let said = sync_waiting(&device);
    assert!(said.contains("1 change(s) wait for a decision"), "{said}");
    let shown = device.ok(&["conflicts"]);
    assert!(shown.contains("the server refused this change"), "{shown}");
    assert!(shown.contains("the limit is 300 bytes"), "{shown}");
    assert!(shown.contains("--text TEXT (edit it)"), "{shown}");
    let listed = device.json(&["conflicts", "--json"]);
    assert_eq!(listed[0]["kind"], "refused");
    // The refused change held nothing else back.
    other.ok(&["sync"]);
    assert_eq!(text_of(&other, &lands).as_deref(), Some("lands anyway"));

    // Edit it: the new text lands.
    device.ok(&["resolve", &todo, "--text", "shorter"]);
    device.ok(&["sync"]);
    other.ok(&["sync"]);
    assert_eq!(text_of(&other, &todo).as_deref(), Some("shorter"));

    // Discard it: the server's copy comes back.
    device.ok(&["edit", &todo, &long]);
    sync_waiting(&device);
    device.ok(&["resolve", &todo, "--keep", "theirs"]);
    assert_eq!(text_of(&device, &todo).as_deref(), Some("shorter"));
    device.ok(&["sync"]);
    assert!(
        device
            .json(&["conflicts", "--json"])
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_brings_other_todos_while_a_conflict_waits() {
    let server = TestServer::start_open().await;
    let a = Device::with_server(server.url());
    let b = Device::with_server(server.url());
    let shared = a.add("shared");
    a.ok(&["sync"]);
    b.ok(&["sync"]);
    a.ok(&["edit", &shared, "from a"]);
    a.ok(&["sync"]);
    b.ok(&["edit", &shared, "from b"]);
    sync_waiting(&b);

    // "Decide later": a's new todo still reaches b, b's edit stays as b left it.
    let new = a.add("new on a");
    a.ok(&["edit", &shared, "from a again"]);
    a.ok(&["sync"]);
    let said = sync_waiting(&b);
    assert!(said.contains("pulled"), "{said}");
    assert!(said.contains("1 change(s) wait for a decision"), "{said}");
    assert_eq!(text_of(&b, &new).as_deref(), Some("new on a"));
    assert_eq!(text_of(&b, &shared).as_deref(), Some("from b"));
    let status = b.json(&["status", "--json"]);
    assert_eq!(status["conflicts"], 1, "{status}");

    // Decided: the todo is brought up to date with a's latest.
    b.ok(&["resolve", &shared, "--keep", "theirs"]);
    assert_eq!(text_of(&b, &shared).as_deref(), Some("from a again"));
    b.ok(&["sync"]);
    assert_eq!(text_of(&b, &shared).as_deref(), Some("from a again"));
}
