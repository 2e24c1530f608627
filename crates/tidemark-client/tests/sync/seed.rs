//! The seed scenario of the product: offline work survives a restart and reaches the server and
//! a second device once the server is reachable.

use serde_json::{Value, json};
use tidemark_client::tidemark_protocol::odata::builder::{lit, prop};
use tidemark_client::{Query, RemoteConfig};

use crate::common::{Device, TestResult, item, server, server_rows, text_of};

#[tokio::test]
async fn offline_work_survives_a_restart_and_reaches_the_server_and_a_second_device() -> TestResult
{
    let server = server().await;
    let invalid = "http://[::1";
    let phone = Device::open(invalid).await?;
    let milk = phone.add("milk").await?;
    let eggs = phone.add("eggs").await?;
    phone.add("bread").await?;
    phone
        .table()
        .update(item(json!({"id": eggs, "complete": true})))
        .await?;
    assert_eq!(phone.ctx.pending_operations().await?, 3);
    assert!(!phone.ctx.push().await.is_success());

    let phone = phone.reopen(invalid).await?;
    assert_eq!(phone.ctx.pending_operations().await?, 3);
    assert_eq!(phone.text(&milk).await?.as_deref(), Some("milk"));

    phone.ctx.set_remote(RemoteConfig::new(server.url()))?;
    phone.push_ok().await?;
    phone.pull_all().await?;
    assert_eq!(phone.ctx.pending_operations().await?, 0);
    let on_server = server_rows(server.url()).await?;
    assert_eq!(on_server.len(), 3);
    let done: Vec<_> = on_server
        .iter()
        .filter(|r| r.get("complete") == Some(&Value::Bool(true)))
        .filter_map(|r| text_of(r, "text"))
        .collect();
    assert_eq!(done, ["eggs"]);

    let laptop = Device::open(server.url()).await?;
    assert_eq!(laptop.pull_all().await?.received, 3);
    let complete = laptop
        .table()
        .query(&Query::new().filter(prop("complete").equals(lit(true))))
        .await?;
    assert_eq!(
        complete
            .iter()
            .filter_map(|r| text_of(r, "text"))
            .collect::<Vec<_>>(),
        ["eggs"]
    );
    Ok(())
}
