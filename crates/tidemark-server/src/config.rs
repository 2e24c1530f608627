//! What a server instance serves and its limits, independent of where the values come from
//! (the binary fills it from flags and environment, tests build it directly).

use std::fmt;
use std::time::Duration;
use tidemark_protocol::odata::params::TOP;

use crate::accounts::AuthMode;

/// The longest table name accepted.
const MAX_TABLE_NAME_LEN: usize = 64;
/// The deepest item nesting that may be configured: a page nests items two levels deeper and
/// serde_json (as most parsers) stops at 128 levels, so this keeps a wide margin.
const MAX_ITEM_DEPTH: usize = 100;

/// The configuration of one server instance.
#[derive(Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// The tables served; any other name in a URL is a 404. Matched case-insensitively.
    pub tables: Vec<String>,
    /// When set, every request must carry it in `X-ZUMO-APPLICATION`.
    pub app_key: Option<String>,
    /// The largest request body accepted, in bytes; larger ones get 413.
    pub max_body_bytes: usize,
    /// The page size of a query without `$top`.
    pub default_page_size: u64,
    /// The largest `$top` accepted; larger ones get 400.
    pub max_top: u64,
    /// Requests taking longer than this are answered 408 (their writes are atomic either way).
    pub request_timeout: Duration,
    /// A connection must deliver a request's complete head (request line and headers) within
    /// this time of starting it, or it is closed: a client dribbling bytes cannot hold a
    /// connection (and its memory) forever. Bodies are bounded by `request_timeout`.
    pub header_read_timeout: Duration,
    /// The most operations one `POST /$batch` may carry; more are answered 400.
    pub max_batch_operations: usize,
    /// How hard responses are gzipped for clients that send `Accept-Encoding: gzip`.
    pub compression: Compression,
    // Query cost limits (issue 14).
    /// A page stops once its items' JSON reaches this many bytes (after at least one item),
    /// whatever `$top` says, and links to the rest: one query's memory stays bounded.
    pub max_page_bytes: usize,
    /// Queries answered at once; more wait briefly, then get 503 with `Retry-After`.
    pub max_concurrent_queries: usize,
    // --- The request edge (issue 14): item shape, origins, hosts, connections. ---
    /// The deepest an item may nest objects and arrays (the item itself is level 1); deeper
    /// items are refused 400, so no client's JSON parser meets one in a page.
    pub max_item_depth: usize,
    /// The largest an item may be stored, in bytes of compact JSON of its properties; well
    /// under `max_body_bytes`, so a page of a few items stays small.
    pub max_item_bytes: usize,
    /// Browser origins (`scheme://host[:port]`) allowed to send requests; a request carrying
    /// any other `Origin` is refused 403. Empty: every browser origin is refused.
    pub allow_origins: Vec<String>,
    /// The URL clients reach this server at (e.g. behind a proxy): its host is accepted in
    /// `Host`, and next-page links are built from it (relative links otherwise).
    pub public_url: Option<String>,
    /// The most connections served at once; further ones wait in the listen backlog.
    pub max_connections: usize,
    /// Serve HTTPS with this certificate and key (reloaded on SIGHUP); plain HTTP when `None`.
    pub tls: Option<crate::tls::TlsConfig>,
    /// Whether callers must sign in (the default) or share one open list.
    pub auth: AuthMode,
}

/// The gzip level of responses (to clients that accept gzip; others always get plain bodies).
///
/// Compression was a third of the server's CPU on a big pull at flate2's default level, while
/// the fastest level still shrinks our JSON pages about sixfold (level 6: eightfold), so
/// `fastest` is the default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Compression {
    /// gzip level 1: most of the size saving for a fraction of the CPU.
    #[default]
    Fastest,
    /// gzip level 6 (zlib's default): bodies a third smaller than `fastest`, for about twice
    /// the compression CPU.
    Default,
    /// gzip level 9: the smallest bodies, for slow links to a server with CPU to spare.
    Best,
    /// Never compress: for servers behind a proxy that compresses, or on a fast local network.
    Off,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            tables: vec!["todoitem".to_owned()],
            app_key: None,
            max_body_bytes: 1024 * 1024,
            default_page_size: 50,
            max_top: 10_000,
            request_timeout: Duration::from_secs(30),
            header_read_timeout: Duration::from_secs(10),
            max_batch_operations: 1000,
            compression: Compression::default(),
            max_page_bytes: 16 * 1024 * 1024,
            max_concurrent_queries: 8,
            max_item_depth: 32,
            max_item_bytes: 256 * 1024,
            allow_origins: Vec::new(),
            public_url: None,
            max_connections: 1024,
            tls: None,
            auth: AuthMode::default(),
        }
    }
}

