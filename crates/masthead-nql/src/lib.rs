//! Ghost's NQL filter language (the `filter=` query parameter): parse a filter
//! string into a typed [`Filter`], print a filter back as canonical NQL, and
//! rewrite Ghost's post shortcuts. No I/O; turning a filter into SQL is the
//! store's job.
//!
//! The grammar follows TryGhost/NQL (`nql-lang`):
//!
//! ```text
//! filter     := expression END
//! expression := conjunction ("," conjunction)*        "," is OR
//! conjunction:= operand ("+" operand)*                "+" is AND, binds tighter
//! operand    := "(" expression ")" | condition
//! condition  := field ":" operation
//! operation  := "-"? "[" value ("," value)* "]"       in / not in
//!             | "-"? "~" ("^" | "$")? text            contains / starts / ends
//!             | (">" | ">=" | "<" | "<=" | "-")? value
//! ```
//!
//! NQL is lexically context-sensitive: `-` negates at the start of a value but
//! is an ordinary character inside one, `now+1d` is one value while
//! `now+tag:x` is a value and a second condition, and `news:x` is a field
//! before the colon but a word after it. So the lexer has no fixed token
//! stream; the parser asks it for the kind of token the grammar expects next.
//!
//! Values are typed by spelling alone ([`Value`]); the store coerces them to
//! each column's type. Relative dates are Ghost's `now`, `now-30d`, `now+1w`
//! (units `s m h d w M y`, months and years by the calendar, in UTC);
//! [`resolve_relative_date`] turns one into an instant with checked
//! arithmetic, and the parser already refuses amounts that could never fit.
//!
//! Where Ghost rejects or mangles an input this parser is
//! deliberately a little kinder: `1.5` and `007` stay text (Ghost's `parseInt`
//! turns `1.5` into 1), `''` is the empty string, `\` escapes any special
//! character in a bare word (Ghost keeps the backslash unless a quote follows),
//! a value may contain `:` (`tag:a:b`), and whitespace may sit between a field
//! name and its colon.

use std::fmt;

#[cfg(test)]
mod tests;

/// Longest filter accepted, in bytes: far beyond any real filter, small enough
/// that a hostile one costs nothing to reject.
pub const MAX_INPUT_LEN: usize = 8 * 1024;

/// Deepest nesting of parentheses accepted; keeps recursion bounded.
pub const MAX_DEPTH: usize = 32;

/// A filter that could not be parsed. `position` is a byte offset into the
/// input; the message repeats it and says what was expected there, so it can be
/// shown to an API client as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Query Error: {message}")]
pub struct NqlError {
    pub position: usize,
    pub message: String,
}

impl NqlError {
    fn at(position: usize, message: String) -> NqlError {
        NqlError { position, message }
    }
}

/// A parsed filter. The parser returns it normalised: no group directly holds
/// a group of the same kind, and no group has fewer than two members.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Cond(Condition),
}

/// One `field:operation` test.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Condition {
    /// ASCII-lower-cased; dotted for relations (`tags.slug`).
    pub field: String,
    pub op: Op,
    /// `In`/`NotIn` always hold a [`Value::List`] of scalars; the `~` family
    /// always holds a [`Value::Str`]; the rest hold a scalar.
    pub value: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Gte,
    Lt,
    Lte,
    In,
    NotIn,
    Contains,
    NotContains,
    StartsWith,
    NotStartsWith,
    EndsWith,
    NotEndsWith,
}

/// A value as written. Only a quoted string is certainly text: the bare word
/// `2024` is an [`Value::Int`] even when compared with a text column, so the
/// store must coerce by column type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Value {
    /// `null`, `NULL` or `Null`.
    Null,
    /// `true`/`TRUE`/`True`, `false`/`FALSE`/`False`.
    Bool(bool),
    /// A bare run of digits without a superfluous leading zero that fits an
    /// `i64`. Never negative from the parser: a leading `-` means "not".
    Int(i64),
    /// A quoted string, or any other bare word, escapes resolved.
    Str(String),
    /// A bare `now`: the moment the filter is evaluated. On a text field it
    /// is the word "now".
    Now,
    /// `now-30d`: `sign` is -1 or +1; resolved against the clock by the store
    /// with [`resolve_relative_date`]. `amount` is at most
    /// [`DateUnit::max_amount`].
    RelativeDate {
        sign: i8,
        amount: u32,
        unit: DateUnit,
    },
    /// The members of `[a,b,c]`; never nested.
    List(Vec<Value>),
}

