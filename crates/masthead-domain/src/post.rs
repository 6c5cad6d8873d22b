//! Post kinds, statuses and visibility.

use serde::Serialize;

use crate::DomainError;

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal, { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
        #[serde(rename_all = "lowercase")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(value: &str) -> Result<Self, DomainError> {
                match value {
                    $($text => Ok($name::$variant),)+
                    _ => Err(DomainError::UnknownValue { what: $what, value: value.chars().take(64).collect() }),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum!(
    /// What a post is: it decides its card, its page layout and its section.
    PostKind, "post kind", {
        Article => "article",
        Brief => "brief",
        Video => "video",
        Live => "live",
        Page => "page",
    }
);

string_enum!(
    /// Where a post is in its life.
    PostStatus, "post status", {
        Draft => "draft",
        Scheduled => "scheduled",
        Published => "published",
    }
);

string_enum!(
    /// Who may read a post's body.
    Visibility, "visibility", {
        Public => "public",
        Members => "members",
        Paid => "paid",
        Tiers => "tiers",
    }
);

impl PostKind {
    /// The label printed on cards when the post has no section.
    pub fn label(self) -> &'static str {
        match self {
            PostKind::Article => "Article",
            PostKind::Brief => "In brief",
            PostKind::Video => "Video",
            PostKind::Live => "Live",
            PostKind::Page => "Page",
        }
    }

    /// Pages are standalone (About, policies) and never appear in feeds.
    pub fn in_feeds(self) -> bool {
        self != PostKind::Page
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip() {
        for kind in PostKind::ALL {
            assert_eq!(PostKind::parse(kind.as_str()), Ok(*kind));
        }
        assert!(PostKind::parse("Article").is_err());
        assert!(PostKind::parse("").is_err());
    }

    #[test]
    fn statuses_and_visibility_round_trip() {
        for s in PostStatus::ALL {
            assert_eq!(PostStatus::parse(s.as_str()), Ok(*s));
        }
        for v in Visibility::ALL {
            assert_eq!(Visibility::parse(v.as_str()), Ok(*v));
        }
        assert!(Visibility::parse("secret").is_err());
    }

    #[test]
    fn pages_stay_out_of_feeds() {
        assert!(!PostKind::Page.in_feeds());
        assert!(PostKind::Live.in_feeds());
    }
}
