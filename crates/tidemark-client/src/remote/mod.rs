//! `RemoteTable`: the HTTP client of one server table, speaking the table protocol (also usable
//! online-only). The only place in the engine that knows HTTP: methods and status codes stay
//! here, and the engine gets typed replies (`reply`) whose meaning is decided in `status`.

mod config;
mod guard;
mod page;
mod reply;
pub(crate) mod status;
mod transport;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{
    ETAG, HeaderMap, HeaderValue, IF_MATCH, LINK, RETRY_AFTER, WWW_AUTHENTICATE,
};
use reqwest::{Method, RequestBuilder, Url};
use tidemark_protocol::batch::{BATCH_PATH, BatchRequest, BatchResponse};
use tidemark_protocol::checksum::{CHECKSUM_PATH, TableChecksum, UNTIL_PARAM};
use tidemark_protocol::etag::quote_etag;
use tidemark_protocol::headers::{
    API_VERSION_HEADER, APPLICATION_KEY_HEADER, AUTH_HEADER, CAPABILITIES_PATH, Capabilities,
    OPERATION_HEADER, OperationTag, SUPPORTED_API_VERSION,
};
use tidemark_protocol::odata::TableQuery;
use tokio::sync::OnceCell;

pub use self::config::{DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_VERIFY_INTERVAL, RemoteConfig};
pub use self::page::{MAX_ITEM_DEPTH, QueryPage};
use self::reply::Raw;
pub(crate) use self::reply::{BatchReply, Refusal, Reply, error_text};
use self::status::Meaning;
pub(crate) use self::transport::AuthAnswer;
use crate::error::{ClientError, Result};
use crate::item::Item;
use crate::queue::OperationKind;

/// How many times a query answered 503 with a `Retry-After` is asked again.
const BUSY_RETRIES: u32 = 3;
/// The longest `Retry-After` a query waits for; a longer one is reported to the caller (a
/// server down for maintenance says so with hours, which no one should sit through).
const MAX_BUSY_WAIT: Duration = Duration::from_secs(10);

/// A queued operation as the engine sends it, with its preconditions.
#[derive(Debug, Clone)]
pub(crate) struct Write<'a> {
    /// What it does (decides the method and the URL).
    pub(crate) kind: OperationKind,
    /// The item's id.
    pub(crate) id: &'a str,
    /// The item (none for deletes).
    pub(crate) body: Option<&'a Item>,
    /// The version the server must still have.
    pub(crate) if_match: Option<&'a str>,
    /// The idempotency tag, for servers that honour it.
    pub(crate) tag: Option<OperationTag>,
}

/// One HTTP write: the form every write takes on the wire.
struct Request<'a> {
    method: Method,
    id: Option<&'a str>,
    body: Option<&'a Item>,
    if_match: Option<&'a str>,
    tag: Option<OperationTag>,
}

impl<'a> Request<'a> {
    /// A write without idempotency tag.
    fn new(
        method: Method,
        id: Option<&'a str>,
        body: Option<&'a Item>,
        if_match: Option<&'a str>,
    ) -> Self {
        Self {
            method,
            id,
            body,
            if_match,
            tag: None,
        }
    }
}

/// The HTTP side shared by every table of one server: connection pool, headers, capabilities.
pub struct RemoteClient {
    http: reqwest::Client,
    base: std::result::Result<Url, String>,
    config: RemoteConfig,
    capabilities: OnceCell<Option<Capabilities>>,
}

impl std::fmt::Debug for RemoteClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteClient")
            .field("config", &self.config)
            .finish()
    }
}

/// The certificates of [`RemoteConfig::extra_ca_pem`] (none when unset); PEM that holds no
/// certificate, or a broken one, is an error saying so.
fn extra_ca_certificates(config: &RemoteConfig) -> Result<Vec<reqwest::Certificate>> {
    let Some(pem) = &config.extra_ca_pem else {
        return Ok(Vec::new());
    };
    let certificates = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| {
        ClientError::invalid(format!("the extra CA certificates are not valid PEM: {e}"))
    })?;
    if certificates.is_empty() {
        return Err(ClientError::invalid(
            "the extra CA certificates hold no PEM CERTIFICATE block",
        ));
    }
    Ok(certificates)
}

