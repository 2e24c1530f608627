//! A change the server refuses (not a conflict: 400, 500...) is recorded as refused with the
//! server's reason, never holds the other queued changes, and is settled by an edit or a
//! discard.

use serde_json::json;
use tidemark_client::{OperationError, Problem, PushStatus};
use tidemark_testkit::server::TestServer;

use crate::common::{Device, Mode, TestResult, item, server_rows, server_text};

/// The server here refuses items larger than this many bytes (with a 400 saying so).
const MAX_ITEM_BYTES: usize = 300;

async fn small_items_server() -> TestServer {
    TestServer::start_with(tidemark_server::ServerConfig {
        max_item_bytes: MAX_ITEM_BYTES,
        ..tidemark_server::ServerConfig::open()
    })
    .await
}

/// Item `x` is on the server; the device made its text too long for the server and added
/// another todo, then pushed: the edit of `x` is refused with a 400, the new todo lands.
async fn refused_edit(
    mode: Mode,
) -> anyhow::Result<(TestServer, Device, String, String, OperationError)> {
    let server = small_items_server().await;
    let device = Device::open_in(server.url(), mode).await?;
    let x = device.add_synced("short").await?;
    device.set_text(&x, &"long ".repeat(100)).await?;
    let other = device.add("other").await?;
    let pushed = device.ctx.push().await;
    anyhow::ensure!(
        pushed.status == PushStatus::Complete && pushed.pushed == 1 && pushed.errors.len() == 1,
        "one accepted, one refused: {pushed:?}"
    );
    let error = device.ctx.errors().await?.remove(0);
    Ok((server, device, x, other, error))
}

both_modes! {
    async fn a_refused_change_says_the_servers_reason_and_the_other_changes_land(mode) -> TestResult {
        let (server, device, x, other, error) = refused_edit(mode).await?;
        assert_eq!(error.status, Some(400));
        assert_eq!(error.problem(), Problem::Refused, "{error:?}");
        let reason = error.reason().unwrap_or_default();
        assert!(reason.contains("the limit is 300 bytes"), "{reason}");
        // The reason is the server's words, not its JSON.
        assert!(!reason.contains("{\""), "{reason}");
        assert_eq!(server_text(server.url(), &other).await?.as_deref(), Some("other"));
        assert_eq!(server_text(server.url(), &x).await?.as_deref(), Some("short"));
        // Kept locally as the user left it, waiting for a decision.
        assert_eq!(device.text(&x).await?, Some("long ".repeat(100)));
        assert_eq!(device.ctx.pending_operations().await?, 1);
        Ok(())
    }
}

both_modes! {
    async fn a_refused_change_edited_lands_on_the_next_push(mode) -> TestResult {
        let (server, device, x, _other, error) = refused_edit(mode).await?;
        device
            .ctx
            .update_operation(&error, item(json!({"id": x, "text": "shorter"})))
            .await?;
        device.push_ok().await?;
        assert_eq!(server_text(server.url(), &x).await?.as_deref(), Some("shorter"));
        assert_eq!(device.text(&x).await?.as_deref(), Some("shorter"));
        assert!(device.ctx.errors().await?.is_empty());
        assert_eq!(device.ctx.pending_operations().await?, 0);
        Ok(())
    }
}

both_modes! {
    async fn a_refused_change_discarded_leaves_the_servers_copy(mode) -> TestResult {
        let (server, device, x, _other, error) = refused_edit(mode).await?;
        device.ctx.cancel_and_take_server_item(&error).await?;
        assert_eq!(device.text(&x).await?.as_deref(), Some("short"));
        assert!(device.ctx.errors().await?.is_empty());
        assert_eq!(device.ctx.pending_operations().await?, 0);
        device.pull_all().await?;
        assert_eq!(device.text(&x).await?.as_deref(), Some("short"));
        assert_eq!(server_rows(server.url()).await?.len(), 2);
        Ok(())
    }
}

