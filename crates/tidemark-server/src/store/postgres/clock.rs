//! The ordered change clock across server processes (protocol guarantee 1).
//!
//! With several processes writing one database, no process-local clock can order writes, and
//! PostgreSQL's `now()` cannot either: it is the start time of a transaction, and transactions
//! commit in another order than they start, so a reader that pulled up to `updatedAt = T` can
//! later see a row commit with a stamp below `T` and never fetch it.
//!
//! The mechanism: each table has one row in `change_clocks` holding the last stamp handed out.
//! Every write's first statement upserts that row to `greatest(clock_timestamp() in µs,
//! last + 1)` and returns it as the write's stamp. The upsert locks the row until the write
//! commits or rolls back, so the writers of one table run one at a time from stamp to commit:
//! - stamps strictly increase in commit order (each writer reads the stamp its predecessor
//!   committed, and adds at least 1 µs);
//! - a row committed after a reader's snapshot has a larger stamp than every row the snapshot
//!   holds: its writer took the lock after every writer in the snapshot had committed.
//!
//! So `updatedAt ge <last seen>` never misses a row. The time comes from the database server,
//! one clock for every process, so skew between application hosts does not matter; the
//! `last + 1` keeps order when that clock stands still or steps back. The price is that writes
//! to one table are serialized across the cluster (writes to different tables are not); a write
//! holds the lock only for a few statements, so throughput stays at thousands of writes per
//! second per table.

/// The statement that stamps a write: returns the new `updatedAt` and holds the table's clock
/// row locked until the transaction ends. It is [`super::PostgresOptions::stamp_statement`]'s
/// default; the test kit imitates stock servers there with a statement that takes no lock.
pub const STAMP_ORDERED: &str = "
    INSERT INTO change_clocks AS c (tbl, last_us)
    VALUES ($1, (extract(epoch FROM clock_timestamp()) * 1000000)::bigint)
    ON CONFLICT (tbl) DO UPDATE
    SET last_us = greatest((extract(epoch FROM clock_timestamp()) * 1000000)::bigint,
                           c.last_us + 1)
    RETURNING last_us";
