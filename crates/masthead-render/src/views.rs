//! View models: what templates receive. Built from store rows; all times are
//! formatted here, in the site's time zone, so templates only print.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use masthead_domain::relative_time::relative_time;
use masthead_domain::{CampaignProgress, PostKind, Visibility};
use masthead_model::{
    Author, Campaign, Image, LiveEntry, Post, PostCard, PostNote, SiteSettings, Tag, TagRef,
};
use serde::Serialize;

use crate::embed::{Embed, parse_embed};

/// Formats instants for one site, as seen at one moment.
#[derive(Clone)]
pub struct Clock {
    tz: TimeZone,
    now_ms: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct TimeView {
    /// RFC 3339, for `<time datetime>` and machines.
    pub iso: String,
    /// "29 Nov 2026, 17:47 GMT"
    pub display: String,
    /// "5 hours ago"; `None` beyond a week.
    pub relative: Option<String>,
    pub ms: i64,
}

impl Clock {
    /// `timezone` is an IANA name; unknown names fall back to UTC (and are logged).
    pub fn new(timezone: &str, now_ms: i64) -> Clock {
        let tz = TimeZone::get(timezone).unwrap_or_else(|e| {
            tracing::warn!(%timezone, error = %e, "unknown time zone; using UTC");
            TimeZone::UTC
        });
        Clock { tz, now_ms }
    }

    pub fn now_ms(&self) -> i64 {
        self.now_ms
    }

    /// When the day `date` (`YYYY-MM-DD`, as a date input sends it) begins
    /// in the site's time zone, and when the next one does: the bounds of a
    /// "published on or after / on or before" filter. `None` for anything
    /// that is not such a date.
    pub fn day_bounds_ms(&self, date: &str) -> Option<(i64, i64)> {
        let b = date.as_bytes();
        let shaped = b.len() == 10
            && b[4] == b'-'
            && b[7] == b'-'
            && b.iter()
                .enumerate()
                .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
        if !shaped {
            return None;
        }
        let day: jiff::civil::Date = date.parse().ok()?;
        let start = day.to_zoned_datetime(self.tz.clone()).ok()?.timestamp();
        let end = day
            .tomorrow()
            .ok()?
            .to_zoned_datetime(self.tz.clone())
            .ok()?
            .timestamp();
        Some((start.as_millisecond(), end.as_millisecond()))
    }

    /// The site's time zone's distance from UTC now, in milliseconds (for
    /// counting by day in the database; a change of summer time within the
    /// counted days moves that change's hour to the neighbouring day).
    pub fn utc_offset_ms(&self) -> i64 {
        let ts = Timestamp::from_millisecond(self.now_ms).unwrap_or(Timestamp::UNIX_EPOCH);
        i64::from(self.tz.to_offset(ts).seconds()) * 1000
    }

    /// A day (days since 1970-01-01) as `2026-12-02`.
    pub fn day_label(day: i64) -> String {
        let ts = Timestamp::from_millisecond(day.saturating_mul(86_400_000))
            .unwrap_or(Timestamp::UNIX_EPOCH);
        ts.strftime("%Y-%m-%d").to_string()
    }

    pub fn time(&self, ms: i64) -> TimeView {
        let ts = Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH);
        let zoned = ts.to_zoned_datetime(self.tz.clone());
        TimeView {
            iso: ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
            display: zoned.strftime("%-d %b %Y, %H:%M %Z").to_string(),
            relative: relative_time(self.now_ms, ms),
            ms,
        }
    }

