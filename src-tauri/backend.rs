//! [`Backend`]: the app's state and behaviour without Tauri. It owns the [`TodoList`] (one
//! `SyncContext` on the app's store), the settings, and the background work: publishing the
//! sync status, syncing automatically when asked to, and noticing when another program (the
//! `tidemark` CLI) changed the store. Commands are thin wrappers over its methods, so everything
//! here is tested without a window.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde::Serialize;
use tidemark_todos::tidemark_client::Session;
use tidemark_todos::{
    Conflict, Rebuilt, Resolution, STORE_FILE_NAME, SessionStore, SyncOutcome, Todo, TodoError,
    TodoList, TodoStatus, TokenPlace, auth_client, default_session_file, import_local_list,
};
use tokio::sync::{Notify, watch};

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
    /// The session file shared with the CLI (`TIDEMARK_SESSION_FILE`, else the default one);
    /// `None` when the system has no config directory: signing in is then refused.
    pub session_file: Option<PathBuf>,
    /// Keep tokens in the file even where a secret store exists (tests; outside them,
    /// `SessionStore::new` honours `TIDEMARK_KEYRING=off` itself).
    pub no_keyring: bool,
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
            session_file: var("TIDEMARK_SESSION_FILE")
                .map(PathBuf::from)
                .or_else(default_session_file),
            no_keyring: false,
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
    /// Who is signed in (the name, else the user id); `None` signed out.
    pub user: Option<String>,
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

/// Who the app syncs as, for the settings' Account part.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountView {
    /// The server accounts are on (`None` until one is configured).
    pub server: Option<String>,
    /// Signed in: the user's name (the user id when the server gave no name).
    pub user: Option<String>,
    /// Signed in: todos of the local list (written without an account) that can be brought
    /// into this account.
    pub local_todos: usize,
    /// The last sync found the session ended (expired or revoked): sign in again to sync; the
    /// changes stay queued.
    pub session_ended: bool,
    /// Signed in: where the session's token is kept (`keyring`, or `file` where the system
    /// has no secret store).
    pub token_place: Option<TokenPlace>,
    /// The session file (named when the token is kept in it).
    pub session_file: Option<PathBuf>,
}

/// What signing out did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignedOut {
    /// Changes of the account that wait to be pushed: they stay on this computer, in that
    /// account's store, for its next sign-in.
    pub pending_kept: u64,
    /// Whether the server ended the session (false offline: it then stays valid there until
    /// it expires).
    pub ended_on_server: bool,
}

/// The app's state and behaviour, shared by the commands and the background tasks.
pub struct Backend {
    list: RwLock<TodoList>,
    /// Bumped whenever another store is opened (sign-in, sign-out), so the watchers of the
    /// old one move to the new one.
    opened: watch::Sender<u64>,
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
        // Signed in (here or with the CLI), the account's own store; otherwise the local list.
        let session = match (settings.server(), session_store(&config)) {
            (Some(server), Some(store)) => store.load(server).unwrap_or_else(|e| {
                log::warn!("cannot read the saved session, starting signed out: {e}");
                None
            }),
            _ => None,
        };
        let list = open_list(&config, &settings, session)
            .await
            .map_err(|e| CommandError::from_todo(e, None))?;
        let store = list.context().store_path().to_owned();
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
            opened: watch::Sender::new(0),
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
                if let Some(renewed) = &outcome.renewed_session {
                    self.save_session(renewed);
                }
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
            user: list.session().map(|s| s.display_name()),
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

