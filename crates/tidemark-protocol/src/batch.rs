//! `POST /$batch`, our server's extension for pushing a queue in a few requests.
//!
//! A batch is an ordered list of writes. The server applies them one after another, exactly as
//! it would apply the same single requests in that order (same validation, same statuses, same
//! idempotency through each operation's tag), and answers one [`BatchResult`] per operation, at
//! the same index. Each operation is atomic on its own; the batch as a whole is not a
//! transaction, because a push must be able to land its first 499 operations when the 500th
//! conflicts.
//!
//! Errors of the batch itself (a body that is not a [`BatchRequest`], more operations than the
//! server's [`crate::headers::Capabilities::max_batch_operations`], a body over the size limit,
//! a missing application key) are answered with the usual status and error body, and then no
//! operation was applied.
//!
//! When the server cannot go on (its database became unavailable), it stops and answers the
//! results it has: `results` is then shorter than `operations`, and every operation without a
//! result was not attempted. A client keeps those queued, as after a network failure.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The path of the batch endpoint (stock servers answer 404 there).
pub const BATCH_PATH: &str = "/$batch";

/// The body of `POST /$batch`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// The writes, applied in this order.
    pub operations: Vec<BatchOperation>,
}

/// Which write a [`BatchOperation`] is; the same three a sync queue holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BatchOperationKind {
    /// `POST /tables/{table}` with `item` as the body.
    Insert,
    /// `PATCH /tables/{table}/{id}` with `item` as the body.
    Update,
    /// `DELETE /tables/{table}/{id}`.
    Delete,
}

/// One write of a batch: what the equivalent single request would carry in its URL, headers and
/// body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BatchOperation {
    /// Insert, update or delete.
    #[serde(rename = "op")]
    pub kind: BatchOperationKind,
    /// The table's name, as in `/tables/{table}`.
    pub table: String,
    /// The item's id: required for update and delete; for an insert it may be given here or in
    /// `item` (and must then agree), or left out for a server-made id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The body of an insert or update (user properties; system properties are ignored as in
    /// single requests). Must be absent for a delete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<Map<String, Value>>,
    /// The version the client last saw, unquoted: the single request's `If-Match`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The idempotency tag, in the wire form of `X-Tidemark-Operation`
    /// (`<operation id>:<op version>`, see [`crate::headers::OperationTag`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
}

/// The body of a `200 OK` answer to `POST /$batch`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchResponse {
    /// One result per attempted operation, at the operation's index (see the module docs for
    /// why it may be shorter than the request).
    pub results: Vec<BatchResult>,
}

/// What one operation of a batch came to: the status and body its single request would have had.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchResult {
    /// The HTTP status of the equivalent single request (201, 200, 400, 404, 409, 412, …).
    pub status: u16,
    /// The item as stored on success, or the server's current item with 409 and 412.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<Value>,
    /// The error message (as in an error body) when the operation failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// True when the operation's tag had been applied before: this is the recorded outcome and
    /// nothing was written this time (single requests get the same answer without saying so).
    #[serde(default, skip_serializing_if = "is_false")]
    pub replayed: bool,
}

fn is_false(value: &bool) -> bool {
    !value
}

impl BatchResult {
    /// Whether the operation was applied (or replayed) successfully.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn request_uses_the_documented_wire_names() {
        let request = BatchRequest {
            operations: vec![
                BatchOperation {
                    kind: BatchOperationKind::Insert,
                    table: "todoitem".into(),
                    id: Some("a".into()),
                    item: json!({"text": "milk"}).as_object().cloned(),
                    version: None,
                    operation: Some("op1:1".into()),
                },
                BatchOperation {
                    kind: BatchOperationKind::Delete,
                    table: "todoitem".into(),
                    id: Some("b".into()),
                    item: None,
                    version: Some("AAAAAAAAB9E=".into()),
                    operation: None,
                },
            ],
        };
        assert_eq!(
            serde_json::to_value(&request).ok(),
            Some(json!({"operations": [
                {"op": "insert", "table": "todoitem", "id": "a", "item": {"text": "milk"},
                 "operation": "op1:1"},
                {"op": "delete", "table": "todoitem", "id": "b", "version": "AAAAAAAAB9E="}
            ]}))
        );
    }

    #[test]
    fn unknown_kinds_and_fields_are_refused() {
        let bad_kind = r#"{"operations":[{"op":"upsert","table":"t"}]}"#;
        assert!(serde_json::from_str::<BatchRequest>(bad_kind).is_err());
        let bad_field = r#"{"operations":[{"op":"delete","table":"t","id":"a","etag":"x"}]}"#;
        assert!(serde_json::from_str::<BatchRequest>(bad_field).is_err());
    }

    #[test]
    fn results_round_trip_and_tell_success() {
        let body = r#"{"results":[{"status":201,"item":{"id":"a"}},{"status":412,"item":{"id":"b"},"error":"changed"}]}"#;
        let response: Option<BatchResponse> = serde_json::from_str(body).ok();
        let results = response.map(|r| r.results).unwrap_or_default();
        assert_eq!(results.len(), 2);
        assert!(results[0].is_success());
        assert!(!results[1].is_success());
        assert_eq!(results[1].error.as_deref(), Some("changed"));
        assert!(!results[0].replayed);
        let replayed = BatchResult {
            status: 200,
            item: None,
            error: None,
            replayed: true,
        };
        assert_eq!(
            serde_json::to_value(&replayed).ok(),
            Some(json!({"status": 200, "replayed": true}))
        );
    }
}
