//! [`AccountService`]: sign-up, sign-in, the check every request's token passes, refresh and
//! logout, over any [`AccountStore`].

use std::fmt;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::names::{NameError, comparison_key};
use super::oidc::{OidcError, OidcVerifier};
use super::password::{self, Password, PasswordError};
use super::storage::{AccountStore, SessionRecord, UserRecord};
use super::throttle::Throttle;
use super::token::{TokenError, TokenSigner, unverified_issuer};
use super::{AccountsConfig, users};
use crate::store::{Owner, StoreError};

/// Why an accounts request failed; the HTTP layer turns each into its status and body.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Unknown user, wrong password or disabled user: one answer for all three.
    #[error("wrong user name or password")]
    WrongCredentials,
    /// Too many failed sign-ins; retry after this long.
    #[error("too many failed sign-ins; try again in {} s", retry_secs(*.0))]
    Throttled(Duration),
    /// Sign-up over HTTP is closed.
    #[error("sign-up is closed on this server")]
    SignupClosed,
    /// The user name is taken.
    #[error("the user name is taken")]
    NameTaken,
    /// The user name breaks a rule.
    #[error(transparent)]
    BadName(#[from] NameError),
    /// The password breaks a rule.
    #[error(transparent)]
    BadPassword(#[from] PasswordError),
    /// A request needing a signed-in caller has no valid token; the reason in plain words.
    #[error("sign-in required: {0}")]
    SignInRequired(String),
    /// The request cannot be served for this kind of identity.
    #[error("{0}")]
    NotForThisIdentity(String),
    /// The server runs without accounts (`--no-auth`).
    #[error("this server runs without accounts (--no-auth): no sign-in is needed")]
    NoAccounts,
    /// Administration named a user that does not exist.
    #[error("no user named '{0}'")]
    NoSuchUser(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Something failed on our side (hashing, signing).
    #[error("{0}")]
    Internal(String),
}

/// Whole seconds to wait, rounded up, at least 1.
pub fn retry_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

/// Who a valid token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The owner id of the caller's rows: a user id, or `oidc:<issuer>#<sub>`.
    pub user_id: String,
    /// The user name as typed (own accounts only).
    pub user_name: Option<String>,
    /// The session (own accounts only; OIDC tokens have none of ours).
    pub session_id: Option<String>,
    /// When the token (own accounts: the session) expires, Unix seconds.
    pub expires_at: i64,
}

impl Identity {
    /// Whose rows this caller reads and writes.
    pub fn owner(&self) -> Owner {
        Owner::user(self.user_id.clone())
    }

    /// `"tidemark"` for own accounts, `"oidc"` for the identity provider's users.
    pub fn provider(&self) -> &'static str {
        if self.session_id.is_some() {
            "tidemark"
        } else {
            "oidc"
        }
    }
}

/// A successful sign-in, sign-up or refresh: the token and who it is for. `Debug` hides the
/// token.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedIn {
    /// The signed token.
    pub token: String,
    /// The user id.
    pub user_id: String,
    /// The user name as typed.
    pub user_name: String,
    /// When the token expires, Unix seconds.
    pub expires_at: i64,
}

impl fmt::Debug for SignedIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedIn")
            .field("token", &"<redacted>")
            .field("user_id", &self.user_id)
            .field("user_name", &self.user_name)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// The accounts side of one server process: token signer, throttle, OIDC verifier.
#[derive(Debug)]
pub struct AccountService {
    signer: TokenSigner,
    lifetime: i64,
    signup_open: bool,
    throttle: Throttle,
    /// The configured issuer and its verifier.
    oidc: Option<(String, OidcVerifier)>,
}

/// The current time, Unix seconds.
fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

impl AccountService {
    /// The service `config` describes; fails when the key or the OIDC settings are unusable.
    pub fn new(config: &AccountsConfig) -> Result<Self, String> {
        let oidc_error = |e: OidcError| format!("OIDC: {e}");
        Ok(Self {
            signer: TokenSigner::new(&config.token_key)?,
            lifetime: i64::try_from(config.token_lifetime.as_secs()).unwrap_or(i64::MAX),
            signup_open: config.signup_open,
            throttle: Throttle::new(config.throttle),
            oidc: match &config.oidc {
                Some(oidc) => Some((
                    oidc.issuer.clone(),
                    OidcVerifier::new(oidc.clone()).map_err(oidc_error)?,
                )),
                None => None,
            },
        })
    }

    /// Whether `POST /.auth/signup` is open.
    pub fn signup_open(&self) -> bool {
        self.signup_open
    }

    /// Creates an account and signs it in (only when sign-up is open).
    pub async fn sign_up<S: AccountStore>(
        &self,
        store: &S,
        name: &str,
        password: String,
    ) -> Result<SignedIn, AuthError> {
        if !self.signup_open {
            return Err(AuthError::SignupClosed);
        }
        let user = users::add_user(store, name, Password::new(password)?).await?;
        self.start_session(store, &user).await
    }

