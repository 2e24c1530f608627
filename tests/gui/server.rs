//! The server side of the GUI tests: reading and changing the server's todos over HTTP, as
//! another client would, to check what the app synced and to make conflicts.

use anyhow::{Result, ensure};
use serde_json::{Value, json};
use tidemark_protocol::headers::{
    API_VERSION_HEADER, APPLICATION_KEY_HEADER, SUPPORTED_API_VERSION,
};

/// Another client of the server at `url` (optionally with an application key, or signed in).
pub struct OtherClient {
    http: reqwest::Client,
    table: String,
    key: Option<String>,
    token: Option<String>,
}

impl OtherClient {
    /// A client of the `todoitem` table at `url`.
    pub fn new(url: &str, key: Option<&str>) -> Self {
        Self {
            http: reqwest::Client::new(),
            table: format!("{url}/tables/todoitem"),
            key: key.map(str::to_owned),
            token: None,
        }
    }

    /// A client of the `todoitem` table at `url`, signed in as `user`: it sees that user's rows.
    pub async fn signed_in(url: &str, user: &str, password: &str) -> Result<Self> {
        let mut client = Self::new(url, None);
        let res = client
            .http
            .post(format!("{url}/.auth/login/tidemark"))
            .json(&json!({"username": user, "password": password}))
            .send()
            .await?;
        ensure!(
            res.status().is_success(),
            "sign-in as {user}: {}",
            res.status()
        );
        let body: Value = res.json().await?;
        client.token = body["authenticationToken"].as_str().map(str::to_owned);
        ensure!(client.token.is_some(), "no token for {user}");
        Ok(client)
    }

    fn request(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        let mut req = self
            .http
            .request(method, url)
            .header(API_VERSION_HEADER, SUPPORTED_API_VERSION);
        if let Some(token) = &self.token {
            req = req.header("X-ZUMO-AUTH", token);
        }
        match &self.key {
            Some(key) => req.header(APPLICATION_KEY_HEADER, key),
            None => req,
        }
    }

    /// Every todo on the server (not deleted).
    pub async fn items(&self) -> Result<Vec<Value>> {
        let res = self
            .request(reqwest::Method::GET, &self.table)
            .send()
            .await?;
        ensure!(
            res.status().is_success(),
            "GET {}: {}",
            self.table,
            res.status()
        );
        Ok(res.json().await?)
    }

    /// The server's item with this text.
    pub async fn by_text(&self, text: &str) -> Result<Value> {
        self.items()
            .await?
            .into_iter()
            .find(|i| i["text"] == text)
            .ok_or_else(|| anyhow::anyhow!("no item {text:?} on the server"))
    }

    /// The texts on the server, sorted.
    pub async fn texts(&self) -> Result<Vec<String>> {
        let mut texts: Vec<String> = self
            .items()
            .await?
            .iter()
            .map(|i| i["text"].as_str().unwrap_or_default().to_owned())
            .collect();
        texts.sort();
        Ok(texts)
    }

    /// Adds a todo on the server.
    pub async fn add(&self, text: &str) -> Result<Value> {
        let res = self
            .request(reqwest::Method::POST, &self.table)
            .json(&json!({"text": text, "complete": false}))
            .send()
            .await?;
        ensure!(res.status().is_success(), "POST: {}", res.status());
        Ok(res.json().await?)
    }

    /// Deletes a todo on the server (another device deleting it).
    pub async fn delete(&self, id: &str) -> Result<()> {
        let url = format!("{}/{id}", self.table);
        let res = self.request(reqwest::Method::DELETE, &url).send().await?;
        ensure!(res.status().is_success(), "DELETE {url}: {}", res.status());
        Ok(())
    }

    /// Renames a todo on the server (a change made on another device).
    pub async fn rename(&self, id: &str, text: &str) -> Result<Value> {
        let url = format!("{}/{id}", self.table);
        let res = self
            .request(reqwest::Method::PATCH, &url)
            .json(&json!({"text": text}))
            .send()
            .await?;
        ensure!(res.status().is_success(), "PATCH {url}: {}", res.status());
        Ok(res.json().await?)
    }
}
