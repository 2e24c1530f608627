//! Where secrets may go: a password or a token travels only over https, or over plain http to
//! this machine itself (a loopback address), where there is no wire to listen on. Also the
//! one request shape of the `/.auth` routes, which the `auth` module words.

use std::net::IpAddr;
use std::time::Duration;

use reqwest::header::HeaderValue;
use reqwest::{Method, Url};
use serde_json::Value;
use tidemark_protocol::headers::AUTH_HEADER;

use super::RemoteClient;
use crate::error::{ClientError, Result};

/// A `/.auth` answer as said: the `auth` module gives it meaning.
#[derive(Debug, Clone)]
pub(crate) struct AuthAnswer {
    /// The HTTP status.
    pub(crate) status: u16,
    /// `Retry-After`, when sent (a throttled sign-in).
    pub(crate) retry_after: Option<Duration>,
    /// The body text.
    pub(crate) body: String,
}

/// True when `url` names this machine: `localhost` (or a name under it), 127.0.0.0/8 or ::1.
pub(crate) fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = host.parse::<IpAddr>() {
        return ip.is_loopback();
    }
    let name = host.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}

/// Refuses a plain-http URL to another machine for a request carrying a password or token.
pub(crate) fn check_secure(url: &Url) -> Result<()> {
    if url.scheme() == "https" || is_loopback(url) {
        return Ok(());
    }
    Err(ClientError::InsecureTransport {
        url: url.as_str().trim_end_matches('/').to_string(),
    })
}

impl RemoteClient {
    /// The base URL, refused when a secret must not go there.
    pub(crate) fn secure_base(&self) -> Result<Url> {
        let url = self.url(&[])?;
        check_secure(&url)?;
        Ok(url)
    }

    /// Sends one `/.auth/{segments}` request (a password in `body` or a `token`), only over a
    /// transport fit for secrets; the answer is returned as said.
    pub(crate) async fn auth_call(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<&Value>,
        token: Option<&str>,
    ) -> Result<AuthAnswer> {
        self.secure_base()?;
        let mut path = vec![".auth"];
        path.extend_from_slice(segments);
        let mut request = self.request(method, self.url(&path)?);
        if let Some(token) = token {
            let mut v = HeaderValue::from_str(token)
                .map_err(|_| ClientError::invalid("the session token is not a valid header"))?;
            v.set_sensitive(true);
            request = request.header(AUTH_HEADER, v);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let raw = self.exchange(request, false).await?;
        Ok(AuthAnswer {
            status: raw.status,
            retry_after: raw.retry_after,
            body: raw.body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn only_this_machine_is_loopback() {
        for ok in [
            "http://localhost:8080/",
            "http://LOCALHOST/",
            "http://app.localhost/",
            "http://127.0.0.1/",
            "http://127.9.8.7:1/",
            "http://[::1]:8080/",
        ] {
            assert!(is_loopback(&url(ok)), "{ok}");
            assert!(check_secure(&url(ok)).is_ok(), "{ok}");
        }
        for bad in [
            "http://example.org/",
            "http://10.0.0.1/",
            "http://192.168.1.2:8080/",
            "http://[::2]/",
            "http://localhost.example.org/",
            "http://128.0.0.1/",
        ] {
            assert!(!is_loopback(&url(bad)), "{bad}");
            let err = check_secure(&url(bad)).err();
            assert!(
                matches!(&err, Some(ClientError::InsecureTransport { .. })),
                "{bad}: {err:?}"
            );
            let text = err.map(|e| e.to_string()).unwrap_or_default();
            assert!(text.contains("https"), "{text}");
        }
        assert!(check_secure(&url("https://example.org/")).is_ok());
    }
}
