//! Failed sign-ins limited per user name and per client address, in memory (each server
//! process counts its own): a guesser gets a few tries per window, then 429 with
//! `Retry-After` until the window ends.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The limits of failed sign-ins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleConfig {
    /// Failed sign-ins per (normalised) user name per window.
    pub per_name: u32,
    /// Failed sign-ins per client address per window.
    pub per_address: u32,
    /// The window, counted from its first failure.
    pub window: Duration,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        Self {
            per_name: 5,
            per_address: 20,
            window: Duration::from_secs(300),
        }
    }
}

/// Beyond this many tracked names or addresses, ended windows are swept on the next failure.
const SWEEP_ABOVE: usize = 10_000;

/// One key's failures in its current window.
#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    failures: u32,
}

/// Failure counts for one kind of key.
#[derive(Debug)]
struct Counter<K> {
    windows: Mutex<HashMap<K, Window>>,
}

impl<K: Hash + Eq + Clone> Counter<K> {
    fn new() -> Self {
        Self {
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// How long `key` must wait when it has reached `limit`, if it has.
    fn blocked(&self, key: &K, limit: u32, window: Duration, now: Instant) -> Option<Duration> {
        let windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let entry = windows.get(key)?;
        let ends = entry.started + window;
        (entry.failures >= limit && ends > now).then(|| ends - now)
    }

    fn fail(&self, key: K, window: Duration, now: Instant) {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if windows.len() > SWEEP_ABOVE {
            windows.retain(|_, w| w.started + window > now);
        }
        let entry = windows.entry(key).or_insert(Window {
            started: now,
            failures: 0,
        });
        if entry.started + window <= now {
            *entry = Window {
                started: now,
                failures: 0,
            };
        }
        entry.failures = entry.failures.saturating_add(1);
    }

    fn clear(&self, key: &K) {
        self.windows
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}

/// The failed sign-in counters of one server process.
#[derive(Debug)]
pub struct Throttle {
    config: ThrottleConfig,
    names: Counter<String>,
    addresses: Counter<IpAddr>,
}

impl Throttle {
    /// Empty counters with `config`'s limits.
    pub fn new(config: ThrottleConfig) -> Self {
        Self {
            config,
            names: Counter::new(),
            addresses: Counter::new(),
        }
    }

    /// `Err(wait)` when sign-ins for `name_key` or from `address` are blocked for `wait`.
    pub fn check(&self, name_key: &str, address: IpAddr, now: Instant) -> Result<(), Duration> {
        let c = &self.config;
        let by_name = self
            .names
            .blocked(&name_key.to_owned(), c.per_name, c.window, now);
        let by_address = self
            .addresses
            .blocked(&address, c.per_address, c.window, now);
        match by_name.max(by_address) {
            Some(wait) => Err(wait),
            None => Ok(()),
        }
    }

    /// Counts a failed sign-in.
    pub fn failed(&self, name_key: &str, address: IpAddr, now: Instant) {
        self.names
            .fail(name_key.to_owned(), self.config.window, now);
        self.addresses.fail(address, self.config.window, now);
    }

    /// A successful sign-in clears the name's failures (not the address's).
    pub fn succeeded(&self, name_key: &str) {
        self.names.clear(&name_key.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_addresses_are_blocked_after_their_limits_until_the_window_ends() {
        let config = ThrottleConfig {
            per_name: 2,
            per_address: 3,
            window: Duration::from_secs(60),
        };
        let throttle = Throttle::new(config);
        let (a, b) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]));
        let t0 = Instant::now();
        throttle.failed("alice", a, t0);
        assert_eq!(throttle.check("alice", a, t0), Ok(()));
        throttle.failed("alice", a, t0);
        assert_eq!(throttle.check("alice", b, t0), Err(Duration::from_secs(60)));
        assert_eq!(throttle.check("bob", b, t0), Ok(()));
        throttle.failed("carol", a, t0);
        let later = t0 + Duration::from_secs(10);
        assert_eq!(
            throttle.check("bob", a, later),
            Err(Duration::from_secs(50))
        );
        let after = t0 + Duration::from_secs(60);
        assert_eq!(throttle.check("alice", a, after), Ok(()));
        throttle.failed("dave", b, t0);
        throttle.succeeded("dave");
        assert_eq!(throttle.check("dave", b, t0), Ok(()));
    }
}
