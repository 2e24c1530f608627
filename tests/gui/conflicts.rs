//! Conflicts made from two clients: the dialog shows mine and theirs, and each choice (keep
//! mine, keep theirs, edit) ends with the server and the app agreeing.

use anyhow::{Context as _, Result, bail, ensure};
use tidemark_testkit::server::TestServer;

use crate::harness::{Bench, UI_TIMEOUT, skipped};
use crate::server::OtherClient;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_conflict_choice_leaves_the_server_and_the_app_agreeing() -> Result<()> {
    if skipped("each_conflict_choice_leaves_the_server_and_the_app_agreeing") {
        return Ok(());
    }
    let server = TestServer::start_open().await;
    let other = OtherClient::new(server.url(), None);
    let bench = Bench::start(Some(server.url())).await?;
    let app = bench.launch().await?;

    for text in ["Buy milk", "Pay rent", "Fix bike"] {
        app.add_with_button(text).await?;
    }
    app.wait_texts(&["Buy milk", "Pay rent", "Fix bike"])
        .await?;
    app.refresh().await?;
    app.wait_badge(0).await?;

    // Another device renames all three; this one renames them too, before syncing.
    for (text, theirs) in [
        ("Buy milk", "Buy oat milk"),
        ("Pay rent", "Pay rent today"),
        ("Fix bike", "Fix bike brakes"),
    ] {
        let id = other.by_text(text).await?["id"]
            .as_str()
            .context("id")?
            .to_owned();
        other.rename(&id, theirs).await?;
    }
    for (text, mine) in [
        ("Buy milk", "Buy 2 milk"),
        ("Pay rent", "Pay rent by card"),
        ("Fix bike", "Fix bike chain"),
    ] {
        app.click_edit(text).await?;
        app.fill("#todos .edit-input", mine).await?;
        app.click("#todos .save").await?;
    }
    app.wait_texts(&["Buy 2 milk", "Pay rent by card", "Fix bike chain"])
        .await?;

    app.click("#refresh").await?;
    let mut screenshot_taken = false;
    for _ in 0..3 {
        app.s
            .wait_for("the conflict dialog", UI_TIMEOUT, || async {
                Ok(app.dialog_open("conflict-dialog").await?.then_some(()))
            })
            .await?;
        let mine = app.wait_shown("conflict-mine").await?;
        let theirs = app.wait_shown("conflict-theirs").await?;
        match (mine.as_str(), theirs.as_str()) {
            ("Buy 2 milk", "Buy oat milk") => {
                if !screenshot_taken {
                    app.screenshot("conflict.png").await?;
                    screenshot_taken = true;
                }
                app.click("#keep-mine").await?;
            }
            ("Pay rent by card", "Pay rent today") => app.click("#keep-theirs").await?,
            ("Fix bike chain", "Fix bike brakes") => {
                app.click("#conflict-edit").await?;
                // A blank merge is refused in the dialog, and the dialog stays.
                app.fill("#conflict-text", "   ").await?;
                app.click("#keep-text").await?;
                let error = app.wait_shown("conflict-error").await?;
                ensure!(error.contains("empty"), "error: {error}");
                app.fill("#conflict-text", "Fix bike chain and brakes")
                    .await?;
                app.click("#keep-text").await?;
            }
            other => bail!("unexpected conflict {other:?}"),
        }
        // Wait for the next conflict to show, or for the dialog to close.
        let shown = mine.clone();
        app.s
            .wait_for("the next conflict", UI_TIMEOUT, || async {
                let open = app.dialog_open("conflict-dialog").await?;
                let now = app.shown_text("conflict-mine").await?;
                Ok((!open || now.as_deref() != Some(shown.as_str())).then_some(()))
            })
            .await?;
    }
    ensure!(screenshot_taken, "the 'Buy milk' conflict never showed");

    // The decisions were synced: both sides agree.
    app.wait_idle().await?;
    app.wait_badge(0).await?;
    let expected = ["Buy 2 milk", "Fix bike chain and brakes", "Pay rent today"];
    app.s
        .wait_for("the server to agree", UI_TIMEOUT, || async {
            Ok((other.texts().await? == expected).then_some(()))
        })
        .await?;
    app.wait_texts(&["Buy 2 milk", "Pay rent today", "Fix bike chain and brakes"])
        .await?;
    app.wait_status("Synced").await?;
    ensure!(!app.dialog_open("conflict-dialog").await?);
    app.quit().await?;
    Ok(())
}
