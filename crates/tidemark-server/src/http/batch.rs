//! `POST /$batch`: an ordered list of writes applied as their single requests would be, one
//! result per operation at the operation's index (see [`tidemark_protocol::batch`]).
//!
//! Every operation is validated with the same code as its single route (a bad one gets its own
//! 400/404 result and the others go on), then all valid ones go to the store in one call, which
//! may apply them in one transaction. Errors of the batch itself (unreadable body, too many
//! operations, body limit) are answered before anything is applied.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use tidemark_protocol::batch::{
    BatchOperation, BatchOperationKind, BatchRequest, BatchResponse, BatchResult,
};

use super::request::{body_bytes, check_id, item_properties, parse_operation_tag};
use super::tables::{delete_write, insert_write, success_status, update_write};
use super::{AppState, Shared};
use crate::error::ApiError;
use crate::store::{StoreWrite, TableStore, WriteOutcome};

/// `POST /$batch`: applies the operations in order and answers one result per operation.
pub async fn batch<S: TableStore>(
    State(state): Shared<S>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<BatchResponse>, ApiError> {
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
    let mut results: Vec<Option<BatchResult>> = vec![None; count];
    // The index and success status of every valid operation, in the order given to the store.
    let mut positions: Vec<(usize, StatusCode)> = Vec::with_capacity(count);
    let mut writes = Vec::with_capacity(count);
    for (index, operation) in request.operations.into_iter().enumerate() {
        match operation_write(&state, operation) {
            Ok(write) => {
                positions.push((index, success_status(&write.change)));
                writes.push(write);
            }
            Err(error) => results[index] = Some(error.into_batch_result()),
        }
    }
    let outcomes = if writes.is_empty() {
        Vec::new()
    } else {
        state.store.apply_batch(writes).await?
    };
    let attempted = outcomes.len();
    for (&(index, status), outcome) in positions.iter().zip(outcomes) {
        results[index] = Some(match outcome {
            Ok(outcome) => success_result(status, outcome),
            Err(error) => ApiError::from(error).into_batch_result(),
        });
    }
    // When the store stopped early, the first write it did not attempt ends the answer: no
    // result for it or anything after it (even operations refused before the store was asked).
    let end = positions.get(attempted).map_or(count, |&(index, _)| index);
    if end < count {
        log::warn!("batch answered {end} of {count} results: the store stopped early");
    }
    let results: Vec<BatchResult> = results.into_iter().take(end).flatten().collect();
    Ok(Json(BatchResponse { results }))
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
    let required_item = |item: Option<serde_json::Map<String, serde_json::Value>>| {
        item.ok_or_else(|| ApiError::BadRequest(format!("{name} needs the item")))
            .and_then(item_properties)
    };
    match kind {
        BatchOperationKind::Insert => insert_write(table, required_item(item)?, id, tag),
        BatchOperationKind::Update => {
            let id = required_id(id)?;
            update_write(table, id, required_item(item)?, expected, tag)
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
fn success_result(status: StatusCode, outcome: WriteOutcome) -> BatchResult {
    if outcome.replayed {
        log::debug!("replayed the recorded outcome for item {}", outcome.item.id);
    }
    BatchResult {
        status: status.as_u16(),
        item: Some(outcome.item.to_json()),
        error: None,
        replayed: outcome.replayed,
    }
}
