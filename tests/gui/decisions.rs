//! Changes that wait for a decision, in the window: an edit of a todo deleted on another device
//! (brought back, or let go), a change the server refused (its reason shown, edited or
//! discarded), and a Refresh that still brings another device's todos while a conflict waits.

use anyhow::{Context as _, Result, bail, ensure};
use tidemark_testkit::server::TestServer;

use crate::harness::{App, UI_TIMEOUT, skipped};
use crate::server::OtherClient;

/// Waits for the decision dialog to show the change whose "Yours" side reads `mine`.
async fn wait_decision(app: &App, mine: &str) -> Result<()> {
    app.s
        .wait_for(
            &format!("the decision about {mine:?}"),
            UI_TIMEOUT,
            || async {
                let open = app.dialog_open("conflict-dialog").await?;
                let shown = app.shown_text("conflict-mine").await?;
                Ok((open && shown.as_deref() == Some(mine)).then_some(()))
            },
        )
        .await
}

/// The id of the server's todo with this text.
async fn id_of(other: &OtherClient, text: &str) -> Result<String> {
    Ok(other.by_text(text).await?["id"]
        .as_str()
        .context("id")?
        .to_owned())
}

/// Renames the todo showing `text` in the window to `new`.
async fn rename(app: &App, text: &str, new: &str) -> Result<()> {
    app.click_edit(text).await?;
    app.fill("#todos .edit-input", new).await?;
    app.click("#todos .save").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_todo_deleted_on_another_device_is_brought_back_or_let_go() -> Result<()> {
    if skipped("a_todo_deleted_on_another_device_is_brought_back_or_let_go") {
        return Ok(());
    }
    let server = TestServer::start_open().await;
    let other = OtherClient::new(server.url(), None);
    let bench = crate::harness::Bench::start(Some(server.url())).await?;
    let app = bench.launch().await?;
    for text in ["Water plants", "Call mom"] {
        app.add_with_button(text).await?;
    }
    app.refresh().await?;
    app.wait_badge(0).await?;
    for text in ["Water plants", "Call mom"] {
        other.delete(&id_of(&other, text).await?).await?;
    }
    rename(&app, "Water plants", "Water plants twice").await?;
    rename(&app, "Call mom", "Call mom tonight").await?;
    app.wait_texts(&["Water plants twice", "Call mom tonight"])
        .await?;

    app.click("#refresh").await?;
    for _ in 0..2 {
        app.s
            .wait_for("the decision dialog", UI_TIMEOUT, || async {
                Ok(app.dialog_open("conflict-dialog").await?.then_some(()))
            })
            .await?;
        let title = app.wait_shown("conflict-title").await?;
        ensure!(
            title.contains("deleted on another device"),
            "title: {title}"
        );
        let theirs = app.wait_shown("conflict-theirs").await?;
        ensure!(theirs == "Deleted on another device", "theirs: {theirs}");
        let mine = app.wait_shown("conflict-mine").await?;
        ensure!(
            app.shown_text("conflict-edit").await?.is_none(),
            "no edit for a deleted todo"
        );
        match mine.as_str() {
            "Water plants twice" => {
                ensure!(app.wait_shown("keep-mine").await? == "Bring it back");
                app.screenshot("deleted-elsewhere.png").await?;
                app.click("#keep-mine").await?;
            }
            "Call mom tonight" => {
                ensure!(app.wait_shown("keep-theirs").await? == "Let it go");
                app.click("#keep-theirs").await?;
            }
            other => bail!("unexpected decision {other:?}"),
        }
        app.s
            .wait_for("the next decision", UI_TIMEOUT, || async {
                let open = app.dialog_open("conflict-dialog").await?;
                let now = app.shown_text("conflict-mine").await?;
                Ok((!open || now.as_deref() != Some(mine.as_str())).then_some(()))
            })
            .await?;
    }
    app.wait_idle().await?;
    app.wait_badge(0).await?;
    app.s
        .wait_for("the server to have it back", UI_TIMEOUT, || async {
            Ok((other.texts().await? == ["Water plants twice"]).then_some(()))
        })
        .await?;
    app.wait_texts(&["Water plants twice"]).await?;
    app.wait_status("Synced").await?;
    app.quit().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_change_shows_the_servers_reason_and_is_edited_or_discarded() -> Result<()> {
    if skipped("a_refused_change_shows_the_servers_reason_and_is_edited_or_discarded") {
        return Ok(());
    }
    // A server that refuses todos larger than 300 bytes, with a 400 saying so.
    let server = TestServer::start_with(tidemark_server::ServerConfig {
        max_item_bytes: 300,
        ..tidemark_server::ServerConfig::open()
    })
    .await;
    let other = OtherClient::new(server.url(), None);
    let bench = crate::harness::Bench::start(Some(server.url())).await?;
    let app = bench.launch().await?;
    app.add_with_button("Plan trip").await?;
    app.refresh().await?;
    app.wait_badge(0).await?;
    let long = "Plan the whole trip with every stop ".repeat(8);
    let long = long.trim();
    rename(&app, "Plan trip", long).await?;
    app.add_with_button("Book hotel").await?;

    // Edit it.
    app.click("#refresh").await?;
    wait_decision(&app, long).await?;
    let title = app.wait_shown("conflict-title").await?;
    ensure!(title == "The server refused this change", "title: {title}");
    let reason = app.wait_shown("conflict-reason").await?;
    ensure!(
        reason.contains("the limit is 300 bytes"),
        "reason: {reason}"
    );
    ensure!(app.shown_text("keep-mine").await?.is_none(), "no keep mine");
    ensure!(
        app.shown_text("conflict-theirs").await?.is_none(),
        "no server side"
    );
    ensure!(app.wait_shown("keep-theirs").await? == "Discard");
    ensure!(app.wait_shown("conflict-edit").await?.starts_with("Edit"));
    app.screenshot("refused.png").await?;
    // The refused change held nothing back: the new todo reached the server.
    ensure!(other.texts().await?.contains(&"Book hotel".to_string()));
    app.click("#conflict-edit").await?;
    app.fill("#conflict-text", "Plan trip to Lyon").await?;
    app.click("#keep-text").await?;
    app.wait_idle().await?;
    app.s
        .wait_for("the edit to land", UI_TIMEOUT, || async {
            Ok((other.texts().await? == ["Book hotel", "Plan trip to Lyon"]).then_some(()))
        })
        .await?;
    app.wait_texts(&["Plan trip to Lyon", "Book hotel"]).await?;

    // Discard it.
    rename(&app, "Plan trip to Lyon", long).await?;
    app.click("#refresh").await?;
    wait_decision(&app, long).await?;
    app.click("#keep-theirs").await?;
    app.wait_idle().await?;
    app.wait_texts(&["Plan trip to Lyon", "Book hotel"]).await?;
    app.wait_badge(0).await?;
    app.wait_status("Synced").await?;
    ensure!(!app.dialog_open("conflict-dialog").await?);
    app.quit().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_while_a_conflict_waits_brings_another_devices_todo() -> Result<()> {
    if skipped("a_refresh_while_a_conflict_waits_brings_another_devices_todo") {
        return Ok(());
    }
    let server = TestServer::start_open().await;
    let other = OtherClient::new(server.url(), None);
    let bench = crate::harness::Bench::start(Some(server.url())).await?;
    let app = bench.launch().await?;
    app.add_with_button("Buy bread").await?;
    app.refresh().await?;
    app.wait_badge(0).await?;
    let id = id_of(&other, "Buy bread").await?;
    other.rename(&id, "Buy rye bread").await?;
    rename(&app, "Buy bread", "Buy bread rolls").await?;
    app.click("#refresh").await?;
    wait_decision(&app, "Buy bread rolls").await?;
    app.click("#conflict-later").await?;

    // Decided later: another device adds a todo and renames the conflicted one again.
    other.add("Walk the dog").await?;
    other.rename(&id, "Buy rye bread, two").await?;
    app.refresh().await?;
    app.wait_texts(&["Buy bread rolls", "Walk the dog"]).await?;
    ensure!(
        !app.dialog_open("conflict-dialog").await?,
        "a change put off is not asked about again by Refresh"
    );
    let (status, _) = app.wait_status("1 change waits for a decision").await?;
    app.screenshot("waiting.png").await?;
    ensure!(
        app.wait_shown("status-resolve").await? == "Resolve",
        "{status}"
    );

    // Decided now: their newest copy comes in although the pull went past it.
    app.click("#status-resolve").await?;
    wait_decision(&app, "Buy bread rolls").await?;
    app.click("#keep-theirs").await?;
    app.wait_idle().await?;
    app.wait_texts(&["Buy rye bread, two", "Walk the dog"])
        .await?;
    app.wait_badge(0).await?;
    app.wait_status("Synced").await?;
    app.quit().await?;
    Ok(())
}
