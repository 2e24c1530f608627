//! The `tidemark` binary against the test kit's hostile server: a gzip bomb fails with a clear
//! message in bounded memory (the child's own peak RSS), skipped rows are listed escaped with
//! their own exit code, nothing the server sends reaches the terminal as a control sequence,
//! and a redirect is not followed with the application key.

mod common;

use std::process::{Command, Output};

use common::{Device, assert_one_line_error};
use tidemark_testkit::hostile::{Abuse, HostileServer, deep_row, page, row};

/// Runs the command off the async runtime (the hostile server runs on it) and returns its
/// output.
async fn run(mut cmd: Command) -> Output {
    match tokio::task::spawn_blocking(move || cmd.output()).await {
        Ok(Ok(out)) => out,
        other => panic!("cannot run tidemark: {other:?}"),
    }
}

/// The largest peak RSS of the children this process waited for, in KiB (`ru_maxrss`); nextest
/// runs each test in its own process, so it is the CLI's of this test.
fn children_peak_rss_kib() -> i64 {
    // SAFETY: getrusage only writes into the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a valid pointer to a rusage struct.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    assert_eq!(rc, 0, "getrusage failed");
    usage.ru_maxrss
}

#[tokio::test]
async fn sync_against_a_gzip_bomb_fails_clearly_in_bounded_memory() {
    let server = HostileServer::start(Abuse::GzipBomb {
        expanded: 3 << 29, // 1.5 GiB
    })
    .await;
    let device = Device::with_server(server.url());
    let out = run(device.command(&["sync"])).await;
    let peak_mib = children_peak_rss_kib() / 1024;
    eprintln!(
        "tidemark sync against a {}-byte gzip bomb (1.5 GiB expanded): peak RSS {peak_mib} MiB",
        server.bomb_bytes()
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_one_line_error(&out, "larger than 64 MiB");
    // The 64 MiB cap, one copy while the buffer grows, and the program itself; the attack
    // this answers reached 4.75 GB.
    assert!(peak_mib < 256, "peak RSS {peak_mib} MiB");
}

#[tokio::test]
async fn skipped_rows_are_listed_escaped_and_nothing_reaches_the_terminal_raw() {
    let rows = [
        row("good", "\u{1b}[2J\u{1b}]0;pwned\u{7}cleared"),
        row("bad\u{1b}[31m", "red"),
        deep_row("deep", 200),
    ];
    let server = HostileServer::start(Abuse::Page(page(&rows))).await;
    let device = Device::with_server(server.url());
    let out = run(device.command(&["sync"])).await;
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(4), "{stdout}{stderr}");
    assert!(
        stdout.contains("pulled 3; 2 server item(s) could not be read and were skipped"),
        "{stdout}"
    );
    assert!(
        stderr.contains(r#"skipped item "bad\u{1b}[31m": invalid id"#),
        "{stderr}"
    );
    assert!(
        stderr.contains(r#"skipped item "deep": it is nested 201"#),
        "{stderr}"
    );
    let list = run(device.command(&["list"])).await;
    let listed = String::from_utf8_lossy(&list.stdout);
    assert!(
        listed.contains(r"good  \u{1b}[2J\u{1b}]0;pwned\u{7}cleared"),
        "{listed}"
    );
    for output in [&out.stdout, &out.stderr, &list.stdout, &list.stderr] {
        assert!(
            !output.iter().any(|b| *b == 0x1b || *b == 0x07),
            "a control character reached the terminal: {}",
            String::from_utf8_lossy(output)
        );
    }
}

#[tokio::test]
async fn sync_does_not_follow_a_redirect_with_the_application_key() {
    let server = HostileServer::start(Abuse::Redirect { status: 307 }).await;
    let device = Device::with_server(server.url());
    let mut cmd = device.command(&["sync"]);
    cmd.env("TIDEMARK_APP_KEY", "s3cret-key");
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_one_line_error(&out, "does not follow");
    assert_eq!(server.decoy().hits(), 0);
    assert!(server.decoy().credentials_seen().is_empty());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("s3cret"));
}
