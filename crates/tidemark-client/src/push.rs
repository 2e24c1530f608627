//! Push: send queued operations in queue order, write each server answer back with the
//! operation's removal in one transaction, record refusals and go on, and stop at once (keeping
//! everything unsent) on network failure, 401, local store failure, cancellation or abort.
//!
//! Two things the stock client gets wrong are handled here. A retry after a lost response is
//! recognised (idempotency header on our server; comparing the server's item on stock ones),
//! and an edit made while its operation is in flight stays queued instead of being overwritten
//! by the answer (the operation's version tells).

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use reqwest::Method;
use serde_json::Value;
use tidemark_protocol::headers::{Capabilities, OperationTag};
use tidemark_protocol::system;

use crate::conflict::ConflictResolution;
use crate::context::SyncContext;
use crate::error::{ClientError, Result};
use crate::queue::{
    MAX_REMEMBERED_ATTEMPTS, Operation, OperationError, OperationKind, OperationState,
};
use crate::remote::{Reply, Write};
use crate::resolve;
use crate::schema::{Item, TableDefinition};
use crate::status::{CancelToken, Connectivity};
use crate::store::{ops, rows, values};

/// How a push ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushStatus {
    /// Every operation was sent (some may have been refused: see the errors).
    Complete,
    /// The server could not be reached; unsent operations are kept.
    CancelledByNetworkError,
    /// The server answered 401; unsent operations are kept.
    CancelledByAuthenticationError,
    /// The local store failed; unsent operations are kept.
    CancelledByLocalStoreError,
    /// The caller's [`CancelToken`] was cancelled; unsent operations are kept.
    CancelledByToken,
    /// The conflict handler asked to abort; unsent operations are kept.
    CancelledByHandlerAbort,
}

/// The outcome of a push: how it ended and every operation error it met.
#[derive(Debug, Clone, PartialEq)]
pub struct PushResult {
    /// How the push ended.
    pub status: PushStatus,
    /// The operations the server refused during this push (also kept in `errors()`).
    pub errors: Vec<OperationError>,
    /// How many operations the server accepted.
    pub pushed: u64,
    /// Why the push stopped early, for the status line.
    pub message: Option<String>,
}

impl PushResult {
    /// True when every operation was sent and accepted.
    pub fn is_success(&self) -> bool {
        self.status == PushStatus::Complete && self.errors.is_empty()
    }
}

impl fmt::Display for PushResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "push {:?}: {} pushed", self.status, self.pushed)?;
        if !self.errors.is_empty() {
            write!(f, ", {} refused", self.errors.len())?;
        }
        if let Some(m) = &self.message {
            write!(f, " ({m})")?;
        }
        Ok(())
    }
}

/// How many times one push resends the same operation after rebasing it.
const MAX_RETRIES: u32 = 2;

/// An operation read and marked attempted, with what will be sent.
struct Prepared {
    op: Operation,
    def: Arc<TableDefinition>,
    body: Option<Item>,
    if_match: Option<String>,
    /// The bodies of earlier attempts whose outcome was never learnt.
    previous_attempts: Vec<Item>,
}

/// Why the loop stops early.
struct Stop(PushStatus, String);

impl From<ClientError> for Stop {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Network { message } => Stop(PushStatus::CancelledByNetworkError, message),
            ClientError::Auth { body } => Stop(PushStatus::CancelledByAuthenticationError, body),
            // The server answered something unusable: nothing was lost, try again later.
            e @ (ClientError::Http { .. } | ClientError::Protocol { .. }) => {
                Stop(PushStatus::CancelledByNetworkError, e.to_string())
            }
            other => Stop(PushStatus::CancelledByLocalStoreError, other.to_string()),
        }
    }
}

/// What the server's answer means for the operation.
enum Outcome {
    /// Accepted; the item is the server's (none for deletes).
    Success(Option<Item>),
    /// Our own earlier attempt had landed; rebase on the server's item and resend.
    Rebase(Item),
    /// Refused.
    Refused(OperationError),
}

pub(crate) async fn run(ctx: &SyncContext, cancel: &CancelToken) -> PushResult {
    let mut result = PushResult {
        status: PushStatus::Complete,
        errors: Vec::new(),
        pushed: 0,
        message: None,
    };
    if let Err(Stop(status, message)) = push_all(ctx, cancel, &mut result).await {
        log::warn!("push stopped ({status:?}): {message}");
        result.status = status;
        result.message = Some(message);
    }
    result
}

