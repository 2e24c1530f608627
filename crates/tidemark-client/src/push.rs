//! Push: send queued operations in queue order (one request each, or in `POST /$batch`
//! requests of `RemoteConfig::batch_size` when the server offers it), write each server answer
//! back with the operation's removal in one transaction (a batch's in one), record refusals and go on, and stop at once (keeping
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
use tidemark_protocol::batch::{
    BatchOperation, BatchOperationKind, BatchRequest, BatchResponse, BatchResult,
};
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
    /// The operation's state before it was marked attempted.
    previous_state: OperationState,
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
    let batch_size = batch_size(remote.config().batch_size, &caps);
    let mut push = Push {
        ctx,
        cancel,
        caps,
        handler: ctx.handler(),
        retries: HashMap::new(),
        result,
    };
    if batch_size > 0 {
        return push.push_batches(batch_size).await;
    }
    let mut last_sequence = 0i64;
    loop {
        if cancel.is_cancelled() {
            return Err(cancelled());
        }
        let Some(prepared) = prepare_next(ctx, last_sequence).await? else {
            return Ok(());
        };
        let outcome = push.send_one(&prepared).await?;
        if !push.handle(&prepared, outcome).await? {
            last_sequence = prepared.op.sequence;
        }
        if let Ok(n) = ctx.inner.store.call(|c| ops::count(c)).await {
            ctx.set_pending(n);
        }
    }
}

/// Operations per batch request: the configured size capped at the server's limit, or 0 (one
/// request per operation) when the server has no batch endpoint.
fn batch_size(configured: usize, caps: &Capabilities) -> usize {
    if !caps.batch {
        return 0;
    }
    let limit = usize::try_from(caps.max_batch_operations).unwrap_or(usize::MAX);
    configured.min(limit)
}

fn cancelled() -> Stop {
    Stop(PushStatus::CancelledByToken, "cancelled".into())
}

/// One push under way: what every step needs.
struct Push<'a> {
    ctx: &'a SyncContext,
    cancel: &'a CancelToken,
    caps: Capabilities,
    handler: Arc<dyn crate::conflict::ConflictHandler>,
    retries: HashMap<String, u32>,
    result: &'a mut PushResult,
}

