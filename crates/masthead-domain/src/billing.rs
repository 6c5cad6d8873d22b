//! Paid memberships' pure rules: which Stripe subscription statuses give a
//! member access (with the grace a failed renewal gets), the status a member
//! ends up with, the check of a Stripe webhook's signature, and how a Stripe
//! secret is shown without being given away.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How long a `past_due` subscription keeps its access after the renewal
/// that failed was due: Stripe retries a failed renewal over the following
/// days (Smart Retries), and a reader whose card expired should not lose
/// the story they are reading on the first refusal. After this, a lapsed
/// member sees the teaser again even if Stripe still says `past_due`.
pub const PAST_DUE_GRACE_MS: i64 = 7 * 86_400_000;

/// How old a webhook's signed timestamp may be (Stripe's libraries' default).
pub const SIGNATURE_TOLERANCE_S: i64 = 300;

/// Whether a subscription in Stripe's `status` gives access at `now_ms`:
/// `active` and `trialing` do; `past_due` does for [`PAST_DUE_GRACE_MS`]
/// after the failed renewal was due; every other status (`incomplete`,
/// `incomplete_expired`, `canceled`, `unpaid`, `paused`, or one Stripe adds
/// later) does not.
///
/// A renewal moves the subscription into its new period before it is paid,
/// so a `past_due` subscription's renewal was due at the start of its
/// current period (`period_start_ms`). A mirror written before the start
/// was recorded has only the end: the grace then counts from it.
pub fn grants_access(
    status: &str,
    period_start_ms: Option<i64>,
    period_end_ms: Option<i64>,
    now_ms: i64,
) -> bool {
    match status {
        "active" | "trialing" => true,
        "past_due" => renewal_due_ms(period_start_ms, period_end_ms)
            .is_some_and(|due| now_ms <= due.saturating_add(PAST_DUE_GRACE_MS)),
        _ => false,
    }
}

/// When a `past_due` subscription's unpaid renewal was due (see
/// [`grants_access`]).
pub fn renewal_due_ms(period_start_ms: Option<i64>, period_end_ms: Option<i64>) -> Option<i64> {
    period_start_ms.or(period_end_ms)
}

/// A member's status from their subscriptions and any complimentary grant:
/// `paid` wins over `comped`, which lasts until `comp_expires_ms`.
pub fn member_status(paying: bool, comp_expires_ms: Option<i64>, now_ms: i64) -> &'static str {
    if paying {
        "paid"
    } else if comp_expires_ms.is_some_and(|until| until > now_ms) {
        "comped"
    } else {
        "free"
    }
}

/// Why a webhook's `Stripe-Signature` was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the Stripe-Signature header is missing")]
    Missing,
    #[error("the Stripe-Signature header has no timestamp or no v1 signature")]
    Malformed,
    #[error("the signature's timestamp is older than the tolerance")]
    TooOld,
    #[error("the signature's timestamp is in the future")]
    InTheFuture,
    #[error("no v1 signature matches the payload")]
    Mismatch,
}

/// Checks a `Stripe-Signature` header (`t=<unix>,v1=<hex>[,v1=<hex>…]`)
/// against the raw request body: HMAC-SHA256 of `"<t>.<body>"`, keyed by
/// the whole `whsec_…` secret, must equal one of the `v1` values (several
/// appear while a secret is being rolled), compared in constant time; and
/// `t` must be within `tolerance_s` of `now_s` (an old timestamp is a
/// replay). Other schemes (`v0`) are ignored, as Stripe's libraries do.
pub fn verify_signature(
    header: Option<&str>,
    payload: &[u8],
    secret: &str,
    now_s: i64,
    tolerance_s: i64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut timestamp: Option<i64> = None;
    let mut signatures: Vec<Vec<u8>> = Vec::new();
    for part in header.split(',') {
        let Some((k, v)) = part.trim().split_once('=') else {
            continue;
        };
        match k {
            "t" => timestamp = v.parse().ok(),
            "v1" => {
                if let Some(sig) = hex_decode(v) {
                    signatures.push(sig);
                }
            }
            _ => {}
        }
    }
    let t = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).map_err(|_| SignatureError::Mismatch)?;
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    // Every candidate is checked (no early exit on the first mismatch is
    // needed for safety: each comparison is constant-time by itself).
    let matched = signatures
        .iter()
        .any(|sig| mac.clone().verify_slice(sig).is_ok());
    if !matched {
        return Err(SignatureError::Mismatch);
    }
    // The timestamp is checked after the signature, so a forger learns
    // nothing about the clock; the difference is checked, never wrapped.
    let age = now_s.checked_sub(t).ok_or(SignatureError::TooOld)?;
    if age > tolerance_s {
        return Err(SignatureError::TooOld);
    }
    if age < -tolerance_s {
        return Err(SignatureError::InTheFuture);
    }
    Ok(())
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if s.is_empty() || !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// A Stripe secret as the desk may show it: its kind prefix and last four
/// characters (`sk_test_…abcd`, `whsec_…wxyz`), never more. Short or
/// unrecognised values show as `…` only.
pub fn mask_secret(secret: &str) -> String {
    const PREFIXES: [&str; 5] = ["sk_test_", "sk_live_", "rk_test_", "rk_live_", "whsec_"];
    let prefix = PREFIXES
        .iter()
        .find(|p| secret.starts_with(**p))
        .copied()
        .unwrap_or("");
    let rest = &secret[prefix.len()..];
    let chars: Vec<char> = rest.chars().collect();
    // Fewer than 12 characters after the prefix: showing four would give
    // away too large a share of the secret.
    if chars.len() < 12 {
        return format!("{prefix}…");
    }
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{prefix}…{tail}")
}

