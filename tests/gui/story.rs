//! The product's main story: work offline, restart, come back online, Refresh.

use std::time::Duration;

use anyhow::{Result, ensure};
use tidemark_testkit::server::ServerProcess;

use crate::harness::{Bench, Row, skipped};
use crate::server::OtherClient;
use crate::webdriver::F5;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_changes_survive_a_restart_and_sync_on_refresh() -> Result<()> {
    if skipped("offline_changes_survive_a_restart_and_sync_on_refresh") {
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    // The server's address is fixed first, then the server is stopped: the app starts offline.
    let mut server = ServerProcess::spawn(dir.path().join("server.db"), &["--no-auth"]).await;
    server.terminate().await;
    let bench = Bench::start(Some(server.url())).await?;

    let app = bench.launch().await?;
    app.wait_status("Not synced yet").await?;
    app.add_with_enter("Buy milk").await?;
    app.add_with_button("Call the plumber").await?;
    app.add_with_button("Water the plants").await?;
    app.wait_texts(&["Buy milk", "Call the plumber", "Water the plants"])
        .await?;
    app.click_in_row("Call the plumber", "input.complete")
        .await?;
    // The completion folds into the queued insert: still 3 pending operations.
    app.wait_badge(3).await?;

    // Refresh with the server down: nothing is lost, the status line says why.
    app.refresh().await?;
    let (main, detail) = app.wait_status("Offline").await?;
    ensure!(main == "Offline — 3 changes waiting", "status: {main}");
    ensure!(
        detail.contains("Can't reach the server"),
        "detail: {detail}"
    );
    app.wait_badge(3).await?;
    app.screenshot("offline-pending.png").await?;

    // Quit and relaunch: the list and the badge come back from the local store.
    app.quit().await?;
    let app = bench.launch().await?;
    let rows = app
        .wait_texts(&["Buy milk", "Call the plumber", "Water the plants"])
        .await?;
    ensure!(
        rows.iter().map(|r| r.done).collect::<Vec<_>>() == [false, true, false],
        "{rows:?}"
    );
    app.wait_badge(3).await?;

    // Back online: Refresh pushes, then pulls.
    server.restart().await;
    app.refresh().await?;
    app.wait_badge(0).await?;
    let (main, _) = app.wait_status("Synced").await?;
    ensure!(main == "Synced just now", "status: {main}");

    let other = OtherClient::new(server.url(), None);
    ensure!(
        other.texts().await? == ["Buy milk", "Call the plumber", "Water the plants"],
        "server has {:?}",
        other.texts().await?
    );
    ensure!(other.by_text("Call the plumber").await?["complete"] == true);
    ensure!(other.by_text("Buy milk").await?["complete"] == false);

    // Another device adds a todo; F5 (like the Refresh button) brings it in.
    other.add("Book the dentist").await?;
    app.s.type_text(&app.s.find("body").await?, F5).await?;
    app.wait_idle().await?;
    let rows = app
        .wait_texts(&[
            "Buy milk",
            "Call the plumber",
            "Water the plants",
            "Book the dentist",
        ])
        .await?;
    ensure!(
        rows[3]
            == Row {
                text: "Book the dentist".into(),
                done: false
            }
    );
    app.wait_badge(0).await?;

    // Pulling the list down refreshes too.
    other.add("Pick up the parcel").await?;
    app.s
        .drag_down(&app.s.find("#scroller").await?, 140)
        .await?;
    app.wait_idle().await?;
    app.wait_texts(&[
        "Buy milk",
        "Call the plumber",
        "Water the plants",
        "Book the dentist",
        "Pick up the parcel",
    ])
    .await?;
    app.click_in_row("Pick up the parcel", ".delete").await?;
    app.refresh().await?;
    app.wait_texts(&[
        "Buy milk",
        "Call the plumber",
        "Water the plants",
        "Book the dentist",
    ])
    .await?;
    app.wait_badge(0).await?;
    app.screenshot("list.png").await?;

    // Hide completed hides the done todo, and shows it again.
    app.click("#hide-completed").await?;
    app.wait_texts(&["Buy milk", "Water the plants", "Book the dentist"])
        .await?;
    app.click("#hide-completed").await?;
    app.wait_texts(&[
        "Buy milk",
        "Call the plumber",
        "Water the plants",
        "Book the dentist",
    ])
    .await?;

    // Rename by double-click, delete with its button: both reach the server on Refresh.
    app.s
        .double_click(&app.in_row("Water the plants", ".text").await?)
        .await?;
    let input = app.s.find("#todos .edit-input").await?;
    app.s.clear(&input).await?;
    app.s.type_text(&input, "Water the garden\u{E007}").await?;
    app.click_in_row("Buy milk", ".delete").await?;
    app.wait_texts(&["Call the plumber", "Water the garden", "Book the dentist"])
        .await?;
    app.wait_badge(2).await?;
    app.refresh().await?;
    app.wait_badge(0).await?;
    ensure!(
        other.texts().await? == ["Book the dentist", "Call the plumber", "Water the garden"],
        "server has {:?}",
        other.texts().await?
    );

    // The `tidemark` CLI changes the same store while the app is open: the app shows it.
    let cli = tidemark_todos::TodoList::open(&bench.data_dir(), None, None).await?;
    cli.add("Added from the terminal").await?;
    cli.close().await;
    app.wait_texts(&[
        "Call the plumber",
        "Water the garden",
        "Book the dentist",
        "Added from the terminal",
    ])
    .await?;
    app.wait_badge(1).await?;
    tokio::time::sleep(Duration::from_millis(100)).await;
    app.quit().await?;
    Ok(())
}
