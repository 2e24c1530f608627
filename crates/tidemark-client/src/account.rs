//! Whose store this is: a local store belongs to one account on one server. The first sync
//! with a signed-in session binds the store (its `__config`) to that server and user; from
//! then on the store refuses to be opened or synced as anyone else, so nothing queued by one
//! user is ever sent as another. A store never bound (signed out, or a server without
//! accounts) keeps working offline, and its queue goes out with the first signed-in sync.
//! Before a sync, a token close to expiry is renewed here too.

use chrono::Utc;
use rusqlite::Connection;

use crate::auth::{AuthClient, Session};
use crate::context::SyncContext;
use crate::error::{ClientError, Result};
use crate::remote::RemoteConfig;
use crate::store::ops;

/// The `__config` key of the server the store is bound to.
const BOUND_SERVER_KEY: &str = "account|server";
/// The `__config` key of the user id the store is bound to.
const BOUND_USER_KEY: &str = "account|user";

/// The account a store is bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The server's URL (without a trailing slash).
    pub server: String,
    /// The user's id on that server.
    pub user_id: String,
}

/// A server URL in one form for comparisons: parsed (so case and default ports agree) and
/// without a trailing slash.
pub(crate) fn same_server_form(url: &str) -> String {
    let parsed = reqwest::Url::parse(url.trim())
        .map(|u| u.to_string())
        .unwrap_or_else(|_| url.trim().to_string());
    parsed.trim_end_matches('/').to_string()
}

/// The store's binding, if any.
pub(crate) fn read_binding(conn: &Connection) -> Result<Option<Binding>> {
    let server = ops::config_get(conn, BOUND_SERVER_KEY)?;
    let user = ops::config_get(conn, BOUND_USER_KEY)?;
    Ok(server
        .zip(user)
        .map(|(server, user_id)| Binding { server, user_id }))
}

/// Checks that `config` may use a store bound to `binding`, and says what to bind when it is
/// not bound yet. `strict` (a sync) also refuses another server or no session at all; opening
/// (not strict) only refuses another signed-in user or server, so a signed-out store still
/// opens offline.
pub(crate) fn check(
    binding: Option<&Binding>,
    config: &RemoteConfig,
    strict: bool,
) -> Result<Option<Binding>> {
    let server = same_server_form(&config.url);
    let Some(bound) = binding else {
        return Ok(config.session.as_ref().map(|s| Binding {
            server,
            user_id: s.user_id.clone(),
        }));
    };
    let user = config.session.as_ref().map(|s| s.user_id.as_str());
    let wrong = || ClientError::WrongAccount {
        store_server: bound.server.clone(),
        store_user: bound.user_id.clone(),
        server: server.clone(),
        user: user.unwrap_or("signed out").to_string(),
    };
    match user {
        Some(user) if user != bound.user_id || server != bound.server => Err(wrong()),
        Some(_) => Ok(None),
        None if strict && server != bound.server => Err(wrong()),
        None if strict => Err(ClientError::SignInRequired {
            reason: format!(
                "this store belongs to user {} on {}; sign in to sync it",
                bound.user_id, bound.server
            ),
        }),
        None => Ok(None),
    }
}

impl SyncContext {
    /// The account the local store is bound to (`None` until the first signed-in sync).
    pub async fn bound_account(&self) -> Result<Option<Binding>> {
        self.inner.store.call(|c| read_binding(c)).await
    }

    /// What every push and pull does first, here for callers who want it on its own: checks
    /// that the store may sync as the configured session (binding a store not bound yet), and
    /// renews a token close to expiry. Returns the renewed session, for the caller to save (it
    /// is also in [`SyncContext::remote_config`] from now on).
    pub async fn prepare_account(&self) -> Result<Option<Session>> {
        let binding = self.bound_account().await?;
        self.prepare_account_bound(binding).await
    }

    /// [`SyncContext::prepare_account`] with the store's binding already read (a pull reads it
    /// with its pending count, in one trip to the store thread).
    pub(crate) async fn prepare_account_bound(
        &self,
        binding: Option<Binding>,
    ) -> Result<Option<Session>> {
        let config = self.remote_config();
        if let Some(new) = check(binding.as_ref(), &config, true)? {
            log::info!(
                "binding the local store to user {} on {}",
                new.user_id,
                new.server
            );
            self.inner
                .store
                .call(move |c| {
                    let tx = c.transaction()?;
                    ops::config_set(&tx, BOUND_SERVER_KEY, &new.server)?;
                    ops::config_set(&tx, BOUND_USER_KEY, &new.user_id)?;
                    tx.commit()?;
                    Ok(())
                })
                .await?;
        }
        let Some(session) = config.session.as_ref() else {
            return Ok(None);
        };
        if !session.needs_refresh_at(Utc::now()) {
            return Ok(None);
        }
        match AuthClient::new(&config)?.refresh(session).await {
            Ok(renewed) => {
                log::info!("renewed the session of user {}", renewed.user_id);
                let mut config = config.clone();
                config.session = Some(renewed.clone());
                self.set_remote(config)?;
                Ok(Some(renewed))
            }
            // Offline: the sync fails as offline, the token is renewed next time.
            Err(crate::auth::AuthError::Unreachable(message)) => {
                log::info!("cannot renew the session now: {message}");
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(url: &str, user: Option<&str>) -> RemoteConfig {
        let mut c = RemoteConfig::new(url);
        c.session = user.map(|u| Session::new("t", u));
        c
    }

    fn bound(server: &str, user: &str) -> Binding {
        Binding {
            server: server.into(),
            user_id: user.into(),
        }
    }

    #[test]
    fn an_unbound_store_is_bound_by_a_session_only() {
        let c = config("https://h.example/", Some("alice"));
        assert_eq!(
            check(None, &c, true).ok().flatten(),
            Some(bound("https://h.example", "alice"))
        );
        assert_eq!(
            check(None, &config("https://h.example", None), true).ok(),
            Some(None)
        );
    }

    #[test]
    fn a_bound_store_refuses_another_user_or_server() {
        let b = bound("https://h.example", "alice");
        assert_eq!(
            check(Some(&b), &config("https://H.example/", Some("alice")), true).ok(),
            Some(None)
        );
        for (url, user) in [
            ("https://h.example", Some("bob")),
            ("https://other.example", Some("alice")),
        ] {
            for strict in [true, false] {
                let e = check(Some(&b), &config(url, user), strict).err();
                let text = e.as_ref().map(ToString::to_string).unwrap_or_default();
                assert!(
                    matches!(e, Some(ClientError::WrongAccount { .. })),
                    "{url} {user:?}"
                );
                assert!(
                    text.contains("alice") && text.contains("h.example"),
                    "{text}"
                );
            }
        }
        // Signed out: opens, but does not sync.
        let out = config("https://h.example", None);
        assert!(check(Some(&b), &out, false).is_ok());
        assert!(matches!(
            check(Some(&b), &out, true),
            Err(ClientError::SignInRequired { .. })
        ));
        assert!(matches!(
            check(Some(&b), &config("http://127.0.0.1:1", None), true),
            Err(ClientError::WrongAccount { .. })
        ));
    }
}
