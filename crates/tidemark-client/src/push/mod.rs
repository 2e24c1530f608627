//! Push: send queued operations in queue order (one request each, or in batch requests
//! (`/$batch`) of `RemoteConfig::batch_size` when the server offers it), write each server
//! answer back with the operation's removal in one transaction (a batch's in one), record
//! refusals and go on, and stop at once (keeping everything unsent) on network failure,
//! refused credentials, local store failure, cancellation or abort.
//!
//! Two things the stock client gets wrong are handled here. A retry after a lost response is
//! recognised (idempotency header on our server; comparing the server's item on stock ones),
//! and an edit made while its operation is in flight stays queued instead of being overwritten
//! by the answer (the operation's version tells).
//!
//! This file is the driver (one request per operation, and acting on each outcome); the parts:
//! `batch` (batches, the store overlapped with the server, halving too large ones), `prepare`
//! (an operation read and marked attempted), `judge` (what the server's reply means),
//! `write_back` (accepted operations written back) and `settle` (a refusal recorded, or the
//! operation rebased for a resend).

mod batch;
mod judge;
mod prepare;
mod settle;
mod write_back;

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::MutexGuard;

use tidemark_protocol::headers::Capabilities;

use self::judge::Outcome;
use self::prepare::{Prepared, prepare_next, prepare_op};
use self::write_back::apply_successes;
use crate::conflict::{ConflictHandler, ConflictResolution};
use crate::context::SyncContext;
use crate::error::{ClientError, Result};
use crate::results::{PushResult, PushStatus};
use crate::status::{CancelToken, Connectivity};
use crate::store::ops;

/// Why the loop stops early.
struct Stop(PushStatus, String);

impl From<ClientError> for Stop {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Network { message } => Stop(PushStatus::CancelledByNetworkError, message),
            ClientError::Auth { body } => Stop(PushStatus::CancelledByAuthenticationError, body),
            ClientError::SignInRequired { reason } => {
                Stop(PushStatus::CancelledBySignInRequired, reason)
            }
            e @ (ClientError::WrongAccount { .. } | ClientError::InsecureTransport { .. }) => {
                Stop(PushStatus::CancelledByAuthenticationError, e.to_string())
            }
            // The server answered something unusable: nothing was lost, try again later.
            e @ (ClientError::Http { .. }
            | ClientError::Protocol { .. }
            | ClientError::ResponseTooLarge { .. }
            | ClientError::Redirected { .. }) => {
                Stop(PushStatus::CancelledByNetworkError, e.to_string())
            }
            other => Stop(PushStatus::CancelledByLocalStoreError, other.to_string()),
        }
    }
}

fn cancelled() -> Stop {
    Stop(PushStatus::CancelledByToken, "cancelled".into())
}

impl SyncContext {
    /// Pushes every queued operation in order. See [`PushResult`] for how it ends.
    pub async fn push(&self) -> PushResult {
        self.push_with_cancel(&CancelToken::new()).await
    }

    /// Like [`SyncContext::push`], stopping early when `cancel` is cancelled.
    pub async fn push_with_cancel(&self, cancel: &CancelToken) -> PushResult {
        let guard = self.sync_lock().await;
        self.push_locked(&guard, cancel).await
    }

    /// Push while already holding the sync lock (pull pushes first).
    pub(crate) async fn push_locked(
        &self,
        _guard: &MutexGuard<'_, ()>,
        cancel: &CancelToken,
    ) -> PushResult {
        self.set_syncing(true);
        let result = run(self, cancel).await;
        self.finish_sync(if result.is_success() {
            Ok(())
        } else {
            Err(result.to_string())
        })
        .await;
        if let Ok(n) = self.inner.store.call(|c| ops::count(c)).await {
            self.set_pending(n);
        }
        result
    }
}

/// Pushes the whole queue; how it ended is in the result.
async fn run(ctx: &SyncContext, cancel: &CancelToken) -> PushResult {
    let mut result = PushResult::new();
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
    // The account first: nothing goes out as another user, or with a token about to expire.
    ctx.prepare_account().await?;
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
    let batch_size = batch::batch_size(remote.config().batch_size, &caps);
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

/// One push under way: what every step needs.
struct Push<'a> {
    ctx: &'a SyncContext,
    cancel: &'a CancelToken,
    caps: Capabilities,
    handler: Arc<dyn ConflictHandler>,
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
            o = judge::send(self.ctx, p, &self.caps) => o,
            _ = self.cancel.cancelled() => return Err(cancelled()),
        };
        self.online(outcome)
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
                settle::rebase(ctx, prepared, &server_item, None, retries).await?
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
                        settle::record(ctx, &error).await?;
                        result.errors.push(error);
                        false
                    }
                    ConflictResolution::Abort => {
                        settle::record(ctx, &error).await?;
                        result.errors.push(error);
                        return Err(Stop(
                            PushStatus::CancelledByHandlerAbort,
                            "the conflict handler aborted the push".into(),
                        ));
                    }
                    ConflictResolution::ServerWins => {
                        settle::take_server(ctx, prepared, &error).await?;
                        false
                    }
                    ConflictResolution::ClientWins | ConflictResolution::Merge(_)
                        if error.server_item.is_none() =>
                    {
                        settle::record(ctx, &error).await?;
                        result.errors.push(error);
                        false
                    }
                    ConflictResolution::ClientWins => {
                        let server = error.server_item.clone().unwrap_or_default();
                        settle::rebase_or_record(
                            ctx, prepared, &server, None, retries, error, result,
                        )
                        .await?
                    }
                    ConflictResolution::Merge(merged) => {
                        let server = error.server_item.clone().unwrap_or_default();
                        settle::rebase_or_record(
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
