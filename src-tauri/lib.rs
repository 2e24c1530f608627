//! The Tidemark desktop app (Tauri 2): a todo list that works offline and syncs on Refresh.
//!
//! [`run`] builds the Tauri app: one [`backend::Backend`] (one `SyncContext` on
//! `<app data dir>/tidemark.db`, the same store as the `tidemark` CLI) managed as state, the
//! commands of [`commands`], and the `sync-status` / `todos-changed` events. The UI is the plain
//! HTML, CSS and ES modules in `ui/`. The package's `tests/` also holds the end-to-end tests of
//! the whole product.

pub mod backend;
#[cfg(feature = "bench")]
pub mod bench;
pub mod commands;
pub mod error;
pub mod settings;

#[cfg(test)]
mod backend_store_tests;
#[cfg(test)]
mod backend_tests;

use std::sync::Arc;

use tauri::{Emitter as _, Manager as _};

use crate::backend::{Backend, BackendConfig, Notifier, StatusView};
use crate::settings::{MemorySettingsStore, PluginSettingsStore, SettingsStore};

/// The event carrying a [`StatusView`] whenever the badge or the status line changes.
pub const SYNC_STATUS_EVENT: &str = "sync-status";
/// The event telling the UI to reload the list (after a sync, or a change by another program).
pub const TODOS_CHANGED_EVENT: &str = "todos-changed";
/// The settings file, inside the data directory.
pub const SETTINGS_FILE: &str = "settings.json";

/// Why the store could not be opened at launch. The window still opens and says so; the
/// list commands are not available (no backend is managed).
pub struct StartupFailure(pub error::CommandError);

/// Forwards the backend's notifications to the windows as Tauri events.
struct EventNotifier<R: tauri::Runtime>(tauri::AppHandle<R>);

impl<R: tauri::Runtime> Notifier for EventNotifier<R> {
    fn status(&self, status: &StatusView) {
        if let Err(e) = self.0.emit(SYNC_STATUS_EVENT, status) {
            log::warn!("cannot emit {SYNC_STATUS_EVENT}: {e}");
        }
    }

    fn todos_changed(&self) {
        if let Err(e) = self.0.emit(TODOS_CHANGED_EVENT, ()) {
            log::warn!("cannot emit {TODOS_CHANGED_EVENT}: {e}");
        }
    }
}

/// Starts the app and blocks until its last window closes.
pub fn run() {
    #[cfg(feature = "bench")]
    bench::start_clock();
    env_logger::Builder::from_env(env_logger::Env::new().filter_or("TIDEMARK_LOG", "info"))
        .format_target(false)
        .init();
    let result = tauri::Builder::default()
        .plugin(tauri_plugin_store::Builder::new().build())
        .invoke_handler(tauri::generate_handler![
            commands::list_todos,
            commands::add_todo,
            commands::set_complete,
            commands::edit_todo,
            commands::delete_todo,
            commands::sync,
            commands::status,
            commands::conflicts,
            commands::resolve_conflict,
            commands::get_settings,
            commands::save_settings,
            commands::startup,
            commands::account,
            commands::sign_in,
            commands::signup_allowed,
            commands::bring_local_list,
            commands::sign_out,
            commands::rebuild_local_copy,
            #[cfg(feature = "bench")]
            bench::ui_mark,
        ])
        .setup(|app| {
            let handle = app.handle().clone();
            match tauri::async_runtime::block_on(open_backend(&handle))? {
                Ok(backend) => {
                    tauri::async_runtime::spawn(Arc::clone(&backend).watch_status());
                    tauri::async_runtime::spawn(Arc::clone(&backend).auto_sync());
                    tauri::async_runtime::spawn(Arc::clone(&backend).watch_store());
                    app.manage(backend);
                }
                Err(e) => {
                    // A window that explains beats a process that exits: the UI asks for
                    // this through the `startup` command and shows it instead of the list.
                    log::error!("cannot open the store: {e}");
                    app.manage(StartupFailure(e));
                }
            }
            Ok(())
        })
        .build(tauri::generate_context!());
    match result {
        Ok(app) => app.run(|handle, event| {
            if let tauri::RunEvent::Exit = event
                && let Some(backend) = handle.try_state::<commands::AppState>()
            {
                tauri::async_runtime::block_on(backend.close());
                log::info!("store closed; bye");
            }
        }),
        Err(e) => {
            log::error!("Tidemark could not start: {e}");
            eprintln!("Tidemark could not start: {e}");
            std::process::exit(1);
        }
    }
}

/// Opens the backend on the data directory (`TIDEMARK_DATA_DIR` or the app data dir) with the
/// settings kept by tauri-plugin-store next to the store. The outer error is the app's own
/// (no data directory); the inner one is the store's, which the window shows.
async fn open_backend<R: tauri::Runtime>(
    app: &tauri::AppHandle<R>,
) -> Result<Result<Arc<Backend>, error::CommandError>, Box<dyn std::error::Error>> {
    let default_dir = app.path().app_data_dir()?;
    let config = BackendConfig::from_env(default_dir);
    let settings_path = config.data_dir.join(SETTINGS_FILE);
    let settings: Box<dyn SettingsStore> = match PluginSettingsStore::open(app, settings_path) {
        Ok(store) => Box::new(store),
        Err(e) => {
            log::error!("cannot open the settings file, keeping settings in memory: {e}");
            Box::new(MemorySettingsStore::default())
        }
    };
    let notifier = Arc::new(EventNotifier(app.clone()));
    Ok(Backend::open(config, settings, notifier).await)
}
