//! Convergence: three devices make random offline edits and sync at random moments; with
//! server-wins conflict handling, once everyone has synced every device equals the server.

use std::sync::Arc;

use proptest::prelude::*;
use tidemark_client::{Item, Query, ServerWins};

use crate::common::{Device, server, server_rows, text_of};

#[derive(Debug, Clone)]
enum Step {
    Add(usize),
    Edit(usize, usize, u8),
    Delete(usize, usize),
    Sync(usize),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0..3usize).prop_map(Step::Add),
        (0..3usize, any::<usize>(), any::<u8>()).prop_map(|(d, i, t)| Step::Edit(d, i, t)),
        (0..3usize, any::<usize>()).prop_map(|(d, i)| Step::Delete(d, i)),
        (0..3usize).prop_map(Step::Sync),
    ]
}

/// What must agree between a device and the server: id, text and version of each live row.
fn fingerprint(rows: &[Item]) -> Vec<(Option<String>, Option<String>, Option<String>)> {
    let mut out: Vec<_> = rows
        .iter()
        .map(|r| (text_of(r, "id"), text_of(r, "text"), text_of(r, "version")))
        .collect();
    out.sort();
    out
}

async fn local_ids(device: &Device) -> anyhow::Result<Vec<String>> {
    let rows = device.table().query(&Query::new()).await?;
    Ok(rows.iter().filter_map(|r| text_of(r, "id")).collect())
}

async fn sync(device: &Device) -> anyhow::Result<()> {
    device.push_ok().await?;
    device.pull_all().await?;
    Ok(())
}

async fn run(steps: Vec<Step>) -> anyhow::Result<()> {
    let server = server().await;
    let mut devices = Vec::new();
    for _ in 0..3 {
        let d = Device::open(server.url()).await?;
        d.ctx.set_conflict_handler(Arc::new(ServerWins));
        devices.push(d);
    }
    for (n, s) in steps.into_iter().enumerate() {
        match s {
            Step::Add(d) => {
                devices[d].add(&format!("item {n}")).await?;
            }
            Step::Edit(d, i, t) => {
                let ids = local_ids(&devices[d]).await?;
                if !ids.is_empty() {
                    devices[d]
                        .set_text(&ids[i % ids.len()], &format!("edit {t}"))
                        .await?;
                }
            }
            Step::Delete(d, i) => {
                let ids = local_ids(&devices[d]).await?;
                if !ids.is_empty() {
                    // An insert already sent cannot be deleted before a push: that is a rule.
                    let _ = devices[d].table().delete(&ids[i % ids.len()]).await;
                }
            }
            Step::Sync(d) => sync(&devices[d]).await?,
        }
    }
    for d in &devices {
        sync(d).await?;
    }
    for d in &devices {
        d.pull_all().await?;
    }
    let expected = fingerprint(&server_rows(server.url()).await?);
    for (i, d) in devices.iter().enumerate() {
        let local = fingerprint(&d.table().query(&Query::new()).await?);
        anyhow::ensure!(
            local == expected,
            "device {i} differs:\n{local:?}\nserver:\n{expected:?}"
        );
        anyhow::ensure!(
            d.ctx.pending_operations().await? == 0,
            "device {i} has pending operations"
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, max_shrink_iters: 50, ..ProptestConfig::default() })]

    #[test]
    fn devices_converge_on_the_servers_rows(steps in proptest::collection::vec(step(), 1..30)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let outcome = rt.block_on(run(steps));
        prop_assert!(outcome.is_ok(), "{:?}", outcome.err());
    }
}
