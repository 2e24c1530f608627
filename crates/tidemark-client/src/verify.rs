//! Divergence check after a pull. A device's copy of a table can drift from the server's
//! without any error along the way: a row changed behind the engine's back, a write-back
//! lost, a bug. After an incremental pull of a whole table from our server, the engine asks for
//! the server's checksum of the table up to the pull's position (`GET /$checksum/{table}`,
//! see [`tidemark_protocol::checksum`]) and adds up its own rows the same way. When the two
//! differ it pulls the table again from the start, keeping every row with a queued change,
//! logs each row that differed and says so in the status.
//!
//! Rows the engine could not read (see [`crate::UnreadableItem`]) are on the server but not
//! here; their ids and versions are remembered in the store's `__config` as they are skipped,
//! and counted as if held, so a poison row does not make every pull a repair.
//!
//! The check reads every row on both sides, so it runs at most once per
//! `RemoteConfig::verify_interval` per table (ten minutes by default).
//!
//! It is skipped, and nothing changes, against servers without the capability (stock
//! servers), for filtered or one-off pulls (the device holds only part of the table), and
//! while the table has queued changes (their rows differ from the server's on purpose).

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tidemark_protocol::checksum::TableChecksum;
use tidemark_protocol::date;

use crate::context::SyncContext;
use crate::error::Result;
use crate::pull::{pull_pages, token_key, token_prefix};
use crate::query::Query;
use crate::results::{PullResult, Repair, RowDifference};
use crate::schema::TableDefinition;
use crate::status::CancelToken;
use crate::store::rows::RowStamp;
use crate::store::{ops, rows};

/// How many differing rows are logged one by one; the rest are counted.
const LOGGED_DIFFERENCES: usize = 20;

/// The `__config` key prefix of a table's rows skipped as unreadable: `unreadable|{table}|{id}`
/// holds the version the server sent.
fn unreadable_prefix(table: &str) -> String {
    format!("unreadable|{table}|")
}

