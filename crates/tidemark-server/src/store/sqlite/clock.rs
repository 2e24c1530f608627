//! The ordered change clock (protocol guarantee 1): every write is stamped inside the serialized
//! write transaction with `max(now, last + 1)`, so `updatedAt` strictly increases in commit order
//! and a reader's `updatedAt ge <token>` never misses a row committed after its snapshot.
//!
//! The clock is injectable so tests can script time; through the same trait a test can imitate
//! a server that stamps otherwise (the test kit's stock-server clock), to show the failure the
//! ordered clock prevents. The production clocks keep the trait's ordered defaults.

use std::time::{SystemTime, UNIX_EPOCH};

/// A source of wall-clock time in microseconds since the Unix epoch, and how a write's
/// `updatedAt` is made from it.
pub trait Clock: Send + Sync + 'static {
    /// The current time in microseconds since the Unix epoch.
    fn now_us(&self) -> i64;

    /// A reading taken before the write waits for the write lock, handed to [`Clock::stamp`].
    /// The default takes none: reading early is what lets stamps disagree with commit order.
    fn early_reading(&self) -> Option<i64> {
        None
    }

    /// Whether [`Clock::early_reading`] takes a reading at all. Only then does a write ask for
    /// it, on a blocking thread (a test's clock may hold the reading back).
    fn reads_early(&self) -> bool {
        false
    }

    /// The write's `updatedAt`, chosen under the write lock; `last_us` is the largest stamp
    /// handed out so far. The default, `max(now, last + 1)`, keeps stamps strictly increasing in
    /// commit order; only an imitation of a server without that guarantee overrides it.
    fn stamp(&self, early_reading: Option<i64>, last_us: i64) -> i64 {
        early_reading
            .unwrap_or_else(|| self.now_us())
            .max(last_us.saturating_add(1))
    }
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_us(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
    }
}

/// The last stamp handed out, owned by the single writer.
#[derive(Debug)]
pub struct ChangeClock {
    last_us: i64,
}

impl ChangeClock {
    /// A clock continuing after `last_us` (the largest `updatedAt` in the database).
    pub fn starting_after(last_us: i64) -> Self {
        Self { last_us }
    }

    /// The stamp for a write, from `clock` and the reading it took before the lock, if any.
    pub fn stamp(&mut self, clock: &dyn Clock, early_reading: Option<i64>) -> i64 {
        let stamp = clock.stamp(early_reading, self.last_us);
        self.last_us = self.last_us.max(stamp);
        stamp
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicI64, Ordering};

    use super::*;

    struct Fixed(AtomicI64);

    impl Clock for Fixed {
        fn now_us(&self) -> i64 {
            self.0.load(Ordering::SeqCst)
        }
    }

    #[test]
    fn ordered_stamps_strictly_increase_even_when_time_stands_still_or_goes_back() {
        let now = Fixed(AtomicI64::new(100));
        let mut clock = ChangeClock::starting_after(100);
        assert_eq!(clock.stamp(&now, None), 101);
        now.0.store(50, Ordering::SeqCst);
        assert_eq!(clock.stamp(&now, None), 102);
        now.0.store(500, Ordering::SeqCst);
        assert_eq!(clock.stamp(&now, None), 500);
        assert_eq!(clock.stamp(&now, None), 501);
    }

    #[test]
    fn an_early_reading_is_still_ordered_by_default() {
        let now = Fixed(AtomicI64::new(900));
        let mut clock = ChangeClock::starting_after(100);
        assert_eq!(clock.stamp(&now, Some(50)), 101);
        assert_eq!(clock.stamp(&now, Some(300)), 300);
    }
}