impl RemoteClient {
    /// A client for this config. An invalid URL is not an error here: every request then fails
    /// as a network error, so an app with a bad setting still works offline.
    pub fn new(config: RemoteConfig) -> Result<Arc<Self>> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .gzip(true)
            // No redirect is followed, not even to the same origin: the table protocol has
            // none, one to another host would carry the application key and user token there
            // (reqwest strips only its standard credential headers), and a redirected POST
            // becomes a GET whose answer would look like an accepted write. A 3xx is an error.
            .redirect(reqwest::redirect::Policy::none())
            .tls_certs_merge(extra_ca_certificates(&config)?)
            .build()
            .map_err(|e| ClientError::network(format!("cannot build the HTTP client: {e}")))?;
        let base = parse_base(&config.url);
        Ok(Arc::new(Self {
            http,
            base,
            config,
            capabilities: OnceCell::new(),
        }))
    }

    /// The config this client was made with.
    pub fn config(&self) -> &RemoteConfig {
        &self.config
    }

    /// The table `name` on this server.
    pub fn table(self: &Arc<Self>, name: &str) -> RemoteTable {
        RemoteTable {
            client: Arc::clone(self),
            name: name.to_string(),
        }
    }

    /// What our server offers (`GET /$capabilities`); `None` for a stock server (404 there).
    /// A definite answer is remembered for the client's life; a server error is not.
    pub async fn capabilities(&self) -> Result<Option<Capabilities>> {
        if let Some(known) = self.capabilities.get() {
            return Ok(known.clone());
        }
        let url = self.url(&[CAPABILITIES_PATH.trim_start_matches('/')])?;
        let reply = self.send(self.request(Method::GET, url)).await?;
        let known = match reply.meaning() {
            Meaning::Success => serde_json::from_str::<Capabilities>(&reply.body)
                .map(Some)
                .map_err(|e| ClientError::protocol(format!("capabilities: {e}")))?,
            Meaning::Unauthorized => return Err(reply.into_refusal().into_error()),
            // A passing failure says nothing about the server: ask again next time.
            Meaning::Unavailable => return Ok(None),
            // Stock servers have no such route.
            _ => None,
        };
        let _ = self.capabilities.set(known.clone());
        Ok(known)
    }

    /// Sends `POST /$batch` and returns the server's per-operation results. A failure status
    /// is the batch's own error (nothing of it was applied): 401 as [`ClientError::Auth`],
    /// anything else as [`ClientError::Http`].
    pub async fn batch(&self, request: &BatchRequest) -> Result<BatchResponse> {
        let reply = self.post_batch(request).await?.success()?;
        parse_batch(&reply)
    }

    /// Sends `POST /$batch` and returns one typed reply per operation, or that the batch was
    /// too large for the server; other failures are errors, as for [`RemoteClient::batch`].
    pub(crate) async fn send_batch(&self, request: &BatchRequest) -> Result<BatchReply> {
        let reply = self.post_batch(request).await?;
        if reply.meaning() == Meaning::TooLarge {
            return Ok(BatchReply::TooLarge(reply.into_refusal()));
        }
        let response = parse_batch(&reply.success()?)?;
        Ok(BatchReply::Answered(
            response
                .results
                .into_iter()
                .map(Reply::from_batch_result)
                .collect(),
        ))
    }

    async fn post_batch(&self, request: &BatchRequest) -> Result<Raw> {
        let url = self.url(&[BATCH_PATH.trim_start_matches('/')])?;
        self.send(self.request(Method::POST, url).json(request))
            .await
    }

    fn url(&self, segments: &[&str]) -> Result<Url> {
        let mut url = self
            .base
            .clone()
            .map_err(|e| ClientError::network(format!("invalid server URL: {e}")))?;
        {
            let mut path = url
                .path_segments_mut()
                .map_err(|_| ClientError::network("invalid server URL: it cannot hold a path"))?;
            path.pop_if_empty();
            for s in segments {
                path.push(s);
            }
        }
        Ok(url)
    }

    fn request(&self, method: Method, url: Url) -> RequestBuilder {
        let mut headers = HeaderMap::new();
        headers.insert(
            API_VERSION_HEADER,
            HeaderValue::from_static(SUPPORTED_API_VERSION),
        );
        // Marked sensitive so that no debug output of a request shows them.
        if let Some(key) = self.config.app_key.as_deref()
            && let Ok(mut v) = HeaderValue::from_str(key)
        {
            v.set_sensitive(true);
            headers.insert(APPLICATION_KEY_HEADER, v);
        }
        if let Some(token) = self.config.session.as_ref().map(|s| s.token.as_str())
            && let Ok(mut v) = HeaderValue::from_str(token)
        {
            v.set_sensitive(true);
            headers.insert(AUTH_HEADER, v);
        }
        self.http.request(method, url).headers(headers)
    }

    /// Sends a table, batch or capabilities request. A token goes only where it is safe (see
    /// `transport`), and a 401 asking for a bearer token (the server wants a signed-in user)
    /// is [`ClientError::SignInRequired`].
    async fn send(&self, request: RequestBuilder) -> Result<Raw> {
        if self.config.session.is_some() {
            self.secure_base()?;
        }
        self.exchange(request, true).await
    }

    /// Sends a request and reads its answer; with `sign_in_errors`, a 401 with a bearer
    /// challenge is an error rather than an answer.
    async fn exchange(&self, request: RequestBuilder, sign_in_errors: bool) -> Result<Raw> {
        let response = request.send().await.map_err(network_error)?;
        if let Some(refused) = guard::redirect(&response) {
            return Err(refused);
        }
        let status = response.status().as_u16();
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
                .map(str::to_string)
        };
        let etag = header(ETAG);
        let next_link = header(LINK).and_then(|l| parse_next_link(&l));
        // Only the delay-seconds form: our server sends it, and an HTTP date would need the
        // two clocks to agree.
        let retry_after = header(RETRY_AFTER)
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let challenge = header(WWW_AUTHENTICATE)
            .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("bearer"));
        let body = guard::read_body(response, self.config.max_response_bytes).await?;
        if sign_in_errors && challenge && status == 401 {
            return Err(ClientError::SignInRequired {
                reason: reply::error_text(&body),
            });
        }
        Ok(Raw {
            status,
            body,
            etag,
            next_link,
            retry_after,
        })
    }
}

