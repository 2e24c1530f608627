//! [`TodoList`]: the todo operations on one local store, as the app and the CLI use them.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tidemark_client::tidemark_protocol::odata::TableQuery;
use tidemark_client::tidemark_protocol::odata::builder::{lit, prop};
use tidemark_client::tidemark_protocol::system;
use tidemark_client::{
    AuthClient, ClientError, ColumnType, Connectivity, Item, OperationError, OperationKind,
    Problem, PushStatus, Query, RemoteConfig, Session, SyncContext, SyncTable, TableDefinition,
    UnreadableItem,
};

use crate::{
    ALL_TODOS_QUERY, STORE_FILE_NAME, TABLE, TodoError, normalize_server_url, validate_text,
};

/// The user column holding the todo's text.
const TEXT: &str = "text";
/// The user column holding whether the todo is done.
const COMPLETE: &str = "complete";

/// One todo as the UI shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Todo {
    /// The item's id (a UUID string for todos made here).
    pub id: String,
    /// What to do.
    pub text: String,
    /// Whether it is done.
    pub complete: bool,
    /// The server's version, `None` until first synced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// When the server first stored it, `None` until first synced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// When the server last changed it, `None` until first synced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
}

impl Todo {
    /// Reads a todo out of an item of the `todoitem` table (missing fields read as empty).
    pub fn from_item(item: &Item) -> Self {
        let text_of = |key: &str| item.get(key).and_then(Value::as_str).map(str::to_owned);
        Self {
            id: text_of(system::ID).unwrap_or_default(),
            text: text_of(TEXT).unwrap_or_default(),
            complete: item.get(COMPLETE).and_then(Value::as_bool).unwrap_or(false),
            version: text_of(system::VERSION),
            created_at: text_of(system::CREATED_AT),
            updated_at: text_of(system::UPDATED_AT),
        }
    }
}

/// A change the server refused, with both sides for the conflict dialog.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Conflict {
    /// The todo's id.
    pub id: String,
    /// What the refused change did: `insert`, `update` or `delete`.
    pub operation: String,
    /// The HTTP status the server answered (412 for a stale version, 409 for a duplicate id).
    pub status: Option<u16>,
    /// What decision it asks for: `conflict` (changed elsewhere first), `deletedElsewhere`
    /// (deleted on another device while edited here) or `refused` (the server refused the
    /// change itself: edit it or discard it).
    pub kind: &'static str,
    /// The server's reason in its own words, for a refused change (`None` when it gave none).
    pub reason: Option<String>,
    /// The todo's fields the server's reason names (for an edit of a refused change to offer).
    pub fields: Vec<String>,
    /// The local copy (`None` when the change was a delete).
    pub mine: Option<Todo>,
    /// The server's copy (`None` when the server no longer has the item).
    pub theirs: Option<Todo>,
    /// A one-line explanation for people.
    pub message: String,
}

/// How to settle a conflict. The UI sends it as `{"choice": "keepMine"}`, `{"choice":
/// "keepTheirs"}` or `{"choice": "keepText", "text": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "choice", content = "text", rename_all = "camelCase")]
pub enum Resolution {
    /// Keep the local change: resend it over the server's version on the next sync; a todo
    /// deleted on another device is brought back with the change (this needs the server now).
    KeepMine,
    /// Keep the server's copy and drop the local change (for a refused change: discard it; for
    /// a todo deleted elsewhere: let it go).
    KeepTheirs,
    /// Keep this text (a merge made by the user, or the edit of a refused change), sent over
    /// the server's version.
    KeepText(String),
}

/// What a sync did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncOutcome {
    /// Operations the server accepted.
    pub pushed: u64,
    /// Rows received by the pull (`None` when it did not run).
    pub pulled: Option<u64>,
    /// Changes now waiting for a decision (conflicts and refused changes); their todos were
    /// kept as they are here, every other todo was brought up to date.
    pub conflicts: usize,
    /// Server rows the pull could not read and skipped (every other row came down); empty
    /// when the pull did not run.
    pub skipped: Vec<UnreadableItem>,
    /// What the pull repaired when the local copy no longer matched the server's (see
    /// `tidemark_client::Repair`); `None` when it matched or was not checked.
    pub repaired: Option<String>,
    /// The session renewed before this sync (its token was close to expiry): save it in place
    /// of the old one. Never serialised (it holds the token).
    #[serde(skip)]
    pub renewed_session: Option<Session>,
}

