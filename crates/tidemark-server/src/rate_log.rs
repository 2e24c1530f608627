//! [`RateLimitedLog`]: a warning that a client can trigger over and over (a refused origin, a
//! failing `accept`) is written at most once per interval, with the count of the repeats it
//! held back, so one client cannot flood the log (and the disk) with it.

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Where the time comes from: the real clock, or a test's.
type Clock = Box<dyn Fn() -> Instant + Send + Sync>;

/// One kind of warning, logged at most once per interval.
pub struct RateLimitedLog {
    interval: Duration,
    clock: Clock,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// When the warning was last written.
    last: Option<Instant>,
    /// Occurrences held back since then.
    suppressed: u64,
}

/// How many occurrences were held back before this one; displays as a suffix for the message
/// (empty when none were).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Suppressed(pub u64);

impl fmt::Display for Suppressed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            0 => Ok(()),
            1 => write!(f, " (1 more like it was not logged)"),
            n => write!(f, " ({n} more like it were not logged)"),
        }
    }
}

impl fmt::Debug for RateLimitedLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimitedLog")
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

impl RateLimitedLog {
    /// A warning written at most once per `interval`.
    pub fn new(interval: Duration) -> Self {
        Self::with_clock(interval, Box::new(Instant::now))
    }

    /// The same on `clock` (for tests).
    pub fn with_clock(interval: Duration, clock: Clock) -> Self {
        Self {
            interval,
            clock,
            state: Mutex::new(State::default()),
        }
    }

    /// Counts one occurrence: `Some` with the count held back since the last written one when
    /// this one is to be written, `None` when it is held back.
    pub fn admit(&self) -> Option<Suppressed> {
        let now = (self.clock)();
        // A panic while holding this lock cannot leave the counts inconsistent.
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let due = state
            .last
            .is_none_or(|last| now.saturating_duration_since(last) >= self.interval);
        if due {
            state.last = Some(now);
            Some(Suppressed(std::mem::take(&mut state.suppressed)))
        } else {
            state.suppressed = state.suppressed.saturating_add(1);
            None
        }
    }

    /// Logs `message` (given the held-back count to mention) at warn level, if due.
    pub fn warn(&self, message: impl FnOnce(Suppressed) -> String) {
        if let Some(suppressed) = self.admit() {
            log::warn!("{}", message(suppressed));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    /// A clock that reads `start` plus the milliseconds in `offset`.
    fn manual_clock() -> (Arc<AtomicU64>, Clock) {
        let start = Instant::now();
        let offset = Arc::new(AtomicU64::new(0));
        let read = Arc::clone(&offset);
        let clock: Clock =
            Box::new(move || start + Duration::from_millis(read.load(Ordering::SeqCst)));
        (offset, clock)
    }

    #[test]
    fn repeats_within_the_interval_are_counted_and_reported_with_the_next() {
        let (offset, clock) = manual_clock();
        let log = RateLimitedLog::with_clock(Duration::from_secs(10), clock);
        assert_eq!(log.admit(), Some(Suppressed(0)), "the first is written");
        for ms in [1, 500, 9_999] {
            offset.store(ms, Ordering::SeqCst);
            assert_eq!(log.admit(), None, "at {ms} ms");
        }
        offset.store(10_000, Ordering::SeqCst);
        assert_eq!(log.admit(), Some(Suppressed(3)));
        offset.store(10_001, Ordering::SeqCst);
        assert_eq!(log.admit(), None);
        offset.store(25_000, Ordering::SeqCst);
        assert_eq!(log.admit(), Some(Suppressed(1)));
        offset.store(40_000, Ordering::SeqCst);
        assert_eq!(log.admit(), Some(Suppressed(0)));
    }

    #[test]
    fn the_suffix_names_the_count() {
        assert_eq!(Suppressed(0).to_string(), "");
        assert_eq!(
            Suppressed(1).to_string(),
            " (1 more like it was not logged)"
        );
        assert_eq!(
            Suppressed(7).to_string(),
            " (7 more like it were not logged)"
        );
    }

    #[test]
    fn a_flood_writes_once_per_interval() {
        let (offset, clock) = manual_clock();
        let log = RateLimitedLog::with_clock(Duration::from_secs(10), clock);
        // 10 000 occurrences over 60 s, one every 6 ms: 6 written lines.
        let written = (0..10_000u64)
            .filter(|i| {
                offset.store(i * 6, Ordering::SeqCst);
                log.admit().is_some()
            })
            .count();
        assert_eq!(written, 6);
    }
}
