//! The reader's search language, and what a search result page needs that is
//! not SQL: the query parser, the cursor of a result page, the plain text a
//! post is indexed by, and the highlighted snippets shown under results.
//!
//! The language is deliberately small, the one newspaper readers already use:
//! words (`council`), quoted phrases (`"city council"`), prefixes (`counc*`)
//! and exclusions (`-parking`); every term must match. Anything else is text:
//! `AND`, `OR`, `NEAR`, parentheses and `title:` are words like any other, so
//! no input is a syntax error. The parser produces a typed [`SearchQuery`];
//! each backend renders it into its own dialect ([`SearchQuery::to_fts5`]
//! for SQLite, [`SearchQuery::to_tsquery`] for PostgreSQL), quoting every
//! term, so what a reader types is never query syntax in the database.

use crate::DomainError;

/// The longest query accepted, in characters. Longer ones are refused with a
/// clear message (nobody types them; they only cost the database).
pub const MAX_QUERY_CHARS: usize = 200;
/// The most terms one query may have.
pub const MAX_TERMS: usize = 16;
/// The shortest prefix (in letters or digits) searched as a prefix; `a*`
/// would match most of the archive, so it is searched as the word `a`.
pub const MIN_PREFIX_CHARS: usize = 2;

/// Marks the start and end of a matched term in a raw snippet. Control
/// characters never occur in indexed text ([`index_text`] drops them), so a
/// marker is always a marker.
pub const MARK_START: char = '\u{2}';
pub const MARK_END: char = '\u{3}';

/// A parsed query: every term must match (`negated` ones must not).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SearchQuery {
    pub terms: Vec<Term>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub kind: TermKind,
    /// `-word`: posts containing it are left out.
    pub negated: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TermKind {
    /// One word as typed (a backend's tokenizer may still split it, as it
    /// splits the text: `e-mail` is the phrase `e mail`).
    Word(String),
    /// Words starting with this.
    Prefix(String),
    /// These words, in this order, next to each other.
    Phrase(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("the search is too long: at most {MAX_QUERY_CHARS} characters, please")]
    TooLong,
    #[error("the search has too many words: at most {MAX_TERMS}, please")]
    TooManyTerms,
}

/// Letters and digits are what tokenizers index; a term without any matches nothing.
fn has_token_char(s: &str) -> bool {
    s.chars().any(char::is_alphanumeric)
}

/// Whitespace, control characters (NUL included) and private-use characters
/// (which mean nothing outside the program that uses them, and which an
/// index may use for tokens of its own) separate terms.
fn is_separator(c: char) -> bool {
    c.is_whitespace() || c.is_control() || is_private_use(c)
}

/// Unicode's private-use areas.
pub fn is_private_use(c: char) -> bool {
    matches!(c, '\u{E000}'..='\u{F8FF}' | '\u{F0000}'..='\u{FFFFD}' | '\u{100000}'..='\u{10FFFD}')
}

/// Parses what a reader typed. Never fails on content, only on size.
pub fn parse(input: &str) -> Result<SearchQuery, QueryError> {
    if input.chars().count() > MAX_QUERY_CHARS {
        return Err(QueryError::TooLong);
    }
    let mut terms = Vec::new();
    let mut chars = input.chars().peekable();
    loop {
        while chars.next_if(|c| is_separator(*c)).is_some() {}
        let Some(&first) = chars.peek() else { break };
        let mut negated = false;
        if first == '-' {
            chars.next();
            // A lone `-` (or `- word`) excludes nothing.
            if chars.peek().is_none_or(|c| is_separator(*c)) {
                continue;
            }
            negated = true;
        }
        let kind = if chars.next_if_eq(&'"').is_some() {
            // A phrase runs to the closing quote, or to the end if there is none.
            let mut text = String::new();
            for c in chars.by_ref() {
                if c == '"' {
                    break;
                }
                text.push(c);
            }
            let words: Vec<String> = text
                .split(is_separator)
                .filter(|w| has_token_char(w))
                .map(str::to_owned)
                .collect();
            match words.len() {
                0 => continue,
                1 => TermKind::Word(words.into_iter().next().unwrap_or_default()),
                _ => TermKind::Phrase(words),
            }
        } else {
            let mut text = String::new();
            while let Some(c) = chars.next_if(|c| !is_separator(*c) && *c != '"') {
                text.push(c);
            }
            let stem = text.trim_end_matches('*');
            if !has_token_char(stem) {
                continue;
            }
            let letters = stem.chars().filter(|c| c.is_alphanumeric()).count();
            if stem.len() < text.len() && letters >= MIN_PREFIX_CHARS {
                TermKind::Prefix(stem.to_owned())
            } else {
                TermKind::Word(stem.to_owned())
            }
        };
        let term = Term { kind, negated };
        if !terms.contains(&term) {
            terms.push(term);
        }
        if terms.len() > MAX_TERMS {
            return Err(QueryError::TooManyTerms);
        }
    }
    Ok(SearchQuery { terms })
}

