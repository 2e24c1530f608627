//! [`Session`]: who the engine syncs as (the token the server gave at sign-in, its user and
//! expiry), and when a token is due for renewal. The token is a secret: `Debug` never shows it.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// The least time left on a token before a sync renews it, unless a tenth of its life is more.
const REFRESH_MARGIN: Duration = Duration::minutes(5);

/// A signed-in user's session with one server: what `RemoteConfig::session` carries and what
/// the app and the CLI save between runs.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    /// The token sent as `X-ZUMO-AUTH` (a secret: never printed, never logged).
    pub token: String,
    /// The server's id of the user (opaque and stable): what a local store is bound to.
    pub user_id: String,
    /// The user's name, when the server said it (not for OIDC users).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    /// When the token stops working, when the server said it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// When this client received the token (by its own clock): with `expires_at`, the token's
    /// life, a tenth of which is the renewal margin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub obtained_at: Option<DateTime<Utc>>,
}

impl Session {
    /// The name to show for the session's user: the user name, else the user id (a user of
    /// an organisation's identity provider has no name here).
    pub fn display_name(&self) -> String {
        self.user_name
            .clone()
            .unwrap_or_else(|| self.user_id.clone())
    }

    /// A session for this token and user, with no known expiry.
    pub fn new(token: impl Into<String>, user_id: impl Into<String>) -> Self {
        Self {
            token: token.into(),
            user_id: user_id.into(),
            user_name: None,
            expires_at: None,
            obtained_at: None,
        }
    }

    /// True when the token has expired by this client's clock at `now`.
    pub fn is_expired_at(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|exp| exp <= now)
    }

    /// True when the token should be renewed before a sync at `now`: less than a tenth of its
    /// life or five minutes left, whichever is more (but never more than half its life, so a
    /// short-lived token is not renewed at every sync right after sign-in). A token with no
    /// known expiry is never renewed; an expired one cannot be (the server refuses it).
    pub fn needs_refresh_at(&self, now: DateTime<Utc>) -> bool {
        let Some(expires) = self.expires_at else {
            return false;
        };
        if expires <= now {
            return false;
        }
        let life = self
            .obtained_at
            .map(|got| expires - got)
            .filter(|life| *life > Duration::zero());
        let margin = match life {
            Some(life) => (life / 10).max(REFRESH_MARGIN).min(life / 2),
            None => REFRESH_MARGIN,
        };
        expires - now < margin
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token never reaches logs.
        f.debug_struct("Session")
            .field("token", &"<redacted>")
            .field("user_id", &self.user_id)
            .field("user_name", &self.user_name)
            .field("expires_at", &self.expires_at)
            .field("obtained_at", &self.obtained_at)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + minutes * 60, 0).unwrap_or_default()
    }

    fn session(obtained: i64, expires: i64) -> Session {
        Session {
            obtained_at: Some(at(obtained)),
            expires_at: Some(at(expires)),
            ..Session::new("t0k3n", "u1")
        }
    }

    #[test]
    fn a_day_long_token_is_renewed_in_its_last_tenth() {
        let s = session(0, 24 * 60);
        assert!(!s.needs_refresh_at(at(20 * 60)));
        assert!(s.needs_refresh_at(at(22 * 60)));
        assert!(!s.needs_refresh_at(at(24 * 60)), "expired: too late");
        assert!(s.is_expired_at(at(24 * 60)));
        assert!(!s.is_expired_at(at(23 * 60)));
    }

    #[test]
    fn a_short_token_is_renewed_in_its_last_five_minutes_or_half() {
        let s = session(0, 30);
        assert!(!s.needs_refresh_at(at(24)));
        assert!(s.needs_refresh_at(at(26)));
        let tiny = session(0, 4);
        assert!(!tiny.needs_refresh_at(at(1)));
        assert!(tiny.needs_refresh_at(at(3)));
    }

    #[test]
    fn a_token_without_expiry_is_never_renewed_and_debug_hides_it() {
        let s = Session::new("t0k3n", "u1");
        assert!(!s.needs_refresh_at(at(0)));
        assert!(!s.is_expired_at(at(0)));
        let shown = format!("{s:?}");
        assert!(!shown.contains("t0k3n"), "{shown}");
        assert!(shown.contains("u1"), "{shown}");
    }
}