/// Units of a relative date; NQL spells them `s m h d w M y` (`m` is minutes,
/// `M` months).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DateUnit {
    Seconds,
    Minutes,
    Hours,
    Days,
    Weeks,
    Months,
    Years,
}

impl DateUnit {
    fn from_symbol(symbol: u8) -> Option<DateUnit> {
        Some(match symbol {
            b's' => DateUnit::Seconds,
            b'm' => DateUnit::Minutes,
            b'h' => DateUnit::Hours,
            b'd' => DateUnit::Days,
            b'w' => DateUnit::Weeks,
            b'M' => DateUnit::Months,
            b'y' => DateUnit::Years,
            _ => return None,
        })
    }

    /// The largest amount of this unit the parser accepts: about 20,000
    /// years, the whole span of dates from year -9999 to 9999, beyond which
    /// no relative date can land on a representable instant.
    pub fn max_amount(self) -> u32 {
        match self {
            DateUnit::Seconds | DateUnit::Minutes => u32::MAX,
            DateUnit::Hours => 175_307_616,
            DateUnit::Days => 7_304_484,
            DateUnit::Weeks => 1_043_497,
            DateUnit::Months => 239_976,
            DateUnit::Years => 19_998,
        }
    }

    /// The unit's name in messages, plural.
    pub fn name(self) -> &'static str {
        match self {
            DateUnit::Seconds => "seconds",
            DateUnit::Minutes => "minutes",
            DateUnit::Hours => "hours",
            DateUnit::Days => "days",
            DateUnit::Weeks => "weeks",
            DateUnit::Months => "months",
            DateUnit::Years => "years",
        }
    }

    fn symbol(self) -> char {
        match self {
            DateUnit::Seconds => 's',
            DateUnit::Minutes => 'm',
            DateUnit::Hours => 'h',
            DateUnit::Days => 'd',
            DateUnit::Weeks => 'w',
            DateUnit::Months => 'M',
            DateUnit::Years => 'y',
        }
    }
}

impl Op {
    /// What NQL writes between `field:` and the value (lists add brackets).
    fn prefix(self) -> &'static str {
        match self {
            Op::Eq | Op::In => "",
            Op::Ne | Op::NotIn => "-",
            Op::Gt => ">",
            Op::Gte => ">=",
            Op::Lt => "<",
            Op::Lte => "<=",
            Op::Contains => "~",
            Op::NotContains => "-~",
            Op::StartsWith => "~^",
            Op::NotStartsWith => "-~^",
            Op::EndsWith => "~$",
            Op::NotEndsWith => "-~$",
        }
    }
}

impl Filter {
    /// All of `parts`, flattening nested ANDs; one part is returned as is.
    /// Use it to add enforced conditions (`status:published`) to a client's
    /// filter. An empty AND matches everything but has no NQL spelling.
    pub fn and(parts: impl IntoIterator<Item = Filter>) -> Filter {
        let mut flat = Vec::new();
        for part in parts {
            match part {
                Filter::And(inner) => flat.extend(inner),
                other => flat.push(other),
            }
        }
        match <[Filter; 1]>::try_from(flat) {
            Ok([single]) => single,
            Err(flat) => Filter::And(flat),
        }
    }

    /// Any of `parts`, flattening nested ORs; one part is returned as is. An
    /// empty OR matches nothing and has no NQL spelling.
    pub fn or(parts: impl IntoIterator<Item = Filter>) -> Filter {
        let mut flat = Vec::new();
        for part in parts {
            match part {
                Filter::Or(inner) => flat.extend(inner),
                other => flat.push(other),
            }
        }
        match <[Filter; 1]>::try_from(flat) {
            Ok([single]) => single,
            Err(flat) => Filter::Or(flat),
        }
    }

    /// The same filter in the shape the parser produces, so that hand-built
    /// filters compare equal to parsed ones.
    pub fn normalised(self) -> Filter {
        match self {
            Filter::And(parts) => Filter::and(parts.into_iter().map(Filter::normalised)),
            Filter::Or(parts) => Filter::or(parts.into_iter().map(Filter::normalised)),
            cond @ Filter::Cond(_) => cond,
        }
    }