    /// Who the app syncs as.
    pub async fn account(&self) -> Result<AccountView, CommandError> {
        let list = self.list();
        let Some(session) = list.session() else {
            return Ok(AccountView {
                server: self.settings().server().map(str::to_owned),
                user: None,
                local_todos: 0,
                session_ended: false,
                token_place: None,
                session_file: None,
            });
        };
        let local = self.config.data_dir.join(STORE_FILE_NAME);
        let local_todos = if local.exists() {
            let local = TodoList::open(&self.config.data_dir, None, None)
                .await
                .map_err(|e| self.map(e))?;
            let todos = local.list(true).await;
            local.close().await;
            todos.map_err(|e| self.map(e))?.len()
        } else {
            0
        };
        let session_ended = matches!(
            self.last_error.lock().ok().and_then(|e| e.clone()),
            Some(CommandError::Account(_))
        );
        let token_place = match (list.server(), session_store(&self.config)) {
            (Some(server), Some(store)) => store.token_place(server).unwrap_or(None),
            _ => None,
        };
        Ok(AccountView {
            server: list.server().map(str::to_owned),
            user: Some(session.display_name()),
            local_todos,
            session_ended,
            token_place,
            session_file: self.config.session_file.clone(),
        })
    }

    /// Whether the configured server lets anyone create an account (`None`: no server, or it
    /// did not say, or it could not be reached: the form then offers it and the server decides).
    pub async fn signup_allowed(&self) -> Option<bool> {
        let settings = self.settings();
        let auth = auth_client(settings.server()?, settings.key()).ok()?;
        match auth.signup_allowed().await {
            Ok(allowed) => allowed,
            Err(e) => {
                log::debug!("cannot ask the server whether sign-up is open: {e}");
                None
            }
        }
    }

    /// Signs in to the configured server (or, with `create`, makes the account first), keeps
    /// the session in the session file and opens that account's store. The local list stays
    /// where it is until [`Backend::bring_local_list`].
    pub async fn sign_in(
        &self,
        user: &str,
        password: &str,
        create: bool,
    ) -> Result<AccountView, CommandError> {
        let settings = self.settings();
        let server = settings.server().ok_or(CommandError::NoServer)?.to_owned();
        let sessions = self.sessions()?;
        let auth = auth_client(&server, settings.key()).map_err(|e| self.map(e))?;
        let answer = if create {
            auth.sign_up(user, password).await
        } else {
            auth.sign_in(user, password).await
        };
        let session = answer.map_err(|e| self.map(TodoError::from(e)))?;
        sessions.save(&server, &session).map_err(|e| self.map(e))?;
        let list = open_list(&self.config, &settings, Some(session))
            .await
            .map_err(|e| self.map(e))?;
        self.switch_to(list).await;
        log::info!("signed in on {server}");
        self.account().await
    }

    /// Brings the local list's todos into the signed-in account (queued for push); answers
    /// how many came.
    pub async fn bring_local_list(&self) -> Result<usize, CommandError> {
        let list = self.list();
        if list.session().is_none() {
            return Err(CommandError::Account(
                "Sign in first: the local list is brought into an account.".into(),
            ));
        }
        let brought = import_local_list(&self.config.data_dir, &list)
            .await
            .map_err(|e| self.map(e))?;
        self.changed();
        self.notifier.todos_changed();
        self.publish_status().await;
        Ok(brought)
    }

    /// Rebuilds the local copy from the server (see [`tidemark_todos::TodoList::rebuild`]):
    /// `lose` is the number of unsent changes the user agreed to lose (0: none may be).
    pub async fn rebuild_local_copy(&self, lose: u64) -> Result<Rebuilt, CommandError> {
        let result = self.list().rebuild(lose).await.map_err(|e| self.map(e));
        self.notifier.todos_changed();
        self.publish_status().await;
        result
    }

