//! Settling a refused operation during a push: its error recorded (the operation kept, failed),
//! the server's item taken in its place, or the operation rebased on the server's version and
//! resent (client wins, merge, or our own earlier attempt found to have landed).

use std::collections::HashMap;
use std::sync::Arc;

use super::prepare::Prepared;
use crate::context::SyncContext;
use crate::error::{ClientError, Result};
use crate::item::Item;
use crate::queue::{OperationError, OperationState};
use crate::resolve;
use crate::results::PushResult;
use crate::store::ops;

/// How many times one push resends the same operation after rebasing it.
const MAX_RETRIES: u32 = 2;

/// Keeps the operation failed with its error recorded (unless it was edited meanwhile: then
/// the new data gets its own chance at the next push).
pub(super) async fn record(ctx: &SyncContext, error: &OperationError) -> Result<()> {
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

pub(super) async fn take_server(
    ctx: &SyncContext,
    p: &Prepared,
    error: &OperationError,
) -> Result<()> {
    let def = Arc::clone(&p.def);
    let (op_id, version) = (p.op.id.clone(), p.op.version);
    let server_item = error.server_item.clone();
    let result = ctx
        .inner
        .store
        .call(move |c| {
            resolve::take_server_item(c, &def, &op_id, version, server_item.as_ref(), false)
        })
        .await;
    match result {
        // Edited meanwhile: the new data stays queued.
        Ok(_) | Err(ClientError::OperationChanged { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Rebases the operation on the server's item and asks for a resend, at most
/// [`MAX_RETRIES`] times per push; returns whether to resend now.
pub(super) async fn rebase(
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

pub(super) async fn rebase_or_record(
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
