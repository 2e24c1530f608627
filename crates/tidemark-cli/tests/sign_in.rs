//! The account commands that need no accounts server (which is written on another branch; the
//! tests against the real one are in `accounts.rs`): the help, `whoami`/`logout` signed out,
//! no password over plain http to another host, and `sync` with a revoked session against a
//! STUB (a few lines of TCP in this file answering every request 401 with a bearer challenge,
//! as the accounts server does): its own exit code, one line, nothing lost.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;

use common::{Device, assert_one_line_error, run_raw};

/// The `sign-in required` exit code.
const EXIT_SIGN_IN: i32 = 5;

/// A STUB server on loopback answering every request `401` with `WWW-Authenticate: Bearer`.
fn revoking_stub() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            let mut length = 0usize;
            let mut line = String::new();
            while reader.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
                let header = line.trim().to_ascii_lowercase();
                if header.is_empty() {
                    break;
                }
                if let Some(n) = header.strip_prefix("content-length:") {
                    length = n.trim().parse().unwrap_or(0);
                }
                line.clear();
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let answer = r#"{"error":"sign-in required: the session was revoked"}"#;
            let _ = write!(
                reader.get_mut(),
                "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer\r\n\
                 Content-Type: application/json\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    url
}

/// Saves a session for `server` in the device's session file, as `login` would.
fn save_session(device: &Device, server: &str, token: &str) {
    let file = serde_json::json!({
        "version": 1,
        "sessions": {server: {"token": token, "userId": "u-alice", "userName": "alice"}},
    });
    std::fs::write(
        device.dir.path().join("session.json"),
        serde_json::to_vec(&file).expect("json"),
    )
    .expect("write the session file");
}

#[test]
fn help_lists_the_account_commands_and_the_sign_in_exit_code() {
    let out = run_raw(&["--help"], None);
    let help = String::from_utf8_lossy(&out.stdout);
    for sub in ["login", "signup", "logout", "whoami"] {
        assert!(help.contains(sub), "help lacks {sub}:\n{help}");
    }
    assert!(help.contains("5 sign-in required"), "{help}");
    let login = run_raw(&["login", "--help"], None);
    let login = String::from_utf8_lossy(&login.stdout);
    assert!(
        login.contains("--password-stdin") && login.contains("--user"),
        "{login}"
    );
}

#[test]
fn whoami_and_logout_signed_out_say_so() {
    let device = Device::with_server("http://127.0.0.1:9");
    let out = device.run(&["whoami"]);
    assert_eq!(out.status.code(), Some(EXIT_SIGN_IN));
    assert_one_line_error(&out, "not signed in");
    let out = device.ok(&["logout"]);
    assert!(out.contains("not signed in"), "{out}");
}

#[test]
fn login_refuses_to_send_a_password_over_plain_http_to_another_host() {
    let device = Device::with_server("http://todo.example.invalid:8080");
    let out = device.run_with_stdin(
        &["login", "--user", "alice", "--password-stdin"],
        "correct horse\n",
    );
    assert_eq!(out.status.code(), Some(1));
    assert_one_line_error(&out, "use an https://");
    assert!(!device.dir.path().join("session.json").exists());
}

#[test]
fn stub_sync_with_a_revoked_session_exits_5_on_one_line_and_keeps_every_change() {
    let server = revoking_stub();
    let device = Device::with_server(&server);
    // Signed in (a saved session), the changes go to that account's store.
    save_session(&device, &server, "revoked-token");
    device.add("written offline");
    device.add("also offline");
    let out = device.run(&["sync"]);
    assert_eq!(
        out.status.code(),
        Some(EXIT_SIGN_IN),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_one_line_error(
        &out,
        "sign in again to sync: tidemark login — your 2 changes are kept",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("revoked-token"), "{stderr}");
    assert_eq!(device.ok(&["pending"]).trim(), "2");
    assert_eq!(
        device.json(&["list", "--json"]).as_array().map(Vec::len),
        Some(2)
    );
}
