//! The Tidemark desktop app (Tauri 2) lives here from the app issue on.
//!
//! Until then this package carries the repository's end-to-end tests in `tests/`, which drive
//! the real `tidemark-server` and the `tidemark-client` engine together.
