//! Members in Ghost's CSV format (research/revenue.md, section 1): a small
//! RFC 4180 reader that reports a broken row and goes on with the next, the
//! writer's quoting, and the reading of one row into a member to import.
//!
//! Ghost's columns, in its export's order:
//! `id,email,name,note,subscribed_to_emails,complimentary_plan,
//! stripe_customer_id,created_at,deleted_at,labels,tiers`. An import needs
//! `email`; every other column is optional and columns may come in any order.

use crate::Email;

/// The export's header, in Ghost's order.
pub const EXPORT_COLUMNS: [&str; 11] = [
    "id",
    "email",
    "name",
    "note",
    "subscribed_to_emails",
    "complimentary_plan",
    "stripe_customer_id",
    "created_at",
    "deleted_at",
    "labels",
    "tiers",
];

/// Most rows one import reads (Ghost imports 500 inline; larger files go
/// through its job queue, which this has no need for at this size).
pub const MAX_IMPORT_ROWS: usize = 50_000;

/// One record of a CSV file: the line it starts on (1-based) and its fields,
/// or why it could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvRecord {
    pub line: usize,
    pub fields: Result<Vec<String>, String>,
}

/// Reads every record of `text`. A quote inside an unquoted field, or text
/// after a closing quote, spoils that record only (reading resumes on the
/// next line); a quoted field still open at the end spoils the rest of the
/// file, as one record. Blank lines are skipped. Never panics.
pub fn read_records(text: &str) -> Vec<CsvRecord> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1usize;
    while chars.peek().is_some() {
        let start = line;
        let mut fields: Vec<String> = Vec::new();
        let mut field = String::new();
        let mut error: Option<String> = None;
        let mut quoted = false;
        // Whether the current field began with a quote and has closed it.
        let mut closed = false;
        let mut ended = false;
        while let Some(c) = chars.next() {
            if quoted {
                match c {
                    '"' if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    '"' => {
                        quoted = false;
                        closed = true;
                    }
                    '\n' => {
                        line += 1;
                        field.push('\n');
                    }
                    _ => field.push(c),
                }
                continue;
            }
            match c {
                ',' => {
                    fields.push(std::mem::take(&mut field));
                    closed = false;
                }
                '\r' if chars.peek() == Some(&'\n') => {}
                '\n' => {
                    line += 1;
                    ended = true;
                    break;
                }
                '"' if field.is_empty() && !closed => quoted = true,
                _ if error.is_some() => {}
                '"' => error = Some("a quote inside a field that is not quoted".to_owned()),
                _ if closed => {
                    error = Some("text after a closing quote".to_owned());
                }
                _ => field.push(c),
            }
        }
        if quoted {
            out.push(CsvRecord {
                line: start,
                fields: Err("a quoted field is never closed".to_owned()),
            });
            break;
        }
        fields.push(field);
        let blank = fields.len() == 1 && fields[0].is_empty() && !closed;
        if blank && error.is_none() {
            if !ended {
                break;
            }
            continue;
        }
        out.push(CsvRecord {
            line: start,
            fields: match error {
                Some(e) => Err(e),
                None => Ok(fields),
            },
        });
    }
    out
}

/// One field written for CSV: quoted when it holds a comma, quote or line
/// break, starts or ends with a space, or starts with a byte-order mark.
/// Cells that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`) are
/// kept as they are: the export is data for Ghost, which reads them back
/// verbatim.
pub fn field(s: &str) -> String {
    // A leading byte-order mark would be taken for the file's own.
    if s.contains([',', '"', '\n', '\r']) || s.starts_with([' ', '\u{feff}']) || s.ends_with(' ') {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// A row of fields as one CSV line, ending in CRLF (RFC 4180).
pub fn line(fields: &[&str]) -> String {
    let mut out = fields
        .iter()
        .map(|f| field(f))
        .collect::<Vec<_>>()
        .join(",");
    out.push_str("\r\n");
    out
}

/// Where each known column is in an import's header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportHeader {
    email: usize,
    name: Option<usize>,
    note: Option<usize>,
    subscribed: Option<usize>,
    complimentary: Option<usize>,
    created_at: Option<usize>,
    labels: Option<usize>,
}

impl ImportHeader {
    /// Reads the header row; `email` is required, unknown columns ignored.
    pub fn parse(fields: &[String]) -> Result<ImportHeader, String> {
        let find = |names: &[&str]| {
            fields
                .iter()
                .position(|f| names.iter().any(|n| f.trim().eq_ignore_ascii_case(n)))
        };
        let Some(email) = find(&["email"]) else {
            return Err("the first row must name the columns, including \"email\"".to_owned());
        };
        Ok(ImportHeader {
            email,
            name: find(&["name"]),
            note: find(&["note"]),
            subscribed: find(&["subscribed_to_emails", "subscribed"]),
            complimentary: find(&["complimentary_plan"]),
            created_at: find(&["created_at"]),
            labels: find(&["labels"]),
        })
    }
}

/// A member as one import row describes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRow {
    pub email: Email,
    pub name: String,
    pub note: String,
    /// Receives the newsletters new members get (Ghost: unless `false`).
    pub subscribed: bool,
    /// `complimentary_plan` = `true`: status `comped`.
    pub comped: bool,
    /// Unix ms; `None` when the cell is empty.
    pub created_ms: Option<i64>,
    pub labels: Vec<String>,
}