    /// Every condition, left to right: for checking fields against an
    /// allow-list before any SQL is built.
    pub fn conditions(&self) -> Vec<&Condition> {
        fn collect<'f>(filter: &'f Filter, out: &mut Vec<&'f Condition>) {
            match filter {
                Filter::And(parts) | Filter::Or(parts) => {
                    parts.iter().for_each(|part| collect(part, out));
                }
                Filter::Cond(cond) => out.push(cond),
            }
        }
        let mut out = Vec::new();
        collect(self, &mut out);
        out
    }
}

/// Parse an NQL filter. Never panics; the error says where and what was
/// expected.
pub fn parse(input: &str) -> Result<Filter, NqlError> {
    if input.len() > MAX_INPUT_LEN {
        return Err(NqlError::at(
            input.floor_char_boundary(MAX_INPUT_LEN),
            format!(
                "the filter is {} bytes long; at most {MAX_INPUT_LEN} bytes are allowed",
                input.len()
            ),
        ));
    }
    let mut parser = Parser {
        lexer: Lexer::new(input),
        depth: 0,
    };
    parser.lexer.skip_whitespace();
    if parser.lexer.at_end() {
        return Err(NqlError::at(0, "the filter is empty".to_owned()));
    }
    let filter = parser.expression("a condition such as \"tag:news\"")?;
    parser.lexer.skip_whitespace();
    if !parser.lexer.at_end() {
        return Err(parser
            .lexer
            .unexpected("\"+\", \",\" or the end of the filter"));
    }
    Ok(filter)
}

/// Rewrite Ghost's post-filter shortcuts: `tag`/`tags` mean `tags.slug` and
/// `author`/`authors` mean `authors.slug`, so `tag:news` finds posts with any
/// tag whose slug is `news`. `primary_tag` and `primary_author` are left alone:
/// they also need the relation's sort order (`posts_tags.sort_order = 0`),
/// which only the SQL layer can express. Apply this to post and page filters
/// only; on tags or authors `slug` means the row's own slug.
pub fn expand_post_shortcuts(filter: Filter) -> Filter {
    match filter {
        Filter::And(parts) => Filter::And(parts.into_iter().map(expand_post_shortcuts).collect()),
        Filter::Or(parts) => Filter::Or(parts.into_iter().map(expand_post_shortcuts).collect()),
        Filter::Cond(mut cond) => {
            let expanded = match cond.field.as_str() {
                "tag" | "tags" => Some("tags.slug"),
                "author" | "authors" => Some("authors.slug"),
                _ => None,
            };
            if let Some(field) = expanded {
                cond.field = field.to_owned();
            }
            Filter::Cond(cond)
        }
    }
}

/// A relative date whose instant cannot be represented (it falls before the
/// year -9999 or after 9999). Shown to API clients as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "Query Error: the relative date {0} falls outside the dates that can be computed (years -9999 to 9999)"
)]
pub struct DateOutOfRange(pub String);

/// The instant, in Unix milliseconds, that `now{sign}{amount}{unit}` names
/// when the clock reads `now_ms`. As in Ghost, the arithmetic is done in UTC:
/// a day is 24 hours, and months and years move the calendar date (the 31st
/// minus a month is the last day of the shorter month). Every step is
/// checked, so no amount and no clock can overflow or wrap.
pub fn resolve_relative_date(
    now_ms: i64,
    sign: i8,
    amount: u32,
    unit: DateUnit,
) -> Result<i64, DateOutOfRange> {
    use jiff::{Span, Timestamp, tz::TimeZone};
    let out_of_range = || {
        DateOutOfRange(
            Value::RelativeDate {
                sign: if sign < 0 { -1 } else { 1 },
                amount,
                unit,
            }
            .to_string(),
        )
    };
    // At most u32::MAX in size, so the sign cannot overflow an i64.
    let signed = if sign < 0 {
        -i64::from(amount)
    } else {
        i64::from(amount)
    };
    let span = match unit {
        DateUnit::Seconds => Span::new().try_seconds(signed),
        DateUnit::Minutes => Span::new().try_minutes(signed),
        DateUnit::Hours => Span::new().try_hours(signed),
        DateUnit::Days => Span::new().try_days(signed),
        DateUnit::Weeks => Span::new().try_weeks(signed),
        DateUnit::Months => Span::new().try_months(signed),
        DateUnit::Years => Span::new().try_years(signed),
    }
    .map_err(|_| out_of_range())?;
    let now = Timestamp::from_millisecond(now_ms).map_err(|_| out_of_range())?;
    let then = now
        .to_zoned_datetime(TimeZone::UTC)
        .checked_add(span)
        .map_err(|_| out_of_range())?;
    Ok(then.timestamp().as_millisecond())
}

