//! The account commands against the real server: signup, login, whoami, logout; edits made
//! offline while signed out kept and pushed after login; `sync` with a revoked session exiting
//! with its own code and one line, nothing lost. Each device keeps its session file next to
//! its store (`common::command_for` sets `TIDEMARK_SESSION_FILE`).

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{Device, assert_one_line_error};
use tidemark_testkit::server::TestServer;

const PASSWORD: &str = "correct horse battery\n";
/// The `sign-in required` exit code.
const EXIT_SIGN_IN: i32 = 5;

async fn accounts_server() -> TestServer {
    TestServer::start_with_signup().await
}

/// Runs `login`/`signup` for `user` with the password on standard input; asserts success.
fn enter(device: &Device, command: &str, user: &str) -> String {
    let out = device.run_with_stdin(&[command, "--user", user, "--password-stdin"], PASSWORD);
    assert!(
        out.status.success(),
        "{command} failed ({:?}): {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn session_file(device: &Device) -> std::path::PathBuf {
    device.dir.path().join("session.json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signup_login_whoami_logout() {
    let server = accounts_server().await;
    let device = Device::with_server(server.url());
    assert!(enter(&device, "signup", "alice").contains("signed in as alice"));
    let file = session_file(&device);
    let mode = std::fs::metadata(&file).map(|m| m.permissions().mode() & 0o777);
    assert_eq!(mode.ok(), Some(0o600));
    let saved = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(device.ok(&["whoami"]).contains("alice"));
    // Taken name: one line, exit 1.
    let other = Device::with_server(server.url());
    let out = other.run_with_stdin(&["signup", "--user", "Alice", "--password-stdin"], PASSWORD);
    assert_eq!(out.status.code(), Some(1));
    assert_one_line_error(&out, "taken");
    // Wrong password: one line, no session saved.
    let out = other.run_with_stdin(&["login", "--user", "alice", "--password-stdin"], "nope\n");
    assert_eq!(out.status.code(), Some(1));
    assert_one_line_error(&out, "wrong user name or password");
    assert!(!session_file(&other).exists());
    assert!(enter(&other, "login", "alice").contains("signed in as alice"));
    // No token on any output.
    let token_in = |text: &str| {
        serde_json::from_str::<serde_json::Value>(&saved)
            .ok()
            .and_then(|v| {
                v["sessions"][server.url().trim_end_matches('/')]["token"]
                    .as_str()
                    .map(|t| text.contains(t))
            })
            .unwrap_or(false)
    };
    assert!(!token_in(&device.ok(&["whoami"])));
    assert!(device.ok(&["logout"]).contains("signed out"));
    let out = device.run(&["whoami"]);
    assert_eq!(out.status.code(), Some(EXIT_SIGN_IN));
    // The other device's session is its own: still signed in.
    assert!(other.ok(&["whoami"]).contains("alice"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_made_offline_while_signed_out_are_kept_and_pushed_after_login() {
    let server = accounts_server().await;
    let device = Device::with_server(server.url());
    device.add("written signed out");
    device.add("also signed out");
    let out = device.run(&["sync"]);
    assert_eq!(out.status.code(), Some(EXIT_SIGN_IN));
    assert_one_line_error(&out, "your 2 changes are kept");
    assert_eq!(device.ok(&["pending"]).trim(), "2");
    // Signing in brings the local list into the account's own store, queued.
    let signed_up = enter(&device, "signup", "alice");
    assert!(
        signed_up.contains("brought 2 todo(s) written while signed out"),
        "{signed_up}"
    );
    assert_eq!(device.ok(&["pending"]).trim(), "2");
    assert!(device.ok(&["sync"]).contains("pushed 2"));
    assert_eq!(device.ok(&["pending"]).trim(), "0");
    let laptop = Device::with_server(server.url());
    enter(&laptop, "login", "alice");
    laptop.ok(&["sync"]);
    assert_eq!(
        laptop.json(&["list", "--json"]).as_array().map(Vec::len),
        Some(2)
    );
    // Another user sees none of them.
    let bob = Device::with_server(server.url());
    enter(&bob, "signup", "bob");
    bob.ok(&["sync"]);
    assert_eq!(
        bob.json(&["list", "--json"]).as_array().map(Vec::len),
        Some(0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_with_a_revoked_session_exits_5_on_one_line_and_loses_nothing() {
    let server = accounts_server().await;
    let device = Device::with_server(server.url());
    enter(&device, "signup", "alice");
    device.add("one");
    device.ok(&["sync"]);
    device.add("two");
    device.add("three");
    // Revoke the saved session (a logout elsewhere), keeping the file as it was.
    let file = session_file(&device);
    let saved = std::fs::read(&file).unwrap_or_default();
    device.ok(&["logout"]);
    std::fs::write(&file, saved).unwrap_or_default();
    let out = device.run(&["sync"]);
    assert_eq!(out.status.code(), Some(EXIT_SIGN_IN));
    assert_one_line_error(
        &out,
        "sign in again to sync: tidemark login — your 2 changes are kept",
    );
    assert_eq!(device.ok(&["pending"]).trim(), "2");
    enter(&device, "login", "alice");
    assert!(device.ok(&["sync"]).contains("pushed 2"));
    assert_eq!(
        device.json(&["list", "--json"]).as_array().map(Vec::len),
        Some(3)
    );
}
