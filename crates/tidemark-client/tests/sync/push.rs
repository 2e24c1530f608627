//! Push: order, write-back, refusals recorded while the push goes on, and every stop condition.

use std::sync::Arc;

use tidemark_client::{
    CancelToken, ConflictResolution, OperationError, OperationState, PushStatus,
};
use tidemark_testkit::proxy::Fault;

use crate::common::{
    Device, Mode, proxy, server, server_rows, server_text, server_with_key, text_of,
};

both_modes! {
    async fn push_sends_in_queue_order_and_takes_the_servers_item(mode) -> TestResult {
        let server = server().await;
        let device = Device::open_in(server.url(), mode).await?;
        let a = device.add("a").await?;
        let b = device.add("b").await?;
        device.push_ok().await?;
        let rows = server_rows(server.url()).await?;
        assert_eq!(rows.len(), 2);
        let local = device.table().lookup(&a).await?.unwrap_or_default();
        let remote = rows
            .iter()
            .find(|r| text_of(r, "id").as_deref() == Some(a.as_str()))
            .cloned()
            .unwrap_or_default();
        assert!(text_of(&local, "version").is_some());
        assert_eq!(text_of(&local, "version"), text_of(&remote, "version"));
        // Queue order is commit order on the server, so a's clock reading precedes b's.
        let stamp = |id: &str| {
            rows.iter()
                .find(|r| text_of(r, "id").as_deref() == Some(id))
                .and_then(|r| text_of(r, "updatedAt"))
        };
        assert!(stamp(&a) < stamp(&b));
        assert_eq!(device.ctx.pending_operations().await?, 0);
        Ok(())
    }
}

/// Device `a` and `b` share item `x`; `a` changes it and pushes, so `b`'s copy is stale.
async fn stale_copy(
    mode: Mode,
) -> anyhow::Result<(tidemark_testkit::server::TestServer, Device, Device, String)> {
    let server = server().await;
    let a = Device::open_in(server.url(), mode).await?;
    let b = Device::open_in(server.url(), mode).await?;
    let x = a.add_synced("original").await?;
    b.pull_all().await?;
    a.set_text(&x, "from a").await?;
    a.push_ok().await?;
    Ok((server, a, b, x))
}

both_modes! {
    async fn a_412_is_recorded_with_the_server_item_and_the_push_goes_on(mode) -> TestResult {
        let (server, _a, b, x) = stale_copy(mode).await?;
        b.set_text(&x, "from b").await?;
        let y = b.add("after").await?;
        let result = b.ctx.push().await;
        assert_eq!(result.status, PushStatus::Complete);
        assert_eq!(result.errors.len(), 1);
        let error = &result.errors[0];
        assert_eq!(
            (error.status, error.item_id.as_str()),
            (Some(412), x.as_str())
        );
        assert_eq!(
            error
                .server_item
                .as_ref()
                .and_then(|i| text_of(i, "text"))
                .as_deref(),
            Some("from a")
        );
        assert_eq!(
            server_text(server.url(), &y).await?.as_deref(),
            Some("after")
        );
        assert_eq!(b.ctx.errors().await?, result.errors);
        let ops = b.ctx.operations().await?;
        assert_eq!((ops.len(), ops[0].state), (1, OperationState::Failed));
        Ok(())
    }
}

both_modes! {
    async fn a_network_failure_mid_push_keeps_every_unsent_operation(mode) -> TestResult {
        let server = server().await;
        let proxy = proxy(server.url()).await?;
        let device = Device::open_in(&proxy.url(), mode).await?;
        let one = device.add("one").await?;
        let two = device.add("two").await?;
        let three = device.add("three").await?;
        let queued = || async {
            let ids: Vec<String> = device
                .queue()
                .await?
                .into_iter()
                .map(|(_, id)| id)
                .collect();
            anyhow::Ok(ids)
        };
        let (method, path) = mode.route("POST");
        if mode == Mode::Batch {
            // The batch's answer is lost: its three inserts landed, but the device cannot know.
            proxy.add_rule(method, path, Fault::DropResponse, 1);
            let result = device.ctx.push().await;
            assert_eq!(result.status, PushStatus::CancelledByNetworkError);
            assert_eq!(result.pushed, 0);
            assert_eq!(queued().await?, [one.clone(), two, three.clone()]);
            assert_eq!(
                server_text(server.url(), &three).await?.as_deref(),
                Some("three")
            );
            return Ok(());
        }
        // The second insert's answer is lost: the first is done, the second's fate is unknown.
        proxy.add_rule_after(method, path, Fault::DropResponse, 1, 1);
        let result = device.ctx.push().await;
        assert_eq!(result.status, PushStatus::CancelledByNetworkError);
        assert_eq!(result.pushed, 1);
        assert_eq!(queued().await?, [two, three.clone()]);
        assert_eq!(
            server_text(server.url(), &one).await?.as_deref(),
            Some("one")
        );
        assert_eq!(server_text(server.url(), &three).await?, None);
        Ok(())
    }
}

