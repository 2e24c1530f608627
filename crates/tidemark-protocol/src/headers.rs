//! Header and query-parameter names of the protocol, the API-version check, our idempotency
//! header, and the capabilities document of our server.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The API version header (HTTP header names are case-insensitive; written lowercase).
pub const API_VERSION_HEADER: &str = "zumo-api-version";
/// The query parameter a client may use instead of the header (stock clients write it so).
pub const API_VERSION_QUERY: &str = "ZUMO-API-VERSION";
/// The API version this crate speaks.
pub const SUPPORTED_API_VERSION: &str = "2.0.0";
/// The application key header.
pub const APPLICATION_KEY_HEADER: &str = "x-zumo-application";
/// The user token header.
pub const AUTH_HEADER: &str = "x-zumo-auth";
/// Our idempotency header: `<operation id>:<op version>` (see [`OperationTag`]).
pub const OPERATION_HEADER: &str = "x-tidemark-operation";
/// The path under which every table lives (`/tables/{table}`, `/tables/{table}/{id}`).
pub const TABLES_PATH: &str = "/tables";
/// The path of our server's capabilities document (stock servers answer 404 there).
pub const CAPABILITIES_PATH: &str = "/$capabilities";

/// The only major API version this crate speaks.
const SUPPORTED_MAJOR: u64 = 2;

/// Why a request's API version is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiVersionError {
    /// Neither the header nor the query parameter was given.
    #[error(
        "missing API version: send `ZUMO-API-VERSION: {SUPPORTED_API_VERSION}` as a header or query parameter"
    )]
    Missing,
    /// A version was given, but not one of major version 2.
    #[error("unsupported API version '{0}': send `ZUMO-API-VERSION: {SUPPORTED_API_VERSION}`")]
    Unsupported(String),
}

/// Accepts any `2`, `2.x` or `2.x.y` version (as stock servers do) and rejects the rest.
pub fn check_api_version(value: Option<&str>) -> Result<(), ApiVersionError> {
    let Some(raw) = value else {
        return Err(ApiVersionError::Missing);
    };
    let version = raw.trim();
    if version.is_empty() {
        return Err(ApiVersionError::Missing);
    }
    let parts: Vec<&str> = version.split('.').collect();
    let numeric = parts.len() <= 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let major = parts.first().and_then(|p| p.parse::<u64>().ok());
    if numeric && major == Some(SUPPORTED_MAJOR) {
        Ok(())
    } else {
        // Echo at most a short prefix so a hostile header cannot bloat the error body.
        Err(ApiVersionError::Unsupported(raw.chars().take(32).collect()))
    }
}

/// The value of [`OPERATION_HEADER`]: which queued operation, at which of its versions, a
/// write request carries, so our server can apply it at most once.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OperationTag {
    /// The client's id of the queued operation.
    pub operation_id: String,
    /// The operation's version (it grows when the queued operation is collapsed or edited).
    pub version: u64,
}

/// Why an [`OPERATION_HEADER`] value was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OperationTagError {
    /// There is no `:` separating the id from the version.
    #[error("operation tag must be '<operation id>:<op version>'")]
    MissingSeparator,
    /// The id part is empty.
    #[error("operation tag has an empty operation id")]
    EmptyId,
    /// The id part contains whitespace or control characters.
    #[error("operation tag's operation id contains whitespace or control characters")]
    InvalidId,
    /// The version part is not a non-negative integer.
    #[error("operation tag's version is not a non-negative integer")]
    InvalidVersion,
}

impl OperationTag {
    /// A tag for the given operation and version.
    pub fn new(operation_id: impl Into<String>, version: u64) -> Self {
        Self {
            operation_id: operation_id.into(),
            version,
        }
    }

    /// Parses the wire form `<operation id>:<op version>`; the last `:` separates the two.
    pub fn parse(value: &str) -> Result<Self, OperationTagError> {
        let (id, version) = value
            .trim()
            .rsplit_once(':')
            .ok_or(OperationTagError::MissingSeparator)?;
        if id.is_empty() {
            return Err(OperationTagError::EmptyId);
        }
        if id.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(OperationTagError::InvalidId);
        }
        if version.is_empty() || !version.bytes().all(|b| b.is_ascii_digit()) {
            return Err(OperationTagError::InvalidVersion);
        }
        let version = version
            .parse()
            .map_err(|_| OperationTagError::InvalidVersion)?;
        Ok(Self::new(id, version))
    }
}