// ---------------------------------------------------------------------------
// Lexer
// ---------------------------------------------------------------------------

/// Characters that end a bare word. Inside one, `\` makes them ordinary.
const SPECIAL: [char; 11] = ['\'', '"', '+', ',', '(', ')', '>', '<', '=', '[', ']'];

fn ends_bare(c: char) -> bool {
    c.is_whitespace() || SPECIAL.contains(&c)
}

/// A leading `-` is negation, so it cannot start a bare word.
fn starts_bare(c: char) -> bool {
    !ends_bare(c) && c != '-'
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// A cursor over the input; each method reads one kind of token at the cursor
/// and leaves the cursor untouched when that token is not there. The cursor
/// only ever moves by whole characters, so it always sits on a char boundary.
struct Lexer<'a> {
    input: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    fn new(input: &'a str) -> Lexer<'a> {
        Lexer { input, pos: 0 }
    }

    fn rest(&self) -> &'a str {
        self.input.get(self.pos..).unwrap_or("")
    }

    fn at_end(&self) -> bool {
        self.rest().is_empty()
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn skip_whitespace(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start().len();
    }

    /// Consume `token` if it comes next, without skipping whitespace first.
    fn eat(&mut self, token: &str) -> bool {
        let found = self.rest().starts_with(token);
        if found {
            self.pos += token.len();
        }
        found
    }

    /// Skip whitespace, then consume `token` if it comes next.
    fn eat_token(&mut self, token: &str) -> bool {
        self.skip_whitespace();
        self.eat(token)
    }

    fn skip_word_chars(&mut self) {
        self.pos += self
            .rest()
            .bytes()
            .take_while(|&b| is_word_char(char::from(b)))
            .count();
    }

    /// `[a-zA-Z_][a-zA-Z0-9_]*("." [a-zA-Z0-9_]+)*`, or `None` if no field
    /// starts here. Ghost also accepts empty segments (`tags..slug`); nothing
    /// has such a name, so they are reported instead.
    fn field_name(&mut self) -> Result<Option<&'a str>, NqlError> {
        let start = self.pos;
        if !self
            .peek()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        {
            return Ok(None);
        }
        self.skip_word_chars();
        while self.eat(".") {
            if !self.peek().is_some_and(is_word_char) {
                let so_far = self.input.get(start..self.pos).unwrap_or("");
                return Err(
                    self.unexpected(&format!("the rest of the field name after \"{so_far}\""))
                );
            }
            self.skip_word_chars();
        }
        Ok(self.input.get(start..self.pos))
    }

    /// `now`, or `now` `+`/`-` digits unit, standing alone as a whole value.
    /// `now-1dx` and `nowhere` are ordinary words; in `now+tag:x` the value
    /// is a bare `now` and the `+` is AND.
    fn relative_date(&mut self) -> Result<Option<Value>, NqlError> {
        let Some(after_now) = self.rest().strip_prefix("now") else {
            return Ok(None);
        };
        let bytes = after_now.as_bytes();
        let sign = match bytes.first() {
            Some(b'+') => 1,
            Some(b'-') => -1,
            _ => 0,
        };
        let digits_len = if sign == 0 {
            0
        } else {
            bytes[1..].iter().take_while(|b| b.is_ascii_digit()).count()
        };
        let unit = bytes
            .get(1 + digits_len)
            .copied()
            .and_then(DateUnit::from_symbol);
        // Everything so far is ASCII, so these offsets are char boundaries.
        let len = "now".len() + 1 + digits_len + 1;
        let Some(unit) =
            unit.filter(|_| digits_len > 0 && !self.rest()[len..].starts_with(|c| !ends_bare(c)))
        else {
            if after_now.is_empty() || after_now.starts_with(ends_bare) {
                self.pos += "now".len();
                return Ok(Some(Value::Now));
            }
            return Ok(None);
        };
        let digits = &after_now[1..=digits_len];
        let amount = digits
            .parse::<u32>()
            .ok()
            .filter(|amount| *amount <= unit.max_amount());
        let Some(amount) = amount else {
            let at = self.pos + "now".len() + 1;
            return Err(NqlError::at(
                at,
                format!(
                    "relative date amount {digits} is too large at position {at}; at most {} {} are allowed",
                    unit.max_amount(),
                    unit.name()
                ),
            ));
        };
        self.pos += len;
        Ok(Some(Value::RelativeDate { sign, amount, unit }))
    }

    /// A bare word with `\`-escapes resolved; empty if none starts here.
    fn bare(&mut self) -> String {
        let mut text = String::new();
        let mut chars = self.rest().chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\\'
                && let Some(&escaped) = chars.peek()
                && (escaped == '\\' || SPECIAL.contains(&escaped))
            {
                chars.next();
                text.push(escaped);
                self.pos += 1 + escaped.len_utf8();
            } else if ends_bare(c) {
                break;
            } else {
                text.push(c);
                self.pos += c.len_utf8();
            }
        }
        text
    }

    /// A single-quoted string starting at the cursor. `\'`, `\"` and `\\`
    /// are escapes; any other backslash is kept as written.
    fn quoted(&mut self) -> Result<String, NqlError> {
        let open = self.pos;
        let mut text = String::new();
        let mut chars = self.rest().char_indices().skip(1).peekable();
        while let Some((offset, c)) = chars.next() {
            match c {
                '\'' => {
                    self.pos = open + offset + 1;
                    return Ok(text);
                }
                '\\' if chars
                    .peek()
                    .is_some_and(|&(_, next)| matches!(next, '\'' | '"' | '\\')) =>
                {
                    if let Some((_, escaped)) = chars.next() {
                        text.push(escaped);
                    }
                }
                c => text.push(c),
            }
        }
        Err(NqlError::at(
            open,
            format!("unterminated string at position {open}; expected a closing \"'\""),
        ))
    }

    /// An error pointing at the cursor: what is there, and what should be.
    fn unexpected(&self, expected: &str) -> NqlError {
        let found = describe(self.rest());
        let hint = if self.peek() == Some('"') {
            " (strings are quoted with ', not \")"
        } else {
            ""
        };
        NqlError::at(
            self.pos,
            format!(
                "unexpected {found} at position {}; expected {expected}{hint}",
                self.pos
            ),
        )
    }
}