async fn push_all(
    ctx: &SyncContext,
    cancel: &CancelToken,
    result: &mut PushResult,
) -> Result<(), Stop> {
    let store = &ctx.inner.store;
    if store.call(|c| ops::count(c)).await? == 0 {
        return Ok(());
    }
    let remote = ctx.remote();
    let caps = match remote.capabilities().await {
        Ok(c) => {
            ctx.set_connectivity(Connectivity::Online);
            c.unwrap_or_default()
        }
        Err(e) => {
            if e.is_network() {
                ctx.set_connectivity(Connectivity::Offline);
            }
            return Err(e.into());
        }
    };
    let handler = ctx.handler();
    let mut retries: HashMap<String, u32> = HashMap::new();
    let mut last_sequence = 0i64;
    loop {
        if cancel.is_cancelled() {
            return Err(Stop(PushStatus::CancelledByToken, "cancelled".into()));
        }
        let Some(prepared) = prepare_next(ctx, last_sequence).await? else {
            return Ok(());
        };
        let sequence = prepared.op.sequence;
        let outcome = tokio::select! {
            o = send(ctx, &prepared, &caps) => o,
            _ = cancel.cancelled() => {
                return Err(Stop(PushStatus::CancelledByToken, "cancelled".into()));
            }
        };
        let outcome = match outcome {
            Ok(o) => {
                ctx.set_connectivity(Connectivity::Online);
                o
            }
            Err(e) => {
                if e.is_network() {
                    ctx.set_connectivity(Connectivity::Offline);
                }
                return Err(e.into());
            }
        };
        let retry = match outcome {
            Outcome::Success(item) => {
                apply_success(ctx, &prepared, item).await?;
                result.pushed += 1;
                false
            }
            Outcome::Rebase(server_item) => {
                rebase(ctx, &prepared, &server_item, None, &mut retries).await?
            }
            Outcome::Refused(error) => {
                log::info!(
                    "{} {} '{}' refused with {:?}",
                    error.kind,
                    error.table,
                    error.item_id,
                    error.status
                );
                match handler.resolve(&error) {
                    ConflictResolution::Record => {
                        record(ctx, &error).await?;
                        result.errors.push(error);
                        false
                    }
                    ConflictResolution::Abort => {
                        record(ctx, &error).await?;
                        result.errors.push(error);
                        return Err(Stop(
                            PushStatus::CancelledByHandlerAbort,
                            "the conflict handler aborted the push".into(),
                        ));
                    }
                    ConflictResolution::ServerWins => {
                        take_server(ctx, &prepared, &error).await?;
                        false
                    }
                    ConflictResolution::ClientWins | ConflictResolution::Merge(_)
                        if error.server_item.is_none() =>
                    {
                        record(ctx, &error).await?;
                        result.errors.push(error);
                        false
                    }
                    ConflictResolution::ClientWins => {
                        let server = error.server_item.clone().unwrap_or_default();
                        rebase_or_record(ctx, &prepared, &server, None, &mut retries, error, result)
                            .await?
                    }
                    ConflictResolution::Merge(merged) => {
                        let server = error.server_item.clone().unwrap_or_default();
                        rebase_or_record(
                            ctx,
                            &prepared,
                            &server,
                            Some(merged),
                            &mut retries,
                            error,
                            result,
                        )
                        .await?
                    }
                }
            }
        };
        if !retry {
            last_sequence = sequence;
        }
        if let Ok(n) = ctx.inner.store.call(|c| ops::count(c)).await {
            ctx.set_pending(n);
        }
    }
}

/// Reads the next operation after `after` in queue order, builds its request from the local
/// row, and marks it attempted, in one transaction.
async fn prepare_next(ctx: &SyncContext, after: i64) -> Result<Option<Prepared>> {
    let tables = ctx.inner.tables.clone();
    ctx.inner
        .store
        .call(move |conn| {
            let tx = conn.transaction()?;
            let mut after = after;
            let prepared = loop {
                let Some(mut op) = ops::next_after(&tx, after)? else {
                    break None;
                };
                after = op.sequence;
                let Some(def) = tables.get(&op.table).cloned() else {
                    // A table dropped from the app's definitions: its operations wait.
                    log::warn!("operation {} is for undefined table '{}'", op.id, op.table);
                    continue;
                };
                let (body, if_match) = match op.kind {
                    OperationKind::Insert | OperationKind::Update => {
                        let Some(mut row) = rows::get(&tx, &def, &op.item_id)? else {
                            log::warn!("operation {} has no local row; dropped", op.id);
                            ops::remove(&tx, &op.id)?;
                            continue;
                        };
                        let version = row
                            .get(system::VERSION)
                            .and_then(Value::as_str)
                            .map(str::to_string);
                        system::strip_system_properties(&mut row);
                        let if_match = if op.kind == OperationKind::Update {
                            version
                        } else {
                            None
                        };
                        (Some(row), if_match)
                    }
                    OperationKind::Delete => {
                        let version = op
                            .item
                            .as_ref()
                            .and_then(|i| i.get(system::VERSION))
                            .and_then(Value::as_str)
                            .map(str::to_string);
                        (None, version)
                    }
                };
                let previous_attempts = op.attempted_items.clone();
                op.state = OperationState::Attempted;
                let sent = body.clone().unwrap_or_default();
                if !op.attempted_items.contains(&sent) {
                    op.attempted_items.push(sent);
                }
                if op.attempted_items.len() > MAX_REMEMBERED_ATTEMPTS {
                    op.attempted_items.remove(0);
                }
                ops::save(&tx, &op)?;
                break Some(Prepared {
                    op,
                    def,
                    body,
                    if_match,
                    previous_attempts,
                });
            };
            tx.commit()?;
            Ok(prepared)
        })
        .await
}

