//! Markdown (and imported HTML) to the sanitised HTML that pages print.
//!
//! The body of every post and live entry goes through here at write time; the
//! result is stored, so readers never pay for it. Sanitising is an allow-list
//! (ammonia): scripts, styles, event handlers, iframes and `javascript:` URLs
//! cannot reach a page whatever an author or an import puts in.

use std::sync::OnceLock;

use masthead_domain::ReadingTime;
use pulldown_cmark::{Options, Parser, html};

/// A body ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedBody {
    pub html: String,
    pub reading: ReadingTime,
}

fn sanitizer() -> &'static ammonia::Builder<'static> {
    static BUILDER: OnceLock<ammonia::Builder<'static>> = OnceLock::new();
    BUILDER.get_or_init(|| {
        let mut b = ammonia::Builder::default();
        b.add_tags(["figure", "figcaption"])
            .add_tag_attributes("img", ["loading", "width", "height"])
            .add_tag_attributes("td", ["align"])
            .add_tag_attributes("th", ["align"])
            .add_tag_attributes("ol", ["start"])
            .url_schemes(["http", "https", "mailto", "tel"].into_iter().collect())
            .link_rel(Some("noopener"));
        b
    })
}

/// Sanitises HTML from any source (imports, the editor's HTML mode).
pub fn sanitize_html(html: &str) -> String {
    sanitizer().clean(html).to_string()
}

/// Markdown to sanitised HTML, with its reading time. `has_feature_image`
/// adds the lead photo's time.
pub fn render_markdown(source: &str, has_feature_image: bool) -> RenderedBody {
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_SMART_PUNCTUATION
        | Options::ENABLE_FOOTNOTES;
    let parser = Parser::new_ext(source, options);
    let mut raw = String::with_capacity(source.len() * 3 / 2);
    html::push_html(&mut raw, parser);
    let html = sanitize_html(&raw);
    let reading = ReadingTime::of_html(&html, has_feature_image);
    RenderedBody { html, reading }
}

/// Elements without an end tag.
const VOID: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track",
    "wbr",
];

/// The first `blocks` top-level elements of sanitised HTML (the teaser of a
/// members-only story), and whether anything was left out. The cut is always
/// between whole top-level elements, so the result is balanced.
pub fn teaser(html: &str, blocks: usize) -> (&str, bool) {
    let bytes = html.as_bytes();
    let (mut depth, mut done, mut i) = (0usize, 0usize, 0usize);
    while i < bytes.len() {
        if bytes[i] != b'<' {
            i += 1;
            continue;
        }
        let Some(end) = html[i..].find('>').map(|e| i + e) else {
            break;
        };
        let tag = &html[i + 1..end];
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        i = end + 1;
        if name.is_empty() {
            continue;
        }
        let void = VOID.contains(&name.as_str()) || tag.ends_with('/');
        if closing {
            depth = depth.saturating_sub(1);
        } else if !void {
            depth += 1;
        }
        if depth == 0 && (closing || void) {
            done += 1;
            if done == blocks {
                let rest = html[i..].trim();
                return (&html[..i], !rest.is_empty());
            }
        }
    }
    (html, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn teasers_cut_between_whole_blocks() {
        let html = "<p>One <em>a</em></p>\n<blockquote>\n<p>Two</p>\n</blockquote>\n<p>Three<br>x</p>\n<hr>\n<p>Four</p>";
        assert_eq!(teaser(html, 1), ("<p>One <em>a</em></p>", true));
        assert_eq!(
            teaser(html, 2),
            (
                "<p>One <em>a</em></p>\n<blockquote>\n<p>Two</p>\n</blockquote>",
                true
            )
        );
        assert!(teaser(html, 4).0.ends_with("<hr>"));
        assert_eq!(teaser(html, 5), (html, false));
        assert_eq!(teaser(html, 9), (html, false));
        assert_eq!(teaser("", 2), ("", false));
    }

    proptest! {
        #[test]
        fn teasers_of_rendered_markdown_are_balanced(src in "[a-z >*#\n-]{0,300}", n in 1usize..4) {
            let html = render_markdown(&src, false).html;
            let (cut, more) = teaser(&html, n);
            prop_assert!(html.starts_with(cut));
            prop_assert_eq!(sanitize_html(cut), cut.to_owned(), "balanced HTML survives sanitising unchanged");
            if !more {
                prop_assert_eq!(cut.trim(), html.trim());
            }
        }
    }

    #[test]
    fn renders_common_markdown() {
        let b = render_markdown(
            "## Heading\n\nSome *text* with a [link](/other-story/).\n\n> \"A quote,\" she said.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n",
            false,
        );
        assert!(b.html.contains("<h2>Heading</h2>"), "{}", b.html);
        assert!(b.html.contains("<em>text</em>"));
        assert!(
            b.html
                .contains("<a href=\"/other-story/\" rel=\"noopener\">link</a>"),
            "{}",
            b.html
        );
        assert!(b.html.contains("<blockquote>"));
        assert!(
            b.html.contains("\u{201c}A quote,\u{201d}"),
            "smart quotes: {}",
            b.html
        );
        assert!(b.html.contains("<table>"));
        assert_eq!(b.reading.minutes, 1);
    }

    #[test]
    fn strips_dangerous_markup() {
        let b = render_markdown(
            "<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n\n[x](javascript:alert(1))\n\n<iframe src=https://evil.example></iframe><p style=\"color:red\" onclick=\"x()\">hi</p>",
            false,
        );
        for bad in [
            "<script",
            "onerror",
            "javascript:",
            "<iframe",
            "onclick",
            "style=",
        ] {
            assert!(!b.html.contains(bad), "{bad} survived: {}", b.html);
        }
        assert!(b.html.contains("hi"));
    }

    #[test]
    fn counts_reading_time_from_rendered_text() {
        let words = "word ".repeat(700);
        let b = render_markdown(&words, true);
        // 700 words = 152.7 s, + 12 s = 164.7 s = 2.7 min -> 3
        assert_eq!(b.reading.minutes, 3);
        assert_eq!(b.reading.words, 700);
    }

    proptest! {
        #[test]
        fn never_panics_and_never_emits_script(src in "\\PC{0,500}") {
            let b = render_markdown(&src, false);
            prop_assert!(!b.html.to_ascii_lowercase().contains("<script"));
        }
    }
}
