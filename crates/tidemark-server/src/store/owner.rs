//! [`Owner`]: whose rows a store call reads and writes. Every item and operation record belongs
//! to exactly one owner, and a store call sees only the rows of the owner it is given.

use std::fmt;

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
}
