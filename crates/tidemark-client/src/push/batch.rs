//! Pushing in batch requests (`/$batch`): the pipeline that overlaps the local store with the
//! server (batch n on the wire while n - 1 is written back and n + 1 prepared), a batch too
//! large for the server sent again in halves, and a batch with refusals handled operation by
//! operation, exactly as its single requests would be.

use tidemark_protocol::batch::{BatchOperation, BatchOperationKind, BatchRequest};
use tidemark_protocol::headers::{Capabilities, OperationTag};

use super::judge::{self, Outcome};
use super::prepare::{Prepared, prepare_batch, unmark};
use super::write_back::{WriteBack, apply_successes, apply_write_backs};
use super::{Push, PushStatus, Stop, cancelled};
use crate::error::Result;
use crate::item::Item;
use crate::queue::OperationKind;
use crate::remote::{BatchReply, Reply};
use crate::store::ops;

/// Operations per batch request: the configured size capped at the server's limit, or 0 (one
/// request per operation) when the server has no batch endpoint.
pub(super) fn batch_size(configured: usize, caps: &Capabilities) -> usize {
    if !caps.batch {
        return 0;
    }
    let limit = usize::try_from(caps.max_batch_operations).unwrap_or(usize::MAX);
    configured.min(limit)
}

impl Push<'_> {
    /// Sends the queue in batch requests of up to `size` operations, in queue order.
    ///
    /// The local store and the server work at the same time: while batch n is on the wire, the
    /// accepted operations of batch n - 1 are written back and batch n + 1 is read and marked
    /// attempted. Batch n + 1 is sent only once every result of batch n is known; a batch with
    /// a refusal is handled in full, exactly as its single requests' answers would be, before
    /// the next one goes.
    pub(super) async fn push_batches(&mut self, mut size: usize) -> Result<(), Stop> {
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
                    r = remote.send_batch(&request) => Some(r),
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
            let replies = match self.online(response) {
                Ok(BatchReply::Answered(replies)) => replies,
                Ok(BatchReply::TooLarge(_)) => {
                    // Too big for the server's body limit (large items): nothing of it was
                    // applied. It goes again in halves, and later batches are cut to that size.
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
                Err(stop) => return self.stop_between(Vec::new(), next, stop).await,
            };
            match all_accepted(&batch, replies) {
                Ok(write_backs) => accepted = write_backs,
                Err(replies) => {
                    if let Err(stop) = self.handle_batch(&batch, replies).await {
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
    /// on its own is refused as its single request would be.
    async fn send_in_parts(&mut self, batch: &[Prepared]) -> Result<(), Stop> {
        let mut parts = vec![batch];
        while let Some(part) = parts.pop() {
            if self.cancel.is_cancelled() {
                return Err(cancelled());
            }
            let request = batch_request(part, &self.caps);
            let remote = self.ctx.remote();
            let response = tokio::select! {
                r = remote.send_batch(&request) => r,
                _ = self.cancel.cancelled() => return Err(cancelled()),
            };
            let replies = match self.online(response)? {
                BatchReply::Answered(replies) => replies,
                BatchReply::TooLarge(refusal) if part.len() == 1 => vec![Reply::TooLarge(refusal)],
                BatchReply::TooLarge(_) => {
                    let (first, second) = part.split_at(part.len() / 2);
                    // Popped last first: the first half goes before the second.
                    parts.push(second);
                    parts.push(first);
                    continue;
                }
            };
            match all_accepted(part, replies) {
                Ok(write_backs) => apply_write_backs(self.ctx, write_backs)
                    .await?
                    .report(self.ctx, self.result),
                Err(replies) => self.handle_batch(part, replies).await?,
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

    /// Handles every reply of a batch that was not simply all accepted, in queue order,
    /// exactly as the single requests' answers would be handled. Consecutive successes are
    /// written back in one transaction.
    async fn handle_batch(&mut self, batch: &[Prepared], replies: Vec<Reply>) -> Result<(), Stop> {
        let (answered, total) = (replies.len(), batch.len());
        let mut successes: Vec<(&Prepared, Option<Item>)> = Vec::new();
        // A stop met while handling a refusal; the successes after it are still written back,
        // since the server applied them.
        let mut stopped: Option<Stop> = None;
        for (p, reply) in batch.iter().zip(replies) {
            let judged = judge::judge(self.ctx, p, reply).await;
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
}

/// The batch request for prepared operations, in their order.
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

/// The write-backs of a batch whose every operation the server accepted, or the replies back
/// when any needs judging (a refusal, or a short answer).
fn all_accepted(
    batch: &[Prepared],
    replies: Vec<Reply>,
) -> std::result::Result<Vec<WriteBack>, Vec<Reply>> {
    // An answer about another item than its operation's goes to the judge, which refuses it.
    let all = replies.len() == batch.len()
        && batch.iter().zip(&replies).all(|(p, r)| match r {
            Reply::Accepted(Some(item)) => !judge::is_other_item(&p.op.item_id, item),
            Reply::Accepted(None) => true,
            _ => false,
        });
    if !all {
        return Err(replies);
    }
    Ok(batch
        .iter()
        .zip(replies)
        .map(|(p, reply)| {
            let server_item = match reply {
                Reply::Accepted(item) => item,
                _ => None,
            };
            WriteBack::new(p, server_item)
        })
        .collect())
}
