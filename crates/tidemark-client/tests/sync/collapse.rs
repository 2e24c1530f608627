//! The collapse table of the operation queue, one test per cell.

use tidemark_client::{ClientError, OperationKind::*};
use tidemark_testkit::proxy::Fault;

use crate::common::{
    Device, TestResult, proxy, server, server_text, todo_with_id, unreachable_url,
};

fn is_queue_conflict<T: std::fmt::Debug>(r: &Result<T, ClientError>) -> bool {
    matches!(
        r,
        Err(ClientError::QueueConflict { .. }) | Err(ClientError::AlreadyExists { .. })
    )
}

#[tokio::test]
async fn insert_then_insert_is_refused() -> TestResult {
    let device = Device::open(&unreachable_url()).await?;
    device.table().insert(todo_with_id("a", "one")).await?;
    assert!(is_queue_conflict(
        &device.table().insert(todo_with_id("a", "two")).await
    ));
    assert_eq!(device.queue().await?, [(Insert, "a".to_string())]);
    Ok(())
}

#[tokio::test]
async fn insert_then_update_stays_one_insert_carrying_the_newest_data() -> TestResult {
    let server = server().await;
    let device = Device::open(server.url()).await?;
    let id = device.add("old").await?;
    device.set_text(&id, "new").await?;
    assert_eq!(device.queue().await?, [(Insert, id.clone())]);
    device.push_ok().await?;
    assert_eq!(
        server_text(server.url(), &id).await?.as_deref(),
        Some("new")
    );
    Ok(())
}

#[tokio::test]
async fn insert_then_delete_never_attempted_leaves_nothing_queued() -> TestResult {
    let server = server().await;
    let device = Device::open(server.url()).await?;
    let id = device.add("gone").await?;
    device.table().delete(&id).await?;
    assert!(device.queue().await?.is_empty());
    device.push_ok().await?;
    assert_eq!(server_text(server.url(), &id).await?, None);
    Ok(())
}

#[tokio::test]
async fn insert_then_delete_after_an_attempt_asks_to_push_first() -> TestResult {
    let server = server().await;
    let proxy = proxy(server.url()).await?;
    let device = Device::open(&proxy.url()).await?;
    let (method, path) = device.mode.route("POST");
    proxy.add_rule(method, path, Fault::DropResponse, 1);
    let id = device.add("sent").await?;
    assert!(!device.ctx.push().await.is_success());
    let refused = device.table().delete(&id).await;
    assert!(
        matches!(&refused, Err(ClientError::QueueConflict { message }) if message.contains("push first")),
        "{refused:?}"
    );
    assert_eq!(device.queue().await?, [(Insert, id)]);
    Ok(())
}

#[tokio::test]
async fn update_then_insert_is_refused() -> TestResult {
    let server = server().await;
    let device = Device::open(server.url()).await?;
    let id = device.add_synced("a").await?;
    device.set_text(&id, "b").await?;
    assert!(is_queue_conflict(
        &device.table().insert(todo_with_id(&id, "c")).await
    ));
    assert_eq!(device.queue().await?, [(Update, id)]);
    Ok(())
}

#[tokio::test]
async fn update_then_update_stays_one_update_in_the_same_place() -> TestResult {
    let server = server().await;
    let device = Device::open(server.url()).await?;
    let a = device.add_synced("a").await?;
    let b = device.add_synced("b").await?;
    device.set_text(&a, "a2").await?;
    device.set_text(&b, "b2").await?;
    device.set_text(&a, "a3").await?;
    assert_eq!(
        device.queue().await?,
        [(Update, a.clone()), (Update, b.clone())]
    );
    device.push_ok().await?;
    assert_eq!(server_text(server.url(), &a).await?.as_deref(), Some("a3"));
    Ok(())
}

#[tokio::test]
async fn update_then_delete_becomes_one_delete_at_the_end() -> TestResult {
    let server = server().await;
    let device = Device::open(server.url()).await?;
    let a = device.add_synced("a").await?;
    let b = device.add_synced("b").await?;
    device.set_text(&a, "a2").await?;
    device.set_text(&b, "b2").await?;
    device.table().delete(&a).await?;
    assert_eq!(
        device.queue().await?,
        [(Update, b.clone()), (Delete, a.clone())]
    );
    device.push_ok().await?;
    assert_eq!(server_text(server.url(), &a).await?, None);
    assert_eq!(server_text(server.url(), &b).await?.as_deref(), Some("b2"));
    Ok(())
}

async fn deleted_item() -> anyhow::Result<(tidemark_testkit::server::TestServer, Device, String)> {
    let server = server().await;
    let device = Device::open(server.url()).await?;
    let id = device.add_synced("a").await?;
    device.table().delete(&id).await?;
    Ok((server, device, id))
}

#[tokio::test]
async fn delete_then_insert_is_refused() -> TestResult {
    let (_server, device, id) = deleted_item().await?;
    assert!(is_queue_conflict(
        &device.table().insert(todo_with_id(&id, "again")).await
    ));
    assert_eq!(device.queue().await?, [(Delete, id)]);
    Ok(())
}

#[tokio::test]
async fn delete_then_update_is_refused() -> TestResult {
    let (_server, device, id) = deleted_item().await?;
    let r = device.set_text(&id, "again").await;
    assert!(r.is_err());
    assert_eq!(device.queue().await?, [(Delete, id)]);
    Ok(())
}

#[tokio::test]
async fn delete_then_delete_is_refused() -> TestResult {
    let (_server, device, id) = deleted_item().await?;
    assert!(device.table().delete(&id).await.is_err());
    assert_eq!(device.queue().await?, [(Delete, id)]);
    Ok(())
}
