//! Users and sessions on PostgreSQL ([`AccountStore`]). Every server process on the database
//! sees the same sessions, so a logout on one is honoured by all at once.

use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::{PostgresTableStore, classify};
use crate::accounts::storage::{AccountStore, ActiveSession, SessionRecord, UserRecord};
use crate::store::StoreError;

/// The user columns, in the order [`user_from_row`] reads them.
const USER_COLUMNS: &str = "id, name_key, display_name, password_hash, created_at, disabled_at";

fn user_from_row(row: &Row) -> UserRecord {
    UserRecord {
        id: row.get(0),
        name_key: row.get(1),
        display_name: row.get(2),
        password_hash: row.get(3),
        created_at: row.get(4),
        disabled_at: row.get(5),
    }
}

impl PostgresTableStore {
    /// Runs `statements` (SQL and parameters) in one transaction and answers the row count of
    /// the first.
    async fn account_write(
        &self,
        statements: &[(&str, &[&(dyn ToSql + Sync)])],
    ) -> Result<u64, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(classify)?;
        let mut first = None;
        for (sql, params) in statements {
            let count = tx.execute(*sql, params).await.map_err(classify)?;
            first.get_or_insert(count);
        }
        tx.commit().await.map_err(classify)?;
        Ok(first.unwrap_or(0))
    }

    /// The rows of one read statement.
    async fn account_read(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, StoreError> {
        let client = self.client().await?;
        let statement = client.prepare_cached(sql).await.map_err(classify)?;
        client.query(&statement, params).await.map_err(classify)
    }
}

/// Deletes every session of the user `$1`.
const END_SESSIONS: &str = "DELETE FROM sessions WHERE user_id = $1";

impl AccountStore for PostgresTableStore {
    async fn create_user(&self, user: &UserRecord) -> Result<bool, StoreError> {
        let added = self
            .account_write(&[(
                "INSERT INTO users (id, name_key, display_name, password_hash, created_at, \
                 disabled_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name_key) DO NOTHING",
                &[
                    &user.id,
                    &user.name_key,
                    &user.display_name,
                    &user.password_hash,
                    &user.created_at,
                    &user.disabled_at,
                ],
            )])
            .await?;
        Ok(added == 1)
    }

    async fn user_by_name(&self, name_key: &str) -> Result<Option<UserRecord>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE name_key = $1");
        let rows = self.account_read(&sql, &[&name_key]).await?;
        Ok(rows.first().map(user_from_row))
    }

    async fn list_users(&self) -> Result<Vec<UserRecord>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY name_key");
        let rows = self.account_read(&sql, &[]).await?;
        Ok(rows.iter().map(user_from_row).collect())
    }

    async fn set_password_hash(
        &self,
        user_id: &str,
        password_hash: &str,
    ) -> Result<bool, StoreError> {
        let changed = self
            .account_write(&[
                (
                    "UPDATE users SET password_hash = $2 WHERE id = $1",
                    &[&user_id, &password_hash],
                ),
                (END_SESSIONS, &[&user_id]),
            ])
            .await?;
        Ok(changed == 1)
    }

    async fn set_disabled(
        &self,
        user_id: &str,
        disabled_at: Option<i64>,
    ) -> Result<bool, StoreError> {
        let update: (&str, &[&(dyn ToSql + Sync)]) = (
            "UPDATE users SET disabled_at = $2 WHERE id = $1",
            &[&user_id, &disabled_at],
        );
        let changed = if disabled_at.is_some() {
            self.account_write(&[update, (END_SESSIONS, &[&user_id])])
                .await?
        } else {
            self.account_write(&[update]).await?
        };
        Ok(changed == 1)
    }

    async fn delete_user(&self, user_id: &str) -> Result<bool, StoreError> {
        // The sessions go with the user (ON DELETE CASCADE).
        let deleted = self
            .account_write(&[("DELETE FROM users WHERE id = $1", &[&user_id])])
            .await?;
        Ok(deleted == 1)
    }

    async fn create_session(&self, session: &SessionRecord) -> Result<(), StoreError> {
        self.account_write(&[
            (
                "INSERT INTO sessions (id, user_id, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4)",
                &[
                    &session.id,
                    &session.user_id,
                    &session.created_at,
                    &session.expires_at,
                ],
            ),
            // Expired sessions can never be used again; sign-ins sweep them.
            (
                "DELETE FROM sessions WHERE expires_at <= $1",
                &[&session.created_at],
            ),
        ])
        .await?;
        Ok(())
    }

    async fn active_session(
        &self,
        session_id: &str,
        user_id: &str,
        now: i64,
    ) -> Result<Option<ActiveSession>, StoreError> {
        let rows = self
            .account_read(
                "SELECT u.id, u.display_name, s.expires_at FROM sessions s \
                 JOIN users u ON u.id = s.user_id \
                 WHERE s.id = $1 AND s.user_id = $2 AND s.expires_at > $3 \
                 AND u.disabled_at IS NULL",
                &[&session_id, &user_id, &now],
            )
            .await?;
        Ok(rows.first().map(|row| ActiveSession {
            user_id: row.get(0),
            display_name: row.get(1),
            expires_at: row.get(2),
        }))
    }

    async fn extend_session(&self, session_id: &str, expires_at: i64) -> Result<bool, StoreError> {
        let changed = self
            .account_write(&[(
                "UPDATE sessions SET expires_at = $2 WHERE id = $1",
                &[&session_id, &expires_at],
            )])
            .await?;
        Ok(changed == 1)
    }

    async fn delete_session(&self, session_id: &str, now: i64) -> Result<bool, StoreError> {
        let ended = self
            .account_write(&[
                ("DELETE FROM sessions WHERE id = $1", &[&session_id]),
                ("DELETE FROM sessions WHERE expires_at <= $1", &[&now]),
            ])
            .await?;
        Ok(ended == 1)
    }
}