async fn send(ctx: &SyncContext, p: &Prepared, caps: &Capabilities) -> Result<Outcome> {
    let table = ctx.remote().table(&p.op.table);
    let tag = caps
        .idempotent_writes
        .then(|| OperationTag::new(p.op.id.clone(), p.op.version));
    let (method, id) = match p.op.kind {
        OperationKind::Insert => (Method::POST, None),
        OperationKind::Update => (Method::PATCH, Some(p.op.item_id.as_str())),
        OperationKind::Delete => (Method::DELETE, Some(p.op.item_id.as_str())),
    };
    let reply = table
        .write(Write {
            method,
            id,
            body: p.body.as_ref(),
            if_match: p.if_match.as_deref(),
            tag,
        })
        .await?;
    if (200..300).contains(&reply.status) {
        return Ok(Outcome::Success(reply.item()));
    }
    if reply.status == 401 {
        return Err(ClientError::Auth { body: reply.body });
    }
    // A delete of an item that is already gone is done (stock servers answer 404).
    if reply.status == 404 && p.op.kind == OperationKind::Delete {
        return Ok(Outcome::Success(None));
    }
    let mut server_item = None;
    if reply.status == 409 || reply.status == 412 {
        // A stock 409 echoes the request body, so the server's copy is fetched by id.
        server_item = if reply.status == 412 {
            reply.item()
        } else {
            None
        };
        if server_item.is_none() {
            server_item = match table.lookup(&p.op.item_id).await {
                Ok(item) => Some(item),
                Err(ClientError::Http { .. }) => None,
                Err(e) => return Err(e),
            };
        }
        if let Some(server) = &server_item {
            if let Some(body) = &p.body
                && same_data(&p.def, body, server)
            {
                log::info!("'{}': the server already holds what was sent", p.op.item_id);
                return Ok(Outcome::Success(Some(server.clone())));
            }
            // Any earlier body may have landed, also before a delete that followed it (an
            // update whose answer was lost, then a local delete). A delete's own attempts
            // carry no body and prove nothing.
            if p.previous_attempts
                .iter()
                .any(|prev| !prev.is_empty() && same_data(&p.def, prev, server))
            {
                log::info!(
                    "'{}': an earlier attempt had landed; resending",
                    p.op.item_id
                );
                return Ok(Outcome::Rebase(server.clone()));
            }
        }
    }
    Ok(Outcome::Refused(refusal(p, &reply, server_item)))
}

fn refusal(p: &Prepared, reply: &Reply, server_item: Option<Item>) -> OperationError {
    OperationError {
        operation_id: p.op.id.clone(),
        operation_version: p.op.version,
        kind: p.op.kind,
        table: p.op.table.clone(),
        item_id: p.op.item_id.clone(),
        status: Some(reply.status),
        raw_body: Some(reply.body.clone()),
        server_item,
        item: p.body.clone().or_else(|| p.op.item.clone()),
    }
}

/// True when every field that was sent has the same value in the server's item.
fn same_data(def: &TableDefinition, sent: &Item, server: &Item) -> bool {
    sent.iter().all(|(k, v)| {
        if system::is_system_property(k) && k != system::ID {
            return true;
        }
        let theirs = server.get(k).unwrap_or(&Value::Null);
        match def.column_type(k) {
            // Compare as stored: 1 and 1.0, or two spellings of one instant, are equal.
            Some(ty) => match (values::to_sql(k, ty, v), values::to_sql(k, ty, theirs)) {
                (Ok(a), Ok(b)) => a == b,
                _ => v == theirs,
            },
            None => v == theirs,
        }
    })
}

