//! A fault-injecting HTTP/1.1 proxy on loopback, for tests of what a client does when the
//! network misbehaves: a request dropped before the server sees it, a response lost (closed or
//! reset) after the server applied the request, a response cut off halfway, a slow link, a
//! response held until the test releases it (to act while a request is in flight), or a canned
//! answer.
//!
//! Each connection is handled one exchange at a time (read the whole request, decide, forward,
//! read the whole response), so rules apply per request even on keep-alive connections.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinHandle;

/// What the proxy does to a request that matches a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Close the client's connection without forwarding the request: the server never sees it.
    DropRequest,
    /// Forward the request, let the server answer, then close the client's connection without
    /// sending the answer (a response lost after the server applied the write).
    DropResponse,
    /// Forward the request, let the server answer, then reset the client's connection (TCP RST)
    /// instead of answering.
    ResetAfterRequest,
    /// Forward the request and send only the first half of the server's answer, then close.
    TruncateResponse,
    /// Wait this long before forwarding the request (a slow link); the answer then passes.
    Delay(Duration),
    /// Forward the request and hold the answer until [`FaultProxy::release`].
    HoldResponse,
    /// Answer 503 with `Retry-After: retry_after_secs` without forwarding anything, as a
    /// server whose query slots are all taken does.
    Busy {
        /// The seconds the answer asks the client to wait.
        retry_after_secs: u64,
    },
    /// Answer this status and JSON body without forwarding anything.
    Respond {
        /// The status code.
        status: u16,
        /// The body.
        body: String,
    },
}

#[derive(Debug, Clone)]
struct Rule {
    method: String,
    path_contains: String,
    fault: Fault,
    skip: usize,
    remaining: usize,
}

struct State {
    rules: Mutex<Vec<Rule>>,
    seen: Mutex<Vec<String>>,
    held: Notify,
    held_count: Mutex<usize>,
    release: Semaphore,
}

/// A proxy on 127.0.0.1 forwarding to one target, with per-request fault rules.
pub struct FaultProxy {
    addr: SocketAddr,
    state: Arc<State>,
    task: JoinHandle<()>,
}