both_modes! {
    async fn a_401_stops_the_push_and_keeps_every_operation(mode) -> TestResult {
        let server = server_with_key("sesame").await;
        let device = Device::open_in(server.url(), mode).await?;
        device.add("a").await?;
        device.add("b").await?;
        let result = device.ctx.push().await;
        assert_eq!(result.status, PushStatus::CancelledByAuthenticationError);
        assert_eq!(device.ctx.pending_operations().await?, 2);
        device
            .ctx
            .set_remote(device.config(server.url()).with_app_key("sesame"))?;
        device.push_ok().await?;
        assert_eq!(device.ctx.pending_operations().await?, 0);
        Ok(())
    }
}

both_modes! {
    async fn a_cancelled_token_stops_the_push_and_keeps_every_operation(mode) -> TestResult {
        let server = server().await;
        let device = Device::open_in(server.url(), mode).await?;
        device.add("a").await?;
        let cancel = CancelToken::new();
        cancel.cancel();
        let result = device.ctx.push_with_cancel(&cancel).await;
        assert_eq!(result.status, PushStatus::CancelledByToken);
        assert_eq!(device.ctx.pending_operations().await?, 1);
        Ok(())
    }
}

both_modes! {
    async fn a_handler_abort_stops_the_push_keeping_the_rest(mode) -> TestResult {
        let (server, _a, b, x) = stale_copy(mode).await?;
        b.set_text(&x, "from b").await?;
        let y = b.add("after").await?;
        b.ctx
            .set_conflict_handler(Arc::new(|_: &OperationError| ConflictResolution::Abort));
        let result = b.ctx.push().await;
        assert_eq!(result.status, PushStatus::CancelledByHandlerAbort);
        assert_eq!(result.errors.len(), 1);
        if mode == Mode::Batch {
            // `after` went up in the same batch as the refused update and the server applied
            // it, so its answer is written back; only the refused operation stays queued.
            assert_eq!(
                server_text(server.url(), &y).await?.as_deref(),
                Some("after")
            );
            assert_eq!(b.ctx.pending_operations().await?, 1);
        } else {
            assert_eq!(server_text(server.url(), &y).await?, None);
            assert_eq!(b.ctx.pending_operations().await?, 2);
        }
        Ok(())
    }
}

both_modes! {
    async fn a_delete_of_an_item_already_deleted_on_the_server_counts_as_done(mode) -> TestResult {
        let server = server().await;
        let a = Device::open_in(server.url(), mode).await?;
        let b = Device::open_in(server.url(), mode).await?;
        let x = a.add_synced("x").await?;
        b.pull_all().await?;
        a.table().delete(&x).await?;
        a.push_ok().await?;
        b.table().delete(&x).await?;
        let result = b.ctx.push().await;
        assert!(result.is_success(), "{result} {:?}", result.errors);
        assert_eq!(b.ctx.pending_operations().await?, 0);
        Ok(())
    }
}

both_modes! {
    async fn status_reports_online_and_last_sync_after_a_push_and_offline_after_a_failed_one(mode) -> TestResult {
        let server = server().await;
        let device = Device::open_in(server.url(), mode).await?;
        let status = device.ctx.subscribe();
        device.add_synced("a").await?;
        {
            let s = status.borrow();
            assert_eq!(
                (s.pending, s.syncing, s.connectivity),
                (0, false, tidemark_client::Connectivity::Online)
            );
            assert!(s.last_sync.is_some() && s.last_error.is_none(), "{s:?}");
        }
        device
            .ctx
            .set_remote(device.config(&crate::common::unreachable_url()))?;
        device.add("b").await?;
        device.ctx.push().await;
        let s = status.borrow().clone();
        assert_eq!(
            (s.pending, s.connectivity),
            (1, tidemark_client::Connectivity::Offline)
        );
        assert!(s.last_error.is_some());
        Ok(())
    }
}