impl fmt::Display for OperationTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.operation_id, self.version)
    }
}

impl std::str::FromStr for OperationTag {
    type Err = OperationTagError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The JSON body of our server's `GET /$capabilities`: which extensions it offers. Missing
/// fields read as "not offered", so older servers and newer clients get along.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Capabilities {
    /// Writes carrying [`OPERATION_HEADER`] are applied at most once.
    pub idempotent_writes: bool,
    /// `POST /$batch` is available (see [`crate::batch`]).
    pub batch: bool,
    /// The most operations one `POST /$batch` may carry (0 when there is no batch endpoint).
    pub max_batch_operations: u64,
    /// The largest `$top` the server accepts.
    pub max_top: u64,
    /// `GET /tables/{table}/$changes` is available.
    pub changes_feed: bool,
    /// Table and batch requests need a signed-in caller's token (`X-ZUMO-AUTH`).
    pub auth_required: bool,
    /// Anyone may create an account with `POST /.auth/signup`.
    pub signup: bool,
    /// `GET /$checksum/{table}` is available (see [`crate::checksum`]).
    pub checksum: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_two_is_accepted() {
        assert_eq!(check_api_version(Some("2.0.0")), Ok(()));
        assert_eq!(check_api_version(Some("2.1.3")), Ok(()));
        assert_eq!(check_api_version(Some(" 2.0 ")), Ok(()));
        assert_eq!(check_api_version(Some("2")), Ok(()));
    }

    #[test]
    fn missing_version_says_what_to_send() {
        let err = check_api_version(None).err().map(|e| e.to_string());
        assert!(err.is_some_and(|m| m.contains("ZUMO-API-VERSION: 2.0.0")));
        assert_eq!(check_api_version(Some("")), Err(ApiVersionError::Missing));
    }

    #[test]
    fn other_versions_are_rejected_with_what_to_send() {
        for v in ["1.0.0", "3.0.0", "20.0.0", "2.0.0.1", "2.x", "two", "2..0"] {
            let err = check_api_version(Some(v)).err().map(|e| e.to_string());
            assert!(
                err.as_deref()
                    .is_some_and(|m| m.contains("ZUMO-API-VERSION: 2.0.0")),
                "{v}: {err:?}"
            );
        }
    }

    #[test]
    fn operation_tag_round_trips() {
        let tag = OperationTag::new("6f1c2a", 3);
        assert_eq!(tag.to_string(), "6f1c2a:3");
        assert_eq!(OperationTag::parse("6f1c2a:3"), Ok(tag));
    }

    #[test]
    fn operation_tag_splits_at_the_last_colon() {
        assert_eq!(
            OperationTag::parse("urn:op:7:12"),
            Ok(OperationTag::new("urn:op:7", 12))
        );
    }

    #[test]
    fn malformed_operation_tags_are_rejected() {
        use OperationTagError::*;
        assert_eq!(OperationTag::parse("abc"), Err(MissingSeparator));
        assert_eq!(OperationTag::parse(":1"), Err(EmptyId));
        assert_eq!(OperationTag::parse("a b:1"), Err(InvalidId));
        assert_eq!(OperationTag::parse("a:"), Err(InvalidVersion));
        assert_eq!(OperationTag::parse("a:-1"), Err(InvalidVersion));
        assert_eq!(OperationTag::parse("a:+1"), Err(InvalidVersion));
        assert_eq!(
            OperationTag::parse("a:99999999999999999999999"),
            Err(InvalidVersion)
        );
    }

    #[test]
    fn capabilities_use_camel_case() {
        let caps = Capabilities {
            idempotent_writes: true,
            batch: true,
            max_batch_operations: 1000,
            max_top: 10_000,
            changes_feed: false,
            auth_required: true,
            signup: false,
            checksum: true,
        };
        let json = serde_json::to_value(&caps).ok();
        assert_eq!(
            json,
            Some(serde_json::json!({
                "idempotentWrites": true, "batch": true, "maxBatchOperations": 1000,
                "maxTop": 10000, "changesFeed": false, "authRequired": true, "signup": false,
                "checksum": true
            }))
        );
    }

    #[test]
    fn capabilities_tolerate_missing_and_unknown_fields() {
        let caps: Option<Capabilities> =
            serde_json::from_str(r#"{"batch": true, "futureThing": 1}"#).ok();
        assert_eq!(
            caps,
            Some(Capabilities {
                batch: true,
                ..Capabilities::default()
            })
        );
    }
}