impl SearchQuery {
    /// Whether there is anything to look for (at least one term that is not
    /// an exclusion: "everything except X" is not a search).
    pub fn is_searchable(&self) -> bool {
        self.terms.iter().any(|t| !t.negated)
    }

    /// The FTS5 `MATCH` expression: every term a quoted string (so no input
    /// is FTS5 syntax), positive terms joined by `AND`, exclusions by `NOT`.
    /// `None` when there is nothing to search for.
    pub fn to_fts5(&self) -> Option<String> {
        if !self.is_searchable() {
            return None;
        }
        let positive: Vec<String> = self
            .terms
            .iter()
            .filter(|t| !t.negated)
            .map(|t| fts5_term(&t.kind))
            .collect();
        let mut out = format!("({})", positive.join(" AND "));
        for t in self.terms.iter().filter(|t| t.negated) {
            out.push_str(" NOT ");
            out.push_str(&fts5_term(&t.kind));
        }
        Some(out)
    }

    /// The query for PostgreSQL's `to_tsquery`: every term a quoted operand
    /// (so no input is `tsquery` syntax), phrases joined by `<->`, prefixes
    /// marked `:*`. The terms that must match and those that must not come
    /// apart, so that the database can tell when the words that must match
    /// all vanish (a term of punctuation its parser drops), which would
    /// otherwise leave "everything except X". `None` when there is nothing
    /// to search for.
    pub fn to_tsquery(&self) -> Option<TsQueryText> {
        if !self.is_searchable() {
            return None;
        }
        let rendered = |negated: bool, render: fn(&TermKind) -> String| -> Vec<String> {
            self.terms
                .iter()
                .filter(|t| t.negated == negated)
                .map(|t| render(&t.kind))
                .collect()
        };
        let excluded = rendered(true, tsquery_term);
        let has_phrase = self
            .terms
            .iter()
            .any(|t| !t.negated && matches!(t.kind, TermKind::Phrase(_)));
        Some(TsQueryText {
            required: rendered(false, tsquery_term).join(" & "),
            required_any_order: has_phrase
                .then(|| rendered(false, tsquery_term_any_order).join(" & ")),
            excluded: (!excluded.is_empty()).then(|| excluded.join(" | ")),
        })
    }

    /// The query as a reader would type it again (for the search box).
    pub fn to_text(&self) -> String {
        let parts: Vec<String> = self
            .terms
            .iter()
            .map(|t| {
                let body = match &t.kind {
                    // Quoted when bare it would read as an exclusion or a prefix.
                    TermKind::Word(w) if w.starts_with('-') || w.ends_with('*') => {
                        format!("\"{w}\"")
                    }
                    TermKind::Word(w) => w.clone(),
                    TermKind::Prefix(p) => format!("{p}*"),
                    TermKind::Phrase(ws) => format!("\"{}\"", ws.join(" ")),
                };
                if t.negated { format!("-{body}") } else { body }
            })
            .collect();
        parts.join(" ")
    }
}

/// An FTS5 string literal: double quotes, inner quotes doubled.
fn fts5_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
    out
}

