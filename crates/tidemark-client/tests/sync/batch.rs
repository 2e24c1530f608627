//! Batch push on its own: how a queue is cut into `POST /$batch` requests, a refusal inside a
//! batch, and a server that answers fewer results than it was sent.

use tidemark_client::{OperationState, PushStatus};
use tidemark_testkit::proxy::Fault;

use crate::common::{Device, Mode, TestResult, proxy, server, server_rows, server_text, todo};

/// The proxy's request lines that are writes: batches and single writes to the todo table.
fn writes(requests: &[String]) -> (usize, usize) {
    let batches = requests
        .iter()
        .filter(|r| r.starts_with("POST /$batch"))
        .count();
    let singles = requests
        .iter()
        .filter(|r| !r.starts_with("GET ") && r.contains("/tables/"))
        .count();
    (batches, singles)
}

#[tokio::test]
async fn a_queue_of_2200_goes_up_in_3_requests_of_at_most_1000() -> TestResult {
    let server = server().await;
    let proxy = proxy(server.url()).await?;
    let device = Device::open_in(&proxy.url(), Mode::Batch).await?;
    let items = (0..2200).map(|i| todo(&format!("item {i}"))).collect();
    device.table().insert_many(items).await?;
    let result = device.ctx.push().await;
    assert!(result.is_success(), "{result} {:?}", result.errors);
    assert_eq!(result.pushed, 2200);
    assert_eq!(writes(&proxy.requests()), (3, 0), "{:?}", proxy.requests());
    assert_eq!(server_rows(server.url()).await?.len(), 2200);
    assert_eq!(device.ctx.pending_operations().await?, 0);
    let local = device.table().query(&tidemark_client::Query::new()).await?;
    assert!(
        local.iter().all(|i| i.get("version").is_some()),
        "every row took the server's item"
    );
    Ok(())
}

#[tokio::test]
async fn batch_size_zero_sends_one_request_per_operation() -> TestResult {
    let server = server().await;
    let proxy = proxy(server.url()).await?;
    let device = Device::open_in(&proxy.url(), Mode::PerRequest).await?;
    device.add("a").await?;
    device.add("b").await?;
    device.push_ok().await?;
    assert_eq!(writes(&proxy.requests()), (0, 2), "{:?}", proxy.requests());
    Ok(())
}

#[tokio::test]
async fn a_412_in_the_middle_of_a_batch_is_recorded_while_the_rest_land() -> TestResult {
    let server = server().await;
    let a = Device::open_in(server.url(), Mode::Batch).await?;
    let proxy = proxy(server.url()).await?;
    let b = Device::open_in(&proxy.url(), Mode::Batch).await?;
    let x = a.add_synced("original").await?;
    b.pull_all().await?;
    a.set_text(&x, "from a").await?;
    a.push_ok().await?;
    let before = b.add("before").await?;
    b.set_text(&x, "from b").await?;
    let after = b.add("after").await?;
    let result = b.ctx.push().await;
    assert_eq!(result.status, PushStatus::Complete);
    assert_eq!(result.pushed, 2);
    assert_eq!(result.errors.len(), 1);
    assert_eq!(result.errors[0].status, Some(412));
    assert_eq!(result.errors[0].item_id, x);
    let server_copy = result.errors[0].server_item.as_ref();
    assert_eq!(
        server_copy
            .and_then(|i| i.get("text"))
            .and_then(|t| t.as_str()),
        Some("from a")
    );
    assert_eq!(writes(&proxy.requests()), (1, 0), "{:?}", proxy.requests());
    for (id, text) in [(&before, "before"), (&after, "after"), (&x, "from a")] {
        assert_eq!(server_text(server.url(), id).await?.as_deref(), Some(text));
    }
    let ops = b.ctx.operations().await?;
    assert_eq!(ops.len(), 1);
    assert_eq!(
        (ops[0].item_id.as_str(), ops[0].state),
        (x.as_str(), OperationState::Failed)
    );
    Ok(())
}

#[tokio::test]
async fn a_truncated_answer_stops_the_push_and_keeps_the_rest_queued() -> TestResult {
    let server = server().await;
    let proxy = proxy(server.url()).await?;
    let device = Device::open_in(&proxy.url(), Mode::Batch).await?;
    for text in ["one", "two", "three"] {
        device.add(text).await?;
    }
    // A server that stopped after the first operation (which it refused).
    proxy.add_rule(
        "POST",
        "$batch",
        Fault::Respond {
            status: 200,
            body: r#"{"results":[{"status":400,"error":"refused by the test"}]}"#.into(),
        },
        1,
    );
    let result = device.ctx.push().await;
    assert_eq!(result.status, PushStatus::CancelledByNetworkError);
    assert_eq!(result.errors.len(), 1, "the answered refusal is recorded");
    let message = result.message.clone().unwrap_or_default();
    assert!(message.contains("1 of the 3"), "{message}");
    let ops = device.ctx.operations().await?;
    let states: Vec<OperationState> = ops.iter().map(|o| o.state).collect();
    assert_eq!(
        states,
        [
            OperationState::Failed,
            OperationState::Attempted,
            OperationState::Attempted
        ]
    );
    assert!(server_rows(server.url()).await?.is_empty());
    let again = device.ctx.push().await;
    assert_eq!(again.status, PushStatus::Complete);
    assert_eq!(server_rows(server.url()).await?.len(), 3);
    Ok(())
}