    /// A day as people write it, in the site's time zone: "2 January 2027".
    pub fn long_date(&self, ms: i64) -> String {
        let ts = Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH);
        ts.to_zoned_datetime(self.tz.clone())
            .strftime("%-d %B %Y")
            .to_string()
    }

    /// "the end of 2027" style deadline wording.
    pub fn deadline_label(&self, ms: i64) -> String {
        let ts = Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH);
        let z = ts.to_zoned_datetime(self.tz.clone());
        if z.month() == 12 && z.day() == 31 {
            format!("by the end of {}", z.year())
        } else {
            format!("by {}", z.strftime("%-d %B %Y"))
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct NavItem {
    pub name: String,
    pub url: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SiteView {
    pub title: String,
    pub description: String,
    pub accent: String,
    pub lang: String,
    pub sections: Vec<NavItem>,
    pub logo: Option<LogoView>,
    /// The site's public address without a trailing slash
    /// (`https://news.example`), for absolute links in `<head>`; empty when
    /// unknown, and then templates print paths.
    pub base_url: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct LogoView {
    pub src: String,
    pub width: u32,
    pub height: u32,
}

impl SiteView {
    pub fn new(settings: &SiteSettings, sections: &[Tag]) -> SiteView {
        SiteView {
            title: settings.title.clone(),
            description: settings.description.clone(),
            accent: safe_colour(&settings.accent),
            lang: settings.locale.clone(),
            logo: settings.logo.as_ref().map(|src| {
                // Printed 48 px high whatever its file's size.
                let (w, h) = (
                    settings.logo_width.unwrap_or(480),
                    settings.logo_height.unwrap_or(96),
                );
                LogoView {
                    src: src.clone(),
                    width: (u64::from(w) * 48 / u64::from(h.max(1))).clamp(1, 600) as u32,
                    height: 48,
                }
            }),
            sections: sections
                .iter()
                .map(|t| NavItem {
                    name: t.name.clone(),
                    url: format!("/section/{}/", t.slug),
                })
                .collect(),
            base_url: String::new(),
        }
    }

    /// The same view, with absolute links made from `base_url`.
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> SiteView {
        self.base_url = base_url.into();
        self
    }

    /// `path` (or a full URL, returned as it is) against the site's address.
    pub fn absolute(&self, path: &str) -> String {
        absolute_url(&self.base_url, path)
    }
}

/// `path` made absolute against `base` (no trailing slash). URLs that already
/// have a scheme are returned as they are; so are paths when `base` is empty.
pub fn absolute_url(base: &str, path: &str) -> String {
    if path.starts_with("https://") || path.starts_with("http://") {
        path.to_owned()
    } else if path.starts_with('/') && !path.starts_with("//") {
        let mut url = String::with_capacity(base.len() + path.len());
        url.push_str(base);
        url.push_str(path);
        url
    } else {
        let mut url = String::with_capacity(base.len() + path.len() + 1);
        url.push_str(base);
        url.push('/');
        url.push_str(path.trim_start_matches('/'));
        url
    }
}

/// Only `#rgb`/`#rrggbb` reach the stylesheet; anything else is the default red.
fn safe_colour(c: &str) -> String {
    let ok = c.len() == 4 || c.len() == 7;
    if ok && c.starts_with('#') && c[1..].bytes().all(|b| b.is_ascii_hexdigit()) {
        c.to_owned()
    } else {
        "#b3261e".to_owned()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct CampaignView {
    pub pitch: String,
    /// members | paid | donations
    pub metric: String,
    pub progress: CampaignProgress,
    pub deadline: String,
    pub deadline_iso: String,
}

impl CampaignView {
    /// `currency`: the site's, in which a campaign counting donations
    /// counts (whole units).
    pub fn new(c: &Campaign, count: u64, currency: &str, clock: &Clock) -> CampaignView {
        CampaignView {
            pitch: c.pitch.clone(),
            metric: c.metric.clone(),
            progress: CampaignProgress::for_metric(count, c.goal, &c.metric, currency),
            deadline: clock.deadline_label(c.deadline_ms),
            deadline_iso: clock.time(c.deadline_ms).iso,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ImageView {
    pub src: String,
    pub alt: String,
    pub caption: String,
    /// "Photographer / Agency", or whichever of the two is known.
    pub credit: String,
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// Responsive widths, when the image comes from the media library.
    pub srcset: Option<String>,
    pub webp_srcset: Option<String>,
}

impl From<&Image> for ImageView {
    fn from(i: &Image) -> Self {
        let credit = match (i.photographer.trim(), i.agency.trim()) {
            ("", "") => String::new(),
            (p, "") => p.to_owned(),
            ("", a) => a.to_owned(),
            (p, a) => format!("{p} / {a}"),
        };
        ImageView {
            src: i.src.clone(),
            alt: i.alt.clone(),
            caption: i.caption.clone(),
            credit,
            width: i.width,
            height: i.height,
            srcset: i.srcset.clone(),
            webp_srcset: i.webp_srcset.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct LabelView {
    pub text: String,
    pub url: Option<String>,
}

fn label(kind: PostKind, primary: Option<&TagRef>) -> LabelView {
    match (kind, primary) {
        (PostKind::Live | PostKind::Video, _) | (_, None) => LabelView {
            text: kind.label().to_owned(),
            url: match kind {
                PostKind::Video => Some("/video/".to_owned()),
                _ => None,
            },
        },
        (_, Some(tag)) => LabelView {
            text: tag.name.clone(),
            url: Some(format!("/tag/{}/", tag.slug)),
        },
    }
}

pub fn post_url(slug: &str) -> String {
    format!("/{slug}/")
}

#[derive(Debug, Clone, Serialize)]
pub struct CardView {
    pub id: i64,
    pub url: String,
    pub kind: PostKind,
    pub label: LabelView,
    pub title: String,
    pub dek: String,
    pub time: TimeView,
    pub reading: String,
    pub image: Option<ImageView>,
    pub members_only: bool,
}

impl CardView {
    pub fn new(c: &PostCard, clock: &Clock) -> CardView {
        CardView {
            id: c.id,
            url: post_url(&c.slug),
            kind: c.kind,
            label: label(c.kind, c.primary_tag.as_ref()),
            title: c.title.clone(),
            dek: c.dek.clone(),
            time: clock.time(c.published_ms),
            reading: format!("{} min read", c.reading_minutes.max(1)),
            image: c.image.as_ref().map(ImageView::from),
            members_only: c.visibility != Visibility::Public,
        }
    }

    pub fn list(cards: &[PostCard], clock: &Clock) -> Vec<CardView> {
        cards.iter().map(|c| CardView::new(c, clock)).collect()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct AuthorView {
    pub name: String,
    pub url: String,
    pub bio: String,
    pub location: String,
    pub avatar: Option<String>,
}

impl From<&Author> for AuthorView {
    fn from(a: &Author) -> Self {
        AuthorView {
            name: a.name.clone(),
            url: format!("/author/{}/", a.slug),
            bio: a.bio.clone(),
            location: a.location.clone(),
            avatar: a.avatar.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct NoteView {
    pub kind: String,
    pub heading: &'static str,
    pub time: TimeView,
    pub note: String,
}

impl NoteView {
    fn new(n: &PostNote, clock: &Clock) -> NoteView {
        NoteView {
            kind: n.kind.clone(),
            heading: if n.kind == "correction" {
                "Correction"
            } else {
                "Update"
            },
            time: clock.time(n.noted_ms),
            note: n.note.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct VideoView {
    pub src: Option<String>,
    pub mime: &'static str,
    pub embed: Option<Embed>,
    pub duration: Option<String>,
    pub duration_iso: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PostView {
    pub id: i64,
    pub url: String,
    pub kind: PostKind,
    pub label: LabelView,
    pub title: String,
    pub dek: String,
    pub body_html: String,
    pub authors: Vec<AuthorView>,
    pub tags: Vec<NavItem>,
    pub published: TimeView,
    /// Only when meaningfully later than publication.
    pub updated: Option<TimeView>,
    pub reading: String,
    pub image: Option<ImageView>,
    pub video: Option<VideoView>,
    pub notes: Vec<NoteView>,
    pub members_only: bool,
    /// Set when the body is cut for readers who may not read it all:
    /// `members`, `paid` or `tiers`.
    pub gate: Option<&'static str>,
    /// The names of the tiers a `tiers` story is open to.
    pub gate_tiers: Vec<String>,
    pub meta_description: String,
}

impl PostView {
    pub fn new(p: &Post, clock: &Clock) -> PostView {
        let published_ms = p.published_ms.unwrap_or(p.created_ms);
        let video = p.video.as_ref().map(|v| {
            let mime = match v
                .src
                .as_deref()
                .and_then(|s| s.rsplit_once('.'))
                .map(|(_, e)| e)
            {
                Some("mp4") => "video/mp4",
                Some("ogv") => "video/ogg",
                _ => "video/webm",
            };
            VideoView {
                src: v.src.clone(),
                mime,
                embed: v.embed.as_deref().and_then(parse_embed),
                duration: v.duration_s.map(|s| format!("{}:{:02}", s / 60, s % 60)),
                duration_iso: v.duration_s.map(|s| format!("PT{}M{}S", s / 60, s % 60)),
            }
        });
        PostView {
            id: p.id,
            url: post_url(&p.slug),
            kind: p.kind,
            label: label(p.kind, p.primary_tag()),
            title: p.title.clone(),
            dek: p.dek.clone(),
            body_html: match p.visibility {
                Visibility::Public => p.body_html.clone(),
                _ => masthead_domain::html::free_part(&p.body_html).0.to_owned(),
            },
            authors: p.authors.iter().map(AuthorView::from).collect(),
            tags: p
                .tags
                .iter()
                .map(|t| NavItem {
                    name: t.name.clone(),
                    url: format!("/tag/{}/", t.slug),
                })
                .collect(),
            published: clock.time(published_ms),
            updated: (p.updated_ms > published_ms + 60_000).then(|| clock.time(p.updated_ms)),
            reading: format!("{} min read", p.reading_minutes.max(1)),
            image: p.image.as_ref().map(ImageView::from),
            video,
            notes: p.notes.iter().map(|n| NoteView::new(n, clock)).collect(),
            members_only: p.visibility != Visibility::Public,
            gate: match p.visibility {
                Visibility::Public => None,
                Visibility::Members => Some("members"),
                Visibility::Paid => Some("paid"),
                Visibility::Tiers => Some("tiers"),
            },
            gate_tiers: p.tiers.iter().map(|t| t.name.clone()).collect(),
            meta_description: p.meta_description.clone().unwrap_or_else(|| p.dek.clone()),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct EntryView {
    pub id: i64,
    pub title: String,
    pub body_html: String,
    pub pinned: bool,
    pub time: TimeView,
    /// "17:42", the time readers scan for.
    pub clock: String,
    pub updated: bool,
}

impl EntryView {
    pub fn new(e: &LiveEntry, clock: &Clock) -> EntryView {
        let time = clock.time(e.created_ms);
        let hhmm = time
            .display
            .split(", ")
            .nth(1)
            .and_then(|t| t.split(' ').next())
            .unwrap_or("")
            .to_owned();
        EntryView {
            id: e.id,
            title: e.title.clone(),
            body_html: e.body_html.clone(),
            pinned: e.pinned,
            time,
            clock: hhmm,
            updated: e.updated_ms > e.created_ms + 60_000,
        }
    }
}

/// What search engines and link previews read from `<head>`: the canonical
/// address, Open Graph and Twitter card tags, feed links and JSON-LD. All
/// URLs are absolute (when the site's address is known).
#[derive(Debug, Clone, Serialize, Default)]
pub struct SeoView {
    pub canonical: String,
    /// Open Graph type: `article` for stories, `website` for everything else.
    pub og_type: &'static str,
    pub title: String,
    pub description: String,
    pub image: Option<SeoImage>,
    /// `summary_large_image` with a story's own picture, else `summary`.
    pub twitter_card: &'static str,
    /// RFC 3339 times, on stories.
    pub published: Option<String>,
    pub modified: Option<String>,
    /// The story's primary tag.
    pub section: Option<String>,
    pub tags: Vec<String>,
    /// Bylines' pages (`article:author`).
    pub authors: Vec<String>,
    /// Feeds of this listing, besides the whole site's.
    pub feeds: Vec<FeedLink>,
    /// Serialised JSON-LD, already escaped for a `<script>` element (no `<`,
    /// `>` or `&` in it): print it with `|safe`.
    pub json_ld: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SeoImage {
    pub url: String,
    pub alt: String,
    pub width: Option<u32>,
    pub height: Option<u32>,
}

/// A `<link rel="alternate">` to a feed.
#[derive(Debug, Clone, Serialize)]
pub struct FeedLink {
    pub title: String,
    /// `application/rss+xml`, `application/atom+xml` or `application/feed+json`.
    pub mime: &'static str,
    pub href: String,
}

impl FeedLink {
    /// The RSS, Atom and JSON feeds of a listing whose path is `prefix`
    /// (`/tag/harbour/`; `/` for the whole site).
    pub fn all_for(prefix: &str, title: &str) -> Vec<FeedLink> {
        [
            ("application/rss+xml", "rss/"),
            ("application/atom+xml", "atom/"),
            ("application/feed+json", "feed.json"),
        ]
        .into_iter()
        .map(|(mime, file)| FeedLink {
            title: title.to_owned(),
            mime,
            href: format!("{prefix}{file}"),
        })
        .collect()
    }
}

/// Per-page facts for `<head>`.
#[derive(Debug, Clone, Serialize, Default)]
pub struct PageMeta {
    pub title: String,
    pub description: String,
    pub path: String,
    /// Marks the current nav item.
    pub section: Option<String>,
    pub noindex: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_begin_at_midnight_in_the_site_zone() {
        let clock = Clock::new("Europe/London", 0);
        // 1 Jul 2026 (BST) begins at 23:00 UTC the day before.
        assert_eq!(
            clock.day_bounds_ms("2026-07-01"),
            Some((1_782_860_400_000, 1_782_946_800_000))
        );
        for bad in [
            "",
            "2026-7-01",
            "2026-02-30",
            "20260701",
            "2026-07-01T00",
            "+2026-07-1",
        ] {
            assert_eq!(clock.day_bounds_ms(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn formats_times_in_the_site_zone() {
        // 2026-07-01T12:00:00Z is 13:00 in London (BST).
        let ms = 1_782_907_200_000;
        let clock = Clock::new("Europe/London", ms + 7_200_000);
        let t = clock.time(ms);
        assert_eq!(t.iso, "2026-07-01T12:00:00Z");
        assert_eq!(t.display, "1 Jul 2026, 13:00 BST");
        assert_eq!(t.relative.as_deref(), Some("2 hours ago"));
        let utc = Clock::new("No/Such_Zone", ms);
        assert_eq!(utc.time(ms).display, "1 Jul 2026, 12:00 UTC");
    }

    #[test]
    fn credits_read_as_printed() {
        let mut img = Image {
            src: "/x.svg".into(),
            photographer: "Ana Silva".into(),
            agency: "Coastline Pictures".into(),
            ..Image::default()
        };
        assert_eq!(
            ImageView::from(&img).credit,
            "Ana Silva / Coastline Pictures"
        );
        img.agency.clear();
        assert_eq!(ImageView::from(&img).credit, "Ana Silva");
    }

    #[test]
    fn deadline_wording() {
        // 2027-12-31T23:59:59Z
        let clock = Clock::new("UTC", 0);
        assert_eq!(
            clock.deadline_label(1_830_297_599_000),
            "by the end of 2027"
        );
    }

    #[test]
    fn urls_are_made_absolute_against_the_site() {
        let base = "https://news.example";
        assert_eq!(absolute_url(base, "/a/"), "https://news.example/a/");
        assert_eq!(absolute_url(base, "a/b"), "https://news.example/a/b");
        assert_eq!(
            absolute_url(base, "https://cdn.example/x.jpg"),
            "https://cdn.example/x.jpg"
        );
        assert_eq!(
            absolute_url(base, "//evil.example/x"),
            "https://news.example/evil.example/x"
        );
        assert_eq!(absolute_url("", "/a/"), "/a/");
    }

    #[test]
    fn accent_colour_is_checked() {
        assert_eq!(safe_colour("#123abc"), "#123abc");
        assert_eq!(safe_colour("red;}body{x"), "#b3261e");
    }
}