fn fts5_term(kind: &TermKind) -> String {
    match kind {
        TermKind::Word(w) => fts5_string(w),
        TermKind::Prefix(p) => format!("{}*", fts5_string(p)),
        TermKind::Phrase(ws) => fts5_string(&ws.join(" ")),
    }
}

/// A [`SearchQuery`] rendered for PostgreSQL's `to_tsquery`: a match has
/// every `required` term and none of the `excluded` ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TsQueryText {
    /// The terms joined by `&`.
    pub required: String,
    /// When a required term is a phrase: the required terms with each
    /// phrase's words in any order (`'city' & 'council'`), what an index
    /// without word positions can tell apart. Every match has them.
    pub required_any_order: Option<String>,
    /// The exclusions joined by `|` (any one of them rules a post out).
    pub excluded: Option<String>,
}

/// A `tsquery` operand: single quotes, inner quotes doubled, backslashes
/// escaped (both are special inside a quoted operand).
fn tsquery_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

fn tsquery_term(kind: &TermKind) -> String {
    match kind {
        TermKind::Word(w) => tsquery_string(w),
        TermKind::Prefix(p) => format!("{}:*", tsquery_string(p)),
        TermKind::Phrase(ws) => {
            let words: Vec<String> = ws.iter().map(|w| tsquery_string(w)).collect();
            format!("({})", words.join(" <-> "))
        }
    }
}

fn tsquery_term_any_order(kind: &TermKind) -> String {
    match kind {
        TermKind::Phrase(ws) => {
            let words: Vec<String> = ws.iter().map(|w| tsquery_string(w)).collect();
            format!("({})", words.join(" & "))
        }
        other => tsquery_term(other),
    }
}

/// Where a result page ends. Results are ranked in windows: the newest
/// matches up to a bound (a backend's choice: a thousand on SQLite, two
/// hundred on PostgreSQL), best first,
/// then the next-older window, and so on; a query with fewer matches than
/// that is one window, ranked as a whole. A cursor names its window (a range
/// of index keys, which order posts by publication time) and the last result
/// shown in it by relevance score (as the database computed it, compared
/// exactly) and key; the next page is everything ranked after it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchCursor {
    /// The window: keys in `window_start..window_end`.
    pub window_start: i64,
    pub window_end: i64,
    /// Lower is better (FTS5's bm25 is negative; PostgreSQL's rank is negated).
    pub score: f64,
    /// The last result's index key.
    pub key: i64,
}

impl SearchCursor {
    /// `{score bits in hex}.{window start}.{window end}.{key}`: opaque to
    /// readers, exact for us.
    pub fn encode(&self) -> String {
        format!(
            "{:016x}.{}.{}.{}",
            self.score.to_bits(),
            self.window_start,
            self.window_end,
            self.key
        )
    }

    pub fn decode(text: &str) -> Result<SearchCursor, DomainError> {
        if text.len() > 90 {
            return Err(DomainError::BadCursor("it is too long"));
        }
        let parts: Vec<&str> = text.split('.').collect();
        let [score, start, end, key] = parts[..] else {
            return Err(DomainError::BadCursor(
                "expected <score>.<start>.<end>.<key>",
            ));
        };
        if score.len() != 16
            || !score
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Err(DomainError::BadCursor("the score part is malformed"));
        }
        let bits = u64::from_str_radix(score, 16)
            .map_err(|_| DomainError::BadCursor("the score part is malformed"))?;
        let score = f64::from_bits(bits);
        if !score.is_finite() {
            return Err(DomainError::BadCursor("the score part is not a number"));
        }
        let number = |s: &str| {
            crate::cursor::parse_signed_decimal(s).ok_or(DomainError::BadCursor(
                "a position part is not a whole number",
            ))
        };
        let (window_start, window_end, key) = (number(start)?, number(end)?, number(key)?);
        if !(window_start <= key && key < window_end) {
            return Err(DomainError::BadCursor("the position is outside its window"));
        }
        Ok(SearchCursor {
            window_start,
            window_end,
            score,
            key,
        })
    }
}

