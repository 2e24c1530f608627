//! User names: what a valid one is, and how two are compared (Unicode NFKC, then lower-cased),
//! so "Alice", "ALICE" and "Ａｌｉｃｅ" (full-width) are one account.

use unicode_normalization::UnicodeNormalization as _;

/// The longest user name, in characters.
pub const MAX_NAME_CHARS: usize = 64;

/// A valid user name: as typed, and its comparison key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserName {
    display: String,
    key: String,
}

/// Why a user name is refused; the message states the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "a user name is 1-{MAX_NAME_CHARS} characters with no control characters and no spaces \
     at either end"
)]
pub struct NameError;

impl UserName {
    /// Checks `raw` against the rules (1–64 characters, no control characters, no leading or
    /// trailing white space) and computes its comparison key.
    pub fn parse(raw: &str) -> Result<Self, NameError> {
        let chars = raw.chars().count();
        let valid = (1..=MAX_NAME_CHARS).contains(&chars)
            && !raw.chars().any(char::is_control)
            && raw.trim() == raw;
        if !valid {
            return Err(NameError);
        }
        Ok(Self {
            display: raw.to_owned(),
            key: comparison_key(raw),
        })
    }

    /// The name as the user typed it.
    pub fn display(&self) -> &str {
        &self.display
    }

    /// The name as compared and stored unique: NFKC, lower-cased (and normalised again, as
    /// lower-casing can leave a string that is not in NFKC).
    pub fn key(&self) -> &str {
        &self.key
    }
}

/// NFKC, lower-case, NFKC: the form two names are compared in.
pub fn comparison_key(raw: &str) -> String {
    let folded = raw.nfkc().collect::<String>().to_lowercase();
    folded.nfkc().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_and_compatibility_forms_compare_equal() {
        let key = |s: &str| UserName::parse(s).map(|n| n.key().to_owned());
        assert_eq!(key("Alice"), Ok("alice".into()));
        assert_eq!(key("ALICE"), key("alice"));
        assert_eq!(key("Ａｌｉｃｅ"), key("alice"));
        // "é" precomposed and as e + combining accent.
        assert_eq!(key("Zo\u{e9}"), key("Zoe\u{301}"));
        assert_eq!(
            UserName::parse("Alice").map(|n| n.display().to_owned()),
            Ok("Alice".into())
        );
    }

    #[test]
    fn bad_names_are_refused() {
        for bad in ["", " alice", "alice ", "al\nice", "a\u{7}", &"x".repeat(65)] {
            assert_eq!(UserName::parse(bad), Err(NameError), "{bad:?}");
        }
        assert!(UserName::parse(&"é".repeat(64)).is_ok());
        assert!(UserName::parse("mary ann").is_ok());
    }
}
