//! The request edge against browsers turned into weapons: cross-site requests and DNS
//! rebinding. Every request passes [`edge_guard`] before anything else looks at it:
//!
//! - A request carrying an `Origin` that is not configured (`--allow-origin`) is refused 403.
//!   Browsers send `Origin` on every cross-site request and on every same-origin one but
//!   `GET`/`HEAD`; our own clients (the engine, the CLI) never send it. Allowed origins also
//!   get CORS answers (preflight and response headers, see [`cors_layer`]); refused ones get
//!   none, so a browser cannot even read the 403.
//! - A request with a body must say `Content-Type: application/json` (415 otherwise): a page
//!   can post `text/plain` anywhere without a preflight, never `application/json`.
//! - When the server listens on a loopback address, or a public URL is configured, `Host` must
//!   name a loopback host (`localhost`, `127.0.0.1`, `[::1]`, any port) or the public URL's
//!   host (421 otherwise): a DNS-rebinding page reaches us under its own name, which we refuse.
//!   On other listens without a public URL any `Host` is accepted (there is nothing to compare
//!   it with).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tidemark_protocol::headers::{
    API_VERSION_HEADER, APPLICATION_KEY_HEADER, AUTH_HEADER, OPERATION_HEADER,
};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::error::ApiError;
use crate::rate_log::RateLimitedLog;

/// A browser origin in the form browsers send it: lower-case scheme and host, and the port only
/// when it is not the scheme's default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin(String);

impl Origin {
    /// Parses `http(s)://host[:port]` (a trailing `/` is tolerated); anything else is an error
    /// naming the problem.
    pub fn parse(text: &str) -> Result<Self, String> {
        let base = BaseUrl::parse(text)?;
        if !base.path.is_empty() {
            return Err(format!(
                "origin '{text}' has a path; an origin is scheme://host[:port]"
            ));
        }
        Ok(Self(base.origin))
    }

    /// The origin as browsers send it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The configured public URL (`--public-url`): where clients reach this server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl {
    /// The lower-case host name clients put in `Host` (IPv6 in brackets), without port.
    pub host: String,
    /// The URL up to and without the trailing `/`, e.g. `https://todo.example.com/sync`.
    pub base: String,
}

impl PublicUrl {
    /// Parses `http(s)://host[:port][/path]`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let base = BaseUrl::parse(text)?;
        Ok(Self {
            host: base.host,
            base: format!("{}{}", base.origin, base.path),
        })
    }
}

/// The parts of an `http(s)` URL that origins and public URLs are made of.
struct BaseUrl {
    origin: String,
    host: String,
    /// The path without its trailing `/` (empty for the root).
    path: String,
}

impl BaseUrl {
    fn parse(text: &str) -> Result<Self, String> {
        let uri: Uri = text
            .parse()
            .map_err(|e| format!("'{text}' is not a URL: {e}"))?;
        let scheme = uri
            .scheme_str()
            .map(str::to_ascii_lowercase)
            .ok_or_else(|| format!("'{text}' has no scheme; write http://… or https://…"))?;
        let default_port = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            other => return Err(format!("'{text}': scheme '{other}' is not http or https")),
        };
        let authority = uri
            .authority()
            .ok_or_else(|| format!("'{text}' has no host"))?;
        if authority.as_str().contains('@') {
            return Err(format!("'{text}' must not carry a user name or password"));
        }
        if uri.query().is_some() {
            return Err(format!("'{text}' must not have a query"));
        }
        let host = authority.host().to_ascii_lowercase();
        let origin = match authority.port_u16() {
            Some(port) if port != default_port => format!("{scheme}://{host}:{port}"),
            _ => format!("{scheme}://{host}"),
        };
        Ok(Self {
            origin,
            host,
            path: uri.path().trim_end_matches('/').to_owned(),
        })
    }
}

/// What [`edge_guard`] accepts: origins and hosts.
pub struct EdgePolicy {
    origins: Vec<Origin>,
    /// Whether `Host` is checked at all (loopback listen or a public URL).
    check_host: bool,
    public_host: Option<String>,
    /// Refusals are logged, at most once per interval: a hostile page can send many.
    refusals: RateLimitedLog,
}

/// How often a refused request is logged at most (the rest are counted).
const REFUSAL_LOG_INTERVAL: Duration = Duration::from_secs(10);

impl EdgePolicy {
    /// The policy for a server listening on a loopback address or not, with `origins` allowed
    /// and an optional public URL (both already validated by the configuration).
    pub fn new(origins: &[String], public_url: Option<&str>, loopback_listen: bool) -> Self {
        let origins: Vec<Origin> = origins
            .iter()
            .filter_map(|o| Origin::parse(o).ok())
            .collect();
        let public_host = public_url
            .and_then(|u| PublicUrl::parse(u).ok())
            .map(|u| u.host);
        Self {
            origins,
            check_host: loopback_listen || public_host.is_some(),
            public_host,
            refusals: RateLimitedLog::new(REFUSAL_LOG_INTERVAL),
        }
    }

    /// The CORS layer answering preflights of, and adding CORS headers for, allowed origins.
    pub fn cors_layer(&self) -> CorsLayer {
        cors_layer(&self.origins)
    }

