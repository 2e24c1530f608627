//! [`Backend`]: the app's state and behaviour without Tauri. It owns the [`TodoList`] (one
//! `SyncContext` on the app's store), the settings, and the background work: publishing the
//! sync status, syncing automatically when asked to, and noticing when another program (the
//! `tidemark` CLI) changed the store. Commands are thin wrappers over its methods, so everything
//! here is tested without a window.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde::Serialize;
use tidemark_todos::{
    Conflict, Resolution, STORE_FILE_NAME, SyncOutcome, Todo, TodoList, TodoStatus,
};
use tokio::sync::Notify;

use crate::error::{CommandError, writable};
use crate::settings::{Settings, SettingsStore};

/// The first wait before retrying an automatic sync the server did not answer.
const RETRY_FIRST: Duration = Duration::from_secs(5);
/// The longest wait between automatic retries.
const RETRY_MAX: Duration = Duration::from_secs(60);
/// How long automatic sync waits after a change, so a burst of edits goes in one sync.
const AUTO_DEBOUNCE: Duration = Duration::from_millis(400);
/// How often the engine is asked whether other programs committed to the store (a cheap
/// in-memory query): well inside the two seconds the README promises.
const STORE_CHECK: Duration = Duration::from_millis(500);
/// How long the store watcher waits after the store failed before it looks again.
const STORE_RETRY: Duration = Duration::from_secs(5);

/// Where the backend runs: directories and the environment's overrides.
#[derive(Debug, Clone, Default)]
pub struct BackendConfig {
    /// The data directory holding `tidemark.db` (and the settings file in the app).
    pub data_dir: PathBuf,
    /// `TIDEMARK_SERVER`: replaces the saved server URL for this run.
    pub server_override: Option<String>,
    /// `TIDEMARK_APP_KEY`: replaces the saved application key for this run.
    pub app_key_override: Option<String>,
}

impl BackendConfig {
    /// Reads `TIDEMARK_DATA_DIR`, `TIDEMARK_SERVER` and `TIDEMARK_APP_KEY`, with
    /// `default_data_dir` when the first is unset.
    pub fn from_env(default_data_dir: PathBuf) -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        Self {
            data_dir: var("TIDEMARK_DATA_DIR").map_or(default_data_dir, PathBuf::from),
            server_override: var("TIDEMARK_SERVER"),
            app_key_override: var("TIDEMARK_APP_KEY"),
        }
    }
}

/// Receives what the UI must hear about (the app forwards these as Tauri events).
pub trait Notifier: Send + Sync {
    /// The badge or status line changed (`sync-status`).
    fn status(&self, status: &StatusView);
    /// The list may have changed behind the UI's back (a sync, another program).
    fn todos_changed(&self);
}

/// A notifier that drops everything (tests that do not listen).
#[derive(Debug, Default)]
pub struct NoNotifier;

impl Notifier for NoNotifier {
    fn status(&self, _: &StatusView) {}
    fn todos_changed(&self) {}
}

/// The state behind the badge and the status line, as sent to the UI: the todo list's status
/// (its `lastError` being the app's own words for the last sync's failure) and what only the
/// app knows.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusView {
    /// Pending changes, conflicts, connectivity, last sync and last error.
    #[serde(flatten)]
    pub list: TodoStatus,
    /// The kind of the last sync error (`unreachable`, `unauthorized`...).
    pub last_error_kind: Option<&'static str>,
    /// Whether "sync automatically" is on.
    pub sync_automatically: bool,
}

/// What the settings panel shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SettingsView {
    /// The settings in force.
    #[serde(flatten)]
    pub settings: Settings,
    /// The data directory (where the store and the settings file live).
    pub data_dir: PathBuf,
    /// Set when `TIDEMARK_SERVER` chose the server for this run.
    pub server_from_env: bool,
}

/// The app's state and behaviour, shared by the commands and the background tasks.
pub struct Backend {
    list: RwLock<TodoList>,
    settings: Mutex<Settings>,
    settings_store: Box<dyn SettingsStore>,
    notifier: Arc<dyn Notifier>,
    config: BackendConfig,
    last_error: Mutex<Option<CommandError>>,
    auto_sync: Notify,
    /// Set at open when the store can be read but not written (shown as a warning banner).
    read_only: Option<CommandError>,
}

