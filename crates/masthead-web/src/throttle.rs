//! Limits on what anonymous callers can make the server do: how often an
//! address (and everyone together) may try a password, ask for a reset link,
//! use a one-time link or join, and how many live streams stay open.
//!
//! Attempt counts live in the database (table `signin_failures`, one row per
//! counted attempt) and are checked and recorded in one write transaction
//! (`Store::throttle`), so parallel attempts cannot all pass a check made
//! before any of them was recorded. Limits that protect this process's own
//! capacity (Argon2 runs, join writes waiting for the writer, open live
//! streams) are counted in memory.
//!
//! Sign-in limits are per address, per (account, address), per account and
//! in total, in that order, and an attempt refused by one limit is counted
//! by none: one address can spend at most its own 5 tries on an account, far
//! below the account's ceiling, so a flood from one address never locks the
//! owner out when signing in from another. A successful sign-in takes its
//! attempt back.

use std::net::IpAddr;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use masthead_store::Limit;

const MINUTE_MS: i64 = 60_000;

/// Sign-in: failures counted over this window.
pub const SIGNIN_WINDOW_MS: i64 = 15 * MINUTE_MS;
/// Sign-in attempts from one address (any accounts).
pub const SIGNIN_PER_ADDRESS: u32 = 30;
/// Sign-in attempts at one account from one address.
pub const SIGNIN_PER_ACCOUNT_AND_ADDRESS: u32 = 5;
/// Sign-in attempts at one account from all addresses together: twenty
/// addresses' worth, so no single address can reach it.
pub const SIGNIN_PER_ACCOUNT: u32 = 100;
/// Sign-in attempts from everyone together.
pub const SIGNIN_TOTAL: u32 = 1_000;

/// Reset requests: counted over an hour.
pub const RESET_WINDOW_MS: i64 = 60 * MINUTE_MS;
pub const RESET_PER_ADDRESS: u32 = 10;
/// Reset mails to one account asked for from one address.
pub const RESET_PER_ACCOUNT_AND_ADDRESS: u32 = 3;
/// Reset mails to one account from all addresses together.
pub const RESET_PER_ACCOUNT: u32 = 10;
pub const RESET_TOTAL: u32 = 300;

/// One-time links (owner set-up, new password): uses counted over 15 minutes.
pub const TOKEN_WINDOW_MS: i64 = 15 * MINUTE_MS;
pub const TOKEN_PER_ADDRESS: u32 = 10;
pub const TOKEN_TOTAL: u32 = 200;

/// Joins: counted over ten minutes per address. (A family or office behind
/// one address can still join together; a script cannot fill the list.)
pub const JOIN_WINDOW_MS: i64 = 10 * MINUTE_MS;
pub const JOIN_PER_ADDRESS: u32 = 30;
/// Joins written at once (all addresses); more wait up to [`JOIN_MAX_WAIT`]
/// in a queue of [`JOIN_QUEUE`], then get 503. Each join is a durable
/// commit, so on a slow disk the queue is what holds a crowd.
pub const JOIN_SLOTS: usize = 16;
pub const JOIN_QUEUE: usize = 512;
pub const JOIN_MAX_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Live streams (`/_live/{id}/events`) one address may hold open.
pub const LIVE_STREAMS_PER_ADDRESS: u32 = 8;
/// Live streams open at once in all.
pub const LIVE_STREAMS_TOTAL: usize = 4_096;

/// The limits an operator may change (`serve` flags); the rest are constants.
#[derive(Debug, Clone)]
pub struct ServerLimits {
    /// Live streams open at once in all (`--max-live-streams`).
    pub live_streams_total: usize,
    /// Live streams one address may hold open.
    pub live_streams_per_address: u32,
    /// Bytes of rendered pages (all encodings) the page cache keeps
    /// (`--page-cache-mb`).
    pub page_cache_bytes: usize,
    /// Sign-up and sign-in mails everyone together may ask for in a minute
    /// (`--member-mail-per-minute`): a ceiling for an attack from many
    /// addresses, and what a relay's quota can bear.
    pub member_mail_per_minute: u32,
}

impl Default for ServerLimits {
    fn default() -> ServerLimits {
        ServerLimits {
            live_streams_total: LIVE_STREAMS_TOTAL,
            live_streams_per_address: LIVE_STREAMS_PER_ADDRESS,
            page_cache_bytes: PAGE_CACHE_BYTES,
            member_mail_per_minute: MEMBER_MAIL_PER_MINUTE,
        }
    }
}

/// Sign-up and sign-in mails a minute, all readers together, by default
/// (100 a second: a membership drive on the evening news).
pub const MEMBER_MAIL_PER_MINUTE: u32 = 6_000;

/// The page cache's default budget.
pub const PAGE_CACHE_BYTES: usize = 64 * 1024 * 1024;

/// The address a limit counts: IPv4 addresses whole, IPv6 by their /64
/// (one subscriber line gets a whole /64, so counting single IPv6
/// addresses would let one caller be millions of addresses).
pub fn address_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// The key counting sign-ins at one account from one address.
pub fn account_and_address_key(email_key: &str, address: &str) -> String {
    format!("signin-acct-ip:{email_key}|{address}")
}

