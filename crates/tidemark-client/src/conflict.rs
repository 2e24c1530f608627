//! The conflict handler a push consults for each failed operation, and ready-made handlers.

use crate::item::Item;
use crate::queue::OperationError;

/// What to do with an operation the server refused.
#[derive(Debug, Clone, PartialEq)]
pub enum ConflictResolution {
    /// Keep the operation, record the error and go on (resolve later through the context).
    Record,
    /// Client wins: resend the local item against the server's current version.
    ClientWins,
    /// Server wins: drop the operation and take the server's item locally.
    ServerWins,
    /// Resend this item (e.g. a merge of both) against the server's current version.
    Merge(Item),
    /// Record the error and stop the push, keeping every operation not yet sent.
    Abort,
}

/// Decides, during a push, what happens to each operation the server refused (a conflict, a
/// bad item, a server failure...). Network failures and refused credentials stop the push
/// without asking.
pub trait ConflictHandler: Send + Sync {
    /// The resolution for this failure; `error.server_item` is the server's copy when known.
    fn resolve(&self, error: &OperationError) -> ConflictResolution;
}

/// The default: record every failure for the app to resolve later.
#[derive(Debug, Clone, Copy, Default)]
pub struct RecordErrors;

impl ConflictHandler for RecordErrors {
    fn resolve(&self, _error: &OperationError) -> ConflictResolution {
        ConflictResolution::Record
    }
}

/// Conflicts, and items the server no longer has, resolve to the server's side; other failures
/// are recorded.
#[derive(Debug, Clone, Copy, Default)]
pub struct ServerWins;

impl ConflictHandler for ServerWins {
    fn resolve(&self, error: &OperationError) -> ConflictResolution {
        if error.is_conflict() || error.is_gone() {
            ConflictResolution::ServerWins
        } else {
            ConflictResolution::Record
        }
    }
}

/// Conflicts are resent against the server's version; other failures are recorded.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientWins;

impl ConflictHandler for ClientWins {
    fn resolve(&self, error: &OperationError) -> ConflictResolution {
        if error.is_conflict() {
            ConflictResolution::ClientWins
        } else {
            ConflictResolution::Record
        }
    }
}

impl<F> ConflictHandler for F
where
    F: Fn(&OperationError) -> ConflictResolution + Send + Sync,
{
    fn resolve(&self, error: &OperationError) -> ConflictResolution {
        self(error)
    }
}