    fn check(&self, request: &Request) -> Result<(), ApiError> {
        let headers = request.headers();
        if self.check_host {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .or_else(|| request.uri().authority().map(|a| a.as_str()));
            let allowed = host.map(host_name).is_some_and(|name| {
                is_loopback_name(&name) || self.public_host.as_deref() == Some(name.as_str())
            });
            if !allowed {
                return Err(ApiError::MisdirectedRequest(format!(
                    "this server does not answer for host '{}': it accepts localhost{}",
                    host.unwrap_or(""),
                    self.public_host
                        .as_deref()
                        .map(|h| format!(" and {h}"))
                        .unwrap_or_default()
                )));
            }
        }
        if let Some(origin) = headers.get(header::ORIGIN) {
            let text = origin.to_str().unwrap_or("");
            let allowed = Origin::parse(text).is_ok_and(|o| self.origins.contains(&o));
            if !allowed {
                return Err(ApiError::Forbidden(format!(
                    "requests from origin '{text}' are not allowed; the server's operator can \
                     allow it with --allow-origin"
                )));
            }
        }
        if has_body(request) && !is_json(headers.get(header::CONTENT_TYPE)) {
            return Err(ApiError::UnsupportedMediaType(
                "a request body must be sent with Content-Type: application/json".into(),
            ));
        }
        Ok(())
    }
}

/// Refuses foreign origins (403), unexpected hosts (421) and bodies that are not JSON (415),
/// before any other layer reads the request.
pub async fn edge_guard(
    State(policy): State<Arc<EdgePolicy>>,
    request: Request,
    next: Next,
) -> Response {
    match policy.check(&request) {
        Ok(()) => next.run(request).await,
        Err(error) => {
            policy
                .refusals
                .warn(|suppressed| format!("refused a request: {error}{suppressed}"));
            error.into_response()
        }
    }
}

/// True when the request says it carries a body: a non-zero `Content-Length` or any
/// `Transfer-Encoding` (an empty chunked body still had to be declared as one).
fn has_body(request: &Request) -> bool {
    let headers = request.headers();
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes().iter().any(|&b| b != b'0'))
}

/// True for `application/json`, with or without parameters (`; charset=utf-8`), any case.
fn is_json(content_type: Option<&HeaderValue>) -> bool {
    content_type
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

/// The host name of a `Host` value, lower-case and without port (IPv6 keeps its brackets).
fn host_name(host: &str) -> String {
    let host = host.trim();
    let name = if host.starts_with('[') {
        host.find(']').map_or(host, |end| &host[..=end])
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
            _ => host,
        }
    };
    name.to_ascii_lowercase()
}

/// True for `localhost` and loopback IP literals (`127.0.0.0/8`, `[::1]`).
fn is_loopback_name(name: &str) -> bool {
    if name == "localhost" {
        return true;
    }
    let bare = name.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// How long a browser may cache a preflight answer.
const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(600);

/// CORS for the allowed origins: preflights (`OPTIONS` with `Access-Control-Request-Method`)
/// are answered 200 with the methods and protocol headers allowed, and responses carry
/// `Access-Control-Allow-Origin` and expose `ETag` and `Link`. With no allowed origin the
/// layer adds nothing (every request with an `Origin` was refused before it anyway).
fn cors_layer(origins: &[Origin]) -> CorsLayer {
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o.as_str()).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
        .allow_headers([
            header::CONTENT_TYPE,
            header::IF_MATCH,
            HeaderName::from_static(API_VERSION_HEADER),
            HeaderName::from_static(APPLICATION_KEY_HEADER),
            HeaderName::from_static(AUTH_HEADER),
            HeaderName::from_static(OPERATION_HEADER),
        ])
        .expose_headers([header::ETAG, header::LINK])
        .max_age(PREFLIGHT_MAX_AGE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_normalised_as_browsers_send_them() {
        let parse = |t: &str| Origin::parse(t).map(|o| o.as_str().to_owned());
        assert_eq!(
            parse("HTTPS://App.Example.com/"),
            Ok("https://app.example.com".into())
        );
        assert_eq!(parse("http://a.test:80"), Ok("http://a.test".into()));
        assert_eq!(parse("http://a.test:8080"), Ok("http://a.test:8080".into()));
        assert_eq!(parse("http://[::1]:3000"), Ok("http://[::1]:3000".into()));
        for bad in [
            "",
            "null",
            "a.test",
            "ftp://a.test",
            "http://a.test/app",
            "http://u:p@a.test",
            "http://a.test?x=1",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn public_urls_keep_their_path_without_the_trailing_slash() {
        let url = PublicUrl::parse("https://Todo.Example.com:8443/sync/").ok();
        assert_eq!(
            url,
            Some(PublicUrl {
                host: "todo.example.com".into(),
                base: "https://todo.example.com:8443/sync".into()
            })
        );
    }

    #[test]
    fn host_names_drop_the_port_and_fold_case() {
        assert_eq!(host_name("LocalHost:8080"), "localhost");
        assert_eq!(host_name("[::1]:9"), "[::1]");
        assert_eq!(host_name("[::1]"), "[::1]");
        assert_eq!(host_name("127.0.0.1"), "127.0.0.1");
        for loopback in ["localhost", "127.0.0.1", "127.1.2.3", "[::1]"] {
            assert!(is_loopback_name(loopback), "{loopback}");
        }
        for other in ["evil.test", "localhost.evil.test", "10.0.0.1", "[::2]", ""] {
            assert!(!is_loopback_name(other), "{other}");
        }
    }

    #[test]
    fn json_content_types_may_carry_parameters() {
        let ct = |v: &'static str| is_json(Some(&HeaderValue::from_static(v)));
        assert!(ct("application/json"));
        assert!(ct("Application/JSON; charset=utf-8"));
        assert!(!ct("text/plain"));
        assert!(!ct("application/jsonp"));
        assert!(!ct("application/x-www-form-urlencoded"));
        assert!(!is_json(None));
    }
}
