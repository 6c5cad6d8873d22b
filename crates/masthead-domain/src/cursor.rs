//! Keyset cursors for feeds: "everything published before this post".
//!
//! A cursor names the last card a reader has seen by its `(published_at, id)`
//! pair, so the next page is `WHERE (published_at, id) < (cursor)` on an index:
//! page 10,000 costs what page 1 does, and posts published between two clicks
//! neither repeat nor push cards out of view. Encoded as `{millis}.{id}` in
//! decimal, which is short, URL-safe and easy to read in logs.

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
        let published_ms = parse_decimal(ms).ok_or(DomainError::BadCursor(
            "the time part is not a non-negative whole number",
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
fn parse_decimal(s: &str) -> Option<i64> {
    if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if s.len() > 1 && s.starts_with('0') {
        return None;
    }
    s.parse().ok()
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
    fn refuses_malformed_cursors() {
        for bad in [
            "",
            ".",
            "1.",
            ".1",
            "1.0",
            "a.1",
            "1.b",
            "-1.2",
            "1.-2",
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
        fn round_trips(ms in 0i64..=i64::MAX, id in 1i64..=i64::MAX) {
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
