//! The table routes: query, lookup, insert, update, delete and undelete. Each validates its
//! input completely before it asks the store anything, so a bad request writes nothing.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};
use tidemark_protocol::ErrorBody;
use tidemark_protocol::headers::OperationTag;
use tidemark_protocol::odata::params::TOP;
use tidemark_protocol::odata::{CountedPage, TableQuery};

use super::Shared;
use super::caller::Caller;
use super::request::{
    ItemLimits, body_bytes, check_id, expected_version, item_body, next_page_link, operation_tag,
    take_body_id,
};
use crate::error::{ApiError, item_response, json_response};
use crate::store::{
    Change, Item, ItemQuery, NewItem, StoreWrite, TableStore, WireItems, WriteOutcome,
};

/// Route parameters of `/tables/{table}/{id}`.
type ItemPath = Result<Path<(String, String)>, PathRejection>;
/// Route parameter of `/tables/{table}`.
type TablePath = Result<Path<String>, PathRejection>;

fn path_params<T>(path: Result<Path<T>, PathRejection>) -> Result<T, ApiError> {
    path.map(|Path(p)| p)
        .map_err(|e| ApiError::BadRequest(format!("bad path: {}", e.body_text())))
}

/// What every write to one item names: its table, its id, the `If-Match` version and the
/// idempotency tag, all validated before the store is asked anything.
struct ItemWrite {
    table: String,
    id: String,
    expected: Option<String>,
    tag: Option<OperationTag>,
}

fn item_write<S: TableStore>(
    state: &super::AppState<S>,
    path: ItemPath,
    headers: &HeaderMap,
) -> Result<ItemWrite, ApiError> {
    let (table, id) = path_params(path)?;
    let table = state.table(&table)?.to_owned();
    check_id(&id)?;
    Ok(ItemWrite {
        table,
        id,
        expected: expected_version(headers)?,
        tag: operation_tag(headers)?,
    })
}

fn parse_query(uri: &Uri) -> Result<TableQuery, ApiError> {
    TableQuery::from_query_string(uri.query().unwrap_or(""))
        .map_err(|e| ApiError::BadRequest(e.to_string()))
}

/// `GET /tables/{table}`: one page of items, with `Link` to the next when `$top` was absent and
/// more rows match, or when the page was cut short by the byte budget.
pub async fn query<S: TableStore>(
    State(state): Shared<S>,
    caller: Caller,
    path: TablePath,
    uri: Uri,
) -> Result<Response, ApiError> {
    let table = state.table(&path_params(path)?)?.to_owned();
    let query = parse_query(&uri)?;
    let config = &state.config;
    if let Some(top) = query.top
        && top > config.max_top
    {
        return Err(ApiError::BadRequest(format!(
            "{TOP}={top} is larger than the maximum of {}",
            config.max_top
        )));
    }
    let Some(_permit) = state.query_permit().await else {
        return Ok(busy_response(config.max_concurrent_queries));
    };
    let skip = query.skip.unwrap_or(0);
    let limit = query.top.unwrap_or(config.default_page_size);
    let page = state
        .store
        .query(
            caller.owner(),
            &table,
            &ItemQuery {
                filter: query.filter.clone(),
                orderby: query.orderby.clone(),
                skip,
                limit,
                include_deleted: query.include_deleted,
                count_total: query.inline_count,
                max_bytes: Some(config.max_page_bytes),
            },
        )
        .await?;
    let next_page = next_page_query(&query, page.more, page.items.len() as u64, limit);
    let mut response = if query.select.is_empty() {
        page_response(&page.items, page.total)
    } else {
        let items: Vec<Value> = page
            .items
            .iter()
            .map(|item| select(item.to_json(), &query.select))
            .collect();
        match page.total {
            Some(count) => Json(CountedPage {
                results: items,
                count,
            })
            .into_response(),
            None => Json(items).into_response(),
        }
    };
    if let Some(next) = next_page {
        let link = next_page_link(state.public_base.as_deref(), &uri, &next);
        if let Ok(link) = HeaderValue::from_str(&link) {
            response.headers_mut().insert(header::LINK, link);
        }
    }
    Ok(response)
}