fn parse_batch(reply: &Raw) -> Result<BatchResponse> {
    serde_json::from_str(&reply.body)
        .map_err(|e| ClientError::protocol(format!("batch answer: {e}")))
}

fn parse_base(url: &str) -> std::result::Result<Url, String> {
    let url = Url::parse(url.trim()).map_err(|e| format!("'{url}': {e}"))?;
    match url.scheme() {
        "http" | "https" => Ok(url),
        other => Err(format!("'{url}': scheme '{other}' is not http or https")),
    }
}

fn network_error(e: reqwest::Error) -> ClientError {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    // The source chain says why (refused, reset, DNS...), which the top error often omits.
    let mut message = format!("{kind}: {e}");
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        message.push_str(&format!(": {s}"));
        source = s.source();
    }
    ClientError::network(message)
}

/// The URL of `Link: <url>; rel=next` (or `rel="next"`), if present.
fn parse_next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let is_next = params.split(';').any(|p| {
            let p = p.trim();
            p.eq_ignore_ascii_case("rel=next") || p.eq_ignore_ascii_case("rel=\"next\"")
        });
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        is_next.then(|| target.to_string())
    })
}

/// One table on the server, for online-only use or by the engine's push and pull.
#[derive(Debug, Clone)]
pub struct RemoteTable {
    client: Arc<RemoteClient>,
    name: String,
}

impl RemoteTable {
    /// The table's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The client this table belongs to.
    pub fn client(&self) -> &Arc<RemoteClient> {
        &self.client
    }

