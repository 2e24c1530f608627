//! A hostile fake of the table protocol on loopback, for tests of what a client does with
//! answers it must not trust: a gzip bomb, a redirect to another origin, writes answered about
//! another item, and pages with rows too deep to parse or with ids that must be refused.
//!
//! It is a real HTTP server (axum on 127.0.0.1 with a free port), not a mock of the engine: the
//! client under test speaks HTTP to it exactly as to the real server. Each [`HostileServer`]
//! plays one [`Abuse`]; everything else it answers as plainly as it can (capabilities of our
//! server, empty pages, 404 for lookups), so that the abuse is the only thing that differs.
//! Next to it runs a [`Decoy`] on another port (another origin): the target of the redirects,
//! which records whether any request reached it, and with which credentials.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{CONTENT_ENCODING, CONTENT_TYPE, LOCATION};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use flate2::{Compress, Compression, Crc, FlushCompress, Status};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The application key header (`X-ZUMO-APPLICATION`) and the user token header
/// (`X-ZUMO-AUTH`): the credentials that must never reach another origin.
pub const CREDENTIAL_HEADERS: [&str; 2] = ["x-zumo-application", "x-zumo-auth"];

/// A date every row of the scripted pages carries as `updatedAt` (any valid one does).
pub const UPDATED_AT: &str = "2024-05-01T12:00:00.000Z";

/// The scripted abuse a [`HostileServer`] answers with.
#[derive(Debug, Clone)]
pub enum Abuse {
    /// Every page (`GET /tables/…`) is a gzip body of about a thousandth of `expanded` bytes
    /// that expands to `expanded` bytes: one row whose `text` is that many spaces.
    GzipBomb {
        /// The size of the body once decompressed, in bytes.
        expanded: u64,
    },
    /// Every request is answered with this redirect status and a `Location` on the decoy (the
    /// same path on another origin).
    Redirect {
        /// 301, 302, 303, 307 or 308.
        status: u16,
    },
    /// Every write, single or in `POST /$batch`, is accepted and answered with an item of
    /// another id than the one written.
    WrongIds,
    /// Every page is this body (see [`deep_row`], [`row`]).
    Page(String),
}

/// A hostile server on `127.0.0.1` playing one [`Abuse`], stopped when dropped.
pub struct HostileServer {
    url: String,
    shared: Arc<Shared>,
    decoy: Decoy,
    task: JoinHandle<()>,
}

/// The other origin that redirects point to: it answers every request `200 []` and records it.
pub struct Decoy {
    url: String,
    state: Arc<DecoyState>,
    task: JoinHandle<()>,
}

struct Shared {
    abuse: Abuse,
    /// The bomb, compressed once at start.
    bomb: Option<Bytes>,
    decoy_url: String,
    requests: Mutex<Vec<String>>,
}

#[derive(Default)]
struct DecoyState {
    hits: AtomicUsize,
    credentials: Mutex<Vec<String>>,
}

impl HostileServer {
    /// Starts a hostile server playing `abuse`, and its decoy. Panics when it cannot listen:
    /// this is a test fixture.
    pub async fn start(abuse: Abuse) -> Self {
        let decoy = Decoy::start().await;
        let bomb = match &abuse {
            Abuse::GzipBomb { expanded } => Some(Bytes::from(gzip_bomb(*expanded))),
            _ => None,
        };
        let shared = Arc::new(Shared {
            abuse,
            bomb,
            decoy_url: decoy.url.clone(),
            requests: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .fallback(answer)
            .with_state(Arc::clone(&shared));
        let (addr, task) = serve(app).await;
        Self {
            url: format!("http://{addr}/"),
            shared,
            decoy,
            task,
        }
    }

    /// The server's base URL (`http://127.0.0.1:<port>/`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The decoy on the other origin.
    pub fn decoy(&self) -> &Decoy {
        &self.decoy
    }

    /// Every request received, as `METHOD /path?query`, in order.
    pub fn requests(&self) -> Vec<String> {
        lock(&self.shared.requests).clone()
    }

    /// The size in bytes of the compressed bomb this server sends (0 for other abuses).
    pub fn bomb_bytes(&self) -> usize {
        self.shared.bomb.as_ref().map_or(0, Bytes::len)
    }
}

impl Drop for HostileServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Decoy {
    async fn start() -> Self {
        let state = Arc::new(DecoyState::default());
        let app = Router::new()
            .fallback(decoy_answer)
            .with_state(Arc::clone(&state));
        let (addr, task) = serve(app).await;
        Self {
            url: format!("http://{addr}"),
            state,
            task,
        }
    }

    /// The decoy's origin (`http://127.0.0.1:<port>`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// How many requests reached the decoy.
    pub fn hits(&self) -> usize {
        self.state.hits.load(Ordering::SeqCst)
    }

    /// The credential headers (names, never values) the requests that reached it carried.
    pub fn credentials_seen(&self) -> Vec<String> {
        lock(&self.state.credentials).clone()
    }
}

impl Drop for Decoy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `app` on a free loopback port.
async fn serve(app: Router) -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("HostileServer: cannot listen on 127.0.0.1: {e}"));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("HostileServer: no local address: {e}"));
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            log::warn!("hostile server stopped: {e}");
        }
    });
    (addr, task)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A JSON answer.
