//! Accounts in the window: create an account, bring the local list into it, sign out, a
//! second account on the same computer, and back: each sees only their own list, here and on
//! the server.

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