    /// Signs in with a user name and password from `address`. Unknown users cost the same
    /// hash as known ones, and every failure answers [`AuthError::WrongCredentials`].
    pub async fn sign_in<S: AccountStore>(
        &self,
        store: &S,
        name: &str,
        password: String,
        address: IpAddr,
    ) -> Result<SignedIn, AuthError> {
        let key = comparison_key(name);
        // Log lines name the address and user id only: never the typed name (people type
        // their password into it), the password or a token.
        self.throttle
            .check(&key, address, Instant::now())
            .map_err(|wait| {
                log::warn!("sign-in from {address} refused: too many failed sign-ins");
                AuthError::Throttled(wait)
            })?;
        let password = Password::given(password)?;
        let user = store.user_by_name(&key).await?;
        let hash = user.as_ref().map(|u| u.password_hash.clone());
        let matches = password::verify(password, hash)
            .await
            .map_err(|e| AuthError::Internal(e.to_string()))?;
        match user {
            Some(user) if matches && user.disabled_at.is_none() => {
                self.throttle.succeeded(&key);
                log::debug!("user {} signed in from {address}", user.id);
                self.start_session(store, &user).await
            }
            _ => {
                self.throttle.failed(&key, address, Instant::now());
                log::info!("failed sign-in from {address}");
                Err(AuthError::WrongCredentials)
            }
        }
    }

    /// A new session of `user` and its first token.
    async fn start_session<S: AccountStore>(
        &self,
        store: &S,
        user: &UserRecord,
    ) -> Result<SignedIn, AuthError> {
        let now = now_secs();
        let session = SessionRecord {
            id: uuid::Uuid::new_v4().to_string(),
            user_id: user.id.clone(),
            created_at: now,
            expires_at: now.saturating_add(self.lifetime),
        };
        store.create_session(&session).await?;
        let token = self
            .signer
            .issue(&user.id, &session.id, now, session.expires_at)
            .map_err(AuthError::Internal)?;
        Ok(SignedIn {
            token,
            user_id: user.id.clone(),
            user_name: user.display_name.clone(),
            expires_at: session.expires_at,
        })
    }

    /// Who `token` belongs to: its signature and claims are checked, then that its session
    /// still exists and its user is enabled. A token of the configured OIDC issuer goes to
    /// the OIDC verifier instead.
    pub async fn authenticate<S: AccountStore>(
        &self,
        store: &S,
        token: &str,
    ) -> Result<Identity, AuthError> {
        if let Some((issuer, oidc)) = &self.oidc
            && unverified_issuer(token).is_some_and(|iss| iss == *issuer)
        {
            let identity = oidc
                .verify(token)
                .await
                .map_err(|e| AuthError::SignInRequired(format!("the token was refused: {e}")))?;
            return Ok(Identity {
                user_id: identity.owner_id(),
                user_name: None,
                session_id: None,
                expires_at: identity.expires_at,
            });
        }
        let claims = self.signer.verify(token).map_err(|e| match e {
            TokenError::Expired => AuthError::SignInRequired("the token has expired".into()),
            TokenError::Invalid => AuthError::SignInRequired("the token is not valid".into()),
        })?;
        let session = store
            .active_session(&claims.sid, &claims.sub, now_secs())
            .await?
            .ok_or_else(|| {
                AuthError::SignInRequired(
                    "the session has ended (signed out, password changed, or account disabled \
                     or deleted)"
                        .into(),
                )
            })?;
        Ok(Identity {
            user_id: session.user_id,
            user_name: Some(session.display_name),
            session_id: Some(claims.sid),
            expires_at: session.expires_at,
        })
    }

    /// A new token for `identity`'s session, which lives on for another token lifetime.
    pub async fn refresh<S: AccountStore>(
        &self,
        store: &S,
        identity: &Identity,
    ) -> Result<SignedIn, AuthError> {
        let sid = identity.session_id.as_deref().ok_or_else(|| {
            AuthError::NotForThisIdentity(
                "tokens of the organisation's identity provider are renewed by that provider"
                    .into(),
            )
        })?;
        let now = now_secs();
        let expires_at = now.saturating_add(self.lifetime);
        if !store.extend_session(sid, expires_at).await? {
            return Err(AuthError::SignInRequired("the session has ended".into()));
        }
        let token = self
            .signer
            .issue(&identity.user_id, sid, now, expires_at)
            .map_err(AuthError::Internal)?;
        Ok(SignedIn {
            token,
            user_id: identity.user_id.clone(),
            user_name: identity.user_name.clone().unwrap_or_default(),
            expires_at,
        })
    }

    /// Ends `identity`'s session: its tokens stop working on every server process.
    pub async fn logout<S: AccountStore>(
        &self,
        store: &S,
        identity: &Identity,
    ) -> Result<(), AuthError> {
        if let Some(sid) = &identity.session_id {
            store.delete_session(sid, now_secs()).await?;
        }
        Ok(())
    }
}