/// Whether `key` looks like a Stripe secret or restricted API key.
pub fn is_secret_key(key: &str) -> bool {
    ["sk_test_", "sk_live_", "rk_test_", "rk_live_"]
        .iter()
        .any(|p| key.starts_with(p) && key.len() > p.len() + 8)
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Whether `secret` looks like a webhook endpoint's signing secret.
pub fn is_webhook_secret(secret: &str) -> bool {
    secret.starts_with("whsec_")
        && secret.len() > 14
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SECRET: &str = "whsec_test_0123456789abcdef";
    const DAY: i64 = 86_400_000;

    fn sign(t: i64, payload: &[u8], secret: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
        mac.update(format!("{t}.").as_bytes());
        mac.update(payload);
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    #[test]
    fn statuses_that_give_access() {
        let now = 100 * DAY;
        let (start, end) = (Some(now - DAY), Some(now + 29 * DAY));
        assert!(grants_access("active", start, end, now));
        assert!(grants_access("trialing", None, None, now));
        // A failed renewal: the grace counts from the day it was due (the
        // period's start), not from the end of the period it would pay for.
        let due = |d: i64| (Some(now - d), Some(now - d + 30 * DAY));
        let (s6, e6) = due(6 * DAY);
        assert!(grants_access("past_due", s6, e6, now));
        let (s7, e7) = due(7 * DAY);
        assert!(grants_access("past_due", s7, e7, now));
        let (s8, e8) = due(7 * DAY + 1);
        assert!(!grants_access("past_due", s8, e8, now));
        let (s20, e20) = due(20 * DAY);
        assert!(
            !grants_access("past_due", s20, e20, now),
            "the period's end is weeks away"
        );
        // Only an end known (a mirror from before the start was kept).
        assert!(grants_access("past_due", None, Some(now - 6 * DAY), now));
        assert!(!grants_access("past_due", None, Some(now - 8 * DAY), now));
        assert!(!grants_access("past_due", None, None, now));
        for s in [
            "canceled",
            "unpaid",
            "incomplete",
            "incomplete_expired",
            "paused",
            "",
        ] {
            assert!(!grants_access(s, start, Some(now + DAY), now), "{s}");
        }
    }

    #[test]
    fn paid_wins_over_comped_which_lasts_until_it_ends() {
        assert_eq!(member_status(true, Some(10), 5), "paid");
        assert_eq!(member_status(false, Some(10), 5), "comped");
        assert_eq!(member_status(false, Some(10), 10), "free");
        assert_eq!(member_status(false, None, 5), "free");
    }

    #[test]
    fn a_good_signature_verifies_and_anything_else_does_not() {
        let body = br#"{"id":"evt_1"}"#;
        let t = 1_700_000_000;
        let good = format!("t={t},v1={}", sign(t, body, SECRET));
        assert_eq!(
            verify_signature(Some(&good), body, SECRET, t + 10, 300),
            Ok(())
        );
        // A second v1 (a secret being rolled) may be the one that matches.
        let rolled = format!(
            "t={t},v1={},v1={},v0=abc",
            sign(t, body, "whsec_old_secret_000000"),
            sign(t, body, SECRET)
        );
        assert_eq!(
            verify_signature(Some(&rolled), body, SECRET, t, 300),
            Ok(())
        );
        assert_eq!(
            verify_signature(None, body, SECRET, t, 300),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify_signature(Some("v1=00"), body, SECRET, t, 300),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify_signature(Some(&format!("t={t}")), body, SECRET, t, 300),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify_signature(Some(&good), b"{\"id\":\"evt_2\"}", SECRET, t, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(Some(&good), body, "whsec_other_secret_0000", t, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(Some(&good), body, SECRET, t + 301, 300),
            Err(SignatureError::TooOld)
        );
        assert_eq!(
            verify_signature(Some(&good), body, SECRET, t - 301, 300),
            Err(SignatureError::InTheFuture)
        );
    }

    #[test]
    fn secrets_show_only_their_kind_and_last_four() {
        assert_eq!(
            mask_secret("sk_test_51Habcdefghijklmnabcd"),
            "sk_test_…abcd"
        );
        assert_eq!(mask_secret("whsec_0123456789abcdefwxyz"), "whsec_…wxyz");
        assert_eq!(mask_secret("sk_test_short"), "sk_test_…");
        assert_eq!(mask_secret("nonsense"), "…");
        assert!(is_secret_key("sk_test_51Habcdefghij"));
        assert!(is_secret_key("rk_live_51Habcdefghij"));
        assert!(!is_secret_key("pk_test_51Habcdefghij"));
        assert!(!is_secret_key("sk_test_51Hab def"));
        assert!(is_webhook_secret("whsec_0123456789abcdef"));
        assert!(!is_webhook_secret("whsec_"));
    }

    proptest! {
        #[test]
        fn the_header_parser_never_panics(header in "\\PC{0,200}", now in any::<i64>()) {
            let _ = verify_signature(Some(&header), b"{}", SECRET, now, 300);
        }

        #[test]
        fn a_mask_never_holds_more_than_four_secret_characters(s in "(sk_test_|whsec_)?[a-zA-Z0-9]{0,40}") {
            let masked = mask_secret(&s);
            let shown = masked.rsplit('…').next().unwrap_or("");
            prop_assert!(shown.chars().count() <= 4);
        }
    }
}
