//! Pull: page server rows into a local table. With a query id the pull is incremental: it asks
//! for rows changed since the saved delta token, ordered by `updatedAt, id`, and saves the new
//! token in the same transaction as each page's rows, so a crash mid-pull resumes where the
//! last committed page ended and never skips a row.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tidemark_protocol::date;
use tidemark_protocol::odata::builder::prop;
use tidemark_protocol::odata::{Direction, Expr, OrderBy, TableQuery};
use tidemark_protocol::system;

use crate::account;
use crate::context::SyncContext;
use crate::error::{ClientError, Result};
use crate::query::Query;
use crate::queue::OperationState;
use crate::remote::QueryPage;
use crate::results::{PullResult, PushStatus};
use crate::schema::{Item, TableDefinition};
use crate::status::{CancelToken, Connectivity};
use crate::store::{ops, rows};

/// The `__config` key of a query id's delta token.
pub(crate) fn token_key(table: &str, query_id: &str) -> String {
    format!("deltaToken|{table}|{query_id}")
}

/// The prefix of every delta token of a table.
pub(crate) fn token_prefix(table: &str) -> String {
    format!("deltaToken|{table}|")
}

/// Query ids are 1–255 characters without `|` (the token key's separator).
pub(crate) fn validate_query_id(query_id: &str) -> Result<()> {
    let n = query_id.chars().count();
    if n == 0 || n > 255 || query_id.contains('|') {
        return Err(ClientError::invalid(format!(
            "query id '{query_id}' must be 1 to 255 characters without '|'"
        )));
    }
    Ok(())
}

pub(crate) async fn run(
    ctx: &SyncContext,
    def: &Arc<TableDefinition>,
    query_id: Option<&str>,
    query: &Query,
    cancel: &CancelToken,
) -> Result<PullResult> {
    if !query.select.is_empty() {
        return Err(ClientError::invalid(
            "a pull cannot use select: rows are kept whole",
        ));
    }
    if let Some(qid) = query_id {
        validate_query_id(qid)?;
        if !query.order_by.is_empty() || query.skip.is_some() || query.take.is_some() {
            return Err(ClientError::invalid(
                "an incremental pull (with a query id) orders and pages by itself: drop order_by, skip and take",
            ));
        }
    }
    let guard = ctx.sync_lock().await;
    let table = def.name.clone();
    // One trip to the store thread for both: a no-change pull is a millisecond, and each trip
    // is a noticeable part of it.
    let (pending, binding) = ctx
        .inner
        .store
        .call(move |c| Ok((ops::count_for_table(c, &table)?, account::read_binding(c)?)))
        .await?;
    let binding = if pending > 0 {
        let pushed = ctx.push_locked(&guard, cancel).await;
        // Changes refused by the server wait for a decision and do not hold the pull: their
        // rows are kept as they are (see `apply_page`). A push that could not complete does.
        if pushed.status != PushStatus::Complete {
            return Err(ClientError::PushFailed(Box::new(pushed)));
        }
        // The push may have bound the store: read the binding again.
        ctx.bound_account().await
    } else {
        Ok(binding)
    };
    ctx.set_syncing(true);
    let outcome = async {
        ctx.prepare_account_bound(binding?).await?;
        pull_pages(ctx, def, query_id, query, cancel).await
    }
    .await;
    match &outcome {
        Ok(r) => {
            log::info!(
                "pulled {} row(s) of '{}' in {} request(s)",
                r.received,
                def.name,
                r.requests
            );
            if !r.unreadable.is_empty() {
                log::warn!(
                    "{} row(s) of '{}' could not be read and were skipped",
                    r.unreadable.len(),
                    def.name
                );
            }
            ctx.finish_sync(Ok(())).await;
        }
        Err(e) => {
            if e.is_network() {
                ctx.set_connectivity(Connectivity::Offline);
            }
            ctx.finish_sync(Err(e.to_string())).await;
        }
    }
    outcome
}

