//! Resolving refused operations: the context's resolution APIs and the conflict handler.

use std::sync::Arc;

use serde_json::{Value, json};
use tidemark_client::{ClientError, ClientWins, OperationError, PushStatus, ServerWins};

use crate::common::{Device, Mode, item, server, server_text};

/// Devices `a` and `b` share item `x`; `a` changed it on the server, `b` changed it locally and
/// pushed, getting a 412 recorded.
async fn recorded_conflict(
    mode: Mode,
) -> anyhow::Result<(
    tidemark_testkit::server::TestServer,
    Device,
    Device,
    String,
    OperationError,
)> {
    let server = server().await;
    let a = Device::open_in(server.url(), mode).await?;
    let b = Device::open_in(server.url(), mode).await?;
    let x = a.add_synced("original").await?;
    b.pull_all().await?;
    a.set_text(&x, "from a").await?;
    a.push_ok().await?;
    b.set_text(&x, "from b").await?;
    let result = b.ctx.push().await;
    let error = result
        .errors
        .into_iter()
        .next()
        .ok_or_else(|| anyhow::anyhow!("no conflict recorded"))?;
    Ok((server, a, b, x, error))
}

both_modes! {
    async fn cancel_and_take_server_item_keeps_the_servers_copy_and_drops_the_operation(mode) -> TestResult {
        let (_server, _a, b, x, error) = recorded_conflict(mode).await?;
        b.ctx.cancel_and_take_server_item(&error).await?;
        assert_eq!(b.text(&x).await?.as_deref(), Some("from a"));
        assert_eq!(b.ctx.pending_operations().await?, 0);
        assert!(b.ctx.errors().await?.is_empty());
        Ok(())
    }
}

both_modes! {
    async fn cancel_and_discard_item_drops_the_operation_and_the_local_item(mode) -> TestResult {
        let (_server, _a, b, x, error) = recorded_conflict(mode).await?;
        b.ctx.cancel_and_discard_item(&error).await?;
        assert_eq!(b.table().lookup(&x).await?, None);
        assert_eq!(b.ctx.pending_operations().await?, 0);
        assert!(b.ctx.errors().await?.is_empty());
        Ok(())
    }
}

both_modes! {
    async fn update_operation_with_a_merge_on_the_servers_version_succeeds_on_the_next_push(mode) -> TestResult {
        let (server, _a, b, x, error) = recorded_conflict(mode).await?;
        let version = error
            .server_item
            .as_ref()
            .and_then(|s| s.get("version"))
            .cloned()
            .unwrap_or(Value::Null);
        b.ctx
            .update_operation(
                &error,
                item(json!({"id": x, "text": "merged", "version": version})),
            )
            .await?;
        b.push_ok().await?;
        assert_eq!(
            server_text(server.url(), &x).await?.as_deref(),
            Some("merged")
        );
        assert_eq!(b.text(&x).await?.as_deref(), Some("merged"));
        Ok(())
    }
}

both_modes! {
    async fn resolutions_refuse_when_the_operation_changed_meanwhile(mode) -> TestResult {
        let (_server, _a, b, x, error) = recorded_conflict(mode).await?;
        b.set_text(&x, "edited again").await?;
        let refused = [
            b.ctx.cancel_and_take_server_item(&error).await,
            b.ctx.cancel_and_discard_item(&error).await,
            b.ctx
                .update_operation(&error, item(json!({"id": x, "text": "m"})))
                .await,
        ];
        for r in refused {
            assert!(
                matches!(r, Err(ClientError::OperationChanged { .. })),
                "{r:?}"
            );
        }
        assert_eq!(b.text(&x).await?.as_deref(), Some("edited again"));
        assert_eq!(b.ctx.pending_operations().await?, 1);
        Ok(())
    }
}

both_modes! {
    async fn conflict_handler_client_wins_overwrites_the_server(mode) -> TestResult {
        let (server, _a, b, x, _) = recorded_conflict(mode).await?;
        b.ctx.set_conflict_handler(Arc::new(ClientWins));
        let result = b.ctx.push().await;
        assert!(result.is_success(), "{result} {:?}", result.errors);
        assert_eq!(
            server_text(server.url(), &x).await?.as_deref(),
            Some("from b")
        );
        assert_eq!(b.ctx.pending_operations().await?, 0);
        Ok(())
    }
}

both_modes! {
    async fn conflict_handler_server_wins_takes_the_server_item(mode) -> TestResult {
        let (server, _a, b, x, _) = recorded_conflict(mode).await?;
        b.ctx.set_conflict_handler(Arc::new(ServerWins));
        let result = b.ctx.push().await;
        assert!(result.is_success(), "{result} {:?}", result.errors);
        assert_eq!(b.text(&x).await?.as_deref(), Some("from a"));
        assert_eq!(
            server_text(server.url(), &x).await?.as_deref(),
            Some("from a")
        );
        assert_eq!(b.ctx.pending_operations().await?, 0);
        Ok(())
    }
}

both_modes! {
    async fn conflict_handler_abort_stops_the_push(mode) -> TestResult {
        let (_server, _a, b, _x, _) = recorded_conflict(mode).await?;
        b.add("later").await?;
        b.ctx.set_conflict_handler(Arc::new(|_: &OperationError| {
            tidemark_client::ConflictResolution::Abort
        }));
        let result = b.ctx.push().await;
        assert_eq!(result.status, PushStatus::CancelledByHandlerAbort);
        // In batch mode `later` was sent (and applied) in the same batch as the refused update.
        let unsent = if mode == Mode::Batch { 1 } else { 2 };
        assert_eq!(b.ctx.pending_operations().await?, unsent);
        Ok(())
    }
}
