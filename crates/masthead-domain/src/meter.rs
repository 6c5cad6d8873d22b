//! The metered paywall: how many members-only stories an anonymous reader
//! has opened in the last 30 days, kept in a first-party cookie the server
//! signs (HMAC-SHA256), and whether the next one opens.
//!
//! The cookie's value is `{entries}.{mac}`: entries are `{post id}-{opened
//! at, Unix seconds}`, both in base 36, joined by `_`; the MAC is the first
//! 16 bytes of HMAC-SHA256 over a label and the entries, base64url without
//! padding. Nothing else identifies the reader. A value that is too long,
//! badly formed or wrongly signed reads as no cookie at all ([`Meter::decode`]
//! says `None`), and is replaced on the reader's next metered story.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The cookie's name.
pub const COOKIE: &str = "mh_meter";
/// How long an opened story counts.
pub const WINDOW_MS: i64 = 30 * 86_400_000;
/// The cookie's `Max-Age`: the window (a later story sets it anew).
pub const MAX_AGE_S: i64 = WINDOW_MS / 1_000;
/// The most free stories a site may offer (`meter_free_stories`).
pub const MAX_FREE_STORIES: u32 = 100;
/// Entries a cookie may hold: one per free story at most.
const MAX_ENTRIES: usize = MAX_FREE_STORIES as usize;
/// Longest value read: 100 entries of at most 13 + 1 + 7 + 1 characters
/// and the MAC fit well within it.
const MAX_VALUE_LEN: usize = 2_600;
/// Bytes of the MAC kept (128 bits).
const MAC_LEN: usize = 16;
/// Binds the MAC to this use of the key.
const LABEL: &[u8] = b"masthead meter v1:";

/// The stories a reader opened through the meter, oldest first, each once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Meter {
    entries: Vec<(i64, i64)>,
}

impl Meter {
    /// Stories counted now.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn contains(&self, story: i64) -> bool {
        self.entries.iter().any(|&(id, _)| id == story)
    }

    /// Whether `story` opens for this reader when `limit` stories are free:
    /// one already opened does (re-reading is free), a new one only while
    /// fewer than `limit` are counted. A limit of 0 opens nothing.
    pub fn opens(&self, story: i64, limit: u32) -> bool {
        limit > 0 && (self.contains(story) || self.entries.len() < limit as usize)
    }

    /// The meter after opening `story` at `now_ms`, or `None` when it is
    /// already counted (its first opening keeps counting, not this one).
    pub fn opened(&self, story: i64, now_ms: i64) -> Option<Meter> {
        if self.contains(story) {
            return None;
        }
        let mut entries = self.entries.clone();
        entries.push((story, now_ms.div_euclid(1_000)));
        // Bounded: the oldest go first (a lowered limit never needs them).
        let over = entries.len().saturating_sub(MAX_ENTRIES);
        entries.drain(..over);
        Some(Meter { entries })
    }

    /// The signed cookie value.
    pub fn encode(&self, key: &[u8]) -> String {
        let body = self
            .entries
            .iter()
            .map(|&(id, at)| format!("{}-{}", base36(id), base36(at)))
            .collect::<Vec<_>>()
            .join("_");
        let mac = URL_SAFE_NO_PAD.encode(&mac(key, &body)[..MAC_LEN]);
        format!("{body}.{mac}")
    }

    /// The meter a cookie value holds at `now_ms`, its stale entries (older
    /// than the window) dropped, and whether any were; `None` when the
    /// value was not made by [`Meter::encode`] with `key`.
    pub fn decode(key: &[u8], value: &str, now_ms: i64) -> Option<(Meter, bool)> {
        if value.len() > MAX_VALUE_LEN {
            return None;
        }
        let (body, sig) = value.rsplit_once('.')?;
        let sig = URL_SAFE_NO_PAD.decode(sig).ok()?;
        if sig.len() != MAC_LEN {
            return None;
        }
        let mut m = keyed(key);
        m.update(LABEL);
        m.update(body.as_bytes());
        m.verify_truncated_left(&sig).ok()?;
        let mut entries: Vec<(i64, i64)> = Vec::new();
        if !body.is_empty() {
            for part in body.split('_') {
                let (id, at) = part.split_once('-')?;
                let (id, at) = (parse_base36(id)?, parse_base36(at)?);
                if id <= 0 || at < 0 || entries.iter().any(|&(e, _)| e == id) {
                    return None;
                }
                entries.push((id, at));
            }
        }
        if entries.len() > MAX_ENTRIES {
            return None;
        }
        let oldest_s = now_ms.saturating_sub(WINDOW_MS).div_euclid(1_000);
        let before = entries.len();
        entries.retain(|&(_, at)| at > oldest_s);
        let dropped = entries.len() != before;
        Some((Meter { entries }, dropped))
    }
}

