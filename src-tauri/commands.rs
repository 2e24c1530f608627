//! The commands the UI invokes. Each one is thin: it takes the [`Backend`] from Tauri's state,
//! calls it, and returns its result or a `{kind, message}` [`CommandError`].

use std::sync::Arc;

use serde::Serialize;
use tauri::{Manager as _, State};
use tidemark_todos::{Conflict, Rebuilt, Resolution, SyncOutcome, Todo};

use crate::StartupFailure;
use crate::backend::{AccountView, Backend, SettingsView, SignedOut, StatusView};
use crate::error::CommandError;
use crate::settings::Settings;

/// The backend as Tauri manages it.
pub type AppState = Arc<Backend>;

/// The todos, oldest first; completed ones only when `include_completed`.
#[tauri::command]
pub async fn list_todos(
    state: State<'_, AppState>,
    include_completed: bool,
) -> Result<Vec<Todo>, CommandError> {
    state.list_todos(include_completed).await
}

/// Adds a todo.
#[tauri::command]
pub async fn add_todo(state: State<'_, AppState>, text: String) -> Result<Todo, CommandError> {
    state.add_todo(&text).await
}

/// Marks a todo done or not done.
#[tauri::command]
pub async fn set_complete(
    state: State<'_, AppState>,
    id: String,
    complete: bool,
) -> Result<Todo, CommandError> {
    state.set_complete(&id, complete).await
}

/// Renames a todo.
#[tauri::command]
pub async fn edit_todo(
    state: State<'_, AppState>,
    id: String,
    text: String,
) -> Result<Todo, CommandError> {
    state.edit_todo(&id, &text).await
}

/// Deletes a todo.
#[tauri::command]
pub async fn delete_todo(state: State<'_, AppState>, id: String) -> Result<(), CommandError> {
    state.delete_todo(&id).await
}

/// Pushes the queued changes, then pulls the server's.
#[tauri::command]
pub async fn sync(state: State<'_, AppState>) -> Result<SyncOutcome, CommandError> {
    state.sync().await
}

/// The pending count, connectivity, last sync and last error.
#[tauri::command]
pub async fn status(state: State<'_, AppState>) -> Result<StatusView, CommandError> {
    state.status().await
}

/// The changes the server refused, mine and theirs.
#[tauri::command]
pub async fn conflicts(state: State<'_, AppState>) -> Result<Vec<Conflict>, CommandError> {
    state.conflicts().await
}

/// Settles one conflict: keep mine, keep theirs, or keep an edited text.
#[tauri::command]
pub async fn resolve_conflict(
    state: State<'_, AppState>,
    id: String,
    resolution: Resolution,
) -> Result<(), CommandError> {
    state.resolve_conflict(&id, resolution).await
}

/// The settings in force.
#[tauri::command]
pub fn get_settings(state: State<'_, AppState>) -> SettingsView {
    state.get_settings()
}

/// Validates, saves and applies the settings.
#[tauri::command]
pub async fn save_settings(
    state: State<'_, AppState>,
    settings: Settings,
) -> Result<SettingsView, CommandError> {
    state.save_settings(settings).await
}

/// Who the app syncs as (the settings' Account part).
#[tauri::command]
pub async fn account(state: State<'_, AppState>) -> Result<AccountView, CommandError> {
    state.account().await
}

/// Signs in on the configured server, or with `create` makes the account first; then the
/// account's own store is open. The password goes to the server and nowhere else.
#[tauri::command]
pub async fn sign_in(
    state: State<'_, AppState>,
    user: String,
    password: String,
    create: bool,
) -> Result<AccountView, CommandError> {
    state.sign_in(&user, &password, create).await
}

/// Whether the server lets anyone create an account (`null` when it does not say).
#[tauri::command]
pub async fn signup_allowed(state: State<'_, AppState>) -> Result<Option<bool>, CommandError> {
    Ok(state.signup_allowed().await)
}

/// Brings the local list's todos into the signed-in account; answers how many came.
#[tauri::command]
pub async fn bring_local_list(state: State<'_, AppState>) -> Result<usize, CommandError> {
    state.bring_local_list().await
}

/// Removes every local todo and pulls them all again; `lose` is how many unsent changes the
/// user agreed to lose (refused with `changesWait` when that is not their number).
#[tauri::command]
pub async fn rebuild_local_copy(
    state: State<'_, AppState>,
    lose: Option<u64>,
) -> Result<Rebuilt, CommandError> {
    state.rebuild_local_copy(lose.unwrap_or(0)).await
}

/// Signs out, back to the local list; the account's waiting changes stay in its store.
#[tauri::command]
pub async fn sign_out(state: State<'_, AppState>) -> Result<SignedOut, CommandError> {
    state.sign_out().await
}

/// A store problem as the window shows it: a banner over the list, or (`fatal`) a page
/// instead of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProblemView {
    /// The error's kind (`storeCorrupt`, `storeReadOnly`...).
    pub kind: &'static str,
    /// What happened and what to do, in plain words.
    pub message: String,
    /// The store file concerned, when known.
    pub path: Option<std::path::PathBuf>,
    /// True when the list cannot be shown at all.
    pub fatal: bool,
}

impl ProblemView {
    fn new(error: &CommandError, fatal: bool) -> Self {
        Self {
            kind: error.kind(),
            message: error.to_string(),
            path: error.store_path().map(ToOwned::to_owned),
            fatal,
        }
    }
}

/// What the window needs before it shows anything.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StartupView {
    /// A store that could not be opened (fatal) or cannot be written (a warning).
    pub problem: Option<ProblemView>,
    /// `TIDEMARK_BENCH=1` in a build with the `bench` feature: report the list's timings
    /// (`ui_mark`).
    pub bench: bool,
}

/// Whether the store opened, and whether the window should report its timings.
#[tauri::command]
pub fn startup<R: tauri::Runtime>(app: tauri::AppHandle<R>) -> StartupView {
    let problem = match (
        app.try_state::<StartupFailure>(),
        app.try_state::<AppState>(),
    ) {
        (Some(failure), _) => Some(ProblemView::new(&failure.0, true)),
        (None, Some(backend)) => backend.store_warning().map(|e| ProblemView::new(e, false)),
        (None, None) => None,
    };
    StartupView {
        problem,
        bench: bench_requested(),
    }
}

/// Whether the window should report its timings: never in a build without the hook.
fn bench_requested() -> bool {
    #[cfg(feature = "bench")]
    {
        crate::bench::requested()
    }
    #[cfg(not(feature = "bench"))]
    {
        false
    }
}