/// Name what starts `rest` for an error message: a word, a character or the end.
fn describe(rest: &str) -> String {
    const SHOWN: usize = 24;
    let Some(first) = rest.chars().next() else {
        return "end of filter".to_owned();
    };
    if first.is_alphanumeric() || first == '_' {
        let word = |c: &char| c.is_alphanumeric() || *c == '_';
        let shown: String = rest.chars().take_while(word).take(SHOWN).collect();
        let more = rest.chars().take_while(word).nth(SHOWN).is_some();
        format!("\"{shown}{}\"", if more { "…" } else { "" })
    } else if first == '"' {
        "character '\"'".to_owned()
    } else if first.is_whitespace() || first.is_control() {
        format!("character U+{:04X}", u32::from(first))
    } else {
        format!("character \"{first}\"")
    }
}

/// Type a bare word by its spelling.
fn classify(text: String) -> Value {
    if let Some(keyword) = keyword(&text) {
        return keyword;
    }
    if is_integer(&text)
        && let Ok(number) = text.parse()
    {
        return Value::Int(number);
    }
    Value::Str(text)
}

fn keyword(text: &str) -> Option<Value> {
    match text {
        "null" | "NULL" | "Null" => Some(Value::Null),
        "true" | "TRUE" | "True" => Some(Value::Bool(true)),
        "false" | "FALSE" | "False" => Some(Value::Bool(false)),
        _ => None,
    }
}

/// Digits without a leading zero: `007` stays text so a slug keeps its zeros.
fn is_integer(text: &str) -> bool {
    !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text.len() == 1 || !text.starts_with('0'))
}

// ---------------------------------------------------------------------------
// Parser
// ---------------------------------------------------------------------------