    /// One page of a query (`GET /tables/{table}?…`). Rows that cannot be read are reported in
    /// [`QueryPage::unreadable`], not fatal to the page.
    /// A server that answers 503 with a short `Retry-After` (all its query slots taken) is
    /// asked again after that wait, up to [`BUSY_RETRIES`] times: a query changes nothing, so
    /// asking again is safe, and a pull should not fail for a moment's overload.
    pub async fn query(&self, query: &TableQuery) -> Result<QueryPage> {
        let url = self.client.url(&["tables", &self.name])?;
        let pairs = query.to_query_pairs();
        let mut retries = 0;
        loop {
            let request = self.client.request(Method::GET, url.clone()).query(&pairs);
            let reply = self.client.send(request).await?;
            match reply.busy_for() {
                Some(wait) if retries < BUSY_RETRIES && wait <= MAX_BUSY_WAIT => {
                    retries += 1;
                    log::info!(
                        "the server is busy; asking for {} again in {wait:?} ({retries} of \
                         {BUSY_RETRIES})",
                        self.name
                    );
                    tokio::time::sleep(wait).await;
                }
                _ => {
                    let reply = reply.success()?;
                    return page::parse_page(&reply.body, reply.next_link);
                }
            }
        }
    }

    /// The server's checksum of this table's live rows whose `updatedAt` is at or before
    /// `until` (`GET /$checksum/{table}`; see [`tidemark_protocol::checksum`]). Only our
    /// server offers it, when its capabilities say `checksum`.
    pub async fn checksum(&self, until: Option<&DateTime<Utc>>) -> Result<TableChecksum> {
        let url = self
            .client
            .url(&[CHECKSUM_PATH.trim_start_matches('/'), &self.name])?;
        let mut request = self.client.request(Method::GET, url);
        if let Some(until) = until {
            request = request.query(&[(UNTIL_PARAM, tidemark_protocol::date::format_date(until))]);
        }
        let reply = self.client.send(request).await?.success()?;
        serde_json::from_str(&reply.body)
            .map_err(|e| ClientError::protocol(format!("checksum of '{}': {e}", self.name)))
    }

    /// The server's item with this id (`GET /tables/{table}/{id}`).
    pub async fn lookup(&self, id: &str) -> Result<Item> {
        self.get(id).await?.expect_item()
    }

    /// The server's item with this id, or `None` when the server does not have it.
    pub(crate) async fn find(&self, id: &str) -> Result<Option<Item>> {
        let reply = self.get(id).await?;
        if reply.meaning() == Meaning::NotFound {
            return Ok(None);
        }
        reply.expect_item().map(Some)
    }

    async fn get(&self, id: &str) -> Result<Raw> {
        let url = self.client.url(&["tables", &self.name, id])?;
        self.client
            .send(self.client.request(Method::GET, url))
            .await
    }

    /// Inserts an item (`POST`); the server's stored item is returned.
    pub async fn insert(&self, item: &Item) -> Result<Item> {
        self.send(Request::new(Method::POST, None, Some(item), None))
            .await?
            .expect_item()
    }

    /// Updates an item (`PATCH`, merge semantics), checked against `if_match` when given.
    pub async fn update(&self, id: &str, changes: &Item, if_match: Option<&str>) -> Result<Item> {
        self.send(Request::new(
            Method::PATCH,
            Some(id),
            Some(changes),
            if_match,
        ))
        .await?
        .expect_item()
    }

    /// Deletes an item (`DELETE`; soft delete on the server), checked against `if_match`.
    pub async fn delete(&self, id: &str, if_match: Option<&str>) -> Result<Option<Item>> {
        let reply = self
            .send(Request::new(Method::DELETE, Some(id), None, if_match))
            .await?
            .success()?;
        Ok(reply.item())
    }

    /// Restores a soft-deleted item (`POST /tables/{table}/{id}` without a body).
    pub async fn undelete(&self, id: &str, if_match: Option<&str>) -> Result<Item> {
        self.send(Request::new(Method::POST, Some(id), None, if_match))
            .await?
            .expect_item()
    }

