//! The SQLite store's table checksum: only ids and versions are read (through the change
//! index, which holds owner, `updated_at` and id), and added up in Rust with the protocol's
//! row hash, so both backends compute the same digest by construction.

use std::sync::Arc;

use tidemark_protocol::checksum::TableChecksum;

use super::SqliteTableStore;
use crate::store::{Owner, StoreError};

impl SqliteTableStore {
    /// See [`crate::store::TableStore::checksum`].
    pub(super) async fn checksum_rows(
        &self,
        owner: &Owner,
        table: &str,
        until: Option<i64>,
    ) -> Result<TableChecksum, StoreError> {
        let key = self.read_key(owner).await?;
        let table = table.to_owned();
        let readers = Arc::clone(&self.inner.readers);
        self.read(move |conn| {
            let fail = |e| readers.error(e);
            let mut st = conn
                .prepare_cached(
                    "SELECT id, version FROM items \
                     WHERE tbl = ?1 AND owner = ?2 AND deleted = 0 AND updated_at <= ?3",
                )
                .map_err(fail)?;
            let mut rows = st
                .query(rusqlite::params![table, key, until.unwrap_or(i64::MAX)])
                .map_err(fail)?;
            let mut sum = TableChecksum::default();
            while let Some(row) = rows.next().map_err(fail)? {
                let id: String = row.get(0).map_err(fail)?;
                let version: String = row.get(1).map_err(fail)?;
                sum.add(&id, &version);
            }
            Ok(sum)
        })
        .await
    }
}