/// What a rebuild of the local copy did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rebuilt {
    /// Local todos removed.
    pub removed: u64,
    /// Todos the pull brought back from the server.
    pub pulled: u64,
    /// Changes that had not been sent and were dropped, as the caller confirmed.
    pub lost: u64,
}

/// The state behind the badge and the status line.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TodoStatus {
    /// Operations waiting to be pushed.
    pub pending: u64,
    /// Conflicts waiting for a decision.
    pub conflicts: usize,
    /// `online`, `offline` or `unknown` (not tried yet).
    pub connectivity: &'static str,
    /// A sync is running.
    pub syncing: bool,
    /// When the last sync finished without error.
    pub last_sync: Option<DateTime<Utc>>,
    /// The last sync error, in plain words.
    pub last_error: Option<String>,
    /// The configured server, if any.
    pub server: Option<String>,
    /// The local store file.
    pub store: PathBuf,
    /// Set, in plain words, when the last sync had to repair a local copy that no longer
    /// matched the server's (cleared by the next sync).
    pub repaired: Option<String>,
}

/// The todo list on one local store.
#[derive(Debug, Clone)]
pub struct TodoList {
    ctx: SyncContext,
    table: SyncTable,
    server: Option<String>,
}

impl TodoList {
    /// The definition of the local `todoitem` table.
    pub fn table_definition() -> TableDefinition {
        TableDefinition::new(TABLE)
            .column(TEXT, ColumnType::Text)
            .column(COMPLETE, ColumnType::Boolean)
    }

    /// Opens (creating when missing) the store in `data_dir`, syncing with `server` when given.
    /// Works with no server and with an unreachable one: nothing is contacted until a sync.
    pub async fn open(
        data_dir: &Path,
        server: Option<&str>,
        app_key: Option<&str>,
    ) -> Result<Self, TodoError> {
        Self::open_as(data_dir, server, app_key, None).await
    }

    /// Like [`TodoList::open`], syncing as the signed-in user of `session`. A store already
    /// bound to another account or server is refused ([`ClientError::WrongAccount`]).
    pub async fn open_as(
        data_dir: &Path,
        server: Option<&str>,
        app_key: Option<&str>,
        session: Option<Session>,
    ) -> Result<Self, TodoError> {
        let server = server.map(normalize_server_url).transpose()?;
        std::fs::create_dir_all(data_dir).map_err(|e| {
            ClientError::from_store_io(data_dir, "cannot create the data directory", &e)
        })?;
        let mut remote = remote_config(server.as_deref(), app_key);
        remote.session = session;
        let ctx = SyncContext::open(
            data_dir.join(STORE_FILE_NAME),
            vec![Self::table_definition()],
            remote,
        )
        .await?;
        let table = ctx.table(TABLE)?;
        Ok(Self { ctx, table, server })
    }

    /// The engine's context, for status subscriptions.
    pub fn context(&self) -> &SyncContext {
        &self.ctx
    }

    /// The configured server URL, if any.
    pub fn server(&self) -> Option<&str> {
        self.server.as_deref()
    }

    /// Switches to another server and key (the settings screen).
    pub fn set_server(
        &mut self,
        server: Option<&str>,
        app_key: Option<&str>,
    ) -> Result<(), TodoError> {
        let server = server.map(normalize_server_url).transpose()?;
        self.ctx
            .set_remote(remote_config(server.as_deref(), app_key))?;
        self.server = server;
        Ok(())
    }

    /// The session the list syncs as (renewed by a sync when its token was close to expiry).
    pub fn session(&self) -> Option<Session> {
        self.ctx.remote_config().session
    }

    /// The todos, oldest first; completed ones only when `include_completed`.
    pub async fn list(&self, include_completed: bool) -> Result<Vec<Todo>, TodoError> {
        let mut query = Query::new().order_by(system::CREATED_AT);
        if !include_completed {
            query = query.filter(prop(COMPLETE).equals(lit(false)));
        }
        let items = self.table.query(&query).await?;
        let mut todos: Vec<Todo> = items.iter().map(Todo::from_item).collect();
        // Todos made offline have no server timestamp yet: show them after the synced ones
        // rather than first, which is where SQLite sorts NULL. Among themselves they stay in
        // id order, which is the order they were added in (see `new_item`).
        todos.sort_by_key(|t| t.created_at.is_none());
        Ok(todos)
    }