/// Longest name and note kept (longer ones are refused, not cut).
pub const MAX_NAME: usize = 191;
pub const MAX_NOTE: usize = 2000;

impl ImportRow {
    /// Reads one row; `Err` says why it is refused.
    pub fn parse(h: &ImportHeader, fields: &[String]) -> Result<ImportRow, String> {
        let cell = |i: Option<usize>| {
            i.and_then(|i| fields.get(i))
                .map(|s| s.trim())
                .unwrap_or("")
        };
        let raw_email = cell(Some(h.email));
        if raw_email.is_empty() {
            return Err("no e-mail address".to_owned());
        }
        let email = Email::parse(raw_email)
            .map_err(|e| format!("malformed e-mail address {}: {e}", shorten(raw_email)))?;
        let name = cell(h.name).to_owned();
        if name.chars().count() > MAX_NAME {
            return Err(format!("the name is longer than {MAX_NAME} characters"));
        }
        let note = cell(h.note).to_owned();
        if note.chars().count() > MAX_NOTE {
            return Err(format!("the note is longer than {MAX_NOTE} characters"));
        }
        let subscribed = !cell(h.subscribed).eq_ignore_ascii_case("false");
        let comped = cell(h.complimentary).eq_ignore_ascii_case("true");
        let created = cell(h.created_at);
        let created_ms = if created.is_empty() {
            None
        } else {
            Some(parse_time(created).ok_or_else(|| {
                format!("bad date {} (use 2024-05-01T09:30:00Z)", shorten(created))
            })?)
        };
        let labels = cell(h.labels)
            .split(',')
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect();
        Ok(ImportRow {
            email,
            name,
            note,
            subscribed,
            comped,
            created_ms,
            labels,
        })
    }
}

fn shorten(s: &str) -> String {
    let short: String = s.chars().take(60).collect();
    format!("{short:?}")
}

