//! The local copy: "Rebuild the local copy" in the settings (with nothing waiting it rebuilds
//! at once and brings back what the server has; with changes waiting it first says how many
//! would be lost, "Keep them" loses nothing, and only "Lose N changes and rebuild" drops them),
//! and a copy changed behind the app's back, repaired by the next Refresh with the status line
//! saying so.

use anyhow::{Result, ensure};
use tidemark_testkit::server::ServerProcess;

use crate::harness::{App, Bench, skipped};
use crate::server::OtherClient;

/// Waits until the rebuild's result line says it is done, and returns it.
async fn rebuilt(app: &App) -> Result<String> {
    let said = app
        .wait_js(
            "the rebuild to finish",
            "const e = document.getElementById('rebuild-result'); \
             return !e.hidden && e.textContent.startsWith('Rebuilt') ? e.textContent : null",
        )
        .await?;
    Ok(said.as_str().unwrap_or_default().to_owned())
}

/// Opens the settings and waits for the Local copy part.
async fn open_settings(app: &App) -> Result<()> {
    app.click("#open-settings").await?;
    app.wait_shown("local-copy").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuilding_the_local_copy_names_the_changes_it_would_lose_first() -> Result<()> {
    if skipped("rebuilding_the_local_copy_names_the_changes_it_would_lose_first") {
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    let server = ServerProcess::spawn(dir.path().join("server.db"), &["--no-auth"]).await;
    let bench = Bench::start(Some(server.url())).await?;
    let app = bench.launch().await?;

    app.add_with_enter("Buy milk").await?;
    app.refresh().await?;
    app.wait_badge(0).await?;
    OtherClient::new(server.url(), None)
        .add("Added on the phone")
        .await?;

    // Nothing waits: it rebuilds at once and brings what the server has.
    open_settings(&app).await?;
    app.click("#rebuild").await?;
    let said = rebuilt(&app).await?;
    ensure!(
        said == "Rebuilt: 2 todos brought back from the server.",
        "{said}"
    );
    ensure!(app.shown_text("rebuild-confirm").await?.is_none());
    app.click("#settings-cancel").await?;
    app.wait_texts(&["Buy milk", "Added on the phone"]).await?;

    // Two changes wait: the question names them, "Keep them" loses nothing.
    app.add_with_enter("Call the plumber").await?;
    app.add_with_enter("Water the plants").await?;
    app.wait_badge(2).await?;
    open_settings(&app).await?;
    app.click("#rebuild").await?;
    let question = app.wait_shown("rebuild-confirm-text").await?;
    ensure!(
        question
            == "2 changes made on this computer have not been sent to the server yet. \
                Rebuilding the local copy loses them.",
        "{question}"
    );
    let button = app.wait_shown("rebuild-lose").await?;
    ensure!(button == "Lose 2 changes and rebuild", "{button}");
    app.js("document.getElementById('local-copy').scrollIntoView({block: 'end'})")
        .await?;
    app.screenshot("rebuild-confirm.png").await?;
    app.click("#rebuild-keep").await?;
    ensure!(app.shown_text("rebuild-confirm").await?.is_none());
    app.click("#settings-cancel").await?;
    app.wait_texts(&[
        "Buy milk",
        "Added on the phone",
        "Call the plumber",
        "Water the plants",
    ])
    .await?;
    app.wait_badge(2).await?;

    // Agreed: the two changes go, the server's todos come back.
    open_settings(&app).await?;
    app.click("#rebuild").await?;
    app.wait_shown("rebuild-confirm-text").await?;
    app.click("#rebuild-lose").await?;
    let said = rebuilt(&app).await?;
    ensure!(
        said == "Rebuilt: 2 todos brought back from the server. 2 unsent changes were dropped.",
        "{said}"
    );
    app.js("document.getElementById('local-copy').scrollIntoView({block: 'end'})")
        .await?;
    app.screenshot("rebuild-done.png").await?;
    app.click("#settings-cancel").await?;
    app.wait_texts(&["Buy milk", "Added on the phone"]).await?;
    app.wait_badge(0).await?;
    app.quit().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_changed_behind_the_apps_back_is_repaired_and_the_status_says_so() -> Result<()> {
    if skipped("a_copy_changed_behind_the_apps_back_is_repaired_and_the_status_says_so") {
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    let server = ServerProcess::spawn(dir.path().join("server.db"), &["--no-auth"]).await;
    let bench = Bench::start(Some(server.url())).await?;
    let app = bench.launch().await?;
    app.add_with_enter("Buy milk").await?;
    app.add_with_enter("Call the plumber").await?;
    app.refresh().await?;
    app.wait_badge(0).await?;
    let (_, detail) = app.wait_status("Synced").await?;
    ensure!(detail.is_empty(), "{detail}");

    // Another program loses a row of the app's store, which the engine never sees happen,
    // and the check is due (its last time is set back past the ten-minute interval, as if the
    // app had been open that long).
    let store = rusqlite::Connection::open(bench.data_dir().join("tidemark.db"))?;
    store.busy_timeout(std::time::Duration::from_secs(5))?;
    let gone = store.execute("DELETE FROM todoitem WHERE text = 'Call the plumber'", [])?;
    ensure!(gone == 1, "{gone} rows deleted");
    let due = store.execute(
        "UPDATE __config SET value = '2000-01-01T00:00:00+00:00' WHERE key = 'verifiedAt|todoitem'",
        [],
    )?;
    ensure!(due == 1, "no time of the last check in the store");
    drop(store);

    app.refresh().await?;
    app.wait_texts(&["Buy milk", "Call the plumber"]).await?;
    let (main, detail) = app.wait_status("Synced").await?;
    ensure!(
        detail
            == "The list on this computer no longer matched the server's, so it was brought \
                back from the server.",
        "{main} / {detail}"
    );
    app.screenshot("repaired.png").await?;

    // The next Refresh finds it matching: the line goes.
    app.refresh().await?;
    let (_, detail) = app.wait_status("Synced").await?;
    ensure!(detail.is_empty(), "{detail}");
    app.quit().await?;
    Ok(())
}
