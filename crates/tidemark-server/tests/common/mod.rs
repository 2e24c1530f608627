//! Helpers shared by the server's test suites: a small protocol-speaking HTTP client, and a full
//! dump of a database file to prove that a rejected request wrote nothing.

#![allow(dead_code)] // Each test binary uses a different subset.

use std::ffi::OsStr;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use reqwest::Method;
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// The API version every request sends unless a test says otherwise.
pub const API_VERSION: &str = "2.0.0";

/// A response, read completely.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The body as JSON (`Null` when empty, a JSON string when not JSON).
    pub body: Value,
    /// The `ETag` header.
    pub etag: Option<String>,
    /// The `Link` header.
    pub link: Option<String>,
    /// The `Retry-After` header.
    pub retry_after: Option<String>,
    /// The `WWW-Authenticate` header.
    pub www_authenticate: Option<String>,
}

impl Reply {
    /// The `{"error": …}` message; panics when the body has another shape.
    pub fn error(&self) -> &str {
        match self.body.get("error").and_then(Value::as_str) {
            Some(message) => message,
            None => panic!("expected an error body, got {} {}", self.status, self.body),
        }
    }

    /// A string property of the body.
    pub fn str(&self, name: &str) -> &str {
        self.body
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// The items of a query response (plain array or `{"results": […]}`).
    pub fn items(&self) -> Vec<Value> {
        match &self.body {
            Value::Array(items) => items.clone(),
            other => other
                .get("results")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
        }
    }

    /// The ids of a query response, in order.
    pub fn ids(&self) -> Vec<String> {
        self.items()
            .iter()
            .map(|i| i["id"].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

/// A client for one server, sending `ZUMO-API-VERSION` on every request.
#[derive(Debug, Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
    app_key: Option<String>,
    token: Option<String>,
}

/// A request under construction.
pub struct Req<'a> {
    api: &'a Api,
    method: Method,
    path: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    version: bool,
}

impl Api {
    /// A client for the server at `base` (e.g. `http://127.0.0.1:1234`).
    pub fn new(base: &str) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: base.trim_end_matches('/').to_owned(),
            app_key: None,
            token: None,
        }
    }

    /// The same client, sending `token` in `X-ZUMO-AUTH` (a signed-in user).
    pub fn with_token(mut self, token: &str) -> Self {
        self.token = Some(token.to_owned());
        self
    }

    /// The same client, sending `key` in `X-ZUMO-APPLICATION`.
    pub fn with_app_key(mut self, key: &str) -> Self {
        self.app_key = Some(key.to_owned());
        self
    }

    /// A request; `path` is relative to the server root and may carry a query string.
    pub fn req(&self, method: Method, path: &str) -> Req<'_> {
        Req {
            api: self,
            method,
            path: path.to_owned(),
            headers: Vec::new(),
            body: None,
            version: true,
        }
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Reply {
        self.req(Method::GET, path).send().await
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.req(Method::POST, path).json(&body).send().await
    }

    /// `PATCH path` with a JSON body.
    pub async fn patch(&self, path: &str, body: Value) -> Reply {
        self.req(Method::PATCH, path).json(&body).send().await
    }

    /// `DELETE path`.
    pub async fn delete(&self, path: &str) -> Reply {
        self.req(Method::DELETE, path).send().await
    }

    /// Inserts into `todoitem` and returns the stored item (asserting 201).
    pub async fn insert(&self, item: Value) -> Value {
        let reply = self.post("/tables/todoitem", item).await;
        assert_eq!(reply.status, 201, "insert failed: {}", reply.body);
        reply.body
    }

    /// Follows `Link` headers from `path` to the end, returning every item in order.
    pub async fn get_all_pages(&self, path: &str) -> Vec<Value> {
        let mut items = Vec::new();
        let mut next = Some(format!("{}{path}", self.base));
        let mut pages = 0;
        while let Some(url) = next {
            pages += 1;
            assert!(pages < 1000, "paging does not end");
            let path = url.strip_prefix(&self.base).unwrap_or(&url).to_owned();
            let reply = self.get(&path).await;
            assert_eq!(reply.status, 200, "{}", reply.body);
            items.extend(reply.items());
            next = reply.link.as_deref().map(link_target);
        }
        items
    }
}

/// Percent-encodes a query parameter value.
pub fn encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The URL inside `<…>; rel=next`.
pub fn link_target(link: &str) -> String {
    let start = link.find('<').map_or(0, |i| i + 1);
    let end = link.find('>').unwrap_or(link.len());
    link[start..end].to_owned()
}

