//! The engine against the stock `azure-mobile-apps` v4 server, the protocol's reference peer,
//! installed by `scripts/stock-server` and run on loopback. The main scenarios of the engine
//! suite must hold there too, with the stock server's quirks: millisecond `updatedAt` (many rows
//! share one), pages of 50, a 409 that echoes the request, no idempotency header.

#[path = "common/mod.rs"]
mod common;

use serde_json::{Value, json};
use tidemark_client::{ClientWins, ColumnType, Problem, PushStatus, ServerWins, TableDefinition};
use tidemark_testkit::proxy::Fault;
use tidemark_testkit::stock::{StockRow, StockServer};

use common::{Device, TestResult, item, proxy, server_rows, server_table, server_text, text_of};

/// The stock server's `todoitem` columns: a stock table has a fixed schema once created, so the
/// devices here define exactly those.
fn stock_table() -> TableDefinition {
    TableDefinition::new(common::TABLE)
        .column("text", ColumnType::Text)
        .column("complete", ColumnType::Boolean)
}

/// A device whose table matches the stock server's.
async fn device(url: &str) -> anyhow::Result<Device> {
    Device::open_with(url, stock_table()).await
}

async fn stock() -> StockServer {
    match StockServer::start().await {
        Ok(server) => server,
        Err(e) => panic!("the stock server must run for this suite: {e:#}"),
    }
}