/// The query of the page after one of `sent` rows, when there is one to announce.
///
/// Without `$top` we page for the client: whenever more rows match, the next page starts after
/// the rows sent. With `$top` the client asked for an exact amount and pages itself, so there
/// is a next page only when the byte budget cut this one short; it asks for the rest of the
/// `$top` rows, from just after the rows sent.
fn next_page_query(query: &TableQuery, more: bool, sent: u64, limit: u64) -> Option<TableQuery> {
    if !more {
        return None;
    }
    let mut next = query.next_page(sent);
    match query.top {
        None => Some(next),
        Some(_) if sent < limit => {
            next.top = Some(limit - sent);
            Some(next)
        }
        Some(_) => None,
    }
}

/// How long a busy server tells a client to wait before it asks again, in seconds.
const BUSY_RETRY_AFTER_SECONDS: u32 = 1;

/// 503 with `Retry-After` when every query slot is taken: the client retries shortly instead of
/// queueing more work on a server that is already at its limit.
pub(super) fn busy_response(slots: usize) -> Response {
    let mut response = (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(ErrorBody::new(format!(
            "the server is answering its maximum of {slots} queries at once; retry in \
             {BUSY_RETRY_AFTER_SECONDS} s"
        ))),
    )
        .into_response();
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(BUSY_RETRY_AFTER_SECONDS),
    );
    response
}

/// `GET /tables/{table}/{id}`: one item with its `ETag`.
pub async fn lookup<S: TableStore>(
    State(state): Shared<S>,
    caller: Caller,
    path: ItemPath,
    uri: Uri,
) -> Result<Response, ApiError> {
    let (table, id) = path_params(path)?;
    let table = state.table(&table)?;
    check_id(&id)?;
    let query = parse_query(&uri)?;
    let item = state
        .store
        .lookup(caller.owner(), table, &id, query.include_deleted)
        .await?;
    let mut response = item_response(StatusCode::OK, &item);
    if !query.select.is_empty() {
        let etag = response.headers().get(header::ETAG).cloned();
        response = Json(select(item.to_json(), &query.select)).into_response();
        if let Some(etag) = etag {
            response.headers_mut().insert(header::ETAG, etag);
        }
    }
    Ok(response)
}

/// `POST /tables/{table}`: stores a new item (201), or 409 with the existing one.
pub async fn insert<S: TableStore>(
    State(state): Shared<S>,
    caller: Caller,
    path: TablePath,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let table = state.table(&path_params(path)?)?.to_owned();
    let properties = item_body(&body_bytes(body)?)?;
    state.item_limits().check(&properties)?;
    let write = insert_write(table, properties, None, operation_tag(&headers)?)?;
    apply(&state, &caller, write).await
}

/// `PATCH /tables/{table}/{id}`: merges the body into the item.
pub async fn update<S: TableStore>(
    State(state): Shared<S>,
    caller: Caller,
    path: ItemPath,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let w = item_write(&state, path, &headers)?;
    let patch = item_body(&body_bytes(body)?)?;
    let limits = state.item_limits();
    limits.check(&patch)?;
    let write = update_write(w.table, w.id, patch, w.expected, w.tag, limits)?;
    apply(&state, &caller, write).await
}

/// `DELETE /tables/{table}/{id}`: soft-deletes the item.
pub async fn delete<S: TableStore>(
    State(state): Shared<S>,
    caller: Caller,
    path: ItemPath,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let w = item_write(&state, path, &headers)?;
    apply(
        &state,
        &caller,
        delete_write(w.table, w.id, w.expected, w.tag),
    )
    .await
}

/// `POST /tables/{table}/{id}` with no body: undeletes the item.
pub async fn undelete<S: TableStore>(
    State(state): Shared<S>,
    caller: Caller,
    path: ItemPath,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let w = item_write(&state, path, &headers)?;
    if !body_bytes(body)?.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::BadRequest(
            "undelete (POST /tables/{table}/{id}) takes no body".into(),
        ));
    }
    let change = Change::Undelete {
        id: w.id,
        expected_version: w.expected,
    };
    let write = StoreWrite {
        table: w.table,
        change,
        tag: w.tag,
    };
    apply(&state, &caller, write).await
}