/// Success: the server's item replaces the row and the operation goes, in one transaction,
/// unless the item was edited meanwhile; then only the system fields are taken and the
/// operation stays queued for the new data.
async fn apply_success(ctx: &SyncContext, p: &Prepared, server_item: Option<Item>) -> Result<()> {
    let def = Arc::clone(&p.def);
    let (op_id, sent_version, item_id) = (p.op.id.clone(), p.op.version, p.op.item_id.clone());
    ctx.inner
        .store
        .call(move |conn| {
            let tx = conn.transaction()?;
            match ops::get(&tx, &op_id)? {
                Some(op) if op.version == sent_version => {
                    match (op.kind, &server_item) {
                        (OperationKind::Delete, _) => {
                            rows::delete(&tx, &def, &item_id)?;
                        }
                        (_, Some(item)) if !resolve::is_deleted(item) => {
                            rows::upsert(&tx, &def, item, true)?;
                        }
                        _ => {}
                    }
                    ops::remove(&tx, &op_id)?;
                }
                Some(mut op) => {
                    log::info!(
                        "'{item_id}' changed while its {} was in flight; kept queued",
                        op.kind
                    );
                    if let Some(item) = &server_item {
                        let system_fields: Item = item
                            .iter()
                            .filter(|(k, _)| crate::schema::is_server_owned(k))
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect();
                        match op.kind {
                            OperationKind::Delete => {
                                let mut old = op.item.take().unwrap_or_default();
                                old.extend(system_fields);
                                op.item = Some(old);
                            }
                            _ => {
                                rows::update(&tx, &def, &item_id, &system_fields, |_| true)?;
                            }
                        }
                    }
                    if op.kind == OperationKind::Insert {
                        op.kind = OperationKind::Update;
                    }
                    op.state = OperationState::Pending;
                    op.attempted_items.clear();
                    ops::save(&tx, &op)?;
                    ops::remove_errors(&tx, &op_id)?;
                }
                // Dropped meanwhile (forced purge): nothing to write back.
                None => {}
            }
            tx.commit()?;
            Ok(())
        })
        .await
}

/// Keeps the operation failed with its error recorded (unless it was edited meanwhile: then
/// the new data gets its own chance at the next push).
async fn record(ctx: &SyncContext, error: &OperationError) -> Result<()> {
    let error = error.clone();
    ctx.inner
        .store
        .call(move |conn| {
            let tx = conn.transaction()?;
            if let Some(mut op) = ops::get(&tx, &error.operation_id)? {
                ops::remove_errors(&tx, &op.id)?;
                if op.version == error.operation_version {
                    op.state = OperationState::Failed;
                    op.attempted_items.clear();
                    ops::add_error(&tx, &error)?;
                } else {
                    op.state = OperationState::Pending;
                }
                ops::save(&tx, &op)?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
}

async fn take_server(ctx: &SyncContext, p: &Prepared, error: &OperationError) -> Result<()> {
    let def = Arc::clone(&p.def);
    let (op_id, version) = (p.op.id.clone(), p.op.version);
    let server_item = error.server_item.clone();
    let result = ctx
        .inner
        .store
        .call(move |c| resolve::take_server_item(c, &def, &op_id, version, server_item.as_ref()))
        .await;
    match result {
        // Edited meanwhile: the new data stays queued.
        Ok(_) | Err(ClientError::OperationChanged { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Rebases the operation on the server's item and asks for a resend, at most
/// [`MAX_RETRIES`] times per push; returns whether to resend now.
async fn rebase(
    ctx: &SyncContext,
    p: &Prepared,
    server_item: &Item,
    merged: Option<Item>,
    retries: &mut HashMap<String, u32>,
) -> Result<bool> {
    let count = retries.entry(p.op.id.clone()).or_insert(0);
    if *count >= MAX_RETRIES {
        return Ok(false);
    }
    *count += 1;
    let def = Arc::clone(&p.def);
    let (op_id, version) = (p.op.id.clone(), p.op.version);
    let server_item = server_item.clone();
    let result = ctx
        .inner
        .store
        .call(move |c| {
            resolve::rebase(
                c,
                &def,
                &op_id,
                version,
                &server_item,
                merged.as_ref(),
                true,
            )
        })
        .await;
    match result {
        Ok(_) => Ok(true),
        Err(ClientError::OperationChanged { .. }) => Ok(true),
        Err(e) => Err(e),
    }
}

async fn rebase_or_record(
    ctx: &SyncContext,
    p: &Prepared,
    server_item: &Item,
    merged: Option<Item>,
    retries: &mut HashMap<String, u32>,
    error: OperationError,
    result: &mut PushResult,
) -> Result<bool> {
    if rebase(ctx, p, server_item, merged, retries).await? {
        Ok(true)
    } else {
        record(ctx, &error).await?;
        result.errors.push(error);
        Ok(false)
    }
}