fn json_answer(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        body.to_string(),
    )
        .into_response()
}

async fn answer(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    lock(&shared.requests).push(format!("{method} {uri}"));
    if let Abuse::Redirect { status } = shared.abuse {
        let location = format!("{}{}", shared.decoy_url, uri);
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::FOUND);
        return match HeaderValue::from_str(&location) {
            Ok(location) => (status, [(LOCATION, location)], "").into_response(),
            Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        };
    }
    if path == "/$capabilities" {
        return json_answer(
            StatusCode::OK,
            &json!({"idempotentWrites": false, "batch": true, "maxBatchOperations": 100,
                    "maxTop": 1000, "changesFeed": false}),
        );
    }
    let table_path = path.strip_prefix("/tables/").unwrap_or_default();
    let (table, id) = match table_path.split_once('/') {
        Some((table, id)) => (table, Some(id)),
        None => (table_path, None),
    };
    match (&method, id, path.as_str()) {
        (&Method::POST, _, "/$batch") => batch_answer(&shared.abuse, &body),
        (&Method::GET, None, _) if !table.is_empty() => page_answer(&shared),
        (&Method::GET, Some(_), _) => {
            json_answer(StatusCode::NOT_FOUND, &json!({"error": "not found"}))
        }
        (&Method::POST | &Method::PATCH | &Method::DELETE, _, _) if !table.is_empty() => {
            let sent = serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null);
            let id = id
                .map(str::to_string)
                .or_else(|| sent.get("id").and_then(Value::as_str).map(str::to_string))
                .unwrap_or_default();
            let status = if method == Method::POST {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            json_answer(status, &stored(&shared.abuse, &id, &sent))
        }
        _ => json_answer(StatusCode::NOT_FOUND, &json!({"error": "no such route"})),
    }
}

/// The item a write is answered with: the one sent, stamped, and under another id when the
/// abuse is [`Abuse::WrongIds`].
fn stored(abuse: &Abuse, id: &str, sent: &Value) -> Value {
    let mut item = sent.as_object().cloned().unwrap_or_default();
    let id = match abuse {
        Abuse::WrongIds => format!("{id}-not-yours"),
        _ => id.to_string(),
    };
    item.insert("id".into(), Value::String(id));
    item.insert("version".into(), json!("AAAAAAAAAAE="));
    item.insert("createdAt".into(), json!(UPDATED_AT));
    item.insert("updatedAt".into(), json!(UPDATED_AT));
    item.insert("deleted".into(), json!(false));
    Value::Object(item)
}

fn batch_answer(abuse: &Abuse, body: &[u8]) -> Response {
    let request = serde_json::from_slice::<Value>(body).unwrap_or(Value::Null);
    let operations = request
        .get("operations")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let results: Vec<Value> = operations
        .iter()
        .map(|op| {
            let id = op.get("id").and_then(Value::as_str).unwrap_or_default();
            let sent = op.get("item").cloned().unwrap_or(Value::Null);
            let status = if op.get("op").and_then(Value::as_str) == Some("insert") {
                201
            } else {
                200
            };
            json!({"status": status, "item": stored(abuse, id, &sent)})
        })
        .collect();
    json_answer(StatusCode::OK, &json!({ "results": results }))
}

