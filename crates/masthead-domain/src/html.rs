//! Small facts about the sanitised HTML that bodies are stored as, needed
//! both where pages are rendered and where posts are indexed for search.

/// How many top-level blocks of a members-only story everyone may read.
pub const TEASER_BLOCKS: usize = 2;

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

/// Ghost's paywall marker: where the part of a story everyone may read ends.
pub const PAYWALL_MARKER: &str = "<!--members-only-->";

/// Where a story shows its support box (donations: the site's suggested
/// amounts, linking to `/support/`). Kept by the sanitiser, replaced when
/// the page is rendered, so the box always offers the current amounts.
pub const SUPPORT_MARKER: &str = "<!--support-->";

/// The part of a gated story shown to readers without access, and whether
/// anything was left out: everything before the first paywall marker when
/// it stands between top-level elements, else the first [`TEASER_BLOCKS`]
/// blocks. A marker inside an element is ignored (a cut there would leave
/// the HTML unbalanced).
pub fn free_part(html: &str) -> (&str, bool) {
    match marker_at(html) {
        Some(at) => (html[..at].trim_end(), true),
        None => teaser(html, TEASER_BLOCKS),
    }
}

/// The class of the element holding the part of a gated story readers
/// without access do not get (and, on their page, of the box in its place):
/// what the story's JSON-LD `hasPart.cssSelector` names.
pub const PAYWALLED_CLASS: &str = "paywalled";
/// [`PAYWALLED_CLASS`] as a class selector (Google takes only those).
pub const PAYWALLED_SELECTOR: &str = ".paywalled";

/// A gated story's whole body with the part after [`free_part`] wrapped in
/// a `div` of [`PAYWALLED_CLASS`]; unchanged when nothing is cut.
pub fn mark_paywalled(html: &str) -> String {
    let (free, cut) = free_part(html);
    if !cut {
        return html.to_owned();
    }
    // `free` is a prefix of `html`, cut between top-level elements.
    let rest = &html[free.len()..];
    format!("{free}\n<div class=\"{PAYWALLED_CLASS}\">{rest}</div>")
}

/// Where the first top-level paywall marker starts, if there is one.
pub fn marker_at(html: &str) -> Option<usize> {
    top_level(html, PAYWALL_MARKER).first().copied()
}

/// `html` with every top-level `marker` (one standing between elements, as
/// the renderer writes it) replaced by `with`; a marker's text inside an
/// element or an attribute is left alone.
pub fn replace_top_level(html: &str, marker: &str, with: &str) -> String {
    let at = top_level(html, marker);
    if at.is_empty() {
        return html.to_owned();
    }
    let mut out = String::with_capacity(html.len() + at.len() * with.len());
    let mut last = 0;
    for i in at {
        out.push_str(&html[last..i]);
        out.push_str(with);
        last = i + marker.len();
    }
    out.push_str(&html[last..]);
    out
}

/// Where each top-level `marker` starts.
fn top_level(html: &str, marker: &str) -> Vec<usize> {
    let mut found = Vec::new();
    if !html.contains(marker) {
        return found;
    }
    let bytes = html.as_bytes();
    let (mut depth, mut i) = (0usize, 0usize);
    while i < bytes.len() {
        // Bytes, not `&html[i..]`: `i` steps through multi-byte characters.
        if bytes[i..].starts_with(marker.as_bytes()) {
            if depth == 0 {
                found.push(i);
            }
            i += marker.len();
            continue;
        }
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
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_markers_between_elements_are_replaced() {
        let html = "<p>One</p>\n<!--support-->\n<p title=\"<!--support-->\">Two <!--support--></p>\n<!--support-->";
        assert_eq!(
            replace_top_level(html, SUPPORT_MARKER, "<aside>Give</aside>"),
            "<p>One</p>\n<aside>Give</aside>\n<p title=\"<!--support-->\">Two <!--support--></p>\n<aside>Give</aside>"
        );
        assert_eq!(
            replace_top_level("<p>x</p>", SUPPORT_MARKER, "y"),
            "<p>x</p>"
        );
    }

    #[test]
    fn the_paywalled_part_is_wrapped_whole() {
        let html = "<p>One</p>\n<p>Two</p>\n<!--members-only-->\n<p>Three</p>";
        assert_eq!(
            mark_paywalled(html),
            "<p>One</p>\n<p>Two</p>\n<div class=\"paywalled\">\n<!--members-only-->\n<p>Three</p></div>"
        );
        let teaser_cut = "<p>A</p><p>B</p><ul><li>C</li></ul>";
        assert_eq!(
            mark_paywalled(teaser_cut),
            "<p>A</p><p>B</p>\n<div class=\"paywalled\"><ul><li>C</li></ul></div>"
        );
        assert_eq!(PAYWALLED_SELECTOR, format!(".{PAYWALLED_CLASS}"));
        // Nothing cut: nothing wrapped.
        assert_eq!(mark_paywalled("<p>A</p><p>B</p>"), "<p>A</p><p>B</p>");
    }

    #[test]
    fn the_paywall_marker_ends_the_free_part() {
        let html = "<p>One</p>\n<p>Two</p>\n<p>Three</p>\n<!--members-only-->\n<p>Four</p>";
        assert_eq!(
            free_part(html),
            ("<p>One</p>\n<p>Two</p>\n<p>Three</p>", true)
        );
        // At the very start: nothing is free.
        assert_eq!(free_part("<!--members-only--><p>All</p>"), ("", true));
        // Without a marker, the teaser rule.
        assert_eq!(
            free_part("<p>One</p><p>Two</p><p>Three</p>"),
            ("<p>One</p><p>Two</p>", true)
        );
        // A marker inside an element does not cut it in half.
        let nested = "<p>One</p><div><!--members-only--></div><p>Two</p><p>Three</p>";
        assert_eq!(marker_at(nested), None);
        assert_eq!(
            free_part(nested),
            ("<p>One</p><div><!--members-only--></div>", true)
        );
        // The first top-level one wins.
        let two = "<p>A</p><!--members-only--><p>B</p><!--members-only--><p>C</p>";
        assert_eq!(free_part(two), ("<p>A</p>", true));
    }

    #[test]
    fn the_marker_is_found_after_text_in_any_script() {
        // Curly quotes, dashes and accents before the marker (as pasted
        // from a word processor): bytes, not characters, are stepped.
        let html = "<p>Caf\u{e9} \u{2014} \u{201c}quoted\u{201d} \u{1f4f0}</p>\n<!--members-only-->\n<p>Paid</p>";
        assert_eq!(
            free_part(html),
            (
                "<p>Caf\u{e9} \u{2014} \u{201c}quoted\u{201d} \u{1f4f0}</p>",
                true
            )
        );
        assert_eq!(marker_at("\u{e9}<!--members-only-->"), Some(2));
    }

    proptest::proptest! {
        #[test]
        fn finding_the_marker_never_panics(s in "\\PC{0,80}", at in 0usize..80) {
            let cut = s.char_indices().map(|(i, _)| i).find(|i| *i >= at).unwrap_or(s.len());
            let html = format!("{}{PAYWALL_MARKER}{}", &s[..cut], &s[cut..]);
            let (free, _) = free_part(&html);
            proptest::prop_assert!(html.starts_with(free));
        }
    }

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
}
