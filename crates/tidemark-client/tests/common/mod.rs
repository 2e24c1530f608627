//! Helpers of the engine suite: devices (a context on its own SQLite file in a temp dir), the
//! real server on loopback, and a few item builders. Every test uses these instead of copies.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use tempfile::TempDir;
use tidemark_client::tidemark_protocol::odata::TableQuery;
use tidemark_client::{
    ColumnType, Item, RemoteClient, RemoteConfig, SyncContext, SyncTable, TableDefinition,
};

/// The test's result: `?` on anything.
pub type TestResult = anyhow::Result<()>;

/// The table every test uses.
pub const TABLE: &str = "todoitem";

/// `todoitem(text, complete, priority)`.
pub fn todo_table() -> TableDefinition {
    TableDefinition::new(TABLE)
        .column("text", ColumnType::Text)
        .column("complete", ColumnType::Boolean)
        .column("priority", ColumnType::Integer)
}

/// A JSON object literal as an item.
pub fn item(value: Value) -> Item {
    match value {
        Value::Object(map) => map,
        _ => Item::new(),
    }
}

/// A todo with this text, not complete.
pub fn todo(text: &str) -> Item {
    item(json!({"text": text, "complete": false}))
}

/// A todo with a given id.
pub fn todo_with_id(id: &str, text: &str) -> Item {
    item(json!({"id": id, "text": text, "complete": false}))
}

/// A string field of an item.
pub fn text_of(item: &Item, field: &str) -> Option<String> {
    item.get(field).and_then(Value::as_str).map(str::to_string)
}

/// A URL where nothing listens: a port bound and released at once.
pub fn unreachable_url() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(9);
    format!("http://127.0.0.1:{port}/")
}

/// How a device pushes: the engine's push tests run in both modes (see `both_modes!`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One request per operation (`batch_size` 0), as against stock servers.
    PerRequest,
    /// `POST /$batch` with the default batch size.
    Batch,
}

impl Mode {
    /// The remote config of a device in this mode talking to `url`. Every pull but a store's
    /// first is checked against our server's checksum, so every test of the suite also shows
    /// that the check finds no divergence where there is none.
    pub fn config(self, url: &str) -> RemoteConfig {
        let mut config = RemoteConfig::new(url);
        config.verify_interval = std::time::Duration::ZERO;
        if self == Mode::PerRequest {
            config.batch_size = 0;
        }
        config
    }

    /// The method and path fragment a `FaultProxy` rule needs to catch the request that carries
    /// a write sent with `method` to the todo table: the write itself, or the batch holding it.
    pub fn route(self, method: &'static str) -> (&'static str, &'static str) {
        match self {
            Mode::PerRequest => (method, "/tables/todoitem"),
            Mode::Batch => ("POST", "$batch"),
        }
    }
}

/// One client device: a context over its own store file.
pub struct Device {
    /// Keeps the temp dir alive as long as the device.
    pub dir: TempDir,
    /// The engine.
    pub ctx: SyncContext,
    /// The device's todo table definition (kept for reopening).
    def: TableDefinition,
    /// How it pushes.
    pub mode: Mode,
}

impl Device {
    /// A new device with an empty store, talking to `url`, pushing in batches when offered.
    pub async fn open(url: &str) -> anyhow::Result<Self> {
        Self::open_in(url, Mode::Batch).await
    }

    /// A new device with an empty store, talking to `url`, pushing in `mode`.
    pub async fn open_in(url: &str, mode: Mode) -> anyhow::Result<Self> {
        Self::open_with_config(mode, mode.config(url), todo_table()).await
    }

    /// A new device whose todo table has exactly these columns.
    pub async fn open_with(url: &str, def: TableDefinition) -> anyhow::Result<Self> {
        Self::open_with_config(Mode::Batch, Mode::Batch.config(url), def).await
    }

