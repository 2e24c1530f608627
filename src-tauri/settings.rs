//! The user's settings (server URL, application key, "sync automatically"): their shape, their
//! validation, and where they are kept. Kept behind [`SettingsStore`] so the backend is tested
//! without Tauri; the app keeps them with tauri-plugin-store ([`PluginSettingsStore`]).

use std::path::PathBuf;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use tidemark_todos::normalize_server_url;

use crate::error::CommandError;

/// The key under which the settings object is kept in the store file.
const SETTINGS_KEY: &str = "settings";

/// What the settings panel edits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Settings {
    /// The sync server's base URL; empty means no server (work only on this computer).
    pub server_url: String,
    /// The application key sent to the server; empty means none.
    pub app_key: String,
    /// Sync after each change and when the server is reachable again.
    pub sync_automatically: bool,
}

impl Settings {
    /// Checks the settings and returns them normalised (trimmed key, URL without trailing slash).
    pub fn validated(&self) -> Result<Self, CommandError> {
        let server_url = if self.server_url.trim().is_empty() {
            String::new()
        } else {
            normalize_server_url(&self.server_url).map_err(|e| CommandError::from_todo(e, None))?
        };
        Ok(Self {
            server_url,
            app_key: self.app_key.trim().to_owned(),
            sync_automatically: self.sync_automatically,
        })
    }

    /// The server URL, or `None` when empty.
    pub fn server(&self) -> Option<&str> {
        Some(self.server_url.as_str()).filter(|s| !s.is_empty())
    }

    /// The application key, or `None` when empty.
    pub fn key(&self) -> Option<&str> {
        Some(self.app_key.as_str()).filter(|s| !s.is_empty())
    }
}

/// Where settings are kept between runs.
pub trait SettingsStore: Send + Sync {
    /// The saved settings, or `None` when none were saved yet (or they cannot be read).
    fn load(&self) -> Option<Settings>;
    /// Saves the settings durably.
    fn save(&self, settings: &Settings) -> Result<(), String>;
}

/// Settings kept in memory only (tests, and a fallback when the store file cannot be opened).
#[derive(Debug, Default)]
pub struct MemorySettingsStore(Mutex<Option<Settings>>);

impl MemorySettingsStore {
    /// A store holding `settings` as if saved before.
    pub fn with(settings: Option<Settings>) -> Self {
        Self(Mutex::new(settings))
    }
}

impl SettingsStore for MemorySettingsStore {
    fn load(&self) -> Option<Settings> {
        self.0.lock().ok().and_then(|s| s.clone())
    }

    fn save(&self, settings: &Settings) -> Result<(), String> {
        let mut slot = self.0.lock().map_err(|e| e.to_string())?;
        *slot = Some(settings.clone());
        Ok(())
    }
}

/// Settings kept by tauri-plugin-store in a JSON file (`<data dir>/settings.json`).
pub struct PluginSettingsStore<R: tauri::Runtime> {
    store: std::sync::Arc<tauri_plugin_store::Store<R>>,
    path: PathBuf,
}

impl<R: tauri::Runtime> PluginSettingsStore<R> {
    /// Opens (creating when missing) the store file at `path`.
    pub fn open(app: &tauri::AppHandle<R>, path: PathBuf) -> Result<Self, String> {
        use tauri_plugin_store::StoreExt as _;
        let store = app.store(&path).map_err(|e| e.to_string())?;
        Ok(Self { store, path })
    }
}

impl<R: tauri::Runtime> SettingsStore for PluginSettingsStore<R> {
    fn load(&self) -> Option<Settings> {
        let value = self.store.get(SETTINGS_KEY)?;
        match serde_json::from_value(value) {
            Ok(settings) => Some(settings),
            Err(e) => {
                log::warn!(
                    "ignoring unreadable settings in {}: {e}",
                    self.path.display()
                );
                None
            }
        }
    }

    fn save(&self, settings: &Settings) -> Result<(), String> {
        let value = serde_json::to_value(settings).map_err(|e| e.to_string())?;
        self.store.set(SETTINGS_KEY, value);
        self.store.save().map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_settings_are_normalised() {
        let s = Settings {
            server_url: " http://127.0.0.1:8080/ ".into(),
            app_key: " k ".into(),
            sync_automatically: true,
        };
        let v = s.validated().unwrap();
        assert_eq!(v.server(), Some("http://127.0.0.1:8080"));
        assert_eq!(v.key(), Some("k"));
    }

    #[test]
    fn empty_server_means_none() {
        let v = Settings::default().validated().unwrap();
        assert_eq!(v.server(), None);
        assert_eq!(v.key(), None);
    }

    #[test]
    fn invalid_server_url_is_refused_in_plain_words() {
        let s = Settings {
            server_url: "localhost:8080".into(),
            ..Settings::default()
        };
        let e = s.validated().unwrap_err();
        assert_eq!(e.kind(), "invalidServerUrl");
        assert!(e.to_string().contains("not a valid server URL"), "{e}");
    }

    #[test]
    fn missing_fields_read_as_defaults() {
        let s: Settings = serde_json::from_str(r#"{"serverUrl":"http://h"}"#).unwrap();
        assert!(!s.sync_automatically);
        assert_eq!(s.app_key, "");
    }
}
