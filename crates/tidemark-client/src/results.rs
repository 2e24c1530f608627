//! What a push reports: how it ended and the operations the server refused. A leaf (it imports
//! only the queue's model), so the engine's error type can carry a push's result without
//! pulling in the push itself.

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