struct Parser<'a> {
    lexer: Lexer<'a>,
    /// Parentheses currently open.
    depth: usize,
}

impl Parser<'_> {
    /// `conjunction ("," conjunction)*`
    fn expression(&mut self, expected: &str) -> Result<Filter, NqlError> {
        let mut parts = vec![self.conjunction(expected)?];
        while self.lexer.eat_token(",") {
            parts.push(self.conjunction("a condition after \",\"")?);
        }
        Ok(Filter::or(parts))
    }

    /// `operand ("+" operand)*`
    fn conjunction(&mut self, expected: &str) -> Result<Filter, NqlError> {
        let mut parts = vec![self.operand(expected)?];
        while self.lexer.eat_token("+") {
            parts.push(self.operand("a condition after \"+\"")?);
        }
        Ok(Filter::and(parts))
    }

    /// `"(" expression ")" | condition`
    fn operand(&mut self, expected: &str) -> Result<Filter, NqlError> {
        self.lexer.skip_whitespace();
        let open = self.lexer.pos;
        if !self.lexer.eat("(") {
            return self.condition(expected).map(Filter::Cond);
        }
        if self.depth == MAX_DEPTH {
            return Err(NqlError::at(
                open,
                format!(
                    "parentheses nested too deeply at position {open}; at most {MAX_DEPTH} levels are allowed"
                ),
            ));
        }
        self.depth += 1;
        let inner = self.expression("a condition after \"(\"")?;
        if !self.lexer.eat_token(")") {
            return Err(self.lexer.unexpected(&format!(
                "\"+\", \",\" or \")\" to close the \"(\" at position {open}"
            )));
        }
        self.depth -= 1;
        Ok(inner)
    }

    /// `field ":" operation`
    fn condition(&mut self, expected: &str) -> Result<Condition, NqlError> {
        let Some(field) = self.lexer.field_name()? else {
            return Err(self.lexer.unexpected(expected));
        };
        if !self.lexer.eat_token(":") {
            return Err(self.lexer.unexpected(&format!("\":\" after \"{field}\"")));
        }
        self.lexer.skip_whitespace();
        let (op, value) = self.operation(field)?;
        Ok(Condition {
            field: field.to_ascii_lowercase(),
            op,
            value,
        })
    }

    /// Everything after `field:`.
    fn operation(&mut self, field: &str) -> Result<(Op, Value), NqlError> {
        let negated = self.lexer.eat("-");
        self.lexer.skip_whitespace();
        let list_at = self.lexer.pos;
        if self.lexer.eat("[") {
            let op = if negated { Op::NotIn } else { Op::In };
            return Ok((op, self.list(list_at)?));
        }
        if self.lexer.eat("~") {
            let op = if self.lexer.eat("^") {
                if negated {
                    Op::NotStartsWith
                } else {
                    Op::StartsWith
                }
            } else if self.lexer.eat("$") {
                if negated {
                    Op::NotEndsWith
                } else {
                    Op::EndsWith
                }
            } else if negated {
                Op::NotContains
            } else {
                Op::Contains
            };
            self.lexer.skip_whitespace();
            let expected = format!("text after \"{field}:{}\"", op.prefix());
            return Ok((op, Value::Str(self.text(&expected)?)));
        }
        let op = if negated {
            Op::Ne
        } else if self.lexer.eat(">=") {
            Op::Gte
        } else if self.lexer.eat(">") {
            Op::Gt
        } else if self.lexer.eat("<=") {
            Op::Lte
        } else if self.lexer.eat("<") {
            Op::Lt
        } else {
            Op::Eq
        };
        self.lexer.skip_whitespace();
        let expected = if negated {
            format!("a value, \"[\" or \"~\" after \"{field}:-\"")
        } else {
            format!("a value after \"{field}:{}\"", op.prefix())
        };
        Ok((op, self.scalar(&expected)?))
    }

    /// The members of a list whose `[` is at `open`, up to its `]`.
    fn list(&mut self, open: usize) -> Result<Value, NqlError> {
        let mut items = Vec::new();
        loop {
            self.lexer.skip_whitespace();
            let expected = if items.is_empty() {
                "a value in the list"
            } else {
                "a value after \",\""
            };
            items.push(self.scalar(expected)?);
            if self.lexer.eat_token(",") {
                continue;
            }
            if self.lexer.eat("]") {
                return Ok(Value::List(items));
            }
            return Err(self.lexer.unexpected(&format!(
                "\",\" or \"]\" to close the list at position {open}"
            )));
        }
    }

    /// One typed value: quoted string, relative date or bare word.
    fn scalar(&mut self, expected: &str) -> Result<Value, NqlError> {
        match self.lexer.peek() {
            Some('\'') => self.lexer.quoted().map(Value::Str),
            Some(c) if starts_bare(c) => match self.lexer.relative_date()? {
                Some(date) => Ok(date),
                None => Ok(classify(self.lexer.bare())),
            },
            _ => Err(self.not_a_value(expected)),
        }
    }

    /// Text for the `~` operators: a bare word is taken literally, so
    /// `title:~2024` looks for the characters "2024".
    fn text(&mut self, expected: &str) -> Result<String, NqlError> {
        match self.lexer.peek() {
            Some('\'') => self.lexer.quoted(),
            Some(c) if starts_bare(c) => Ok(self.lexer.bare()),
            _ => Err(self.not_a_value(expected)),
        }
    }

    fn not_a_value(&self, expected: &str) -> NqlError {
        let mut error = self.lexer.unexpected(expected);
        if self.lexer.peek() == Some('-') {
            error
                .message
                .push_str(" (quote a value that starts with \"-\", like '-5')");
        }
        error
    }
}

