//! HTTPS from the binary itself: `--tls-cert/--tls-key` with certificates of a test CA. A
//! client trusting the CA is served; plain HTTP and untrusting clients fail cleanly; a client
//! that never handshakes does not keep its connection slot; SIGHUP swaps in a renewed
//! certificate.

use std::time::Duration;

use tidemark_testkit::server::ServerProcess;
use tidemark_testkit::tls::{CertFiles, TestCa};

const BINARY: &str = env!("CARGO_BIN_EXE_tidemark-server");
/// How long a request in these tests may take before it counts as hanging.
const PATIENCE: Duration = Duration::from_secs(10);

/// A TLS server on certificates of `ca`, in its own directory.
async fn tls_server(ca: &TestCa, extra: &[&str]) -> (tempfile::TempDir, CertFiles, ServerProcess) {
    let dir = tempfile::tempdir().expect("temp dir");
    let files = ca.issue(dir.path(), "server");
    // These tests are about the transport: the open mode, no sign-in.
    let mut args = files.args();
    args.push("--no-auth".to_owned());
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = ServerProcess::spawn_binary(BINARY, dir.path().join("server.db"), &args).await;
    (dir, files, server)
}

/// GET `/tables/todoitem` with `client`: the status, or the error as text.
async fn list(client: &reqwest::Client, base: &str) -> Result<u16, String> {
    let request = client
        .get(format!("{base}/tables/todoitem"))
        .header("ZUMO-API-VERSION", "2.0.0")
        .send();
    match tokio::time::timeout(PATIENCE, request).await {
        Ok(Ok(response)) => Ok(response.status().as_u16()),
        Ok(Err(e)) => Err(format!("{e:?}")),
        Err(_) => panic!("the request to {base} hung"),
    }
}

#[tokio::test]
async fn https_serves_a_client_trusting_the_ca_and_refuses_the_others_cleanly() {
    let ca = TestCa::new("Tidemark test CA");
    let (_dir, _files, server) = tls_server(&ca, &[]).await;
    assert!(
        server.url().starts_with("https://127.0.0.1:"),
        "{}",
        server.url()
    );
    let trusting = ca.client();
    assert_eq!(list(&trusting, server.url()).await, Ok(200));
    // By name too: the certificate names localhost.
    let by_name = server.url().replace("127.0.0.1", "localhost");
    assert_eq!(list(&trusting, &by_name).await, Ok(200));

    // Plain HTTP to the TLS port: an error, not an answer and not a hang.
    let plain = server.url().replace("https://", "http://");
    let e = list(&reqwest::Client::new(), &plain).await;
    assert!(e.is_err(), "plain HTTP was answered: {e:?}");
    // A client that trusts another CA (or only the system's) fails the handshake.
    let stranger = TestCa::new("Another CA").client();
    let e = list(&stranger, server.url()).await.expect_err("untrusted");
    assert!(e.to_lowercase().contains("certificate"), "{e}");
    assert!(list(&reqwest::Client::new(), server.url()).await.is_err());

    // The server is none the worse for it.
    assert_eq!(list(&trusting, server.url()).await, Ok(200));
}

#[tokio::test]
async fn a_client_that_never_handshakes_does_not_keep_its_slot() {
    let ca = TestCa::new("Tidemark test CA");
    let (_dir, _files, server) =
        tls_server(&ca, &["--max-connections", "1", "--header-timeout", "1"]).await;
    let addr = server.url().trim_start_matches("https://").to_owned();
    // Takes the only slot and says nothing.
    let silent = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let started = std::time::Instant::now();
    assert_eq!(list(&ca.client(), server.url()).await, Ok(200));
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "served before the silent connection's handshake timed out: the limit did not hold"
    );
    drop(silent);
}

#[cfg(unix)]
#[tokio::test]
async fn sighup_reloads_the_certificate_and_a_bad_one_is_not_taken() {
    let old_ca = TestCa::new("Old CA");
    let new_ca = TestCa::new("New CA");
    let (_dir, files, server) = tls_server(&old_ca, &[]).await;
    // Fresh clients each time: a pooled connection keeps the certificate it was opened with.
    assert_eq!(list(&old_ca.client(), server.url()).await, Ok(200));
    assert!(list(&new_ca.client(), server.url()).await.is_err());

    // A broken key: the reload fails and the old certificate keeps being served.
    std::fs::write(&files.key_path, "not a key").expect("write");
    hang_up(&server);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(list(&old_ca.client(), server.url()).await, Ok(200));
    let log = std::fs::read_to_string(server.log_path()).unwrap_or_default();
    assert!(log.contains("keeping the current TLS certificate"), "{log}");

    // The renewed certificate, from the new CA, is served after SIGHUP.
    new_ca.issue_to(&files);
    hang_up(&server);
    let deadline = std::time::Instant::now() + PATIENCE;
    while list(&new_ca.client(), server.url()).await != Ok(200) {
        assert!(
            std::time::Instant::now() < deadline,
            "the new certificate was not served after SIGHUP"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(list(&old_ca.client(), server.url()).await.is_err());
}

#[cfg(unix)]
fn hang_up(server: &ServerProcess) {
    let pid = server.pid().expect("running");
    let pid = libc::pid_t::try_from(pid).expect("pid");
    // SAFETY: kill(2) on the child we spawned and still own has no memory-safety requirements.
    let sent = unsafe { libc::kill(pid, libc::SIGHUP) };
    assert_eq!(sent, 0, "cannot send SIGHUP");
}

#[tokio::test]
async fn the_binary_refuses_to_start_on_unusable_certificate_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cert = dir.path().join("missing.crt");
    let key = dir.path().join("missing.key");
    let output = tokio::process::Command::new(BINARY)
        .args(["--listen", "127.0.0.1:0", "--db"])
        .arg(dir.path().join("server.db"))
        .arg("--tls-cert")
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .output()
        .await
        .expect("run");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("missing.crt"), "{stderr}");
    assert!(!String::from_utf8_lossy(&output.stdout).contains("listening"));
}

#[tokio::test]
async fn sigterm_stops_a_tls_server_cleanly() {
    let ca = TestCa::new("Tidemark test CA");
    let (_dir, _files, mut server) = tls_server(&ca, &[]).await;
    // A kept-alive connection is open while the server stops.
    let client = ca.client();
    assert_eq!(list(&client, server.url()).await, Ok(200));
    let status = server.terminate().await;
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
}
