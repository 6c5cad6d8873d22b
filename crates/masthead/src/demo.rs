//! Demo content: an invented newsroom's week, written for Masthead and
//! embedded in the binary. Seeded on a new site's first run only.

use std::path::Path;

use anyhow::{Context, Result, bail};
use include_dir::{Dir, include_dir};
use masthead_domain::digest::fnv1a64;
use masthead_domain::{Email, PostKind, PostStatus, Visibility};
use masthead_render::render_markdown;
use masthead_store::{Campaign, Image, NewAuthor, NewLiveEntry, NewPost, NewTag, Store, Video};
use serde::Deserialize;

use crate::artwork;

static DEMO: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/demo");

/// Members the demo site starts with, so the counter has something to count.
const DEMO_MEMBERS: u32 = 1_184;

#[derive(Deserialize)]
struct SiteFile {
    site: SiteInfo,
    authors: Vec<AuthorInfo>,
    tags: Vec<TagInfo>,
    campaign: CampaignInfo,
}

#[derive(Deserialize)]
struct SiteInfo {
    title: String,
    description: String,
    accent: String,
}

#[derive(Deserialize)]
struct AuthorInfo {
    slug: String,
    name: String,
    bio: String,
    #[serde(default)]
    location: String,
}

#[derive(Deserialize)]
struct TagInfo {
    slug: String,
    name: String,
    description: String,
    section: bool,
}

#[derive(Deserialize)]
struct CampaignInfo {
    pitch: String,
    goal: u64,
    metric: String,
}

/// One demo post file: `key: value` header lines, `---`, Markdown body, then
/// optional live entries introduced by `@@ <minutes ago> [pinned] | <title>`.
#[derive(Debug, Default)]
pub struct DemoPost {
    pub kind: String,
    pub slug: String,
    pub title: String,
    pub dek: String,
    pub tags: Vec<String>,
    pub authors: Vec<String>,
    pub hours_ago: f64,
    pub updated_hours_ago: Option<f64>,
    pub image: Option<(String, String, String, String, String, String)>,
    pub video: Option<String>,
    pub video_duration: Option<u32>,
    pub notes: Vec<(String, f64, String)>,
    pub body: String,
    pub entries: Vec<DemoEntry>,
}

#[derive(Debug)]
pub struct DemoEntry {
    pub minutes_ago: f64,
    pub pinned: bool,
    pub title: String,
    pub body: String,
}

pub fn parse_post(name: &str, text: &str) -> Result<DemoPost> {
    let (head, rest) = text
        .split_once("\n---\n")
        .with_context(|| format!("{name}: no '---' line after the header"))?;
    let mut p = DemoPost::default();
    let mut img: [String; 6] = Default::default();
    for line in head.lines().filter(|l| !l.trim().is_empty()) {
        let (key, value) = line
            .split_once(':')
            .with_context(|| format!("{name}: header line without a colon: {line:?}"))?;
        let value = value.trim().to_owned();
        let list = |v: &str| {
            v.split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        };
        let num = |v: &str| {
            v.parse::<f64>()
                .with_context(|| format!("{name}: {key} is not a number"))
        };
        match key.trim() {
            "kind" => p.kind = value,
            "slug" => p.slug = value,
            "title" => p.title = value,
            "dek" => p.dek = value,
            "tags" => p.tags = list(&value),
            "authors" => p.authors = list(&value),
            "hours_ago" => p.hours_ago = num(&value)?,
            "updated_hours_ago" => p.updated_hours_ago = Some(num(&value)?),
            "image_alt" => img[0] = value,
            "image_caption" => img[1] = value,
            "image_photographer" => img[2] = value,
            "image_agency" => img[3] = value,
            "image_scene" => img[4] = value,
            "image_palette" => img[5] = value,
            "video" => p.video = Some(value),
            "video_duration" => p.video_duration = Some(num(&value)? as u32),
            k @ ("correction" | "update") => {
                let (h, note) = value
                    .split_once('|')
                    .with_context(|| format!("{name}: {k} needs '<hours> | <note>'"))?;
                p.notes
                    .push((k.to_owned(), num(h.trim())?, note.trim().to_owned()));
            }
            other => bail!("{name}: unknown header key {other:?}"),
        }
    }
    if !img[4].is_empty() {
        let [alt, caption, photographer, agency, scene, palette] = img;
        p.image = Some((alt, caption, photographer, agency, scene, palette));
    }
    // Live entries follow the body.
    let mut parts = rest.split("\n@@ ");
    p.body = parts.next().unwrap_or("").trim().to_owned();
    for part in parts {
        let (first, body) = part.split_once('\n').unwrap_or((part, ""));
        let (meta, title) = first
            .split_once('|')
            .with_context(|| format!("{name}: entry line needs '<minutes> [pinned] | <title>'"))?;
        let mut words = meta.split_whitespace();
        let minutes_ago = words
            .next()
            .context("entry without minutes")?
            .parse::<f64>()
            .with_context(|| format!("{name}: entry minutes is not a number"))?;
        let pinned = words.next() == Some("pinned");
        p.entries.push(DemoEntry {
            minutes_ago,
            pinned,
            title: title.trim().to_owned(),
            body: body.trim().to_owned(),
        });
    }
    Ok(p)
}