#[tokio::test]
async fn a_refused_new_todo_discarded_is_gone_and_a_server_failure_is_refused_too() -> TestResult {
    let server = small_items_server().await;
    let proxy = crate::common::proxy(server.url()).await?;
    let device = Device::open_in(&proxy.url(), Mode::PerRequest).await?;
    let big = device.add(&"big ".repeat(100)).await?;
    let error = device.ctx.push().await.errors.remove(0);
    assert_eq!(error.problem(), Problem::Refused);
    device.ctx.cancel_and_take_server_item(&error).await?;
    assert_eq!(device.table().lookup(&big).await?, None);
    assert_eq!(device.ctx.pending_operations().await?, 0);

    // A 500 is a refusal with its reason, and the push goes on past it.
    let failing = device.add("fails").await?;
    let lands = device.add("lands").await?;
    proxy.add_rule(
        "POST",
        "tables/todoitem",
        tidemark_testkit::proxy::Fault::Respond {
            status: 500,
            body: r#"{"error":"the database is on fire"}"#.into(),
        },
        1,
    );
    let pushed = device.ctx.push().await;
    assert_eq!(pushed.status, PushStatus::Complete);
    assert_eq!(pushed.errors.len(), 1, "{pushed:?}");
    assert_eq!(pushed.errors[0].item_id, failing);
    assert_eq!(pushed.errors[0].problem(), Problem::Refused);
    assert_eq!(
        pushed.errors[0].reason().as_deref(),
        Some("the database is on fire")
    );
    assert_eq!(
        server_text(server.url(), &lands).await?.as_deref(),
        Some("lands")
    );
    Ok(())
}

#[tokio::test]
async fn a_discard_takes_the_servers_copy_as_it_is_now() -> TestResult {
    let (server, device, x, _other, _error) = refused_edit(Mode::Batch).await?;
    let remote = crate::common::server_table(server.url())?;
    remote
        .update(&x, &item(json!({"text": "changed on the server"})), None)
        .await?;
    // The pull skips x (its change waits) and keeps the server's newer copy with the change.
    device.pull_all().await?;
    let waiting = device.ctx.errors().await?.remove(0);
    let kept = waiting.server_item.as_ref().and_then(|i| i.get("text"));
    assert_eq!(kept, Some(&json!("changed on the server")));
    // Discarded after the server deleted it: the copy asked for now wins over the kept one.
    remote.delete(&x, None).await?;
    device.ctx.cancel_and_take_server_item(&waiting).await?;
    assert_eq!(device.table().lookup(&x).await?, None);
    assert_eq!(device.ctx.pending_operations().await?, 0);
    Ok(())
}

both_modes! {
    /// A change too large for the server's request limit even on its own (413) is refused,
    /// not retried forever and not holding the rest: a batch that meets the limit is split, the
    /// change that still does not fit waits for a decision, the others land.
    async fn a_change_too_large_on_its_own_is_refused_and_the_others_land(mode) -> TestResult {
        let server = TestServer::start_with(tidemark_server::ServerConfig {
            max_body_bytes: 2_048,
            max_item_bytes: 2_048,
            ..tidemark_server::ServerConfig::open()
        })
        .await;
        let device = Device::open_in(server.url(), mode).await?;
        let before = device.add("before").await?;
        let huge = device.add(&"far too long ".repeat(400)).await?;
        let after = device.add("after").await?;
        let pushed = device.ctx.push().await;
        assert_eq!(pushed.status, PushStatus::Complete, "{pushed:?}");
        assert_eq!((pushed.pushed, pushed.errors.len()), (2, 1), "{pushed:?}");
        let error = device.ctx.errors().await?.remove(0);
        assert_eq!((error.status, error.problem()), (Some(413), Problem::Refused), "{error:?}");
        assert_eq!(error.item_id, huge);
        for id in [&before, &after] {
            assert!(server_text(server.url(), id).await?.is_some(), "{id} landed");
        }
        assert_eq!(server_text(server.url(), &huge).await?, None);
        // Discarding it leaves nothing waiting and nothing on the server.
        device.ctx.cancel_and_discard_item(&error).await?;
        assert_eq!(device.ctx.pending_operations().await?, 0);
        assert_eq!(server_rows(server.url()).await?.len(), 2);
        Ok(())
    }
}