    /// Brings back an item deleted on the server (`POST /tables/{table}/{id}` without a
    /// body), for a local edit of it that the user keeps. `None` when this server cannot:
    /// it has no undelete (a stock server without soft delete answers 404 or 405), or no
    /// longer holds the item at all; the caller then inserts the local row afresh.
    pub(crate) async fn restore(&self, id: &str) -> Result<Option<Item>> {
        let reply = self
            .send(Request::new(Method::POST, Some(id), None, None))
            .await?;
        match reply.meaning() {
            Meaning::NotFound | Meaning::NotAllowed => Ok(None),
            _ => reply.expect_item().map(Some),
        }
    }

    /// Sends a queued operation and returns the server's reply, whatever it is (push judges
    /// it): an insert is `POST /tables/{table}`, an update `PATCH` and a delete `DELETE` of
    /// `/tables/{table}/{id}`.
    pub(crate) async fn write(&self, w: Write<'_>) -> Result<Reply> {
        let (method, id) = match w.kind {
            OperationKind::Insert => (Method::POST, None),
            OperationKind::Update => (Method::PATCH, Some(w.id)),
            OperationKind::Delete => (Method::DELETE, Some(w.id)),
        };
        let request = Request {
            method,
            id,
            body: w.body,
            if_match: w.if_match,
            tag: w.tag,
        };
        Ok(self.send(request).await?.into_reply())
    }

    async fn send(&self, w: Request<'_>) -> Result<Raw> {
        let url = match w.id {
            Some(id) => self.client.url(&["tables", &self.name, id])?,
            None => self.client.url(&["tables", &self.name])?,
        };
        let mut request = self.client.request(w.method, url);
        if let Some(body) = w.body {
            request = request.json(body);
        }
        if let Some(version) = w.if_match
            && let Ok(v) = HeaderValue::from_str(&quote_etag(version))
        {
            request = request.header(IF_MATCH, v);
        }
        if let Some(tag) = &w.tag
            && let Ok(v) = HeaderValue::from_str(&tag.to_string())
        {
            request = request.header(OPERATION_HEADER, v);
        }
        self.client.send(request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_ca_pem_must_hold_certificates() {
        let key = rcgen::KeyPair::generate().expect("key");
        let ca = rcgen::CertificateParams::new(Vec::<String>::new())
            .expect("params")
            .self_signed(&key)
            .expect("cert");
        let config = RemoteConfig::new("https://h/").with_extra_ca_pem(ca.pem());
        assert!(RemoteClient::new(config).is_ok());
        for bad in [&b""[..], b"not pem", b"-----BEGIN CERTIFICATE-----\nAAA\n"] {
            let config = RemoteConfig::new("https://h/").with_extra_ca_pem(bad);
            let e = RemoteClient::new(config).expect_err("refused");
            assert!(matches!(e, ClientError::InvalidInput { .. }), "{e}");
        }
    }

    #[test]
    fn next_link_is_found_in_either_form() {
        assert_eq!(
            parse_next_link("<http://h/tables/t?$skip=50>; rel=next").as_deref(),
            Some("http://h/tables/t?$skip=50")
        );
        assert_eq!(
            parse_next_link("<http://a>; rel=\"prev\", <http://b>; rel=\"next\"").as_deref(),
            Some("http://b")
        );
        assert_eq!(parse_next_link("<http://a>; rel=prev"), None);
    }

    #[test]
    fn bad_urls_are_kept_as_errors_not_panics() {
        assert!(parse_base("not a url").is_err());
        assert!(parse_base("ftp://x/").is_err());
        assert!(parse_base("http://127.0.0.1:1/").is_ok());
    }

    #[test]
    fn item_urls_encode_the_id() {
        let client = RemoteClient::new(RemoteConfig::new("http://h/app/")).ok();
        let url = client.and_then(|c| c.url(&["tables", "todo", "a b#c"]).ok());
        assert_eq!(
            url.map(|u| u.to_string()).as_deref(),
            Some("http://h/app/tables/todo/a%20b%23c")
        );
    }
}
