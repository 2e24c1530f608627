//! A small W3C WebDriver client over one kept-alive HTTP connection (reqwest's pool), enough
//! to drive the app through tauri-driver: find, click, type, read, run a script, screenshot.
//! One connection matters: tauri-driver drops some requests when each opens a new one.

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};
use base64::Engine as _;
use serde_json::{Value, json};

/// The W3C key of an element reference in WebDriver JSON.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// The Enter key, as WebDriver spells it in typed text.
pub const ENTER: &str = "\u{E007}";
/// The F5 key.
pub const F5: &str = "\u{E035}";

/// One WebDriver session (one launch of the app).
pub struct Session {
    http: reqwest::Client,
    base: String,
}

/// An element of the page.
#[derive(Debug, Clone)]
pub struct Element(String);

impl Element {
    /// The element a script returned, if it returned one.
    pub fn from_json(v: &Value) -> Option<Self> {
        v[ELEMENT_KEY].as_str().map(|s| Self(s.to_owned()))
    }
}

impl Session {
    /// Starts a session that launches `application` (tauri-driver's `tauri:options`).
    pub async fn start(driver_url: &str, application: &std::path::Path) -> Result<Self> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            .timeout(Duration::from_secs(60))
            .build()?;
        let caps = json!({"capabilities": {"alwaysMatch": {
            "tauri:options": {"application": application},
        }}});
        let res: Value = http
            .post(format!("{driver_url}/session"))
            .json(&caps)
            .send()
            .await?
            .json()
            .await?;
        let id = res["value"]["sessionId"]
            .as_str()
            .ok_or_else(|| anyhow!("no session id in {res}"))?
            .to_owned();
        Ok(Self {
            http,
            base: format!("{driver_url}/session/{id}"),
        })
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value> {
        let url = format!("{}{path}", self.base);
        let mut req = self.http.request(method.clone(), &url);
        if let Some(body) = body {
            req = req.json(&body);
        } else if method == reqwest::Method::POST {
            req = req.json(&json!({}));
        }
        let res = req
            .send()
            .await
            .with_context(|| format!("{method} {path}"))?;
        let status = res.status();
        let value: Value = res
            .json()
            .await
            .with_context(|| format!("{method} {path}: body"))?;
        if !status.is_success() {
            bail!(
                "{method} {path}: {status} {} {}",
                value["value"]["error"],
                value["value"]["message"]
            );
        }
        Ok(value["value"].clone())
    }

    /// Ends the session, which closes the app.
    pub async fn quit(self) -> Result<()> {
        self.send(reqwest::Method::DELETE, "", None).await?;
        Ok(())
    }

    /// The first element matching a CSS selector, now.
    pub async fn find(&self, css: &str) -> Result<Element> {
        let v = self
            .send(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await?;
        element(&v)
    }

    /// Every element matching a CSS selector, now.
    pub async fn find_all(&self, css: &str) -> Result<Vec<Element>> {
        let v = self
            .send(
                reqwest::Method::POST,
                "/elements",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await?;
        v.as_array()
            .ok_or_else(|| anyhow!("elements: {v}"))?
            .iter()
            .map(element)
            .collect()
    }

    /// Clicks an element.
    pub async fn click(&self, el: &Element) -> Result<()> {
        self.send(
            reqwest::Method::POST,
            &format!("/element/{}/click", el.0),
            None,
        )
        .await?;
        Ok(())
    }

    /// Types text into an element (WebDriver key codes such as [`ENTER`] allowed).
    pub async fn type_text(&self, el: &Element, text: &str) -> Result<()> {
        self.send(
            reqwest::Method::POST,
            &format!("/element/{}/value", el.0),
            Some(json!({"text": text})),
        )
        .await?;
        Ok(())
    }

    /// Empties an input.
    pub async fn clear(&self, el: &Element) -> Result<()> {
        self.send(
            reqwest::Method::POST,
            &format!("/element/{}/clear", el.0),
            None,
        )
        .await?;
        Ok(())
    }

    /// The visible text of an element.
    pub async fn text(&self, el: &Element) -> Result<String> {
        let v = self
            .send(
                reqwest::Method::GET,
                &format!("/element/{}/text", el.0),
                None,
            )
            .await?;
        Ok(v.as_str().unwrap_or_default().to_owned())
    }

    /// Double-clicks an element with the pointer.
    pub async fn double_click(&self, el: &Element) -> Result<()> {
        let origin = json!({ ELEMENT_KEY: el.0 });
        let actions = json!({"actions": [{
            "type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"},
            "actions": [
                {"type": "pointerMove", "origin": origin, "x": 0, "y": 0},
                {"type": "pointerDown", "button": 0}, {"type": "pointerUp", "button": 0},
                {"type": "pointerDown", "button": 0}, {"type": "pointerUp", "button": 0},
            ],
        }]});
        self.send(reqwest::Method::POST, "/actions", Some(actions))
            .await?;
        self.send(reqwest::Method::DELETE, "/actions", None).await?;
        Ok(())
    }

    /// Presses the mouse on an element's centre, drags it `dy` pixels down, and releases.
    pub async fn drag_down(&self, el: &Element, dy: i64) -> Result<()> {
        let origin = json!({ ELEMENT_KEY: el.0 });
        let actions = json!({"actions": [{
            "type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"},
            "actions": [
                {"type": "pointerMove", "origin": origin, "x": 0, "y": 0},
                {"type": "pointerDown", "button": 0},
                {"type": "pointerMove", "origin": "pointer", "x": 0, "y": dy / 2, "duration": 100},
                {"type": "pointerMove", "origin": "pointer", "x": 0, "y": dy - dy / 2, "duration": 100},
                {"type": "pointerUp", "button": 0},
            ],
        }]});
        self.send(reqwest::Method::POST, "/actions", Some(actions))
            .await?;
        self.send(reqwest::Method::DELETE, "/actions", None).await?;
        Ok(())
    }

    /// Runs a script in the page and returns its result (`arguments` are the `args`).
    pub async fn script(&self, script: &str, args: Vec<Value>) -> Result<Value> {
        self.send(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
        .await
    }

    /// A PNG screenshot of the window.
    pub async fn screenshot(&self) -> Result<Vec<u8>> {
        let v = self.send(reqwest::Method::GET, "/screenshot", None).await?;
        let b64 = v.as_str().ok_or_else(|| anyhow!("screenshot: {v}"))?;
        Ok(base64::engine::general_purpose::STANDARD.decode(b64)?)
    }

    /// Waits until `check` returns `Some`, retrying errors (an element read during a
    /// re-render is stale) until `timeout`; fails with the last error or `what`.
    pub async fn wait_for<T, F, Fut>(
        &self,
        what: &str,
        timeout: Duration,
        mut check: F,
    ) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<Option<T>>>,
    {
        let deadline = Instant::now() + timeout;
        let mut last = String::from("never satisfied");
        loop {
            match check().await {
                Ok(Some(v)) => return Ok(v),
                Ok(None) => {}
                Err(e) => last = format!("{e:#}"),
            }
            if Instant::now() > deadline {
                bail!("timed out waiting for {what} ({last})");
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }
}

fn element(v: &Value) -> Result<Element> {
    v[ELEMENT_KEY]
        .as_str()
        .map(|s| Element(s.to_owned()))
        .ok_or_else(|| anyhow!("not an element: {v}"))
}