/// The text of sanitised HTML, as it is indexed: tags dropped (block ends
/// become spaces), the common entities decoded, control characters (and so
/// the snippet markers) and private-use characters removed, whitespace
/// collapsed.
pub fn index_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(i) = rest.find(['<', '&']) {
        push_text(&mut out, &rest[..i]);
        rest = &rest[i..];
        if rest.starts_with('<') {
            match rest.find('>') {
                Some(end) => {
                    out.push(' ');
                    rest = &rest[end + 1..];
                }
                None => rest = "",
            }
        } else {
            let (decoded, used) = decode_entity(rest);
            match decoded {
                Some(c) => push_text(&mut out, c.encode_utf8(&mut [0; 4])),
                None => out.push('&'),
            }
            rest = &rest[used..];
        }
    }
    push_text(&mut out, rest);
    let collapsed: Vec<&str> = out.split_whitespace().collect();
    collapsed.join(" ")
}

/// Plain text with control and private-use characters (never meaningful in
/// a story, and reserved for markers and the index's own tokens) made spaces.
pub fn clean_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    push_text(&mut out, text);
    out
}

fn push_text(out: &mut String, text: &str) {
    out.extend(text.chars().map(|c| {
        if c.is_control() || is_private_use(c) {
            ' '
        } else {
            c
        }
    }));
}

/// The entity at the start of `s` (which starts with `&`) and how many bytes
/// it used; `(None, 1)` when it is not one we know.
fn decode_entity(s: &str) -> (Option<char>, usize) {
    let Some(end) = s[1..].find(';').map(|e| e + 1).filter(|e| *e <= 12) else {
        return (None, 1);
    };
    let name = &s[1..end];
    let c = match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        "nbsp" => Some(' '),
        _ => {
            let code = if let Some(hex) = name.strip_prefix("#x").or(name.strip_prefix("#X")) {
                u32::from_str_radix(hex, 16).ok()
            } else if let Some(dec) = name.strip_prefix('#') {
                dec.parse().ok()
            } else {
                None
            };
            code.and_then(char::from_u32)
        }
    };
    match c {
        Some(c) => (Some(c), end + 1),
        None => (None, 1),
    }
}

/// A snippet (or title) as the database returned it, with matches between
/// [`MARK_START`] and [`MARK_END`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Highlighted(pub String);

impl Highlighted {
    /// HTML: the text escaped, the matches in `<mark>`. Unbalanced markers
    /// cannot produce unbalanced tags.
    pub fn to_html(&self) -> String {
        let mut out = String::with_capacity(self.0.len() + 16);
        let mut open = false;
        for c in self.0.chars() {
            match c {
                MARK_START if !open => {
                    out.push_str("<mark>");
                    open = true;
                }
                MARK_END if open => {
                    out.push_str("</mark>");
                    open = false;
                }
                MARK_START | MARK_END => {}
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '"' => out.push_str("&quot;"),
                '\'' => out.push_str("&#39;"),
                c => out.push(c),
            }
        }
        if open {
            out.push_str("</mark>");
        }
        out
    }

