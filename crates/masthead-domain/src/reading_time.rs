//! Reading time, in the spirit of Ghost's formula.
//!
//! ```text
//! words   = word runs in the text once tags are removed (CJK: one per character)
//! seconds = words / 275 * 60  +  Σ image seconds
//!           where the n-th image (1-based, the feature image counts first) adds max(13 - n, 3)
//!           (12 s, 11 s, … 4 s, then 3 s for every image after the tenth)
//! minutes = round(seconds / 60), half rounds up, and never less than 1
//! ```
//!
//! One deliberate difference from Ghost: HTML entities such as `&amp;` are
//! skipped, not counted as the words "amp" or "nbsp".

use serde::Serialize;

/// Words per minute of an average adult reader of news prose.
pub const WORDS_PER_MINUTE: u32 = 275;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ReadingTime {
    pub words: u32,
    pub images: u32,
    pub minutes: u32,
}

impl ReadingTime {
    /// Reading time of rendered `html`; `has_feature_image` adds the lead photo.
    pub fn of_html(html: &str, has_feature_image: bool) -> ReadingTime {
        let words = count_words(html);
        let images = count_images(html) + u32::from(has_feature_image);
        ReadingTime::from_counts(words, images)
    }

    pub fn from_counts(words: u32, images: u32) -> ReadingTime {
        let word_seconds = f64::from(words) * 60.0 / f64::from(WORDS_PER_MINUTE);
        let image_seconds: u32 = (1..=images).map(|n| 13u32.saturating_sub(n).max(3)).sum();
        let seconds = word_seconds + f64::from(image_seconds);
        // `f64::round` rounds half away from zero, which is half-up for positive values.
        let minutes = (seconds / 60.0).round() as u32;
        ReadingTime {
            words,
            images,
            minutes: minutes.max(1),
        }
    }

    /// "1 min read", "4 min read".
    pub fn label(&self) -> String {
        format!("{} min read", self.minutes)
    }
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || c == '_'
        || ('\u{00C0}'..='\u{00FF}').contains(&c)
        || ('\u{0392}'..='\u{03C9}').contains(&c)
        || ('\u{0410}'..='\u{04F9}').contains(&c)
}

fn is_cjk(c: char) -> bool {
    ('\u{4E00}'..='\u{9FFF}').contains(&c)
        || ('\u{3400}'..='\u{4DBF}').contains(&c)
        || ('\u{F900}'..='\u{FAFF}').contains(&c)
        || ('\u{3040}'..='\u{309F}').contains(&c)
        || ('\u{AC00}'..='\u{D7AF}').contains(&c)
}

#[derive(PartialEq)]
enum Run {
    None,
    Word,
    Cjk { per_char: bool },
}

/// Counts words in the text content of `html` (tags and entities skipped).
pub fn count_words(html: &str) -> u32 {
    let mut count: u32 = 0;
    let mut run = Run::None;
    let mut in_tag = false;
    let mut in_entity = false;
    for c in html.chars() {
        if in_tag {
            in_tag = c != '>';
            continue;
        }
        if in_entity {
            // An entity ends at ';' or at anything that cannot be in its name.
            if c == ';' || !(c.is_ascii_alphanumeric() || c == '#') {
                in_entity = false;
            }
            if c == ';' {
                continue;
            }
            if in_entity {
                continue;
            }
        }
        match c {
            '<' => {
                in_tag = true;
                run = Run::None;
                continue;
            }
            '&' => {
                in_entity = true;
                run = Run::None;
                continue;
            }
            _ => {}
        }
        if is_word_char(c) {
            if run != Run::Word {
                count = count.saturating_add(1);
                run = Run::Word;
            }
        } else if is_cjk(c) {
            match run {
                Run::Cjk { per_char: true } => count = count.saturating_add(1),
                Run::Cjk { per_char: false } => {}
                _ => {
                    count = count.saturating_add(1);
                    run = Run::Cjk {
                        per_char: c >= '\u{4E00}',
                    };
                }
            }
        } else {
            run = Run::None;
        }
    }
    count
}

