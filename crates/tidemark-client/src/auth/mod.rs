//! Signing in: the client side of the server's `/.auth` routes (sign-in, sign-up, who am I,
//! token renewal, sign-out), with one typed error per answer a person acts on differently.
//! Passwords and tokens go only over https or to this machine (see [`AuthError::Insecure`]).
//!
//! ```text
//! let auth = AuthClient::new(&RemoteConfig::new("https://todo.example.com"))?;
//! let session = auth.sign_in("alice", &password).await?;   // -> Session {token, user_id, ..}
//! auth.me(&session).await?; auth.refresh(&session).await?; auth.logout(&session).await?;
//! ```

mod session;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

pub use self::session::Session;
use crate::error::ClientError;
use crate::remote::{AuthAnswer, RemoteClient, RemoteConfig};

/// The provider name of the server's own accounts (`/.auth/login/tidemark`).
pub const PROVIDER: &str = "tidemark";

/// Why a `/.auth` call failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The user name or the password is wrong (or the user is disabled: the server does not
    /// tell them apart).
    #[error("wrong user name or password")]
    WrongPassword,
    /// Too many failed sign-ins: the server refuses more for a while.
    #[error(
        "too many failed sign-ins; try again {}",
        retry_after.map_or("later".to_string(), |d| format!("in {} s", d.as_secs()))
    )]
    Throttled {
        /// How long to wait, when the server said it (`Retry-After`).
        retry_after: Option<Duration>,
    },
    /// The server does not let people create accounts (an administrator adds them).
    #[error("sign-up is closed on this server: ask its administrator for an account")]
    SignupClosed,
    /// The user name is already taken.
    #[error("the user name is taken: choose another")]
    NameTaken,
    /// The name or password breaks the server's rules (the message says which).
    #[error("{0}")]
    BadInput(String),
    /// The session is missing, expired or revoked: sign in again.
    #[error("sign-in required: {0}")]
    SignInRequired(String),
    /// The server could not be reached.
    #[error("server unreachable: {0}")]
    Unreachable(String),
    /// The password or token would have gone over plain http to another machine: not sent.
    #[error(transparent)]
    Insecure(ClientError),
    /// The server answered something else (an error status, an unreadable body, a redirect...).
    #[error("{0}")]
    Server(String),
}

impl From<ClientError> for AuthError {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Network { message } => AuthError::Unreachable(message),
            ClientError::SignInRequired { reason } => AuthError::SignInRequired(reason),
            e @ ClientError::InsecureTransport { .. } => AuthError::Insecure(e),
            other => AuthError::Server(other.to_string()),
        }
    }
}

impl From<AuthError> for ClientError {
    /// For the engine's own renewal of a token: a refusal means signing in again.
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Insecure(e) => e,
            AuthError::Unreachable(message) => ClientError::Network { message },
            AuthError::SignInRequired(reason) => ClientError::SignInRequired { reason },
            AuthError::WrongPassword => ClientError::SignInRequired {
                reason: "the server refused the session".into(),
            },
            other => ClientError::Protocol {
                message: other.to_string(),
            },
        }
    }
}

/// Who a token belongs to (`GET /.auth/me`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Me {
    /// The user's id.
    pub user_id: String,
    /// The user's name (none for an organisation's identity provider's users).
    #[serde(default)]
    pub user_name: Option<String>,
    /// `tidemark` (the server's own accounts) or `oidc`.
    #[serde(default)]
    pub provider: Option<String>,
    /// When the token expires.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

/// The answer to a sign-in, sign-up or renewal (the App Service shape plus the expiry).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LoginAnswer {
    authentication_token: String,
    user: LoginUser,
    #[serde(default)]
    expires_at: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LoginUser {
    user_id: String,
    #[serde(default)]
    user_name: Option<String>,
}

/// The client of one server's `/.auth` routes.
#[derive(Debug, Clone)]
pub struct AuthClient {
    remote: Arc<RemoteClient>,
}

impl AuthClient {
    /// A client for the server of `config` (its URL, application key, timeouts); its session,
    /// if any, is not used: each call names the session it is about.
    pub fn new(config: &RemoteConfig) -> Result<Self, AuthError> {
        let mut config = config.clone();
        config.session = None;
        Ok(Self {
            remote: RemoteClient::new(config)?,
        })
    }

    /// Signs in with a user name and password (`POST /.auth/login/tidemark`).
    pub async fn sign_in(&self, user_name: &str, password: &str) -> Result<Session, AuthError> {
        let body = json!({"username": user_name, "password": password});
        let answer = self
            .remote
            .auth_call(Method::POST, &["login", PROVIDER], Some(&body), None)
            .await?;
        session_from(answer)
    }

    /// Creates an account and signs in (`POST /.auth/signup`), when the server allows it.
    pub async fn sign_up(&self, user_name: &str, password: &str) -> Result<Session, AuthError> {
        let body = json!({"username": user_name, "password": password});
        let answer = self
            .remote
            .auth_call(Method::POST, &["signup"], Some(&body), None)
            .await?;
        session_from(answer)
    }

