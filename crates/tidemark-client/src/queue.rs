//! The operation queue's model and its collapse table: what happens when an item that already
//! has a queued operation is written again. The SQL lives in `store::ops`; this file decides.

use std::fmt;

use crate::error::ClientError;
use crate::schema::Item;

/// What a queued operation does on the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OperationKind {
    /// `POST /tables/{table}`.
    Insert,
    /// `PATCH /tables/{table}/{id}`.
    Update,
    /// `DELETE /tables/{table}/{id}`.
    Delete,
}

impl OperationKind {
    /// The name kept in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            OperationKind::Insert => "insert",
            OperationKind::Update => "update",
            OperationKind::Delete => "delete",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "insert" => Some(OperationKind::Insert),
            "update" => Some(OperationKind::Update),
            "delete" => Some(OperationKind::Delete),
            _ => None,
        }
    }
}

impl fmt::Display for OperationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a queued operation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OperationState {
    /// Never sent (or edited since it was).
    Pending,
    /// Sent; the outcome is not known yet (in flight, or the response was lost).
    Attempted,
    /// Sent and refused; an error is recorded for it.
    Failed,
}

impl OperationState {
    /// The name kept in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            OperationState::Pending => "pending",
            OperationState::Attempted => "attempted",
            OperationState::Failed => "failed",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(OperationState::Pending),
            "attempted" => Some(OperationState::Attempted),
            "failed" => Some(OperationState::Failed),
            _ => None,
        }
    }
}

/// One queued local change waiting to be pushed.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    /// The operation's id (a UUID), also sent in the idempotency header.
    pub id: String,
    /// What it does.
    pub kind: OperationKind,
    /// Where it stands.
    pub state: OperationState,
    /// The table.
    pub table: String,
    /// The item's id.
    pub item_id: String,
    /// For deletes, the item as it was when deleted (its `version` goes out as `If-Match`).
    pub item: Option<Item>,
    /// Its place in the queue (ascending).
    pub sequence: i64,
    /// Grows each time the operation is collapsed with a newer write or edited.
    pub version: u64,
    /// Every body sent for it whose outcome was never learnt (oldest first, at most
    /// [`MAX_REMEMBERED_ATTEMPTS`]): any of them may have landed, not only the last one (a
    /// first attempt applied with its answer lost, then a second that never reached the
    /// server), so a retry recognises its own earlier success against all of them.
    pub(crate) attempted_items: Vec<Item>,
}

impl Operation {
    /// True once the operation has been sent at least once (its outcome may be unknown).
    pub fn was_attempted(&self) -> bool {
        !self.attempted_items.is_empty() || self.state != OperationState::Pending
    }
}

/// What the queue does with a new local write, given the operation already queued for the item.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Collapse {
    /// Queue a new operation of this kind at the end.
    Append(OperationKind),
    /// Keep the queued operation (kind and position), with a new version.
    Bump,
    /// Remove the queued operation and queue nothing: the item never reaches the server.
    Cancel,
    /// Replace the queued operation by one of this kind at the end of the queue.
    MoveToEnd(OperationKind),
}

/// The collapse table of `spec/sync.md`.
pub(crate) fn collapse(
    queued: Option<&Operation>,
    new: OperationKind,
) -> Result<Collapse, ClientError> {
    use OperationKind::*;
    let Some(op) = queued else {
        return Ok(Collapse::Append(new));
    };
    let refuse = |why: &str| {
        Err(ClientError::QueueConflict {
            message: format!(
                "cannot queue {new} of item '{}' in table '{}': {why}",
                op.item_id, op.table
            ),
        })
    };
    match (op.kind, new) {
        (Insert, Insert) | (Update, Insert) => refuse("the item already exists"),
        (Delete, _) => refuse("the item is deleted and the delete is still queued"),
        (Insert, Update) | (Update, Update) => Ok(Collapse::Bump),
        (Insert, Delete) if !op.was_attempted() => Ok(Collapse::Cancel),
        (Insert, Delete) => refuse(
            "its insert was already sent and its outcome is unknown; push first, then delete",
        ),
        (Update, Delete) => Ok(Collapse::MoveToEnd(Delete)),
    }
}

/// How many unanswered attempts of one operation are remembered (each a body that may have
/// landed); past this the oldest is forgotten.
pub(crate) const MAX_REMEMBERED_ATTEMPTS: usize = 8;

/// A failed operation as recorded in `__errors`, with what the server said.
#[derive(Debug, Clone, PartialEq)]
pub struct OperationError {
    /// The failed operation.
    pub operation_id: String,
    /// The operation's version when it failed; resolutions refuse if it changed since.
    pub operation_version: u64,
    /// What the operation did.
    pub kind: OperationKind,
    /// The table.
    pub table: String,
    /// The item's id.
    pub item_id: String,
    /// The HTTP status, when the server answered.
    pub status: Option<u16>,
    /// The raw response body.
    pub raw_body: Option<String>,
    /// The server's current item, when known (412 body, or fetched after a 409).
    pub server_item: Option<Item>,
    /// The item the operation sent (for deletes, the deleted item).
    pub item: Option<Item>,
}

impl OperationError {
    /// True for 409 and 412: the server holds a different version of the item.
    pub fn is_conflict(&self) -> bool {
        matches!(self.status, Some(409) | Some(412))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use OperationKind::*;

    fn op(kind: OperationKind, attempted: bool) -> Operation {
        Operation {
            id: "op".into(),
            kind,
            state: if attempted {
                OperationState::Attempted
            } else {
                OperationState::Pending
            },
            table: "t".into(),
            item_id: "a".into(),
            item: None,
            sequence: 1,
            version: 1,
            attempted_items: if attempted {
                vec![Item::new()]
            } else {
                Vec::new()
            },
        }
    }

    fn is_conflict(r: Result<Collapse, ClientError>) -> bool {
        matches!(r, Err(ClientError::QueueConflict { .. }))
    }

    #[test]
    fn nothing_queued_appends() {
        assert_eq!(collapse(None, Update).ok(), Some(Collapse::Append(Update)));
    }

    #[test]
    fn the_collapse_table() {
        assert!(is_conflict(collapse(Some(&op(Insert, false)), Insert)));
        assert_eq!(
            collapse(Some(&op(Insert, false)), Update).ok(),
            Some(Collapse::Bump)
        );
        assert_eq!(
            collapse(Some(&op(Insert, false)), Delete).ok(),
            Some(Collapse::Cancel)
        );
        assert!(is_conflict(collapse(Some(&op(Insert, true)), Delete)));
        assert!(is_conflict(collapse(Some(&op(Update, false)), Insert)));
        assert_eq!(
            collapse(Some(&op(Update, false)), Update).ok(),
            Some(Collapse::Bump)
        );
        assert_eq!(
            collapse(Some(&op(Update, true)), Delete).ok(),
            Some(Collapse::MoveToEnd(Delete))
        );
        for new in [Insert, Update, Delete] {
            assert!(is_conflict(collapse(Some(&op(Delete, false)), new)));
        }
    }
}
