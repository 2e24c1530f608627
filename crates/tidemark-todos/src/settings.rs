//! Where the todo store lives and which inputs are acceptable: the rules the CLI and the app
//! must agree on, so that both open the same file and refuse the same text.

use std::path::PathBuf;

use crate::{MAX_TEXT_CHARS, TodoError};

/// The desktop app's bundle identifier; its data directory is `<XDG data dir>/<identifier>`,
/// which is also the CLI's default so both work on one store.
pub const APP_IDENTIFIER: &str = "io.tidemark.app";

/// The name of the SQLite store file inside the data directory.
pub const STORE_FILE_NAME: &str = "tidemark.db";

/// The default data directory shared by the app and the CLI (`~/.local/share/io.tidemark.app`
/// on Linux), or `None` when the platform has no data directory (no `HOME`).
pub fn default_data_dir() -> Option<PathBuf> {
    dirs::data_dir().map(|dir| dir.join(APP_IDENTIFIER))
}

/// Checks a todo text and returns it trimmed: not blank, at most [`MAX_TEXT_CHARS`] characters.
pub fn validate_text(text: &str) -> Result<String, TodoError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(TodoError::InvalidText(
            "the text of a todo cannot be empty".into(),
        ));
    }
    let chars = trimmed.chars().count();
    if chars > MAX_TEXT_CHARS {
        return Err(TodoError::InvalidText(format!(
            "the text of a todo is limited to {MAX_TEXT_CHARS} characters (this one has {chars})"
        )));
    }
    Ok(trimmed.to_owned())
}

/// Checks a server URL (absolute, `http` or `https`, with a host, no query or fragment) and
/// returns it without a trailing slash, the form the engine joins paths onto.
pub fn normalize_server_url(url: &str) -> Result<String, TodoError> {
    let invalid = |reason: &str| TodoError::InvalidServerUrl {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let trimmed = url.trim();
    if trimmed.is_empty() {
        return Err(invalid("it is empty"));
    }
    let parsed = reqwest::Url::parse(trimmed).map_err(|e| invalid(&e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid("it must start with http:// or https://"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(invalid("it has no host"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(invalid("it must not have a query or a fragment"));
    }
    Ok(parsed.as_str().trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_trimmed() {
        assert_eq!(validate_text("  Buy milk \n").unwrap(), "Buy milk");
    }

    #[test]
    fn blank_text_is_refused() {
        for text in ["", "   ", "\n\t"] {
            assert!(matches!(
                validate_text(text),
                Err(TodoError::InvalidText(_))
            ));
        }
    }

    #[test]
    fn text_longer_than_the_limit_is_refused_and_the_limit_is_accepted() {
        assert!(validate_text(&"é".repeat(MAX_TEXT_CHARS)).is_ok());
        let err = validate_text(&"é".repeat(MAX_TEXT_CHARS + 1)).unwrap_err();
        assert!(err.to_string().contains("1000"), "{err}");
    }

    #[test]
    fn server_urls_are_normalised() {
        assert_eq!(
            normalize_server_url(" http://127.0.0.1:8080/ ").unwrap(),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            normalize_server_url("https://example.org/mobile/").unwrap(),
            "https://example.org/mobile"
        );
    }

    #[test]
    fn bad_server_urls_are_refused() {
        for url in [
            "",
            "localhost:8080",
            "ftp://example.org",
            "http://",
            "http://h/?a=1",
            "not a url",
        ] {
            assert!(
                matches!(
                    normalize_server_url(url),
                    Err(TodoError::InvalidServerUrl { .. })
                ),
                "{url:?} was accepted"
            );
        }
    }

    #[test]
    fn default_data_dir_ends_with_the_app_identifier() {
        if let Some(dir) = default_data_dir() {
            assert!(dir.ends_with(APP_IDENTIFIER));
        }
    }
}
