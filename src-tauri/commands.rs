//! The commands the UI invokes. Each one is thin: it takes the [`Backend`] from Tauri's state,
//! calls it, and returns its result or a `{kind, message}` [`CommandError`].

use std::sync::Arc;

use tauri::State;
use tidemark_todos::{Conflict, SyncOutcome, Todo};

use crate::backend::{Backend, ResolutionChoice, SettingsView, StatusView};
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
    resolution: ResolutionChoice,
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
