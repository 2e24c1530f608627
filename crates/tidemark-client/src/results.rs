//! What a push and a pull report: how a push ended and the operations the server refused, what
//! a pull did and the rows it could not read. A leaf (it imports only the queue's model), so
//! the engine's error type can carry a push's result without pulling in the push itself.

use std::fmt;

use crate::queue::OperationError;

/// How a push ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushStatus {
    /// Every operation was sent (some may have been refused: see the errors).
    Complete,
    /// The server could not be reached; unsent operations are kept.
    CancelledByNetworkError,
    /// The server did not accept the credentials; unsent operations are kept.
    CancelledByAuthenticationError,
    /// The server wants a signed-in user (no session, or an expired or revoked one); unsent
    /// operations are kept and go out with the next sync after signing in.
    CancelledBySignInRequired,
    /// The local store failed; unsent operations are kept.
    CancelledByLocalStoreError,
    /// The caller's [`crate::CancelToken`] was cancelled; unsent operations are kept.
    CancelledByToken,
    /// The conflict handler asked to abort; unsent operations are kept.
    CancelledByHandlerAbort,
}

/// The outcome of a push: how it ended and every operation error it met.
#[derive(Debug, Clone, PartialEq)]
pub struct PushResult {
    /// How the push ended.
    pub status: PushStatus,
    /// The operations the server refused during this push (also kept in `errors()`).
    pub errors: Vec<OperationError>,
    /// How many operations the server accepted.
    pub pushed: u64,
    /// Why the push stopped early, for the status line.
    pub message: Option<String>,
}

impl PushResult {
    /// A push that has done nothing yet.
    pub(crate) fn new() -> Self {
        Self {
            status: PushStatus::Complete,
            errors: Vec::new(),
            pushed: 0,
            message: None,
        }
    }

    /// True when every operation was sent and accepted.
    pub fn is_success(&self) -> bool {
        self.status == PushStatus::Complete && self.errors.is_empty()
    }
}

impl fmt::Display for PushResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "push {:?}: {} pushed", self.status, self.pushed)?;
        if !self.errors.is_empty() {
            write!(f, ", {} refused", self.errors.len())?;
        }
        if let Some(m) = &self.message {
            write!(f, " ({m})")?;
        }
        Ok(())
    }
}

/// What a pull did; tests and the CLI read the counters and the items it could not read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PullResult {
    /// Rows the server sent (the unreadable ones included).
    pub received: u64,
    /// HTTP requests made for the pages.
    pub requests: u64,
    /// Local rows inserted or overwritten.
    pub upserted: u64,
    /// Local rows removed because the server marked them deleted.
    pub deleted: u64,
    /// Rows left alone because a local operation for them is queued.
    pub skipped_pending: u64,
    /// Rows the server sent that could not be read, and so were skipped: every other row of
    /// their page still came down, and the pull's delta token moved past them, so a row fixed
    /// on the server (a new `updatedAt`) comes down on the next pull.
    pub unreadable: Vec<UnreadableItem>,
}

impl PullResult {
    /// True when every row the server sent could be read.
    pub fn is_complete(&self) -> bool {
        self.unreadable.is_empty()
    }
}

/// A row of a page that could not be read: too deeply nested, not an object, without a valid
/// id... It is reported and skipped, never fatal to the rest of the pull.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UnreadableItem {
    /// The row's id as the server sent it, when it is a string (it may be the reason the row
    /// was refused: print it escaped, as [`fmt::Display`] does).
    pub id: Option<String>,
    /// The row's index in the page that carried it (0-based), to find a row without an id.
    pub position: usize,
    /// The row's `updatedAt` as sent, when it could be read: the pull's token moves past it.
    pub updated_at: Option<String>,
    /// Why it could not be read.
    pub reason: String,
}

impl fmt::Display for UnreadableItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Debug formatting escapes control characters: an id from the server cannot drive a
        // terminal or forge a log line.
        match &self.id {
            Some(id) => write!(f, "item {id:?}: {}", self.reason.escape_debug()),
            None => write!(
                f,
                "item at position {} of its page: {}",
                self.position,
                self.reason.escape_debug()
            ),
        }
    }
}
