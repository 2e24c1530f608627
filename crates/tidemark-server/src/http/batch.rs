//! `POST /$batch`: an ordered list of writes applied as their single requests would be, one
//! result per operation at the operation's index (see [`tidemark_protocol::batch`]).
//!
//! Every operation is validated with the same code as its single route (a bad one gets its own
//! 400/404 result and the others go on), then all valid ones go to the store in one call, which
//! may apply them in one transaction. Errors of the batch itself (unreadable body, too many
//! operations, body limit) are answered before anything is applied.

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;
use tidemark_protocol::batch::{BatchOperation, BatchOperationKind, BatchRequest};

use super::caller::Caller;
use super::request::{body_bytes, check_id, item_properties, parse_operation_tag};
use super::tables::{delete_write, insert_write, success_status, update_write};
use super::{AppState, Shared};
use crate::error::{ApiError, json_response};
use crate::store::{Item, StoreWrite, TableStore, WriteOutcome, serialize_wire_option};

/// The body of the answer, as [`tidemark_protocol::batch::BatchResponse`] reads it.
#[derive(Serialize)]
struct WireResponse {
    results: Vec<WireResult>,
}

/// One result as sent: the JSON shape of [`tidemark_protocol::batch::BatchResult`], but holding
/// the [`Item`] itself, written in its wire form, so no JSON value is built per operation.
#[derive(Debug, Clone, Serialize)]
struct WireResult {
    status: u16,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_wire_option"
    )]
    item: Option<Item>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip_serializing_if = "is_false")]
    replayed: bool,
}

fn is_false(value: &bool) -> bool {
    !value
}

/// Bytes to reserve per result: a status, a small item and little else.
const BYTES_PER_RESULT: usize = 320;

/// A failed operation as a batch result: what its single request would have answered.
fn error_result(error: ApiError) -> WireResult {
    let (status, item, error) = error.into_batch_parts();
    WireResult {
        status,
        item: item.map(|item| *item),
        error: Some(error),
        replayed: false,
    }
}

/// `POST /$batch`: applies the operations in order and answers one result per operation.
pub async fn batch<S: TableStore>(
    State(state): Shared<S>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let bytes = body_bytes(body)?;
    let request: BatchRequest = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::BadRequest(format!(
            "the body is not a batch request (line {}, column {}): {e}",
            e.line(),
            e.column()
        ))
    })?;
    let max = state.config.max_batch_operations;
    let count = request.operations.len();
    if count > max {
        return Err(ApiError::BadRequest(format!(
            "the batch has {count} operations; the most one batch may carry is {max}"
        )));
    }
    let mut results: Vec<Option<WireResult>> = vec![None; count];
    // The index and success status of every valid operation, in the order given to the store.
    let mut positions: Vec<(usize, StatusCode)> = Vec::with_capacity(count);
    let mut writes = Vec::with_capacity(count);
    for (index, operation) in request.operations.into_iter().enumerate() {
        match operation_write(&state, operation) {
            Ok(write) => {
                positions.push((index, success_status(&write.change)));
                writes.push(write);
            }
            Err(error) => results[index] = Some(error_result(error)),
        }
    }
    let outcomes = if writes.is_empty() {
        Vec::new()
    } else {
        state.store.apply_batch(caller.owner(), writes).await?
    };
    let attempted = outcomes.len();
    for (&(index, status), outcome) in positions.iter().zip(outcomes) {
        results[index] = Some(match outcome {
            Ok(outcome) => success_result(status, outcome),
            Err(error) => error_result(ApiError::from(error)),
        });
    }
    // When the store stopped early, the first write it did not attempt ends the answer: no
    // result for it or anything after it (even operations refused before the store was asked).
    let end = positions.get(attempted).map_or(count, |&(index, _)| index);
    if end < count {
        log::warn!("batch answered {end} of {count} results: the store stopped early");
    }
    let results: Vec<WireResult> = results.into_iter().take(end).flatten().collect();
    let capacity = results
        .len()
        .saturating_mul(BYTES_PER_RESULT)
        .saturating_add(64);
    Ok(json_response(
        StatusCode::OK,
        &WireResponse { results },
        capacity,
    ))
}