impl FaultProxy {
    /// Starts a proxy to `target` (a `http://host:port[/...]` URL or `host:port`).
    pub async fn start(target: &str) -> Result<Self> {
        let authority = target
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap_or_default()
            .to_string();
        let target: SocketAddr = tokio::net::lookup_host(&authority)
            .await
            .with_context(|| format!("resolve {authority}"))?
            .next()
            .ok_or_else(|| anyhow!("no address for {authority}"))?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State {
            rules: Mutex::new(Vec::new()),
            seen: Mutex::new(Vec::new()),
            held: Notify::new(),
            held_count: Mutex::new(0),
            release: Semaphore::new(0),
        });
        let accept_state = Arc::clone(&state);
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let state = Arc::clone(&accept_state);
                tokio::spawn(async move {
                    if let Err(e) = serve(client, target, state).await {
                        log::debug!("proxy connection ended: {e}");
                    }
                });
            }
        });
        Ok(Self { addr, state, task })
    }

    /// The proxy's base URL, `http://127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Applies `fault` to the next `times` requests whose method is `method` and whose
    /// request target contains `path_contains`.
    pub fn add_rule(&self, method: &str, path_contains: &str, fault: Fault, times: usize) {
        self.add_rule_after(method, path_contains, fault, 0, times);
    }

    /// Like [`FaultProxy::add_rule`], letting the first `skip` matching requests through.
    pub fn add_rule_after(
        &self,
        method: &str,
        path_contains: &str,
        fault: Fault,
        skip: usize,
        times: usize,
    ) {
        if let Ok(mut rules) = self.state.rules.lock() {
            rules.push(Rule {
                method: method.to_ascii_uppercase(),
                path_contains: path_contains.to_string(),
                fault,
                skip,
                remaining: times,
            });
        }
    }

    /// Loses the responses of the next `times` requests with this method (after the server
    /// applied them).
    pub fn drop_responses(&self, method: &str, times: usize) {
        self.add_rule(method, "", Fault::DropResponse, times);
    }

    /// Holds the responses of the next `times` requests with this method until released.
    pub fn hold_responses(&self, method: &str, times: usize) {
        self.add_rule(method, "", Fault::HoldResponse, times);
    }

    /// Waits until a response is being held.
    pub async fn wait_held(&self) {
        loop {
            let notified = self.state.held.notified();
            if self
                .state
                .held_count
                .lock()
                .map(|n| *n > 0)
                .unwrap_or(false)
            {
                return;
            }
            notified.await;
        }
    }

    /// Lets one held response (present or future) through.
    pub fn release(&self) {
        self.state.release.add_permits(1);
    }

    /// The request lines seen so far (`METHOD target`), oldest first.
    pub fn requests(&self) -> Vec<String> {
        self.state
            .seen
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn take_fault(state: &State, method: &str, target: &str) -> Option<Fault> {
    let mut rules = state.rules.lock().ok()?;
    let rule = rules
        .iter_mut()
        .find(|r| r.remaining > 0 && r.method == method && target.contains(&r.path_contains))?;
    if rule.skip > 0 {
        rule.skip -= 1;
        return None;
    }
    rule.remaining -= 1;
    Some(rule.fault.clone())
}

async fn serve(mut client: TcpStream, target: SocketAddr, state: Arc<State>) -> Result<()> {
    let mut upstream: Option<TcpStream> = None;
    let mut client_buf = VecDeque::new();
    loop {
        let Some(request) = read_message(&mut client, &mut client_buf, false).await? else {
            return Ok(());
        };
        let line = request.start_line.clone();
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_string();
        let path = parts.next().unwrap_or_default().to_string();
        if let Ok(mut seen) = state.seen.lock() {
            seen.push(format!("{method} {path}"));
        }
        let fault = take_fault(&state, &method, &path);
        match &fault {
            Some(Fault::DropRequest) => return Ok(()),
            Some(Fault::Delay(delay)) => tokio::time::sleep(*delay).await,
            _ => {}
        }
        if let Some(Fault::Busy { retry_after_secs }) = &fault {
            let body = r#"{"error":"the server is busy; retry later"}"#;
            let reply = format!(
                "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: {retry_after_secs}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            client.write_all(reply.as_bytes()).await?;
            return Ok(());
        }
        if let Some(Fault::Respond { status, body }) = &fault {
            let reply = format!(
                "HTTP/1.1 {status} Fault\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            client.write_all(reply.as_bytes()).await?;
            return Ok(());
        }
        if upstream.is_none() {
            upstream = Some(TcpStream::connect(target).await?);
        }
        let Some(server) = upstream.as_mut() else {
            return Ok(());
        };
        server.write_all(&request.raw).await?;
        let mut server_buf = VecDeque::new();
        let Some(response) = read_message(server, &mut server_buf, true).await? else {
            return Ok(());
        };
        match fault {
            Some(Fault::DropResponse) => {
                // The server has answered, so it applied the request; the client never hears.
                return Ok(());
            }
            Some(Fault::ResetAfterRequest) => {
                // A zero linger makes the close send RST instead of FIN.
                client.set_zero_linger()?;
                return Ok(());
            }
            Some(Fault::TruncateResponse) => {
                let half = response.raw.len() / 2;
                client.write_all(&response.raw[..half]).await?;
                client.flush().await?;
                return Ok(());
            }
            Some(Fault::HoldResponse) => {
                if let Ok(mut n) = state.held_count.lock() {
                    *n += 1;
                }
                state.held.notify_waiters();
                let permit = state.release.acquire().await;
                if let Ok(p) = permit {
                    p.forget();
                }
                if let Ok(mut n) = state.held_count.lock() {
                    *n = n.saturating_sub(1);
                }
            }
            _ => {}
        }
        client.write_all(&response.raw).await?;
        if response.close {
            return Ok(());
        }
    }
}

struct Message {
    start_line: String,
    raw: Vec<u8>,
    close: bool,
}

async fn fill<R: AsyncRead + Unpin>(r: &mut R, buf: &mut VecDeque<u8>) -> Result<bool> {
    let mut chunk = [0u8; 16 * 1024];
    let n = r.read(&mut chunk).await?;
    buf.extend(&chunk[..n]);
    Ok(n > 0)
}

fn find(buf: &mut VecDeque<u8>, needle: &[u8], from: usize) -> Option<usize> {
    buf.make_contiguous()
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// Reads one whole HTTP/1.1 message (head and body by content-length, chunked, or until close).
async fn read_message<R: AsyncRead + Unpin>(
    r: &mut R,
    buf: &mut VecDeque<u8>,
    is_response: bool,
) -> Result<Option<Message>> {
    let head_end = loop {
        if let Some(p) = find(buf, b"\r\n\r\n", 0) {
            break p + 4;
        }
        if !fill(r, buf).await? {
            if buf.is_empty() {
                return Ok(None);
            }
            return Err(anyhow!("connection closed inside a message head"));
        }
    };
    let head: Vec<u8> = buf.drain(..head_end).collect();
    let text = String::from_utf8_lossy(&head).to_string();
    let mut lines = text.split("\r\n");
    let start_line = lines.next().unwrap_or_default().to_string();
    let mut length: Option<usize> = None;
    let mut chunked = false;
    let mut close = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let (name, value) = (
            name.trim().to_ascii_lowercase(),
            value.trim().to_ascii_lowercase(),
        );
        match name.as_str() {
            "content-length" => length = value.parse().ok(),
            "transfer-encoding" => chunked = value.contains("chunked"),
            "connection" => close = value.contains("close"),
            _ => {}
        }
    }
    let status: u16 = start_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut raw = head;
    if chunked {
        // Chunks: size line, data, CRLF; a zero size ends them, then trailers and a blank line.
        loop {
            let line_end = loop {
                if let Some(p) = find(buf, b"\r\n", 0) {
                    break p;
                }
                if !fill(r, buf).await? {
                    return Err(anyhow!("connection closed inside a chunk size"));
                }
            };
            let size_line: Vec<u8> = buf.drain(..line_end + 2).collect();
            let size_text = String::from_utf8_lossy(&size_line);
            let size =
                usize::from_str_radix(size_text.trim().split(';').next().unwrap_or("0"), 16)?;
            raw.extend(size_line);
            if size == 0 {
                let trailer_end = loop {
                    if buf.len() >= 2 && buf.make_contiguous().starts_with(b"\r\n") {
                        break 2;
                    }
                    if let Some(p) = find(buf, b"\r\n\r\n", 0) {
                        break p + 4;
                    }
                    if !fill(r, buf).await? {
                        return Err(anyhow!("connection closed inside chunk trailers"));
                    }
                };
                raw.extend(buf.drain(..trailer_end));
                break;
            }
            while buf.len() < size + 2 {
                if !fill(r, buf).await? {
                    return Err(anyhow!("connection closed inside a chunk"));
                }
            }
            raw.extend(buf.drain(..size + 2));
        }
    } else if let Some(n) = length {
        while buf.len() < n {
            if !fill(r, buf).await? {
                return Err(anyhow!("connection closed inside a body"));
            }
        }
        raw.extend(buf.drain(..n));
    } else if is_response && !(status == 204 || status == 304 || (100..200).contains(&status)) {
        // No length: the body runs until the server closes.
        while fill(r, buf).await? {}
        raw.extend(buf.drain(..));
        close = true;
    }
    Ok(Some(Message {
        start_line,
        raw,
        close,
    }))
}
