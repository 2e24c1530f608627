//! `GET /$checksum/{table}?until=<updatedAt>`: the checksum of the caller's live rows of a
//! table up to a position of the change clock (see [`tidemark_protocol::checksum`]), so that
//! a client can tell whether its copy still matches without downloading it.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use tidemark_protocol::checksum::UNTIL_PARAM;
use tidemark_protocol::date;

use super::Shared;
use super::caller::Caller;
use super::tables::busy_response;
use crate::error::ApiError;
use crate::store::TableStore;

/// `GET /$checksum/{table}`: `{"count": N, "digest": "<16 hex digits>"}` over the caller's own
/// rows only, like every table read.
pub async fn checksum<S: TableStore>(
    State(state): Shared<S>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let Path(table) =
        path.map_err(|e| ApiError::BadRequest(format!("bad path: {}", e.body_text())))?;
    let table = state.table(&table)?.to_owned();
    let until = until_micros(uri.query().unwrap_or(""))?;
    // It reads as many rows as a query of the whole table: it takes a query slot.
    let Some(_permit) = state.query_permit().await else {
        return Ok(busy_response(state.config.max_concurrent_queries));
    };
    let sum = state.store.checksum(caller.owner(), &table, until).await?;
    Ok(Json(sum).into_response())
}

/// The `until` parameter in microseconds; no other parameter is accepted, so a misspelt one
/// is an error rather than a checksum of every row.
fn until_micros(query: &str) -> Result<Option<i64>, ApiError> {
    let mut until = None;
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        if name != UNTIL_PARAM {
            return Err(ApiError::BadRequest(format!(
                "unknown parameter '{name}': the checksum takes only '{UNTIL_PARAM}'"
            )));
        }
        if until.is_some() {
            return Err(ApiError::BadRequest(format!(
                "'{UNTIL_PARAM}' is given more than once"
            )));
        }
        let stamp = date::parse_date(&value)
            .map_err(|e| ApiError::BadRequest(format!("'{UNTIL_PARAM}' is not a date: {e}")))?;
        until = Some(date::to_micros(&stamp));
    }
    Ok(until)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn until_is_read_in_microseconds_and_anything_else_is_refused() {
        assert_eq!(until_micros("").ok(), Some(None));
        assert_eq!(
            until_micros("until=1970-01-01T00:00:01.000002Z").ok(),
            Some(Some(1_000_002))
        );
        assert!(until_micros("until=yesterday").is_err());
        assert!(until_micros("untill=1970-01-01T00:00:01Z").is_err());
        assert!(until_micros("until=1970-01-01T00:00:01Z&until=1970-01-01T00:00:02Z").is_err());
    }
}
