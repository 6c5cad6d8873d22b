//! Keyset cursors for feeds: "everything published before this post".
//!
//! A cursor names the last card a reader has seen by its `(published_at, id)`
//! pair, so the next page is `WHERE (published_at, id) < (cursor)` on an index:
//! page 10,000 costs what page 1 does, and posts published between two clicks
//! neither repeat nor push cards out of view. Encoded as `{millis}.{id}` in
//! decimal, which is short, URL-safe and easy to read in logs. The time may be
//! negative (an archive imported from before 1970); the id never is. Every
//! value of both fields round-trips, and anything else is refused, so a
//! cursor from a URL can never overflow or wrap.

use crate::DomainError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct FeedCursor {
    /// Publication time, Unix milliseconds (UTC).
    pub published_ms: i64,
    pub id: i64,
}

impl FeedCursor {
    pub fn encode(&self) -> String {
        format!("{}.{}", self.published_ms, self.id)
    }

    pub fn decode(text: &str) -> Result<FeedCursor, DomainError> {
        if text.len() > 40 {
            return Err(DomainError::BadCursor("it is too long"));
        }
        let (ms, id) = text
            .split_once('.')
            .ok_or(DomainError::BadCursor("expected <time>.<id>"))?;
        let published_ms = parse_signed_decimal(ms).ok_or(DomainError::BadCursor(
            "the time part is not a whole number",
        ))?;
        let id = parse_decimal(id).ok_or(DomainError::BadCursor(
            "the id part is not a non-negative whole number",
        ))?;
        if id == 0 {
            return Err(DomainError::BadCursor("the id part must be positive"));
        }
        Ok(FeedCursor { published_ms, id })
    }
}

/// Strict, canonical decimal: digits only (no sign, spaces or leading zeros), fits in i64.
pub(crate) fn parse_decimal(s: &str) -> Option<i64> {
    if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if s.len() > 1 && s.starts_with('0') {
        return None;
    }
    s.parse().ok()
}

/// [`parse_decimal`] with an optional `-` (never `-0`). The sign is parsed
/// with the digits, so `i64::MIN`, which has no positive counterpart, fits.
pub(crate) fn parse_signed_decimal(s: &str) -> Option<i64> {
    let Some(magnitude) = s.strip_prefix('-') else {
        return parse_decimal(s);
    };
    let canonical = !magnitude.is_empty()
        && magnitude.len() <= 19
        && magnitude.bytes().all(|b| b.is_ascii_digit())
        && !magnitude.starts_with('0');
    if canonical { s.parse().ok() } else { None }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decodes_what_it_encodes() {
        let c = FeedCursor {
            published_ms: 1_764_438_000_000,
            id: 42,
        };
        assert_eq!(c.encode(), "1764438000000.42");
        assert_eq!(FeedCursor::decode("1764438000000.42"), Ok(c));
    }

    #[test]
    fn the_extremes_round_trip() {
        for published_ms in [i64::MIN, i64::MIN + 1, -1, 0, i64::MAX] {
            for id in [1, i64::MAX] {
                let c = FeedCursor { published_ms, id };
                assert_eq!(FeedCursor::decode(&c.encode()), Ok(c), "{}", c.encode());
            }
        }
        assert_eq!(
            FeedCursor::decode("-9223372036854775808.9223372036854775807"),
            Ok(FeedCursor {
                published_ms: i64::MIN,
                id: i64::MAX
            })
        );
    }

    #[test]
    fn refuses_malformed_cursors() {
        for bad in [
            "",
            ".",
            "1.",
            ".1",
            "1.0",
            "a.1",
            "1.b",
            "-0.2",
            "--1.2",
            "-01.2",
            "-.2",
            "-9223372036854775809.2",
            "1.-2",
            "1.9223372036854775808",
            "+1.2",
            " 1.2",
            "1.2 ",
            "1.2.3",
            "99999999999999999999.1",
            "1,2",
            "1e3.2",
            "01.2",
            "1.02",
        ] {
            assert!(
                FeedCursor::decode(bad).is_err(),
                "{bad:?} should be refused"
            );
        }
    }

    #[test]
    fn orders_like_the_feed() {
        let older = FeedCursor {
            published_ms: 10,
            id: 99,
        };
        let newer = FeedCursor {
            published_ms: 11,
            id: 1,
        };
        assert!(older < newer);
    }

    proptest! {
        #[test]
        fn round_trips(ms in any::<i64>(), id in 1i64..=i64::MAX) {
            let c = FeedCursor { published_ms: ms, id };
            prop_assert_eq!(FeedCursor::decode(&c.encode()), Ok(c));
        }

        #[test]
        fn decode_never_panics(text in "\\PC{0,64}") {
            let _ = FeedCursor::decode(&text);
        }

        #[test]
        fn decode_never_panics_on_near_misses(a in "[0-9+\\-. ]{0,25}") {
            if let Ok(c) = FeedCursor::decode(&a) {
                prop_assert_eq!(c.encode(), a);
            }
        }
    }
}
