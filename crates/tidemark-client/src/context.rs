//! `SyncContext`: the engine's entry point. It owns the local store, the remote client (which
//! the app may swap at runtime), the conflict handler and the status channel, and serialises
//! push, pull and purge so that they never interleave.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use tokio::sync::{Mutex, MutexGuard, watch};

use crate::account;
use crate::conflict::{ConflictHandler, RecordErrors};
use crate::error::{ClientError, Result};
use crate::queue::{Operation, OperationError};
use crate::remote::{RemoteClient, RemoteConfig, RemoteTable};
use crate::resolve;
use crate::schema::{Item, TableDefinition};
use crate::status::{Connectivity, SyncStatus};
use crate::store::{LocalStore, ops};

/// The `__config` key holding the time of the last successful push or pull (RFC 3339).
const LAST_SYNC_KEY: &str = "lastSync";

/// The sync engine over one local store and one server.
#[derive(Clone)]
pub struct SyncContext {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) store: LocalStore,
    pub(crate) tables: HashMap<String, Arc<TableDefinition>>,
    remote: RwLock<Arc<RemoteClient>>,
    handler: RwLock<Arc<dyn ConflictHandler>>,
    status: watch::Sender<SyncStatus>,
    sync_lock: Mutex<()>,
}

impl std::fmt::Debug for SyncContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncContext")
            .field("store", &self.inner.store)
            .field("tables", &self.inner.tables.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl SyncContext {
    /// Opens the store at `path` with these user tables, talking to the server in `remote`.
    /// Works offline: the server is not contacted until a push or pull.
    pub async fn open(
        path: impl AsRef<Path>,
        tables: Vec<TableDefinition>,
        remote: RemoteConfig,
    ) -> Result<Self> {
        let mut by_name = HashMap::new();
        for t in &tables {
            if by_name
                .insert(t.name.clone(), Arc::new(t.clone()))
                .is_some()
            {
                return Err(ClientError::invalid(format!(
                    "table '{}' is defined twice",
                    t.name
                )));
            }
        }
        let store = LocalStore::open(path, &tables).await?;
        // Another signed-in account than the store's is refused at once; signed out, the store
        // opens (offline use) and only a sync asks to sign in.
        let binding = store.call(|c| account::read_binding(c)).await?;
        account::check(binding.as_ref(), &remote, false)?;
        let client = RemoteClient::new(remote)?;
        let pending = store.call(|c| ops::count(c)).await?;
        // The last successful sync is kept in the store, so "synced 2 minutes ago" survives a
        // restart and is the same for every process sharing the store (the app and the CLI).
        let last_sync = store
            .call(|c| ops::config_get(c, LAST_SYNC_KEY))
            .await?
            .and_then(|v| DateTime::parse_from_rfc3339(&v).ok())
            .map(|d| d.with_timezone(&Utc));
        let (status, _) = watch::channel(SyncStatus {
            pending,
            last_sync,
            ..SyncStatus::default()
        });
        log::info!(
            "opened local store {} ({pending} pending operation(s))",
            store.path().display()
        );
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                tables: by_name,
                remote: RwLock::new(client),
                handler: RwLock::new(Arc::new(RecordErrors)),
                status,
                sync_lock: Mutex::new(()),
            }),
        })
    }

    /// The server table `name`, for online-only use.
    pub fn remote_table(&self, name: &str) -> RemoteTable {
        self.remote().table(name)
    }

    /// The file of the local store.
    pub fn store_path(&self) -> &Path {
        self.inner.store.path()
    }

    /// The current remote config.
    pub fn remote_config(&self) -> RemoteConfig {
        self.remote().config().clone()
    }

    /// Switches to another server, key or session (the settings screen, a sign-in); later
    /// pushes and pulls use it. A push already running finishes with the old one. Whether the
    /// store may sync with it is checked by each sync (see [`SyncContext::prepare_account`]).
    pub fn set_remote(&self, config: RemoteConfig) -> Result<()> {
        let client = RemoteClient::new(config)?;
        if let Ok(mut r) = self.inner.remote.write() {
            *r = client;
        }
        self.inner
            .status
            .send_modify(|s| s.connectivity = Connectivity::Unknown);
        Ok(())
    }

    /// Sets the handler consulted for each refused operation during a push.
    pub fn set_conflict_handler(&self, handler: Arc<dyn ConflictHandler>) {
        if let Ok(mut h) = self.inner.handler.write() {
            *h = handler;
        }
    }

    /// A receiver of status snapshots (pending count, syncing, last sync, last error, online).
    pub fn subscribe(&self) -> watch::Receiver<SyncStatus> {
        self.inner.status.subscribe()
    }

    /// The current status snapshot.
    pub fn status(&self) -> SyncStatus {
        self.inner.status.borrow().clone()
    }

    /// How many operations are queued (the badge number).
    pub async fn pending_operations(&self) -> Result<u64> {
        let n = self.inner.store.call(|c| ops::count(c)).await?;
        self.set_pending(n);
        Ok(n)
    }

    /// The queued operations, in queue order.
    pub async fn operations(&self) -> Result<Vec<Operation>> {
        self.inner.store.call(|c| ops::list(c)).await
    }

    /// The errors recorded for failed operations, oldest first.
    pub async fn errors(&self) -> Result<Vec<OperationError>> {
        self.inner.store.call(|c| ops::errors(c)).await
    }

    /// Resolution: drop the operation and keep the server's item locally, as the server has it
    /// now (asked for; offline, the newest copy recorded with the error), or remove the local
    /// row when the server no longer has the item.
    pub async fn cancel_and_take_server_item(&self, error: &OperationError) -> Result<()> {
        let _guard = self.inner.sync_lock.lock().await;
        let def = self.definition(&error.table)?;
        // The server's copy as it is now; offline (or refused), the copy recorded with the
        // error, unless there is none: then nothing is known and nothing changes.
        let (server_item, fetched) =
            match self.remote().table(&error.table).find(&error.item_id).await {
                Ok(found) => (found, true),
                Err(e) if error.server_item.is_some() && !e.kind().is_store_fault() => {
                    log::info!(
                        "cannot ask the server for '{}' ({e}); taking the copy recorded with the \
                     change",
                        error.item_id
                    );
                    (error.server_item.clone(), false)
                }
                Err(e) => return Err(e),
            };
        let (id, version) = (error.operation_id.clone(), error.operation_version);
        let pending = self
            .inner
            .store
            .call(move |c| {
                resolve::take_server_item(c, &def, &id, version, server_item.as_ref(), fetched)
            })
            .await?;
        self.set_pending(pending);
        Ok(())
    }

    /// Resolution "keep mine" for an edit of an item deleted on another device
    /// ([`crate::Problem::DeletedElsewhere`]): the server brings the item back (undelete) and
    /// the edit goes over it on the next push; a server that cannot bring it back (no
    /// undelete, or the item is gone for good) gets the whole local row as a new insert.
    /// Needs the server now; on a network failure nothing changes and the error says so.
    pub async fn restore_and_keep_local(&self, error: &OperationError) -> Result<()> {
        let _guard = self.inner.sync_lock.lock().await;
        let def = self.definition(&error.table)?;
        if error.problem() != crate::queue::Problem::DeletedElsewhere {
            return Err(ClientError::invalid(format!(
                "the {} of '{}' was not refused because the item was deleted elsewhere",
                error.kind, error.item_id
            )));
        }
        let restored = self
            .remote()
            .table(&error.table)
            .restore(&error.item_id)
            .await?;
        match &restored {
            Some(_) => log::info!("'{}' brought back on the server", error.item_id),
            None => log::info!(
                "the server cannot bring back '{}'; it is sent again as a new item",
                error.item_id
            ),
        }
        let (id, version) = (error.operation_id.clone(), error.operation_version);
        let pending = self
            .inner
            .store
            .call(move |c| resolve::restore_local(c, &def, &id, version, restored.as_ref()))
            .await?;
        self.set_pending(pending);
        Ok(())
    }

    /// Resolution: drop the operation and the local item.
    pub async fn cancel_and_discard_item(&self, error: &OperationError) -> Result<()> {
        let _guard = self.inner.sync_lock.lock().await;
        let def = self.definition(&error.table)?;
        let (id, version) = (error.operation_id.clone(), error.operation_version);
        let pending = self
            .inner
            .store
            .call(move |c| resolve::discard_local(c, &def, &id, version))
            .await?;
        self.set_pending(pending);
        Ok(())
    }

    /// Resolution: replace the operation's item (e.g. a merge carrying the server's `version`)
    /// and queue it again for the next push.
    pub async fn update_operation(&self, error: &OperationError, item: Item) -> Result<()> {
        let _guard = self.inner.sync_lock.lock().await;
        let def = self.definition(&error.table)?;
        let error = error.clone();
        self.inner
            .store
            .call(move |c| resolve::update_operation(c, &def, &error, &item))
            .await
    }

    /// Closes the local store after the work already queued; the context is unusable after.
    pub async fn close(&self) {
        self.inner.store.close().await;
    }

    pub(crate) fn definition(&self, name: &str) -> Result<Arc<TableDefinition>> {
        self.inner
            .tables
            .get(name)
            .cloned()
            .ok_or_else(|| ClientError::UnknownTable(name.to_string()))
    }

    pub(crate) fn remote(&self) -> Arc<RemoteClient> {
        match self.inner.remote.read() {
            Ok(r) => Arc::clone(&r),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    pub(crate) fn handler(&self) -> Arc<dyn ConflictHandler> {
        match self.inner.handler.read() {
            Ok(h) => Arc::clone(&h),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    pub(crate) async fn sync_lock(&self) -> MutexGuard<'_, ()> {
        self.inner.sync_lock.lock().await
    }

    pub(crate) fn set_pending(&self, pending: u64) {
        self.inner.status.send_if_modified(|s| {
            let changed = s.pending != pending;
            s.pending = pending;
            changed
        });
    }

    /// Shows (or, with `None`, clears) what the last repair of a diverged table did.
    pub(crate) fn set_repaired(&self, repaired: Option<String>) {
        self.inner.status.send_if_modified(|s| {
            let changed = s.repaired != repaired;
            s.repaired = repaired;
            changed
        });
    }

    pub(crate) fn set_syncing(&self, syncing: bool) {
        self.inner.status.send_modify(|s| s.syncing = syncing);
    }

    pub(crate) fn set_connectivity(&self, connectivity: Connectivity) {
        self.inner.status.send_if_modified(|s| {
            let changed = s.connectivity != connectivity;
            s.connectivity = connectivity;
            changed
        });
    }

    /// Ends a push or pull in the status; a success is also recorded in the store.
    pub(crate) async fn finish_sync(&self, outcome: std::result::Result<(), String>) {
        let now = Utc::now();
        if outcome.is_ok() {
            let stamp = now.to_rfc3339();
            if let Err(e) = self
                .inner
                .store
                .call(move |c| ops::config_set(c, LAST_SYNC_KEY, &stamp))
                .await
            {
                // The sync itself succeeded; only its timestamp is not kept.
                log::warn!("cannot record the last sync time: {e}");
            }
        }
        self.inner.status.send_modify(|s| {
            s.syncing = false;
            match outcome {
                Ok(()) => {
                    s.last_sync = Some(now);
                    s.last_error = None;
                }
                Err(e) => s.last_error = Some(e),
            }
        });
    }
}
