//! Users and sessions on SQLite ([`AccountStore`]): writes on the writer connection, the
//! per-request session check on the read connections, so token checks never wait for writes.

use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};

use super::SqliteTableStore;
use crate::accounts::storage::{AccountStore, ActiveSession, SessionRecord, UserRecord};
use crate::store::StoreError;

/// The user columns, in the order [`user_from_row`] reads them.
const USER_COLUMNS: &str = "id, name_key, display_name, password_hash, created_at, disabled_at";

fn user_from_row(row: &Row<'_>) -> rusqlite::Result<UserRecord> {
    Ok(UserRecord {
        id: row.get(0)?,
        name_key: row.get(1)?,
        display_name: row.get(2)?,
        password_hash: row.get(3)?,
        created_at: row.get(4)?,
        disabled_at: row.get(5)?,
    })
}

impl SqliteTableStore {
    /// Runs `f` in an immediate transaction on the writer connection, on a blocking thread.
    async fn account_write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let mut writer = inner.lock_writer();
            let tx = writer
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(StoreError::internal)?;
            let value = f(&tx).map_err(StoreError::internal)?;
            tx.commit().map_err(StoreError::internal)?;
            Ok(value)
        })
        .await
        .map_err(StoreError::internal)?
    }

    /// Runs `f` on a read connection.
    async fn account_read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let readers = Arc::clone(&self.inner.readers);
        self.read(move |conn| f(conn).map_err(|e| readers.error(e)))
            .await
    }
}

/// The session `session_id` of `user_id` if it is still valid at `now` and its user enabled.
fn find_active_session(
    conn: &Connection,
    session_id: &str,
    user_id: &str,
    now: i64,
) -> rusqlite::Result<Option<ActiveSession>> {
    conn.prepare_cached(
        "SELECT u.id, u.display_name, s.expires_at FROM sessions s \
         JOIN users u ON u.id = s.user_id \
         WHERE s.id = ?1 AND s.user_id = ?2 AND s.expires_at > ?3 \
         AND u.disabled_at IS NULL",
    )?
    .query_row(params![session_id, user_id, now], |row| {
        Ok(ActiveSession {
            user_id: row.get(0)?,
            display_name: row.get(1)?,
            expires_at: row.get(2)?,
        })
    })
    .optional()
}

/// Deletes every session of `user_id`.
fn end_sessions(tx: &Connection, user_id: &str) -> rusqlite::Result<usize> {
    tx.execute("DELETE FROM sessions WHERE user_id = ?1", [user_id])
}

impl AccountStore for SqliteTableStore {
    async fn create_user(&self, user: &UserRecord) -> Result<bool, StoreError> {
        let user = user.clone();
        self.account_write(move |tx| {
            let added = tx.execute(
                "INSERT INTO users (id, name_key, display_name, password_hash, created_at, \
                 disabled_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (name_key) DO NOTHING",
                params![
                    user.id,
                    user.name_key,
                    user.display_name,
                    user.password_hash,
                    user.created_at,
                    user.disabled_at
                ],
            )?;
            Ok(added == 1)
        })
        .await
    }

    async fn user_by_name(&self, name_key: &str) -> Result<Option<UserRecord>, StoreError> {
        let name_key = name_key.to_owned();
        self.account_read(move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {USER_COLUMNS} FROM users WHERE name_key = ?1"
            ))?
            .query_row([name_key], user_from_row)
            .optional()
        })
        .await
    }

    async fn list_users(&self) -> Result<Vec<UserRecord>, StoreError> {
        self.account_read(|conn| {
            conn.prepare(&format!(
                "SELECT {USER_COLUMNS} FROM users ORDER BY name_key"
            ))?
            .query_map([], user_from_row)?
            .collect()
        })
        .await
    }

    async fn set_password_hash(
        &self,
        user_id: &str,
        password_hash: &str,
    ) -> Result<bool, StoreError> {
        let (user_id, hash) = (user_id.to_owned(), password_hash.to_owned());
        self.account_write(move |tx| {
            let changed = tx.execute(
                "UPDATE users SET password_hash = ?2 WHERE id = ?1",
                params![user_id, hash],
            )?;
            end_sessions(tx, &user_id)?;
            Ok(changed == 1)
        })
        .await
    }

    async fn set_disabled(
        &self,
        user_id: &str,
        disabled_at: Option<i64>,
    ) -> Result<bool, StoreError> {
        let user_id = user_id.to_owned();
        self.account_write(move |tx| {
            let changed = tx.execute(
                "UPDATE users SET disabled_at = ?2 WHERE id = ?1",
                params![user_id, disabled_at],
            )?;
            if disabled_at.is_some() {
                end_sessions(tx, &user_id)?;
            }
            Ok(changed == 1)
        })
        .await
    }

    async fn delete_user(&self, user_id: &str) -> Result<bool, StoreError> {
        let user_id = user_id.to_owned();
        self.account_write(move |tx| {
            end_sessions(tx, &user_id)?;
            Ok(tx.execute("DELETE FROM users WHERE id = ?1", [&user_id])? == 1)
        })
        .await
    }

    async fn create_session(&self, session: &SessionRecord) -> Result<(), StoreError> {
        let session = session.clone();
        self.account_write(move |tx| {
            // Expired sessions can never be used again; sign-ins sweep them.
            tx.execute(
                "DELETE FROM sessions WHERE expires_at <= ?1",
                [session.created_at],
            )?;
            tx.execute(
                "INSERT INTO sessions (id, user_id, created_at, expires_at) \
                 VALUES (?1, ?2, ?3, ?4)",
                params![
                    session.id,
                    session.user_id,
                    session.created_at,
                    session.expires_at
                ],
            )?;
            Ok(())
        })
        .await
    }

    async fn active_session(
        &self,
        session_id: &str,
        user_id: &str,
        now: i64,
    ) -> Result<Option<ActiveSession>, StoreError> {
        // Every request asks this: on the quick connection when it is free (no thread hop).
        if let Some(answer) = self
            .inner
            .readers
            .run_quick(|conn| find_active_session(conn, session_id, user_id, now))
        {
            return answer;
        }
        let (session_id, user_id) = (session_id.to_owned(), user_id.to_owned());
        self.account_read(move |conn| find_active_session(conn, &session_id, &user_id, now))
            .await
    }

    async fn extend_session(&self, session_id: &str, expires_at: i64) -> Result<bool, StoreError> {
        let session_id = session_id.to_owned();
        self.account_write(move |tx| {
            Ok(tx.execute(
                "UPDATE sessions SET expires_at = ?2 WHERE id = ?1",
                params![session_id, expires_at],
            )? == 1)
        })
        .await
    }

    async fn delete_session(&self, session_id: &str, now: i64) -> Result<bool, StoreError> {
        let session_id = session_id.to_owned();
        self.account_write(move |tx| {
            let ended = tx.execute("DELETE FROM sessions WHERE id = ?1", [session_id])?;
            tx.execute("DELETE FROM sessions WHERE expires_at <= ?1", [now])?;
            Ok(ended == 1)
        })
        .await
    }
}
