//! [`AccountStore`]: where users and sessions are kept, in the same database as the items
//! (both backends implement it, see `store::sqlite::accounts` and `store::postgres::accounts`).

use std::fmt;
use std::future::Future;

use crate::store::StoreError;

/// A stored user.
#[derive(Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// The opaque, stable user id (a UUID): the owner of the user's rows.
    pub id: String,
    /// The user name as compared: NFKC, lower-cased ([`super::names::UserName::key`]).
    pub name_key: String,
    /// The user name as the user typed it.
    pub display_name: String,
    /// The argon2id hash in PHC string form.
    pub password_hash: String,
    /// When the account was made, Unix seconds.
    pub created_at: i64,
    /// When the account was disabled, Unix seconds; `None` while it is enabled.
    pub disabled_at: Option<i64>,
}

impl fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The hash is not the password, but an offline guesser would love it: never log it.
        f.debug_struct("UserRecord")
            .field("id", &self.id)
            .field("name_key", &self.name_key)
            .field("display_name", &self.display_name)
            .field("password_hash", &"<redacted>")
            .field("created_at", &self.created_at)
            .field("disabled_at", &self.disabled_at)
            .finish()
    }
}

/// A stored session: a token family that is valid while this row exists and is not expired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// The session id (a UUID), the tokens' `sid` claim.
    pub id: String,
    /// The user it belongs to.
    pub user_id: String,
    /// When it was made, Unix seconds.
    pub created_at: i64,
    /// When it ends unless refreshed, Unix seconds.
    pub expires_at: i64,
}

/// What a request's token check learns from the store in one query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveSession {
    /// The user's id.
    pub user_id: String,
    /// The user name as typed.
    pub display_name: String,
    /// When the session ends unless refreshed, Unix seconds.
    pub expires_at: i64,
}

/// Users and sessions. Every method is one atomic step; revoking methods delete sessions in
/// the same transaction as their change, so no token outlives what revoked it.
pub trait AccountStore: Send + Sync + 'static {
    /// Stores a new user; `Ok(false)` when its `name_key` is taken (nothing stored).
    fn create_user(
        &self,
        user: &UserRecord,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The user with this compared name, enabled or not.
    fn user_by_name(
        &self,
        name_key: &str,
    ) -> impl Future<Output = Result<Option<UserRecord>, StoreError>> + Send;

    /// Every user, by compared name.
    fn list_users(&self) -> impl Future<Output = Result<Vec<UserRecord>, StoreError>> + Send;

    /// Replaces a user's password hash and ends all the user's sessions; `Ok(false)` when no
    /// such user.
    fn set_password_hash(
        &self,
        user_id: &str,
        password_hash: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Disables (`Some(time)`, ending all the user's sessions) or enables (`None`) a user;
    /// `Ok(false)` when no such user.
    fn set_disabled(
        &self,
        user_id: &str,
        disabled_at: Option<i64>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Deletes a user and all the user's sessions; `Ok(false)` when no such user.
    fn delete_user(&self, user_id: &str) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Stores a new session.
    fn create_session(
        &self,
        session: &SessionRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The session `session_id` of `user_id` if it exists, has not expired at `now` and its
    /// user is enabled: the check every request with a token makes.
    fn active_session(
        &self,
        session_id: &str,
        user_id: &str,
        now: i64,
    ) -> impl Future<Output = Result<Option<ActiveSession>, StoreError>> + Send;

    /// Moves a session's expiry to `expires_at`; `Ok(false)` when it no longer exists.
    fn extend_session(
        &self,
        session_id: &str,
        expires_at: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Ends one session (a logout); `Ok(false)` when it did not exist. Sessions expired before
    /// `now` are swept in passing.
    fn delete_session(
        &self,
        session_id: &str,
        now: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}
