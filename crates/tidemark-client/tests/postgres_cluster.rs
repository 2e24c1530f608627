//! The engine against a deployment beyond one machine: three `tidemark-server` processes on one
//! PostgreSQL database (the shared test cluster), devices syncing through different processes,
//! as behind a load balancer. They converge, a conflict is detected across processes, and a
//! process killed with SIGKILL loses no acknowledged write while clients carry on through the
//! others. The server binary must be built (`cargo build -p tidemark-server`; the workspace
//! test command builds it).

mod common;

use std::sync::Arc;
use std::time::Duration;

use tidemark_client::{Item, Query};
use tidemark_testkit::postgres::PgDatabase;
use tidemark_testkit::server::{ServerProcess, server_binary};
use tokio::sync::Mutex;

use common::{Device, TestResult, server_rows, server_table, text_of, todo_with_id};

/// One database, three server processes on it; their logs go to `dir`.
struct Cluster {
    servers: Vec<ServerProcess>,
    _dir: tempfile::TempDir,
    // Last: the database outlives the processes using it.
    _db: PgDatabase,
}

impl Cluster {
    async fn start() -> anyhow::Result<Self> {
        let db = PgDatabase::create().await;
        let dir = tempfile::tempdir()?;
        let binary = server_binary()?;
        let mut servers = Vec::new();
        for n in 0..3 {
            let log = dir.path().join(format!("server{n}.log"));
            servers
                .push(ServerProcess::spawn_with_log(&binary, db.url(), log, &["--no-auth"]).await);
        }
        Ok(Self {
            servers,
            _dir: dir,
            _db: db,
        })
    }

    fn url(&self, n: usize) -> &str {
        self.servers[n].url()
    }
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

#[tokio::test]
async fn devices_on_different_server_processes_converge() -> TestResult {
    let cluster = Cluster::start().await?;
    let mut devices = Vec::new();
    for n in 0..3 {
        devices.push(Device::open(cluster.url(n)).await?);
    }
    for round in 0..3 {
        for (n, device) in devices.iter().enumerate() {
            device.add(&format!("device {n} round {round}")).await?;
            device.push_ok().await?;
        }
        for device in &devices {
            device.pull_all().await?;
        }
    }
    let first = devices[0].add_synced("shared").await?;
    devices[1].pull_all().await?;
    devices[1]
        .set_text(&first, "edited through server 1")
        .await?;
    devices[1].push_ok().await?;
    for device in &devices {
        device.pull_all().await?;
    }
    let server = fingerprint(&server_rows(cluster.url(2)).await?);
    assert_eq!(server.len(), 10);
    for device in &devices {
        let local = device.table().query(&Query::new()).await?;
        assert_eq!(fingerprint(&local), server);
    }
    assert_eq!(
        devices[2].text(&first).await?.as_deref(),
        Some("edited through server 1")
    );
    Ok(())
}

#[tokio::test]
async fn a_conflict_is_detected_across_server_processes() -> TestResult {
    let cluster = Cluster::start().await?;
    let a = Device::open(cluster.url(0)).await?;
    let b = Device::open(cluster.url(1)).await?;
    let x = a.add_synced("original").await?;
    b.pull_all().await?;
    a.set_text(&x, "from a").await?;
    a.push_ok().await?;
    // b's copy is stale; its update reaches another process than a's did.
    b.set_text(&x, "from b").await?;
    let result = b.ctx.push().await;
    assert_eq!(result.errors.len(), 1, "{result}");
    let error = &result.errors[0];
    assert_eq!(error.status, Some(412));
    assert_eq!(
        error
            .server_item
            .as_ref()
            .and_then(|i| text_of(i, "text"))
            .as_deref(),
        Some("from a")
    );
    Ok(())
}

#[tokio::test]
async fn a_killed_server_process_loses_no_acknowledged_write_and_clients_carry_on() -> TestResult {
    let mut cluster = Cluster::start().await?;
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    // A writer hammering server 0 until it dies; only answered inserts count as acknowledged.
    let writer = {
        let (table, acknowledged) = (server_table(cluster.url(0))?, Arc::clone(&acknowledged));
        tokio::spawn(async move {
            for n in 0..10_000 {
                let id = format!("w{n:05}");
                if table.insert(&todo_with_id(&id, "hammered")).await.is_err() {
                    break;
                }
                acknowledged.lock().await.push(id);
            }
        })
    };
    // A device syncing through server 0 as well, with work still queued when it dies.
    let device = Device::open(cluster.url(0)).await?;
    device.add_synced("before the crash").await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    cluster.servers[0].kill().await;
    let _ = writer.await;
    let acknowledged = acknowledged.lock().await.clone();
    assert!(!acknowledged.is_empty(), "the writer never got through");
    let queued = device.add("queued during the crash").await?;
    assert!(!device.ctx.push().await.is_success());

    // The load balancer now sends the device to server 1.
    let device = device.reopen(cluster.url(1)).await?;
    device.push_ok().await?;
    let reader = Device::open(cluster.url(2)).await?;
    reader.pull_all().await?;
    for id in acknowledged.iter().chain([&queued]) {
        assert!(
            reader.table().lookup(id).await?.is_some(),
            "acknowledged write {id} was lost"
        );
    }
    Ok(())
}
