//! The Tidemark desktop app's entry point; everything else lives in the library.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]
fn main() {
    tidemark_app::run()
}