/// Inserts `n` rows straight on the server, 8 requests at a time.
async fn server_adds(url: &str, n: usize) -> anyhow::Result<()> {
    let table = server_table(url)?;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        let table = table.clone();
        tasks.spawn(async move {
            table
                .insert(&item(json!({"id": format!("s{i:04}"), "text": format!("server {i}"), "complete": false})))
                .await
        });
        if tasks.len() >= 8
            && let Some(done) = tasks.join_next().await
        {
            done??;
        }
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_offline_work_reaches_the_server_and_a_second_device() -> TestResult {
    let server = stock().await;
    let phone = device(&common::unreachable_url()).await?;
    let milk = phone.add("milk").await?;
    let eggs = phone.add("eggs").await?;
    phone
        .table()
        .update(item(json!({"id": eggs, "complete": true})))
        .await?;
    assert_eq!(
        phone.ctx.push().await.status,
        PushStatus::CancelledByNetworkError
    );
    assert_eq!(phone.ctx.pending_operations().await?, 2);

    let phone = phone.reopen(server.url()).await?;
    phone.push_ok().await?;
    phone.pull_all().await?;
    assert_eq!(phone.ctx.pending_operations().await?, 0);
    assert_eq!(server_rows(server.url()).await?.len(), 2);

    let laptop = device(server.url()).await?;
    laptop.pull_all().await?;
    assert_eq!(laptop.text(&milk).await?.as_deref(), Some("milk"));
    let eggs_row = laptop.table().lookup(&eggs).await?.expect("eggs pulled");
    assert_eq!(eggs_row.get("complete"), Some(&Value::Bool(true)));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_pull_pages_by_fifty_through_every_row() -> TestResult {
    let server = stock().await;
    server_adds(server.url(), 130).await?;
    let device = device(server.url()).await?;
    let first = device.pull_all().await?;
    assert_eq!(device.table().count(&Default::default()).await?, 130);
    assert!(first.requests >= 3, "pages of 50: {first:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_incremental_pull_transfers_only_the_changes() -> TestResult {
    let server = stock().await;
    server_adds(server.url(), 60).await?;
    let device = device(server.url()).await?;
    device.pull_all().await?;

    // The stock server's `ge` token brings the newest row back once: "about N".
    let idle = device.pull_all().await?;
    assert!(idle.received <= 1, "no changes, yet {idle:?}");

    let table = server_table(server.url())?;
    for i in 0..5 {
        table
            .update(
                &format!("s{i:04}"),
                &item(json!({"text": format!("changed {i}")})),
                None,
            )
            .await?;
    }
    let delta = device.pull_all().await?;
    assert!(
        (5..=6).contains(&delta.received),
        "5 changes, received {delta:?}"
    );
    assert_eq!(device.text("s0004").await?.as_deref(), Some("changed 4"));
    Ok(())
}

/// `n` rows `{prefix}000`, `{prefix}001`, … all stamped `stamp`.
fn tied_rows(prefix: &str, range: std::ops::Range<usize>, stamp: &str) -> Vec<StockRow> {
    range
        .map(|i| StockRow::new(format!("{prefix}{i:03}"), format!("{prefix} {i}"), stamp))
        .collect()
}

/// Many rows share one millisecond across the 50-row page boundary (only writing them into the
/// stock database can do that: the server stamps rows with its clock). An incremental pull
/// brings each of them exactly once, and the next one brings exactly the rows written since,
/// tied with the last ones pulled or not, each once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_same_millisecond_ties_over_a_page_boundary_come_exactly_once() -> TestResult {
    const EARLY: &str = "2024-05-01T12:00:00.000Z";
    const TIE: &str = "2024-05-01T12:00:00.001Z";
    const LATER: &str = "2024-05-01T12:00:00.002Z";
    let server = stock().await;
    // 7 rows before the tie, so that the first page ends 43 rows into it; 120 tied rows span
    // three pages.
    let mut rows = tied_rows("e", 0..7, EARLY);
    rows.extend(tied_rows("t", 0..120, TIE));
    server.write_rows(&rows)?;
    let device = device(server.url()).await?;

    let first = device.pull_all().await?;
    assert_eq!(first.received, 127, "each row once: {first:?}");
    assert_eq!(first.upserted, 127, "{first:?}");
    assert_eq!(device.table().count(&Default::default()).await?, 127);
    assert_eq!(device.text("t049").await?.as_deref(), Some("t 49"));
    assert_eq!(device.text("t119").await?.as_deref(), Some("t 119"));

    // More rows in the same millisecond as the last ones pulled, and 45 a millisecond later:
    // the next pull crosses the page boundary inside the tie again.
    let mut more = tied_rows("t", 120..180, TIE);
    more.extend(tied_rows("u", 0..45, LATER));
    server.write_rows(&more)?;
    let second = device.pull_all().await?;
    assert_eq!(
        second.received, 105,
        "only the new rows, each once: {second:?}"
    );
    assert_eq!(device.table().count(&Default::default()).await?, 232);
    assert_eq!(device.text("t179").await?.as_deref(), Some("t 179"));
    assert_eq!(device.text("u044").await?.as_deref(), Some("u 44"));

    let idle = device.pull_all().await?;
    assert_eq!(idle.received, 0, "nothing changed: {idle:?}");
    Ok(())
}

/// A row of a tie that was received changes while the pull is between two pages, so it leaves
/// the tie: counting a `$skip` within the tie would now skip a row never received (`t043`).
/// The pull goes on after the last id received and brings every row, the changed one too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_a_tied_row_changing_between_pages_hides_no_other_row() -> TestResult {
    const EARLY: &str = "2024-05-01T12:00:00.000Z";
    const TIE: &str = "2024-05-01T12:00:00.001Z";
    let server = stock().await;
    let mut rows = tied_rows("e", 0..7, EARLY);
    rows.extend(tied_rows("t", 0..120, TIE));
    server.write_rows(&rows)?;
    let proxy = proxy(server.url()).await?;
    let device = device(&proxy.url()).await?;
    // The first page's answer (e000–e006, t000–t042) waits until t000 has changed.
    proxy.add_rule("GET", "/tables/todoitem", Fault::HoldResponse, 1);
    let server_side = server_table(server.url())?;
    let (pulled, changed) = tokio::join!(device.pull_all(), async {
        proxy.wait_held().await;
        let changed = server_side
            .update("t000", &item(json!({"text": "changed"})), None)
            .await;
        proxy.release();
        changed
    });
    changed?;
    let pulled = pulled?;
    assert_eq!(pulled.received, 128, "127 rows, t000 twice: {pulled:?}");
    assert_eq!(device.table().count(&Default::default()).await?, 127);
    assert_eq!(device.text("t043").await?.as_deref(), Some("t 43"));
    assert_eq!(device.text("t000").await?.as_deref(), Some("changed"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_soft_deletes_remove_local_rows() -> TestResult {
    let server = stock().await;
    let device = device(server.url()).await?;
    let id = device.add_synced("to go").await?;
    device.pull_all().await?;
    server_table(server.url())?.delete(&id, None).await?;
    device.pull_all().await?;
    assert_eq!(device.table().lookup(&id).await?, None);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_stale_update_is_a_recorded_412_and_the_push_goes_on() -> TestResult {
    let server = stock().await;
    let a = device(server.url()).await?;
    let first = a.add_synced("first").await?;
    let b = device(server.url()).await?;
    b.pull_all().await?;
    a.set_text(&first, "from a").await?;
    a.push_ok().await?;

    b.set_text(&first, "from b").await?;
    let other = b.add("unrelated").await?;
    let result = b.ctx.push().await;
    assert_eq!(result.status, PushStatus::Complete);
    assert_eq!(result.errors.len(), 1);
    assert_eq!(result.errors[0].status, Some(412));
    let theirs = result.errors[0].server_item.as_ref().expect("412 body");
    assert_eq!(text_of(theirs, "text").as_deref(), Some("from a"));
    assert_eq!(
        server_text(server.url(), &other).await?.as_deref(),
        Some("unrelated")
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_conflicts_resolve_client_wins_and_server_wins() -> TestResult {
    let server = stock().await;
    let a = device(server.url()).await?;
    let mine = a.add_synced("mine").await?;
    let theirs = a.add_synced("theirs").await?;
    let b = device(server.url()).await?;
    b.pull_all().await?;
    a.set_text(&mine, "a1").await?;
    a.set_text(&theirs, "a2").await?;
    a.push_ok().await?;

    b.set_text(&mine, "b1").await?;
    b.ctx.set_conflict_handler(std::sync::Arc::new(ClientWins));
    b.push_ok().await?;
    assert_eq!(
        server_text(server.url(), &mine).await?.as_deref(),
        Some("b1")
    );

    b.set_text(&theirs, "b2").await?;
    b.ctx.set_conflict_handler(std::sync::Arc::new(ServerWins));
    b.ctx.push().await;
    assert!(b.ctx.errors().await?.is_empty());
    assert_eq!(b.text(&theirs).await?.as_deref(), Some("a2"));
    assert_eq!(
        server_text(server.url(), &theirs).await?.as_deref(),
        Some("a2")
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_retry_after_a_lost_insert_response_is_no_duplicate_and_no_conflict() -> TestResult {
    let server = stock().await;
    let proxy = proxy(server.url()).await?;
    let device = device(&proxy.url()).await?;
    device.add("once").await?;
    proxy.add_rule("POST", "/tables/todoitem", Fault::DropResponse, 1);
    assert_eq!(
        device.ctx.push().await.status,
        PushStatus::CancelledByNetworkError
    );
    let retry = device.ctx.push().await;
    assert!(retry.is_success(), "{retry} {:?}", retry.errors);
    assert!(device.ctx.errors().await?.is_empty());
    assert_eq!(server_rows(server.url()).await?.len(), 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_retry_after_a_lost_update_response_reports_no_conflict() -> TestResult {
    let server = stock().await;
    let proxy = proxy(server.url()).await?;
    let device = device(&proxy.url()).await?;
    let id = device.add_synced("v1").await?;
    device.set_text(&id, "v2").await?;
    proxy.add_rule("PATCH", "/tables/todoitem", Fault::DropResponse, 1);
    assert_eq!(
        device.ctx.push().await.status,
        PushStatus::CancelledByNetworkError
    );
    device.push_ok().await?;
    assert_eq!(server_text(server.url(), &id).await?.as_deref(), Some("v2"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_deleting_an_item_already_deleted_on_the_server_counts_as_done() -> TestResult {
    let server = stock().await;
    let device = device(server.url()).await?;
    let id = device.add_synced("gone twice").await?;
    server_table(server.url())?.delete(&id, None).await?;
    device.table().delete(&id).await?;
    device.push_ok().await?;
    assert_eq!(device.ctx.pending_operations().await?, 0);
    Ok(())
}

/// Device `a` deleted `x`; device `b` edited it and pushed: the stock server's 404, recorded.
async fn stock_edit_of_a_deleted_item(
    server: &StockServer,
) -> anyhow::Result<(Device, Device, String, tidemark_client::OperationError)> {
    let a = device(server.url()).await?;
    let x = a.add_synced("shared").await?;
    let b = device(server.url()).await?;
    b.pull_all().await?;
    a.table().delete(&x).await?;
    a.push_ok().await?;
    b.set_text(&x, "edited on b").await?;
    let mut errors = b.ctx.push().await.errors;
    anyhow::ensure!(errors.len() == 1, "one refusal: {errors:?}");
    Ok((a, b, x, errors.remove(0)))
}

/// `b` pushes its "keep mine" of item `x`: the server then holds `b`'s edit as its one row, and
/// `a`, which deleted it, gets it back on its next pull.
async fn brought_back_everywhere(
    server: &StockServer,
    a: &Device,
    b: &Device,
    x: &str,
) -> TestResult {
    b.push_ok().await?;
    assert_eq!(
        server_text(server.url(), x).await?.as_deref(),
        Some("edited on b")
    );
    assert_eq!(server_rows(server.url()).await?.len(), 1);
    a.pull_all().await?;
    assert_eq!(a.text(x).await?.as_deref(), Some("edited on b"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_keep_mine_undeletes_an_item_deleted_elsewhere_and_lands_the_edit() -> TestResult {
    let server = stock().await;
    let (a, b, x, error) = stock_edit_of_a_deleted_item(&server).await?;
    assert_eq!(error.problem(), Problem::DeletedElsewhere, "{error:?}");
    b.ctx.restore_and_keep_local(&error).await?;
    brought_back_everywhere(&server, &a, &b, &x).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_keep_mine_reinserts_an_item_the_server_no_longer_has() -> TestResult {
    let server = stock().await;
    let (a, b, x, error) = stock_edit_of_a_deleted_item(&server).await?;
    // The row removed for good, as on a server without soft delete: nothing to undelete (the
    // undelete answers 404), so the local row goes up as a new insert.
    let db = rusqlite::Connection::open(server.db_path())?;
    db.busy_timeout(std::time::Duration::from_secs(5))?;
    assert_eq!(db.execute("DELETE FROM todoitem WHERE id = ?1", [&x])?, 1);
    drop(db);
    b.ctx.restore_and_keep_local(&error).await?;
    assert_eq!(
        b.queue().await?,
        vec![(tidemark_client::OperationKind::Insert, x.clone())]
    );
    brought_back_everywhere(&server, &a, &b, &x).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_keep_theirs_lets_an_item_deleted_elsewhere_go() -> TestResult {
    let server = stock().await;
    let (_a, b, x, error) = stock_edit_of_a_deleted_item(&server).await?;
    b.ctx.cancel_and_take_server_item(&error).await?;
    assert_eq!(b.table().lookup(&x).await?, None);
    assert_eq!(b.ctx.pending_operations().await?, 0);
    b.pull_all().await?;
    assert_eq!(b.table().lookup(&x).await?, None);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_a_pull_brings_other_rows_while_a_conflict_waits() -> TestResult {
    let server = stock().await;
    let a = device(server.url()).await?;
    let x = a.add_synced("x").await?;
    let b = device(server.url()).await?;
    b.pull_all().await?;
    a.set_text(&x, "x by a").await?;
    a.push_ok().await?;
    b.set_text(&x, "x by b").await?;
    let stale = b.ctx.push().await.errors.remove(0);
    let y = a.add_synced("y by a").await?;
    a.set_text(&x, "x by a again").await?;
    a.push_ok().await?;
    b.pull_all().await?;
    assert_eq!(b.text(&y).await?.as_deref(), Some("y by a"));
    assert_eq!(b.text(&x).await?.as_deref(), Some("x by b"));
    b.ctx.cancel_and_take_server_item(&stale).await?;
    assert_eq!(b.text(&x).await?.as_deref(), Some("x by a again"));
    b.pull_all().await?;
    assert_eq!(b.text(&x).await?.as_deref(), Some("x by a again"));
    Ok(())
}

/// Pushes six offline edits to the stock server with the device's power cut at I/O `cut` of
/// the push (attempt marks and write-backs are not waited for), restarts, pushes again. Returns
/// false once `cut` is past the push's last I/O.
async fn stock_push_cut_at(
    power: &tidemark_testkit::power::PowerCut,
    url: &str,
    cut: u64,
) -> anyhow::Result<bool> {
    use tidemark_client::{RemoteConfig, SyncContext};
    let path = power.dir().join(format!("cut{cut}.db"));
    let open = || SyncContext::open(&path, vec![stock_table()], RemoteConfig::new(url));
    let ctx = open().await?;
    let table = ctx.table(common::TABLE)?;
    let id = |n: u32| format!("p{cut}-{n}");
    let todo = |n: u32, text: &str| item(json!({"id": id(n), "text": text, "complete": false}));
    // Inserts, an update of an insert, and an item deleted after an update.
    for n in 0..3 {
        table.insert(todo(n, "first")).await?;
    }
    table.update(todo(1, "second")).await?;
    table.delete(&id(2)).await?;
    power.cut_after(power.events() + cut);
    let first = ctx.push().await;
    let reached = power.is_on();
    if reached {
        assert!(first.is_success(), "{first} {:?}", first.errors);
        power.cut_now();
    }
    ctx.close().await;
    drop(ctx);
    power.restart().await;

    let ctx = open().await?;
    let again = ctx.push().await;
    assert!(
        again.is_success() && again.errors.is_empty(),
        "cut at I/O {cut} of the push: {again} {:?}",
        again.errors
    );
    for (n, expected) in [(0, Some("first")), (1, Some("second")), (2, None)] {
        assert_eq!(
            server_text(url, &id(n)).await?.as_deref(),
            expected,
            "cut {cut}: {}",
            id(n)
        );
    }
    ctx.close().await;
    Ok(!reached)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_a_push_cut_short_by_the_devices_power_lands_everything_once() -> TestResult {
    let server = stock().await;
    let dir = tempfile::tempdir()?;
    let power = tidemark_testkit::power::PowerCut::new(dir.path());
    let mut cut = 0;
    while stock_push_cut_at(&power, server.url(), cut).await? {
        cut += 1;
        anyhow::ensure!(cut < 10_000, "the push never ended");
    }
    anyhow::ensure!(cut > 2, "the push made only {cut} I/O events");
    Ok(())
}