impl ServerConfig {
    /// The default configuration without accounts ([`AuthMode::Open`]): every caller works on
    /// the single shared list, as `--no-auth` does.
    pub fn open() -> Self {
        Self {
            auth: AuthMode::Open,
            ..Self::default()
        }
    }
}

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The application key is a secret; logs and panics must not show it.
        f.debug_struct("ServerConfig")
            .field("tables", &self.tables)
            .field("app_key", &self.app_key.as_ref().map(|_| "<redacted>"))
            .field("max_body_bytes", &self.max_body_bytes)
            .field("default_page_size", &self.default_page_size)
            .field("max_top", &self.max_top)
            .field("request_timeout", &self.request_timeout)
            .field("header_read_timeout", &self.header_read_timeout)
            .field("max_batch_operations", &self.max_batch_operations)
            .field("compression", &self.compression)
            .field("max_page_bytes", &self.max_page_bytes)
            .field("max_concurrent_queries", &self.max_concurrent_queries)
            .field("max_item_depth", &self.max_item_depth)
            .field("max_item_bytes", &self.max_item_bytes)
            .field("allow_origins", &self.allow_origins)
            .field("public_url", &self.public_url)
            .field("max_connections", &self.max_connections)
            .field("tls", &self.tls)
            .field("auth", &self.auth)
            .finish()
    }
}

/// Why a configuration cannot be served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// No table was declared.
    #[error("no table declared; declare at least one (e.g. --table todoitem)")]
    NoTables,
    /// A table name is not an identifier.
    #[error(
        "table name '{0}' is not an identifier: use 1-{MAX_TABLE_NAME_LEN} ASCII letters, digits \
         and underscores, not starting with a digit"
    )]
    BadTableName(String),
    /// Two declared names differ only in case (URLs match names case-insensitively).
    #[error("table '{0}' is declared twice (names are case-insensitive)")]
    DuplicateTable(String),
    /// A limit is zero or inconsistent.
    #[error("{0}")]
    BadLimit(String),
    /// An allowed origin or the public URL is not a usable URL.
    #[error("{0}")]
    BadUrl(String),
}

