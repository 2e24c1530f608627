//! Imitations of how stock `azure-mobile-apps` servers stamp `updatedAt`, for tests that show
//! what Tidemark's ordered change clock prevents: a stamp taken before the write is serialized,
//! so commit order and stamp order can disagree and an incremental reader misses a late
//! commit. They plug into the production stores' extension points ([`Clock`] for SQLite,
//! `PostgresOptions::stamp_statement` for PostgreSQL); the stores themselves know nothing of
//! them.

use tidemark_server::store::Clock;

/// A SQLite store clock that stamps like a stock server: it reads `C` before the write waits
/// for the write lock and stamps that bare reading, ordered or not.
#[derive(Debug, Clone, Copy, Default)]
pub struct StockClock<C>(pub C);

impl<C: Clock> Clock for StockClock<C> {
    fn now_us(&self) -> i64 {
        self.0.now_us()
    }

    fn early_reading(&self) -> Option<i64> {
        Some(self.0.now_us())
    }

    fn reads_early(&self) -> bool {
        true
    }

    fn stamp(&self, early_reading: Option<i64>, _last_us: i64) -> i64 {
        early_reading.unwrap_or_else(|| self.0.now_us())
    }
}

/// A PostgreSQL stamp statement like a stock server's: the transaction's start time (`now()`),
/// taking no lock. Set as `PostgresOptions::stamp_statement`.
pub const STOCK_STAMP_STATEMENT: &str =
    "SELECT (extract(epoch FROM now()) * 1000000)::bigint WHERE $1::text IS NOT NULL";

#[cfg(test)]
mod tests {
    use tidemark_server::store::SystemClock;

    use super::*;

    #[test]
    fn a_stock_clock_stamps_its_reading_even_behind_the_last_stamp() {
        let clock = StockClock(SystemClock);
        let early = clock.early_reading();
        let last = i64::MAX - 1;
        assert!(early.is_some_and(|reading| reading < last));
        assert_eq!(clock.stamp(early, last), early.unwrap_or_default());
        assert!(
            clock.stamp(None, last) < last,
            "read under the lock: still unordered"
        );
    }
}