// ---------------------------------------------------------------------------
// Printer
// ---------------------------------------------------------------------------

/// Canonical NQL, no spaces; parsing it gives back the normalised filter.
/// Empty groups have no NQL spelling and print as nothing.
impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Cond(cond) => cond.fmt(f),
            Filter::Or(parts) => write_joined(f, parts, ',', false),
            // AND binds tighter, so an OR inside one needs parentheses.
            Filter::And(parts) => write_joined(f, parts, '+', true),
        }
    }
}

fn write_joined(
    f: &mut fmt::Formatter<'_>,
    parts: &[Filter],
    separator: char,
    group_ors: bool,
) -> fmt::Result {
    for (index, part) in parts.iter().enumerate() {
        if index > 0 {
            write!(f, "{separator}")?;
        }
        if group_ors && matches!(part, Filter::Or(_)) {
            write!(f, "({part})")?;
        } else {
            write!(f, "{part}")?;
        }
    }
    Ok(())
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.field, self.op.prefix())?;
        match (&self.op, &self.value) {
            (Op::In | Op::NotIn, list @ Value::List(_)) => list.fmt(f),
            (Op::In | Op::NotIn, single) => write!(f, "[{single}]"),
            (_, value) => value.fmt(f),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(flag) => write!(f, "{flag}"),
            Value::Int(number) if *number >= 0 => write!(f, "{number}"),
            // A bare `-5` would read as "not 5"; quoted, it at least reads back as text.
            Value::Int(number) => write_quoted(f, &number.to_string()),
            Value::Str(text) if prints_bare(text) => f.write_str(text),
            Value::Str(text) => write_quoted(f, text),
            Value::Now => f.write_str("now"),
            Value::RelativeDate { sign, amount, unit } => {
                let sign = if *sign < 0 { '-' } else { '+' };
                write!(f, "now{sign}{amount}{}", unit.symbol())
            }
            Value::List(items) => {
                f.write_str("[")?;
                for (index, item) in items.iter().enumerate() {
                    if index > 0 {
                        f.write_str(",")?;
                    }
                    item.fmt(f)?;
                }
                f.write_str("]")
            }
        }
    }
}

/// Whether text can be printed unquoted and still read back as the same text
/// (in Ghost too, which is why `:` and escapes are avoided).
fn prints_bare(text: &str) -> bool {
    text.starts_with(|c: char| c.is_alphanumeric() || c == '_')
        && text
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '@' | '/'))
        && keyword(text).is_none()
        && !is_integer(text)
        && matches!(Lexer::new(text).relative_date(), Ok(None))
}

fn write_quoted(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    f.write_str("'")?;
    for c in text.chars() {
        if matches!(c, '\'' | '"' | '\\') {
            f.write_str("\\")?;
        }
        write!(f, "{c}")?;
    }
    f.write_str("'")
}
