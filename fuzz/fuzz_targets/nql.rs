//! NQL filters (`filter=` on both Ghost APIs): parsing never panics, and the
//! canonical printer's output parses back to the same filter and prints the
//! same again.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(filter) = masthead_nql::parse(text) else {
        return;
    };
    // What the store does next: list the conditions, rewrite the shortcuts.
    let _ = filter.conditions();
    let _ = masthead_nql::expand_post_shortcuts(filter.clone());
    let printed = filter.to_string();
    if printed.len() > masthead_nql::MAX_INPUT_LEN {
        // Quoting can make the canonical form longer than the input; the
        // length limit then refuses it, which is right.
        return;
    }
    match masthead_nql::parse(&printed) {
        Ok(again) => {
            assert_eq!(again, filter, "{text:?} printed as {printed:?}");
            assert_eq!(again.to_string(), printed);
        }
        Err(e) => panic!("{text:?} printed as {printed:?}, which does not parse: {e}"),
    }
});
