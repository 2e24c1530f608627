//! Pull: page server rows into a local table. With a query id the pull is incremental: it asks
//! for rows changed since the saved delta token, ordered by `updatedAt, id`, and saves the new
//! token in the same transaction as each page's rows, so a crash mid-pull resumes where the
//! last committed page ended and never skips a row.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tidemark_protocol::date;
use tidemark_protocol::odata::builder::{lit, prop};
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
        let pulled = pull_pages(ctx, def, query_id, query, cancel).await?;
        crate::verify::after_pull(ctx, def, query_id, query, pulled, cancel).await
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

/// Pages the server's rows into the local table (the pull without its push, lock and status).
pub(crate) async fn pull_pages(
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
            let mut token: Option<Position> =
                saved.as_deref().and_then(|t| match Position::parse(t) {
                    Some(p) => Some(p),
                    None => {
                        log::warn!("delta token '{t}' of {key} is unreadable; pulling everything");
                        None
                    }
                });
            // The page received last, written while the next one is on its way: the next
            // request depends only on the rows received, not on their being stored, and each
            // page is still committed with its own token, in order.
            let mut unwritten: Option<(Vec<Item>, Option<String>)> = None;
            loop {
                check(cancel)?;
                let mut filter: Option<Expr> = query.filter.clone();
                if let Some(t) = &token {
                    let cond = t.since(ours);
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
                report_unreadable(&def.name, &page, &mut result);
                let before = token.clone();
                if let Some(last) = page_last(&page, ours) {
                    token = Some(last);
                }
                let saved_token = token.as_ref().map(Position::to_token);
                // A full page whose rows leave the position where it was (rows without an id
                // at its end) would be asked for again and again.
                let stuck = n > 0 && token == before;
                if stuck {
                    log::warn!(
                        "pull of '{}' cannot page past {:?}: its last rows have no id",
                        def.name,
                        saved_token
                    );
                }
                if stuck || is_last_page(n, page_size, page.next_link.is_some()) {
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

/// Where an incremental pull stands: the `updatedAt` of the last row received and, against a
/// stock server, that row's id. Stock servers stamp rows to the millisecond, so many rows can
/// share one `updatedAt`; the id says which of them were received, and the next request asks
/// for the rows after it in `updatedAt, id` order. A `$skip` counted within the tie instead (as
/// Azure's clients do) skips a row that was not received whenever a received row of the tie
/// changes between two pages, and brings the whole tie again on every later pull.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Position {
    /// The newest `updatedAt` received.
    updated_at: DateTime<Utc>,
    /// The largest id received with that `updatedAt` (stock servers only).
    id: Option<String>,
}

impl Position {
    /// Reads a saved delta token: the stamp, then `|` and the id when there is one (a stamp
    /// has no `|`, an id may).
    fn parse(token: &str) -> Option<Position> {
        let (stamp, id) = match token.split_once('|') {
            Some((stamp, id)) => (stamp, Some(id.to_owned())),
            None => (token, None),
        };
        let updated_at = date::parse_date(stamp).ok()?;
        Some(Position { updated_at, id })
    }

    /// The delta token saved for this position.
    fn to_token(&self) -> String {
        let stamp = date::format_date(&self.updated_at);
        match &self.id {
            Some(id) => format!("{stamp}|{id}"),
            None => stamp,
        }
    }

    /// The filter for the rows after this position. Our clock is strictly increasing per
    /// table, so `gt` never misses a row and does not send the last one again; on a stock
    /// server the rows of the same millisecond with a larger id follow too.
    fn since(&self, ours: bool) -> Expr {
        let since = Expr::Literal(tidemark_protocol::Literal::DateTimeOffset(
            self.updated_at.fixed_offset(),
        ));
        match (&self.id, ours) {
            (Some(id), false) => {
                prop(system::UPDATED_AT)
                    .gt(since.clone())
                    .or(prop(system::UPDATED_AT)
                        .equals(since)
                        .and(prop(system::ID).gt(lit(id.as_str()))))
            }
            // A token saved before ids were kept: the whole tie comes again, once.
            (None, false) => prop(system::UPDATED_AT).ge(since),
            (_, true) => prop(system::UPDATED_AT).gt(since),
        }
    }
}

/// The position of the page's last row in `updatedAt, id` order, unreadable rows included:
/// the delta token moves past a row that was skipped, so it is not sent again and again, and
/// comes down once it is fixed on the server (which gives it a new `updatedAt`). `None` when no
/// row of the page has a readable `updatedAt`.
fn page_last(page: &QueryPage, ours: bool) -> Option<Position> {
    let skipped = page.unreadable.iter().filter_map(|u| {
        let stamp = date::parse_date(u.updated_at.as_deref()?).ok()?;
        Some((stamp, u.id.as_deref()))
    });
    let (updated_at, id) = page
        .items
        .iter()
        .filter_map(|item| {
            let stamp = item.get(system::UPDATED_AT).and_then(Value::as_str)?;
            let stamp = date::parse_date(stamp).ok()?;
            Some((stamp, item.get(system::ID).and_then(Value::as_str)))
        })
        .chain(skipped)
        .max()?;
    Some(Position {
        updated_at,
        id: if ours { None } else { id.map(str::to_owned) },
    })
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
            // A page lost to a power cut is lost with its delta token: it is pulled again.
            crate::store::redoable(conn, |conn| {
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
                        // A change waiting for a decision keeps its row; the server's newer
                        // copy goes to its recorded error, for "keep theirs" to take.
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
        })
        .await?;
    result.upserted += upserted;
    result.deleted += deleted;
    result.skipped_pending += skipped;
    Ok(())
}
