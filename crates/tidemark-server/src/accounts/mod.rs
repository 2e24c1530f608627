//! Accounts: users kept in the server's own database, sign-in with argon2id password hashes,
//! signed session tokens, and failed sign-in throttling; and the mode switch between a server
//! that requires them and the open single shared list (`--no-auth`).
//!
//! Split by responsibility: [`names`] (what a user name is, how two compare), [`password`]
//! (rules and hashing), [`token`] (JWTs and the key file), [`throttle`], [`storage`] (the
//! [`AccountStore`] both database stores implement), [`service`] (sign-up, sign-in, the
//! per-request check, refresh, logout), [`users`] (administration) and [`oidc`] (tokens of an
//! organisation's identity provider).

pub mod names;
pub mod oidc;
pub mod password;
pub mod service;
pub mod storage;
pub mod throttle;
pub mod token;
pub mod users;

use std::time::Duration;

pub use names::UserName;
pub use oidc::{OidcConfig, OidcIdentity, OidcVerifier};
pub use password::Password;
pub use service::{AccountService, AuthError, Identity, SignedIn};
pub use storage::{AccountStore, ActiveSession, SessionRecord, UserRecord};
pub use throttle::ThrottleConfig;
pub use token::{TokenKey, TokenSigner};

/// Whether a server requires sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthMode {
    /// No sign-in: every caller works on the single shared list (`--no-auth`).
    Open,
    /// Every table and batch request must carry a valid token.
    Accounts(AccountsConfig),
}

impl Default for AuthMode {
    /// Accounts required, with a random in-memory key.
    fn default() -> Self {
        AuthMode::Accounts(AccountsConfig::default())
    }
}

/// How accounts work on a server that requires them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountsConfig {
    /// The key session tokens are signed with (several processes on one database share it).
    pub token_key: TokenKey,
    /// How long a token is valid after sign-in or refresh.
    pub token_lifetime: Duration,
    /// Whether anyone may create an account with `POST /.auth/signup`.
    pub signup_open: bool,
    /// An organisation's identity provider whose tokens are accepted too.
    pub oidc: Option<OidcConfig>,
    /// Failed sign-in limits.
    pub throttle: ThrottleConfig,
}

/// The default token lifetime: one day.
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(86_400);
/// The longest token lifetime accepted: 30 days.
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(30 * 86_400);

impl Default for AccountsConfig {
    fn default() -> Self {
        Self {
            token_key: TokenKey::random(),
            token_lifetime: DEFAULT_TOKEN_LIFETIME,
            signup_open: false,
            oidc: None,
            throttle: ThrottleConfig::default(),
        }
    }
}

impl AccountsConfig {
    /// Checks the lifetime and throttle limits.
    pub fn validate(&self) -> Result<(), String> {
        if self.token_lifetime.as_secs() == 0 || self.token_lifetime > MAX_TOKEN_LIFETIME {
            return Err(format!(
                "token lifetime must be 1 s to {} s",
                MAX_TOKEN_LIFETIME.as_secs()
            ));
        }
        let t = &self.throttle;
        if t.per_name == 0 || t.per_address == 0 || t.window.is_zero() {
            return Err("sign-in throttle limits and window must be at least 1".into());
        }
        Ok(())
    }
}
