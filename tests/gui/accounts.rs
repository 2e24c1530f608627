//! Accounts in the window: create an account, bring the local list into it, sign out, a
//! second account on the same computer, and back: each sees only their own list, here and on
//! the server.

use std::os::unix::fs::PermissionsExt as _;

use anyhow::{Result, ensure};
use tidemark_testkit::server::ServerProcess;

use crate::harness::{App, Bench, skipped};
use crate::server::OtherClient;

const PASSWORD: &str = "correct horse battery";

/// Opens the settings, fills the Account form and presses `button` (`#sign-in` or
/// `#create-account`); waits until the panel says who is signed in.
async fn enter(app: &App, user: &str, button: &str) -> Result<String> {
    app.click("#open-settings").await?;
    app.wait_shown("account-form").await?;
    app.fill("#account-user", user).await?;
    app.fill("#account-password", PASSWORD).await?;
    app.click(button).await?;
    app.wait_shown("account-signed-in").await?;
    let state = app.wait_shown("account-state").await?;
    ensure!(
        state.starts_with(&format!("Signed in as {user} on ")),
        "{state}"
    );
    Ok(state)
}

/// Signs out from the settings and closes them; answers what the panel said.
async fn sign_out(app: &App) -> Result<()> {
    app.click("#open-settings").await?;
    app.wait_shown("account-signed-in").await?;
    app.click("#sign-out").await?;
    app.wait_shown("account-form").await?;
    app.click("#settings-cancel").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_accounts_on_one_computer_each_see_only_their_own_list() -> Result<()> {
    if skipped("two_accounts_on_one_computer_each_see_only_their_own_list") {
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    let server = ServerProcess::spawn(dir.path().join("server.db"), &["--signup", "open"]).await;
    let bench = Bench::start(Some(server.url())).await?;
    let app = bench.launch().await?;

    // Without an account: a local list.
    app.add_with_enter("Written before signing in").await?;
    app.wait_texts(&["Written before signing in"]).await?;
    app.click("#open-settings").await?;
    app.wait_shown("account-form").await?;
    app.fill("#account-user", "alice").await?;
    app.screenshot("account-sign-in.png").await?;
    app.click("#settings-cancel").await?;

    // Alice creates her account: her list is empty until she brings the local one in.
    enter(&app, "alice", "#create-account").await?;
    let offer = app.wait_shown("bring-local-text").await?;
    ensure!(offer.starts_with("1 todo was written"), "{offer}");
    // No secret store in this bare X session: the settings say where the sign-in is kept.
    let place = app.wait_shown("token-place").await?;
    ensure!(
        place.starts_with("No system keyring here: your sign-in is kept in ")
            && place.ends_with("session.json, readable only by you."),
        "{place}"
    );
    app.screenshot("account-signed-in.png").await?;
    app.click("#bring-local-yes").await?;
    app.click("#settings-cancel").await?;
    app.wait_texts(&["Written before signing in"]).await?;
    app.add_with_enter("Alice's own").await?;
    app.refresh().await?;
    app.wait_badge(0).await?;
    let (status, _) = app.status().await?;
    ensure!(
        status.ends_with(" · alice"),
        "status names the account: {status}"
    );

    // Signed out: back to the (now empty) local list. Bob, on the same computer, starts empty.
    sign_out(&app).await?;
    app.wait_texts(&[]).await?;
    enter(&app, "bob", "#create-account").await?;
    app.click("#settings-cancel").await?;
    app.wait_texts(&[]).await?;
    app.add_with_enter("Bob's").await?;
    app.refresh().await?;
    app.wait_badge(0).await?;
    sign_out(&app).await?;

    // Alice signs back in: her list, nothing of Bob's.
    enter(&app, "alice", "#sign-in").await?;
    app.click("#settings-cancel").await?;
    app.wait_texts(&["Written before signing in", "Alice's own"])
        .await?;

    // The server agrees, user by user.
    let alice = OtherClient::signed_in(server.url(), "alice", PASSWORD).await?;
    ensure!(
        alice.texts().await? == ["Alice's own", "Written before signing in"],
        "alice on the server: {:?}",
        alice.texts().await?
    );
    let bob = OtherClient::signed_in(server.url(), "bob", PASSWORD).await?;
    ensure!(
        bob.texts().await? == ["Bob's"],
        "bob on the server: {:?}",
        bob.texts().await?
    );
    app.quit().await?;
    Ok(())
}

/// Runs `tidemark-server --db <db> user passwd <user>` with the same password: every earlier
/// token of that user stops working.
fn change_password(db: &std::path::Path, user: &str) -> Result<()> {
    let binary = tidemark_testkit::server::server_binary()?;
    let mut child = std::process::Command::new(binary)
        .arg("--db")
        .arg(db)
        .args(["user", "passwd", user, "--password-stdin"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write as _;
        writeln!(stdin, "{PASSWORD}")?;
    }
    let out = child.wait_with_output()?;
    ensure!(
        out.status.success(),
        "user passwd: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ended_session_asks_to_sign_in_and_then_sends_the_changes_once() -> Result<()> {
    if skipped("an_ended_session_asks_to_sign_in_and_then_sends_the_changes_once") {
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    let mut server =
        ServerProcess::spawn(dir.path().join("server.db"), &["--signup", "open"]).await;
    let bench = Bench::start(Some(server.url())).await?;
    let app = bench.launch().await?;
    enter(&app, "alice", "#create-account").await?;
    app.click("#settings-cancel").await?;
    app.add_with_enter("one").await?;
    app.refresh().await?;
    app.wait_badge(0).await?;

    // Offline, two more changes; meanwhile the password changes, which ends the session.
    server.terminate().await;
    app.add_with_enter("two").await?;
    app.add_with_enter("three").await?;
    app.wait_badge(2).await?;
    change_password(server.db_path(), "alice")?;
    server.restart().await;

    // Refresh: the sign-in form opens, saying the changes are kept.
    app.refresh().await?;
    let state = app.wait_shown("account-state").await?;
    ensure!(
        state.contains("ended. Sign in again to sync; your changes are kept"),
        "{state}"
    );
    app.wait_shown("account-form").await?;
    app.wait_badge(2).await?;
    app.screenshot("account-session-ended.png").await?;
    app.fill("#account-password", PASSWORD).await?;
    app.click("#sign-in").await?;
    app.wait_shown("account-signed-in").await?;
    app.click("#settings-cancel").await?;
    app.refresh().await?;
    app.wait_badge(0).await?;

    // Each change is on the server exactly once.
    let alice = OtherClient::signed_in(server.url(), "alice", PASSWORD).await?;
    ensure!(
        alice.texts().await? == ["one", "three", "two"],
        "{:?}",
        alice.texts().await?
    );
    app.quit().await?;

    // The token is nowhere but the session file (private to the user): not in the settings,
    // the stores or the log.
    let session_file = bench.config_dir().join("io.tidemark.app/session.json");
    let mode = std::fs::metadata(&session_file)?.permissions().mode() & 0o777;
    ensure!(mode == 0o600, "session file mode {mode:o}");
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(&session_file)?)?;
    let token = saved["sessions"][server.url().trim_end_matches('/')]["token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("no saved token"))?;
    ensure!(
        !bench.log_text().contains(&token),
        "the token is in the log"
    );
    for file in files_under(&bench.data_dir())? {
        let bytes = std::fs::read(&file)?;
        ensure!(
            !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
            "the token is in {}",
            file.display()
        );
    }
    Ok(())
}

/// Every file under `dir`, at any depth.
fn files_under(dir: &std::path::Path) -> Result<Vec<std::path::PathBuf>> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_owned()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d)? {
            let path = entry?.path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                files.push(path);
            }
        }
    }
    Ok(files)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_sign_in_brings_the_local_list_in_or_leaves_it_here() -> Result<()> {
    if skipped("the_first_sign_in_brings_the_local_list_in_or_leaves_it_here") {
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    let server = ServerProcess::spawn(dir.path().join("server.db"), &["--signup", "open"]).await;
    let bench = Bench::start(Some(server.url())).await?;
    let app = bench.launch().await?;
    app.add_with_enter("Local one").await?;
    app.add_with_enter("Local two").await?;
    app.wait_texts(&["Local one", "Local two"]).await?;

    // Carol leaves them on this computer: her account starts empty, and they are still the
    // local list after she signs out.
    enter(&app, "carol", "#create-account").await?;
    let offer = app.wait_shown("bring-local-text").await?;
    ensure!(offer.starts_with("2 todos were written"), "{offer}");
    app.click("#bring-local-no").await?;
    app.click("#settings-cancel").await?;
    app.wait_texts(&[]).await?;
    sign_out(&app).await?;
    app.wait_texts(&["Local one", "Local two"]).await?;

    // Dave brings them in: they are his, queued, then on the server as his, once.
    enter(&app, "dave", "#create-account").await?;
    app.wait_shown("bring-local-text").await?;
    app.click("#bring-local-yes").await?;
    app.click("#settings-cancel").await?;
    app.wait_texts(&["Local one", "Local two"]).await?;
    app.wait_badge(2).await?;
    app.refresh().await?;
    app.wait_badge(0).await?;
    let dave = OtherClient::signed_in(server.url(), "dave", PASSWORD).await?;
    ensure!(
        dave.texts().await? == ["Local one", "Local two"],
        "{:?}",
        dave.texts().await?
    );
    let carol = OtherClient::signed_in(server.url(), "carol", PASSWORD).await?;
    ensure!(
        carol.texts().await?.is_empty(),
        "{:?}",
        carol.texts().await?
    );
    // Signed out now, the local list is empty: its todos went to Dave.
    sign_out(&app).await?;
    app.wait_texts(&[]).await?;
    app.quit().await?;
    Ok(())
}
