//! Pulls go on while changes wait for a decision: the rows of waiting changes stay as the user
//! left them, every other row comes down, and once the change is settled its row is brought
//! up to date although the pull's watermark already went past it.

use tidemark_client::{OperationError, Problem};

use crate::common::{Device, Mode, TestResult, server, server_text};

/// Devices `a` and `b` share `x` and `y`; both edited `x`, `a` first: `b`'s edit waits as a
/// recorded conflict.
async fn waiting_conflict(
    mode: Mode,
) -> anyhow::Result<(
    tidemark_testkit::server::TestServer,
    Device,
    Device,
    [String; 2],
    OperationError,
)> {
    let server = server().await;
    let a = Device::open_in(server.url(), mode).await?;
    let b = Device::open_in(server.url(), mode).await?;
    let x = a.add_synced("x").await?;
    let y = a.add_synced("y").await?;
    b.pull_all().await?;
    a.set_text(&x, "x by a").await?;
    a.push_ok().await?;
    b.set_text(&x, "x by b").await?;
    let error = b.ctx.push().await.errors.remove(0);
    anyhow::ensure!(error.problem() == Problem::Conflict, "{error:?}");
    Ok((server, a, b, [x, y], error))
}

both_modes! {
    async fn a_pull_brings_other_rows_while_a_conflict_waits_and_keeps_the_conflicted_row(mode) -> TestResult {
        let (server, a, b, [x, y], _error) = waiting_conflict(mode).await?;
        a.set_text(&y, "y by a").await?;
        let z = a.add_synced("z by a").await?;
        // A change queued on b meanwhile still goes out with the pull's push.
        let w = b.add("w by b").await?;
        let pulled = b.pull_all().await?;
        assert_eq!(b.text(&y).await?.as_deref(), Some("y by a"));
        assert_eq!(b.text(&z).await?.as_deref(), Some("z by a"));
        assert_eq!(server_text(server.url(), &w).await?.as_deref(), Some("w by b"));
        // The conflicted row is as the user left it, and the conflict still waits.
        assert_eq!(b.text(&x).await?.as_deref(), Some("x by b"));
        assert_eq!(b.ctx.errors().await?.len(), 1);
        assert_eq!(b.ctx.pending_operations().await?, 1);
        assert!(pulled.skipped_pending >= 1, "{pulled:?}");
        Ok(())
    }
}

both_modes! {
    async fn a_row_skipped_while_its_conflict_waited_is_brought_up_to_date_by_keep_theirs(mode) -> TestResult {
        let (_server, a, b, [x, _y], stale_error) = waiting_conflict(mode).await?;
        // x changes again on the server while b's conflict waits; b's pull moves its watermark
        // past that change without writing it (the row keeps b's edit).
        a.set_text(&x, "x by a again").await?;
        a.push_ok().await?;
        b.pull_all().await?;
        assert_eq!(b.text(&x).await?.as_deref(), Some("x by b"));
        // Settled with the error read before that pull: b still gets the newest copy.
        b.ctx.cancel_and_take_server_item(&stale_error).await?;
        assert_eq!(b.text(&x).await?.as_deref(), Some("x by a again"));
        b.pull_all().await?;
        assert_eq!(b.text(&x).await?.as_deref(), Some("x by a again"));
        assert_eq!(b.ctx.pending_operations().await?, 0);
        Ok(())
    }
}

both_modes! {
    async fn a_row_deleted_on_the_server_while_its_conflict_waited_goes_with_keep_theirs(mode) -> TestResult {
        let (_server, a, b, [x, _y], stale_error) = waiting_conflict(mode).await?;
        a.table().delete(&x).await?;
        a.push_ok().await?;
        b.pull_all().await?;
        assert_eq!(b.text(&x).await?.as_deref(), Some("x by b"));
        // The recorded copy is now the deleted one: the change asks "deleted elsewhere".
        let error = b.ctx.errors().await?.remove(0);
        assert_eq!(error.problem(), Problem::DeletedElsewhere, "{error:?}");
        b.ctx.cancel_and_take_server_item(&stale_error).await?;
        assert_eq!(b.table().lookup(&x).await?, None);
        b.pull_all().await?;
        assert_eq!(b.table().lookup(&x).await?, None);
        Ok(())
    }
}

