//! Group commit: writes that arrive while the writer is busy share its next transaction, so
//! they share its fsync too.
//!
//! The database syncs its WAL at every commit (`synchronous = FULL`): a write is on disk before
//! the server answers it, so a power cut cannot take back what a client was told. One fsync
//! per request would cap single-request writes at the disk's fsync rate; instead each request
//! sends its writes to one committing thread and awaits the outcome. That thread takes every
//! job waiting when it is free and commits them together, each write in its own savepoint so
//! that one failing write rolls back alone, exactly as before. Nobody waits for a timer: with
//! one request at a time each commits alone. One thread, rather than each request's blocking
//! task taking the writer in turn, also spares a context switch per waiting request per group.

use std::collections::BTreeSet;
use std::sync::{Arc, Weak, mpsc};

use rusqlite::TransactionBehavior;
use tokio::sync::oneshot;

use super::write::{prune_after_batch, write_one};
use super::{Inner, Writer};
use crate::store::{BatchOutcome, Owner, StoreError, StoreWrite};

/// One request's writes, waiting for a commit.
pub(super) struct Job {
    /// Whose writes these are.
    pub owner: Owner,
    /// In order; a single write is a job of one.
    pub writes: Vec<StoreWrite>,
    /// The clock reading a stock-imitating clock took before the request queued (single writes).
    pub early_reading: Option<i64>,
    /// Where the outcome goes, one result per write; an error for the whole job when nothing
    /// of it was stored.
    pub reply: oneshot::Sender<Result<BatchOutcome, StoreError>>,
}

/// The way to the committing thread; the thread ends when this is dropped (with the store).
pub(super) struct Committer {
    jobs: mpsc::Sender<Job>,
}

impl Committer {
    /// Starts the committing thread of `inner`'s writer. It holds `inner` only while it
    /// commits, so the store (and its connections) still closes when its last user drops it.
    pub fn start(inner: &Arc<Inner>, jobs: mpsc::Receiver<Job>) -> std::io::Result<()> {
        let inner = Arc::downgrade(inner);
        std::thread::Builder::new()
            .name("tidemark-sqlite-writer".into())
            .spawn(move || run(&inner, &jobs))
            .map(drop)
    }

    /// A committer sending to `jobs`, and the receiving end for [`Committer::start`].
    pub fn channel() -> (Self, mpsc::Receiver<Job>) {
        let (sender, receiver) = mpsc::channel();
        (Self { jobs: sender }, receiver)
    }

    /// Hands `job` to the committing thread.
    pub fn submit(&self, job: Job) -> Result<(), StoreError> {
        self.jobs
            .send(job)
            .map_err(|_| StoreError::internal("the SQLite writer thread has stopped"))
    }
}

/// The committing thread: waits for a job, takes every other one waiting, commits them.
fn run(inner: &Weak<Inner>, jobs: &mpsc::Receiver<Job>) {
    while let Ok(first) = jobs.recv() {
        let mut group = vec![first];
        group.extend(jobs.try_iter());
        let Some(inner) = inner.upgrade() else {
            return;
        };
        // A panic must not end the thread: the jobs' callers get an error (their reply
        // senders are dropped) and the next group is committed as usual.
        let committed =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| inner.commit_group(group)));
        if committed.is_err() {
            log::error!("committing a group of writes panicked; its requests were answered 500");
        }
    }
}

impl Inner {
    /// Commits `jobs` in one transaction on the writer (blocking).
    fn commit_group(&self, jobs: Vec<Job>) {
        let mut writer = self.lock_writer();
        let Writer { conn, clock } = &mut *writer;
        // Owner keys first, each in its own small transaction: a key must never be cached
        // from a transaction that then fails to commit.
        let mut keyed = Vec::with_capacity(jobs.len());
        for job in jobs {
            match self.write_key(conn, &job.owner) {
                Ok(key) => keyed.push((key, job)),
                Err(error) => {
                    let _ = job.reply.send(Err(error));
                }
            }
        }
        let mut tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
            Ok(tx) => tx,
            Err(error) => {
                fail_all(keyed.into_iter().map(|(_, job)| job), &error);
                return;
            }
        };
        let time = self.options.clock.as_ref();
        let records = self.records();
        let mut prune_due = BTreeSet::new();
        let mut last_stamp = None;
        let mut outcomes = Vec::with_capacity(keyed.len());
        for (key, job) in keyed {
            let Job {
                writes,
                early_reading,
                reply,
                ..
            } = job;
            let mut results = Vec::with_capacity(writes.len());
            for write in writes {
                // Every stamp is taken under the writer, in commit order.
                let stamp = clock.stamp(time, early_reading);
                last_stamp = Some(stamp);
                let outcome = tx.savepoint().map_err(StoreError::internal).and_then(|sp| {
                    let outcome = write_one(&sp, key, write, stamp, &records, &mut prune_due)?;
                    sp.commit().map_err(StoreError::internal)?;
                    Ok(outcome)
                });
                // A failed write's savepoint was dropped, rolling back whatever it did.
                results.push(outcome);
            }
            outcomes.push((reply, results));
        }
        if let Some(stamp) = last_stamp {
            prune_after_batch(&mut tx, &prune_due, stamp, records.retention);
        }
        match tx.commit() {
            Ok(()) => {
                for (reply, results) in outcomes {
                    let _ = reply.send(Ok(results));
                }
            }
            // Nothing of the group was stored: every request answers one error.
            Err(error) => fail_all_replies(outcomes.into_iter().map(|(reply, _)| reply), &error),
        }
    }
}

fn fail_all(jobs: impl Iterator<Item = Job>, error: &rusqlite::Error) {
    fail_all_replies(jobs.map(|job| job.reply), error);
}

fn fail_all_replies(
    replies: impl Iterator<Item = oneshot::Sender<Result<BatchOutcome, StoreError>>>,
    error: &rusqlite::Error,
) {
    log::error!("a group of writes could not be committed: {error}");
    for reply in replies {
        let _ = reply.send(Err(StoreError::internal(error.to_string())));
    }
}
