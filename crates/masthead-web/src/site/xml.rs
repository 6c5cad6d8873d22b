//! Writing XML by hand, correctly: text and attribute escaping, CDATA
//! sections, and the two date formats feeds use. Feeds and sitemaps are a few
//! fixed shapes, so a writer library would add more than it saves.

use jiff::Timestamp;

/// Whether XML 1.0 allows `c` at all (escaping cannot help the others: a
/// parser refuses a document holding, say, U+000B even as `&#11;`).
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Appends `text` escaped for XML text or a double- or single-quoted
/// attribute value, dropping characters XML forbids.
pub fn escape_into(out: &mut String, text: &str) {
    let mut last = 0;
    for (i, c) in text.char_indices() {
        let rep = match c {
            '&' => "&amp;",
            '<' => "&lt;",
            '>' => "&gt;",
            '"' => "&quot;",
            '\'' => "&apos;",
            c if is_xml_char(c) => continue,
            _ => "",
        };
        out.push_str(&text[last..i]);
        out.push_str(rep);
        last = i + c.len_utf8();
    }
    out.push_str(&text[last..]);
}

/// Appends `text` without escaping, only dropping characters XML forbids.
fn push_xml_chars(out: &mut String, text: &str) {
    if text.chars().all(is_xml_char) {
        out.push_str(text);
    } else {
        out.extend(text.chars().filter(|c| is_xml_char(*c)));
    }
}

/// Appends `text` as a CDATA section. A `]]>` inside would end the section
/// early, so the section is closed after `]]` and a new one opened for `>`.
pub fn cdata_into(out: &mut String, text: &str) {
    out.push_str("<![CDATA[");
    for (i, part) in text.split("]]>").enumerate() {
        if i > 0 {
            out.push_str("]]]]><![CDATA[>");
        }
        push_xml_chars(out, part);
    }
    out.push_str("]]>");
}

/// `<name>text</name>` on its own line.
pub fn element(out: &mut String, name: &str, text: &str) {
    inline_element(out, name, text);
    out.push('\n');
}

/// `<name>text</name>`.
pub fn inline_element(out: &mut String, name: &str, text: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    escape_into(out, text);
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

/// ` name="value"`, escaped.
pub fn attribute(out: &mut String, name: &str, value: &str) {
    out.push(' ');
    out.push_str(name);
    out.push_str("=\"");
    escape_into(out, value);
    out.push('"');
}

fn timestamp(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// RFC 822 (as RFC 1123 tightened it), in UTC: `Sun, 29 Nov 2026 19:00:00 +0000`.
pub fn rfc822(ms: i64) -> String {
    timestamp(ms)
        .strftime("%a, %d %b %Y %H:%M:%S +0000")
        .to_string()
}

/// RFC 3339 in UTC, to the second: `2026-11-29T19:00:00Z`.
pub fn rfc3339(ms: i64) -> String {
    timestamp(ms).strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(s: &str) -> String {
        let mut out = String::new();
        escape_into(&mut out, s);
        out
    }

    fn cdata(s: &str) -> String {
        let mut out = String::new();
        cdata_into(&mut out, s);
        out
    }

    #[test]
    fn escapes_markup_and_drops_forbidden_characters() {
        assert_eq!(
            escaped(r#"Fish & chips <b>"hot"</b> 'now'"#),
            "Fish &amp; chips &lt;b&gt;&quot;hot&quot;&lt;/b&gt; &apos;now&apos;"
        );
        assert_eq!(escaped("tab\tok\u{0b}gone\u{0}\u{FFFE}"), "tab\tokgone");
        assert_eq!(escaped("Café – 日本 🌊"), "Café – 日本 🌊");
        assert_eq!(escaped(""), "");
    }

    #[test]
    fn cdata_survives_its_own_terminator() {
        assert_eq!(cdata("<p>a</p>"), "<![CDATA[<p>a</p>]]>");
        let out = cdata("x]]>y");
        assert_eq!(out, "<![CDATA[x]]]]><![CDATA[>y]]>");
        // Read back: the concatenated sections are the original text.
        let inner: String = out
            .trim_start_matches("<![CDATA[")
            .trim_end_matches("]]>")
            .split("]]><![CDATA[")
            .collect();
        assert_eq!(inner, "x]]>y");
        assert_eq!(cdata("a\u{1}b"), "<![CDATA[ab]]>");
    }

    #[test]
    fn dates_in_both_feed_formats() {
        // 2026-07-01T12:00:05Z, a Wednesday.
        let ms = 1_782_907_205_000;
        assert_eq!(rfc822(ms), "Wed, 01 Jul 2026 12:00:05 +0000");
        assert_eq!(rfc3339(ms), "2026-07-01T12:00:05Z");
    }
}