    /// A new device with this remote config and todo table.
    pub async fn open_with_config(
        mode: Mode,
        config: RemoteConfig,
        def: TableDefinition,
    ) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let ctx = SyncContext::open(store_file(dir.path()), vec![def.clone()], config).await?;
        Ok(Self {
            dir,
            ctx,
            def,
            mode,
        })
    }

    /// This device's remote config for `url` (to switch servers or keys in its mode).
    pub fn config(&self, url: &str) -> RemoteConfig {
        self.mode.config(url)
    }

    /// The store file.
    pub fn path(&self) -> PathBuf {
        store_file(self.dir.path())
    }

    /// The todo table.
    pub fn table(&self) -> SyncTable {
        match self.ctx.table(TABLE) {
            Ok(t) => t,
            Err(e) => panic!("the todo table is defined by every device: {e}"),
        }
    }

    /// Closes the store and opens it again (an app restart), now talking to `url`.
    pub async fn reopen(self, url: &str) -> anyhow::Result<Self> {
        self.ctx.close().await;
        let ctx =
            SyncContext::open(self.path(), vec![self.def.clone()], self.mode.config(url)).await?;
        Ok(Self {
            dir: self.dir,
            ctx,
            def: self.def,
            mode: self.mode,
        })
    }

    /// Inserts a todo and returns its id.
    pub async fn add(&self, text: &str) -> anyhow::Result<String> {
        let stored = self.table().insert(todo(text)).await?;
        text_of(&stored, "id").ok_or_else(|| anyhow::anyhow!("stored item has no id"))
    }

    /// Pushes and fails the test unless every operation was accepted.
    pub async fn push_ok(&self) -> TestResult {
        let result = self.ctx.push().await;
        anyhow::ensure!(
            result.is_success(),
            "push failed: {result} {:?}",
            result.errors
        );
        Ok(())
    }

    /// Pulls every todo incrementally under the query id "all".
    pub async fn pull_all(&self) -> anyhow::Result<tidemark_client::PullResult> {
        Ok(self
            .table()
            .pull(Some("all"), &tidemark_client::Query::new())
            .await?)
    }

    /// The local text of an item.
    pub async fn text(&self, id: &str) -> anyhow::Result<Option<String>> {
        Ok(self
            .table()
            .lookup(id)
            .await?
            .and_then(|i| text_of(&i, "text")))
    }
}

fn store_file(dir: &Path) -> PathBuf {
    dir.join("store.db")
}

/// The server's table, straight over HTTP (another writer, or the test's eyes).
pub fn server_table(url: &str) -> anyhow::Result<tidemark_client::RemoteTable> {
    Ok(RemoteClient::new(RemoteConfig::new(url))?.table(TABLE))
}

/// Every live row on the server, sorted by id.
pub async fn server_rows(url: &str) -> anyhow::Result<Vec<Item>> {
    let table = server_table(url)?;
    let mut rows = Vec::new();
    loop {
        let page = table
            .query(&TableQuery {
                top: Some(1000),
                skip: Some(rows.len() as u64),
                ..TableQuery::default()
            })
            .await?;
        let n = page.items.len();
        rows.extend(page.items);
        if n < 1000 {
            break;
        }
    }
    rows.sort_by_key(|r| text_of(r, "id"));
    Ok(rows)
}

/// A real server on loopback with the default config (table `todoitem`).
pub async fn server() -> tidemark_testkit::server::TestServer {
    tidemark_testkit::server::TestServer::start_open().await
}

/// A real server that wants this application key.
pub async fn server_with_key(key: &str) -> tidemark_testkit::server::TestServer {
    let config = tidemark_server::ServerConfig {
        app_key: Some(key.to_string()),
        ..tidemark_server::ServerConfig::open()
    };
    tidemark_testkit::server::TestServer::start_with(config).await
}

/// A proxy in front of `url` that hides our server's extensions (`/$capabilities` is a 404),
/// so the engine treats it as a stock server: no idempotency header, small pages, `ge` tokens.
pub async fn stock_like(url: &str) -> anyhow::Result<tidemark_testkit::proxy::FaultProxy> {
    let proxy = tidemark_testkit::proxy::FaultProxy::start(url).await?;
    proxy.add_rule(
        "GET",
        "$capabilities",
        tidemark_testkit::proxy::Fault::Respond {
            status: 404,
            body: r#"{"error":"not found"}"#.into(),
        },
        usize::MAX,
    );
    Ok(proxy)
}

/// A proxy in front of `url` with no rules yet.
pub async fn proxy(url: &str) -> anyhow::Result<tidemark_testkit::proxy::FaultProxy> {
    tidemark_testkit::proxy::FaultProxy::start(url).await
}

impl Device {
    /// Inserts a todo and pushes it, so that it exists on the server with a version.
    pub async fn add_synced(&self, text: &str) -> anyhow::Result<String> {
        let id = self.add(text).await?;
        self.push_ok().await?;
        Ok(id)
    }

    /// Updates the text of an item locally.
    pub async fn set_text(&self, id: &str, text: &str) -> anyhow::Result<Item> {
        Ok(self
            .table()
            .update(item(json!({"id": id, "text": text})))
            .await?)
    }

    /// The queued operations as (kind, item id), in queue order.
    pub async fn queue(&self) -> anyhow::Result<Vec<(tidemark_client::OperationKind, String)>> {
        Ok(self
            .ctx
            .operations()
            .await?
            .into_iter()
            .map(|o| (o.kind, o.item_id))
            .collect())
    }
}

/// The text of the server's item, or `None` when the server has no live item with this id.
pub async fn server_text(url: &str, id: &str) -> anyhow::Result<Option<String>> {
    match server_table(url)?.lookup(id).await {
        Ok(item) => Ok(text_of(&item, "text")),
        Err(tidemark_client::ClientError::Http { status: 404, .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}