impl Push<'_> {
    /// Notes what a request's result says about connectivity and turns failures into stops.
    fn online<T>(&self, outcome: Result<T>) -> Result<T, Stop> {
        match outcome {
            Ok(value) => {
                self.ctx.set_connectivity(Connectivity::Online);
                Ok(value)
            }
            Err(e) => {
                if e.is_network() {
                    self.ctx.set_connectivity(Connectivity::Offline);
                }
                Err(e.into())
            }
        }
    }

    /// Sends one operation as its single request and judges the answer.
    async fn send_one(&self, p: &Prepared) -> Result<Outcome, Stop> {
        let outcome = tokio::select! {
            o = send(self.ctx, p, &self.caps) => o,
            _ = self.cancel.cancelled() => return Err(cancelled()),
        };
        self.online(outcome)
    }

    /// Sends the queue in `POST /$batch` requests of up to `size` operations, in queue order.
    ///
    /// The local store and the server work at the same time: while batch n is on the wire, the
    /// accepted operations of batch n - 1 are written back and batch n + 1 is read and marked
    /// attempted. Batch n + 1 is sent only once every result of batch n is known; a batch with
    /// a refusal is handled in full, exactly as its single requests' answers would be, before
    /// the next one goes.
    async fn push_batches(&mut self, mut size: usize) -> Result<(), Stop> {
        let ctx = self.ctx;
        let mut batch = prepare_batch(ctx, 0, size).await?;
        // Accepted by the server, not yet written back.
        let mut accepted: Vec<WriteBack> = Vec::new();
        let mut after = 0;
        loop {
            if batch.is_empty() {
                // Written back only now, an operation edited in flight is queued again behind
                // everything sent so far (an edit moves it to the end): it goes in this push.
                apply_write_backs(ctx, std::mem::take(&mut accepted))
                    .await?
                    .report(ctx, self.result);
                batch = prepare_batch(ctx, after, size).await?;
                if batch.is_empty() {
                    return Ok(());
                }
            }
            if let Some(last) = batch.last() {
                after = last.op.sequence;
            }
            if self.cancel.is_cancelled() {
                return self.stop_between(accepted, batch, cancelled()).await;
            }
            let request = batch_request(&batch, &self.caps);
            let remote = ctx.remote();
            let send = async {
                tokio::select! {
                    r = remote.batch(&request) => Some(r),
                    _ = self.cancel.cancelled() => None,
                }
            };
            let store_work = async {
                let written = apply_write_backs(ctx, std::mem::take(&mut accepted)).await;
                let next = match written {
                    Ok(_) => Some(prepare_batch(ctx, after, size).await),
                    Err(_) => None,
                };
                (written, next)
            };
            let (response, (written, next)) = tokio::join!(send, store_work);
            // The operations written back above were accepted by the previous request.
            written?.report(ctx, self.result);
            let next = next.unwrap_or_else(|| Ok(Vec::new()))?;
            let response = match response {
                Some(r) => r,
                None => return self.stop_between(Vec::new(), next, cancelled()).await,
            };
            if let Err(ClientError::Http { status: 413, .. }) = &response {
                // Too big for the server's body limit (large items): nothing of it was applied.
                // It goes again in halves, and later batches are cut to that size.
                size = (batch.len() / 2).max(1);
                log::info!(
                    "a batch of {} operations was too large for the server; sending batches of {size}",
                    batch.len()
                );
                if let Err(stop) = self.send_in_parts(&batch).await {
                    return self.stop_between(Vec::new(), next, stop).await;
                }
                batch = next;
                continue;
            }
            let response = match self.online(response) {
                Ok(r) => r,
                Err(stop) => return self.stop_between(Vec::new(), next, stop).await,
            };
            match all_accepted(&batch, response) {
                Ok(write_backs) => accepted = write_backs,
                Err(response) => {
                    if let Err(stop) = self.handle_batch(&batch, response).await {
                        return self.stop_between(Vec::new(), next, stop).await;
                    }
                    if let Ok(n) = ctx.inner.store.call(|c| ops::count(c)).await {
                        ctx.set_pending(n);
                    }
                }
            }
            batch = next;
        }
    }

    /// Sends `batch` again as two halves, one after the other, each handled in full before
    /// the next goes; a half too large again is split again, and a single operation too large
    /// on its own is refused with the server's 413, as its single request would be.
    async fn send_in_parts(&mut self, batch: &[Prepared]) -> Result<(), Stop> {
        let mut parts = vec![batch];
        while let Some(part) = parts.pop() {
            if self.cancel.is_cancelled() {
                return Err(cancelled());
            }
            let request = batch_request(part, &self.caps);
            let remote = self.ctx.remote();
            let response = tokio::select! {
                r = remote.batch(&request) => r,
                _ = self.cancel.cancelled() => return Err(cancelled()),
            };
            let response = match response {
                Err(ClientError::Http { status: 413, body }) if part.len() == 1 => BatchResponse {
                    results: vec![BatchResult {
                        status: 413,
                        item: None,
                        error: Some(body),
                        replayed: false,
                    }],
                },
                Err(ClientError::Http { status: 413, .. }) => {
                    let (first, second) = part.split_at(part.len() / 2);
                    // Popped last first: the first half goes before the second.
                    parts.push(second);
                    parts.push(first);
                    continue;
                }
                other => self.online(other)?,
            };
            match all_accepted(part, response) {
                Ok(write_backs) => apply_write_backs(self.ctx, write_backs)
                    .await?
                    .report(self.ctx, self.result),
                Err(response) => self.handle_batch(part, response).await?,
            }
        }
        Ok(())
    }

    /// Ends a batch push early: what the server accepted is still written back, and the batch
    /// prepared but not sent goes back to how it was before it was marked attempted.
    async fn stop_between(
        &mut self,
        accepted: Vec<WriteBack>,
        unsent: Vec<Prepared>,
        stop: Stop,
    ) -> Result<(), Stop> {
        apply_write_backs(self.ctx, accepted)
            .await?
            .report(self.ctx, self.result);
        if let Err(e) = unmark(self.ctx, unsent).await {
            // Harmless: an operation marked attempted is sent again and judged as a retry.
            log::warn!("could not unmark the unsent batch: {e}");
        }
        Err(stop)
    }

    /// Handles every result of a batch that was not simply all accepted, in queue order,
    /// exactly as the single requests' answers would be handled. Consecutive successes are
    /// written back in one transaction.
    async fn handle_batch(
        &mut self,
        batch: &[Prepared],
        response: BatchResponse,
    ) -> Result<(), Stop> {
        let (answered, total) = (response.results.len(), batch.len());
        let mut successes: Vec<(&Prepared, Option<Item>)> = Vec::new();
        // A stop met while handling a refusal; the successes after it are still written back,
        // since the server applied them.
        let mut stopped: Option<Stop> = None;
        for (p, answer) in batch.iter().zip(response.results) {
            let judged = judge(self.ctx, p, Reply::from_batch_result(answer)).await;
            let outcome = match self.online(judged) {
                Ok(outcome) => outcome,
                Err(stop) => {
                    stopped.get_or_insert(stop);
                    continue;
                }
            };
            match outcome {
                Outcome::Success(item) => successes.push((p, item)),
                _ if stopped.is_some() => {}
                other => {
                    self.write_back(&mut successes).await?;
                    if let Err(stop) = self.handle_with_retries(p, other).await {
                        stopped = Some(stop);
                    }
                }
            }
        }
        self.write_back(&mut successes).await?;
        if let Some(stop) = stopped {
            return Err(stop);
        }
        if answered < total {
            return Err(Stop(
                PushStatus::CancelledByNetworkError,
                format!(
                    "the server answered only {answered} of the {total} operations of a batch \
                     (it could not go on); the rest stay queued"
                ),
            ));
        }
        Ok(())
    }

    /// Writes back the collected successes in one transaction.
    async fn write_back(&mut self, successes: &mut Vec<(&Prepared, Option<Item>)>) -> Result<()> {
        if successes.is_empty() {
            return Ok(());
        }
        let n = successes.len() as u64;
        apply_successes(self.ctx, std::mem::take(successes)).await?;
        self.result.pushed += n;
        Ok(())
    }

    /// Handles a refusal met in a batch; a resend it asks for goes as a single request.
    async fn handle_with_retries(&mut self, p: &Prepared, outcome: Outcome) -> Result<(), Stop> {
        let mut retry = self.handle(p, outcome).await?;
        while retry {
            if self.cancel.is_cancelled() {
                return Err(cancelled());
            }
            let Some(again) = prepare_op(self.ctx, &p.op.id).await? else {
                return Ok(());
            };
            let outcome = self.send_one(&again).await?;
            retry = self.handle(&again, outcome).await?;
        }
        Ok(())
    }

    /// Acts on one operation's outcome; returns whether to resend it now.
    async fn handle(&mut self, prepared: &Prepared, outcome: Outcome) -> Result<bool, Stop> {
        let ctx = self.ctx;
        let retries = &mut self.retries;
        let result = &mut *self.result;
        let retry = match outcome {
            Outcome::Success(item) => {
                apply_successes(ctx, vec![(prepared, item)]).await?;
                result.pushed += 1;
                false
            }
            Outcome::Rebase(server_item) => {
                rebase(ctx, prepared, &server_item, None, retries).await?
            }
            Outcome::Refused(error) => {
                log::info!(
                    "{} {} '{}' refused with {:?}",
                    error.kind,
                    error.table,
                    error.item_id,
                    error.status
                );
                match self.handler.resolve(&error) {
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
                        take_server(ctx, prepared, &error).await?;
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
                        rebase_or_record(ctx, prepared, &server, None, retries, error, result)
                            .await?
                    }
                    ConflictResolution::Merge(merged) => {
                        let server = error.server_item.clone().unwrap_or_default();
                        rebase_or_record(
                            ctx,
                            prepared,
                            &server,
                            Some(merged),
                            retries,
                            error,
                            result,
                        )
                        .await?
                    }
                }
            }
        };
        Ok(retry)
    }
}

