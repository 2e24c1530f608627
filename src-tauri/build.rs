//! Generates the Tauri context: reads `tauri.conf.json`, the capabilities in
//! `src-tauri/capabilities/`, and declares the app's commands so that each one needs a grant.
//! The benchmark hook's command and its grant (`capabilities/bench/`) exist only in a build
//! with the `bench` feature.

fn main() {
    let bench = std::env::var_os("CARGO_FEATURE_BENCH").is_some();
    let mut commands = tidemark_app_commands().to_vec();
    let capabilities = if bench {
        commands.push("ui_mark");
        "./src-tauri/capabilities/**/*.json"
    } else {
        "./src-tauri/capabilities/*.json"
    };
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .capabilities_path_pattern(capabilities)
            // The manifest keeps the list for the whole (short) life of the build script.
            .app_manifest(tauri_build::AppManifest::new().commands(commands.leak())),
    )
    .expect("failed to run the Tauri build script");
}

/// The commands the shipped UI may call; each gets an `allow-<name>` permission to grant.
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
        "account",
        "sign_in",
        "signup_allowed",
        "bring_local_list",
        "sign_out",
        "rebuild_local_copy",
    ]
}
