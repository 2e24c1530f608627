//! What a soak run found: its figures and failures, printed as the harness's summary.

use std::fmt;
use std::time::Duration;

use crate::figures::Latency;

/// The figures of one soak run; [`SoakReport::is_clean`] says whether it passed.
#[derive(Debug, Clone, Default)]
pub struct SoakReport {
    /// Devices simulated.
    pub devices: usize,
    /// Users the devices signed in as.
    pub users: usize,
    /// Rounds per device.
    pub rounds: usize,
    /// The seed of the run.
    pub seed: u64,
    /// Local edits made (inserts + updates + deletes).
    pub operations: u64,
    /// Local inserts.
    pub inserts: u64,
    /// Local updates (of owned and shared items).
    pub updates: u64,
    /// Local deletes.
    pub deletes: u64,
    /// Deletes the engine refused because the item's insert was sent with no answer yet
    /// (documented behaviour: push first, then delete); the item stays in the model.
    pub deferred_deletes: u64,
    /// Push + pull calls made (rounds and the final drain).
    pub syncs: u64,
    /// Pushes or pulls that ended with a network error because the server was down.
    pub offline_syncs: u64,
    /// SIGKILLs sent to the server (each followed by a restart).
    pub kills: u64,
    /// Writes to shared items whose acknowledgement a device received.
    pub acknowledged_shared_writes: u64,
    /// Conflicts on shared items, all resolved by the declared rule (server wins).
    pub resolved_conflicts: u64,
    /// Conflicts that should not have happened (owned items, or against the device's own write).
    pub false_conflicts: u64,
    /// Items of the model missing on the server or holding other values.
    pub lost: u64,
    /// Server rows the model does not have (duplicates, resurrections, strays).
    pub duplicated: u64,
    /// Devices whose rows differ from their user's server rows at the end.
    pub diverged_devices: u64,
    /// Rows a user saw that belong to another user (an item of, or a value written by, a device
    /// of another user); must be 0 (each is also counted in `errors`).
    pub crossed: u64,
    /// Every failure: false conflicts, lost, duplicated, diverged, crossed, refused operations,
    /// unexpected errors, server 5xx answers, missed kills.
    pub errors: u64,
    /// The first failure messages.
    pub failures: Vec<String>,
    /// Live rows on the server at the end.
    pub server_rows: usize,
    /// HTTP requests the server answered (its access log, over every life of the process).
    pub requests: u64,
    /// Server answers with a 5xx status (counted in `errors`).
    pub server_errors: u64,
    /// Wall time of the rounds and the final drain.
    pub duration: Duration,
    /// Wall time of each push call, measured at the client.
    pub push_latency: Latency,
    /// Wall time of each pull call, measured at the client.
    pub pull_latency: Latency,
    /// Time to answer each request, measured by the server (its access log).
    pub request_latency: Latency,
    /// The largest peak resident set size (VmHWM) of any life of the server process, in KiB.
    pub server_peak_rss_kib: u64,
}

impl SoakReport {
    /// True when nothing went wrong: no error of any kind, no row crossed users.
    pub fn is_clean(&self) -> bool {
        self.errors == 0 && self.failures.is_empty() && self.crossed == 0
    }

    /// Server requests per second of wall time.
    pub fn requests_per_second(&self) -> f64 {
        let secs = self.duration.as_secs_f64();
        if secs > 0.0 {
            self.requests as f64 / secs
        } else {
            0.0
        }
    }
}

impl fmt::Display for SoakReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "soak: {} devices ({} users) x {} rounds, seed {}",
            self.devices, self.users, self.rounds, self.seed
        )?;
        writeln!(
            f,
            "  operations        {} ({} inserts, {} updates, {} deletes; {} deletes deferred: insert unanswered)",
            self.operations, self.inserts, self.updates, self.deletes, self.deferred_deletes
        )?;
        writeln!(
            f,
            "  syncs             {} ({} offline: server down)",
            self.syncs, self.offline_syncs
        )?;
        writeln!(f, "  server kills      {}", self.kills)?;
        writeln!(
            f,
            "  shared writes     {} acknowledged, {} conflicts resolved (server wins)",
            self.acknowledged_shared_writes, self.resolved_conflicts
        )?;
        writeln!(f, "  server rows       {}", self.server_rows)?;
        writeln!(
            f,
            "  lost {}, duplicated {}, false conflicts {}, diverged devices {}, crossed users {}",
            self.lost, self.duplicated, self.false_conflicts, self.diverged_devices, self.crossed
        )?;
        writeln!(
            f,
            "  errors            {} ({} server 5xx)",
            self.errors, self.server_errors
        )?;
        writeln!(
            f,
            "  duration          {:.1} s",
            self.duration.as_secs_f64()
        )?;
        writeln!(
            f,
            "  requests          {} ({:.0} req/s; counted by the server's access log)",
            self.requests,
            self.requests_per_second()
        )?;
        writeln!(
            f,
            "  request latency   {} (server-side, per HTTP request)",
            self.request_latency
        )?;
        writeln!(
            f,
            "  push latency      {} (client-side, per push call)",
            self.push_latency
        )?;
        writeln!(
            f,
            "  pull latency      {} (client-side, per pull call)",
            self.pull_latency
        )?;
        write!(
            f,
            "  server peak RSS   {:.1} MiB (VmHWM)",
            self.server_peak_rss_kib as f64 / 1024.0
        )?;
        for failure in &self.failures {
            write!(f, "\n  FAILURE: {failure}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crossed_row_fails_the_soak_and_shows_in_the_summary() {
        let clean = SoakReport::default();
        assert!(clean.is_clean());
        let crossed = SoakReport {
            crossed: 1,
            ..SoakReport::default()
        };
        assert!(!crossed.is_clean());
        assert!(crossed.to_string().contains("crossed users 1"), "{crossed}");
    }
}
