//! `masthead seed --bench N`: a large, realistic archive for benchmarks.
//! Bodies come from the demo newsroom (rendered once, reused), so lengths and
//! reading times are real; everything goes in one transaction.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use masthead_domain::digest::fnv1a64;
use masthead_domain::{Email, PostKind, PostStatus, Visibility};
use masthead_render::render_markdown;
use masthead_store::{
    Campaign, EntryDraft, Image, NewAuthor, NewPost, NewTag, SeedPost, SiteSeed, Store, Video,
};

use crate::{artwork, demo};

pub const LIVE_SLUG: &str = "bench-live-roundup";
const AUTHORS: usize = 40;
const TAGS: usize = 60;
const SECTIONS: usize = 8;
const LIVE_ENTRIES: usize = 500;
const MEMBERS: u32 = 50_000;
const IMAGES: usize = 24;

const PLACES: &[&str] = &[
    "harbour",
    "council",
    "ferry",
    "river",
    "hospital",
    "university",
    "market",
    "stadium",
    "station",
    "school",
    "library",
    "pier",
];
const ACTIONS: &[&str] = &[
    "plans",
    "budget",
    "delay",
    "review",
    "vote",
    "repairs",
    "closure",
    "reopening",
    "inquiry",
    "expansion",
    "strike",
    "funding",
];
const ANGLES: &[&str] = &[
    "what we know",
    "explained",
    "questioned",
    "approved",
    "in doubt",
    "criticised",
    "backed by residents",
    "under pressure",
];

struct Body {
    html: String,
    words: u32,
    minutes: u32,
}

