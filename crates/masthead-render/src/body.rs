//! What a story body gains after sanitising. Images from the media library
//! become `<picture>` with WebP and original-format `srcset`s, like feature
//! images; a paragraph holding nothing but a YouTube or Vimeo address (the
//! editor writes `<https://…>` on its own line) becomes the site's
//! click-to-play player. Both are built here from checked values after the
//! allow-list sanitiser has run: nothing an author writes reaches the page
//! unchecked, and `<picture>`, `<source>` and the player's data attributes
//! never need to be on the allow-list.

use std::fmt::Write;

use crate::embed::parse_embed;

/// Widths the media library generates (masthead-media's `WIDTHS`, checked
/// against it by a test in masthead-web, which depends on both).
const WIDTHS: [u32; 4] = [320, 640, 1024, 1600];

/// Body images fill the text column (the theme's `--measure`, 42rem).
const SIZES: &str = "(min-width: 44rem) 42rem, 100vw";

/// The widths of a media-library image whose file `width` pixels wide is
/// linked: each exists, since the library makes every standard width below
/// the original's and the original's own (capped).
pub fn srcset_widths(width: u32) -> Vec<u32> {
    let mut v: Vec<u32> = WIDTHS.iter().copied().filter(|&x| x < width).collect();
    v.push(width);
    v
}