fn page_answer(shared: &Shared) -> Response {
    match (&shared.abuse, &shared.bomb) {
        (Abuse::GzipBomb { .. }, Some(bomb)) => (
            StatusCode::OK,
            [
                (CONTENT_TYPE, HeaderValue::from_static("application/json")),
                (CONTENT_ENCODING, HeaderValue::from_static("gzip")),
            ],
            bomb.clone(),
        )
            .into_response(),
        (Abuse::Page(body), _) => (
            StatusCode::OK,
            [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
            body.clone(),
        )
            .into_response(),
        _ => json_answer(StatusCode::OK, &json!([])),
    }
}

async fn decoy_answer(State(state): State<Arc<DecoyState>>, headers: HeaderMap) -> Response {
    state.hits.fetch_add(1, Ordering::SeqCst);
    for name in CREDENTIAL_HEADERS {
        if headers.contains_key(name) {
            lock(&state.credentials).push(name.to_string());
        }
    }
    json_answer(StatusCode::OK, &json!([]))
}

/// An ordinary row of a page, as JSON text.
pub fn row(id: &str, text: &str) -> String {
    json!({"id": id, "text": text, "complete": false, "version": "AAAAAAAAAAE=",
           "createdAt": UPDATED_AT, "updatedAt": UPDATED_AT, "deleted": false})
    .to_string()
}

/// A row with id `id` whose `deep` property nests `levels` arrays, as JSON text (serde_json
/// cannot build one deeper than its recursion limit, so it is written by hand).
pub fn deep_row(id: &str, levels: usize) -> String {
    format!(
        r#"{{"id":{},"text":"deep","updatedAt":"{UPDATED_AT}","deep":{}{}}}"#,
        Value::String(id.to_string()),
        "[".repeat(levels),
        "]".repeat(levels)
    )
}

/// A page in the object form (`{"results": [rows…]}`) holding these rows' JSON texts.
pub fn page(rows: &[String]) -> String {
    format!(r#"{{"results":[{}]}}"#, rows.join(","))
}

/// A gzip body that expands to `expanded` bytes: `{"results":[{"id":"bomb","text":"` then
/// spaces then `"}]}`. Built without compressing `expanded` bytes: one MiB of spaces is
/// compressed once, ending on a full flush (so it refers to nothing before it), and repeated;
/// the CRC is combined, so the result is a valid gzip stream a decoder checks to the end.
pub fn gzip_bomb(expanded: u64) -> Vec<u8> {
    const CHUNK: usize = 1 << 20;
    let prefix = br#"{"results":[{"id":"bomb","text":""#;
    let suffix = br#""}]}"#;
    let spaces = vec![b' '; CHUNK];
    let fill = expanded.saturating_sub((prefix.len() + suffix.len()) as u64);
    let (whole, rest) = (fill / CHUNK as u64, (fill % CHUNK as u64) as usize);
    let chunk = deflate(&spaces, FlushCompress::Full);
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    out.extend(deflate(prefix, FlushCompress::Full));
    let mut crc = crc_of(prefix);
    let chunk_crc = crc_of(&spaces);
    for _ in 0..whole {
        out.extend_from_slice(&chunk);
        crc.combine(&chunk_crc);
    }
    let mut tail = vec![b' '; rest];
    tail.extend_from_slice(suffix);
    out.extend(deflate(&tail, FlushCompress::Finish));
    crc.combine(&crc_of(&tail));
    out.extend_from_slice(&crc.sum().to_le_bytes());
    // ISIZE is the length modulo 2^32.
    let total = prefix.len() as u64 + whole * CHUNK as u64 + tail.len() as u64;
    out.extend_from_slice(&((total & 0xffff_ffff) as u32).to_le_bytes());
    out
}

fn crc_of(data: &[u8]) -> Crc {
    let mut crc = Crc::new();
    crc.update(data);
    crc
}

/// `data` as raw deflate from a fresh compressor, ending with `flush` (`Full`: byte-aligned,
/// more may follow; `Finish`: the final block).
fn deflate(data: &[u8], flush: FlushCompress) -> Vec<u8> {
    let mut compress = Compress::new(Compression::best(), false);
    let mut out = Vec::with_capacity(data.len() / 64 + 1024);
    loop {
        let consumed = usize::try_from(compress.total_in()).unwrap_or(data.len());
        let status = compress
            .compress_vec(&data[consumed.min(data.len())..], &mut out, flush)
            .unwrap_or_else(|e| panic!("gzip_bomb: deflate failed: {e}"));
        let all_in = compress.total_in() as usize >= data.len();
        let room_left = out.len() < out.capacity();
        match (status, flush) {
            (Status::StreamEnd, _) => break,
            (_, FlushCompress::Full) if all_in && room_left => break,
            _ => out.reserve(out.capacity().max(1024)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use super::*;

    #[test]
    fn the_bomb_is_small_valid_gzip_of_a_page() {
        let expanded = 3 * (1 << 20) + 12_345;
        let bomb = gzip_bomb(expanded);
        assert!(bomb.len() < 8 * 1024, "{} bytes compressed", bomb.len());
        let mut text = String::new();
        let read = flate2::read::GzDecoder::new(&bomb[..]).read_to_string(&mut text);
        assert!(read.is_ok(), "{read:?}");
        assert_eq!(text.len() as u64, expanded);
        let page: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        assert_eq!(page["results"][0]["id"], "bomb");
    }

    #[test]
    fn deep_rows_are_json_nested_as_asked() {
        let text = deep_row("d", 3);
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        assert_eq!(value["deep"], json!([[[]]]));
        assert_eq!(value["id"], "d");
    }
}