both_modes! {
    async fn keep_mine_after_a_waiting_pull_lands_over_the_newest_version(mode) -> TestResult {
        let (server, a, b, [x, _y], _error) = waiting_conflict(mode).await?;
        a.set_text(&x, "x by a again").await?;
        a.push_ok().await?;
        b.pull_all().await?;
        let error = b.ctx.errors().await?.remove(0);
        let version = error
            .server_item
            .as_ref()
            .and_then(|s| s.get("version"))
            .cloned()
            .unwrap_or_default();
        b.ctx
            .update_operation(
                &error,
                crate::common::item(serde_json::json!({"id": x, "text": "x by b", "version": version})),
            )
            .await?;
        b.push_ok().await?;
        assert_eq!(server_text(server.url(), &x).await?.as_deref(), Some("x by b"));
        a.pull_all().await?;
        assert_eq!(a.text(&x).await?.as_deref(), Some("x by b"));
        Ok(())
    }
}

#[tokio::test]
async fn another_tables_pull_never_waits_on_this_tables_conflict() -> TestResult {
    use tidemark_client::{ColumnType, Query, SyncContext, TableDefinition};

    let server = tidemark_testkit::server::TestServer::start_with(tidemark_server::ServerConfig {
        tables: vec!["todoitem".into(), "notes".into()],
        ..tidemark_server::ServerConfig::open()
    })
    .await;
    let notes = TableDefinition::new("notes").column("body", ColumnType::Text);
    let open = |dir: &tempfile::TempDir| {
        SyncContext::open(
            dir.path().join("store.db"),
            vec![crate::common::todo_table(), notes.clone()],
            Mode::Batch.config(server.url()),
        )
    };
    let (dir_a, dir_b) = (tempfile::tempdir()?, tempfile::tempdir()?);
    let (a, b) = (open(&dir_a).await?, open(&dir_b).await?);
    let todo = |ctx: &SyncContext| ctx.table(crate::common::TABLE);
    let x = todo(&a)?.insert(crate::common::todo("x")).await?;
    let x = crate::common::text_of(&x, "id").unwrap_or_default();
    anyhow::ensure!(a.push().await.is_success());
    todo(&b)?.pull(Some("all"), &Query::new()).await?;
    todo(&a)?
        .update(crate::common::item(
            serde_json::json!({"id": x, "text": "x by a"}),
        ))
        .await?;
    anyhow::ensure!(a.push().await.is_success());
    todo(&b)?
        .update(crate::common::item(
            serde_json::json!({"id": x, "text": "x by b"}),
        ))
        .await?;
    assert_eq!(b.push().await.errors.len(), 1);

    // A note from a, and one queued on b: b's pull of notes pushes (the todo's conflict is
    // sent again and still waits) and brings a's note.
    a.table("notes")?
        .insert(crate::common::item(
            serde_json::json!({"id": "from-a", "body": "hello"}),
        ))
        .await?;
    anyhow::ensure!(a.push().await.is_success());
    b.table("notes")?
        .insert(crate::common::item(
            serde_json::json!({"id": "from-b", "body": "hi"}),
        ))
        .await?;
    let pulled = b.table("notes")?.pull(Some("all"), &Query::new()).await?;
    assert_eq!(pulled.received, 2, "{pulled:?}");
    assert!(b.table("notes")?.lookup("from-a").await?.is_some());
    a.table("notes")?.pull(Some("all"), &Query::new()).await?;
    assert!(a.table("notes")?.lookup("from-b").await?.is_some());
    assert_eq!(b.errors().await?.len(), 1);
    let kept = todo(&b)?.lookup(&x).await?.unwrap_or_default();
    assert_eq!(
        crate::common::text_of(&kept, "text").as_deref(),
        Some("x by b")
    );
    Ok(())
}

#[tokio::test]
async fn keep_theirs_offline_takes_the_newest_copy_a_pull_kept_with_the_waiting_change()
-> TestResult {
    let server = server().await;
    let proxy = crate::common::proxy(server.url()).await?;
    let a = Device::open(server.url()).await?;
    let b = Device::open(&proxy.url()).await?;
    let x = a.add_synced("x").await?;
    b.pull_all().await?;
    a.set_text(&x, "x by a").await?;
    a.push_ok().await?;
    b.set_text(&x, "x by b").await?;
    let stale = b.ctx.push().await.errors.remove(0);
    a.set_text(&x, "x by a again").await?;
    a.push_ok().await?;
    b.pull_all().await?;
    assert_eq!(b.text(&x).await?.as_deref(), Some("x by b"));
    // Offline now: the server cannot be asked; the copy the pull kept is the newest known.
    proxy.add_rule(
        "GET",
        "tables/todoitem",
        tidemark_testkit::proxy::Fault::DropRequest,
        usize::MAX,
    );
    b.ctx.cancel_and_take_server_item(&stale).await?;
    assert_eq!(b.text(&x).await?.as_deref(), Some("x by a again"));
    assert_eq!(b.ctx.pending_operations().await?, 0);
    Ok(())
}
