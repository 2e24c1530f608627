//! `RemoteTable`: the HTTP client of one server table, speaking the table protocol (also usable
//! online-only). The only place in the engine that knows HTTP.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{ETAG, HeaderMap, HeaderValue, IF_MATCH, LINK};
use reqwest::{Method, RequestBuilder, Url};
use serde_json::Value;
use tidemark_protocol::batch::{BATCH_PATH, BatchRequest, BatchResponse};
use tidemark_protocol::etag::quote_etag;
use tidemark_protocol::headers::{
    API_VERSION_HEADER, APPLICATION_KEY_HEADER, AUTH_HEADER, CAPABILITIES_PATH, Capabilities,
    OPERATION_HEADER, OperationTag, SUPPORTED_API_VERSION,
};
use tidemark_protocol::odata::TableQuery;
use tokio::sync::OnceCell;

use crate::error::{ClientError, Result};
use crate::schema::Item;

/// Where the server is and how to talk to it. The app's settings screen edits this.
#[derive(Clone)]
pub struct RemoteConfig {
    /// The server's base URL, e.g. `https://todo.example.com/` (tables live under `tables/`).
    pub url: String,
    /// The application key sent as `X-ZUMO-APPLICATION`, if the server wants one.
    pub app_key: Option<String>,
    /// A user token sent as `X-ZUMO-AUTH`, if any.
    pub auth_token: Option<String>,
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
}

impl Default for RemoteConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            app_key: None,
            auth_token: None,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            page_size: 50,
            large_page_size: 1000,
            batch_size: 1000,
        }
    }
}

impl std::fmt::Debug for RemoteConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Secrets never reach logs.
        f.debug_struct("RemoteConfig")
            .field("url", &self.url)
            .field("app_key", &self.app_key.as_ref().map(|_| "<redacted>"))
            .field(
                "auth_token",
                &self.auth_token.as_ref().map(|_| "<redacted>"),
            )
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("page_size", &self.page_size)
            .field("large_page_size", &self.large_page_size)
            .field("batch_size", &self.batch_size)
            .finish()
    }
}

/// A raw server answer: status, body text and the headers the engine reads.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: String,
    pub(crate) etag: Option<String>,
    pub(crate) next_link: Option<String>,
}

impl Reply {
    /// One result of a batch as the reply its single request would have had: the item (with
    /// its version) or the error body.
    pub(crate) fn from_batch_result(result: tidemark_protocol::batch::BatchResult) -> Self {
        let body = match (result.item, result.error) {
            (Some(item), _) => item.to_string(),
            (None, Some(error)) => {
                serde_json::to_string(&tidemark_protocol::ErrorBody::new(error)).unwrap_or_default()
            }
            (None, None) => String::new(),
        };
        Self {
            status: result.status,
            body,
            etag: None,
            next_link: None,
        }
    }

    fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as an item, if it is a JSON object.
    pub(crate) fn item(&self) -> Option<Item> {
        match serde_json::from_str::<Value>(&self.body) {
            Ok(Value::Object(mut item)) => {
                // A body without `version` still has one in its ETag.
                if let (Some(etag), false) = (
                    &self.etag,
                    item.contains_key(tidemark_protocol::system::VERSION),
                ) {
                    let v = etag.trim_start_matches("W/").trim_matches('"').to_string();
                    item.insert(tidemark_protocol::system::VERSION.into(), Value::String(v));
                }
                Some(item)
            }
            _ => None,
        }
    }

    /// Turns an error status into the matching error.
    fn into_error(self) -> ClientError {
        if self.status == 401 {
            ClientError::Auth { body: self.body }
        } else {
            ClientError::Http {
                status: self.status,
                body: self.body,
            }
        }
    }

    fn expect_item(self) -> Result<Item> {
        if !self.is_success() {
            return Err(self.into_error());
        }
        self.item()
            .ok_or_else(|| ClientError::protocol(format!("expected an item, got: {}", self.body)))
    }
}

/// One page of a query's results.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryPage {
    /// The items of this page.
    pub items: Vec<Item>,
    /// The total count, when `$inlinecount=allpages` was asked.
    pub count: Option<u64>,
    /// The URL of the next page (`Link: <…>; rel=next`), when the server says there is one.
    pub next_link: Option<String>,
}

/// A write the engine sends, with its preconditions.
#[derive(Debug, Clone)]
pub(crate) struct Write<'a> {
    pub(crate) method: Method,
    pub(crate) id: Option<&'a str>,
    pub(crate) body: Option<&'a Item>,
    pub(crate) if_match: Option<&'a str>,
    pub(crate) tag: Option<OperationTag>,
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