impl ServerConfig {
    /// Checks table names and limits.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.tables.is_empty() {
            return Err(ConfigError::NoTables);
        }
        let mut seen: Vec<String> = Vec::new();
        for name in &self.tables {
            if !is_identifier(name) {
                return Err(ConfigError::BadTableName(name.clone()));
            }
            let folded = name.to_ascii_lowercase();
            if seen.contains(&folded) {
                return Err(ConfigError::DuplicateTable(name.clone()));
            }
            seen.push(folded);
        }
        if self.default_page_size == 0 || self.max_top == 0 {
            return Err(ConfigError::BadLimit(format!(
                "page size and max {TOP} must be at least 1"
            )));
        }
        if self.default_page_size > self.max_top {
            return Err(ConfigError::BadLimit(format!(
                "default page size {} exceeds max {TOP} {}",
                self.default_page_size, self.max_top
            )));
        }
        if self.request_timeout.is_zero() || self.header_read_timeout.is_zero() {
            return Err(ConfigError::BadLimit(
                "request and header read timeouts must be longer than zero".into(),
            ));
        }
        if self.max_batch_operations == 0 {
            return Err(ConfigError::BadLimit(
                "max batch operations must be at least 1".into(),
            ));
        }
        if self.max_body_bytes == 0 {
            return Err(ConfigError::BadLimit(
                "max body size must be at least 1 byte".into(),
            ));
        }
        if self.max_page_bytes == 0 || self.max_concurrent_queries == 0 {
            return Err(ConfigError::BadLimit(
                "max page bytes and max concurrent queries must be at least 1".into(),
            ));
        }
        self.validate_edge()
    }

    /// Checks the request-edge settings: item limits, origins, public URL, connections.
    fn validate_edge(&self) -> Result<(), ConfigError> {
        if self.max_item_depth == 0 || self.max_item_depth > MAX_ITEM_DEPTH {
            return Err(ConfigError::BadLimit(format!(
                "max item depth must be 1-{MAX_ITEM_DEPTH} (JSON parsers stop at 128 levels, \
                 and a page nests items two levels deeper)"
            )));
        }
        if self.max_item_bytes == 0 || self.max_item_bytes > self.max_body_bytes {
            return Err(ConfigError::BadLimit(format!(
                "max item size must be 1 byte to the max body size ({} bytes), not {}",
                self.max_body_bytes, self.max_item_bytes
            )));
        }
        if self.max_connections == 0 {
            return Err(ConfigError::BadLimit(
                "max connections must be at least 1".into(),
            ));
        }
        for origin in &self.allow_origins {
            crate::http::origin::Origin::parse(origin).map_err(ConfigError::BadUrl)?;
        }
        if let Some(url) = &self.public_url {
            crate::http::origin::PublicUrl::parse(url).map_err(ConfigError::BadUrl)?;
        }
        if let AuthMode::Accounts(accounts) = &self.auth {
            accounts.validate().map_err(ConfigError::BadLimit)?;
        }
        Ok(())
    }
}

/// True for 1–64 ASCII letters, digits and underscores not starting with a digit.
pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= MAX_TABLE_NAME_LEN
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_serves_todoitem() {
        assert_eq!(ServerConfig::default().validate(), Ok(()));
        assert_eq!(ServerConfig::default().tables, vec!["todoitem"]);
    }

    #[test]
    fn table_names_must_be_identifiers() {
        for bad in ["", "1abc", "a-b", "a b", "todo;drop", "é", &"x".repeat(65)] {
            let config = ServerConfig {
                tables: vec![bad.to_owned()],
                ..ServerConfig::default()
            };
            assert_eq!(
                config.validate(),
                Err(ConfigError::BadTableName(bad.to_owned()))
            );
        }
    }

    #[test]
    fn names_differing_in_case_are_duplicates() {
        let config = ServerConfig {
            tables: vec!["todo".into(), "TODO".into()],
            ..ServerConfig::default()
        };
        assert_eq!(
            config.validate(),
            Err(ConfigError::DuplicateTable("TODO".into()))
        );
    }

    #[test]
    fn compression_levels_parse_by_name() {
        use clap::ValueEnum as _;
        assert_eq!(ServerConfig::default().compression, Compression::Fastest);
        for (name, level) in [
            ("fastest", Compression::Fastest),
            ("default", Compression::Default),
            ("best", Compression::Best),
            ("off", Compression::Off),
        ] {
            assert_eq!(Compression::from_str(name, false), Ok(level));
            assert_eq!(Compression::from_str(&name.to_uppercase(), true), Ok(level));
        }
        for bad in ["", "fast", "9", "gzip", "none"] {
            assert!(Compression::from_str(bad, true).is_err(), "{bad}");
        }
    }

    #[test]
    fn debug_hides_the_app_key() {
        let config = ServerConfig {
            app_key: Some("s3cret".into()),
            ..ServerConfig::default()
        };
        assert!(!format!("{config:?}").contains("s3cret"));
    }

    #[test]
    fn accounts_are_required_unless_the_open_mode_is_asked_for() {
        assert!(matches!(
            ServerConfig::default().auth,
            AuthMode::Accounts(_)
        ));
        assert_eq!(ServerConfig::open().auth, AuthMode::Open);
        assert_eq!(ServerConfig::open().validate(), Ok(()));
    }
}