/// The `POST /$batch` body for prepared operations, in their order.
fn batch_request(batch: &[Prepared], caps: &Capabilities) -> BatchRequest {
    BatchRequest {
        operations: batch.iter().map(|p| batch_operation(p, caps)).collect(),
    }
}

/// One prepared operation as a batch operation: what its single request would carry.
fn batch_operation(p: &Prepared, caps: &Capabilities) -> BatchOperation {
    let kind = match p.op.kind {
        OperationKind::Insert => BatchOperationKind::Insert,
        OperationKind::Update => BatchOperationKind::Update,
        OperationKind::Delete => BatchOperationKind::Delete,
    };
    BatchOperation {
        kind,
        table: p.op.table.clone(),
        id: Some(p.op.item_id.clone()),
        item: p.body.clone(),
        version: p.if_match.clone(),
        operation: caps
            .idempotent_writes
            .then(|| OperationTag::new(p.op.id.clone(), p.op.version).to_string()),
    }
}

/// The write-backs of a batch whose every operation the server answered with a success, or
/// the response back when any result needs judging (a refusal, or a short answer).
fn all_accepted(
    batch: &[Prepared],
    response: BatchResponse,
) -> std::result::Result<Vec<WriteBack>, BatchResponse> {
    let all = response.results.len() == batch.len()
        && response
            .results
            .iter()
            .all(|r| (200..300).contains(&r.status));
    if !all {
        return Err(response);
    }
    Ok(batch
        .iter()
        .zip(response.results)
        .map(|(p, result)| {
            let server_item = match result.item {
                Some(Value::Object(item)) => Some(item),
                _ => None,
            };
            WriteBack::new(p, server_item)
        })
        .collect())
}