/// All demo posts, in file order.
pub fn posts() -> Result<Vec<DemoPost>> {
    let dir = DEMO
        .get_dir("posts")
        .context("demo posts missing from the build")?;
    let mut files: Vec<_> = dir.files().collect();
    files.sort_by_key(|f| f.path().to_owned());
    files
        .into_iter()
        .map(|f| {
            let name = f.path().display().to_string();
            parse_post(
                &name,
                f.contents_utf8()
                    .with_context(|| format!("{name} is not UTF-8"))?,
            )
        })
        .collect()
}

/// Writes the demo video clips under `content/media/demo/`.
pub fn write_media(content_dir: &Path) -> Result<()> {
    let media = content_dir.join("media").join("demo");
    std::fs::create_dir_all(&media).with_context(|| format!("creating {}", media.display()))?;
    if let Some(videos) = DEMO.get_dir("video") {
        for f in videos.files() {
            if let Some(name) = f.path().file_name() {
                std::fs::write(media.join(name), f.contents())?;
            }
        }
    }
    Ok(())
}

/// Seeds the demo newsroom into an empty site. Files first (idempotent), then
/// one transaction for every row, so a failure leaves the database untouched.
pub fn seed(store: &Store, content_dir: &Path, now_ms: i64, timezone: &str) -> Result<SeedSummary> {
    let site: SiteFile = serde_json::from_str(
        DEMO.get_file("site.json")
            .and_then(|f| f.contents_utf8())
            .context("demo site.json missing")?,
    )
    .context("demo site.json is malformed")?;
    let posts = posts()?;

    let images = content_dir.join("images").join("demo");
    std::fs::create_dir_all(&images).with_context(|| format!("creating {}", images.display()))?;
    for p in &posts {
        if let Some((_, _, _, _, scene, palette)) = &p.image {
            let svg = artwork::illustration(scene, palette, fnv1a64(p.slug.as_bytes()));
            std::fs::write(images.join(format!("{}.svg", p.slug)), svg)?;
        }
    }
    write_media(content_dir)?;

    let hours = |h: f64| now_ms - (h * 3_600_000.0) as i64;
    let deadline = end_of_next_year(now_ms, timezone);
    let summary = store.sqlite().write(|w| {
        let mut s = SeedSummary::default();
        w.set_setting("title", &site.site.title)?;
        w.set_setting("description", &site.site.description)?;
        w.set_setting("accent", &site.site.accent)?;
        w.set_setting("timezone", timezone)?;
        w.set_setting("locale", "en-GB")?;
        let mut author_ids = std::collections::HashMap::new();
        for a in &site.authors {
            let id = w.insert_author(&NewAuthor {
                slug: a.slug.clone(),
                name: a.name.clone(),
                bio: a.bio.clone(),
                location: a.location.clone(),
            })?;
            author_ids.insert(a.slug.clone(), id);
        }
        let mut tag_ids = std::collections::HashMap::new();
        for (i, t) in site.tags.iter().enumerate() {
            let id = w.insert_tag(&NewTag {
                slug: t.slug.clone(),
                name: t.name.clone(),
                description: t.description.clone(),
                is_section: t.section,
                position: i as i64,
            })?;
            tag_ids.insert(t.slug.clone(), id);
        }
        for p in &posts {
            let kind = PostKind::parse(&p.kind)?;
            let image = p
                .image
                .as_ref()
                .map(|(alt, caption, photographer, agency, _, _)| Image {
                    src: format!("/content/images/demo/{}.svg", p.slug),
                    alt: alt.clone(),
                    caption: caption.clone(),
                    photographer: photographer.clone(),
                    agency: agency.clone(),
                    width: Some(artwork::WIDTH),
                    height: Some(artwork::HEIGHT),
                    ..Image::default()
                });
            let body = render_markdown(&p.body, image.is_some());
            let lookup =
                |map: &std::collections::HashMap<String, i64>, keys: &[String], what: &str| {
                    keys.iter()
                        .map(|k| {
                            map.get(k).copied().ok_or_else(|| {
                                masthead_store::StoreError::Invalid(format!(
                                    "{}: unknown {what} {k:?}",
                                    p.slug
                                ))
                            })
                        })
                        .collect::<Result<Vec<i64>, _>>()
                };
            let published = hours(p.hours_ago);
            let id = w.insert_post(&NewPost {
                kind,
                slug: p.slug.clone(),
                title: p.title.clone(),
                dek: p.dek.clone(),
                body_source: p.body.clone(),
                body_html: body.html,
                word_count: body.reading.words,
                reading_minutes: body.reading.minutes,
                status: PostStatus::Published,
                visibility: Visibility::Public,
                image,
                video: p.video.as_ref().map(|clip| Video {
                    src: Some(format!("/content/media/demo/{clip}.webm")),
                    embed: None,
                    duration_s: p.video_duration,
                }),
                published_ms: Some(published),
                updated_ms: p.updated_hours_ago.map_or(published, hours),
                tag_ids: lookup(&tag_ids, &p.tags, "tag")?,
                author_ids: lookup(&author_ids, &p.authors, "author")?,
            })?;
            for (kind, h, note) in &p.notes {
                w.add_post_note(id, kind, hours(*h), note)?;
            }
            for e in &p.entries {
                let rendered = render_markdown(&e.body, false);
                w.add_live_entry(&NewLiveEntry {
                    post_id: id,
                    title: e.title.clone(),
                    body_source: e.body.clone(),
                    body_html: rendered.html,
                    pinned: e.pinned,
                    created_ms: now_ms - (e.minutes_ago * 60_000.0) as i64,
                })?;
                s.live_entries += 1;
            }
            s.posts += 1;
        }
        w.insert_campaign(&Campaign {
            id: 0,
            pitch: site.campaign.pitch.clone(),
            goal: site.campaign.goal,
            metric: site.campaign.metric.clone(),
            starts_ms: hours(24.0 * 30.0),
            deadline_ms: deadline,
        })?;
        for n in 0..DEMO_MEMBERS {
            let email = Email::parse(&format!("reader{n:05}@example.org"))?;
            // Spread sign-ups over the last 90 days.
            let at = now_ms - i64::from(n) * (90 * 86_400_000 / i64::from(DEMO_MEMBERS));
            if w.insert_member(&email, "free", "demo", at)? {
                s.members += 1;
            }
        }
        w.log_change(masthead_store::ChangeTopic::Member, None, None)?;
        w.optimize_search_index()?;
        w.set_setting("initialised_at", &now_ms.to_string())?;
        s.authors = site.authors.len();
        s.tags = site.tags.len();
        Ok(s)
    })?;
    Ok(summary)
}

