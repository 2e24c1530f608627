//! The operation queue's model: queued operations, their kinds and states, and the errors
//! recorded for refused ones. A leaf: the SQL lives in `store::ops`, the collapse rules in
//! `collapse`, and what a recorded HTTP status means in `remote::status`.

use std::fmt;

use crate::item::Item;
use crate::remote::status::{self, Meaning};

/// What a queued operation does on the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OperationKind {
    /// Creates the item on the server.
    Insert,
    /// Changes the item's fields on the server (merge semantics).
    Update,
    /// Deletes the item on the server (a soft delete there).
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

/// How many unanswered attempts of one operation are remembered (each a body that may have
/// landed); past this the oldest is forgotten.
pub(crate) const MAX_REMEMBERED_ATTEMPTS: usize = 8;

/// What kind of decision a recorded error asks of the user, told by what the server answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Problem {
    /// Another device changed the item first (the id is taken, or the version sent is not the
    /// server's): keep mine (resend over the server's version), keep theirs, or merge.
    Conflict,
    /// The item was deleted on another device while this one edited it: keep mine brings it
    /// back with the edit ([`crate::SyncContext::restore_and_keep_local`]), keep theirs lets
    /// it go.
    DeletedElsewhere,
    /// The server refused the change itself (400, 413, 500...): edit it, or discard it. The
    /// server's words are in [`OperationError::reason`].
    Refused,
}

impl Problem {
    /// The name the app and the CLI show and send (`conflict`, `deletedElsewhere`, `refused`).
    pub fn as_str(self) -> &'static str {
        match self {
            Problem::Conflict => "conflict",
            Problem::DeletedElsewhere => "deletedElsewhere",
            Problem::Refused => "refused",
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

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
    /// The HTTP status, when the server answered (kept as said; [`OperationError::is_conflict`]
    /// and its siblings tell what it means).
    pub status: Option<u16>,
    /// The raw response body.
    pub raw_body: Option<String>,
    /// The server's current item, when known (sent with the refusal, or fetched after it).
    pub server_item: Option<Item>,
    /// The item the operation sent (for deletes, the deleted item).
    pub item: Option<Item>,
}

impl OperationError {
    /// True when the server holds a different version of the item (the id is taken, or the
    /// version sent is not the server's).
    pub fn is_conflict(&self) -> bool {
        matches!(
            self.meaning(),
            Some(Meaning::AlreadyExists | Meaning::VersionMismatch)
        )
    }

    /// True when the server said it does not have the item.
    pub fn is_gone(&self) -> bool {
        self.meaning() == Some(Meaning::NotFound)
    }

    /// True when the server said the id is taken: it has an item with it.
    pub fn server_has_item(&self) -> bool {
        self.meaning() == Some(Meaning::AlreadyExists)
    }

    /// What kind of decision this error asks for. An edit answered "not found", or a conflict
    /// whose server copy is deleted, is an edit of an item deleted elsewhere; a 409/412 is a
    /// conflict; every other answer (or none) is a refusal of the change itself.
    pub fn problem(&self) -> Problem {
        let server_deleted = self
            .server_item
            .as_ref()
            .is_some_and(crate::resolve::is_deleted);
        match self.kind {
            OperationKind::Update if self.is_gone() || server_deleted => Problem::DeletedElsewhere,
            _ if self.is_conflict() => Problem::Conflict,
            _ => Problem::Refused,
        }
    }

    /// The server's reason in its own words (the `error` of its JSON answer, or the answer's
    /// text), shortened for people; `None` when the server said nothing.
    pub fn reason(&self) -> Option<String> {
        let said = crate::remote::error_text(self.raw_body.as_deref()?);
        (!said.is_empty()).then_some(said)
    }

    /// The fields of the change that the server's reason names (quoted, as servers name
    /// properties: `'text'`, `"text"` or `` `text` ``), for an edit of a refused change to
    /// offer; empty when it names none.
    pub fn named_fields(&self) -> Vec<String> {
        let (Some(reason), Some(item)) = (self.reason(), self.item.as_ref()) else {
            return Vec::new();
        };
        item.keys()
            .filter(|k| {
                ['\'', '"', '`']
                    .iter()
                    .any(|q| reason.contains(&format!("{q}{k}{q}")))
            })
            .cloned()
            .collect()
    }

    fn meaning(&self) -> Option<Meaning> {
        self.status.map(status::meaning)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(status: Option<u16>) -> OperationError {
        OperationError {
            operation_id: "op".into(),
            operation_version: 1,
            kind: OperationKind::Update,
            table: "t".into(),
            item_id: "a".into(),
            status,
            raw_body: None,
            server_item: None,
            item: None,
        }
    }

    #[test]
    fn the_problem_says_which_decision_is_asked() {
        let mut gone = error(Some(404));
        assert_eq!(gone.problem(), Problem::DeletedElsewhere);
        gone.kind = OperationKind::Insert;
        assert_eq!(gone.problem(), Problem::Refused);
        assert_eq!(error(Some(412)).problem(), Problem::Conflict);
        let mut deleted = error(Some(412));
        deleted.server_item = serde_json::json!({"id": "a", "deleted": true})
            .as_object()
            .cloned();
        assert_eq!(deleted.problem(), Problem::DeletedElsewhere);
        for other in [Some(400), Some(413), Some(500), None] {
            assert_eq!(error(other).problem(), Problem::Refused, "{other:?}");
        }
    }

    #[test]
    fn a_refusal_gives_the_servers_words_and_the_fields_it_names() {
        let mut e = error(Some(400));
        e.raw_body = Some(r#"{"error":"property 'text' is too long"}"#.into());
        e.item = serde_json::json!({"text": "x", "complete": true})
            .as_object()
            .cloned();
        assert_eq!(e.reason().as_deref(), Some("property 'text' is too long"));
        assert_eq!(e.named_fields(), vec!["text".to_string()]);
        e.raw_body = Some("   ".into());
        assert_eq!(e.reason(), None);
        assert!(e.named_fields().is_empty());
    }

    #[test]
    fn a_recorded_status_says_what_kind_of_refusal_it_was() {
        let taken = error(Some(409));
        assert!(taken.is_conflict() && taken.server_has_item() && !taken.is_gone());
        let stale = error(Some(412));
        assert!(stale.is_conflict() && !stale.server_has_item() && !stale.is_gone());
        let gone = error(Some(404));
        assert!(gone.is_gone() && !gone.is_conflict() && !gone.server_has_item());
        for other in [Some(400), Some(500), None] {
            let e = error(other);
            assert!(
                !e.is_conflict() && !e.is_gone() && !e.server_has_item(),
                "{other:?}"
            );
        }
    }
}