async fn pull_pages(
    ctx: &SyncContext,
    def: &Arc<TableDefinition>,
    query_id: Option<&str>,
    query: &Query,
    cancel: &CancelToken,
) -> Result<PullResult> {
    let remote = ctx.remote();
    let caps = remote.capabilities().await?;
    ctx.set_connectivity(Connectivity::Online);
    let config = remote.config();
    // Our server (it answers /$capabilities) takes larger pages and has a strict change clock.
    let ours = caps.is_some();
    let page_size = match &caps {
        Some(c) if c.max_top > 0 => config.large_page_size.min(c.max_top),
        Some(_) => config.large_page_size,
        None => config.page_size,
    }
    .max(1);
    let table = remote.table(&def.name);
    let mut result = PullResult::default();
    match query_id {
        Some(qid) => {
            let key = token_key(&def.name, qid);
            let k = key.clone();
            let saved = ctx
                .inner
                .store
                .call(move |c| ops::config_get(c, &k))
                .await?;
            let mut token: Option<DateTime<Utc>> =
                saved.as_deref().and_then(|t| match date::parse_date(t) {
                    Ok(d) => Some(d),
                    Err(_) => {
                        log::warn!("delta token '{t}' of {key} is unreadable; pulling everything");
                        None
                    }
                });
            // Rows already received that share the token's updatedAt (stock servers' ties).
            let mut skip = 0u64;
            // The page received last, written while the next one is on its way: the next
            // request depends only on the rows received, not on their being stored, and each
            // page is still committed with its own token, in order.
            let mut unwritten: Option<(Vec<Item>, Option<String>)> = None;
            loop {
                check(cancel)?;
                let mut filter: Option<Expr> = query.filter.clone();
                if let Some(t) = token {
                    let since =
                        Expr::Literal(tidemark_protocol::Literal::DateTimeOffset(t.fixed_offset()));
                    // Our clock is strictly increasing per table, so `gt` never misses a row and
                    // does not send the last row again; stock servers need `ge` for their ties.
                    let cond = if ours {
                        prop(system::UPDATED_AT).gt(since)
                    } else {
                        prop(system::UPDATED_AT).ge(since)
                    };
                    filter = Some(match filter {
                        Some(f) => f.and(cond),
                        None => cond,
                    });
                }
                let tq = TableQuery {
                    filter,
                    orderby: vec![
                        OrderBy {
                            expr: prop(system::UPDATED_AT),
                            direction: Direction::Asc,
                        },
                        OrderBy {
                            expr: prop(system::ID),
                            direction: Direction::Asc,
                        },
                    ],
                    top: Some(page_size),
                    skip: (skip > 0).then_some(skip),
                    include_deleted: true,
                    ..TableQuery::default()
                };
                let page = match unwritten.take() {
                    Some((items, saved_token)) => {
                        let (written, page) = tokio::join!(
                            apply_page(
                                ctx,
                                def,
                                items,
                                Some((key.clone(), saved_token)),
                                &mut result
                            ),
                            table.query(&tq)
                        );
                        written?;
                        page?
                    }
                    None => table.query(&tq).await?,
                };
                result.requests += 1;
                let n = page.rows();
                result.received += n;
                let stamps = page_stamps(&page);
                report_unreadable(&def.name, &page, &mut result);
                if let Some(&newest) = stamps.iter().max() {
                    let ties = stamps.iter().filter(|&&s| s == newest).count() as u64;
                    if Some(newest) == token {
                        skip += n;
                    } else {
                        skip = if ours { 0 } else { ties };
                        token = Some(newest);
                    }
                }
                let saved_token = token.map(|t| date::format_date(&t));
                if is_last_page(n, page_size, page.next_link.is_some()) {
                    apply_page(
                        ctx,
                        def,
                        page.items,
                        Some((key.clone(), saved_token)),
                        &mut result,
                    )
                    .await?;
                    break;
                }
                unwritten = Some((page.items, saved_token));
            }
        }
        None => {
            let start = query.skip.unwrap_or(0);
            let mut fetched = 0u64;
            loop {
                check(cancel)?;
                let top = match query.take {
                    Some(take) if take <= fetched => break,
                    Some(take) => (take - fetched).min(page_size),
                    None => page_size,
                };
                let tq = TableQuery {
                    filter: query.filter.clone(),
                    orderby: query.order_by.clone(),
                    top: Some(top),
                    skip: Some(start + fetched),
                    include_deleted: true,
                    ..TableQuery::default()
                };
                let page = table.query(&tq).await?;
                result.requests += 1;
                let n = page.rows();
                result.received += n;
                report_unreadable(&def.name, &page, &mut result);
                fetched += n;
                let last = is_last_page(n, top, page.next_link.is_some());
                apply_page(ctx, def, page.items, None, &mut result).await?;
                if last {
                    break;
                }
            }
        }
    }
    Ok(result)
}