impl RemoteClient {
    /// A client for this config. An invalid URL is not an error here: every request then fails
    /// as a network error, so an app with a bad setting still works offline.
    pub fn new(config: RemoteConfig) -> Result<Arc<Self>> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .gzip(true)
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
        let known = match reply.status {
            200 => serde_json::from_str::<Capabilities>(&reply.body)
                .map(Some)
                .map_err(|e| ClientError::protocol(format!("capabilities: {e}")))?,
            401 => return Err(reply.into_error()),
            // A passing failure says nothing about the server: ask again next time.
            500..=599 => return Ok(None),
            // Stock servers have no such route.
            _ => None,
        };
        let _ = self.capabilities.set(known.clone());
        Ok(known)
    }

    /// Sends `POST /$batch` and returns the server's per-operation results. A status other than
    /// 200 is the batch's own error (nothing of it was applied): 401 as
    /// [`ClientError::Auth`], anything else as [`ClientError::Http`].
    pub async fn batch(&self, request: &BatchRequest) -> Result<BatchResponse> {
        let url = self.url(&[BATCH_PATH.trim_start_matches('/')])?;
        let reply = self
            .send(self.request(Method::POST, url).json(request))
            .await?;
        if reply.status != 200 {
            return Err(reply.into_error());
        }
        serde_json::from_str(&reply.body)
            .map_err(|e| ClientError::protocol(format!("batch answer: {e}")))
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
        if let Some(key) = self.config.app_key.as_deref()
            && let Ok(v) = HeaderValue::from_str(key)
        {
            headers.insert(APPLICATION_KEY_HEADER, v);
        }
        if let Some(token) = self.config.auth_token.as_deref()
            && let Ok(v) = HeaderValue::from_str(token)
        {
            headers.insert(AUTH_HEADER, v);
        }
        self.http.request(method, url).headers(headers)
    }

    async fn send(&self, request: RequestBuilder) -> Result<Reply> {
        let response = request.send().await.map_err(network_error)?;
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
        let body = response.text().await.map_err(network_error)?;
        Ok(Reply {
            status,
            body,
            etag,
            next_link,
        })
    }
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

    /// One page of a query (`GET /tables/{table}?…`).
    pub async fn query(&self, query: &TableQuery) -> Result<QueryPage> {
        let url = self.client.url(&["tables", &self.name])?;
        let pairs = query.to_query_pairs();
        let reply = self
            .client
            .send(self.client.request(Method::GET, url).query(&pairs))
            .await?;
        if !reply.is_success() {
            return Err(reply.into_error());
        }
        let next_link = reply.next_link.clone();
        let value: Value = serde_json::from_str(&reply.body)
            .map_err(|e| ClientError::protocol(format!("query result is not JSON: {e}")))?;
        let (rows, count) = match value {
            Value::Array(rows) => (rows, None),
            Value::Object(mut o) => {
                let count = o.get("count").and_then(Value::as_u64);
                match o.remove("results") {
                    Some(Value::Array(rows)) => (rows, count),
                    _ => return Err(ClientError::protocol("query result has no 'results' array")),
                }
            }
            _ => {
                return Err(ClientError::protocol(
                    "query result is neither array nor object",
                ));
            }
        };
        let items = rows
            .into_iter()
            .filter_map(|v| match v {
                Value::Object(o) => Some(o),
                _ => None,
            })
            .collect();
        Ok(QueryPage {
            items,
            count,
            next_link,
        })
    }

    /// The server's item with this id (`GET /tables/{table}/{id}`).
    pub async fn lookup(&self, id: &str) -> Result<Item> {
        let url = self.client.url(&["tables", &self.name, id])?;
        let reply = self
            .client
            .send(self.client.request(Method::GET, url))
            .await?;
        reply.expect_item()
    }

    /// Inserts an item (`POST`); the server's stored item is returned.
    pub async fn insert(&self, item: &Item) -> Result<Item> {
        self.write(Write {
            method: Method::POST,
            id: None,
            body: Some(item),
            if_match: None,
            tag: None,
        })
        .await?
        .expect_item()
    }

    /// Updates an item (`PATCH`, merge semantics), checked against `if_match` when given.
    pub async fn update(&self, id: &str, changes: &Item, if_match: Option<&str>) -> Result<Item> {
        self.write(Write {
            method: Method::PATCH,
            id: Some(id),
            body: Some(changes),
            if_match,
            tag: None,
        })
        .await?
        .expect_item()
    }

    /// Deletes an item (`DELETE`; soft delete on the server), checked against `if_match`.
    pub async fn delete(&self, id: &str, if_match: Option<&str>) -> Result<Option<Item>> {
        let reply = self
            .write(Write {
                method: Method::DELETE,
                id: Some(id),
                body: None,
                if_match,
                tag: None,
            })
            .await?;
        if !reply.is_success() {
            return Err(reply.into_error());
        }
        Ok(reply.item())
    }

    /// Restores a soft-deleted item (`POST /tables/{table}/{id}` without a body).
    pub async fn undelete(&self, id: &str, if_match: Option<&str>) -> Result<Item> {
        self.write(Write {
            method: Method::POST,
            id: Some(id),
            body: None,
            if_match,
            tag: None,
        })
        .await?
        .expect_item()
    }

    /// Sends a write and returns the raw reply, whatever its status (push judges it).
    pub(crate) async fn write(&self, w: Write<'_>) -> Result<Reply> {
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

    #[test]
    fn debug_hides_secrets() {
        let c = RemoteConfig::new("http://h/").with_app_key("s3cret");
        assert!(!format!("{c:?}").contains("s3cret"));
    }
}
