//! ETags and `If-Match`: the ETag is the item's version in double quotes, and `If-Match: *`
//! means "no check".

/// The `ETag` header value for a version: the version in double quotes.
pub fn quote_etag(version: &str) -> String {
    format!("\"{version}\"")
}

/// A parsed `If-Match` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfMatch {
    /// `*`: the write goes ahead whatever the current version.
    Any,
    /// The version the client last saw (without quotes).
    Version(String),
}

/// Why an `If-Match` value was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EtagError {
    /// The header was empty or blank.
    #[error("If-Match is empty; send \"<version>\" or *")]
    Empty,
    /// The value was not a single quoted entity tag.
    #[error("If-Match must be a quoted version (\"<version>\") or *")]
    NotQuoted,
    /// The quotes held nothing.
    #[error("If-Match holds an empty version")]
    EmptyVersion,
}

/// Parses an `If-Match` header: `*`, `"v"` or the weak form `W/"v"`.
pub fn parse_if_match(value: &str) -> Result<IfMatch, EtagError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(EtagError::Empty);
    }
    if value == "*" {
        return Ok(IfMatch::Any);
    }
    // Weak tags carry the same version; stock clients and proxies may add the W/ prefix.
    let tag = value.strip_prefix("W/").unwrap_or(value);
    let inner = tag
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .ok_or(EtagError::NotQuoted)?;
    // A quote inside means a list of tags or garbage; neither names one version.
    if inner.contains('"') {
        return Err(EtagError::NotQuoted);
    }
    if inner.is_empty() {
        return Err(EtagError::EmptyVersion);
    }
    Ok(IfMatch::Version(inner.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_wraps_the_version_in_double_quotes() {
        assert_eq!(quote_etag("AAAAAAAAB9E="), "\"AAAAAAAAB9E=\"");
    }

    #[test]
    fn star_means_any() {
        assert_eq!(parse_if_match("*"), Ok(IfMatch::Any));
        assert_eq!(parse_if_match(" * "), Ok(IfMatch::Any));
    }

    #[test]
    fn strong_and_weak_tags_give_the_version() {
        assert_eq!(
            parse_if_match("\"AAAAAAAAB9E=\""),
            Ok(IfMatch::Version("AAAAAAAAB9E=".into()))
        );
        assert_eq!(
            parse_if_match("W/\"abc\""),
            Ok(IfMatch::Version("abc".into()))
        );
    }

    #[test]
    fn garbage_is_rejected() {
        assert_eq!(parse_if_match(""), Err(EtagError::Empty));
        assert_eq!(parse_if_match("abc"), Err(EtagError::NotQuoted));
        assert_eq!(parse_if_match("\"abc"), Err(EtagError::NotQuoted));
        assert_eq!(parse_if_match("\""), Err(EtagError::NotQuoted));
        assert_eq!(parse_if_match("\"a\", \"b\""), Err(EtagError::NotQuoted));
        assert_eq!(parse_if_match("\"\""), Err(EtagError::EmptyVersion));
        assert_eq!(parse_if_match("W/abc"), Err(EtagError::NotQuoted));
    }

    #[test]
    fn quote_then_parse_gives_the_version_back() {
        let v = "MjAyNC0wNS0wMQ==";
        assert_eq!(
            parse_if_match(&quote_etag(v)),
            Ok(IfMatch::Version(v.into()))
        );
    }
}
