//! The Markdown pipeline every post and live entry goes through: it never
//! panics, its output is safe HTML, and a teaser cut from it is a prefix.
#![no_main]

use libfuzzer_sys::fuzz_target;
use masthead_render::{render_markdown, teaser};

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    let body = render_markdown(source, source.len() % 2 == 0);
    masthead_fuzz::assert_safe_html(&body.html);
    let (cut, _) = teaser(&body.html, 1 + source.len() % 3);
    assert!(body.html.starts_with(cut));
});
