//! The default theme renders what readers need from real view models.

use masthead_domain::{PostKind, PostStatus, Visibility};
use masthead_model::{Image, Post, SiteSettings, Video};
use masthead_render::Theme;
use masthead_render::views::{Clock, FeedLink, PageMeta, PostView, SeoImage, SeoView, SiteView};
use serde_json::json;

fn post(video: Video) -> Post {
    Post {
        id: 7,
        uuid: None,
        kind: PostKind::Video,
        status: PostStatus::Published,
        visibility: Visibility::Public,
        slug: "harbour-film".into(),
        title: "The harbour at dawn".into(),
        dek: "A short film.".into(),
        body_html: "<p>Filmed over a week.</p>".into(),
        word_count: 3,
        reading_minutes: 1,
        image: Some(Image {
            src: "/content/images/x.svg".into(),
            alt: "Boats at dawn".into(),
            caption: "Dawn".into(),
            photographer: "Ana Silva".into(),
            agency: "Coastline Pictures".into(),
            width: Some(1200),
            height: Some(800),
            ..Image::default()
        }),
        video: Some(video),
        language: "en".into(),
        canonical_url: None,
        meta_title: None,
        meta_description: None,
        created_ms: 0,
        updated_ms: 0,
        published_ms: Some(0),
        tags: vec![],
        authors: vec![],
        notes: vec![],
        tiers: vec![],
    }
}

fn render(p: &Post) -> String {
    let theme = Theme::load(None).expect("theme");
    let clock = Clock::new("UTC", 1_000);
    let ctx = json!({
        "site": SiteView::new(&SiteSettings::default(), &[]),
        "page": PageMeta::default(),
        "post": PostView::new(p, &clock),
        "read_next": [],
    });
    theme.render("post.html", &ctx).expect("render")
}

#[test]
fn provider_embeds_are_rebuilt_from_the_allow_list() {
    let html = render(&post(Video {
        src: None,
        embed: Some("https://www.youtube.com/watch?v=dQw4w9WgXcQ&list=x".into()),
        duration_s: Some(75),
    }));
    assert!(
        html.contains("data-embed-src=\"https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ\""),
        "{html}"
    );
    assert!(html.contains("href=\"https://www.youtube.com/watch?v=dQw4w9WgXcQ\""));
    assert!(html.contains("Play on YouTube"));
    assert!(html.contains("1:15"));
    assert!(!html.contains("list=x"), "only the parsed id is used");
}

#[test]
fn unknown_providers_render_no_embed() {
    let html = render(&post(Video {
        src: None,
        embed: Some("https://evil.example/embed?x=\"><script>".into()),
        duration_s: None,
    }));
    assert!(!html.contains("evil.example"));
    assert!(!html.contains("data-embed-src"));
    assert!(!html.contains("<script>"));
}

#[test]
fn hosted_video_has_poster_and_credit() {
    let html = render(&post(Video {
        src: Some("/content/media/clip.webm".into()),
        embed: None,
        duration_s: None,
    }));
    assert!(html.contains("<video controls preload=\"metadata\" poster=\"/content/images/x.svg\""));
    assert!(html.contains("<source src=\"/content/media/clip.webm\" type=\"video/webm\">"));
    assert!(html.contains("Ana Silva / Coastline Pictures"));
}

#[test]
fn head_carries_search_and_preview_metadata_when_given() {
    let theme = Theme::load(None).expect("theme");
    let clock = Clock::new("UTC", 1_000);
    let site = SiteView::new(&SiteSettings::default(), &[]).with_base_url("https://news.example");
    let mut p = post(Video {
        src: Some("/content/media/clip.webm".into()),
        embed: None,
        duration_s: Some(75),
    });
    p.title = "Boats \"at\" <dawn>".into();
    let seo = SeoView {
        canonical: site.absolute("/harbour-film/"),
        og_type: "article",
        title: p.title.clone(),
        description: "A short film.".into(),
        image: Some(SeoImage {
            url: site.absolute("/content/images/x.svg"),
            alt: "Boats at dawn".into(),
            width: Some(1200),
            height: Some(800),
        }),
        twitter_card: "summary_large_image",
        published: Some("2026-07-01T12:00:00Z".into()),
        tags: vec!["Harbour".into(), "Film".into()],
        feeds: FeedLink::all_for("/tag/harbour/", "Harbour"),
        json_ld: Some(r#"{"@type":"VideoObject","name":"Boats \u003cdawn\u003e"}"#.into()),
        ..SeoView::default()
    };
    let ctx = json!({
        "site": site,
        "page": PageMeta { title: p.title.clone(), path: "/harbour-film/".into(), ..PageMeta::default() },
        "seo": seo,
        "post": PostView::new(&p, &clock),
        "read_next": [],
    });
    let html = theme.render("post.html", &ctx).expect("render");
    let head = html.split("</head>").next().expect("head");
    assert!(head.contains(r#"<link rel="canonical" href="https://news.example/harbour-film/">"#));
    assert!(
        head.contains(r#"<meta property="og:title" content="Boats &quot;at&quot; &lt;dawn&gt;">"#)
    );
    assert!(head.contains(r#"<meta property="og:image:width" content="1200">"#));
    assert!(head.contains(r#"<meta property="article:tag" content="Harbour">"#));
    assert!(head.contains(r#"<meta name="twitter:card" content="summary_large_image">"#));
    assert!(head.contains(
        r#"<script type="application/ld+json">{"@type":"VideoObject","name":"Boats \u003cdawn\u003e"}</script>"#
    ));
    assert!(head.contains(
        r#"<link rel="alternate" type="application/rss+xml" title="Harbour" href="/tag/harbour/rss/">"#
    ));
    assert_eq!(head.matches("rel=\"canonical\"").count(), 1);

    // Without it (error pages), only the site's feeds.
    let bare = render(&p);
    let head = bare.split("</head>").next().expect("head");
    assert!(!head.contains("og:") && !head.contains("ld+json"));
    assert!(head.contains(
        r#"<link rel="alternate" type="application/atom+xml" title="Masthead" href="/atom/">"#
    ));
}
