//! Lost responses and edits made while a request is in flight (**ours** in the spec).

use tidemark_client::{OperationKind, PushStatus};
use tidemark_testkit::proxy::{Fault, FaultProxy};

use crate::common::{Device, TestResult, proxy, server, server_rows, server_text, stock_like};

/// Pushes once with the response to the first request matching `route` (method, path) lost,
/// then again normally; the second push must be clean (no duplicate, no conflict).
async fn lose_then_retry(proxy: &FaultProxy, device: &Device, route: (&str, &str)) -> TestResult {
    proxy.add_rule(route.0, route.1, Fault::DropResponse, 1);
    let first = device.ctx.push().await;
    assert_eq!(first.status, PushStatus::CancelledByNetworkError);
    let second = device.ctx.push().await;
    assert!(second.is_success(), "{second} {:?}", second.errors);
    assert!(device.ctx.errors().await?.is_empty());
    assert_eq!(device.ctx.pending_operations().await?, 0);
    Ok(())
}

both_modes! {
    async fn a_retried_insert_after_a_lost_response_creates_no_duplicate(mode) -> TestResult {
        let server = server().await;
        let proxy = proxy(server.url()).await?;
        let device = Device::open_in(&proxy.url(), mode).await?;
        device.add("once").await?;
        lose_then_retry(&proxy, &device, mode.route("POST")).await?;
        assert_eq!(server_rows(server.url()).await?.len(), 1);
        Ok(())
    }
}

#[tokio::test]
async fn a_retried_insert_after_a_lost_response_to_a_stock_server_reports_no_conflict() -> TestResult
{
    let server = server().await;
    let proxy = stock_like(server.url()).await?;
    let device = Device::open(&proxy.url()).await?;
    device.add("once").await?;
    // The stock-like server offers no batch: the device falls back to single requests.
    lose_then_retry(&proxy, &device, ("POST", "/tables/todoitem")).await?;
    assert_eq!(server_rows(server.url()).await?.len(), 1);
    Ok(())
}

both_modes! {
    async fn a_retried_update_after_a_lost_response_reports_no_conflict(mode) -> TestResult {
        let server = server().await;
        let proxy = proxy(server.url()).await?;
        let device = Device::open_in(&proxy.url(), mode).await?;
        let id = device.add_synced("v1").await?;
        device.set_text(&id, "v2").await?;
        lose_then_retry(&proxy, &device, mode.route("PATCH")).await?;
        assert_eq!(server_text(server.url(), &id).await?.as_deref(), Some("v2"));
        Ok(())
    }
}

#[tokio::test]
async fn a_retried_update_after_a_lost_response_to_a_stock_server_reports_no_conflict() -> TestResult
{
    let server = server().await;
    let proxy = stock_like(server.url()).await?;
    let device = Device::open(&proxy.url()).await?;
    let id = device.add_synced("v1").await?;
    device.set_text(&id, "v2").await?;
    lose_then_retry(&proxy, &device, ("PATCH", "/tables/todoitem")).await?;
    assert_eq!(server_text(server.url(), &id).await?.as_deref(), Some("v2"));
    Ok(())
}

#[tokio::test]
async fn an_insert_edited_after_its_response_was_lost_reaches_the_server_without_conflict()
-> TestResult {
    let server = server().await;
    let proxy = stock_like(server.url()).await?;
    let device = Device::open(&proxy.url()).await?;
    let id = device.add("first").await?;
    proxy.add_rule("POST", "/tables/todoitem", Fault::DropResponse, 1);
    assert_eq!(
        device.ctx.push().await.status,
        PushStatus::CancelledByNetworkError
    );
    device.set_text(&id, "second").await?;
    device.push_ok().await?;
    assert_eq!(
        server_text(server.url(), &id).await?.as_deref(),
        Some("second")
    );
    assert_eq!(server_rows(server.url()).await?.len(), 1);
    Ok(())
}

/// Starts a push whose first response to a `method` write (or to the batch carrying it) is
/// held, runs `edit` while it is held, then lets it finish.
async fn edit_during_push<F, Fut>(
    proxy: &FaultProxy,
    device: &Device,
    method: &'static str,
    edit: F,
) -> TestResult
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let (method, path) = device.mode.route(method);
    proxy.add_rule(method, path, Fault::HoldResponse, 1);
    let ctx = device.ctx.clone();
    let push = tokio::spawn(async move { ctx.push().await });
    proxy.wait_held().await;
    edit().await?;
    proxy.release();
    let result = push.await?;
    assert!(result.is_success(), "{result} {:?}", result.errors);
    Ok(())
}

both_modes! {
    async fn an_edit_made_while_its_insert_is_in_flight_stays_queued_and_wins(mode) -> TestResult {
        let server = server().await;
        let proxy = proxy(server.url()).await?;
        let device = Device::open_in(&proxy.url(), mode).await?;
        let id = device.add("first").await?;
        edit_during_push(&proxy, &device, "POST", || async {
            device.set_text(&id, "edited").await?;
            Ok(())
        })
        .await?;
        assert_eq!(device.text(&id).await?.as_deref(), Some("edited"));
        assert_eq!(device.queue().await?, [(OperationKind::Update, id.clone())]);
        device.push_ok().await?;
        assert_eq!(
            server_text(server.url(), &id).await?.as_deref(),
            Some("edited")
        );
        Ok(())
    }
}

both_modes! {
    async fn an_edit_made_while_its_update_is_in_flight_stays_queued_and_wins(mode) -> TestResult {
        let server = server().await;
        let proxy = proxy(server.url()).await?;
        let device = Device::open_in(&proxy.url(), mode).await?;
        let id = device.add_synced("v1").await?;
        device.set_text(&id, "v2").await?;
        edit_during_push(&proxy, &device, "PATCH", || async {
            device.set_text(&id, "v3").await?;
            Ok(())
        })
        .await?;
        assert_eq!(device.text(&id).await?.as_deref(), Some("v3"));
        assert_eq!(server_text(server.url(), &id).await?.as_deref(), Some("v2"));
        device.push_ok().await?;
        assert_eq!(server_text(server.url(), &id).await?.as_deref(), Some("v3"));
        Ok(())
    }
}

both_modes! {
    async fn a_delete_made_while_its_update_is_in_flight_reaches_the_server(mode) -> TestResult {
        let server = server().await;
        let proxy = proxy(server.url()).await?;
        let device = Device::open_in(&proxy.url(), mode).await?;
        let id = device.add_synced("v1").await?;
        device.set_text(&id, "v2").await?;
        edit_during_push(&proxy, &device, "PATCH", || async {
            device.table().delete(&id).await?;
            Ok(())
        })
        .await?;
        // The delete moved to the end of the queue, so the same push sent it, with the version
        // the update's answer brought as its If-Match.
        assert!(device.queue().await?.is_empty());
        assert!(device.ctx.errors().await?.is_empty());
        assert_eq!(server_text(server.url(), &id).await?, None);
        Ok(())
    }
}