/// True when a page of `n` rows, asked for `asked`, is the last: it is short and the server
/// announced no next page. A server may cut a page short (ours does at its byte budget) and
/// link to the rest, so a short page alone does not end the pull; an empty one always does.
fn is_last_page(n: u64, asked: u64, has_next_link: bool) -> bool {
    n == 0 || (n < asked && !has_next_link)
}

fn check(cancel: &CancelToken) -> Result<()> {
    if cancel.is_cancelled() {
        Err(ClientError::Cancelled)
    } else {
        Ok(())
    }
}

fn updated_at(item: &Item) -> Option<DateTime<Utc>> {
    item.get(system::UPDATED_AT)
        .and_then(Value::as_str)
        .and_then(|s| date::parse_date(s).ok())
}

/// The `updatedAt` of every row of the page that has a readable one, unreadable rows included:
/// the delta token moves past a row that was skipped, so it is not sent again and again, and
/// comes down once it is fixed on the server (which gives it a new `updatedAt`).
fn page_stamps(page: &QueryPage) -> Vec<DateTime<Utc>> {
    let skipped = page
        .unreadable
        .iter()
        .filter_map(|u| u.updated_at.as_deref())
        .filter_map(|s| date::parse_date(s).ok());
    page.items
        .iter()
        .filter_map(updated_at)
        .chain(skipped)
        .collect()
}

/// Logs the page's unreadable rows and adds them to the pull's result; they are skipped and
/// every other row of the page is written.
fn report_unreadable(table: &str, page: &QueryPage, result: &mut PullResult) {
    for skipped in &page.unreadable {
        log::warn!("pull of '{table}' skipped an unreadable {skipped}");
    }
    result.unreadable.extend(page.unreadable.iter().cloned());
}

/// Writes one page and its delta token in one transaction. Deleted rows go; rows with a
/// queued local operation are left alone (the local change wins until pushed, or until the
/// user decides on a refused one, which then takes the copy recorded here).
async fn apply_page(
    ctx: &SyncContext,
    def: &Arc<TableDefinition>,
    items: Vec<Item>,
    token: Option<(String, Option<String>)>,
    result: &mut PullResult,
) -> Result<()> {
    let def = Arc::clone(def);
    let (upserted, deleted, skipped) = ctx
        .inner
        .store
        .call(move |conn| {
            let tx = conn.transaction()?;
            let (mut upserted, mut deleted, mut skipped) = (0u64, 0u64, 0u64);
            // Usually nothing is queued (a pull pushes first); then no row needs the lookup.
            let queued = ops::count_for_table(&tx, &def.name)? > 0;
            let mut upserter = rows::Upserter::new(&def);
            for item in &items {
                let Some(Value::String(id)) = item.get(system::ID) else {
                    continue;
                };
                if queued && let Some(op) = ops::for_item(&tx, &def.name, id)? {
                    // A change waiting for a decision keeps its row; the server's newer copy
                    // goes to its recorded error, for "keep theirs" to take.
                    if op.state == OperationState::Failed {
                        ops::refresh_error_server_item(&tx, &op.id, item)?;
                    }
                    skipped += 1;
                } else if crate::resolve::is_deleted(item) {
                    if rows::delete(&tx, &def, id)? {
                        deleted += 1;
                    }
                } else {
                    upserter.upsert(&tx, item, true)?;
                    upserted += 1;
                }
            }
            if let Some((key, Some(value))) = &token {
                ops::config_set(&tx, key, value)?;
            }
            tx.commit()?;
            Ok((upserted, deleted, skipped))
        })
        .await?;
    result.upserted += upserted;
    result.deleted += deleted;
    result.skipped_pending += skipped;
    Ok(())
}
