//! Counters and samples the devices, the killer and the checks share while a soak runs.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How many failure messages a report keeps (the counters keep counting).
const MAX_FAILURE_MESSAGES: usize = 50;

/// (server `updatedAt`, text) of each acknowledged write of one shared item.
pub(crate) type SharedWrites = Vec<(String, String)>;

/// Counters and samples shared by the devices, the killer and the checks.
#[derive(Default)]
pub(crate) struct Stats {
    pub(crate) inserts: AtomicU64,
    pub(crate) updates: AtomicU64,
    pub(crate) deletes: AtomicU64,
    pub(crate) deferred_deletes: AtomicU64,
    pub(crate) syncs: AtomicU64,
    pub(crate) offline_syncs: AtomicU64,
    pub(crate) resolved_conflicts: AtomicU64,
    pub(crate) false_conflicts: AtomicU64,
    pub(crate) errors: AtomicU64,
    pub(crate) failures: Mutex<Vec<String>>,
    pub(crate) push_times: Mutex<Vec<Duration>>,
    pub(crate) pull_times: Mutex<Vec<Duration>>,
    /// Per (user, shared item): (server `updatedAt`, text) of every acknowledged write.
    pub(crate) shared_acks: Mutex<HashMap<(usize, String), SharedWrites>>,
}

impl Stats {
    /// Counts an error and keeps its message (the first few).
    pub(crate) fn fail(&self, message: String) {
        log::error!("{message}");
        self.errors.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut f) = self.failures.lock()
            && f.len() < MAX_FAILURE_MESSAGES
        {
            f.push(message);
        }
    }

    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}