/// A device pushing in batches of `size` through `url`.
async fn device_with_batches_of(url: &str, size: usize) -> anyhow::Result<Device> {
    let mut config = Mode::Batch.config(url);
    config.batch_size = size;
    Device::open_with_config(Mode::Batch, config, crate::common::todo_table()).await
}

#[tokio::test]
async fn a_batch_prepared_while_the_last_one_was_lost_goes_back_to_pending() -> TestResult {
    let server = server().await;
    let proxy = proxy(server.url()).await?;
    let device = device_with_batches_of(&proxy.url(), 2).await?;
    let items = (0..6).map(|i| todo(&format!("item {i}"))).collect();
    device.table().insert_many(items).await?;
    // The first batch lands and is answered; the second is sent and never answered, while the
    // third was already read and marked attempted to go next.
    proxy.add_rule_after("POST", "$batch", Fault::ResetAfterRequest, 1, 1);
    let result = device.ctx.push().await;
    assert_eq!(result.status, PushStatus::CancelledByNetworkError);
    assert_eq!(result.pushed, 2, "{result}");
    let states: Vec<OperationState> = device
        .ctx
        .operations()
        .await?
        .iter()
        .map(|o| o.state)
        .collect();
    assert_eq!(
        states,
        [
            OperationState::Attempted,
            OperationState::Attempted,
            OperationState::Pending,
            OperationState::Pending
        ],
        "only what was sent is marked attempted"
    );
    assert_eq!(device.ctx.pending_operations().await?, 4);
    let again = device.ctx.push().await;
    assert!(again.is_success(), "{again} {:?}", again.errors);
    assert_eq!(again.pushed, 4);
    assert_eq!(server_rows(server.url()).await?.len(), 6);
    Ok(())
}

#[tokio::test]
async fn batches_keep_queue_order_while_the_next_one_is_prepared() -> TestResult {
    let server = server().await;
    let proxy = proxy(server.url()).await?;
    let device = device_with_batches_of(&proxy.url(), 3).await?;
    let mut ids = Vec::new();
    for i in 0..10 {
        ids.push(device.add(&format!("item {i}")).await?);
    }
    // Edited before the push: the update joins the queued insert, which keeps its place.
    device.set_text(&ids[4], "item 4, edited").await?;
    let result = device.ctx.push().await;
    assert!(result.is_success(), "{result} {:?}", result.errors);
    assert_eq!(result.pushed, 10);
    assert_eq!(writes(&proxy.requests()), (4, 0), "{:?}", proxy.requests());
    // The server stamps every write later than the one before: its updatedAt order is the
    // order the operations reached it in.
    let mut rows = server_rows(server.url()).await?;
    rows.sort_by(|a, b| a["updatedAt"].as_str().cmp(&b["updatedAt"].as_str()));
    let order: Vec<&str> = rows.iter().filter_map(|r| r["id"].as_str()).collect();
    assert_eq!(order, ids.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(
        server_text(server.url(), &ids[4]).await?.as_deref(),
        Some("item 4, edited")
    );
    assert_eq!(device.ctx.pending_operations().await?, 0);
    Ok(())
}

#[tokio::test]
async fn a_batch_over_the_body_limit_goes_in_halves_and_an_item_too_large_alone_is_refused()
-> TestResult {
    let config = tidemark_server::ServerConfig {
        max_body_bytes: 8 * 1024,
        max_item_bytes: 8 * 1024,
        ..tidemark_server::ServerConfig::open()
    };
    let server = tidemark_testkit::server::TestServer::start_with(config).await;
    // Straight to the server: the test proxy drops a connection the server answers 413 before
    // reading the body, where the client does get the 413.
    let device = Device::open_in(server.url(), Mode::Batch).await?;
    // About 300 bytes each on the wire: the 62 in one batch are far more than 8 KiB, so the
    // batch is cut until the parts fit (15 or so each).
    let padding = "x".repeat(200);
    let mut ids = Vec::new();
    for i in 0..60 {
        ids.push(device.add(&format!("item {i} {padding}")).await?);
    }
    let huge = device.add(&"too large ".repeat(1000)).await?;
    let last = device.add("after the huge one").await?;
    let result = device.ctx.push().await;
    assert_eq!(result.status, PushStatus::Complete, "{result}");
    assert_eq!(result.pushed, 61, "{result}");
    assert_eq!(result.errors.len(), 1, "{:?}", result.errors);
    assert_eq!(result.errors[0].status, Some(413));
    assert_eq!(result.errors[0].item_id, huge);
    for id in ids.iter().chain([&last]) {
        assert!(
            server_text(server.url(), id).await?.is_some(),
            "{id} landed"
        );
    }
    assert_eq!(server_text(server.url(), &huge).await?, None);
    let ops = device.ctx.operations().await?;
    assert_eq!(ops.len(), 1);
    assert_eq!(
        (ops[0].item_id.as_str(), ops[0].state),
        (huge.as_str(), OperationState::Failed)
    );
    Ok(())
}
