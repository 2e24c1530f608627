//! [`Owner`]: whose rows a store call reads and writes. Every item and operation record belongs
//! to exactly one owner, and a store call sees only the rows of the owner it is given.
//!
//! In the database an owner is a small integer, its key in the `owners` table: the keys of
//! items, of the change index and of operation records carry it instead of the user id (36
//! bytes for an own account, more for an organisation's), so they are no longer than before
//! accounts. A key is given once and never changed, reused or removed, so every process may
//! keep the keys it has seen ([`OwnerKeys`]).

use std::collections::HashMap;
use std::fmt;
use std::sync::{PoisonError, RwLock};

/// Whose rows a store call reads and writes: a user's, or nobody's (the shared list).
///
/// A row of another owner is exactly like a row that does not exist, so ids and operation tags
/// are unique per (table, owner), never across owners.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Owner(String);

impl Owner {
    /// The rows of nobody: the single shared list of a server without accounts (`--no-auth`),
    /// and every row of a database from before accounts. Stored as the empty string.
    pub const fn unowned() -> Self {
        Self(String::new())
    }

    /// The rows of the user `id` (an own account's UUID, or `oidc:<issuer>#<sub>`). An empty
    /// id is the same as [`Owner::unowned`]; account ids never are.
    pub fn user(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The owner as stored in the `owner` column.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True for [`Owner::unowned`].
    pub fn is_unowned(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_unowned() {
            f.write_str("nobody (unowned rows)")
        } else {
            write!(f, "user '{}'", self.0)
        }
    }
}

/// The key of nobody's rows ([`Owner::unowned`]) in every database.
pub(crate) const UNOWNED_KEY: i64 = 0;

/// The key no row has: a read of an owner without a key (who never wrote) uses it and finds
/// nothing, as it should.
pub(crate) const NO_ROWS_KEY: i64 = -1;

/// The owner keys a store has seen, so that a request does not look its owner up again.
#[derive(Debug, Default)]
pub(crate) struct OwnerKeys {
    known: RwLock<HashMap<String, i64>>,
}

impl OwnerKeys {
    /// `owner`'s key, when known without asking the database.
    pub(crate) fn known(&self, owner: &Owner) -> Option<i64> {
        if owner.is_unowned() {
            return Some(UNOWNED_KEY);
        }
        let known = self.known.read().unwrap_or_else(PoisonError::into_inner);
        known.get(owner.as_str()).copied()
    }

    /// Keeps `owner`'s `key`, read from the database where it was committed.
    pub(crate) fn remember(&self, owner: &Owner, key: i64) {
        let mut known = self.known.write().unwrap_or_else(PoisonError::into_inner);
        known.insert(owner.as_str().to_owned(), key);
    }

    /// `owner`'s key: the known one, else what `fetch` reads from the database (remembered
    /// when there is one; `None` means the owner has no key yet).
    pub(crate) async fn resolve<E, F>(&self, owner: &Owner, fetch: F) -> Result<Option<i64>, E>
    where
        F: Future<Output = Result<Option<i64>, E>>,
    {
        if let Some(key) = self.known(owner) {
            return Ok(Some(key));
        }
        let found = fetch.await?;
        if let Some(key) = found {
            self.remember(owner, key);
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unowned_is_the_empty_string_and_users_are_their_id() {
        assert_eq!(Owner::unowned().as_str(), "");
        assert!(Owner::unowned().is_unowned());
        assert_eq!(Owner::user("u-1").as_str(), "u-1");
        assert!(!Owner::user("u-1").is_unowned());
        assert_ne!(Owner::user("u-1"), Owner::unowned());
        assert_eq!(Owner::user("u-1").to_string(), "user 'u-1'");
    }

    #[test]
    fn keys_are_known_once_remembered_and_nobody_is_always_zero() {
        let keys = OwnerKeys::default();
        assert_eq!(keys.known(&Owner::unowned()), Some(UNOWNED_KEY));
        assert_eq!(keys.known(&Owner::user("u-1")), None);
        keys.remember(&Owner::user("u-1"), 7);
        assert_eq!(keys.known(&Owner::user("u-1")), Some(7));
        assert_eq!(keys.known(&Owner::user("u-2")), None);
    }
}