/// Puts operations prepared but never sent back as they were before [`prepare_in`] marked
/// them attempted.
async fn unmark(ctx: &SyncContext, unsent: Vec<Prepared>) -> Result<()> {
    if unsent.is_empty() {
        return Ok(());
    }
    ctx.inner
        .store
        .call(move |conn| {
            let tx = conn.transaction()?;
            for p in unsent {
                let mut op = p.op;
                op.state = p.previous_state;
                op.attempted_items = p.previous_attempts;
                // Only if nothing changed it since (an edit bumps the version).
                if ops::kind_and_version(&tx, &op.id)?.is_some_and(|(_, v)| v == op.version) {
                    ops::save(&tx, &op)?;
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
}

/// Reads the next operation after `after` in queue order, builds its request from the local
/// row, and marks it attempted, in one transaction.
async fn prepare_next(ctx: &SyncContext, after: i64) -> Result<Option<Prepared>> {
    let mut batch = prepare_batch(ctx, after, 1).await?;
    Ok(batch.pop())
}

/// Like [`prepare_next`] for up to `size` operations, all in one transaction.
async fn prepare_batch(ctx: &SyncContext, after: i64, size: usize) -> Result<Vec<Prepared>> {
    let tables = ctx.inner.tables.clone();
    ctx.inner
        .store
        .call(move |conn| {
            let tx = conn.transaction()?;
            let mut after = after;
            let mut batch = Vec::with_capacity(size.min(1024));
            while batch.len() < size {
                let next = ops::list_after(&tx, after, size - batch.len())?;
                if next.is_empty() {
                    break;
                }
                for op in next {
                    after = op.sequence;
                    if let Some(prepared) = prepare_in(&tx, &tables, op)? {
                        batch.push(prepared);
                    }
                }
            }
            tx.commit()?;
            Ok(batch)
        })
        .await
}

/// Prepares the operation with this id again (for a resend), if it is still queued.
async fn prepare_op(ctx: &SyncContext, op_id: &str) -> Result<Option<Prepared>> {
    let tables = ctx.inner.tables.clone();
    let op_id = op_id.to_owned();
    ctx.inner
        .store
        .call(move |conn| {
            let tx = conn.transaction()?;
            let prepared = match ops::get(&tx, &op_id)? {
                Some(op) => prepare_in(&tx, &tables, op)?,
                None => None,
            };
            tx.commit()?;
            Ok(prepared)
        })
        .await
}

/// Builds `op`'s request from the local row and marks it attempted; `None` when it cannot be
/// sent (its table is no longer defined, or its row is gone: then it is dropped).
fn prepare_in(
    tx: &rusqlite::Transaction<'_>,
    tables: &HashMap<String, Arc<TableDefinition>>,
    mut op: Operation,
) -> Result<Option<Prepared>> {
    let Some(def) = tables.get(&op.table).cloned() else {
        // A table dropped from the app's definitions: its operations wait.
        log::warn!("operation {} is for undefined table '{}'", op.id, op.table);
        return Ok(None);
    };
    let (body, if_match) = match op.kind {
        OperationKind::Insert | OperationKind::Update => {
            let Some(mut row) = rows::get(tx, &def, &op.item_id)? else {
                log::warn!("operation {} has no local row; dropped", op.id);
                ops::remove(tx, &op.id)?;
                return Ok(None);
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
    let previous_state = op.state;
    op.state = OperationState::Attempted;
    let sent = body.clone().unwrap_or_default();
    if !op.attempted_items.contains(&sent) {
        op.attempted_items.push(sent);
    }
    if op.attempted_items.len() > MAX_REMEMBERED_ATTEMPTS {
        op.attempted_items.remove(0);
    }
    ops::save(tx, &op)?;
    Ok(Some(Prepared {
        op,
        def,
        body,
        if_match,
        previous_attempts,
        previous_state,
    }))
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
    judge(ctx, p, reply).await
}

/// What the server's answer to one operation means (the same for a single request's reply and
/// for a batch result).
async fn judge(ctx: &SyncContext, p: &Prepared, reply: Reply) -> Result<Outcome> {
    let table = ctx.remote().table(&p.op.table);
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

/// Success: the server's item replaces the row and the operation goes, for every operation of
/// `successes` in one transaction, unless the item was edited meanwhile; then only the system
/// fields are taken and the operation stays queued for the new data.
async fn apply_successes(
    ctx: &SyncContext,
    successes: Vec<(&Prepared, Option<Item>)>,
) -> Result<()> {
    let writes = successes
        .into_iter()
        .map(|(p, server_item)| WriteBack::new(p, server_item))
        .collect();
    apply_write_backs(ctx, writes).await?;
    Ok(())
}

/// What [`apply_write_backs`] did.
struct Written {
    /// Operations written back.
    written: u64,
    /// Operations still queued after it (none when there was nothing to write).
    pending: Option<u64>,
}

impl Written {
    /// Counts the written operations and shows the new queue length.
    fn report(self, ctx: &SyncContext, result: &mut PushResult) {
        result.pushed += self.written;
        if let Some(n) = self.pending {
            ctx.set_pending(n);
        }
    }
}

/// Writes back accepted operations in one transaction (see [`apply_successes`]).
async fn apply_write_backs(ctx: &SyncContext, writes: Vec<WriteBack>) -> Result<Written> {
    if writes.is_empty() {
        return Ok(Written {
            written: 0,
            pending: None,
        });
    }
    ctx.inner
        .store
        .call(move |conn| {
            let tx = conn.transaction()?;
            let mut upserters = HashMap::new();
            let errors = ops::any_errors(&tx)?;
            for write in &writes {
                write_back(&tx, write, &mut upserters, errors)?;
            }
            let pending = ops::count(&tx)?;
            tx.commit()?;
            Ok(Written {
                written: writes.len() as u64,
                pending: Some(pending),
            })
        })
        .await
}

/// One accepted operation to write back.
struct WriteBack {
    def: Arc<TableDefinition>,
    op_id: String,
    sent_version: u64,
    item_id: String,
    server_item: Option<Item>,
}

impl WriteBack {
    fn new(p: &Prepared, server_item: Option<Item>) -> Self {
        Self {
            def: Arc::clone(&p.def),
            op_id: p.op.id.clone(),
            sent_version: p.op.version,
            item_id: p.op.item_id.clone(),
            server_item,
        }
    }
}

/// An accepted operation as the queue holds it now.
enum Queued {
    /// Unchanged since it was sent: this is its kind.
    AsSent(OperationKind),
    /// Edited while in flight: the operation as it is now.
    Edited(Operation),
}

/// Writes back one accepted operation; `upserters` keeps each table's statements for the
/// rest of the transaction, and `errors` says whether any operation has a recorded error.
fn write_back<'w>(
    tx: &rusqlite::Transaction<'_>,
    w: &'w WriteBack,
    upserters: &mut HashMap<&'w str, rows::Upserter<'w>>,
    errors: bool,
) -> Result<()> {
    let WriteBack {
        def,
        op_id,
        sent_version,
        item_id,
        server_item,
    } = w;
    let (def, sent_version) = (&**def, *sent_version);
    // The usual case (not edited in flight) needs only the kind; the rest is read otherwise.
    let queued = match ops::kind_and_version(tx, op_id)? {
        Some((kind, version)) if version == sent_version => Some(Queued::AsSent(kind)),
        Some(_) => ops::get(tx, op_id)?.map(Queued::Edited),
        None => None,
    };
    match queued {
        Some(Queued::AsSent(kind)) => {
            match (kind, server_item) {
                (OperationKind::Delete, _) => {
                    rows::delete(tx, def, item_id)?;
                }
                (_, Some(item)) if !resolve::is_deleted(item) => {
                    upserters
                        .entry(def.name.as_str())
                        .or_insert_with(|| rows::Upserter::new(def))
                        .upsert(tx, item, true)?;
                }
                _ => {}
            }
            if errors {
                ops::remove(tx, op_id)?;
            } else {
                ops::remove_only(tx, op_id)?;
            }
        }
        Some(Queued::Edited(mut op)) => {
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
                        rows::update(tx, def, item_id, &system_fields, |_| true)?;
                    }
                }
            }
            if op.kind == OperationKind::Insert {
                op.kind = OperationKind::Update;
            }
            op.state = OperationState::Pending;
            op.attempted_items.clear();
            ops::save(tx, &op)?;
            ops::remove_errors(tx, op_id)?;
        }
        // Dropped meanwhile (forced purge): nothing to write back.
        None => {}
    }
    Ok(())
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
