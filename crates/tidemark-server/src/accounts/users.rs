//! Administration of accounts (the `tidemark-server user …` commands, and sign-up): add,
//! change password, disable, enable, delete, list. Every revoking change ends the user's
//! sessions in the same transaction.

use super::AuthError;
use super::names::{UserName, comparison_key};
use super::password::{self, Password};
use super::storage::{AccountStore, UserRecord};

/// Creates a user named `name` with `password`.
pub async fn add_user<S: AccountStore>(
    store: &S,
    name: &str,
    password: Password,
) -> Result<UserRecord, AuthError> {
    let name = UserName::parse(name)?;
    let hash = password::hash(password)
        .await
        .map_err(|e| AuthError::Internal(e.to_string()))?;
    let user = UserRecord {
        id: uuid::Uuid::new_v4().to_string(),
        name_key: name.key().to_owned(),
        display_name: name.display().to_owned(),
        password_hash: hash,
        created_at: chrono::Utc::now().timestamp(),
        disabled_at: None,
    };
    if !store.create_user(&user).await? {
        return Err(AuthError::NameTaken);
    }
    Ok(user)
}

/// The user named `name` (compared as sign-in compares names).
pub async fn find_user<S: AccountStore>(store: &S, name: &str) -> Result<UserRecord, AuthError> {
    store
        .user_by_name(&comparison_key(name))
        .await?
        .ok_or_else(|| AuthError::NoSuchUser(name.to_owned()))
}

/// Sets `name`'s password; the user's earlier tokens stop working.
pub async fn set_password<S: AccountStore>(
    store: &S,
    name: &str,
    password: Password,
) -> Result<UserRecord, AuthError> {
    let user = find_user(store, name).await?;
    let hash = password::hash(password)
        .await
        .map_err(|e| AuthError::Internal(e.to_string()))?;
    if !store.set_password_hash(&user.id, &hash).await? {
        return Err(AuthError::NoSuchUser(name.to_owned()));
    }
    Ok(user)
}

/// Enables or disables `name`; disabling ends the user's sessions.
pub async fn set_enabled<S: AccountStore>(
    store: &S,
    name: &str,
    enabled: bool,
) -> Result<UserRecord, AuthError> {
    let user = find_user(store, name).await?;
    let disabled_at = (!enabled).then(|| chrono::Utc::now().timestamp());
    if !store.set_disabled(&user.id, disabled_at).await? {
        return Err(AuthError::NoSuchUser(name.to_owned()));
    }
    Ok(user)
}

/// Deletes the account `name` and its sessions (not its rows: see the caller).
pub async fn delete_user<S: AccountStore>(store: &S, name: &str) -> Result<UserRecord, AuthError> {
    let user = find_user(store, name).await?;
    if !store.delete_user(&user.id).await? {
        return Err(AuthError::NoSuchUser(name.to_owned()));
    }
    Ok(user)
}
