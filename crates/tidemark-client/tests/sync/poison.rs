//! The poison item against the real server: rows a client cannot read, written straight into
//! the server's database next to good ones (as a buggy writer or an old server could leave
//! them), are skipped with a named reason by a fresh device and an incremental one, every other
//! row still comes down, and a row repaired on the server comes down on the next pull.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::json;
use tidemark_client::{Query, UnreadableItem};
use tidemark_testkit::server::{Backend, TestServer};

use crate::common::{Device, TABLE, TestResult, item, server_table, text_of};

/// The id of the row nested too deep.
const DEEP: &str = "poison-deep";
/// The id of the row whose id breaks the protocol's rules (it clears a terminal's screen).
const BAD_ID: &str = "poison\u{1b}[2J";

/// The `data` of a row nested 127 levels deep: the most the server's own JSON reader takes, so
/// the server serves it, one level deeper inside a page. A whole-page parse then passes
/// serde_json's limit (128) and failed every pull of every device; now the row is skipped.
fn deep_data() -> String {
    format!(
        r#"{{"text":"deep","complete":false,"d":{}{}}}"#,
        "[".repeat(126),
        "]".repeat(126)
    )
}

/// Writes a row straight into the server's `items` table, stamped now.
async fn write_raw(server: &TestServer, id: &str, data: &str) -> anyhow::Result<()> {
    let now_us = i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH)?.as_micros())?;
    match server.backend() {
        Backend::Sqlite => {
            let db = rusqlite::Connection::open(server.db_path())?;
            db.busy_timeout(std::time::Duration::from_secs(5))?;
            db.execute(
                "INSERT INTO items (tbl, id, created_at, updated_at, version, deleted, data)
                 VALUES (?1, ?2, ?3, ?3, 'AAAAAAAAAAE=', 0, ?4)",
                rusqlite::params![TABLE, id, now_us, data],
            )?;
        }
        Backend::Postgres => {
            let url = server
                .postgres()
                .ok_or_else(|| anyhow::anyhow!("no database"))?
                .url();
            let (db, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
            let connection = tokio::spawn(connection);
            db.execute(
                "INSERT INTO items (tbl, id, created_at, updated_at, version, deleted, data)
                 VALUES ($1, $2, $3, $3, 'AAAAAAAAAAE=', false, $4::text::jsonb)",
                &[&TABLE, &id, &now_us, &data],
            )
            .await?;
            drop(db);
            connection.await??;
        }
    }
    Ok(())
}

/// Inserts a todo through HTTP, as another device would.
async fn server_add(url: &str, id: &str) -> anyhow::Result<()> {
    server_table(url)?
        .insert(&item(json!({"id": id, "text": id, "complete": false})))
        .await?;
    Ok(())
}

/// The ids of a pull's skipped rows, sorted.
fn skipped_ids(skipped: &[UnreadableItem]) -> Vec<String> {
    let mut ids: Vec<String> = skipped.iter().filter_map(|u| u.id.clone()).collect();
    ids.sort();
    ids
}

async fn local_ids(device: &Device) -> anyhow::Result<Vec<String>> {
    let mut ids: Vec<String> = device
        .table()
        .query(&Query::new())
        .await?
        .iter()
        .filter_map(|i| text_of(i, "id"))
        .collect();
    ids.sort();
    Ok(ids)
}

async fn poison_rows_are_skipped_and_a_repaired_one_comes_down(backend: Backend) -> TestResult {
    let server = TestServer::start_open_on_backend(backend).await;
    let url = server.url().to_string();
    server_add(&url, "good-1").await?;
    server_add(&url, "good-2").await?;
    let incremental = Device::open(&url).await?;
    assert_eq!(incremental.pull_all().await?.received, 2);

    write_raw(&server, DEEP, &deep_data()).await?;
    write_raw(&server, BAD_ID, r#"{"text":"evil","complete":false}"#).await?;
    server_add(&url, "good-3").await?;
    let expected_skips = {
        let mut ids = vec![DEEP.to_string(), BAD_ID.to_string()];
        ids.sort();
        ids
    };
    let good = ["good-1", "good-2", "good-3"];

    // The attack as it was: the page holding the row cannot be parsed as a whole.
    let page = reqwest::Client::new()
        .get(format!("{url}/tables/{TABLE}"))
        .header("ZUMO-API-VERSION", "2.0.0")
        .send()
        .await?
        .text()
        .await?;
    let whole = serde_json::from_str::<serde_json::Value>(&page).map_err(|e| e.to_string());
    assert!(
        whole.as_ref().is_err_and(|e| e.contains("recursion limit")),
        "{backend:?}: the page must be beyond a whole-page parse: {whole:?}"
    );

    let fresh = Device::open(&url).await?;
    let pulled = fresh.pull_all().await?;
    assert_eq!(
        skipped_ids(&pulled.unreadable),
        expected_skips,
        "{backend:?}"
    );
    assert_eq!(pulled.received, 5);
    assert_eq!(local_ids(&fresh).await?, good, "{backend:?}: fresh device");
    let deep = pulled
        .unreadable
        .iter()
        .find(|u| u.id.as_deref() == Some(DEEP));
    assert!(
        deep.is_some_and(|u| u.reason.contains("127 levels deep")),
        "{deep:?}"
    );
    let bad = pulled
        .unreadable
        .iter()
        .find(|u| u.id.as_deref() == Some(BAD_ID));
    assert!(
        bad.is_some_and(|u| u.reason.contains("control character")),
        "{bad:?}"
    );

    let pulled = incremental.pull_all().await?;
    assert_eq!(
        skipped_ids(&pulled.unreadable),
        expected_skips,
        "{backend:?}"
    );
    assert_eq!(pulled.received, 3);
    assert_eq!(
        local_ids(&incremental).await?,
        good,
        "{backend:?}: incremental"
    );

    // Pulled again with nothing changed, the skipped rows are not sent again: the tokens moved
    // past them. The divergence check counts them as held, so they cause no repair either.
    let again = fresh.pull_all().await?;
    assert!(again.unreadable.is_empty());
    assert_eq!(again.repair, None, "{backend:?}");

    // Repaired on the server (a PATCH replacing the deep property): it has a new updatedAt
    // and comes down to both devices.
    server_table(&url)?
        .update(DEEP, &item(json!({"d": "flat", "text": "repaired"})), None)
        .await?;
    for device in [&fresh, &incremental] {
        let pulled = device.pull_all().await?;
        assert!(pulled.unreadable.is_empty(), "{:?}", pulled.unreadable);
        assert_eq!(pulled.repair, None, "{backend:?}");
        assert_eq!(pulled.received, 1);
        assert_eq!(device.text(DEEP).await?.as_deref(), Some("repaired"));
        assert_eq!(local_ids(device).await?.len(), 4);
        assert!(device.queue().await?.is_empty());
    }
    Ok(())
}

#[tokio::test]
async fn poison_rows_are_skipped_and_a_repaired_one_comes_down_on_sqlite() -> TestResult {
    poison_rows_are_skipped_and_a_repaired_one_comes_down(Backend::Sqlite).await
}

#[tokio::test]
async fn poison_rows_are_skipped_and_a_repaired_one_comes_down_on_postgres() -> TestResult {
    poison_rows_are_skipped_and_a_repaired_one_comes_down(Backend::Postgres).await
}