/// Validates one operation exactly as its single request would be and builds its write.
fn operation_write<S>(
    state: &AppState<S>,
    operation: BatchOperation,
) -> Result<StoreWrite, ApiError> {
    let BatchOperation {
        kind,
        table,
        id,
        item,
        version,
        operation,
    } = operation;
    let table = state.table(&table)?.to_owned();
    let tag = operation
        .as_deref()
        .map(|text| parse_operation_tag(text, "operation"))
        .transpose()?;
    // `*` means "any version", as in If-Match.
    let expected = version.filter(|v| v != "*");
    let name = match kind {
        BatchOperationKind::Insert => "an insert",
        BatchOperationKind::Update => "an update",
        BatchOperationKind::Delete => "a delete",
    };
    let required_id = |id: Option<String>| {
        let id = id.ok_or_else(|| ApiError::BadRequest(format!("{name} needs the item's id")))?;
        check_id(&id)?;
        Ok::<_, ApiError>(id)
    };
    let limits = state.item_limits();
    let required_item = |item: Option<serde_json::Map<String, serde_json::Value>>| {
        let item = item.ok_or_else(|| ApiError::BadRequest(format!("{name} needs the item")))?;
        limits.check(&item)?;
        item_properties(item)
    };
    match kind {
        BatchOperationKind::Insert => insert_write(table, required_item(item)?, id, tag),
        BatchOperationKind::Update => {
            let id = required_id(id)?;
            update_write(table, id, required_item(item)?, expected, tag, limits)
        }
        BatchOperationKind::Delete => {
            if item.is_some() {
                return Err(ApiError::BadRequest("a delete carries no item".into()));
            }
            Ok(delete_write(table, required_id(id)?, expected, tag))
        }
    }
}

/// A successful write as a batch result: the single request's status and item.
fn success_result(status: StatusCode, outcome: WriteOutcome) -> WireResult {
    if outcome.replayed {
        log::debug!("replayed the recorded outcome for item {}", outcome.item.id);
    }
    WireResult {
        status: status.as_u16(),
        item: Some(outcome.item),
        error: None,
        replayed: outcome.replayed,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use tidemark_protocol::batch::{BatchResponse, BatchResult};

    use super::*;

    fn item() -> Item {
        Item {
            id: "a".into(),
            created_at_us: 1_714_557_600_000_001,
            updated_at_us: 1_714_557_600_000_002,
            version: "v1".into(),
            deleted: false,
            properties: json!({"text": "milk", "id": "spoof"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        }
    }

    /// The wire results must read back as the protocol's own types, field for field.
    #[test]
    fn wire_results_read_as_the_protocol_response() {
        let wire = WireResponse {
            results: vec![
                success_result(
                    StatusCode::CREATED,
                    WriteOutcome {
                        item: item(),
                        replayed: true,
                    },
                ),
                error_result(ApiError::BadRequest("bad".into())),
                error_result(ApiError::PreconditionFailed(Box::new(item()))),
                error_result(ApiError::Internal("boom".into())),
            ],
        };
        let expected = BatchResponse {
            results: vec![
                BatchResult {
                    status: 201,
                    item: Some(item().to_json()),
                    error: None,
                    replayed: true,
                },
                ApiError::BadRequest("bad".into()).into_batch_result(),
                ApiError::PreconditionFailed(Box::new(item())).into_batch_result(),
                ApiError::Internal("boom".into()).into_batch_result(),
            ],
        };
        let text = serde_json::to_string(&wire).expect("serialises");
        let read: BatchResponse = serde_json::from_str(&text).expect("a batch response");
        assert_eq!(read, expected);
        let as_value: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(serde_json::to_value(&expected).ok(), Some(as_value));
    }
}
