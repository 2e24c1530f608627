//! Passwords: the length rules, and hashing with argon2id.
//!
//! Parameters: the `argon2` crate's defaults, which are OWASP's recommendation for argon2id:
//! m = 19 MiB (19 456 KiB), t = 2 iterations, p = 1 lane, a 16-byte random salt, a 32-byte
//! output, stored as a PHC string (so the parameters travel with each hash and can be raised
//! later without breaking stored ones). Hashing takes tens of milliseconds of CPU, so it runs
//! on tokio's blocking threads, never on the request threads.
//!
//! Each hash also takes 19 MiB of memory while it runs. On tokio's blocking threads, a burst
//! of sign-ins (100 devices at the soak's start) took the server from 80 to 420 MiB: many
//! hashes at once, and glibc keeps each thread's freed block in that thread's arena. So hashes
//! run on a few threads of their own, one per core ([`HASH_THREADS`]), queued in order: at
//! most that many blocks exist, and a queued hash waits where it would wait for a core anyway.

use std::fmt;
use std::sync::mpsc;
use std::sync::{Arc, LazyLock, Mutex};

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};

/// The shortest password, in characters.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// The longest password, in bytes (hashing cost grows with it; no one types more).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// A password; its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// Why a password is refused; the message states the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// Shorter than [`MIN_PASSWORD_CHARS`].
    #[error("a password is at least {MIN_PASSWORD_CHARS} characters")]
    TooShort,
    /// Longer than [`MAX_PASSWORD_BYTES`].
    #[error("a password is at most {MAX_PASSWORD_BYTES} bytes")]
    TooLong,
}

impl Password {
    /// A password that may be set: 8 characters to 1024 bytes.
    pub fn new(password: String) -> Result<Self, PasswordError> {
        let candidate = Self::given(password)?;
        if candidate.0.chars().count() < MIN_PASSWORD_CHARS {
            return Err(PasswordError::TooShort);
        }
        Ok(candidate)
    }

    /// A password given at sign-in: only the upper bound is checked (a too short one is just
    /// wrong, and says nothing about the account).
    pub fn given(password: String) -> Result<Self, PasswordError> {
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(PasswordError::TooLong);
        }
        Ok(Self(password))
    }
}

/// The threads that compute hashes: one per core, at least 1, at most 16.
static HASH_THREADS: LazyLock<usize> = LazyLock::new(|| {
    std::thread::available_parallelism()
        .map_or(1, usize::from)
        .clamp(1, 16)
});

/// One hash to compute.
type HashJob = Box<dyn FnOnce() + Send>;

/// The queue of the hash threads, started on first use; `None` when no thread could start.
static HASH_QUEUE: LazyLock<Option<mpsc::Sender<HashJob>>> = LazyLock::new(|| {
    let (sender, receiver) = mpsc::channel::<HashJob>();
    let receiver = Arc::new(Mutex::new(receiver));
    let mut started = 0;
    for n in 0..*HASH_THREADS {
        let receiver = Arc::clone(&receiver);
        let spawned = std::thread::Builder::new()
            .name(format!("argon2-{n}"))
            .spawn(move || {
                loop {
                    // The lock is held only to take a job, not while it runs.
                    let job = match receiver.lock() {
                        Ok(queue) => queue.recv(),
                        Err(poisoned) => poisoned.into_inner().recv(),
                    };
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                }
            });
        match spawned {
            Ok(_) => started += 1,
            Err(e) => log::error!("cannot start a password hashing thread: {e}"),
        }
    }
    (started > 0).then_some(sender)
});

/// Runs `work` (one argon2 computation) on a hash thread and waits for its result.
async fn with_hash_slot<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, HashError> + Send + 'static,
) -> Result<T, HashError> {
    let queue = HASH_QUEUE
        .as_ref()
        .ok_or_else(|| HashError("no password hashing thread is running".into()))?;
    let (reply, answer) = tokio::sync::oneshot::channel();
    queue
        .send(Box::new(move || {
            // The caller may have gone (its request was abandoned): nothing to tell then.
            let _ = reply.send(work());
        }))
        .map_err(|_| HashError("the password hashing threads have stopped".into()))?;
    answer
        .await
        .map_err(|_| HashError("a password hash was abandoned".into()))?
}

/// Why hashing failed (never for a valid password; reported as an internal error).
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

/// Hashes `password` with argon2id and a fresh salt, on a blocking thread.
pub async fn hash(password: Password) -> Result<String, HashError> {
    with_hash_slot(move || hash_now(&password)).await
}

fn hash_now(password: &Password) -> Result<String, HashError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.0.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| HashError(e.to_string()))
}

/// A hash no password matches in practice (of 32 random bytes), checked when the user does not
/// exist so that the answer takes as long as for a wrong password.
static DUMMY_HASH: LazyLock<Option<String>> = LazyLock::new(|| {
    let mut bytes = [0u8; 32];
    argon2::password_hash::rand_core::RngCore::fill_bytes(&mut OsRng, &mut bytes);
    let random: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    hash_now(&Password(random)).ok()
});

/// True when `password` matches `stored` (a PHC string); `stored: None` checks against the
/// dummy hash and answers false, in the same time. Runs on a blocking thread.
pub async fn verify(password: Password, stored: Option<String>) -> Result<bool, HashError> {
    with_hash_slot(move || {
        let known = stored.is_some();
        let phc = match stored {
            Some(stored) => stored,
            None => DUMMY_HASH
                .clone()
                .ok_or_else(|| HashError("cannot make the dummy hash".into()))?,
        };
        let parsed = PasswordHash::new(&phc).map_err(|e| HashError(e.to_string()))?;
        let matches = Argon2::default()
            .verify_password(password.0.as_bytes(), &parsed)
            .is_ok();
        Ok(known && matches)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let good = Password::new("correct horse".into()).expect("valid");
        let stored = hash(good.clone()).await.expect("hashes");
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        assert!(
            verify(good.clone(), Some(stored.clone()))
                .await
                .expect("verifies")
        );
        let bad = Password::given("wrong horse".into()).expect("given");
        assert!(!verify(bad, Some(stored)).await.expect("verifies"));
        assert!(!verify(good, None).await.expect("dummy verifies"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn no_more_hashes_run_at_once_than_there_are_slots() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let slots = *HASH_THREADS;
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..(slots * 4 + 4) {
            let (running, peak) = (Arc::clone(&running), Arc::clone(&peak));
            tasks.spawn(with_hash_slot(move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(std::time::Duration::from_millis(20));
                running.fetch_sub(1, Ordering::SeqCst);
                Ok(())
            }));
        }
        while let Some(done) = tasks.join_next().await {
            assert!(matches!(done, Ok(Ok(()))));
        }
        let peak = peak.load(Ordering::SeqCst);
        assert!(
            peak >= 1 && peak <= slots,
            "{peak} ran at once with {slots} slots"
        );
    }

    #[test]
    fn length_rules_and_redaction() {
        assert_eq!(Password::new("short".into()), Err(PasswordError::TooShort));
        assert_eq!(Password::new("x".repeat(1025)), Err(PasswordError::TooLong));
        assert!(Password::new("x".repeat(1024)).is_ok());
        let p = Password::new("hunter2hunter2".into()).expect("valid");
        assert!(!format!("{p:?}").contains("hunter2"));
    }
}
