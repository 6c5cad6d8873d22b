//! Checks shared by the fuzz targets. Each target's job is to feed hostile
//! bytes to one parser and assert what must hold for *every* input; what must
//! hold for sanitised HTML lives here because three targets produce it.

/// Elements that must never survive sanitising, whatever the input.
const FORBIDDEN_TAGS: &[&str] = &[
    "script", "style", "iframe", "frame", "frameset", "object", "embed", "applet", "form", "input",
    "button", "textarea", "select", "meta", "link", "base", "svg", "math", "template", "noscript",
];

/// URL schemes allowed in `href`/`src` (besides relative URLs): the render
/// crate's allow-list.
const SCHEMES: &[&str] = &["http", "https", "mailto", "tel"];

/// Panics (so libFuzzer records a crash) when sanitised HTML holds anything
/// that could run script or restyle the page: a forbidden element, an event
/// handler or `style` attribute, or a link with a scheme off the allow-list.
///
/// This reads the serialiser's output, which always quotes attribute values
/// with `"` and escapes `<` in text, so a small scanner is enough.
pub fn assert_safe_html(html: &str) {
    let bytes = html.as_bytes();
    let mut i = 0;
    while let Some(offset) = html[i..].find('<') {
        let start = i + offset;
        let rest = &html[start + 1..];
        let name_len = rest
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric())
            .count();
        if name_len == 0 {
            // `</x>`, `<!--`, or a stray `<` the serialiser left as text.
            i = start + 1;
            continue;
        }
        let name = rest[..name_len].to_ascii_lowercase();
        assert!(
            !FORBIDDEN_TAGS.contains(&name.as_str()),
            "<{name}> survived sanitising: {html}"
        );
        // Walk the attributes up to the tag's `>`.
        let mut j = start + 1 + name_len;
        loop {
            while j < bytes.len() && bytes[j].is_ascii_whitespace() {
                j += 1;
            }
            if j >= bytes.len() {
                panic!("unterminated tag <{name}: {html}");
            }
            if bytes[j] == b'>' {
                j += 1;
                break;
            }
            if bytes[j] == b'/' {
                j += 1;
                continue;
            }
            let attr_start = j;
            while j < bytes.len() && !matches!(bytes[j], b'=' | b'>' | b'/' | b' ' | b'\t' | b'\n')
            {
                j += 1;
            }
            let attr = html[attr_start..j].to_ascii_lowercase();
            assert!(
                !attr.starts_with("on") && attr != "style" && attr != "srcdoc",
                "attribute {attr:?} on <{name}> survived sanitising: {html}"
            );
            if j < bytes.len() && bytes[j] == b'=' {
                j += 1;
                assert!(
                    j < bytes.len() && bytes[j] == b'"',
                    "unquoted attribute value on <{name}>: {html}"
                );
                let value_start = j + 1;
                let value_len = html[value_start..]
                    .find('"')
                    .unwrap_or_else(|| panic!("unterminated attribute on <{name}>: {html}"));
                let value = &html[value_start..value_start + value_len];
                if matches!(
                    attr.as_str(),
                    "href" | "src" | "cite" | "action" | "formaction"
                ) {
                    assert_allowed_url(value, html);
                }
                j = value_start + value_len + 1;
            }
        }
        i = j;
    }
}

/// A URL as a browser would read it (entity-decoded the way the serialiser
/// encodes: `&amp;`, `&quot;`, `&nbsp;`) must be relative or have an allowed
/// scheme.
fn assert_allowed_url(value: &str, html: &str) {
    let decoded = value
        .replace("&quot;", "\"")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&");
    // As the WHATWG URL parser does: trim C0 controls and spaces at both
    // ends, drop tabs and newlines anywhere.
    let cleaned: String = decoded
        .trim_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    let Some(colon) = cleaned.find(':') else {
        return;
    };
    let head = &cleaned[..colon];
    // Only `ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )` before the colon is a
    // scheme (RFC 3986); anything else makes the URL a relative path.
    let is_scheme = head.starts_with(|c: char| c.is_ascii_alphabetic())
        && head
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !is_scheme {
        return;
    }
    let scheme = head.to_ascii_lowercase();
    assert!(
        SCHEMES.contains(&scheme.as_str()),
        "URL with scheme {scheme:?} survived sanitising: {value:?} in {html}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_sanitised_html() {
        assert_safe_html(
            "<p>a &lt;script&gt; <a href=\"https://x.example/?a=1&amp;b=2\" rel=\"noopener\">x</a></p><img src=\"/a.png\" alt=\"\">",
        );
        assert_safe_html("<a href=\"/a:b\">x</a><a href=\"#x:y\">y</a>");
        assert_safe_html("<a href=\"jav!script:x\">not a scheme, so a relative path</a>");
    }

    #[test]
    #[should_panic]
    fn refuses_script() {
        assert_safe_html("<p><script>x</script></p>");
    }

    #[test]
    #[should_panic]
    fn refuses_handlers() {
        assert_safe_html("<img src=\"x\" onerror=\"y\">");
    }

    #[test]
    #[should_panic]
    fn refuses_javascript_urls() {
        assert_safe_html("<a href=\" Java\tScript:x\">y</a>");
    }
}
