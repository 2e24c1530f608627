//! Power cuts (`tidemark_testkit::power`): the store, or the server's database, on a simulated
//! machine that loses every write not yet synced. The power goes at every I/O of an offline
//! edit session and of a push; after the restart, every change the user was told was saved is
//! still there, every write the server acknowledged is still there, and everything reaches the
//! server (and from it another device) exactly once, with no conflict.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use tidemark_client::{Query, SyncContext, SyncTable};
use tidemark_testkit::power::PowerCut;
use tidemark_testkit::server::TestServer;

use crate::common::{Mode, TestResult, text_of, todo_table, todo_with_id, unreachable_url};

/// One step of the edit session, each an awaited call the user sees succeed or fail.
#[derive(Debug, Clone, Copy)]
enum Edit {
    Insert(&'static str, &'static str),
    Update(&'static str, &'static str),
    Delete(&'static str),
}

/// Inserts, updates of new and of pushed rows, deletes: every kind of queue entry, and
/// collapses (an update of an insert, a delete of an insert).
const SESSION: &[Edit] = &[
    Edit::Insert("a", "a1"),
    Edit::Insert("b", "b1"),
    Edit::Update("a", "a2"),
    Edit::Insert("c", "c1"),
    Edit::Delete("b"),
    Edit::Update("c", "c2"),
    Edit::Insert("d", "d1"),
    Edit::Update("a", "a3"),
    Edit::Delete("c"),
    Edit::Insert("e", "e1"),
    Edit::Update("d", "d2"),
    Edit::Update("e", "e2"),
];

/// The rows (id → text) after the first `steps` edits, ids under `prefix`.
fn rows_after(prefix: &str, steps: usize) -> BTreeMap<String, String> {
    let mut rows = BTreeMap::new();
    for edit in &SESSION[..steps] {
        match *edit {
            Edit::Insert(id, text) | Edit::Update(id, text) => {
                rows.insert(format!("{prefix}{id}"), text.to_owned());
            }
            Edit::Delete(id) => {
                rows.remove(&format!("{prefix}{id}"));
            }
        }
    }
    rows
}

/// Runs the session until a step fails; returns how many the user was told succeeded.
async fn edit(table: &SyncTable, prefix: &str) -> usize {
    for (done, edit) in SESSION.iter().enumerate() {
        let outcome = match *edit {
            Edit::Insert(id, text) => table
                .insert(todo_with_id(&format!("{prefix}{id}"), text))
                .await
                .map(drop),
            Edit::Update(id, text) => table
                .update(todo_with_id(&format!("{prefix}{id}"), text))
                .await
                .map(drop),
            Edit::Delete(id) => table.delete(&format!("{prefix}{id}")).await,
        };
        if outcome.is_err() {
            return done;
        }
    }
    SESSION.len()
}

/// Every local row (id → text).
async fn local_rows(table: &SyncTable) -> anyhow::Result<BTreeMap<String, String>> {
    Ok(table
        .query(&Query::new())
        .await?
        .iter()
        .filter_map(|item| Some((text_of(item, "id")?, text_of(item, "text")?)))
        .collect())
}

/// The server's live rows whose ids start with `prefix` (id → text).
async fn server_rows(url: &str, prefix: &str) -> anyhow::Result<BTreeMap<String, String>> {
    let rows = crate::common::server_rows(url).await?;
    let mut found = BTreeMap::new();
    for item in &rows {
        if let (Some(id), Some(text)) = (text_of(item, "id"), text_of(item, "text"))
            && id.starts_with(prefix)
        {
            anyhow::ensure!(
                found.insert(id.clone(), text).is_none(),
                "{id} is on the server twice"
            );
        }
    }
    Ok(found)
}

async fn open(path: &Path, url: &str, mode: Mode) -> anyhow::Result<SyncContext> {
    Ok(SyncContext::open(path, vec![todo_table()], mode.config(url)).await?)
}

fn table(ctx: &SyncContext) -> SyncTable {
    ctx.table("todoitem")
        .unwrap_or_else(|e| panic!("the todo table is defined: {e}"))
}

/// Closes `ctx`, waits for its files to close, and turns the power back on.
async fn restart(power: &PowerCut, ctx: SyncContext) {
    ctx.close().await;
    drop(ctx);
    power.restart().await;
}

/// Counts the I/O events of one whole session on a fresh store (the cut points to try).
async fn session_events(power: &PowerCut) -> anyhow::Result<u64> {
    let path = power.dir().join("count.db");
    let ctx = open(&path, &unreachable_url(), Mode::Batch).await?;
    let before = power.events();
    anyhow::ensure!(edit(&table(&ctx), "").await == SESSION.len());
    let events = power.events() - before;
    ctx.close().await;
    Ok(events)
}

#[tokio::test]
async fn every_edit_the_user_was_told_was_saved_survives_a_power_cut_at_any_point() -> TestResult {
    let server = TestServer::start_open().await;
    let dir = tempfile::tempdir()?;
    let power = PowerCut::new(dir.path());
    let events = session_events(&power).await?;
    anyhow::ensure!(events > 20, "the session made only {events} I/O events");
    let mut expected_on_server = BTreeMap::new();
    for cut in 0..events {
        let prefix = format!("cut{cut}-");
        let path = power.dir().join(format!("{prefix}store.db"));
        let ctx = open(&path, &unreachable_url(), Mode::Batch).await?;
        power.cut_after(power.events() + cut);
        let told = edit(&table(&ctx), &prefix).await;
        restart(&power, ctx).await;

        let ctx = open(&path, server.url(), Mode::Batch).await?;
        let found = local_rows(&table(&ctx)).await?;
        // The step the power cut short was not confirmed; it may or may not have landed.
        let confirmed = rows_after(&prefix, told);
        let unconfirmed = rows_after(&prefix, (told + 1).min(SESSION.len()));
        assert!(
            found == confirmed || found == unconfirmed,
            "cut at event {cut}/{events}, after {told} confirmed edits: the store holds {found:?}, \
             the user was told {confirmed:?}"
        );
        let pushed = ctx.push().await;
        assert!(
            pushed.is_success(),
            "cut {cut}: {pushed} {:?}",
            pushed.errors
        );
        assert_eq!(
            server_rows(server.url(), &prefix).await?,
            found,
            "cut {cut}"
        );
        expected_on_server.extend(found);
        ctx.close().await;
    }
    // Another device pulls everything once.
    let other = crate::common::Device::open(server.url()).await?;
    other.pull_all().await?;
    assert_eq!(local_rows(&other.table()).await?, expected_on_server);
    Ok(())
}

/// Pushes the whole session, with the power cut at event `cut` of the push; then restarts and
/// pushes again. Returns false once `cut` is past the push's last event.
async fn push_cut_at(
    power: &PowerCut,
    server_url: &str,
    mode: Mode,
    cut: u64,
) -> anyhow::Result<bool> {
    let prefix = format!("{mode:?}-{cut}-");
    let path: PathBuf = power.dir().join(format!("{prefix}store.db"));
    let ctx = open(&path, server_url, mode).await?;
    anyhow::ensure!(edit(&table(&ctx), &prefix).await == SESSION.len());
    let start = power.events();
    power.cut_after(start + cut);
    let first = ctx.push().await;
    let reached = power.is_on();
    if reached {
        assert!(first.is_success(), "{first} {:?}", first.errors);
        power.cut_now();
    }
    restart(power, ctx).await;

    let ctx = open(&path, server_url, mode).await?;
    let again = ctx.push().await;
    // No lost answer is taken for a conflict: the server recognises each resend.
    assert!(
        again.is_success() && again.errors.is_empty(),
        "{mode:?}, cut at event {cut} of the push: {again} {:?}",
        again.errors
    );
    let expected = rows_after(&prefix, SESSION.len());
    assert_eq!(local_rows(&table(&ctx)).await?, expected, "cut {cut}");
    assert_eq!(ctx.pending_operations().await?, 0, "cut {cut}");
    assert_eq!(
        server_rows(server_url, &prefix).await?,
        expected,
        "cut {cut}"
    );
    ctx.close().await;
    Ok(!reached)
}

both_modes! {
    /// The device's power goes at each I/O of a push (the attempt marks, the write-backs):
    /// after the restart the next push lands everything exactly once and no conflict.
    async fn a_push_cut_short_by_the_devices_power_lands_everything_once(mode) -> TestResult {
        let server = TestServer::start_open().await;
        let dir = tempfile::tempdir()?;
        let power = PowerCut::new(dir.path());
        let mut cut = 0;
        while push_cut_at(&power, server.url(), mode, cut).await? {
            cut += 1;
            anyhow::ensure!(cut < 10_000, "the push never ended");
        }
        anyhow::ensure!(cut > 2, "the push made only {cut} I/O events");
        Ok(())
    }
}

both_modes! {
    /// The server's power goes at each I/O of its database during a push: every write it
    /// acknowledged survives, the device resends the rest after the server restarts, and
    /// everything is on the server exactly once, with no conflict.
    async fn a_push_cut_short_by_the_servers_power_lands_everything_once(mode) -> TestResult {
        let dir = tempfile::tempdir()?;
        let power = PowerCut::new(dir.path());
        let mut server =
            TestServer::start_on(power.dir().join("server.db"), tidemark_server::ServerConfig::open())
                .await;
        let device_dir = tempfile::tempdir()?;
        let mut cut = 0;
        loop {
            let prefix = format!("{mode:?}-{cut}-");
            let path = device_dir.path().join(format!("{prefix}store.db"));
            let ctx = open(&path, server.url(), mode).await?;
            anyhow::ensure!(edit(&table(&ctx), &prefix).await == SESSION.len());
            power.cut_after(power.events() + cut);
            let first = ctx.push().await;
            let reached = power.is_on();
            if reached {
                assert!(first.is_success(), "{first} {:?}", first.errors);
                power.cut_now();
            }
            // What the device learnt was accepted: everything no longer queued.
            let unanswered: Vec<String> =
                ctx.operations().await?.into_iter().map(|op| op.item_id).collect();
            let local = local_rows(&table(&ctx)).await?;
            server.pause().await;
            power.restart().await;
            server.start_again().await;

            let on_server = server_rows(server.url(), &prefix).await?;
            for edit in SESSION {
                let (Edit::Insert(id, _) | Edit::Update(id, _) | Edit::Delete(id)) = *edit;
                let id = format!("{prefix}{id}");
                if !unanswered.contains(&id) {
                    assert_eq!(
                        on_server.get(&id),
                        local.get(&id),
                        "{mode:?}, cut at event {cut}: the server acknowledged {id} and lost it"
                    );
                }
            }
            let again = ctx.push().await;
            assert!(
                again.is_success() && again.errors.is_empty(),
                "{mode:?}, cut at event {cut}: {again} {:?}",
                again.errors
            );
            let expected = rows_after(&prefix, SESSION.len());
            assert_eq!(server_rows(server.url(), &prefix).await?, expected, "cut {cut}");
            assert_eq!(local_rows(&table(&ctx)).await?, expected, "cut {cut}");
            ctx.close().await;
            if reached {
                break;
            }
            cut += 1;
            anyhow::ensure!(cut < 10_000, "the push never ended");
        }
        anyhow::ensure!(cut > 2, "the push made only {cut} server I/O events");
        Ok(())
    }
}
