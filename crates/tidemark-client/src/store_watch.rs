//! Noticing what other programs write to the local store: the `tidemark` CLI, say, adding a
//! todo to the file the app has open. SQLite counts the commits other connections make to a
//! file (`PRAGMA data_version`, a query on memory SQLite already maps, so cheap to ask often);
//! the engine's own commits do not move it, so a watcher wakes only for someone else's.

use std::time::Duration;

use crate::context::SyncContext;
use crate::error::Result;
use crate::store;

impl SyncContext {
    /// A number that changes whenever another connection or process commits to the local
    /// store, and stays the same across this context's own writes.
    pub async fn data_version(&self) -> Result<i64> {
        self.inner.store.call(|c| Ok(store::data_version(c)?)).await
    }

    /// Watches the local store for other programs' commits, looking every `every`.
    pub async fn watch_store(&self, every: Duration) -> Result<StoreWatcher> {
        Ok(StoreWatcher {
            last: self.data_version().await?,
            ctx: self.clone(),
            every,
        })
    }
}

/// Waits for another program's commits to the local store (see [`SyncContext::watch_store`]).
#[derive(Debug)]
pub struct StoreWatcher {
    ctx: SyncContext,
    last: i64,
    every: Duration,
}

impl StoreWatcher {
    /// Completes once another connection has committed since the watcher was made or last
    /// completed. The pending count in [`SyncContext::subscribe`] is brought up to date first,
    /// since the other program may have queued changes. Fails when the store does (closed,
    /// unreadable); a later call looks again.
    pub async fn changed(&mut self) -> Result<()> {
        loop {
            tokio::time::sleep(self.every).await;
            let now = self.ctx.data_version().await?;
            if now != self.last {
                self.last = now;
                self.ctx.pending_operations().await?;
                return Ok(());
            }
        }
    }
}
