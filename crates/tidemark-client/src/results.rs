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
    /// Set when the pull found this device's copy of the table different from the server's
    /// (our server's checksum after the pull) and pulled the table again to repair it.
    pub repair: Option<Repair>,
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
    /// The row's version as sent, when it could be read and the row is not deleted: the
    /// server's checksum counts the row, so the divergence check counts it too.
    pub version: Option<String>,
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

/// A divergence a pull found and repaired: after the pull, the checksum of this device's rows
/// did not match the server's, so the table was pulled again from the start (queued changes
/// kept). Compares ids and versions, so it catches rows lost, left over or at another version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repair {
    /// The table.
    pub table: String,
    /// The rows this device held, as its checksum counted them.
    pub local_rows: u64,
    /// The rows the server holds, as its checksum counted them.
    pub server_rows: u64,
    /// The rows that differed, found by comparing the copy before and after the new pull.
    pub differences: Vec<RowDifference>,
}

/// One row that differed between this device and the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowDifference {
    /// The row's id.
    pub id: String,
    /// Its version on this device before the repair; `None`: the row was missing here.
    pub local_version: Option<String>,
    /// Its version on the server; `None`: the server has no such row (any more).
    pub server_version: Option<String>,
}

impl fmt::Display for RowDifference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.local_version, &self.server_version) {
            (None, _) => write!(f, "row '{}' was missing here", self.id),
            (Some(_), None) => write!(f, "row '{}' was here but not on the server", self.id),
            (Some(here), Some(there)) => write!(
                f,
                "row '{}' was at version {here} here and {there} on the server",
                self.id
            ),
        }
    }
}

impl fmt::Display for Repair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.differences.len();
        write!(
            f,
            "the local copy of '{}' no longer matched the server's ({n} row{} differed) and was \
             pulled again",
            self.table,
            if n == 1 { "" } else { "s" }
        )
    }
}