    /// One todo by id.
    pub async fn get(&self, id: &str) -> Result<Todo, TodoError> {
        self.table
            .lookup(id)
            .await?
            .map(|item| Todo::from_item(&item))
            .ok_or_else(|| TodoError::NotFound(id.to_owned()))
    }

    /// Adds a todo with this text (validated and trimmed); returns it with its new id.
    pub async fn add(&self, text: &str) -> Result<Todo, TodoError> {
        let text = validate_text(text)?;
        let item = self.table.insert(new_item(text)).await?;
        Ok(Todo::from_item(&item))
    }

    /// Adds many todos in one transaction: all are added or, on any error, none.
    pub async fn add_many<I, S>(&self, texts: I) -> Result<Vec<Todo>, TodoError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let items = texts
            .into_iter()
            .map(|t| validate_text(t.as_ref()).map(new_item))
            .collect::<Result<Vec<_>, _>>()?;
        let stored = self.table.insert_many(items).await?;
        Ok(stored.iter().map(Todo::from_item).collect())
    }

    /// Adds these todos as they are (id, text, done), in one transaction: todos made
    /// elsewhere, such as the local list brought into an account. Versions and server times
    /// are left behind: to this store's server they are new.
    pub async fn add_existing(&self, todos: &[Todo]) -> Result<(), TodoError> {
        if todos.is_empty() {
            return Ok(());
        }
        let items = todos
            .iter()
            .map(|todo| {
                let text = validate_text(&todo.text)?;
                Ok(todo_item(todo.id.clone(), text, todo.complete))
            })
            .collect::<Result<Vec<_>, TodoError>>()?;
        self.table.insert_many(items).await?;
        Ok(())
    }

    /// Marks a todo done or not done.
    pub async fn set_complete(&self, id: &str, complete: bool) -> Result<Todo, TodoError> {
        self.change(id, COMPLETE, Value::Bool(complete)).await
    }

    /// Changes a todo's text (validated and trimmed).
    pub async fn edit(&self, id: &str, text: &str) -> Result<Todo, TodoError> {
        let text = validate_text(text)?;
        self.change(id, TEXT, Value::String(text)).await
    }

    /// Deletes a todo.
    pub async fn delete(&self, id: &str) -> Result<(), TodoError> {
        self.get(id).await?;
        Ok(self.table.delete(id).await?)
    }

    /// Pushes every queued change, then pulls every todo changed on the server since the last
    /// sync. Changes waiting for a decision do not hold the pull: their todos stay as they are
    /// here, every other todo is brought up to date.
    pub async fn sync(&self) -> Result<SyncOutcome, TodoError> {
        if self.server.is_none() {
            return Err(TodoError::NoServer);
        }
        let renewed_session = match self.ctx.prepare_account().await {
            Ok(renewed) => renewed,
            Err(e) => return Err(self.with_pending(e).await),
        };
        let push = self.ctx.push().await;
        match push.status {
            PushStatus::Complete => {}
            PushStatus::CancelledByNetworkError => {
                return Err(TodoError::Unreachable(
                    push.message.unwrap_or_else(|| "no answer".into()),
                ));
            }
            PushStatus::CancelledByAuthenticationError => return Err(TodoError::Unauthorized),
            PushStatus::CancelledBySignInRequired => {
                return Err(TodoError::SignInRequired {
                    reason: push.message.unwrap_or_default(),
                    pending: self.pending().await?,
                });
            }
            _ => {
                return Err(TodoError::Engine(ClientError::PushFailed(Box::new(push))));
            }
        }
        let pull = match self.table.pull(Some(ALL_TODOS_QUERY), &Query::new()).await {
            Ok(pull) => pull,
            Err(e) => return Err(self.with_pending(e).await),
        };
        Ok(SyncOutcome {
            pushed: push.pushed,
            pulled: Some(pull.received),
            conflicts: self.conflicts().await?.len(),
            skipped: pull.unreadable,
            repaired: pull.repair.map(|r| r.to_string()),
            renewed_session,
        })
    }

    /// The todo error of an engine error, with the queue's length when the user must sign in
    /// (so the message says what is kept).
    async fn with_pending(&self, error: ClientError) -> TodoError {
        match TodoError::from(error) {
            TodoError::SignInRequired { reason, .. } => TodoError::SignInRequired {
                reason,
                pending: self.ctx.pending_operations().await.unwrap_or_default(),
            },
            other => other,
        }
    }

    /// The changes the server refused, with both sides.
    pub async fn conflicts(&self) -> Result<Vec<Conflict>, TodoError> {
        let errors = self.ctx.errors().await?;
        let mut conflicts = Vec::new();
        for error in errors.into_iter().filter(|e| e.table == TABLE) {
            let mine = match error.kind {
                OperationKind::Delete => None,
                _ => self
                    .table
                    .lookup(&error.item_id)
                    .await?
                    .map(|i| Todo::from_item(&i)),
            };
            conflicts.push(Conflict {
                id: error.item_id.clone(),
                operation: error.kind.as_str().to_owned(),
                status: error.status,
                kind: error.problem().as_str(),
                reason: error.reason(),
                fields: error.named_fields(),
                mine,
                theirs: error.server_item.as_ref().map(Todo::from_item),
                message: conflict_message(&error),
            });
        }
        Ok(conflicts)
    }

    /// Settles the conflict recorded for todo `id`. "Mine" and a merged text go out on the next
    /// sync over the server's version; "theirs" takes the server's copy now.
    pub async fn resolve(&self, id: &str, resolution: Resolution) -> Result<(), TodoError> {
        let error = self
            .ctx
            .errors()
            .await?
            .into_iter()
            .find(|e| e.table == TABLE && e.item_id == id)
            .ok_or_else(|| TodoError::NoConflict(id.to_owned()))?;
        match resolution {
            Resolution::KeepTheirs => Ok(self.ctx.cancel_and_take_server_item(&error).await?),
            Resolution::KeepMine if error.problem() == Problem::DeletedElsewhere => {
                Ok(self.ctx.restore_and_keep_local(&error).await?)
            }
            Resolution::KeepMine => {
                let item = self.resend_item(&error, None).await?;
                Ok(self.ctx.update_operation(&error, item).await?)
            }
            Resolution::KeepText(text) => {
                let text = validate_text(&text)?;
                let item = self.resend_item(&error, Some(text)).await?;
                Ok(self.ctx.update_operation(&error, item).await?)
            }
        }
    }

    /// Removes every local todo and resets the sync watermark, so the next sync brings them all
    /// back. Refuses while changes wait to be pushed, unless `force` (which drops them).
    pub async fn purge(&self, force: bool) -> Result<u64, TodoError> {
        Ok(self.table.purge(None, &Query::new(), force).await?)
    }

    /// Rebuilds the local copy: removes every local todo and pulls them all again from the
    /// server. Refuses while changes wait to be sent, unless `lose` is exactly their number
    /// (the user was told that many would be lost and agreed), and, before removing
    /// anything, when the server cannot be reached (the list would stay empty until it is).
    pub async fn rebuild(&self, lose: u64) -> Result<Rebuilt, TodoError> {
        if self.server.is_none() {
            return Err(TodoError::NoServer);
        }
        let pending = self.pending().await?;
        if pending > 0 && pending != lose {
            return Err(TodoError::ChangesWait { pending });
        }
        let probe = TableQuery {
            top: Some(1),
            ..TableQuery::default()
        };
        if let Err(e) = self.ctx.remote_table(TABLE).query(&probe).await {
            return Err(self.with_pending(e).await);
        }
        // Forced only when the user agreed to lose changes; otherwise a change queued since
        // the count above makes the purge refuse instead of dropping it.
        let removed = self.table.purge(None, &Query::new(), pending > 0).await?;
        if pending > 0 {
            log::warn!(
                "rebuilding the local copy: {pending} unsent change(s) dropped as confirmed"
            );
        }
        let pull = match self.table.pull(Some(ALL_TODOS_QUERY), &Query::new()).await {
            Ok(pull) => pull,
            Err(e) => return Err(self.with_pending(e).await),
        };
        log::info!(
            "rebuilt the local copy: {removed} removed, {} pulled",
            pull.received
        );
        Ok(Rebuilt {
            removed,
            pulled: pull.received,
            lost: pending,
        })
    }

    /// How many operations wait to be pushed.
    pub async fn pending(&self) -> Result<u64, TodoError> {
        Ok(self.ctx.pending_operations().await?)
    }

    /// The state behind the badge and the status line.
    pub async fn status(&self) -> Result<TodoStatus, TodoError> {
        let pending = self.pending().await?;
        let conflicts = self.conflicts().await?.len();
        let status = self.ctx.status();
        Ok(TodoStatus {
            pending,
            conflicts,
            connectivity: match status.connectivity {
                Connectivity::Online => "online",
                Connectivity::Offline => "offline",
                Connectivity::Unknown => "unknown",
            },
            syncing: status.syncing,
            last_sync: status.last_sync,
            last_error: status.last_error,
            server: self.server.clone(),
            store: self.ctx.store_path().to_owned(),
            // The engine's words (logged when it repaired) name the table and count rows; the
            // window speaks of the list.
            repaired: status.repaired.map(|_| {
                "The list on this computer no longer matched the server's, so it was brought \
                 back from the server."
                    .to_owned()
            }),
        })
    }

    /// Closes the store after the work already queued.
    pub async fn close(&self) {
        self.ctx.close().await;
    }

    async fn change(&self, id: &str, column: &str, value: Value) -> Result<Todo, TodoError> {
        let mut item = Map::new();
        item.insert(system::ID.into(), Value::String(id.to_owned()));
        item.insert(column.into(), value);
        let stored = self.table.update(item).await?;
        Ok(Todo::from_item(&stored))
    }

    /// The item to resend for "keep mine": the local copy (or the given text) over the
    /// server's version, so the server accepts it as a deliberate overwrite.
    async fn resend_item(
        &self,
        error: &OperationError,
        text: Option<String>,
    ) -> Result<Item, TodoError> {
        let mut item = match self.table.lookup(&error.item_id).await? {
            Some(local) => local,
            None => error.item.clone().unwrap_or_default(),
        };
        item.insert(system::ID.into(), Value::String(error.item_id.clone()));
        if let Some(text) = text {
            item.insert(TEXT.into(), Value::String(text));
        }
        if let Some(version) = error
            .server_item
            .as_ref()
            .and_then(|s| s.get(system::VERSION))
            .cloned()
        {
            item.insert(system::VERSION.into(), version);
        }
        Ok(item)
    }
}