impl Req<'_> {
    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sends `If-Match: "<version>"`.
    pub fn if_match(self, version: &str) -> Self {
        self.header("If-Match", &format!("\"{version}\""))
    }

    /// Sends `X-Tidemark-Operation: <tag>`.
    pub fn operation(self, tag: &str) -> Self {
        self.header("X-Tidemark-Operation", tag)
    }

    /// A JSON body.
    pub fn json(mut self, body: &Value) -> Self {
        self.body = Some(body.to_string().into_bytes());
        self.header("Content-Type", "application/json")
    }

    /// A raw body.
    pub fn raw(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// Leaves out the `ZUMO-API-VERSION` header.
    pub fn without_version(mut self) -> Self {
        self.version = false;
        self
    }

    /// Sends the request and reads the whole response.
    pub async fn send(self) -> Reply {
        let url = format!("{}{}", self.api.base, self.path);
        let mut request = self.api.http.request(self.method, &url);
        if self.version {
            request = request.header("ZUMO-API-VERSION", API_VERSION);
        }
        if let Some(key) = &self.api.app_key {
            request = request.header("X-ZUMO-APPLICATION", key);
        }
        if let Some(token) = &self.api.token {
            request = request.header("X-ZUMO-AUTH", token);
        }
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        if let Some(body) = self.body {
            request = request.body(body);
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => panic!("request to {url} failed: {e}"),
        };
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let etag = header("etag");
        let link = header("link");
        let retry_after = header("retry-after");
        let www_authenticate = header("www-authenticate");
        let text = response.text().await.unwrap_or_default();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Reply {
            status,
            body,
            etag,
            link,
            retry_after,
            www_authenticate,
        }
    }
}

/// Every row of every table of the SQLite database at `path`, as text, in a stable order: two
/// dumps are equal exactly when the database content is. A row of a table with an `owner`
/// column (an owner's key) ends with the owner's user id too, `owner_id=…`, so a test can find
/// a user's rows by the id it knows.
pub fn dump_database(path: &Path) -> Vec<String> {
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
    let mut tables: Vec<String> = Vec::new();
    {
        let mut st = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .unwrap_or_else(|e| panic!("{e}"));
        let rows = st
            .query_map([], |r| r.get::<_, String>(0))
            .unwrap_or_else(|e| panic!("{e}"));
        for row in rows {
            tables.push(row.unwrap_or_else(|e| panic!("{e}")));
        }
    }
    let mut out = Vec::new();
    let has_owners = tables.iter().any(|t| t == "owners");
    for table in tables {
        // Table names come from sqlite_master of our own test database.
        let st = conn
            .prepare(&format!("SELECT * FROM \"{table}\""))
            .unwrap_or_else(|e| panic!("{e}"));
        let columns = st.column_count();
        let owned = has_owners && table != "owners" && st.column_index("owner").is_ok();
        drop(st);
        let sql = if owned {
            format!(
                "SELECT t.*, o.user_id FROM \"{table}\" AS t LEFT JOIN owners AS o ON o.key = t.owner"
            )
        } else {
            format!("SELECT * FROM \"{table}\"")
        };
        let mut st = conn.prepare(&sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        let rows = st
            .query_map([], |r| {
                let mut cells = Vec::with_capacity(columns + 1);
                for i in 0..columns {
                    let v: rusqlite::types::Value = r.get(i)?;
                    cells.push(format!("{v:?}"));
                }
                if owned {
                    let id: Option<String> = r.get(columns)?;
                    cells.push(format!("owner_id={id:?}"));
                }
                Ok(format!("{table}: {}", cells.join(" | ")))
            })
            .unwrap_or_else(|e| panic!("{e}"));
        let mut lines: Vec<String> = rows.map(|r| r.unwrap_or_else(|e| panic!("{e}"))).collect();
        lines.sort();
        out.extend(lines);
    }
    out
}

/// Sends `request` on a fresh connection (it should say `Connection: close`) and returns the
/// whole response as text.
pub async fn raw(addr: SocketAddr, request: &str) -> String {
    let mut stream = match TcpStream::connect(addr).await {
        Ok(s) => s,
        Err(e) => panic!("connect: {e}"),
    };
    if let Err(e) = stream.write_all(request.as_bytes()).await {
        panic!("write: {e}");
    }
    let mut response = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response));
    if read.await.is_err() {
        panic!(
            "no complete answer within 10 s: {}",
            String::from_utf8_lossy(&response)
        );
    }
    String::from_utf8_lossy(&response).into_owned()
}

/// The value of header `name` (case-insensitive) in a raw response.
pub fn header_value(response: &str, name: &str) -> Option<String> {
    let head = response.split("\r\n\r\n").next()?;
    head.lines().skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then(|| value.trim().to_owned())
    })
}

/// Looks item `id` up in a loop until `stop`, as an unrelated client would while an attack
/// runs, and returns the slowest answer's time (asserting each is a 200).
pub async fn lookups_until(
    api: Api,
    id: &str,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Duration {
    let mut slowest = Duration::ZERO;
    let path = format!("/tables/todoitem/{id}");
    while !*stop.borrow() {
        let started = std::time::Instant::now();
        let reply = api.get(&path).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        slowest = slowest.max(started.elapsed());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    slowest
}

/// Runs `binary` with `args` (without the server's address and database variables from the
/// environment), `stdin` as its input, and waits up to 30 s for it.
pub async fn run_binary<A: AsRef<OsStr>>(binary: &str, args: &[A], stdin: &str) -> Output {
    let mut child = tokio::process::Command::new(binary)
        .args(args)
        .env_remove("TIDEMARK_LISTEN")
        .env_remove("TIDEMARK_DB")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {binary}: {e}"));
    if let Some(mut input) = child.stdin.take() {
        input
            .write_all(stdin.as_bytes())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let output = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{binary} did not finish"));
    output.unwrap_or_else(|e| panic!("{e}"))
}
