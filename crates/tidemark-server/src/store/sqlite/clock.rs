//! The ordered change clock (protocol guarantee 1): every write is stamped inside the serialized
//! write transaction with `max(now, last + 1)`, so `updatedAt` strictly increases in commit order
//! and a reader's `updatedAt ge <token>` never misses a row committed after its snapshot.
//!
//! The clock source is injectable so tests can script time, and the unordered policy exists
//! only so a test can show the failure the ordered clock prevents.

use std::time::{SystemTime, UNIX_EPOCH};

/// A source of wall-clock time in microseconds since the Unix epoch.
pub trait Clock: Send + Sync + 'static {
    /// The current time in microseconds since the Unix epoch.
    fn now_us(&self) -> i64;
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

/// How writes get their `updatedAt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StampPolicy {
    /// `max(now, last + 1)` taken under the write lock: strictly increasing in commit order.
    #[default]
    Ordered,
    /// The clock's reading taken before the write lock, as stock servers effectively stamp.
    /// Commit order and stamp order can then disagree; exists only to demonstrate that in tests.
    Unordered,
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

    /// The stamp for a write, given the clock reading taken for it.
    pub fn stamp(&mut self, policy: StampPolicy, reading_us: i64) -> i64 {
        let stamp = match policy {
            StampPolicy::Ordered => reading_us.max(self.last_us.saturating_add(1)),
            StampPolicy::Unordered => reading_us,
        };
        self.last_us = self.last_us.max(stamp);
        stamp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordered_stamps_strictly_increase_even_when_time_stands_still_or_goes_back() {
        let mut clock = ChangeClock::starting_after(100);
        assert_eq!(clock.stamp(StampPolicy::Ordered, 100), 101);
        assert_eq!(clock.stamp(StampPolicy::Ordered, 50), 102);
        assert_eq!(clock.stamp(StampPolicy::Ordered, 500), 500);
        assert_eq!(clock.stamp(StampPolicy::Ordered, 500), 501);
    }

    #[test]
    fn unordered_stamps_are_the_raw_reading() {
        let mut clock = ChangeClock::starting_after(100);
        assert_eq!(clock.stamp(StampPolicy::Unordered, 50), 50);
    }
}