fn new_item(text: String) -> Item {
    // A time-ordered id (UUID v7): todos made offline have no server timestamp yet, and the
    // list breaks ties by id, so this keeps them in the order they were added, edit after edit.
    todo_item(uuid::Uuid::now_v7().to_string(), text, false)
}

/// The item of a todo with this id, text and state.
fn todo_item(id: String, text: String, complete: bool) -> Item {
    let mut item = Map::new();
    item.insert(system::ID.into(), Value::String(id));
    item.insert(TEXT.into(), Value::String(text));
    item.insert(COMPLETE.into(), Value::Bool(complete));
    item
}

fn remote_config(server: Option<&str>, app_key: Option<&str>) -> RemoteConfig {
    // With no server the URL stays empty: the engine then fails every request as a network
    // error, so the list works offline and a sync says what is missing.
    let mut config = RemoteConfig::new(server.unwrap_or_default());
    config.app_key = app_key.filter(|k| !k.is_empty()).map(str::to_owned);
    config
}

/// The `/.auth` client of `server` (sign-in, sign-up, who am I, sign-out), with the same URL
/// rules and application key as a sync.
pub fn auth_client(server: &str, app_key: Option<&str>) -> Result<AuthClient, TodoError> {
    let server = normalize_server_url(server)?;
    Ok(AuthClient::new(&remote_config(Some(&server), app_key))?)
}

fn conflict_message(error: &OperationError) -> String {
    // The engine says what the server meant; the status number is only shown.
    match error.problem() {
        Problem::DeletedElsewhere => "deleted on another device".into(),
        Problem::Conflict if error.server_has_item() => {
            "an item with this id already exists on the server".into()
        }
        Problem::Conflict => "changed on the server since you last synced".into(),
        Problem::Refused => match error.reason() {
            Some(reason) => format!("the server refused this change: {reason}"),
            None => match error.status {
                Some(status) => format!("the server refused this change ({status})"),
                None => "the change could not be sent".into(),
            },
        },
    }
}
