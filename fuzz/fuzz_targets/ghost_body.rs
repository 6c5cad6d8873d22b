//! Bodies from a Ghost export, as the importer reads them. The first byte
//! picks the format (0: HTML, 1: Lexical JSON, 2: Mobiledoc JSON), the rest is
//! the body. Conversions never panic and always yield safe HTML.
#![no_main]

use libfuzzer_sys::fuzz_target;
use masthead_render::ghost_body::{lexical_to_html, mobiledoc_to_html};
use masthead_render::sanitize_html;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let Ok(body) = std::str::from_utf8(body) else {
        return;
    };
    let html = match selector % 3 {
        0 => sanitize_html(body),
        1 => match lexical_to_html(body) {
            Ok(converted) => converted.html,
            Err(_) => return,
        },
        _ => match mobiledoc_to_html(body) {
            Ok(converted) => converted.html,
            Err(_) => return,
        },
    };
    masthead_fuzz::assert_safe_html(&html);
});
