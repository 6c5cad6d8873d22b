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
            // The editor's pull quotes, fact boxes and photo credits.
            .add_allowed_classes("blockquote", ["pullquote"])
            .add_allowed_classes("aside", ["callout"])
            .add_allowed_classes("span", ["credit"])
            .url_schemes(["http", "https", "mailto", "tel"].into_iter().collect())
            .link_rel(Some("noopener"));
        b
    })
}

/// Stand-ins for the markers kept while the sanitiser runs (it drops every
/// comment): characters from the Private Use Area, which nothing an author
/// types means, taken out of the input first.
const MARKERS: &[(&str, char)] = &[
    (masthead_domain::html::PAYWALL_MARKER, '\u{F8FF}'),
    (masthead_domain::html::SUPPORT_MARKER, '\u{F8FE}'),
];

/// Sanitises HTML from any source (imports, the editor's HTML mode). Every
/// comment goes, except Ghost's paywall marker (`<!--members-only-->`) and
/// the support box's (`<!--support-->`), kept where they stand.
pub fn sanitize_html(html: &str) -> String {
    if !MARKERS.iter().any(|(m, _)| html.contains(m)) {
        return sanitizer().clean(html).to_string();
    }
    let mut input = html.to_owned();
    for (marker, stand_in) in MARKERS {
        input = input
            .replace(*stand_in, "")
            .replace(marker, &stand_in.to_string());
    }
    let mut out = sanitizer().clean(&input).to_string();
    for (marker, stand_in) in MARKERS {
        out = out.replace(*stand_in, marker);
    }
    out
}

/// Markdown to sanitised HTML, with its reading time. `has_feature_image`
/// adds the lead photo's time. Library images and lone video addresses are
/// then enhanced ([`crate::body`]).
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
    let html = crate::body::enhance(&html);
    RenderedBody { html, reading }
}

pub use masthead_domain::html::teaser;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_paywall_marker_survives_and_other_comments_do_not() {
        let src = "One.\n\nTwo.\n\n<!--members-only-->\n\nThree.\n\n<!-- a note -->\n";
        let html = render_markdown(src, false).html;
        assert!(
            html.contains("<p>Two.</p>\n<!--members-only-->\n<p>Three.</p>"),
            "{html}"
        );
        assert!(!html.contains("a note"), "{html}");
        let (free, more) = masthead_domain::html::free_part(&html);
        assert_eq!(free, "<p>One.</p>\n<p>Two.</p>");
        assert!(more);
        // From HTML (imports): kept too; a stand-in typed by an author is not
        // turned into a marker.
        let imported =
            sanitize_html("<p>A</p><!--members-only--><p>B\u{F8FF}</p><script>x</script>");
        assert_eq!(imported, "<p>A</p><!--members-only--><p>B</p>");
        let boxed = render_markdown("One.\n\n<!--support-->\n\nTwo.\n", false);
        assert!(
            boxed
                .html
                .contains("<p>One.</p>\n<!--support-->\n<p>Two.</p>"),
            "{}",
            boxed.html
        );
        assert_eq!(sanitize_html("<p>\u{F8FF}</p>"), "<p>\u{F8FF}</p>");
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
