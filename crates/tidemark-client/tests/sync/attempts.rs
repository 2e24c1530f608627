//! Several unanswered attempts of one operation (found by the soak, `crates/tidemark-soak`): a
//! first attempt lands but its answer is lost, the item is edited, a second attempt never
//! reaches the server (killed); the next push must recognise the first attempt as its own
//! instead of reporting a conflict with itself. Needs the server binary
//! (`cargo build -p tidemark-server`; the workspace test run builds it).

use tidemark_client::PushStatus;
use tidemark_testkit::proxy::Fault;
use tidemark_testkit::server::ServerProcess;

use crate::common::{Device, Mode, TestResult, proxy, server_rows, server_text};

/// Loses the answer of the first `method` write, edits the item, pushes while the server is
/// killed, restarts it and pushes again: clean, with the last text on the server, once.
async fn landed_then_server_killed(mode: Mode, method: &'static str) -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut server = ServerProcess::spawn(dir.path().join("server.db"), &["--no-auth"]).await;
    let proxy = proxy(server.url()).await?;
    let device = Device::open_in(&proxy.url(), mode).await?;
    let id = if method == "PATCH" {
        let id = device.add_synced("first").await?;
        device.set_text(&id, "landed").await?;
        id
    } else {
        device.add("landed").await?
    };
    let (carrier, path) = mode.route(method);
    proxy.add_rule(carrier, path, Fault::DropResponse, 1);
    let lost = device.ctx.push().await;
    assert_eq!(lost.status, PushStatus::CancelledByNetworkError, "{lost}");
    assert_eq!(
        server_text(server.url(), &id).await?.as_deref(),
        Some("landed")
    );

    device.set_text(&id, "last").await?;
    server.kill().await;
    let down = device.ctx.push().await;
    assert_eq!(down.status, PushStatus::CancelledByNetworkError, "{down}");

    server.restart().await;
    device.push_ok().await?;
    assert_eq!(
        server_text(server.url(), &id).await?.as_deref(),
        Some("last")
    );
    assert_eq!(server_rows(server.url()).await?.len(), 1);
    assert!(device.ctx.errors().await?.is_empty());
    Ok(())
}

both_modes! {
    async fn an_insert_that_landed_unanswered_then_met_a_dead_server_is_not_a_conflict(mode) -> TestResult {
        landed_then_server_killed(mode, "POST").await
    }
}

both_modes! {
    async fn an_update_that_landed_unanswered_then_met_a_dead_server_is_not_a_conflict(mode) -> TestResult {
        landed_then_server_killed(mode, "PATCH").await
    }
}

both_modes! {
    async fn a_delete_after_an_update_that_landed_unanswered_is_not_a_conflict(mode) -> TestResult {
        let dir = tempfile::tempdir()?;
        let server = ServerProcess::spawn(dir.path().join("server.db"), &["--no-auth"]).await;
        let proxy = proxy(server.url()).await?;
        let device = Device::open_in(&proxy.url(), mode).await?;
        let id = device.add_synced("first").await?;
        device.set_text(&id, "landed").await?;
        let (carrier, path) = mode.route("PATCH");
        proxy.add_rule(carrier, path, Fault::DropResponse, 1);
        let lost = device.ctx.push().await;
        assert_eq!(lost.status, PushStatus::CancelledByNetworkError, "{lost}");
        device.table().delete(&id).await?;
        device.push_ok().await?;
        assert_eq!(server_text(server.url(), &id).await?, None);
        assert!(server_rows(server.url()).await?.is_empty());
        Ok(())
    }
}
