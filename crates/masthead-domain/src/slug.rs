//! URL slugs: making them from titles, validating them, keeping them unique.

use crate::DomainError;

/// Longest slug we create or accept (Ghost's column is 191 characters).
pub const MAX_SLUG_LEN: usize = 185;

/// A validated slug: `a-z`, `0-9` and single hyphens, not starting or ending with one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Slug(String);

impl Slug {
    pub fn parse(value: &str) -> Result<Slug, DomainError> {
        if value.is_empty() {
            return Err(DomainError::BadSlug("it is empty"));
        }
        if value.len() > MAX_SLUG_LEN {
            return Err(DomainError::BadSlug("it is longer than 185 characters"));
        }
        if !value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(DomainError::BadSlug(
                "use only lowercase letters a-z, digits and hyphens",
            ));
        }
        if value.starts_with('-') || value.ends_with('-') || value.contains("--") {
            return Err(DomainError::BadSlug(
                "hyphens may not start or end it, or come in pairs",
            ));
        }
        Ok(Slug(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl std::fmt::Display for Slug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn fold_latin(c: char) -> Option<&'static str> {
    Some(match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' => "a",
        'æ' => "ae",
        'ç' | 'č' | 'ć' => "c",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ę' | 'ě' => "e",
        'ì' | 'í' | 'î' | 'ï' | 'ī' => "i",
        'ð' => "d",
        'ñ' | 'ń' | 'ň' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' => "o",
        'œ' => "oe",
        'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' => "u",
        'ý' | 'ÿ' => "y",
        'ß' => "ss",
        'þ' => "th",
        'ł' => "l",
        'ś' | 'š' => "s",
        'ź' | 'ż' | 'ž' => "z",
        'ř' => "r",
        _ => return None,
    })
}

/// Makes a slug from any text: "Storm Eamon: what we know" -> "storm-eamon-what-we-know".
/// Returns `None` when nothing usable is left (e.g. only punctuation or non-Latin text).
pub fn slugify(text: &str) -> Option<Slug> {
    let mut out = String::with_capacity(text.len().min(MAX_SLUG_LEN));
    let mut pending_hyphen = false;
    for c in text.chars().flat_map(char::to_lowercase) {
        let piece: Option<&str>;
        let mut buf = [0u8; 4];
        if c.is_ascii_alphanumeric() {
            piece = Some(c.encode_utf8(&mut buf));
        } else if c == '\'' || c == '\u{2019}' {
            // "Editor's" -> "editors", not "editor-s".
            continue;
        } else {
            piece = fold_latin(c);
        }
        match piece {
            Some(p) => {
                if pending_hyphen && !out.is_empty() {
                    if out.len() + 1 + p.len() > MAX_SLUG_LEN {
                        break;
                    }
                    out.push('-');
                }
                if out.len() + p.len() > MAX_SLUG_LEN {
                    break;
                }
                pending_hyphen = false;
                out.push_str(p);
            }
            None => pending_hyphen = true,
        }
    }
    if out.is_empty() {
        None
    } else {
        Some(Slug(out))
    }
}

/// The first of `base`, `base-2`, `base-3`, … for which `taken` says no.
pub fn unique_slug(base: &Slug, mut taken: impl FnMut(&str) -> bool) -> Slug {
    if !taken(base.as_str()) {
        return base.clone();
    }
    for n in 2u64.. {
        let suffix = format!("-{n}");
        let mut stem = base.as_str();
        if stem.len() + suffix.len() > MAX_SLUG_LEN {
            stem = stem[..MAX_SLUG_LEN - suffix.len()].trim_end_matches('-');
        }
        let candidate = format!("{stem}{suffix}");
        if !taken(&candidate) {
            return Slug(candidate);
        }
    }
    unreachable!("u64 suffixes are not exhausted")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn slugifies_headlines() {
        let s = |t: &str| slugify(t).map(Slug::into_string);
        assert_eq!(
            s("Storm Eamon: what we know").as_deref(),
            Some("storm-eamon-what-we-know")
        );
        assert_eq!(s("  Café déjà vu!  ").as_deref(), Some("cafe-deja-vu"));
        assert_eq!(s("The editor's note").as_deref(), Some("the-editors-note"));
        assert_eq!(
            s("£2.5m for the harbour").as_deref(),
            Some("2-5m-for-the-harbour")
        );
        assert_eq!(s("!!!"), None);
        assert_eq!(s("\u{4E2D}\u{6587}"), None);
    }

    #[test]
    fn parse_rejects_bad_slugs() {
        assert!(Slug::parse("good-slug-2").is_ok());
        for bad in ["", "Bad", "a--b", "-a", "a-", "a b", "a/b", "ü"] {
            assert!(Slug::parse(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(Slug::parse(&"a".repeat(186)).is_err());
    }

    #[test]
    fn unique_slug_appends_numbers() {
        let base = Slug::parse("council-vote").unwrap_or_else(|e| panic!("{e}"));
        let taken = ["council-vote", "council-vote-2"];
        assert_eq!(
            unique_slug(&base, |s| taken.contains(&s)).as_str(),
            "council-vote-3"
        );
        let long = Slug::parse(&"a".repeat(185)).unwrap_or_else(|e| panic!("{e}"));
        let u = unique_slug(&long, |s| s == long.as_str());
        assert!(u.as_str().len() <= MAX_SLUG_LEN && u.as_str().ends_with("-2"));
    }

    proptest! {
        #[test]
        fn slugify_output_always_parses(text in "\\PC{0,300}") {
            if let Some(slug) = slugify(&text) {
                prop_assert!(Slug::parse(slug.as_str()).is_ok(), "{:?}", slug);
            }
        }

        #[test]
        fn parse_never_panics(text in "\\PC{0,200}") {
            let _ = Slug::parse(&text);
        }
    }
}
