//! Member CSV imports (`/admin/members/import`): reading never panics, each
//! record starts on a line of the file, a record the reader accepts writes
//! back (with the writer's quoting) to text that reads as the same fields,
//! and every row, read against the file's first record as a header, is a
//! member or a reason, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use masthead_domain::member_csv::{self, ImportHeader, ImportRow};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let records = member_csv::read_records(text);
    let lines = text.lines().count().max(1);
    let mut last = 0;
    for r in &records {
        assert!(r.line >= 1 && r.line <= lines + 1, "line {} of {lines}", r.line);
        assert!(r.line >= last, "records come in file order");
        last = r.line;
        if let Ok(fields) = &r.fields {
            let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
            let again = member_csv::read_records(&member_csv::line(&refs));
            let blank = fields.len() == 1 && fields[0].is_empty();
            if !blank {
                assert_eq!(again.len(), 1, "{fields:?}");
                assert_eq!(again[0].fields.as_ref(), Ok(fields), "written and read back");
            }
        }
    }
    if let Some((head, rows)) = records.split_first()
        && let Ok(h) = head.fields.as_ref().map_err(|_| ()).and_then(|f| ImportHeader::parse(f).map_err(|_| ()))
    {
        for r in rows {
            if let Ok(f) = &r.fields
                && let Ok(row) = ImportRow::parse(&h, f)
            {
                assert!(!row.email.as_str().is_empty());
                if let Some(ms) = row.created_ms {
                    assert_eq!(member_csv::parse_time(&member_csv::format_time(ms)), Some(ms));
                }
            }
        }
    }
});