    /// Signs out: ends the session on the server when it can be reached, forgets it here and
    /// goes back to the local list. The account's waiting changes stay in its store.
    pub async fn sign_out(&self) -> Result<SignedOut, CommandError> {
        let list = self.list();
        let Some(session) = list.session() else {
            return Ok(SignedOut {
                pending_kept: 0,
                ended_on_server: false,
            });
        };
        let settings = self.settings();
        let pending_kept = list.pending().await.map_err(|e| self.map(e))?;
        let ended_on_server = match list.server().map(|s| auth_client(s, settings.key())) {
            Some(Ok(auth)) => auth.logout(&session).await.is_ok(),
            _ => false,
        };
        if let Some(server) = list.server() {
            self.sessions()?.forget(server).map_err(|e| self.map(e))?;
        }
        let local = open_list(&self.config, &settings, None)
            .await
            .map_err(|e| self.map(e))?;
        self.switch_to(local).await;
        log::info!("signed out; {pending_kept} change(s) kept in the account's store");
        Ok(SignedOut {
            pending_kept,
            ended_on_server,
        })
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
        let mut opened = self.opened.subscribe();
        loop {
            let mut rx = self.list().context().subscribe();
            let mut switched = false;
            loop {
                tokio::select! {
                    changed = rx.changed() => {
                        if changed.is_err() {
                            break;
                        }
                        self.publish_status().await;
                    }
                    opened_again = opened.changed() => {
                        if opened_again.is_err() {
                            return;
                        }
                        switched = true;
                        break;
                    }
                }
            }
            // This store closed: wait until another one is open, then watch that.
            if !switched && opened.changed().await.is_err() {
                return;
            }
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
        let mut opened = self.opened.subscribe();
        loop {
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
                tokio::select! {
                    changed = watcher.changed() => match changed {
                        Ok(()) => {
                            log::debug!("another program changed the store");
                            self.notifier.todos_changed();
                            self.publish_status().await;
                        }
                        Err(e) => {
                            log::warn!("cannot check the store for other programs' changes: {e}");
                            tokio::time::sleep(STORE_RETRY).await;
                        }
                    },
                    // Another store is open (sign-in, sign-out): watch that one.
                    opened_again = opened.changed() => {
                        if opened_again.is_err() {
                            return;
                        }
                        break;
                    }
                }
            }
        }
    }

    /// Closes the store after the work already queued.
    pub async fn close(&self) {
        self.list().close().await;
    }

    /// Makes `list` the one every command and watcher uses, and closes the previous one.
    async fn switch_to(&self, list: TodoList) {
        let previous = match self.list.write() {
            Ok(mut slot) => std::mem::replace(&mut *slot, list),
            Err(poisoned) => std::mem::replace(&mut *poisoned.into_inner(), list),
        };
        self.opened.send_modify(|n| *n += 1);
        previous.close().await;
        self.set_last_error(None);
        self.notifier.todos_changed();
        self.publish_status().await;
    }

    /// The session file, or why there is none.
    fn sessions(&self) -> Result<SessionStore, CommandError> {
        session_store(&self.config).ok_or_else(|| {
            CommandError::Store(
                "There is no place to keep a sign-in on this system (no config directory).".into(),
            )
        })
    }

    /// Keeps a renewed session in place of the old one.
    fn save_session(&self, session: &Session) {
        let Some(server) = self.list().server().map(str::to_owned) else {
            return;
        };
        let saved = self
            .sessions()
            .and_then(|store| store.save(&server, session).map_err(|e| self.map(e)));
        if let Err(e) = saved {
            log::warn!("cannot keep the renewed session: {e}");
        }
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

/// The session file of `config`, with tokens in the desktop's secret store unless turned off.
fn session_store(config: &BackendConfig) -> Option<SessionStore> {
    let file = config.session_file.as_ref()?;
    Some(if config.no_keyring {
        SessionStore::with_vault(file, None)
    } else {
        SessionStore::new(file)
    })
}

/// The store the app opens: the account's own when signed in, else the local list.
async fn open_list(
    config: &BackendConfig,
    settings: &Settings,
    session: Option<Session>,
) -> Result<TodoList, TodoError> {
    match (settings.server(), session) {
        (Some(server), Some(session)) => {
            TodoList::open_account(&config.data_dir, server, settings.key(), session).await
        }
        _ => TodoList::open(&config.data_dir, settings.server(), settings.key()).await,
    }
}

fn poisoned() -> CommandError {
    CommandError::Store("an earlier failure left the app's state unusable; restart the app".into())
}