impl Backend {
    /// Opens the store in `config.data_dir` with the saved settings (overridden by the
    /// environment). Nothing contacts the server here: no sync on launch.
    pub async fn open(
        config: BackendConfig,
        settings_store: Box<dyn SettingsStore>,
        notifier: Arc<dyn Notifier>,
    ) -> Result<Arc<Self>, CommandError> {
        let mut settings = settings_store.load().unwrap_or_default();
        if let Some(server) = &config.server_override {
            settings.server_url = server.clone();
        }
        if let Some(key) = &config.app_key_override {
            settings.app_key = key.clone();
        }
        // A bad URL from the environment or an old file must not stop the app: the list
        // still works offline, and the settings panel shows what to fix.
        let settings = settings.validated().unwrap_or_else(|e| {
            log::warn!("ignoring the configured server: {e}");
            Settings {
                server_url: String::new(),
                ..settings
            }
        });
        let list = TodoList::open(&config.data_dir, settings.server(), settings.key())
            .await
            .map_err(|e| CommandError::from_todo(e, None))?;
        let store = config.data_dir.join(STORE_FILE_NAME);
        log::info!(
            "store {} opened; server {}",
            store.display(),
            settings.server().unwrap_or("(none)")
        );
        // SQLite opens a file it cannot write read-only without a word: say so now rather
        // than at the first change.
        let read_only = (!writable(&store)).then(|| CommandError::StoreReadOnly(store.clone()));
        if let Some(e) = &read_only {
            log::warn!("{e}");
        }
        Ok(Arc::new(Self {
            list: RwLock::new(list),
            settings: Mutex::new(settings),
            settings_store,
            notifier,
            config,
            last_error: Mutex::new(None),
            auto_sync: Notify::new(),
            read_only,
        }))
    }

    /// The todos, oldest first; completed ones only when `include_completed`.
    pub async fn list_todos(&self, include_completed: bool) -> Result<Vec<Todo>, CommandError> {
        let list = self.list();
        list.list(include_completed).await.map_err(|e| self.map(e))
    }

    /// Adds a todo (text validated and trimmed).
    pub async fn add_todo(&self, text: &str) -> Result<Todo, CommandError> {
        let todo = self.list().add(text).await.map_err(|e| self.map(e))?;
        self.changed();
        Ok(todo)
    }

    /// Marks a todo done or not done.
    pub async fn set_complete(&self, id: &str, complete: bool) -> Result<Todo, CommandError> {
        let todo = self
            .list()
            .set_complete(id, complete)
            .await
            .map_err(|e| self.map(e))?;
        self.changed();
        Ok(todo)
    }

    /// Renames a todo (text validated and trimmed).
    pub async fn edit_todo(&self, id: &str, text: &str) -> Result<Todo, CommandError> {
        let todo = self.list().edit(id, text).await.map_err(|e| self.map(e))?;
        self.changed();
        Ok(todo)
    }

    /// Deletes a todo.
    pub async fn delete_todo(&self, id: &str) -> Result<(), CommandError> {
        self.list().delete(id).await.map_err(|e| self.map(e))?;
        self.changed();
        Ok(())
    }

    /// Pushes the queued changes, then pulls the server's. The error (or its absence) is kept
    /// for the status line.
    pub async fn sync(&self) -> Result<SyncOutcome, CommandError> {
        let list = self.list();
        let result = list.sync().await.map_err(|e| self.map(e));
        match &result {
            Ok(outcome) => {
                log::info!(
                    "sync: {} pushed, {:?} pulled, {} conflict(s)",
                    outcome.pushed,
                    outcome.pulled,
                    outcome.conflicts
                );
                self.set_last_error(None);
            }
            Err(e) => {
                log::warn!("sync failed: {e}");
                self.set_last_error(Some(e.clone()));
            }
        }
        self.notifier.todos_changed();
        self.publish_status().await;
        result
    }

    /// The badge and status line's state.
    pub async fn status(&self) -> Result<StatusView, CommandError> {
        let list = self.list();
        let mut status = list.status().await.map_err(|e| self.map(e))?;
        let last_error = self.last_error.lock().ok().and_then(|e| e.clone());
        status.last_error = last_error.as_ref().map(ToString::to_string);
        Ok(StatusView {
            list: status,
            last_error_kind: last_error.as_ref().map(CommandError::kind),
            sync_automatically: self.settings().sync_automatically,
        })
    }

    /// Why the store cannot be written, when that was found at open (a read-only file).
    pub fn store_warning(&self) -> Option<&CommandError> {
        self.read_only.as_ref()
    }

    /// The changes the server refused, with both sides.
    pub async fn conflicts(&self) -> Result<Vec<Conflict>, CommandError> {
        self.list().conflicts().await.map_err(|e| self.map(e))
    }

    /// Settles the conflict on todo `id`. "Mine" and an edited text go out with the next sync.
    pub async fn resolve_conflict(
        &self,
        id: &str,
        resolution: Resolution,
    ) -> Result<(), CommandError> {
        self.list()
            .resolve(id, resolution)
            .await
            .map_err(|e| self.map(e))?;
        self.notifier.todos_changed();
        self.publish_status().await;
        Ok(())
    }

    /// The settings in force.
    pub fn get_settings(&self) -> SettingsView {
        let settings = self.settings();
        SettingsView {
            server_from_env: self
                .config
                .server_override
                .as_deref()
                .is_some_and(|s| settings.server() == Some(s.trim_end_matches('/'))),
            settings,
            data_dir: self.config.data_dir.clone(),
        }
    }