/// Remembers the rows of `skipped` that the server's checksum counts (those with an id and a
/// version, not deleted); with `reset`, forgets the ones remembered before.
async fn remember_unreadable(
    ctx: &SyncContext,
    table: &str,
    skipped: &[crate::UnreadableItem],
    reset: bool,
) -> Result<()> {
    let prefix = unreadable_prefix(table);
    let entries: Vec<(String, String)> = skipped
        .iter()
        .filter_map(|u| Some((format!("{prefix}{}", u.id.as_ref()?), u.version.clone()?)))
        .collect();
    if entries.is_empty() && !reset {
        return Ok(());
    }
    ctx.inner
        .store
        .call(move |c| {
            let tx = c.transaction()?;
            if reset {
                ops::config_remove_prefix(&tx, &prefix)?;
            }
            for (key, version) in &entries {
                ops::config_set(&tx, key, version)?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
}

/// How many incremental catch-up pulls a mismatch may take before the check gives up for this
/// time: a row changed on the server between the pull and the checksum request leaves the
/// checksum's range (its `updatedAt` moved past `until`) while the old copy here is still in
/// it, which looks like a divergence until it is pulled.
const CATCH_UP_PULLS: u32 = 3;

/// The `__config` key holding when a table was last checked (RFC 3339).
fn checked_key(table: &str) -> String {
    format!("verifiedAt|{table}")
}

/// True when the table is due for a check (its last one is `interval` old), and then records
/// this one as its last. A table never checked only starts the clock: its first pull is the
/// copy the next check compares. A check that then fails (the server unreachable) waits for
/// the next interval like any other.
async fn due(ctx: &SyncContext, table: &str, interval: std::time::Duration) -> Result<bool> {
    let key = checked_key(table);
    ctx.inner
        .store
        .call(move |c| {
            let now = Utc::now();
            let last = ops::config_get(c, &key)?
                .and_then(|v| DateTime::parse_from_rfc3339(&v).ok())
                .map(|d| d.with_timezone(&Utc));
            let due = last.is_some_and(|last| {
                now.signed_duration_since(last)
                    .to_std()
                    .map_or(true, |age| age >= interval)
            });
            if due || last.is_none() {
                ops::config_set(c, &key, &now.to_rfc3339())?;
            }
            Ok(due)
        })
        .await
}

/// What the check reads of the local copy in one go.
struct LocalState {
    pending: u64,
    token: Option<String>,
    stamps: Vec<RowStamp>,
    /// Rows skipped as unreadable that the server still counts: (id, version).
    skipped: Vec<(String, String)>,
}

/// Checks the table `pulled` came from against the server and repairs it on a mismatch;
/// answers the pull's result, with any catch-up or repair pull added in.
pub(crate) async fn after_pull(
    ctx: &SyncContext,
    def: &Arc<TableDefinition>,
    query_id: Option<&str>,
    query: &Query,
    pulled: PullResult,
    cancel: &CancelToken,
) -> Result<PullResult> {
    let Some(qid) = query_id else {
        return Ok(pulled);
    };
    if !query.is_whole_table() {
        return Ok(pulled);
    }
    // The status says what the last pull of a table repaired, if anything.
    ctx.set_repaired(None);
    let remote = ctx.remote();
    if !remote.capabilities().await?.is_some_and(|c| c.checksum) {
        return Ok(pulled);
    }
    remember_unreadable(ctx, &def.name, &pulled.unreadable, false).await?;
    if !due(ctx, &def.name, remote.config().verify_interval).await? {
        return Ok(pulled);
    }
    let mut pulled = pulled;
    let mut catch_ups = 0;
    loop {
        let state = read_local(ctx, def, qid).await?;
        if state.pending > 0 {
            log::debug!(
                "'{}' not checked against the server: {} change(s) wait",
                def.name,
                state.pending
            );
            return Ok(pulled);
        }
        // Our server's tokens are plain stamps; none means the table was never pulled into.
        let Some(until) = state
            .token
            .as_deref()
            .and_then(|t| date::parse_date(t).ok())
        else {
            return Ok(pulled);
        };
        let mut local = checksum_of(&state.stamps, &until);
        for (id, version) in &state.skipped {
            local.add(id, version);
        }
        let server = remote.table(&def.name).checksum(Some(&until)).await?;
        if local == server {
            log::debug!("'{}' matches the server ({} rows)", def.name, local.count);
            return Ok(pulled);
        }
        if catch_ups == CATCH_UP_PULLS {
            log::info!(
                "'{}' keeps changing on the server; it is checked again after a later pull",
                def.name
            );
            return Ok(pulled);
        }
        catch_ups += 1;
        let caught = pull_pages(ctx, def, query_id, query, cancel).await?;
        remember_unreadable(ctx, &def.name, &caught.unreadable, false).await?;
        let changed = caught.received > 0;
        pulled = add(pulled, caught);
        if changed {
            // The server changed since the pull: compare again up to the new position.
            continue;
        }
        // Nothing changed on the server since the pull, so it did not change between the
        // pull and the checksum either: the copies really differ.
        return repair(
            ctx,
            def,
            query_id,
            query,
            cancel,
            &state.stamps,
            local,
            server,
            until,
            pulled,
        )
        .await;
    }
}

/// Reads the queue's length for the table, the query's token, every row's stamp and the rows
/// remembered as unreadable (forgetting those that have come down since).
async fn read_local(
    ctx: &SyncContext,
    def: &Arc<TableDefinition>,
    qid: &str,
) -> Result<LocalState> {
    let table = def.name.clone();
    let key = token_key(&def.name, qid);
    let skipped_prefix = unreadable_prefix(&def.name);
    let local_def = Arc::clone(def);
    ctx.inner
        .store
        .call(move |c| {
            let tx = c.transaction()?;
            let stamps = rows::stamps(&tx, &local_def)?;
            // A skipped row that has come down since (fixed on the server) is held now.
            let mut skipped = Vec::new();
            for (key, version) in ops::config_list_prefix(&tx, &skipped_prefix)? {
                let id = key[skipped_prefix.len()..].to_owned();
                if stamps.iter().any(|(held, _, _)| *held == id) {
                    ops::config_remove(&tx, &key)?;
                } else {
                    skipped.push((id, version));
                }
            }
            let state = LocalState {
                pending: ops::count_for_table(&tx, &table)?,
                token: ops::config_get(&tx, &key)?,
                stamps,
                skipped,
            };
            tx.commit()?;
            Ok(state)
        })
        .await
}

/// Drops every local row without a queued change and the table's tokens, pulls the table
/// again, and reports (log, status, result) each row that differed from `before`.
#[allow(clippy::too_many_arguments)]
async fn repair(
    ctx: &SyncContext,
    def: &Arc<TableDefinition>,
    query_id: Option<&str>,
    query: &Query,
    cancel: &CancelToken,
    before: &[RowStamp],
    local: TableChecksum,
    server: TableChecksum,
    until: DateTime<Utc>,
    pulled: PullResult,
) -> Result<PullResult> {
    log::warn!(
        "the local copy of '{}' differs from the server's up to {}: {} row(s) here, {} there \
         (digests {:016x} and {:016x}); pulling it again",
        def.name,
        date::format_date(&until),
        local.count,
        server.count,
        local.digest,
        server.digest
    );
    let repair_def = Arc::clone(def);
    let prefix = token_prefix(&def.name);
    let dropped = ctx
        .inner
        .store
        .call(move |c| {
            let tx = c.transaction()?;
            let n = rows::delete_unqueued(&tx, &repair_def)?;
            ops::config_remove_prefix(&tx, &prefix)?;
            tx.commit()?;
            Ok(n)
        })
        .await?;
    log::info!(
        "dropped {dropped} row(s) of '{}' to pull them again",
        def.name
    );
    let again = pull_pages(ctx, def, query_id, query, cancel).await?;
    remember_unreadable(ctx, &def.name, &again.unreadable, true).await?;
    let after_def = Arc::clone(def);
    let after = ctx
        .inner
        .store
        .call(move |c| rows::stamps(c, &after_def))
        .await?;
    let differences = differences(before, &after);
    for d in differences.iter().take(LOGGED_DIFFERENCES) {
        log::warn!("'{}': {d}", def.name);
    }
    if differences.len() > LOGGED_DIFFERENCES {
        log::warn!(
            "'{}': {} more row(s) differed",
            def.name,
            differences.len() - LOGGED_DIFFERENCES
        );
    }
    let repair = Repair {
        table: def.name.clone(),
        local_rows: local.count,
        server_rows: server.count,
        differences,
    };
    log::warn!("{repair}");
    ctx.set_repaired(Some(repair.to_string()));
    let mut result = add(pulled, again);
    result.repair = Some(repair);
    Ok(result)
}

/// The checksum of the rows stamped at or before `until`: what the server counts for the
/// same position. Rows without a version or a readable stamp (never on the server) are left
/// out.
fn checksum_of(stamps: &[RowStamp], until: &DateTime<Utc>) -> TableChecksum {
    let mut sum = TableChecksum::default();
    for (id, version, updated_at) in stamps {
        let (Some(version), Some(updated_at)) = (version, updated_at) else {
            continue;
        };
        if date::parse_date(updated_at).is_ok_and(|at| at <= *until) {
            sum.add(id, version);
        }
    }
    sum
}

/// The rows whose presence or version differs between the copy before and after a repair's
/// pull, in id order.
fn differences(before: &[RowStamp], after: &[RowStamp]) -> Vec<RowDifference> {
    let versions = |rows: &[RowStamp]| -> BTreeMap<String, Option<String>> {
        rows.iter()
            .map(|(id, v, _)| (id.clone(), v.clone()))
            .collect()
    };
    let (before, after) = (versions(before), versions(after));
    let mut ids: Vec<&String> = before.keys().chain(after.keys()).collect();
    ids.sort();
    ids.dedup();
    ids.into_iter()
        .filter_map(|id| {
            let (here, there) = (before.get(id), after.get(id));
            (here != there).then(|| RowDifference {
                id: id.clone(),
                local_version: here.map(|v| v.clone().unwrap_or_default()),
                server_version: there.map(|v| v.clone().unwrap_or_default()),
            })
        })
        .collect()
}

/// The first pull's counters with a later pull's (a catch-up or a repair) added.
fn add(mut first: PullResult, again: PullResult) -> PullResult {
    first.received += again.received;
    first.requests += again.requests;
    first.upserted += again.upserted;
    first.deleted += again.deleted;
    first.skipped_pending += again.skipped_pending;
    first.unreadable.extend(again.unreadable);
    first
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, version: &str, at: &str) -> RowStamp {
        (id.into(), Some(version.into()), Some(at.into()))
    }

    #[test]
    fn only_rows_up_to_the_position_with_a_version_count() {
        let until = date::parse_date("2024-01-01T00:00:01.000000Z").unwrap_or_default();
        let rows = vec![
            row("a", "1", "2024-01-01T00:00:00.500000Z"),
            row("b", "1", "2024-01-01T00:00:01.000000Z"),
            row("late", "1", "2024-01-01T00:00:01.000001Z"),
            ("new".into(), None, None),
        ];
        let mut expected = TableChecksum::default();
        expected.add("a", "1");
        expected.add("b", "1");
        assert_eq!(checksum_of(&rows, &until), expected);
    }

    #[test]
    fn differences_name_missing_extra_and_changed_rows() {
        let at = "2024-01-01T00:00:00.000000Z";
        let before = vec![
            row("same", "1", at),
            row("old", "1", at),
            row("extra", "1", at),
        ];
        let after = vec![
            row("same", "1", at),
            row("old", "2", at),
            row("lost", "1", at),
        ];
        let found: Vec<String> = differences(&before, &after)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            found,
            [
                "row 'extra' was here but not on the server",
                "row 'lost' was missing here",
                "row 'old' was at version 1 here and 2 on the server",
            ]
        );
    }
}
