//! Sync over HTTPS: the server serves a certificate of a test CA, and the engine trusts that
//! CA through `RemoteConfig::extra_ca_pem`.

use tidemark_client::RemoteConfig;
use tidemark_server::ServerConfig;
use tidemark_testkit::server::TestServer;
use tidemark_testkit::tls::TestCa;

use crate::common::{Device, Mode, TestResult, todo_table};

/// A server on a certificate of `ca`; the directory holds its certificate files.
async fn https_server(ca: &TestCa) -> (tempfile::TempDir, TestServer) {
    let dir = tempfile::tempdir().expect("temp dir");
    let files = ca.issue(dir.path(), "server");
    let config = ServerConfig {
        tls: Some(files.config()),
        ..ServerConfig::open()
    };
    (dir, TestServer::start_with(config).await)
}

/// A device talking to `url` and trusting `ca`.
async fn trusting_device(url: &str, ca: &TestCa) -> anyhow::Result<Device> {
    let config = RemoteConfig::new(url).with_extra_ca_pem(ca.pem());
    Device::open_with_config(Mode::Batch, config, todo_table()).await
}

#[tokio::test]
async fn push_and_pull_go_over_https_to_a_server_of_a_trusted_ca() -> TestResult {
    let ca = TestCa::new("Tidemark test CA");
    let (_certs, server) = https_server(&ca).await;
    assert!(server.url().starts_with("https://"), "{}", server.url());
    let writer = trusting_device(server.url(), &ca).await?;
    let id = writer.add("over TLS").await?;
    writer.push_ok().await?;
    assert_eq!(writer.ctx.pending_operations().await?, 0);

    let reader = trusting_device(server.url(), &ca).await?;
    let pulled = reader.pull_all().await?;
    assert_eq!(pulled.received, 1);
    assert_eq!(reader.text(&id).await?.as_deref(), Some("over TLS"));
    Ok(())
}

#[tokio::test]
async fn a_device_not_trusting_the_ca_fails_as_a_network_error_and_keeps_its_queue() -> TestResult {
    let ca = TestCa::new("Tidemark test CA");
    let (_certs, server) = https_server(&ca).await;
    let stranger = TestCa::new("Another CA");
    let device = trusting_device(server.url(), &stranger).await?;
    device.add("kept").await?;
    let result = device.ctx.push().await;
    assert!(!result.is_success(), "{result}");
    assert!(result.to_string().contains("certificate"), "{result}");
    assert_eq!(device.ctx.pending_operations().await?, 1);
    // A pull (of a device with nothing queued) fails likewise, as a network error.
    let empty = trusting_device(server.url(), &stranger).await?;
    let pull = empty
        .table()
        .pull(Some("all"), &tidemark_client::Query::new())
        .await
        .expect_err("untrusted server");
    assert!(pull.is_network(), "{pull}");
    assert!(
        pull.to_string().to_lowercase().contains("certificate"),
        "{pull}"
    );
    Ok(())
}