#[derive(Debug, Default)]
pub struct SeedSummary {
    pub posts: usize,
    pub live_entries: usize,
    pub authors: usize,
    pub tags: usize,
    pub members: usize,
}

/// 23:59:59 on 31 December of next year, in the site's zone.
fn end_of_next_year(now_ms: i64, timezone: &str) -> i64 {
    let tz = jiff::tz::TimeZone::get(timezone).unwrap_or(jiff::tz::TimeZone::UTC);
    let now = jiff::Timestamp::from_millisecond(now_ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let year = now.to_zoned_datetime(tz.clone()).year() + 1;
    jiff::civil::date(year, 12, 31)
        .at(23, 59, 59, 0)
        .to_zoned_datetime(tz)
        .map(|z| z.timestamp().as_millisecond())
        .unwrap_or(now_ms + 365 * 86_400_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_content_meets_the_brief() {
        let posts = posts().expect("demo posts parse");
        assert!(posts.len() >= 60, "{} posts", posts.len());
        let count = |k: &str| posts.iter().filter(|p| p.kind == k).count();
        for kind in ["brief", "article", "video", "live"] {
            assert!(count(kind) >= 1, "no {kind}");
        }
        let live = posts
            .iter()
            .filter(|p| p.kind == "live")
            .max_by_key(|p| p.entries.len())
            .expect("live");
        assert!(live.entries.len() >= 10);
        assert!(live.entries.iter().filter(|e| e.pinned).count() >= 2);
        assert!(
            posts
                .iter()
                .any(|p| p.notes.iter().any(|n| n.0 == "correction"))
        );
        for p in &posts {
            assert!(p.hours_ago <= 240.0, "{} is older than 10 days", p.slug);
            if p.kind != "page" {
                let (alt, caption, photographer, ..) =
                    p.image.as_ref().expect("every story has an image");
                assert!(
                    !alt.is_empty() && !caption.is_empty() && !photographer.is_empty(),
                    "{}",
                    p.slug
                );
            }
        }
        let mut slugs: Vec<_> = posts.iter().map(|p| &p.slug).collect();
        slugs.sort();
        slugs.dedup();
        assert_eq!(slugs.len(), posts.len(), "unique slugs");
    }

    #[test]
    fn parse_errors_are_clear() {
        assert!(parse_post("x", "no separator").is_err());
        assert!(parse_post("x", "bogus: 1\n---\nbody").is_err());
        let p = parse_post("x", "kind: live\nslug: a\nhours_ago: 2\n---\nIntro\n@@ 30 pinned | First\nBody one\n@@ 10 | Second\nBody two\n")
            .expect("parse");
        assert_eq!(p.entries.len(), 2);
        assert!(p.entries[0].pinned && !p.entries[1].pinned);
        assert_eq!(p.entries[1].title, "Second");
    }

    #[test]
    fn deadline_is_the_end_of_next_year() {
        // 2026-11-29T12:00:00Z -> 2027-12-31T23:59:59Z
        assert_eq!(
            end_of_next_year(1_795_953_600_000, "UTC"),
            1_830_297_599_000
        );
    }
}
