//! The measured figures: latency percentiles, the server's peak memory from `/proc`, and its
//! request count and per-request times from its access log.

use std::fmt;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

/// Percentiles of a set of durations, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Latency {
    /// How many samples.
    pub samples: usize,
    /// The median.
    pub p50_ms: f64,
    /// The 99th percentile.
    pub p99_ms: f64,
    /// The slowest.
    pub max_ms: f64,
}

impl Latency {
    /// The percentiles of the durations collected in `samples`.
    pub(crate) fn of(samples: &Mutex<Vec<Duration>>) -> Self {
        let millis = samples
            .lock()
            .map(|s| s.iter().map(|d| d.as_secs_f64() * 1000.0).collect())
            .unwrap_or_default();
        Self::from_millis(millis)
    }

    /// The percentiles of these millisecond samples.
    pub(crate) fn from_millis(mut millis: Vec<f64>) -> Self {
        if millis.is_empty() {
            return Self::default();
        }
        millis.sort_by(f64::total_cmp);
        // Nearest rank: the smallest sample with at least p% of the samples at or below it.
        let rank = |p: f64| {
            let index = ((p / 100.0) * millis.len() as f64).ceil() as usize;
            millis[index.clamp(1, millis.len()) - 1]
        };
        Self {
            samples: millis.len(),
            p50_ms: rank(50.0),
            p99_ms: rank(99.0),
            max_ms: millis[millis.len() - 1],
        }
    }
}

impl fmt::Display for Latency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms over {}",
            self.p50_ms, self.p99_ms, self.max_ms, self.samples
        )
    }
}

/// The peak resident set size (`VmHWM`) of a live process in KiB; 0 when unreadable.
pub(crate) fn peak_rss_kib(pid: u32) -> u64 {
    let status = match std::fs::read_to_string(format!("/proc/{pid}/status")) {
        Ok(s) => s,
        Err(e) => {
            log::warn!("cannot read the status of process {pid}: {e}");
            return 0;
        }
    };
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .unwrap_or(0)
}

/// What the server's access log says.
#[derive(Debug, Default)]
pub(crate) struct AccessLog {
    /// Requests answered.
    pub(crate) requests: u64,
    /// The time each took, in milliseconds.
    pub(crate) latencies_ms: Vec<f64>,
    /// The lines of 5xx answers.
    pub(crate) server_errors: Vec<String>,
}

/// Reads the access lines (`METHOD /path STATUS 1.2ms`) of the server's log.
pub(crate) fn access_log(path: &Path) -> AccessLog {
    let mut log = AccessLog::default();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            log::warn!("cannot read the server log {}: {e}", path.display());
            return log;
        }
    };
    for line in text.lines() {
        if let Some((status, millis)) = parse_access_line(line) {
            log.requests += 1;
            log.latencies_ms.push(millis);
            if status >= 500 {
                log.server_errors.push(line.to_owned());
            }
        }
    }
    log
}

/// The status and milliseconds of an access line, which ends with `METHOD PATH STATUS N.Nms`.
fn parse_access_line(line: &str) -> Option<(u16, f64)> {
    let mut words = line.split_whitespace().rev();
    let millis = words.next()?.strip_suffix("ms")?.parse().ok()?;
    let status = words.next()?.parse().ok()?;
    let _path = words.next()?;
    let method = words.next()?;
    matches!(method, "GET" | "POST" | "PATCH" | "PUT" | "DELETE" | "HEAD")
        .then_some((status, millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let l = Latency::from_millis((1..=100).map(f64::from).collect());
        assert_eq!(
            (l.p50_ms, l.p99_ms, l.max_ms, l.samples),
            (50.0, 99.0, 100.0, 100)
        );
        assert_eq!(Latency::from_millis(vec![]), Latency::default());
        assert_eq!(Latency::from_millis(vec![7.0]).p99_ms, 7.0);
    }

    #[test]
    fn access_lines_are_recognised_and_other_lines_are_not() {
        assert_eq!(
            parse_access_line(
                "[2026-12-02T04:35:35Z INFO  tidemark_server::http::log_layer] PATCH /tables/todoitem/a 412 0.8ms"
            ),
            Some((412, 0.8))
        );
        assert_eq!(
            parse_access_line(
                "[… INFO  tidemark_server] tidemark-server listening on http://127.0.0.1:1"
            ),
            None
        );
    }

    #[test]
    fn this_process_has_a_peak_rss() {
        assert!(peak_rss_kib(std::process::id()) > 0);
    }
}