/// Adds pictures and players to sanitised body HTML.
pub fn enhance(html: &str) -> String {
    if !html.contains("<img") && !html.contains("<p><a href=\"http") {
        return html.to_owned();
    }
    pictures(&players(html))
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `<p><a href="U" rel="noopener">U</a></p>` with an allow-listed U.
fn players(html: &str) -> String {
    const OPEN: &str = "<p><a href=\"";
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(i) = rest.find(OPEN) {
        out.push_str(&rest[..i]);
        let after = &rest[i + OPEN.len()..];
        let player = after.split_once('"').and_then(|(href, tail)| {
            let tail = tail.strip_prefix(" rel=\"noopener\">")?;
            let (text, tail) = tail.split_once("</a></p>")?;
            let url = unescape(href);
            if unescape(text) != url {
                return None;
            }
            let embed = parse_embed(&url)?;
            let consumed = OPEN.len() + (after.len() - tail.len());
            Some((embed, consumed))
        });
        match player {
            Some((e, consumed)) => {
                let _ = write!(
                    out,
                    "<div class=\"embed\" data-embed><a class=\"embed__facade\" href=\"{}\" data-embed-src=\"{}\" data-embed-title=\"{} video\"><span class=\"embed__play\">Play on {}</span></a></div>",
                    escape(&e.watch_url),
                    escape(&e.iframe_src),
                    e.provider,
                    e.provider
                );
                rest = &rest[i + consumed..];
            }
            None => {
                out.push_str(OPEN);
                rest = &rest[i + OPEN.len()..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// One `<img …>` tag's attributes (as the sanitiser writes them: every value
/// in double quotes, `"` escaped, `<` and `>` possibly not) and its length.
fn img_tag(s: &str) -> Option<(Vec<(&str, &str)>, usize)> {
    let b = s.as_bytes();
    let mut i = "<img".len();
    let mut attrs = Vec::new();
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        match b.get(i)? {
            b'>' => return Some((attrs, i + 1)),
            b'/' => {
                i += 1;
                continue;
            }
            _ => {}
        }
        let start = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && !matches!(b[i], b'=' | b'>' | b'/') {
            i += 1;
        }
        let name = &s[start..i];
        if b.get(i) == Some(&b'=') && b.get(i + 1) == Some(&b'"') {
            let vstart = i + 2;
            let len = s[vstart..].find('"')?;
            attrs.push((name, &s[vstart..vstart + len]));
            i = vstart + len + 1;
        } else {
            attrs.push((name, ""));
        }
    }
}

/// `/media/{key}/{width}.{ext}`: the library's own files.
fn media_src(src: &str) -> Option<(&str, u32, &str)> {
    let rest = src.strip_prefix("/media/")?;
    let (key, file) = rest.split_once('/')?;
    let (width, ext) = file.split_once('.')?;
    let key_ok =
        !key.is_empty() && key.len() <= 64 && key.bytes().all(|c| c.is_ascii_alphanumeric());
    let width: u32 = width.parse().ok().filter(|w| (1..=10_000).contains(w))?;
    let ext_ok = matches!(ext, "jpg" | "jpeg" | "png" | "webp");
    (key_ok && ext_ok && width.to_string().len() == file.len() - ext.len() - 1)
        .then_some((key, width, ext))
}

fn srcset(key: &str, widths: &[u32], ext: &str) -> String {
    widths
        .iter()
        .map(|w| format!("/media/{key}/{w}.{ext} {w}w"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn pictures(html: &str) -> String {
    let mut out = String::with_capacity(html.len() + 256);
    let mut rest = html;
    while let Some(i) = rest.find("<img") {
        out.push_str(&rest[..i]);
        let tag = &rest[i..];
        let Some((attrs, len)) = img_tag(tag) else {
            out.push_str(tag);
            return out;
        };
        let src = attrs.iter().find(|(n, _)| *n == "src").map(|(_, v)| *v);
        match src.and_then(media_src) {
            Some((key, width, ext)) => {
                let widths = srcset_widths(width);
                out.push_str("<picture>");
                if ext != "webp" {
                    let _ = write!(
                        out,
                        "<source type=\"image/webp\" srcset=\"{}\" sizes=\"{SIZES}\">",
                        srcset(key, &widths, "webp")
                    );
                }
                out.push_str("<img");
                for (name, value) in &attrs {
                    if matches!(*name, "srcset" | "sizes" | "loading" | "decoding") {
                        continue;
                    }
                    let _ = write!(out, " {name}=\"{value}\"");
                }
                let _ = write!(
                    out,
                    " srcset=\"{}\" sizes=\"{SIZES}\" loading=\"lazy\" decoding=\"async\"></picture>",
                    srcset(key, &widths, ext)
                );
            }
            None => out.push_str(&tag[..len]),
        }
        rest = &tag[len..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::markdown::render_markdown;
    use proptest::prelude::*;

    #[test]
    fn library_images_become_pictures() {
        let html = render_markdown(
            "<figure><img src=\"/media/0a1b2c3d4e5f60718293/1024.jpg\" alt=\"Flood <walls> &amp; &quot;gates&quot;\" width=\"1024\" height=\"683\"><figcaption>The gates. <span class=\"credit\">Ann Lee</span></figcaption></figure>\n",
            false,
        )
        .html;
        assert_eq!(
            html,
            "<figure><picture><source type=\"image/webp\" srcset=\"/media/0a1b2c3d4e5f60718293/320.webp 320w, /media/0a1b2c3d4e5f60718293/640.webp 640w, /media/0a1b2c3d4e5f60718293/1024.webp 1024w\" sizes=\"(min-width: 44rem) 42rem, 100vw\"><img src=\"/media/0a1b2c3d4e5f60718293/1024.jpg\" alt=\"Flood &lt;walls&gt; &amp; &quot;gates&quot;\" width=\"1024\" height=\"683\" srcset=\"/media/0a1b2c3d4e5f60718293/320.jpg 320w, /media/0a1b2c3d4e5f60718293/640.jpg 640w, /media/0a1b2c3d4e5f60718293/1024.jpg 1024w\" sizes=\"(min-width: 44rem) 42rem, 100vw\" loading=\"lazy\" decoding=\"async\"></picture><figcaption>The gates. <span class=\"credit\">Ann Lee</span></figcaption></figure>\n"
        );
    }

    #[test]
    fn markdown_images_from_the_library_too_and_others_untouched() {
        let html = render_markdown(
            "![A](/media/abc123/500.png) ![B](https://elsewhere.example/x.jpg) ![C](/media/abc123/../x.jpg)\n",
            false,
        )
        .html;
        assert!(html.contains("<picture><source type=\"image/webp\" srcset=\"/media/abc123/320.webp 320w, /media/abc123/500.webp 500w\""), "{html}");
        assert!(
            html.contains("srcset=\"/media/abc123/320.png 320w, /media/abc123/500.png 500w\""),
            "{html}"
        );
        assert!(
            html.contains("<img src=\"https://elsewhere.example/x.jpg\" alt=\"B\">"),
            "{html}"
        );
        assert!(
            html.contains("<img src=\"/media/abc123/../x.jpg\" alt=\"C\">"),
            "{html}"
        );
        assert_eq!(html.matches("<picture>").count(), 1);
    }

    #[test]
    fn a_lone_video_address_becomes_the_player() {
        let html = render_markdown(
            "Before.\n\n<https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=10>\n\n<https://evil.example/watch?v=dQw4w9WgXcQ>\n\nSee [this](https://vimeo.com/76979871) and <https://vimeo.com/76979871> inline.\n",
            false,
        )
        .html;
        assert!(html.contains("<div class=\"embed\" data-embed><a class=\"embed__facade\" href=\"https://www.youtube.com/watch?v=dQw4w9WgXcQ\" data-embed-src=\"https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ\" data-embed-title=\"YouTube video\"><span class=\"embed__play\">Play on YouTube</span></a></div>"), "{html}");
        assert!(
            html.contains(
                "<p><a href=\"https://evil.example/watch?v=dQw4w9WgXcQ\" rel=\"noopener\">"
            ),
            "{html}"
        );
        assert_eq!(html.matches("data-embed-src").count(), 1, "{html}");
    }

    #[test]
    fn pull_quotes_fact_boxes_and_credits_keep_their_class() {
        let html = render_markdown(
            "<blockquote class=\"pullquote\">\n\nWe will not wait.\n\n</blockquote>\n\n<aside class=\"callout\">\n\n## Key facts\n\n- One\n\n</aside>\n\n<aside class=\"evil\" onclick=\"x()\">\n\nNo.\n\n</aside>\n",
            false,
        )
        .html;
        assert!(html.contains("<blockquote class=\"pullquote\">"), "{html}");
        assert!(html.contains("<aside class=\"callout\">"), "{html}");
        assert!(!html.contains("evil"), "{html}");
        assert!(!html.contains("onclick"), "{html}");
    }

    #[test]
    fn ladder_matches_the_library() {
        assert_eq!(srcset_widths(2400), vec![320, 640, 1024, 1600, 2400]);
        assert_eq!(srcset_widths(320), vec![320]);
        assert_eq!(srcset_widths(700), vec![320, 640, 700]);
    }

    proptest! {
        #[test]
        fn enhancing_never_panics_and_adds_no_script(src in "\\PC{0,300}") {
            let html = enhance(&crate::markdown::sanitize_html(&src));
            prop_assert!(!html.to_ascii_lowercase().contains("<script"));
            prop_assert!(!html.to_ascii_lowercase().contains("<iframe"));
        }

        #[test]
        fn img_tags_with_any_alt_survive(alt in "[ -~]{0,40}") {
            let md = format!("<img src=\"/media/abc/640.jpg\" alt=\"{}\">", alt.replace('"', "&quot;"));
            let html = render_markdown(&md, false).html;
            prop_assert_eq!(html.matches("<picture>").count(), html.matches("</picture>").count());
        }
    }
}