    /// The text without marks.
    pub fn plain(&self) -> String {
        self.0
            .chars()
            .filter(|c| *c != MARK_START && *c != MARK_END)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn word(w: &str) -> Term {
        Term {
            kind: TermKind::Word(w.into()),
            negated: false,
        }
    }

    #[test]
    fn words_phrases_prefixes_and_exclusions() {
        let q = parse(r#"ferry "city  council" counc* -parking"#).expect("test");
        assert_eq!(
            q.terms,
            vec![
                word("ferry"),
                Term {
                    kind: TermKind::Phrase(vec!["city".into(), "council".into()]),
                    negated: false
                },
                Term {
                    kind: TermKind::Prefix("counc".into()),
                    negated: false
                },
                Term {
                    kind: TermKind::Word("parking".into()),
                    negated: true
                },
            ]
        );
        assert_eq!(
            q.to_fts5().expect("test"),
            r#"("ferry" AND "city council" AND "counc"*) NOT "parking""#
        );
        assert_eq!(q.to_text(), r#"ferry "city council" counc* -parking"#);
        assert_eq!(
            q.to_tsquery(),
            Some(TsQueryText {
                required: "'ferry' & ('city' <-> 'council') & 'counc':*".into(),
                required_any_order: Some("'ferry' & ('city' & 'council') & 'counc':*".into()),
                excluded: Some("'parking'".into()),
            })
        );
    }

    #[test]
    fn tsquery_operands_escape_quotes_and_backslashes() {
        let q = parse(r#"o'brien a\b "x'y z" -it's"#).expect("test");
        assert_eq!(
            q.to_tsquery(),
            Some(TsQueryText {
                required: r"'o''brien' & 'a\\b' & ('x''y' <-> 'z')".into(),
                required_any_order: Some(r"'o''brien' & 'a\\b' & ('x''y' & 'z')".into()),
                excluded: Some("'it''s'".into()),
            })
        );
        let q = parse("title:x & | ! <-> :* (a) b:* ab:*").expect("test");
        assert_eq!(
            q.to_tsquery().map(|t| t.required),
            Some("'title:x' & '(a)' & 'b:' & 'ab:':*".into()),
            "operators and weights are only ever text inside quotes"
        );
    }

    #[test]
    fn operators_and_columns_are_just_words() {
        let q = parse(r#"title:x AND (NEAR OR "a"" b") * ^col"#).expect("test");
        assert_eq!(
            q.to_fts5().expect("test"),
            r#"("title:x" AND "AND" AND "(NEAR" AND "OR" AND "a" AND "b" AND "^col")"#
        );
    }

    #[test]
    fn nothing_to_search_for() {
        for q in [
            "", "   ", "*", "-", "- -", "\"\"", "\"", "-ferry", "()", "\0\0",
        ] {
            let parsed = parse(q).expect("test");
            assert!(!parsed.is_searchable(), "{q:?}");
            assert_eq!(parsed.to_fts5(), None, "{q:?}");
            assert_eq!(parsed.to_tsquery(), None, "{q:?}");
        }
    }

    #[test]
    fn short_prefixes_are_words_and_unclosed_phrases_run_to_the_end() {
        assert_eq!(parse("a*").expect("test").terms, vec![word("a")]);
        assert_eq!(
            parse("\"city council").expect("test").terms[0].kind,
            TermKind::Phrase(vec!["city".into(), "council".into()])
        );
        assert_eq!(parse("\"one\"").expect("test").terms, vec![word("one")]);
        assert_eq!(parse("x x x").expect("test").terms, vec![word("x")]);
        assert_eq!(
            parse("\u{E000}karticle0").expect("test").terms,
            vec![word("karticle0")],
            "private-use characters separate words"
        );
    }

    #[test]
    fn canonical_text_may_outgrow_the_limit() {
        // Found by the fuzzer: a word starting with `-` is quoted in the
        // canonical text, two characters more than was typed.
        let typed = format!("--{}\"AND", "x".repeat(194));
        let q = parse(&typed).expect("within the limit");
        assert_eq!(q.to_text(), format!("-\"-{}\" AND", "x".repeat(194)));
        assert_eq!(parse(&q.to_text()), Err(QueryError::TooLong));
    }

    #[test]
    fn size_limits() {
        assert_eq!(parse(&"a".repeat(201)), Err(QueryError::TooLong));
        assert!(parse(&"é".repeat(200)).is_ok());
        let many: Vec<String> = (0..17).map(|i| format!("w{i}")).collect();
        assert_eq!(parse(&many.join(" ")), Err(QueryError::TooManyTerms));
    }

    #[test]
    fn cursors_round_trip_and_refuse_junk() {
        let c = SearchCursor {
            window_start: -5,
            window_end: i64::MAX,
            score: -3.25e-7,
            key: 9,
        };
        assert_eq!(SearchCursor::decode(&c.encode()), Ok(c));
        for bad in [
            "",
            "x",
            "0000000000000000.1.5",
            "7ff0000000000000.1.5.2",
            "7ff8000000000000.1.5.2",
            "0000000000000000.1.5.5",
            "0000000000000000.1.5.0",
            "000000000000000.1.5.2",
            "0000000000000000.01.5.2",
            "0000000000000000.1.5.2.1",
            "000000000000000G.1.5.2",
            "0000000000000000.-0.5.2",
        ] {
            assert!(SearchCursor::decode(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn index_text_drops_tags_and_decodes_entities() {
        assert_eq!(
            index_text("<p>Fish &amp; chips&#33;</p><p>x&lt;y &bogus; \u{2}</p>"),
            "Fish & chips! x<y &bogus;"
        );
        assert_eq!(index_text("<p>a<br>b</p><"), "a b");
        assert_eq!(index_text("x\u{E000}karticle0 &#xE000;y"), "x karticle0 y");
    }

    #[test]
    fn highlights_escape_everything_but_the_marks() {
        let h = Highlighted("<b>\u{2}x&y\u{3}</b> \u{3}\u{2}\"".into());
        assert_eq!(
            h.to_html(),
            "&lt;b&gt;<mark>x&amp;y</mark>&lt;/b&gt; <mark>&quot;</mark>"
        );
        assert_eq!(h.plain(), "<b>x&y</b> \"");
    }

    /// What lies outside the quoted operands of rendered `tsquery` text, or
    /// `None` when a quote is left open.
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

    proptest! {
        #[test]
        fn parsing_never_panics_and_renders_only_quoted_terms(input in "\\PC{0,80}|[\"*()\\- a-zA-Z:^+\\x00]{0,80}") {
            if let Ok(q) = parse(&input) {
                if let Some(fts) = q.to_fts5() {
                    // Outside quoted strings there are only our operators.
                    let mut outside = String::new();
                    let mut quoted = false;
                    for c in fts.chars() {
                        if c == '"' { quoted = !quoted; continue; }
                        if !quoted { outside.push(c); }
                    }
                    prop_assert!(!quoted);
                    let rest = outside.replace("AND", "").replace("NOT", "");
                    prop_assert!(rest.chars().all(|c| matches!(c, '(' | ')' | ' ' | '*')), "{fts}");
                }
                match q.to_tsquery() {
                    Some(ts) => {
                        let texts = std::iter::once(&ts.required)
                            .chain(&ts.required_any_order)
                            .chain(&ts.excluded);
                        for text in texts {
                            let outside = tsquery_outside_quotes(text);
                            prop_assert!(outside.is_some(), "unbalanced quotes in {text}");
                            let outside = outside.unwrap_or_default().replace("<->", "");
                            prop_assert!(
                                outside.chars().all(|c| matches!(c, '&' | '|' | '(' | ')' | ' ' | ':' | '*')),
                                "{input:?} -> {text}"
                            );
                        }
                        prop_assert!(!ts.required.is_empty());
                    }
                    None => prop_assert!(!q.is_searchable()),
                }
                // Re-parsing the canonical text gives the same query (it
                // may be longer than the input, so within the limit).
                let canonical = q.to_text();
                if canonical.chars().count() <= MAX_QUERY_CHARS {
                    prop_assert_eq!(parse(&canonical).ok(), Some(q));
                }
            }
        }

        #[test]
        fn highlighted_html_has_no_raw_markup(s in "\\PC{0,60}") {
            let html = Highlighted(s).to_html();
            let stripped = html.replace("<mark>", "").replace("</mark>", "");
            prop_assert!(!stripped.contains('<') && !stripped.contains('>') && !stripped.contains('"'));
        }

        #[test]
        fn cursors_round_trip(score in proptest::num::f64::NORMAL | proptest::num::f64::ZERO, a in any::<i64>(), b in any::<i64>(), k in any::<i64>()) {
            let mut v = [a, b, k];
            v.sort_unstable();
            prop_assume!(v[1] < v[2]);
            let c = SearchCursor { window_start: v[0], key: v[1], window_end: v[2], score };
            prop_assert_eq!(SearchCursor::decode(&c.encode()), Ok(c));
        }
    }
}