pub async fn seed(store: &Store, content_dir: &Path, n: usize, now_ms: i64) -> Result<()> {
    if n == 0 {
        bail!("--bench needs at least 1 post");
    }
    let started = Instant::now();
    let demo_posts = demo::posts()?;
    let bodies: Vec<Body> = demo_posts
        .iter()
        .filter(|p| p.kind != "page" && p.kind != "live")
        .map(|p| {
            let r = render_markdown(&p.body, true);
            Body {
                html: r.html,
                words: r.reading.words,
                minutes: r.reading.minutes,
            }
        })
        .collect();
    let live_bodies: Vec<(String, String, String)> = demo_posts
        .iter()
        .flat_map(|p| p.entries.iter())
        .map(|e| {
            (
                e.title.clone(),
                e.body.clone(),
                render_markdown(&e.body, false).html,
            )
        })
        .collect();
    if bodies.is_empty() || live_bodies.is_empty() {
        bail!("demo content is missing");
    }

    let images = content_dir.join("images").join("bench");
    std::fs::create_dir_all(&images).with_context(|| format!("creating {}", images.display()))?;
    let scenes = [
        "harbour", "city", "night", "river", "field", "crowd", "hills", "coast", "interior",
        "stadium", "market", "rain",
    ];
    let palettes = ["dawn", "day", "dusk", "night", "storm", "autumn", "spring"];
    for i in 0..IMAGES {
        let svg = artwork::illustration(
            scenes[i % scenes.len()],
            palettes[i % palettes.len()],
            i as u64 + 7,
        );
        std::fs::write(images.join(format!("{i}.svg")), svg)?;
    }

    // Posts are spread evenly over five years, newest first.
    let span_ms: i64 = 5 * 365 * 86_400_000;
    let step = (span_ms / n as i64).max(1);
    eprintln!(
        "Seeding a benchmark archive: {n} posts, {LIVE_ENTRIES} live entries, {MEMBERS} members..."
    );
    let settings = vec![
        ("title".to_owned(), "The Bench Courier".to_owned()),
        (
            "description".to_owned(),
            "A synthetic archive for benchmarks.".to_owned(),
        ),
        ("timezone".to_owned(), "Europe/London".to_owned()),
        ("initialised_at".to_owned(), now_ms.to_string()),
    ];
    let authors = (0..AUTHORS)
        .map(|i| NewAuthor {
            slug: format!("reporter-{i}"),
            name: format!("Reporter {i}"),
            bio: "Covers the city and the coast for the Bench Courier.".into(),
            location: "Port Aldren".into(),
        })
        .collect();
    let tags = (0..TAGS)
        .map(|i| NewTag {
            slug: format!("topic-{i}"),
            name: format!("Topic {i}"),
            description: format!("Everything about topic {i}."),
            is_section: i < SECTIONS,
            position: i as i64,
        })
        .collect();
    // Posts are made as they are written, so a large archive is never all
    // in memory at once.
    let posts = (0..n).map(move |i| {
        let h = fnv1a64(&(i as u64).to_le_bytes());
        let pick = |m: usize, shift: u32| ((h >> shift) as usize) % m;
        let kind = if i == 0 {
            PostKind::Live
        } else {
            match pick(20, 0) {
                0..=8 => PostKind::Brief,
                9..=17 => PostKind::Article,
                _ => PostKind::Video,
            }
        };
        let body = &bodies[pick(bodies.len(), 8)];
        let title = format!(
            "{} {} {}",
            capitalise(PLACES[pick(PLACES.len(), 16)]),
            ACTIONS[pick(ACTIONS.len(), 24)],
            ANGLES[pick(ANGLES.len(), 32)]
        );
        let published = now_ms - 60_000 - i as i64 * step;
        let section = pick(SECTIONS, 40);
        let mut tags = vec![section];
        for t in 0..pick(3, 44) {
            let extra = SECTIONS + (pick(TAGS - SECTIONS, 48) + t * 7) % (TAGS - SECTIONS);
            if !tags.contains(&extra) {
                tags.push(extra);
            }
        }
        let mut authors = vec![pick(AUTHORS, 52)];
        if pick(4, 58) == 0 {
            let second = (pick(AUTHORS, 52) + 1) % AUTHORS;
            authors.push(second);
        }
        let (slug, title) = if kind == PostKind::Live {
            (
                LIVE_SLUG.to_owned(),
                "Live: the week on the coast".to_owned(),
            )
        } else {
            (
                format!(
                    "{}-{i}",
                    masthead_domain::slug::slugify(&title)
                        .map(|s| s.into_string())
                        .unwrap_or_default()
                ),
                title,
            )
        };
        let entries = if kind == PostKind::Live {
            (0..LIVE_ENTRIES)
                .map(|e| {
                    let (t, src, html) = &live_bodies[e % live_bodies.len()];
                    EntryDraft {
                        title: t.clone(),
                        body_source: src.clone(),
                        body_html: html.clone(),
                        pinned: e % 125 == 0,
                        created_ms: published - 3_600_000 + e as i64 * 7_000,
                    }
                })
                .collect()
        } else {
            Vec::new()
        };
        if (i + 1) % 10_000 == 0 || i + 1 == n {
            eprintln!(
                "  {:>7} / {n} posts ({:.1} s)",
                i + 1,
                started.elapsed().as_secs_f64()
            );
        }
        SeedPost {
            post: NewPost {
                kind,
                slug,
                title,
                dek: "A synthetic story with a realistic body, for measuring the site under load."
                    .into(),
                // Sources are not read by the site; leaving them out halves the file.
                body_source: String::new(),
                body_html: body.html.clone(),
                word_count: body.words,
                reading_minutes: body.minutes,
                status: PostStatus::Published,
                // One article in fifty is for members: the benchmark reads
                // one as a signed-in member.
                visibility: if kind == PostKind::Article && i % 50 == 25 {
                    Visibility::Members
                } else {
                    Visibility::Public
                },
                image: Some(Image {
                    src: format!("/content/images/bench/{}.svg", pick(IMAGES, 60)),
                    alt: "An illustration of the story's setting.".into(),
                    caption: "The scene of the story.".into(),
                    photographer: "Bench Studio".into(),
                    agency: "Masthead".into(),
                    width: Some(artwork::WIDTH),
                    height: Some(artwork::HEIGHT),
                    ..Image::default()
                }),
                video: (kind == PostKind::Video).then(|| Video {
                    src: Some("/content/media/demo/clip-1.webm".into()),
                    embed: None,
                    duration_s: Some(95),
                }),
                published_ms: Some(published),
                updated_ms: published,
                tag_ids: Vec::new(),
                author_ids: Vec::new(),
            },
            tags,
            authors,
            notes: Vec::new(),
            entries,
        }
    });
    let members = (0..MEMBERS)
        .map(|m| {
            Ok((
                Email::parse(&format!("bench{m:06}@example.org"))?,
                now_ms - i64::from(m) * 1_000,
            ))
        })
        .collect::<Result<Vec<_>, masthead_domain::DomainError>>()?;
    store
        .seed_site(SiteSeed {
            settings,
            authors,
            tags,
            posts: Box::new(posts),
            campaign: Some(Campaign {
                id: 0,
                pitch: "Readers pay for this reporting. Join them.".into(),
                goal: 25_000,
                metric: "members".into(),
                starts_ms: now_ms - 30 * 86_400_000,
                deadline_ms: now_ms + 365 * 86_400_000,
            }),
            members,
            member_source: "bench".into(),
            closing_settings: Vec::new(),
        })
        .await?;
    eprintln!(
        "  {MEMBERS} members ({:.1} s)",
        started.elapsed().as_secs_f64()
    );
    store.checkpoint().await?;
    eprintln!(
        "Benchmark archive ready in {:.1} s.",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}
