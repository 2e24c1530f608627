//! Judging the server's reply to one operation (a single request's or one part of a batch's):
//! accepted, refused, or a conflict that is really our own earlier attempt having landed (a
//! retry after a lost answer), recognised by comparing what was sent with the server's item.

use serde_json::Value;
use tidemark_protocol::headers::{Capabilities, OperationTag};
use tidemark_protocol::system;

use super::prepare::Prepared;
use crate::context::SyncContext;
use crate::error::{ClientError, Result};
use crate::item::Item;
use crate::queue::{OperationError, OperationKind};
use crate::remote::{Refusal, Reply, Write};
use crate::schema::TableDefinition;
use crate::store::values;

/// What the server's answer means for the operation.
pub(super) enum Outcome {
    /// Accepted; the item is the server's (none for deletes).
    Success(Option<Item>),
    /// Our own earlier attempt had landed; rebase on the server's item and resend.
    Rebase(Item),
    /// Refused.
    Refused(OperationError),
}

/// Sends one operation as its single request and judges the reply.
pub(super) async fn send(ctx: &SyncContext, p: &Prepared, caps: &Capabilities) -> Result<Outcome> {
    let table = ctx.remote().table(&p.op.table);
    let tag = caps
        .idempotent_writes
        .then(|| OperationTag::new(p.op.id.clone(), p.op.version));
    let reply = table
        .write(Write {
            kind: p.op.kind,
            id: &p.op.item_id,
            body: p.body.as_ref(),
            if_match: p.if_match.as_deref(),
            tag,
        })
        .await?;
    judge(ctx, p, reply).await
}

/// What the server's reply to one operation means (the same for a single request's reply and
/// for a batch's part). Refused credentials are an error: they stop the push.
pub(super) async fn judge(ctx: &SyncContext, p: &Prepared, reply: Reply) -> Result<Outcome> {
    let (server_item, refusal) = match reply {
        Reply::Accepted(item) => {
            check_answered_id(p, item.as_ref())?;
            return Ok(Outcome::Success(item));
        }
        Reply::Unauthorized(refusal) => return Err(refusal.into_error()),
        // A delete of an item that is already gone is done (stock servers answer so).
        Reply::Gone(_) if p.op.kind == OperationKind::Delete => {
            return Ok(Outcome::Success(None));
        }
        Reply::Conflict {
            server_item,
            refusal,
        } => (conflicting_item(ctx, p, server_item).await?, refusal),
        Reply::Gone(refusal)
        | Reply::TooLarge(refusal)
        | Reply::Unavailable(refusal)
        | Reply::Refused(refusal) => return Ok(Outcome::Refused(refused(p, refusal, None))),
    };
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
    Ok(Outcome::Refused(refused(p, refusal, server_item)))
}

/// The server's item in a conflict: the one its reply carried, or else fetched by id (`None`
/// when the server refuses that too).
async fn conflicting_item(
    ctx: &SyncContext,
    p: &Prepared,
    carried: Option<Item>,
) -> Result<Option<Item>> {
    // The server's item of a conflict is what a resolution may write: never under another id.
    let own = |item: Option<Item>| item.filter(|i| !is_other_item(&p.op.item_id, i));
    if carried.is_some() {
        if let Some(item) = own(carried) {
            return Ok(Some(item));
        }
        log::warn!(
            "the server's answer to the {} of {:?} carried another item; asking for it",
            p.op.kind,
            p.op.item_id
        );
    }
    match ctx.remote().table(&p.op.table).find(&p.op.item_id).await {
        Ok(item) => Ok(own(item)),
        Err(ClientError::Http { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// True when `item` carries an id and it is not `id`: the server answered about another item.
/// An item without an id is not written anywhere (see `rows::Upserter::upsert`).
pub(super) fn is_other_item(id: &str, item: &Item) -> bool {
    item.get(system::ID)
        .is_some_and(|theirs| theirs.as_str() != Some(id))
}

/// Refuses an accepted answer whose item is another one than the operation's: nothing may be
/// written under the wrong id. The push stops as after any unusable answer; the operation stays
/// queued as it was, and is sent again (and judged as a retry) by the next push.
fn check_answered_id(p: &Prepared, item: Option<&Item>) -> Result<()> {
    match item.and_then(|i| i.get(system::ID)) {
        Some(theirs) if theirs.as_str() != Some(p.op.item_id.as_str()) => {
            Err(ClientError::protocol(format!(
                "the server answered the {} of item {:?} with item {}; nothing was written and \
                 the change stays queued",
                p.op.kind,
                p.op.item_id,
                theirs.to_string().escape_debug()
            )))
        }
        _ => Ok(()),
    }
}

/// The error recorded for a refused operation: the server's answer as said.
fn refused(p: &Prepared, refusal: Refusal, server_item: Option<Item>) -> OperationError {
    OperationError {
        operation_id: p.op.id.clone(),
        operation_version: p.op.version,
        kind: p.op.kind,
        table: p.op.table.clone(),
        item_id: p.op.item_id.clone(),
        status: Some(refusal.status),
        raw_body: Some(refusal.body),
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
