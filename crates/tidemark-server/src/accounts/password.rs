//! Passwords: the length rules, and hashing with argon2id.
//!
//! Parameters: the `argon2` crate's defaults, which are OWASP's recommendation for argon2id:
//! m = 19 MiB (19 456 KiB), t = 2 iterations, p = 1 lane, a 16-byte random salt, a 32-byte
//! output, stored as a PHC string (so the parameters travel with each hash and can be raised
//! later without breaking stored ones). Hashing takes tens of milliseconds of CPU, so it runs
//! on threads of its own, never on the request threads.
//!
//! Each hash also takes 19 MiB of memory while it runs. Allocated afresh per hash on tokio's
//! blocking threads, a burst of sign-ins (100 devices at the soak's start) took the server from
//! 80 to 420 MiB: glibc keeps freed blocks in each thread's arena, several per arena. So hashes
//! run on a few threads of their own, one per core ([`HASH_THREADS`]), queued in order, and
//! each thread hashes in one memory area it allocates once and reuses (zeroed after every
//! hash): the server holds at most `HASH_THREADS` x 19 MiB for passwords, whatever the load.

use std::cell::RefCell;
use std::fmt;
use std::sync::mpsc;
use std::sync::{Arc, LazyLock, Mutex};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

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

/// The largest memory cost (KiB) of a stored hash this server computes: a hash stored with a
/// larger one (not ours) is refused rather than allowed to take that much memory.
const MAX_MEMORY_KIB: u32 = 256 * 1024;

thread_local! {
    /// The hash thread's argon2 memory, allocated on its first hash and reused after.
    static BLOCKS: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// The argon2 output of `password` and `salt` with `argon2`'s parameters, computed in this
/// thread's reused memory, `len` bytes long.
fn compute(
    argon2: &Argon2<'_>,
    password: &[u8],
    salt: &[u8],
    len: usize,
) -> Result<Output, HashError> {
    let params = argon2.params();
    if params.m_cost() > MAX_MEMORY_KIB {
        return Err(HashError(format!(
            "a stored hash asks for {} KiB of memory, more than the {MAX_MEMORY_KIB} KiB allowed",
            params.m_cost()
        )));
    }
    BLOCKS.with_borrow_mut(|blocks| {
        let count = params.block_count();
        if blocks.len() < count {
            blocks.resize(count, Block::default());
        }
        let area = &mut blocks[..count];
        let output = Output::init_with(len, |out| {
            argon2
                .hash_password_into_with_memory(password, salt, out, &mut *area)
                .map_err(argon2::password_hash::Error::from)
        });
        // The blocks hold values derived from the password: they do not outlive the hash.
        area.fill(Block::default());
        output.map_err(|e| HashError(e.to_string()))
    })
}

fn hash_now(password: &Password) -> Result<String, HashError> {
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_buffer = [0u8; 64];
    let salt_bytes = salt
        .decode_b64(&mut salt_buffer)
        .map_err(|e| HashError(e.to_string()))?;
    let params = Params::default();
    let len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
    let params_string = ParamsString::try_from(&params).map_err(|e| HashError(e.to_string()))?;
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let output = compute(&argon2, password.0.as_bytes(), salt_bytes, len)?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: params_string,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(phc.to_string())
}

/// True when `password` gives the hash stored in `phc`, compared in constant time.
fn matches_now(password: &Password, phc: &str) -> Result<bool, HashError> {
    let bad = |e: argon2::password_hash::Error| HashError(e.to_string());
    let parsed = PasswordHash::new(phc).map_err(bad)?;
    let algorithm = Algorithm::try_from(parsed.algorithm).map_err(bad)?;
    let version = match parsed.version {
        Some(v) => Version::try_from(v).map_err(|e| HashError(e.to_string()))?,
        None => Version::default(),
    };
    let params = Params::try_from(&parsed).map_err(bad)?;
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return Err(HashError("a stored hash has no salt or no output".into()));
    };
    let mut salt_buffer = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_buffer).map_err(bad)?;
    let argon2 = Argon2::new(algorithm, version, params);
    let computed = compute(&argon2, password.0.as_bytes(), salt_bytes, expected.len())?;
    // `Output`'s equality is constant-time.
    Ok(computed == expected)
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
        let matches = matches_now(&password, &phc)?;
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

    #[tokio::test]
    async fn hashes_agree_with_the_argon2_crates_own_hasher_both_ways() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let password = Password::new("correct horse".into()).expect("valid");
        // A hash made the crate's usual way (as stored before the reused memory) verifies here.
        let salt = SaltString::generate(&mut OsRng);
        let theirs = Argon2::default()
            .hash_password(b"correct horse", &salt)
            .expect("hashes")
            .to_string();
        assert!(
            verify(password.clone(), Some(theirs))
                .await
                .expect("verifies")
        );
        // Ours verifies with the crate's verifier, and only for its password.
        let ours = hash(password).await.expect("hashes");
        let parsed = PasswordHash::new(&ours).expect("a PHC string");
        assert!(
            Argon2::default()
                .verify_password(b"correct horse", &parsed)
                .is_ok()
        );
        assert!(
            Argon2::default()
                .verify_password(b"correct horsE", &parsed)
                .is_err()
        );
        // Two hashes of one password differ (fresh salts).
        let again = hash(Password::new("correct horse".into()).expect("valid")).await;
        assert_ne!(again.expect("hashes"), ours);
    }

    #[tokio::test]
    async fn a_stored_hash_asking_for_too_much_memory_is_an_error_not_a_match() {
        let stored = "$argon2id$v=19$m=1048576,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$\
                      AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        let password = Password::given("anything".into()).expect("given");
        let answer = verify(password, Some(stored.into())).await;
        assert!(
            answer
                .as_ref()
                .is_err_and(|e| e.to_string().contains("KiB")),
            "{answer:?}"
        );
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