    /// Whether the server lets anyone create an account, as its `/$capabilities` say; `None`
    /// when it does not say (a server without that document).
    pub async fn signup_allowed(&self) -> Result<Option<bool>, AuthError> {
        Ok(self.remote.capabilities().await?.map(|c| c.signup))
    }

    /// Who the session's token belongs to, as the server sees it (`GET /.auth/me`).
    pub async fn me(&self, session: &Session) -> Result<Me, AuthError> {
        let answer = self
            .remote
            .auth_call(Method::GET, &["me"], None, Some(&session.token))
            .await?;
        let answer = success(answer)?;
        serde_json::from_str(&answer.body)
            .map_err(|e| AuthError::Server(format!("unreadable answer to /.auth/me: {e}")))
    }

    /// A new token for a session still valid (`POST /.auth/refresh`): same user, later expiry.
    pub async fn refresh(&self, session: &Session) -> Result<Session, AuthError> {
        let answer = self
            .remote
            .auth_call(Method::POST, &["refresh"], None, Some(&session.token))
            .await?;
        let mut renewed = session_from(answer)?;
        if renewed.user_name.is_none() {
            renewed.user_name.clone_from(&session.user_name);
        }
        Ok(renewed)
    }

    /// Ends the session on the server (`POST /.auth/logout`): its token stops working
    /// everywhere. A token already refused counts as ended.
    pub async fn logout(&self, session: &Session) -> Result<(), AuthError> {
        let answer = self
            .remote
            .auth_call(Method::POST, &["logout"], None, Some(&session.token))
            .await?;
        match success(answer) {
            Ok(_) | Err(AuthError::SignInRequired(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// The answer when it is a success, the typed error its status means otherwise.
fn success(answer: AuthAnswer) -> Result<AuthAnswer, AuthError> {
    let said = || crate::remote::error_text(&answer.body);
    Err(match answer.status {
        200..=299 => return Ok(answer),
        401 if said().starts_with("wrong") => AuthError::WrongPassword,
        401 => AuthError::SignInRequired(said()),
        429 => AuthError::Throttled {
            retry_after: answer.retry_after,
        },
        403 => AuthError::SignupClosed,
        409 => AuthError::NameTaken,
        400 | 422 => AuthError::BadInput(said()),
        status => AuthError::Server(format!("the server answered {status}: {}", said())),
    })
}

/// The session of a sign-in, sign-up or renewal answer.
fn session_from(answer: AuthAnswer) -> Result<Session, AuthError> {
    let answer = success(answer)?;
    let login: LoginAnswer = serde_json::from_str(&answer.body)
        .map_err(|e| AuthError::Server(format!("unreadable sign-in answer: {e}")))?;
    Ok(Session {
        token: login.authentication_token,
        user_id: login.user.user_id,
        user_name: login.user.user_name,
        expires_at: login.expires_at,
        obtained_at: Some(Utc::now()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> AuthAnswer {
        AuthAnswer {
            status,
            retry_after: (status == 429).then(|| Duration::from_secs(42)),
            body: body.into(),
        }
    }

    #[test]
    fn each_refusal_has_its_own_error() {
        let e = |status, body| success(answer(status, body)).err();
        let wrong = r#"{"error":"wrong user name or password"}"#;
        assert!(matches!(e(401, wrong), Some(AuthError::WrongPassword)));
        assert!(matches!(
            e(401, r#"{"error":"sign-in required: expired"}"#),
            Some(AuthError::SignInRequired(r)) if r == "expired"
        ));
        let throttled = e(429, r#"{"error":"too many"}"#);
        assert!(
            matches!(&throttled, Some(AuthError::Throttled { retry_after: Some(d) }) if d.as_secs() == 42)
        );
        assert!(throttled.is_some_and(|t| t.to_string().contains("42 s")));
        assert!(matches!(e(403, "{}"), Some(AuthError::SignupClosed)));
        assert!(matches!(e(409, "{}"), Some(AuthError::NameTaken)));
        assert!(matches!(
            e(400, r#"{"error":"the password must have at least 8 characters"}"#),
            Some(AuthError::BadInput(m)) if m.contains("8 characters")
        ));
        assert!(matches!(e(500, "boom"), Some(AuthError::Server(m)) if m.contains("500")));
    }

    #[test]
    fn a_sign_in_answer_becomes_a_session() {
        let body = r#"{"authenticationToken":"jwt","user":{"userId":"u1","userName":"alice"},
                       "expiresAt":"2030-01-01T00:00:00Z"}"#;
        let s = session_from(answer(200, body)).unwrap();
        assert_eq!((s.token.as_str(), s.user_id.as_str()), ("jwt", "u1"));
        assert_eq!(s.user_name.as_deref(), Some("alice"));
        assert!(s.expires_at.is_some() && s.obtained_at.is_some());
        // The App Service shape alone (no name, no expiry) is enough.
        let bare = r#"{"authenticationToken":"jwt","user":{"userId":"u1"}}"#;
        assert!(session_from(answer(200, bare)).is_ok());
        assert!(matches!(
            session_from(answer(200, "{}")),
            Err(AuthError::Server(_))
        ));
    }
}