/// The limits a sign-in attempt counts against, in checking order.
pub fn signin_limits(email_key: &str, address: &str) -> Vec<Limit> {
    let w = SIGNIN_WINDOW_MS;
    vec![
        Limit::new(format!("signin-ip:{address}"), SIGNIN_PER_ADDRESS, w),
        Limit::new(
            account_and_address_key(email_key, address),
            SIGNIN_PER_ACCOUNT_AND_ADDRESS,
            w,
        ),
        Limit::new(format!("signin-acct:{email_key}"), SIGNIN_PER_ACCOUNT, w),
        Limit::new("signin-all", SIGNIN_TOTAL, w),
    ]
}

pub fn reset_limits(email_key: &str, address: &str) -> Vec<Limit> {
    let w = RESET_WINDOW_MS;
    vec![
        Limit::new(format!("reset-ip:{address}"), RESET_PER_ADDRESS, w),
        Limit::new("reset-all", RESET_TOTAL, w),
        Limit::new(
            format!("reset-acct-ip:{email_key}|{address}"),
            RESET_PER_ACCOUNT_AND_ADDRESS,
            w,
        ),
        Limit::new(format!("reset-acct:{email_key}"), RESET_PER_ACCOUNT, w),
    ]
}

pub fn token_limits(address: &str) -> Vec<Limit> {
    vec![
        Limit::new(
            format!("token-ip:{address}"),
            TOKEN_PER_ADDRESS,
            TOKEN_WINDOW_MS,
        ),
        Limit::new("token-all", TOKEN_TOTAL, TOKEN_WINDOW_MS),
    ]
}

pub fn join_limits(address: &str) -> Vec<Limit> {
    vec![Limit::new(
        format!("join-ip:{address}"),
        JOIN_PER_ADDRESS,
        JOIN_WINDOW_MS,
    )]
}

/// `Retry-After` for a refusal by a limit with this window: the whole
/// window, in seconds (the oldest counted attempt may be that recent).
pub fn retry_after_s(window_ms: i64) -> u32 {
    u32::try_from(window_ms / 1000).unwrap_or(u32::MAX)
}

/// Adds `Retry-After` to a refusal.
pub fn with_retry_after(mut res: Response, seconds: u32) -> Response {
    if let Ok(v) = HeaderValue::from_str(&seconds.to_string()) {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
    res
}

/// A plain-text refusal (for streams and other non-page answers).
pub fn refusal(status: StatusCode, seconds: u32, text: &'static str) -> Response {
    let mut res = (status, text).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    with_retry_after(res, seconds)
}

/// A counting gate in front of work this process does itself: `slots` at
/// once, at most `max_queued` waiting, each for at most `max_wait`.
pub struct Gate {
    permits: tokio::sync::Semaphore,
    queued: std::sync::atomic::AtomicUsize,
    max_queued: usize,
    max_wait: std::time::Duration,
}

impl Gate {
    pub fn new(slots: usize, max_queued: usize, max_wait: std::time::Duration) -> Gate {
        Gate {
            permits: tokio::sync::Semaphore::new(slots.max(1)),
            queued: std::sync::atomic::AtomicUsize::new(0),
            max_queued,
            max_wait,
        }
    }

    /// A slot, or `None` when the queue is full or the wait ran out.
    pub async fn enter(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        use std::sync::atomic::Ordering;
        if let Ok(p) = self.permits.try_acquire() {
            return Some(p);
        }
        // Count ourselves in first, so callers racing here cannot all see room.
        let ahead = self.queued.fetch_add(1, Ordering::AcqRel);
        let permit = if ahead >= self.max_queued {
            None
        } else {
            tokio::time::timeout(self.max_wait, self.permits.acquire())
                .await
                .ok()
                .and_then(Result::ok)
        };
        self.queued.fetch_sub(1, Ordering::AcqRel);
        permit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_count_whole_or_by_slash_64() {
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        assert_eq!(address_key(ip("203.0.113.9")), "203.0.113.9");
        assert_eq!(
            address_key(ip("2001:db8:1:2:aaaa::1")),
            address_key(ip("2001:db8:1:2:bbbb::9"))
        );
        assert_ne!(
            address_key(ip("2001:db8:1:2::1")),
            address_key(ip("2001:db8:1:3::1"))
        );
        assert_eq!(address_key(ip("::ffff:198.51.100.4")), "198.51.100.4");
    }

    #[test]
    fn one_address_cannot_reach_an_accounts_ceiling() {
        const { assert!(SIGNIN_PER_ACCOUNT >= 10 * SIGNIN_PER_ACCOUNT_AND_ADDRESS) };
        const { assert!(SIGNIN_TOTAL >= 10 * SIGNIN_PER_ADDRESS) };
        const { assert!(RESET_PER_ACCOUNT > RESET_PER_ACCOUNT_AND_ADDRESS) };
        let l = signin_limits("a@b.example", "203.0.113.9");
        assert_eq!(l.len(), 4);
        assert!(l[0].key.starts_with("signin-ip:") && l[3].key == "signin-all");
    }
}
