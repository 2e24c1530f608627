//! `RemoteConfig`: where the server is and how to talk to it (timeouts, page and batch sizes),
//! as the app's settings screen edits it.

use std::time::Duration;

use crate::auth::Session;

/// The default [`RemoteConfig::max_response_bytes`]: 64 MiB, four times the server's page
/// budget, so a legitimate answer never comes near it.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 64 * 1024 * 1024;

/// The default [`RemoteConfig::verify_interval`]: ten minutes, so a copy that drifted is found
/// within a working session while an idle pull stays one request.
pub const DEFAULT_VERIFY_INTERVAL: Duration = Duration::from_secs(10 * 60);

/// Where the server is and how to talk to it. The app's settings screen edits this.
#[derive(Clone)]
pub struct RemoteConfig {
    /// The server's base URL, e.g. `https://todo.example.com/` (tables live under `tables/`).
    pub url: String,
    /// The application key sent as `X-ZUMO-APPLICATION`, if the server wants one.
    pub app_key: Option<String>,
    /// The signed-in user's session, whose token is sent as `X-ZUMO-AUTH`; `None` when signed
    /// out. A sync renews a token close to expiry and puts the new one here (read it back with
    /// `SyncContext::remote_config` to save it).
    pub session: Option<Session>,
    /// The longest a whole request may take.
    pub timeout: Duration,
    /// The longest connecting may take.
    pub connect_timeout: Duration,
    /// Rows per pull request against stock servers (the stock client's 50).
    pub page_size: u64,
    /// Rows per pull request against our server (it accepts larger `$top`).
    pub large_page_size: u64,
    /// Operations per `POST /$batch` when the server offers it (capped at the server's
    /// `maxBatchOperations`); 0 sends one request per operation, as against stock servers.
    pub batch_size: usize,
    /// The largest answer body read from the server, in bytes after decompression (64 MiB by
    /// default); a larger one is an error, so a small compressed body that expands without
    /// bound (a gzip bomb) cannot exhaust memory.
    pub max_response_bytes: u64,
    /// Extra certificate authorities to trust for `https://` servers, besides the system's: PEM
    /// bytes holding one or more `CERTIFICATE` blocks (e.g. the CA of a self-hosted server's
    /// certificate). `None` trusts the system's authorities only.
    pub extra_ca_pem: Option<Vec<u8>>,
    /// How often a table's local copy is compared with our server's checksum after a pull
    /// (see `verify.rs`): at most once per interval per table, remembered in the store so that
    /// short-lived processes (the CLI) share it. The check reads every row on both sides, so
    /// it does not run on every pull; `Duration::ZERO` checks after every pull but a store's
    /// first, which only starts the clock.
    pub verify_interval: Duration,
}

impl RemoteConfig {
    /// A config for this URL with the default timeouts and page sizes.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            ..Self::default()
        }
    }

    /// Sets the application key (builder style).
    pub fn with_app_key(mut self, key: impl Into<String>) -> Self {
        self.app_key = Some(key.into());
        self
    }

    /// Trusts the CA certificates in `pem` besides the system's (builder style).
    pub fn with_extra_ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.extra_ca_pem = Some(pem.into());
        self
    }

    /// Sets the signed-in user's session (builder style).
    pub fn with_session(mut self, session: Session) -> Self {
        self.session = Some(session);
        self
    }
}

impl Default for RemoteConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            app_key: None,
            session: None,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            page_size: 50,
            large_page_size: 1000,
            batch_size: 1000,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            extra_ca_pem: None,
            verify_interval: DEFAULT_VERIFY_INTERVAL,
        }
    }
}

impl std::fmt::Debug for RemoteConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Secrets never reach logs.
        f.debug_struct("RemoteConfig")
            .field("url", &self.url)
            .field("app_key", &self.app_key.as_ref().map(|_| "<redacted>"))
            .field("session", &self.session)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("page_size", &self.page_size)
            .field("large_page_size", &self.large_page_size)
            .field("batch_size", &self.batch_size)
            .field("verify_interval", &self.verify_interval)
            .field("max_response_bytes", &self.max_response_bytes)
            .field(
                "extra_ca_pem",
                &self
                    .extra_ca_pem
                    .as_ref()
                    .map(|pem| format!("{} bytes", pem.len())),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_secrets() {
        let c = RemoteConfig::new("http://h/")
            .with_app_key("s3cret")
            .with_session(Session::new("t0k3n", "user-1"));
        let shown = format!("{c:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(!shown.contains("t0k3n"), "{shown}");
        assert!(shown.contains("user-1"), "{shown}");
    }
}