/// Reads a UTC time as Ghost writes it (`2024-05-01T09:30:00.000Z`), with
/// or without fractions or the `T`, or a bare date (midnight UTC). Unix ms.
pub fn parse_time(s: &str) -> Option<i64> {
    let s = s.trim();
    let s = s
        .strip_suffix('Z')
        .or_else(|| s.strip_suffix("+00:00"))
        .unwrap_or(s);
    let (date, time) = match s.split_once(['T', ' ']) {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let mut d = date.splitn(3, '-');
    let (y, m, day) = (d.next()?, d.next()?, d.next()?);
    if y.len() != 4 || m.len() != 2 || day.len() != 2 {
        return None;
    }
    let (y, m, day): (i64, u32, u32) = (num(y)?, num(m)? as u32, num(day)? as u32);
    if !(1..=12).contains(&m) || day == 0 || day > days_in_month(y, m) {
        return None;
    }
    let mut ms = days_from_civil(y, m, day) * 86_400_000;
    if let Some(t) = time {
        let (hms, frac) = match t.split_once('.') {
            Some((a, b)) => (a, Some(b)),
            None => (t, None),
        };
        let mut p = hms.split(':');
        let (h, mi) = (p.next()?, p.next()?);
        let sec = p.next().unwrap_or("00");
        if p.next().is_some() || h.len() != 2 || mi.len() != 2 || sec.len() != 2 {
            return None;
        }
        let (h, mi, sec) = (num(h)?, num(mi)?, num(sec)?);
        if h > 23 || mi > 59 || sec > 60 {
            return None;
        }
        ms += ((h * 60 + mi) * 60 + sec) * 1000;
        if let Some(f) = frac {
            if f.is_empty() || f.len() > 9 {
                return None;
            }
            let digits: String = f.chars().chain("000".chars()).take(3).collect();
            ms += num(&digits)?;
            num(f)?;
        }
    }
    Some(ms)
}

fn num(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || s.len() > 9 {
        return None;
    }
    s.parse().ok()
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Unix ms as Ghost writes times: `2024-05-01T09:30:00.000Z`.
pub fn format_time(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let rest = ms.rem_euclid(86_400_000);
    // civil_from_days
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3_600_000,
        rest / 60_000 % 60,
        rest / 1000 % 60,
        rest % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ok(r: &CsvRecord) -> Vec<&str> {
        r.fields
            .as_ref()
            .expect("a good record")
            .iter()
            .map(String::as_str)
            .collect()
    }

    #[test]
    fn reads_quotes_commas_and_line_breaks() {
        let recs = read_records(
            "email,name\r\n\"a@b.org\",\"Ann, \"\"Nan\"\"\"\n\nc@d.org,\"two\nlines\"\n",
        );
        assert_eq!(recs.len(), 3);
        assert_eq!(ok(&recs[0]), vec!["email", "name"]);
        assert_eq!(ok(&recs[1]), vec!["a@b.org", "Ann, \"Nan\""]);
        assert_eq!(
            (recs[2].line, ok(&recs[2])),
            (4, vec!["c@d.org", "two\nlines"])
        );
    }

    #[test]
    fn a_broken_row_is_reported_and_reading_goes_on() {
        let recs = read_records("email\nab\"c@d.org\n\"x\"y\ne@f.org\n\"open");
        let lines: Vec<(usize, bool)> = recs.iter().map(|r| (r.line, r.fields.is_ok())).collect();
        assert_eq!(
            lines,
            vec![(1, true), (2, false), (3, false), (4, true), (5, false)]
        );
        assert_eq!(
            recs[4].fields,
            Err("a quoted field is never closed".to_owned())
        );
    }

    #[test]
    fn rows_read_into_members() {
        let head: Vec<String> = [
            "Email",
            "name",
            "labels",
            "created_at",
            "complimentary_plan",
            "subscribed_to_emails",
        ]
        .map(String::from)
        .to_vec();
        let h = ImportHeader::parse(&head).expect("header");
        let row = |cells: &[&str]| {
            ImportRow::parse(&h, &cells.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        };
        let r = row(&[
            "A@B.org",
            "Ann",
            "vip, press",
            "2024-05-01T09:30:00.000Z",
            "true",
            "false",
        ])
        .expect("row");
        assert_eq!(r.labels, vec!["vip", "press"]);
        assert!(r.comped && !r.subscribed);
        assert_eq!(
            r.created_ms.map(format_time).as_deref(),
            Some("2024-05-01T09:30:00.000Z")
        );
        assert!(
            row(&["not an address"])
                .expect_err("refused")
                .contains("malformed")
        );
        assert!(
            row(&["a@b.org", "", "", "2024-02-30"])
                .expect_err("refused")
                .contains("bad date")
        );
        assert!(row(&[""]).expect_err("refused").contains("no e-mail"));
        assert!(ImportHeader::parse(&["name".to_owned()]).is_err());
    }

    #[test]
    fn times_read_and_write() {
        assert_eq!(parse_time("1970-01-01"), Some(0));
        assert_eq!(parse_time("2000-02-29 12:00:00"), Some(951_825_600_000));
        assert_eq!(parse_time("2001-02-29"), None);
        assert_eq!(parse_time("2024-05-01T25:00:00Z"), None);
        assert_eq!(parse_time("yesterday"), None);
        assert_eq!(format_time(951_825_600_123), "2000-02-29T12:00:00.123Z");
    }

    proptest! {
        #[test]
        fn the_reader_never_panics(s in "\\PC{0,200}") {
            let _ = read_records(&s);
        }

        #[test]
        fn the_reader_reads_back_what_the_writer_wrote(
            rows in proptest::collection::vec(
                proptest::collection::vec("[a-z ,\"\n\r]{0,8}", 1..5), 1..6)
        ) {
            let mut text = String::new();
            let mut expected = Vec::new();
            for r in &rows {
                let refs: Vec<&str> = r.iter().map(String::as_str).collect();
                text.push_str(&line(&refs));
                // A row of one empty field is a blank line, which is skipped.
                if !(r.len() == 1 && r[0].is_empty()) {
                    expected.push(r.clone());
                }
            }
            let got: Vec<Vec<String>> = read_records(&text)
                .into_iter()
                .map(|r| r.fields.expect("the writer's rows read back"))
                .collect();
            prop_assert_eq!(got, expected);
        }

        #[test]
        fn times_round_trip(ms in -2_000_000_000_000i64..10_000_000_000_000) {
            prop_assert_eq!(parse_time(&format_time(ms)), Some(ms));
        }
    }
}
