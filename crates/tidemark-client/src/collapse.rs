//! The operation queue's collapse table (`spec/sync.md`): what happens when an item that
//! already has a queued operation is written again. The SQL lives in `store::ops`; this file
//! decides.

use crate::error::ClientError;
use crate::queue::{Operation, OperationKind};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::item::Item;
    use crate::queue::OperationState;
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
