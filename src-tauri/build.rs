//! Generates the Tauri context: reads `tauri.conf.json`, the capabilities in
//! `src-tauri/capabilities/`, and declares the app's commands so that each one needs a grant.

fn main() {
    let commands = tidemark_app_commands();
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .capabilities_path_pattern("./src-tauri/capabilities/**/*")
            .app_manifest(tauri_build::AppManifest::new().commands(commands)),
    )
    .expect("failed to run the Tauri build script");
}

/// The commands the UI may call; each gets an `allow-<name>` permission to grant.
fn tidemark_app_commands() -> &'static [&'static str] {
    &[
        "list_todos",
        "add_todo",
        "set_complete",
        "edit_todo",
        "delete_todo",
        "sync",
        "status",
        "conflicts",
        "resolve_conflict",
        "get_settings",
        "save_settings",
        "startup",
        "ui_mark",
    ]
}
