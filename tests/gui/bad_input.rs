//! Bad input is refused with a clear inline message and nothing is lost: empty and too long
//! text, an invalid server URL, an unreachable server, a server answering 401.

use anyhow::{Result, ensure};
use tidemark_server::ServerConfig;
use tidemark_testkit::server::TestServer;

use crate::harness::{Bench, skipped};
use crate::server::OtherClient;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_explained_inline_and_nothing_is_lost() -> Result<()> {
    if skipped("bad_input_is_explained_inline_and_nothing_is_lost") {
        return Ok(());
    }
    let server = TestServer::start_with(ServerConfig {
        app_key: Some("sesame".into()),
        ..ServerConfig::open()
    })
    .await;
    // No server at first: the list works on this computer only.
    let bench = Bench::start(None).await?;
    let app = bench.launch().await?;
    app.wait_status("Not syncing").await?;

    // Empty and blank text.
    app.add_with_button("").await?;
    let error = app.wait_shown("add-error").await?;
    ensure!(error.contains("cannot be empty"), "error: {error}");
    app.add_with_button("   ").await?;
    ensure!(
        app.wait_shown("add-error")
            .await?
            .contains("cannot be empty")
    );
    ensure!(app.rows().await?.is_empty());

    // Too long: refused, and the text stays in the field to be shortened.
    let long = "x".repeat(1001);
    app.add_with_button(&long).await?;
    let error = app.wait_shown("add-error").await?;
    ensure!(error.contains("1000"), "error: {error}");
    ensure!(
        app.value("#new-text").await? == long,
        "the typed text was lost"
    );
    app.add_with_button(&"y".repeat(1000)).await?;
    app.add_with_button("Buy milk").await?;
    app.wait_texts(&[&"y".repeat(1000), "Buy milk"]).await?;
    ensure!(
        app.shown_text("add-error").await?.is_none(),
        "the error stayed"
    );

    // Renaming to blank is refused next to the todo; the old text stays.
    app.click_edit("Buy milk").await?;
    app.fill("#todos .edit-input", " ").await?;
    app.click("#todos .save").await?;
    let error = app
        .s
        .wait_for("the rename error", crate::harness::UI_TIMEOUT, || async {
            let v = app
                .js("const e = document.querySelector('#todos .item-error'); return e && !e.hidden ? e.textContent : null")
                .await?;
            Ok(v.as_str().map(str::to_owned))
        })
        .await?;
    ensure!(error.contains("cannot be empty"), "error: {error}");
    app.click("#todos .cancel").await?;
    app.wait_texts(&[&"y".repeat(1000), "Buy milk"]).await?;

    // Refresh with no server says what to do.
    app.refresh().await?;
    let (_, detail) = app.status().await?;
    ensure!(detail.contains("Settings"), "detail: {detail}");

    // An invalid server URL is refused in the settings panel, which stays open with it.
    app.click("#open-settings").await?;
    app.fill("#server-url", "localhost:8080").await?;
    app.click("#settings-save").await?;
    let error = app.wait_shown("settings-error").await?;
    ensure!(error.contains("not a valid server URL"), "error: {error}");
    ensure!(app.dialog_open("settings-dialog").await?);
    ensure!(app.value("#server-url").await? == "localhost:8080");
    app.screenshot("settings.png").await?;

    // An unreachable server: saved, and Refresh says it cannot reach it; changes wait.
    let dead = format!("http://127.0.0.1:{}", dead_port()?);
    app.fill("#server-url", &dead).await?;
    app.click("#settings-save").await?;
    wait_closed(&app, "settings-dialog").await?;
    app.refresh().await?;
    let (main, detail) = app.wait_status("Offline").await?;
    ensure!(main == "Offline — 2 changes waiting", "status: {main}");
    ensure!(
        detail.contains(&format!("Can't reach the server at {dead}")),
        "detail: {detail}"
    );
    app.wait_badge(2).await?;

    // The right server with a wrong key: 401 in plain words; then the right key syncs.
    app.click("#open-settings").await?;
    app.fill("#server-url", server.url()).await?;
    app.fill("#app-key", "wrong").await?;
    app.click("#settings-save").await?;
    wait_closed(&app, "settings-dialog").await?;
    app.refresh().await?;
    let (main, detail) = app.wait_status("Sync failed").await?;
    ensure!(main == "Sync failed — 2 changes waiting", "status: {main}");
    ensure!(detail.contains("401"), "detail: {detail}");
    app.wait_badge(2).await?;

    app.click("#open-settings").await?;
    app.fill("#app-key", "sesame").await?;
    app.click("#settings-save").await?;
    wait_closed(&app, "settings-dialog").await?;
    app.refresh().await?;
    app.wait_badge(0).await?;
    app.wait_status("Synced").await?;
    let other = OtherClient::new(server.url(), Some("sesame"));
    let texts = other.texts().await?;
    ensure!(
        texts == ["Buy milk".to_owned(), "y".repeat(1000)],
        "server has {texts:?}"
    );

    // The settings were kept: a relaunch uses them.
    app.quit().await?;
    let app = bench.launch().await?;
    app.click("#open-settings").await?;
    app.s
        .wait_for("the saved settings", crate::harness::UI_TIMEOUT, || async {
            let url = app.value("#server-url").await?;
            let key = app.value("#app-key").await?;
            Ok((url == server.url() && key == "sesame").then_some(()))
        })
        .await?;
    app.click("#settings-cancel").await?;
    app.quit().await?;
    Ok(())
}

/// A loopback port nothing listens on.
fn dead_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

async fn wait_closed(app: &crate::harness::App, dialog: &str) -> Result<()> {
    app.s
        .wait_for(
            &format!("{dialog} to close"),
            crate::harness::UI_TIMEOUT,
            || async { Ok((!app.dialog_open(dialog).await?).then_some(())) },
        )
        .await
}
