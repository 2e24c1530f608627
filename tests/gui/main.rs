//! End-to-end tests of the desktop app: the real window under a private Xvfb display, driven
//! through tauri-driver and WebKitWebDriver, with real sync servers on 127.0.0.1.
//!
//! Needs Xvfb, `tauri-driver` (`cargo install tauri-driver --locked`) and WebKitWebDriver
//! (Debian's webkit2gtk-driver); `scripts/test` installs them. `TIDEMARK_SKIP_GUI_TESTS=1`
//! skips these tests (and says so). Screenshots go to `docs/screenshots/`.

mod harness;
mod server;
mod webdriver;

mod accounts;
mod bad_input;
mod conflicts;
mod decisions;
mod long_list;
mod rebuild;
mod store_faults;
mod story;