/// Counts `<img` tags.
pub fn count_images(html: &str) -> u32 {
    let bytes = html.as_bytes();
    let mut n = 0u32;
    for i in 0..bytes.len() {
        if bytes[i] == b'<'
            && bytes.len() >= i + 4
            && bytes[i + 1..i + 4].eq_ignore_ascii_case(b"img")
        {
            let next = bytes.get(i + 4).copied();
            if matches!(
                next,
                None | Some(b' ' | b'>' | b'/' | b'\t' | b'\n' | b'\r')
            ) {
                n = n.saturating_add(1);
            }
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn counts_words_between_tags() {
        assert_eq!(count_words("<p>One two</p><p>three</p>"), 3);
        assert_eq!(
            count_words("<p>don't</p>"),
            2,
            "apostrophes split, as Ghost does"
        );
        assert_eq!(count_words("Caf\u{e9} au lait"), 3);
        assert_eq!(count_words("fish &amp; chips&nbsp;tonight"), 3);
        assert_eq!(count_words("<a href=\"x y z\">link</a>"), 1);
        assert_eq!(count_words(""), 0);
    }

    #[test]
    fn counts_cjk_per_character() {
        assert_eq!(count_words("\u{4E2D}\u{6587}\u{5B57}"), 3);
        // Hiragana runs count once.
        assert_eq!(count_words("\u{3042}\u{3044}\u{3046}"), 1);
    }

    #[test]
    fn counts_images() {
        assert_eq!(count_images("<p><img src=a><IMG src=b><imgx></p><img>"), 3);
    }

    #[test]
    fn minimum_is_one_minute() {
        assert_eq!(ReadingTime::of_html("", false).minutes, 1);
        assert_eq!(
            ReadingTime::of_html("<p>Short.</p>", false).label(),
            "1 min read"
        );
    }

    #[test]
    fn matches_the_documented_boundaries() {
        // With a feature image (12 s): 2 minutes from 358 to 632 words.
        assert_eq!(ReadingTime::from_counts(357, 1).minutes, 1);
        assert_eq!(ReadingTime::from_counts(358, 1).minutes, 2);
        assert_eq!(ReadingTime::from_counts(632, 1).minutes, 2);
        assert_eq!(ReadingTime::from_counts(633, 1).minutes, 3);
        // Without images: 412 words is 89.9 s (1 minute), 413 words 90.1 s (2 minutes).
        assert_eq!(ReadingTime::from_counts(412, 0).minutes, 1);
        assert_eq!(ReadingTime::from_counts(413, 0).minutes, 2);
    }

    #[test]
    fn image_seconds_decline_to_three() {
        // 12+11+...+3 for 10 images = 75 s, then 3 s each.
        let ten = ReadingTime::from_counts(0, 10);
        assert_eq!(ten.minutes, 1);
        let thirty = ReadingTime::from_counts(0, 30); // 75 + 20*3 = 135 s
        assert_eq!(thirty.minutes, 2);
    }

    #[test]
    fn html_with_images() {
        let words = "word ".repeat(550);
        let html = format!("<p>{words}</p><img src=a.jpg>");
        // 550 words = 120 s, + 12 s (feature) + 11 s = 143 s -> 2 minutes
        let rt = ReadingTime::of_html(&html, true);
        assert_eq!((rt.words, rt.images, rt.minutes), (550, 2, 2));
    }

    proptest! {
        #[test]
        fn never_panics_and_is_monotonic(s in ".{0,400}", extra in 0u32..5000) {
            let w = count_words(&s);
            let _ = count_images(&s);
            let a = ReadingTime::from_counts(w, 0).minutes;
            let b = ReadingTime::from_counts(w.saturating_add(extra), 0).minutes;
            prop_assert!(a >= 1 && b >= a);
        }
    }
}
