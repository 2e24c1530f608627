//! The network misbehaving under push and pull, through the fault-injecting proxy: a request
//! dropped before the server sees it, a response lost (closed or reset) after the server applied
//! the request, a response cut off halfway, a slow link, and a link slower than the client's
//! timeout. Each test checks the four promises: nothing lost, nothing duplicated, no false
//! conflict, and the status says what happened; a later sync then converges.

use std::collections::BTreeSet;
use std::time::Duration;

use tidemark_client::{Connectivity, PushStatus, RemoteConfig};
use tidemark_testkit::proxy::{Fault, FaultProxy};

use crate::common::{Device, Mode, TestResult, proxy, server, server_rows, text_of, todo_table};

/// The ids and texts of items, as a set (duplicates would show as a shorter set).
fn texts(items: &[tidemark_client::Item]) -> BTreeSet<String> {
    items.iter().filter_map(|i| text_of(i, "text")).collect()
}

/// Queues three inserts, pushes once with `fault` on the first write request, then again with
/// a clean network: the first push must stop as a network failure keeping its operations, the
/// second must land each item exactly once with no error recorded.
async fn push_through(mode: Mode, fault: Fault) -> TestResult {
    let server = server().await;
    let proxy = proxy(server.url()).await?;
    let device = Device::open_in(&proxy.url(), mode).await?;
    for text in ["a", "b", "c"] {
        device.add(text).await?;
    }
    // Every write of a push is a POST here (single inserts, or one `/$batch`).
    proxy.add_rule("POST", "", fault, 1);

    let first = device.ctx.push().await;
    assert_eq!(
        first.status,
        PushStatus::CancelledByNetworkError,
        "{first} {:?}",
        first.errors
    );
    assert!(first.message.is_some(), "a failed push says why");
    assert!(device.ctx.pending_operations().await? > 0);
    assert_eq!(device.ctx.status().connectivity, Connectivity::Offline);
    assert!(device.ctx.errors().await?.is_empty(), "no false conflict");

    let second = device.ctx.push().await;
    assert!(second.is_success(), "{second} {:?}", second.errors);
    assert_eq!(device.ctx.pending_operations().await?, 0);
    assert!(device.ctx.errors().await?.is_empty(), "no false conflict");
    assert_eq!(device.ctx.status().connectivity, Connectivity::Online);

    let rows = server_rows(server.url()).await?;
    assert_eq!(rows.len(), 3, "each item exactly once: {rows:?}");
    assert_eq!(
        texts(&rows),
        BTreeSet::from(["a".into(), "b".into(), "c".into()])
    );
    Ok(())
}

both_modes! {
    async fn push_with_the_request_dropped_before_the_server_keeps_everything_and_retries(mode) -> TestResult {
        push_through(mode, Fault::DropRequest).await
    }
}

both_modes! {
    async fn push_with_the_response_lost_after_the_server_applied_it_lands_once(mode) -> TestResult {
        push_through(mode, Fault::DropResponse).await
    }
}

both_modes! {
    async fn push_with_the_connection_reset_after_the_server_applied_it_lands_once(mode) -> TestResult {
        push_through(mode, Fault::ResetAfterRequest).await
    }
}

both_modes! {
    async fn push_with_the_response_cut_off_halfway_lands_once(mode) -> TestResult {
        push_through(mode, Fault::TruncateResponse).await
    }
}

both_modes! {
    async fn push_over_a_slow_link_succeeds_at_once(mode) -> TestResult {
        let server = server().await;
        let proxy = proxy(server.url()).await?;
        let device = Device::open_in(&proxy.url(), mode).await?;
        device.add("slow").await?;
        proxy.add_rule("POST", "", Fault::Delay(Duration::from_millis(300)), 1);
        device.push_ok().await?;
        assert_eq!(server_rows(server.url()).await?.len(), 1);
        Ok(())
    }
}

both_modes! {
    async fn push_that_times_out_while_the_server_still_applies_it_lands_once(mode) -> TestResult {
        let server = server().await;
        let proxy = proxy(server.url()).await?;
        let mut config = mode.config(&proxy.url());
        config.timeout = Duration::from_millis(400);
        let device = Device::open_with_config(mode, config, todo_table()).await?;
        for text in ["a", "b"] {
            device.add(text).await?;
        }
        // The request reaches the server only after the client has given up on it.
        proxy.add_rule("POST", "", Fault::Delay(Duration::from_millis(1200)), 1);
        let first = device.ctx.push().await;
        assert_eq!(first.status, PushStatus::CancelledByNetworkError, "{first}");
        assert!(device.ctx.pending_operations().await? > 0);

        // Let the late request land before retrying, so the retry meets the applied write.
        tokio::time::sleep(Duration::from_millis(1300)).await;
        let second = device.ctx.push().await;
        assert!(second.is_success(), "{second} {:?}", second.errors);
        assert!(device.ctx.errors().await?.is_empty(), "no false conflict");
        let rows = server_rows(server.url()).await?;
        assert_eq!(texts(&rows), BTreeSet::from(["a".into(), "b".into()]));
        assert_eq!(rows.len(), 2, "each item exactly once");
        Ok(())
    }
}