fn keyed(key: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length: this cannot fail.
    <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!())
}

fn mac(key: &[u8], body: &str) -> Vec<u8> {
    let mut m = keyed(key);
    m.update(LABEL);
    m.update(body.as_bytes());
    m.finalize().into_bytes().to_vec()
}

fn base36(n: i64) -> String {
    let mut n = n.max(0) as u64;
    if n == 0 {
        return "0".to_owned();
    }
    let mut out = Vec::new();
    while n > 0 {
        let d = (n % 36) as u8;
        out.push(if d < 10 { b'0' + d } else { b'a' + d - 10 });
        n /= 36;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// Lowercase base 36 as [`base36`] writes it (no sign, no leading zeros).
fn parse_base36(s: &str) -> Option<i64> {
    if s.is_empty() || s.len() > 13 || (s.len() > 1 && s.starts_with('0')) {
        return None;
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
    {
        return None;
    }
    i64::from_str_radix(s, 36).ok()
}

/// The signing key of meter cookies, derived from a site secret so the
/// secret itself never signs anything a reader holds.
pub fn derive_key(site_secret: &[u8]) -> [u8; 32] {
    let mut m = keyed(site_secret);
    m.update(b"masthead meter cookie key");
    m.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KEY: &[u8] = b"a test key of thirty-two bytes!!";
    const DAY: i64 = 86_400_000;
    const NOW: i64 = 1_780_000_000_000;

    #[test]
    fn a_meter_round_trips_and_counts_each_story_once() {
        let m = Meter::default();
        assert!(m.opens(7, 2) && !m.opens(7, 0));
        let m = m.opened(7, NOW).expect("new");
        assert!(m.opened(7, NOW + DAY).is_none(), "re-reading is free");
        let m = m.opened(9, NOW + DAY).expect("new");
        assert!(m.opens(7, 2) && m.opens(9, 2), "opened ones reopen");
        assert!(!m.opens(11, 2), "a third is refused at 2");
        assert!(m.opens(11, 3));
        let v = m.encode(KEY);
        assert!(v.starts_with("7-") && v.contains("_9-"), "{v}");
        assert_eq!(Meter::decode(KEY, &v, NOW + DAY), Some((m.clone(), false)));
        // Cookie-safe characters only.
        assert!(
            v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        );
        let empty = Meter::default().encode(KEY);
        assert_eq!(
            Meter::decode(KEY, &empty, NOW),
            Some((Meter::default(), false))
        );
    }

    #[test]
    fn stories_older_than_thirty_days_drop_off() {
        let m = Meter::default()
            .opened(1, NOW)
            .and_then(|m| m.opened(2, NOW + 10 * DAY))
            .expect("two");
        let v = m.encode(KEY);
        let (later, dropped) = Meter::decode(KEY, &v, NOW + 30 * DAY + 1_000).expect("valid");
        assert!(dropped && later.len() == 1 && later.contains(2) && !later.contains(1));
        let (all, dropped) = Meter::decode(KEY, &v, NOW + 29 * DAY).expect("valid");
        assert!(!dropped && all.len() == 2);
    }

    #[test]
    fn tampered_or_foreign_values_read_as_none() {
        let v = Meter::default().opened(5, NOW).expect("one").encode(KEY);
        assert!(Meter::decode(b"another key", &v, NOW).is_none());
        let forged = v.replacen("5-", "6-", 1);
        assert!(Meter::decode(KEY, &forged, NOW).is_none());
        // Dropping an entry (to read more) breaks the MAC too.
        let (_, mac) = v.rsplit_once('.').expect("mac");
        assert!(Meter::decode(KEY, &format!(".{mac}"), NOW).is_none());
        for bad in ["", ".", "abc", "5-1.", "5-1.!!!", &"x".repeat(10_000)] {
            assert!(Meter::decode(KEY, bad, NOW).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn the_cookie_stays_bounded() {
        let mut m = Meter::default();
        for id in 1..=250 {
            m = m.opened(id * 1_000_003, NOW + id).expect("new");
        }
        assert_eq!(m.len(), MAX_ENTRIES);
        assert!(m.contains(250 * 1_000_003) && !m.contains(1_000_003));
        let v = m.encode(KEY);
        assert!(v.len() <= MAX_VALUE_LEN, "{}", v.len());
        assert_eq!(Meter::decode(KEY, &v, NOW).map(|d| d.0), Some(m));
    }

    #[test]
    fn base36_round_trips() {
        for n in [0, 1, 35, 36, 1_780_000_000, i64::MAX] {
            assert_eq!(parse_base36(&base36(n)), Some(n));
        }
        assert_eq!(parse_base36("007"), None);
        assert_eq!(parse_base36("A"), None);
        assert_eq!(parse_base36("-1"), None);
    }

    proptest! {
        #[test]
        fn decoding_never_panics(s in "\\PC{0,300}", now in any::<i64>()) {
            let _ = Meter::decode(KEY, &s, now);
        }

        #[test]
        fn signed_garbage_is_refused_or_read_sanely(body in "[0-9a-z_.-]{0,120}") {
            // Even a value the server signed (never: it only signs encode's
            // output) must parse to a bounded meter or nothing.
            let sig = URL_SAFE_NO_PAD.encode(&mac(KEY, &body)[..MAC_LEN]);
            if let Some((m, _)) = Meter::decode(KEY, &format!("{body}.{sig}"), NOW) {
                prop_assert!(m.len() <= MAX_ENTRIES);
                prop_assert_eq!(Meter::decode(KEY, &m.encode(KEY), NOW).map(|d| d.0), Some(m));
            }
        }

        #[test]
        fn any_meter_round_trips(ids in proptest::collection::vec(1i64..i64::MAX, 0..120),
                                 ages in proptest::collection::vec(0i64..29 * DAY, 120)) {
            let mut m = Meter::default();
            for (id, age) in ids.iter().zip(&ages) {
                if let Some(next) = m.opened(*id, NOW - age) {
                    m = next;
                }
            }
            prop_assert!(m.len() <= MAX_ENTRIES);
            let v = m.encode(KEY);
            prop_assert!(v.len() <= MAX_VALUE_LEN);
            prop_assert_eq!(Meter::decode(KEY, &v, NOW), Some((m.clone(), false)));
            // Any one changed byte is refused or reads as the same meter
            // (base64's last character has spare bits).
            if !v.is_empty() {
                let mut bytes = v.clone().into_bytes();
                let i = ids.len() % bytes.len();
                bytes[i] = if bytes[i] == b'z' { b'y' } else { b'z' };
                if let Ok(t) = String::from_utf8(bytes)
                    && let Some((got, _)) = Meter::decode(KEY, &t, NOW)
                {
                    prop_assert_eq!(got, m);
                }
            }
        }
    }
}
