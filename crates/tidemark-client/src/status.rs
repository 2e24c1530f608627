//! What the app's badge and status line show, published through a `tokio::sync::watch`
//! channel, and the cancellation token of long operations.

use chrono::{DateTime, Utc};
use tokio::sync::watch;

/// Whether the server was reachable the last time the engine tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Connectivity {
    /// Not tried yet since the context was opened (or the server was changed).
    #[default]
    Unknown,
    /// The last request got an answer.
    Online,
    /// The last request could not reach the server.
    Offline,
}

/// A snapshot of the engine's state for the UI.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SyncStatus {
    /// Queued operations (the badge number).
    pub pending: u64,
    /// A push or pull is running.
    pub syncing: bool,
    /// When the last push or pull completed without error.
    pub last_sync: Option<DateTime<Utc>>,
    /// The last push or pull error, cleared by the next success.
    pub last_error: Option<String>,
    /// Whether the server answered last time.
    pub connectivity: Connectivity,
    /// What the last pull of a whole table repaired when the local copy no longer matched the
    /// server's (see [`crate::Repair`]), for the status line; cleared by the next such pull.
    pub repaired: Option<String>,
}

/// Cancels a push or pull from another task; cheap to clone.
#[derive(Debug, Clone)]
pub struct CancelToken {
    sender: std::sync::Arc<watch::Sender<bool>>,
}

impl Default for CancelToken {
    fn default() -> Self {
        Self::new()
    }
}

impl CancelToken {
    /// A token that is not cancelled.
    pub fn new() -> Self {
        let (sender, _) = watch::channel(false);
        Self {
            sender: std::sync::Arc::new(sender),
        }
    }

    /// Asks every operation holding this token to stop.
    pub fn cancel(&self) {
        self.sender.send_replace(true);
    }

    /// True once [`CancelToken::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        *self.sender.borrow()
    }

    /// Completes when the token is cancelled.
    pub async fn cancelled(&self) {
        let mut rx = self.sender.subscribe();
        let _ = rx.wait_for(|c| *c).await;
    }
}
