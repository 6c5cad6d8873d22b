//! Passwords and tokens. Passwords are Argon2id PHC strings (argon2's default
//! parameters: 19 MiB, 2 passes); session and one-time tokens are 256 random
//! bits, stored only as their SHA-256.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use sha2::{Digest, Sha256};

pub const MIN_PASSWORD_CHARS: usize = 10;
pub const MAX_PASSWORD_BYTES: usize = 256;

#[derive(Debug, PartialEq, Eq)]
pub enum PasswordError {
    TooShort,
    TooLong,
    Hashing(String),
}

impl std::fmt::Display for PasswordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PasswordError::TooShort => write!(f, "use at least {MIN_PASSWORD_CHARS} characters"),
            PasswordError::TooLong => write!(f, "use at most {MAX_PASSWORD_BYTES} bytes"),
            PasswordError::Hashing(e) => write!(f, "the password could not be hashed: {e}"),
        }
    }
}

impl std::error::Error for PasswordError {}

/// The password policy alone: cheap, so it runs before any token check or hash.
pub fn check_policy(password: &str) -> Result<(), PasswordError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(PasswordError::TooShort);
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(PasswordError::TooLong);
    }
    Ok(())
}

/// Checks the policy and hashes with Argon2id.
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    check_policy(password)?;
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hashing(e.to_string()))
}

/// A hash of a random password, verified against when the account does not
/// exist, so a wrong address costs the same time as a wrong password.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        hash_password(&new_token()).unwrap_or_else(|_| "$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into())
    })
}

pub fn verify_password(password: &str, phc: &str) -> bool {
    if password.len() > MAX_PASSWORD_BYTES {
        return false;
    }
    match PasswordHash::new(phc) {
        Ok(hash) => Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok(),
        Err(_) => false,
    }
}

/// Argon2 runs (hashing and verifying) allowed at once: one per core, so
/// a crowd of sign-ins cannot take more than the machine has (each run holds
/// about 19 MiB for a few tens of milliseconds). Work beyond that waits in a
/// short queue for a bounded time; past the queue or the wait it is refused
/// (`Busy`), and the caller answers 503 with `Retry-After` rather than piling
/// up blocking threads and memory.
pub struct PasswordSlots(crate::throttle::Gate);

/// Too much password work is under way; try again in a moment.
#[derive(Debug, PartialEq, Eq)]
pub struct Busy;

/// Seconds a refused caller is told to wait (`Retry-After`).
pub const BUSY_RETRY_AFTER_S: u32 = 2;

impl PasswordSlots {
    /// `available_parallelism` runs at once, eight waiting per run, each
    /// waiting at most two seconds.
    pub fn for_this_machine() -> PasswordSlots {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        PasswordSlots::new(cores, cores * 8, std::time::Duration::from_secs(2))
    }

    pub fn new(runs: usize, max_queued: usize, max_wait: std::time::Duration) -> PasswordSlots {
        PasswordSlots(crate::throttle::Gate::new(runs, max_queued, max_wait))
    }

    /// Runs `work` (a hash or a verification) on the blocking pool once a
    /// slot is free, or refuses.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Busy> {
        let permit = self.0.enter().await.ok_or(Busy)?;
        let out = tokio::task::spawn_blocking(work).await.map_err(|_| Busy);
        drop(permit);
        out
    }
}

/// 256 random bits, hex.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    if getrandom::fill(&mut bytes).is_err() {
        // The OS random source failing is not something to paper over.
        panic!("the operating system's random number generator is unavailable");
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Compares two secrets in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_and_verify() {
        let h = hash_password("correct horse battery").expect("hash");
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterY", &h));
        assert!(!verify_password("x", "not a hash"));
        assert_ne!(
            h,
            hash_password("correct horse battery").expect("hash"),
            "salted"
        );
    }

    #[tokio::test]
    async fn password_work_waits_briefly_then_is_refused() {
        let slots = std::sync::Arc::new(PasswordSlots::new(
            1,
            1,
            std::time::Duration::from_millis(200),
        ));
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let busy = {
            let slots = slots.clone();
            tokio::spawn(async move { slots.run(move || rx.recv().is_ok()).await })
        };
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        // One may queue (and time out); a second beyond the queue is refused at once.
        let queued = {
            let slots = slots.clone();
            tokio::spawn(async move { slots.run(|| 1).await })
        };
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let started = std::time::Instant::now();
        assert_eq!(slots.run(|| 2).await, Err(Busy));
        assert!(started.elapsed() < std::time::Duration::from_millis(100));
        assert_eq!(queued.await.expect("task"), Err(Busy), "waited too long");
        tx.send(()).expect("release");
        assert_eq!(busy.await.expect("task"), Ok(true));
        assert_eq!(slots.run(|| 3).await, Ok(3), "free again");
    }

    #[test]
    fn policy() {
        assert_eq!(hash_password("short"), Err(PasswordError::TooShort));
        assert_eq!(hash_password(&"a".repeat(257)), Err(PasswordError::TooLong));
    }

    #[test]
    fn tokens_are_random_and_hashed() {
        let a = new_token();
        assert_eq!(a.len(), 64);
        assert_ne!(a, new_token());
        assert_eq!(token_hash(&a).len(), 32);
        assert!(
            constant_time_eq(b"abc", b"abc")
                && !constant_time_eq(b"abc", b"abd")
                && !constant_time_eq(b"a", b"ab")
        );
    }
}
