//! Purge: remove local rows matching a query and reset delta tokens, refusing while the table
//! has queued operations unless forced (which drops them and their errors).

use std::sync::Arc;

use crate::context::SyncContext;
use crate::error::{ClientError, Result};
use crate::pull::{token_key, token_prefix, validate_query_id};
use crate::query::Query;
use crate::schema::TableDefinition;
use crate::store::{ops, rows};

pub(crate) async fn run(
    ctx: &SyncContext,
    def: &Arc<TableDefinition>,
    query_id: Option<&str>,
    query: &Query,
    force: bool,
) -> Result<u64> {
    if let Some(qid) = query_id {
        validate_query_id(qid)?;
    }
    let _guard = ctx.sync_lock().await;
    let def = Arc::clone(def);
    let query = query.clone();
    let query_id = query_id.map(str::to_string);
    let (removed, pending) = ctx
        .inner
        .store
        .call(move |conn| {
            let tx = conn.transaction()?;
            let pending = ops::count_for_table(&tx, &def.name)?;
            if pending > 0 {
                if !force {
                    return Err(ClientError::PendingOperations {
                        table: def.name.clone(),
                        pending,
                    });
                }
                ops::remove_for_table(&tx, &def.name)?;
            }
            let removed = rows::delete_matching(&tx, &def, &query)?;
            if query.is_whole_table() {
                ops::config_remove_prefix(&tx, &token_prefix(&def.name))?;
            } else if let Some(qid) = &query_id {
                ops::config_remove(&tx, &token_key(&def.name, qid))?;
            }
            let pending = ops::count(&tx)?;
            tx.commit()?;
            Ok((removed, pending))
        })
        .await?;
    ctx.set_pending(pending);
    log::info!("purged {removed} row(s)");
    Ok(removed)
}