/// An insert of checked `properties` into the declared `table`. The id comes from the body, or
/// from `id` (a batch operation's own field), which must then agree with the body's.
pub(super) fn insert_write(
    table: String,
    mut properties: Map<String, Value>,
    id: Option<String>,
    tag: Option<OperationTag>,
) -> Result<StoreWrite, ApiError> {
    let body_id = take_body_id(&mut properties)?;
    let id = match (body_id, id) {
        (Some(body_id), Some(id)) if body_id != id => {
            return Err(ApiError::BadRequest(format!(
                "the item's id '{body_id}' differs from the operation's id '{id}'"
            )));
        }
        (body_id, id) => {
            let id = body_id.or(id);
            if let Some(id) = &id {
                check_id(id)?;
            }
            id
        }
    };
    Ok(StoreWrite {
        table,
        change: Change::Insert(NewItem { id, properties }),
        tag,
    })
}

/// A merge of checked `patch` properties into item `id` of the declared `table`; an id in the
/// patch must be the item's, and the merged item must stay within `limits`' size.
pub(super) fn update_write(
    table: String,
    id: String,
    mut patch: Map<String, Value>,
    expected_version: Option<String>,
    tag: Option<OperationTag>,
    limits: ItemLimits,
) -> Result<StoreWrite, ApiError> {
    check_id(&id)?;
    if let Some(body_id) = take_body_id(&mut patch)?
        && body_id != id
    {
        return Err(ApiError::BadRequest(format!(
            "the body's id '{body_id}' differs from the id '{id}' in the URL"
        )));
    }
    let change = Change::Update {
        id,
        patch,
        expected_version,
        max_bytes: Some(limits.max_bytes),
    };
    Ok(StoreWrite { table, change, tag })
}

/// A soft delete of item `id` (already checked) of the declared `table`.
pub(super) fn delete_write(
    table: String,
    id: String,
    expected_version: Option<String>,
    tag: Option<OperationTag>,
) -> StoreWrite {
    let change = Change::Delete {
        id,
        expected_version,
    };
    StoreWrite { table, change, tag }
}

/// The status a successful write answers: 201 for an insert, 200 otherwise.
pub(super) fn success_status(change: &Change) -> StatusCode {
    match change {
        Change::Insert(_) => StatusCode::CREATED,
        _ => StatusCode::OK,
    }
}

/// Applies one write as the caller's and answers like its single request.
async fn apply<S: TableStore>(
    state: &super::AppState<S>,
    caller: &Caller,
    write: StoreWrite,
) -> Result<Response, ApiError> {
    let status = success_status(&write.change);
    let outcome = state.store.apply(caller.owner(), write).await?;
    Ok(written(status, &outcome))
}

fn written(status: StatusCode, outcome: &WriteOutcome) -> Response {
    if outcome.replayed {
        log::debug!("replayed the recorded outcome for item {}", outcome.item.id);
    }
    item_response(status, &outcome.item)
}

/// Bytes to reserve per item of a page: a small todo item is about 200 bytes of JSON, so most
/// pages are written without regrowing the buffer.
const BYTES_PER_ITEM: usize = 256;

/// A page without `$select`: the items in their wire form, written straight into the body
/// (no JSON value per item), as an array or, when counted, as `{"results": …, "count": n}`.
fn page_response(items: &[Item], total: Option<u64>) -> Response {
    let capacity = items
        .len()
        .saturating_mul(BYTES_PER_ITEM)
        .saturating_add(64);
    let items = WireItems(items);
    match total {
        Some(count) => json_response(
            StatusCode::OK,
            &CountedPage {
                results: items,
                count,
            },
            capacity,
        ),
        None => json_response(StatusCode::OK, &items, capacity),
    }
}

/// Keeps only the `$select`ed properties (all of them when the list is empty).
fn select(item: Value, names: &[String]) -> Value {
    match item {
        Value::Object(mut obj) if !names.is_empty() => {
            obj.retain(|key, _| names.iter().any(|n| n == key));
            Value::Object(obj)
        }
        other => other,
    }
}
