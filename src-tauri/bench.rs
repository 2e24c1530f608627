//! The benchmark hook, built only with the `bench` feature (`scripts/bench-app` enables it):
//! with `TIDEMARK_BENCH=1` the window reports when the list is shown and how long adding one
//! todo took, through [`ui_mark`], which logs it with the wall clock so the script times the
//! app from outside. The shipped app has neither the command nor its permission.

use std::sync::OnceLock;
use std::time::Instant;

/// `TIDEMARK_BENCH=1`: the UI reports when the list is shown (and adds one todo to time it).
pub const BENCH_ENV: &str = "TIDEMARK_BENCH";

/// When the app started, for the timings the UI reports back.
static STARTED: OnceLock<Instant> = OnceLock::new();

/// Starts the clock the reported moments are measured from (once, at launch).
pub fn start_clock() {
    let _ = STARTED.set(Instant::now());
}

/// Whether this run was asked to report its timings (`TIDEMARK_BENCH=1`).
pub fn requested() -> bool {
    std::env::var(BENCH_ENV).is_ok_and(|v| v == "1")
}

/// Milliseconds since [`start_clock`] (0 before).
fn ms_since_start() -> f64 {
    STARTED
        .get()
        .map_or(0.0, |t| t.elapsed().as_secs_f64() * 1000.0)
}

/// Logs a moment the window reports (`list shown`, `add shown`) with the number of rows and
/// the wall clock (`epoch_ms`, from the page) so a benchmark can time it from outside.
#[tauri::command]
pub fn ui_mark(event: String, items: usize, epoch_ms: f64, took_ms: Option<f64>) {
    let took = took_ms
        .map(|t| format!(", took {t:.1} ms"))
        .unwrap_or_default();
    log::info!(
        "{event}: {items} items at epoch_ms={epoch_ms:.0} ({:.0} ms after start{took})",
        ms_since_start()
    );
}
