//! The reader's search language (`/search/?q=`) and what surrounds it:
//! first byte 0 = the rest is a query: parsing never panics, refuses only
//! what is too long or has too many terms, its FTS5 and `tsquery`
//! renderings have nothing outside quoted operands but our own operators
//! (and every quote is closed), and its canonical text
//! parses back to the same query (when within the length limit); 1 = a result cursor (`after=`): decoding
//! never panics and an accepted cursor encodes back to the same text; 2 = a
//! highlighted snippet: its HTML has no markup but `<mark>`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use masthead_domain::search::{
    Highlighted, MAX_QUERY_CHARS, MAX_TERMS, QueryError, SearchCursor, parse,
};

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    match mode % 3 {
        0 => match parse(&text) {
            Ok(q) => {
                assert!(q.terms.len() <= MAX_TERMS);
                if let Some(fts) = q.to_fts5() {
                    let mut outside = String::new();
                    let mut quoted = false;
                    for c in fts.chars() {
                        if c == '"' {
                            quoted = !quoted;
                        } else if !quoted {
                            outside.push(c);
                        }
                    }
                    assert!(!quoted, "unbalanced quotes in {fts:?}");
                    let rest = outside.replace("AND", "").replace("NOT", "");
                    assert!(
                        rest.chars().all(|c| matches!(c, '(' | ')' | ' ' | '*')),
                        "{text:?} rendered {fts:?}"
                    );
                } else {
                    assert!(!q.is_searchable());
                }
                match q.to_tsquery() {
                    Some(ts) => {
                        assert!(!ts.required.is_empty());
                        let renderings = std::iter::once(&ts.required)
                            .chain(&ts.required_any_order)
                            .chain(&ts.excluded);
                        for rendered in renderings {
                            let outside = tsquery_outside_quotes(rendered)
                                .unwrap_or_else(|| panic!("an open quote in {rendered:?}"));
                            assert!(
                                outside
                                    .replace("<->", "")
                                    .chars()
                                    .all(|c| matches!(c, '&' | '|' | '(' | ')' | ' ' | ':' | '*')),
                                "{text:?} rendered {rendered:?}"
                            );
                        }
                    }
                    None => assert!(!q.is_searchable()),
                }
                // The canonical text may be a little longer than what was
                // typed (it quotes words that start with `-`): round trip
                // whenever it is within the limit.
                let canonical = q.to_text();
                if canonical.chars().count() <= MAX_QUERY_CHARS {
                    assert_eq!(parse(&canonical).ok(), Some(q), "canonical text of {text:?}");
                }
            }
            Err(QueryError::TooLong) => assert!(text.chars().count() > MAX_QUERY_CHARS),
            Err(QueryError::TooManyTerms) => {}
        },
        1 => {
            if let Ok(c) = SearchCursor::decode(&text) {
                assert_eq!(c.encode(), text, "an accepted cursor is canonical");
                assert!(c.window_start <= c.key && c.key < c.window_end);
            }
        }
        _ => {
            let html = Highlighted(text.into_owned()).to_html();
            let bare = html.replace("<mark>", "").replace("</mark>", "");
            assert!(!bare.contains(['<', '>', '"', '\'']), "{html:?}");
            assert_eq!(html.matches("<mark>").count(), html.matches("</mark>").count());
        }
    }
});

/// What lies outside the quoted operands of `tsquery` text (inside one, `''`
/// is a quote and a backslash escapes the next character); `None` when a
/// quote is left open.
fn tsquery_outside_quotes(text: &str) -> Option<String> {
    let mut outside = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\'' {
            outside.push(c);
            continue;
        }
        loop {
            match chars.next()? {
                '\\' => {
                    chars.next()?;
                }
                '\'' if chars.next_if_eq(&'\'').is_some() => {}
                '\'' => break,
                _ => {}
            }
        }
    }
    Some(outside)
}