/// Seeds the server with 120 todos, then pulls them into a fresh device reading pages of 50
/// with `fault` on its second page: the first pull fails as a network error and keeps what it
/// stored, the second resumes and the device ends equal to the server, without duplicates.
async fn pull_through(fault: Fault) -> TestResult {
    let server = server().await;
    let writer = Device::open(server.url()).await?;
    let seeded: Vec<_> = (0..120).map(|n| format!("row {n:03}")).collect();
    for text in &seeded {
        writer.add(text).await?;
    }
    writer.push_ok().await?;

    let proxy: FaultProxy = proxy(server.url()).await?;
    let mut config = RemoteConfig::new(proxy.url());
    config.page_size = 50;
    config.large_page_size = 50;
    let reader = Device::open_with_config(Mode::Batch, config, todo_table()).await?;
    proxy.add_rule_after("GET", "/tables/todoitem", fault, 1, 1);

    let first = reader.pull_all().await;
    let error = first.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(
        error.contains("network"),
        "a network failure says so: {error}"
    );
    assert_eq!(reader.ctx.status().connectivity, Connectivity::Offline);
    let partial = reader.table().count(&tidemark_client::Query::new()).await?;
    assert!(partial <= 120, "nothing invented: {partial}");

    reader.pull_all().await?;
    let local = reader.table().query(&tidemark_client::Query::new()).await?;
    let remote = server_rows(server.url()).await?;
    assert_eq!(local.len(), 120, "every row exactly once");
    assert_eq!(texts(&local), texts(&remote));
    assert_eq!(texts(&local).len(), seeded.len());
    Ok(())
}

#[tokio::test]
async fn pull_with_a_request_dropped_resumes_without_loss() -> TestResult {
    pull_through(Fault::DropRequest).await
}

#[tokio::test]
async fn pull_with_a_page_lost_resumes_without_loss() -> TestResult {
    pull_through(Fault::DropResponse).await
}

#[tokio::test]
async fn pull_with_the_connection_reset_resumes_without_loss() -> TestResult {
    pull_through(Fault::ResetAfterRequest).await
}

#[tokio::test]
async fn pull_with_a_page_cut_off_halfway_resumes_without_loss() -> TestResult {
    pull_through(Fault::TruncateResponse).await
}

/// A server holding `n` todos ("row 0"…), pushed by a device of its own.
async fn server_with_rows(n: usize) -> anyhow::Result<tidemark_testkit::server::TestServer> {
    let server = server().await;
    let writer = Device::open(server.url()).await?;
    for n in 0..n {
        writer.add(&format!("row {n}")).await?;
    }
    writer.push_ok().await?;
    Ok(server)
}

#[tokio::test]
async fn pull_over_a_slow_link_gets_every_row() -> TestResult {
    let server = server_with_rows(60).await?;
    let proxy = proxy(server.url()).await?;
    let reader = Device::open(&proxy.url()).await?;
    proxy.add_rule(
        "GET",
        "/tables/todoitem",
        Fault::Delay(Duration::from_millis(300)),
        1,
    );
    reader.pull_all().await?;
    assert_eq!(
        reader.table().count(&tidemark_client::Query::new()).await?,
        60
    );
    Ok(())
}

/// A server whose query slots are all taken answers 503 with `Retry-After`: the pull waits
/// that long and asks again, so a moment's overload costs a delay, not a failed Refresh; a
/// server that stays busy beyond the retries is reported as such, and nothing is lost.
#[tokio::test]
async fn pull_from_a_busy_server_waits_as_asked_and_gets_every_row() -> TestResult {
    let server = server_with_rows(60).await?;
    let proxy = proxy(server.url()).await?;
    let reader = Device::open(&proxy.url()).await?;
    let busy = Fault::Busy {
        retry_after_secs: 1,
    };
    // Twice busy on the first page: two waits of a second, then the rows.
    proxy.add_rule("GET", "/tables/todoitem", busy.clone(), 2);
    let started = std::time::Instant::now();
    reader.pull_all().await?;
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "asked again before the server's Retry-After: {:?}",
        started.elapsed()
    );
    assert_eq!(
        reader.table().count(&tidemark_client::Query::new()).await?,
        60
    );

    // Busy on every try: after three retries the pull fails with the server's answer, and
    // what was stored stays.
    proxy.add_rule("GET", "/tables/todoitem", busy, 4);
    let error = reader.pull_all().await.err().map(|e| e.to_string());
    let error = error.unwrap_or_default();
    assert!(error.contains("503"), "{error}");
    assert_eq!(
        reader.table().count(&tidemark_client::Query::new()).await?,
        60
    );
    Ok(())
}