    /// Validates, saves and applies new settings; on any error nothing changes.
    pub async fn save_settings(&self, new: Settings) -> Result<SettingsView, CommandError> {
        let new = new.validated()?;
        {
            let mut list = self.list.write().map_err(|_| poisoned())?;
            list.set_server(new.server(), new.key())
                .map_err(|e| CommandError::from_todo(e, new.server()))?;
        }
        if let Err(e) = self.settings_store.save(&new) {
            log::error!("cannot save the settings: {e}");
            // Put the previous server back: what runs must match what is saved.
            let old = self.settings();
            if let Ok(mut list) = self.list.write() {
                let _ = list.set_server(old.server(), old.key());
            }
            return Err(CommandError::Settings(e));
        }
        let auto_turned_on = {
            let mut settings = self.settings.lock().map_err(|_| poisoned())?;
            let was = settings.sync_automatically;
            *settings = new.clone();
            !was && new.sync_automatically
        };
        log::info!(
            "settings saved; server {}",
            new.server().unwrap_or("(none)")
        );
        self.set_last_error(None);
        if auto_turned_on {
            self.auto_sync.notify_one();
        }
        self.publish_status().await;
        Ok(self.get_settings())
    }

    /// Sends the current status to the notifier.
    pub async fn publish_status(&self) {
        match self.status().await {
            Ok(status) => self.notifier.status(&status),
            Err(e) => log::warn!("cannot read the sync status: {e}"),
        }
    }

    /// Runs forever: publishes the status whenever the engine's pending count or sync state
    /// changes.
    pub async fn watch_status(self: Arc<Self>) {
        let mut rx = self.list().context().subscribe();
        while rx.changed().await.is_ok() {
            self.publish_status().await;
        }
    }

    /// Runs forever: with "sync automatically" on, syncs after changes (debounced) and keeps
    /// retrying, with a growing delay, while the server cannot be reached and changes wait.
    pub async fn auto_sync(self: Arc<Self>) {
        if self.settings().sync_automatically {
            self.auto_sync.notify_one();
        }
        let mut retry: Option<Duration> = None;
        loop {
            match retry {
                Some(delay) => {
                    let _ = tokio::time::timeout(delay, self.auto_sync.notified()).await;
                }
                None => self.auto_sync.notified().await,
            }
            let settings = self.settings();
            if !settings.sync_automatically || settings.server().is_none() {
                retry = None;
                continue;
            }
            tokio::time::sleep(AUTO_DEBOUNCE).await;
            retry = match self.sync().await {
                Err(e) if e.is_unreachable() => {
                    let next = retry.map_or(RETRY_FIRST, |d| (d * 2).min(RETRY_MAX));
                    log::info!("automatic sync: server unreachable, retrying in {next:?}");
                    Some(next)
                }
                _ => None,
            };
        }
    }

    /// Runs forever: when another program (the CLI) commits to the store, which the engine
    /// tells, the UI is told to reload and the badge is brought up to date.
    pub async fn watch_store(self: Arc<Self>) {
        let ctx = self.list().context().clone();
        let mut watcher = loop {
            match ctx.watch_store(STORE_CHECK).await {
                Ok(watcher) => break watcher,
                Err(e) => {
                    log::warn!("cannot watch the store for other programs' changes: {e}");
                    tokio::time::sleep(STORE_RETRY).await;
                }
            }
        };
        loop {
            match watcher.changed().await {
                Ok(()) => {
                    log::debug!("another program changed the store");
                    self.notifier.todos_changed();
                    self.publish_status().await;
                }
                Err(e) => {
                    log::warn!("cannot check the store for other programs' changes: {e}");
                    tokio::time::sleep(STORE_RETRY).await;
                }
            }
        }
    }

    /// Closes the store after the work already queued.
    pub async fn close(&self) {
        self.list().close().await;
    }

    fn list(&self) -> TodoList {
        match self.list.read() {
            Ok(list) => list.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn settings(&self) -> Settings {
        match self.settings.lock() {
            Ok(s) => s.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn set_last_error(&self, error: Option<CommandError>) {
        if let Ok(mut slot) = self.last_error.lock() {
            *slot = error;
        }
    }

    /// After a local change: automatic sync (when on) is told there is work.
    fn changed(&self) {
        if self.settings().sync_automatically {
            self.auto_sync.notify_one();
        }
    }

    fn map(&self, error: tidemark_todos::TodoError) -> CommandError {
        // The window shows plain words; what the engine said goes to the log.
        let detail = error.to_string();
        let error = CommandError::from_todo(error, self.settings().server());
        if error.is_store_fault() {
            // Nothing was written (SQLite rolled the transaction back); the queue is intact.
            log::error!("{error} ({detail})");
        } else if matches!(error, CommandError::Sync(_) | CommandError::Store(_)) {
            log::warn!("{detail}");
        }
        error
    }
}

fn poisoned() -> CommandError {
    CommandError::Store("an earlier failure left the app's state unusable; restart the app".into())
}
