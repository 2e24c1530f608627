//! The PostgreSQL store's table checksum: only ids and versions are read, from one snapshot,
//! and added up in Rust with the protocol's row hash, so both backends compute the same digest
//! by construction.

use tidemark_protocol::checksum::TableChecksum;
use tokio_postgres::IsolationLevel;

use super::{PostgresTableStore, classify};
use crate::store::{Owner, StoreError};

/// Rows fetched per round trip through the portal: a todo table of any size is read in a few
/// trips without holding it all in memory.
const FETCH_ROWS: i32 = 5_000;

impl PostgresTableStore {
    /// See [`crate::store::TableStore::checksum`].
    pub(super) async fn checksum_rows(
        &self,
        owner: &Owner,
        table: &str,
        until: Option<i64>,
    ) -> Result<TableChecksum, StoreError> {
        let mut client = self.client().await?;
        let key = self.read_key(&client, owner).await?;
        let tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(classify)?;
        let until = until.unwrap_or(i64::MAX);
        let portal = tx
            .bind(
                "SELECT id, version FROM items \
                 WHERE tbl = $1 AND owner = $2 AND NOT deleted AND updated_at <= $3",
                &[&table, &key, &until],
            )
            .await
            .map_err(classify)?;
        let mut sum = TableChecksum::default();
        loop {
            let rows = tx
                .query_portal(&portal, FETCH_ROWS)
                .await
                .map_err(classify)?;
            for row in &rows {
                let id: &str = row.try_get(0).map_err(classify)?;
                let version: &str = row.try_get(1).map_err(classify)?;
                sum.add(id, version);
            }
            if rows.len() < FETCH_ROWS as usize {
                break;
            }
        }
        drop(portal);
        tx.commit().await.map_err(classify)?;
        Ok(sum)
    }
}
