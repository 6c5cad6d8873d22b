//! The beginning of the conformance suite: the same sequence of operations
//! against a fresh SQLite file and a fresh PostgreSQL database, asserting
//! identical results. Needs `MASTHEAD_TEST_DATABASE_URL` (see tests.rs):
//! without it these tests fail, never skip.
//!
//! Results are compared through their `Debug` text (the model's types do not
//! all implement `PartialEq`), after blanking what is random or wall-clock
//! (post uuids, creation times stamped by the store).

use std::fmt::Debug;
use std::sync::atomic::{AtomicU32, Ordering};

use masthead_domain::{Email, FeedCursor, PostKind, PostStatus, Visibility};

use super::PgStore;
use super::tests::TestDb;
use crate::model::*;
use masthead_model::ApiKeyKind;
use masthead_model::members::*;
use masthead_model::sends::*;
use masthead_model::tiers::*;

/// A fresh SQLite file in its own directory, removed on drop.
struct TempDb {
    dir: std::path::PathBuf,
    store: crate::sqlite::SqliteStore,
}

impl TempDb {
    fn new(name: &str) -> TempDb {
        let dir = std::env::temp_dir().join(format!(
            "masthead-conformance-{name}-{}-{}",
            std::process::id(),
            crate::now_ms()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let store =
            crate::sqlite::SqliteStore::open(&dir.join("masthead.db")).expect("open SQLite");
        TempDb { dir, store }
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One SQLite file and one PostgreSQL database, both fresh and migrated.
struct Both {
    lite: TempDb,
    pg: PgStore,
    _db: TestDb,
}

impl Both {
    async fn new(tag: &str) -> Both {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let db = TestDb::new(&format!("conf_{tag}")).await;
        let pg = db.migrated().await;
        Both {
            lite: TempDb::new(&format!("conf-{tag}-{n}")),
            pg,
            _db: db,
        }
    }
}

/// Runs `module::function(args…)` on a read connection of each backend and
/// returns both results.
macro_rules! read_both {
    ($b:expr, $m:ident :: $f:ident ( $($arg:expr),* $(,)? )) => {{
        let lite = $b
            .lite
            .store
            .read(|c| crate::sqlite::$m::$f(c $(, $arg)*))
            .unwrap_or_else(|e| panic!("sqlite {}: {e}", stringify!($f)));
        let client = $b.pg.client().await.expect("a PostgreSQL connection");
        let pg = crate::postgres::$m::$f(&client $(, $arg)*)
            .await
            .unwrap_or_else(|e| panic!("postgres {}: {e}", stringify!($f)));
        (lite, pg)
    }};
}

/// Runs `writer.method(args…)` in a write transaction of each backend and
/// returns both results.
macro_rules! write_both {
    ($b:expr, $f:ident ( $($arg:expr),* $(,)? )) => {{
        let lite = $b
            .lite
            .store
            .write(|w| w.$f($($arg),*))
            .unwrap_or_else(|e| panic!("sqlite {}: {e}", stringify!($f)));
        let pg = $b
            .pg
            .write(async |w| w.$f($($arg),*).await)
            .await
            .unwrap_or_else(|e| panic!("postgres {}: {e}", stringify!($f)));
        (lite, pg)
    }};
}

/// Like `write_both!`, for a call expected to fail: both error messages'
/// kinds (the `StoreError` variant) must agree.
macro_rules! write_both_err {
    ($b:expr, $f:ident ( $($arg:expr),* $(,)? )) => {{
        let lite = $b.lite.store.write(|w| w.$f($($arg),*));
        let pg = $b.pg.write(async |w| w.$f($($arg),*).await).await;
        let kind = |e: &crate::error::StoreError| format!("{e:?}").split('(').next().map(str::to_owned);
        match (&lite, &pg) {
            (Err(l), Err(p)) => assert_eq!(kind(l), kind(p), "sqlite: {l}; postgres: {p}"),
            _ => panic!("{} should fail on both: sqlite {lite:?}, postgres {pg:?}", stringify!($f)),
        }
    }};
}

/// Asserts equal `Debug` text, and returns the SQLite value.
#[track_caller]
fn same<T: Debug>(what: &str, (lite, pg): (T, T)) -> T {
    assert_eq!(
        format!("{lite:#?}"),
        format!("{pg:#?}"),
        "{what}: SQLite (left) and PostgreSQL (right) differ"
    );
    lite
}

const HOUR: i64 = 3_600_000;
const T0: i64 = 1_700_000_000_000;

fn new_post(slug: &str, kind: PostKind, status: PostStatus, at: i64) -> NewPost {
    NewPost {
        kind,
        slug: slug.to_owned(),
        title: format!("Title {slug}"),
        dek: format!("Dek of {slug}"),
        body_source: "Body".into(),
        body_html: "<p>Body</p>".into(),
        word_count: 120,
        reading_minutes: 2,
        status,
        visibility: Visibility::Public,
        image: None,
        video: None,
        published_ms: (status != PostStatus::Draft).then_some(at),
        updated_ms: at,
        tag_ids: Vec::new(),
        author_ids: Vec::new(),
    }
}

fn without_uuid(mut p: Option<Post>) -> Option<Post> {
    if let Some(p) = &mut p {
        assert!(p.uuid.as_ref().is_some_and(|u| u.len() == 36), "a uuid");
        p.uuid = None;
    }
    p
}

/// Authors, tags, posts; the ids both backends give.
async fn seed(b: &Both) -> (i64, i64, i64, i64) {
    let author = |slug: &str| NewAuthor {
        slug: slug.into(),
        name: format!("Name {slug}"),
        bio: "Reports.".into(),
        location: "Leeds".into(),
    };
    let tag = |slug: &str, section: bool, position: i64| NewTag {
        slug: slug.into(),
        name: format!("Tag {slug}"),
        description: String::new(),
        is_section: section,
        position,
    };
    let a1 = same("author 1", write_both!(b, insert_author(&author("ada"))));
    let a2 = same("author 2", write_both!(b, insert_author(&author("bo"))));
    let t1 = same("tag 1", write_both!(b, insert_tag(&tag("city", true, 1))));
    let t2 = same("tag 2", write_both!(b, insert_tag(&tag("arts", false, 0))));
    // 25 articles an hour apart, alternating tags and bylines; every fifth a
    // brief; one draft, one page, one scheduled.
    for i in 0..25 {
        let kind = if i % 5 == 0 {
            PostKind::Brief
        } else {
            PostKind::Article
        };
        let mut p = new_post(
            &format!("story-{i}"),
            kind,
            PostStatus::Published,
            T0 + i * HOUR,
        );
        p.tag_ids = if i % 2 == 0 { vec![t1, t2] } else { vec![t2] };
        p.author_ids = if i % 3 == 0 { vec![a1, a2] } else { vec![a2] };
        if i == 7 {
            p.image = Some(Image {
                src: "/media/x/800.jpg".into(),
                alt: "A tram".into(),
                caption: "Trams".into(),
                photographer: "Ann".into(),
                agency: "PA".into(),
                width: Some(800),
                height: Some(600),
                srcset: None,
                webp_srcset: None,
            });
        }
        same("insert post", write_both!(b, insert_post(&p)));
    }
    let mut draft = new_post("draft", PostKind::Article, PostStatus::Draft, T0);
    draft.tag_ids = vec![t1];
    same("draft", write_both!(b, insert_post(&draft)));
    same(
        "page",
        write_both!(
            b,
            insert_post(&new_post(
                "about",
                PostKind::Page,
                PostStatus::Published,
                T0
            ))
        ),
    );
    let mut sched = new_post(
        "later",
        PostKind::Article,
        PostStatus::Scheduled,
        T0 + 100 * HOUR,
    );
    sched.tag_ids = vec![t1];
    sched.author_ids = vec![a1];
    same("scheduled", write_both!(b, insert_post(&sched)));
    (a1, a2, t1, t2)
}

/// Walks a listing page by page by cursor on both backends.
async fn walk(b: &Both, scope: FeedScope, page: u32) -> Vec<i64> {
    let mut seen = Vec::new();
    let mut after: Option<FeedCursor> = None;
    loop {
        let got = same(
            &format!("{scope:?} page"),
            read_both!(b, queries::feed(scope, after, page)),
        );
        seen.extend(got.cards.iter().map(|c| c.id));
        match got.next {
            Some(next) => after = Some(next),
            None => return seen,
        }
    }
}

#[tokio::test]
async fn public_reads_and_publishing_agree() {
    let b = Both::new("reads").await;
    let (a1, a2, t1, t2) = seed(&b).await;
    for scope in [
        FeedScope::All,
        FeedScope::Tag(t1),
        FeedScope::Tag(t2),
        FeedScope::Section(t1),
        FeedScope::Author(a1),
        FeedScope::Author(a2),
        FeedScope::Kind(PostKind::Brief),
    ] {
        let ids = walk(&b, scope, 4).await;
        assert!(!ids.is_empty(), "{scope:?} lists something");
        let mut sorted = ids.clone();
        sorted.sort_unstable_by(|x, y| y.cmp(x));
        sorted.dedup();
        assert_eq!(ids, sorted, "{scope:?}: newest first, each once");
    }
    assert_eq!(
        walk(&b, FeedScope::All, 7).await.len(),
        25,
        "no draft, page or scheduled post"
    );
    // Publishing the scheduled post: once, on both.
    let due = same("publish_due", write_both!(b, publish_due(T0 + 101 * HOUR)));
    assert_eq!(due.len(), 1);
    assert!(same("again", write_both!(b, publish_due(T0 + 102 * HOUR))).is_empty());
    assert_eq!(
        walk(&b, FeedScope::Author(a1), 3).await.first(),
        Some(&due[0])
    );

    let post = same(
        "by slug",
        (
            without_uuid(read_both!(b, queries::published_post_by_slug("story-7".to_owned())).0),
            without_uuid(read_both!(b, queries::published_post_by_slug("story-7".to_owned())).1),
        ),
    )
    .expect("published");
    assert_eq!(post.tags.len(), 1);
    assert_eq!(post.image.as_ref().and_then(|i| i.width), Some(800));
    let (l, p) = read_both!(b, queries::published_post_by_slug("draft".to_owned()));
    assert!(l.is_none() && p.is_none(), "drafts are not public");
    same(
        "id by slug",
        read_both!(
            b,
            queries::published_post_id_by_slug("about".to_owned(), Some(PostKind::Page))
        ),
    );
    same(
        "id by slug, other kind",
        read_both!(
            b,
            queries::published_post_id_by_slug("about".to_owned(), Some(PostKind::Article))
        ),
    );
    same(
        "id by slug, any",
        read_both!(
            b,
            queries::published_post_id_by_slug("story-3".to_owned(), None)
        ),
    );
    same(
        "tag page",
        read_both!(b, queries::tag_by_slug("city".to_owned())),
    );
    same(
        "author page",
        read_both!(b, queries::author_by_slug("bo".to_owned())),
    );
    same(
        "no tag",
        read_both!(b, queries::tag_by_slug("nope".to_owned())),
    );
    same("sections", read_both!(b, queries::sections()));
    same(
        "read next",
        read_both!(b, queries::read_next(5, Some(t1), 4)),
    );
    same("post refs", read_both!(b, queries::post_refs(3)));
    same("feed posts", {
        let (l, p) = read_both!(b, queries::feed_posts(FeedScope::Tag(t2), 5));
        let strip = |v: Vec<Post>| {
            v.into_iter()
                .map(|p| without_uuid(Some(p)))
                .collect::<Vec<_>>()
        };
        (strip(l), strip(p))
    });
    same("sitemap parts", read_both!(b, queries::sitemap_parts(4)));
    same("sitemap posts", read_both!(b, queries::sitemap_posts(2, 4)));
    same("sitemap pages", read_both!(b, queries::sitemap_pages(10)));
    same("sitemap tags", read_both!(b, queries::sitemap_tags(10)));
    same(
        "sitemap authors",
        read_both!(b, queries::sitemap_authors(10)),
    );
    same(
        "news",
        read_both!(b, queries::news_posts(T0 + 10 * HOUR, 50)),
    );
    same("post count", read_both!(b, queries::post_count()));
    same("post id by slug", write_both!(b, post_id_by_slug("later")));
    let (mut l, mut p) = write_both!(b, author_slugs());
    l.sort();
    p.sort();
    same("author slugs", (l, p));
    same(
        "notes",
        write_both!(b, add_post_note(3, "correction", T0, "We misspelt a name.")),
    );
    write_both_err!(b, add_post_note(3, "gossip", T0, "No."));
    write_both_err!(
        b,
        insert_post(&new_post(
            "Bad Slug",
            PostKind::Article,
            PostStatus::Draft,
            T0
        ))
    );
    write_both_err!(
        b,
        insert_post(&new_post(
            "story-3",
            PostKind::Article,
            PostStatus::Draft,
            T0
        ))
    );
    let post = read_both!(b, queries::published_post_by_slug("story-2".to_owned()));
    assert_eq!(
        same("with notes", (without_uuid(post.0), without_uuid(post.1)))
            .expect("post")
            .notes
            .len(),
        1
    );
}

#[tokio::test]
async fn live_entries_settings_members_and_campaigns_agree() {
    let b = Both::new("live").await;
    let live = same(
        "live post",
        write_both!(
            b,
            insert_post(&new_post("live", PostKind::Live, PostStatus::Published, T0))
        ),
    );
    let article = same(
        "article",
        write_both!(
            b,
            insert_post(&new_post(
                "plain",
                PostKind::Article,
                PostStatus::Published,
                T0
            ))
        ),
    );
    for i in 0..7 {
        let e = NewLiveEntry {
            post_id: live,
            title: format!("Entry {i}"),
            body_source: "Text".into(),
            body_html: "<p>Text</p>".into(),
            pinned: i == 2,
            created_ms: T0 + i64::from(i) * 60_000,
        };
        same("entry", write_both!(b, add_live_entry(&e)));
    }
    let entry = |post_id| NewLiveEntry {
        post_id,
        title: String::new(),
        body_source: String::new(),
        body_html: String::new(),
        pinned: false,
        created_ms: T0,
    };
    write_both_err!(b, add_live_entry(&entry(article)));
    write_both_err!(b, add_live_entry(&entry(999)));
    same("entries", read_both!(b, queries::live_entries(live)));
    let first = same(
        "live page",
        read_both!(b, queries::live_page(live, None, 3)),
    );
    assert_eq!(
        (first.pinned.len(), first.entries.len(), first.total),
        (1, 3, 7)
    );
    same(
        "older",
        read_both!(b, queries::live_page(live, first.older, 3)),
    );
    same("one entry", read_both!(b, queries::live_entry(3)));
    let post = read_both!(b, queries::published_post_by_slug("live".to_owned()));
    let post = same(
        "updated by entries",
        (without_uuid(post.0), without_uuid(post.1)),
    )
    .expect("live");
    assert_eq!(post.updated_ms, T0 + 6 * 60_000);

    same("default settings", read_both!(b, queries::site_settings()));
    for (k, v) in [
        ("title", "The Ledger"),
        ("logo", "/media/logo.png"),
        ("logo_size", "200x40"),
        ("api_max_limit", "5000"),
        ("feed_content", "excerpt"),
        ("meter_free_stories", "500"),
        ("title", "The Daily Ledger"),
    ] {
        same("set", write_both!(b, set_setting(k, v)));
    }
    let s = same("settings", read_both!(b, queries::site_settings()));
    assert_eq!(
        (s.title.as_str(), s.api_max_limit),
        ("The Daily Ledger", API_MAX_LIMIT_CEILING)
    );
    // The meter is held to its ceiling; an unreadable value turns it off.
    assert_eq!(
        s.meter_free_stories,
        masthead_domain::meter::MAX_FREE_STORIES
    );
    same(
        "set",
        write_both!(b, set_setting("meter_free_stories", "many")),
    );
    let s = same("settings", read_both!(b, queries::site_settings()));
    assert_eq!(s.meter_free_stories, 0);

    let e = |s: &str| Email::parse(s).expect("email");
    same(
        "join",
        write_both!(b, join_member(&e("Reader@Example.org"), "site", T0)),
    );
    same(
        "join again",
        write_both!(b, join_member(&e("reader@example.ORG"), "site", T0)),
    );
    // Ids are opaque: PostgreSQL's refused insert above used up a sequence value.
    let (l, p) = write_both!(
        b,
        insert_member(&e("paid@example.org"), "paid", "import", T0)
    );
    assert!(l.is_some() && p.is_some(), "insert: {l:?} / {p:?}");
    same(
        "insert again",
        write_both!(
            b,
            insert_member(&e("PAID@example.org"), "paid", "import", T0)
        ),
    );
    same(
        "members",
        read_both!(b, queries::member_count("members".to_owned())),
    );
    same(
        "paid",
        read_both!(b, queries::member_count("paid".to_owned())),
    );
    let (l, p) = (
        b.lite
            .store
            .read(|c| crate::sqlite::queries::member_count(c, "bogus".into())),
        crate::postgres::queries::member_count(
            &b.pg.client().await.expect("client"),
            "bogus".into(),
        )
        .await,
    );
    assert!(l.is_err() && p.is_err());

    same("no campaign", read_both!(b, queries::active_campaign()));
    let campaign = |pitch: &str, goal| Campaign {
        id: 0,
        pitch: pitch.into(),
        goal,
        metric: "members".into(),
        starts_ms: T0,
        deadline_ms: T0 + 1000 * HOUR,
    };
    same(
        "campaign",
        write_both!(b, insert_campaign(&campaign("First", 100))),
    );
    same(
        "campaign 2",
        write_both!(b, insert_campaign(&campaign("Second", 500))),
    );
    write_both_err!(b, insert_campaign(&campaign("Zero", 0)));
    same("active", read_both!(b, queries::active_campaign()));

    // The change log: same topics and subjects, in the same order.
    let (l, p) = all_changes(&b).await;
    let strip = |v: Vec<Change>| {
        v.into_iter()
            .map(|c| (c.id, c.topic, c.post_id, c.ref_id))
            .collect::<Vec<_>>()
    };
    same("changes", (strip(l), strip(p)));
}

/// Every change each backend logged, read from the beginning by its own
/// reader (SQLite's by id, PostgreSQL's by commit).
async fn all_changes(b: &Both) -> (Vec<Change>, Vec<Change>) {
    let lite = b
        .lite
        .store
        .read(|c| crate::sqlite::queries::changes_since(c, 0, 10_000))
        .expect("sqlite changes");
    let client = b.pg.client().await.expect("a PostgreSQL connection");
    let (pg, _) = super::changes::read(&client, &super::changes::Horizon::beginning(), 10_000)
        .await
        .expect("postgres changes");
    (lite, pg)
}

fn browse(
    resource: crate::sqlite::api::Resource,
    audience: crate::sqlite::api::Audience,
    filter: Option<&str>,
    order: &[(&str, bool)],
    limit: Option<u32>,
    page: u32,
) -> crate::sqlite::api::Browse {
    crate::sqlite::api::Browse {
        resource,
        audience,
        filter: filter.map(|f| {
            masthead_nql::expand_post_shortcuts(masthead_nql::parse(f).expect("a filter"))
        }),
        order: order
            .iter()
            .map(|(field, desc)| crate::sqlite::api::Order {
                field: (*field).to_owned(),
                desc: *desc,
            })
            .collect(),
        limit,
        page,
        now_ms: T0 + 1000 * HOUR,
    }
}

#[tokio::test]
async fn content_and_admin_api_browse_agree() {
    use crate::sqlite::api::{Audience, PostExtras, Resource};
    let b = Both::new("api").await;
    let (a1, _a2, _t1, _t2) = seed(&b).await;
    // Mixed-case titles (order by title ignores ASCII case), featured posts.
    for (id, featured) in [(2, true), (9, true), (14, false)] {
        let x = PostExtras {
            featured: Some(featured),
            feature_image: Some(Some("/media/y/400.png".into())),
            feature_image_alt: Some("Alt".into()),
            feature_image_caption: None,
            tier_ids: None,
        };
        same("extras", write_both!(b, set_post_extras(id, &x)));
    }
    let seo = crate::sqlite::editing::Seo {
        meta_title: "Meta".into(),
        meta_description: String::new(),
        canonical_url: "https://elsewhere.example/".into(),
    };
    same("seo", write_both!(b, set_post_seo(4, &seo)));
    // (resource, audience, filter, order, limit, page)
    type Case<'a> = (
        Resource,
        Audience,
        Option<&'a str>,
        Vec<(&'a str, bool)>,
        Option<u32>,
        u32,
    );
    let cases: Vec<Case> = vec![
        (Resource::Posts, Audience::Content, None, vec![], Some(4), 1),
        (Resource::Posts, Audience::Content, None, vec![], Some(4), 3),
        (
            Resource::Posts,
            Audience::Content,
            Some("tag:city"),
            vec![],
            Some(5),
            2,
        ),
        (
            Resource::Posts,
            Audience::Content,
            Some("tag:-city+featured:true"),
            vec![],
            Some(5),
            1,
        ),
        (
            Resource::Posts,
            Audience::Content,
            Some("featured:true"),
            vec![("title", false)],
            None,
            1,
        ),
        (
            Resource::Posts,
            Audience::Content,
            Some("title:~'STORY-1'"),
            vec![("published_at", false)],
            Some(3),
            2,
        ),
        (
            Resource::Posts,
            Audience::Content,
            Some("title:-~^'title story-2'"),
            vec![("reading_time", true)],
            Some(10),
            1,
        ),
        (
            Resource::Posts,
            Audience::Content,
            Some("published_at:>'2023-11-15 10:00:00'+primary_author:bo"),
            vec![],
            Some(50),
            1,
        ),
        (
            Resource::Posts,
            Audience::Content,
            Some("feature_image:null"),
            vec![("updated_at", true)],
            Some(3),
            1,
        ),
        (
            Resource::Posts,
            Audience::Content,
            Some("feature_image:-null,canonical_url:-null"),
            vec![],
            None,
            1,
        ),
        (
            Resource::Posts,
            Audience::Content,
            Some("id:[000000000000000000000003,5,99]"),
            vec![],
            None,
            1,
        ),
        (
            Resource::Posts,
            Audience::Content,
            Some("authors.slug:[ada,nobody]+tags.name:'Tag arts'"),
            vec![],
            Some(100),
            1,
        ),
        (
            Resource::Posts,
            Audience::Content,
            Some("type:post+kind:brief"),
            vec![],
            None,
            1,
        ),
        (Resource::Pages, Audience::Content, None, vec![], None, 1),
        (Resource::Posts, Audience::Admin, None, vec![], Some(3), 1),
        (
            Resource::Posts,
            Audience::Admin,
            Some("status:[draft,scheduled]"),
            vec![],
            None,
            1,
        ),
        (
            Resource::Posts,
            Audience::Admin,
            None,
            vec![("published_at", false)],
            Some(3),
            1,
        ),
        (
            Resource::Posts,
            Audience::AdminByline(Some(a1)),
            None,
            vec![],
            Some(4),
            2,
        ),
        (
            Resource::Posts,
            Audience::AdminByline(None),
            None,
            vec![],
            Some(4),
            1,
        ),
        (Resource::Tags, Audience::Content, None, vec![], None, 1),
        (
            Resource::Tags,
            Audience::Content,
            Some("visibility:public"),
            vec![("count.posts", true)],
            Some(1),
            2,
        ),
        (
            Resource::Authors,
            Audience::Content,
            None,
            vec![("count.posts", false)],
            Some(1),
            1,
        ),
        (
            Resource::Authors,
            Audience::Content,
            Some("slug:-ada"),
            vec![("name", true)],
            None,
            1,
        ),
    ];
    for (resource, audience, filter, order, limit, page) in cases {
        let what = format!("{resource:?} {audience:?} {filter:?} {order:?} {limit:?} page {page}");
        let q = browse(resource, audience, filter, &order, limit, page);
        match resource {
            Resource::Posts | Resource::Pages => {
                let (l, p) = read_both!(b, api::browse_posts(&q));
                let strip = |pg: crate::sqlite::api::Page<crate::sqlite::api::ApiPost>| {
                    let items: Vec<_> = pg
                        .items
                        .into_iter()
                        .map(|mut x| {
                            assert_eq!(x.uuid.len(), 36);
                            x.uuid.clear();
                            x
                        })
                        .collect();
                    (items, pg.total)
                };
                let (items, total) = same(&what, (strip(l), strip(p)));
                if filter == Some("tag:city") {
                    assert_eq!((items.len(), total), (5, 13), "{what}");
                }
            }
            Resource::Tags => {
                let (l, p) = read_both!(b, api::browse_tags(&q));
                same(&what, ((l.items, l.total), (p.items, p.total)));
            }
            _ => {
                let (l, p) = read_both!(b, api::browse_authors(&q));
                same(&what, ((l.items, l.total), (p.items, p.total)));
            }
        }
    }
    // Bad filters are the same clear errors.
    for bad in [
        "password:x",
        "published_at:>yesterday",
        "featured:maybe",
        "published_at:>null",
    ] {
        let q = browse(
            Resource::Posts,
            Audience::Content,
            Some(bad),
            &[],
            Some(5),
            1,
        );
        let l = b
            .lite
            .store
            .read(|c| crate::sqlite::api::browse_posts(c, &q))
            .map(|_| ());
        let client = b.pg.client().await.expect("client");
        let p = crate::postgres::api::browse_posts(&client, &q)
            .await
            .map(|_| ());
        assert_eq!(format!("{l:?}"), format!("{p:?}"), "{bad}");
        assert!(l.is_err(), "{bad}");
    }
    let q = browse(
        Resource::Posts,
        Audience::Content,
        None,
        &[("password", false)],
        Some(5),
        1,
    );
    let client = b.pg.client().await.expect("client");
    assert!(
        crate::postgres::api::browse_posts(&client, &q)
            .await
            .is_err()
    );

    // Keys.
    same(
        "content key",
        write_both!(
            b,
            insert_api_key(ApiKeyKind::Content, "Site", "c0ffee", None, None, T0)
        ),
    );
    same(
        "admin key",
        write_both!(
            b,
            insert_api_key(ApiKeyKind::Admin, "CMS", "abc", Some("secret"), None, T0)
        ),
    );
    write_both_err!(
        b,
        insert_api_key(ApiKeyKind::Content, "Dup", "c0ffee", None, None, T0)
    );
    write_both_err!(
        b,
        insert_api_key(ApiKeyKind::Admin, "No secret", "def", None, None, T0)
    );
    same("touch", write_both!(b, touch_api_key(1, T0 + 1000)));
    same("touch soon", write_both!(b, touch_api_key(1, T0 + 2000)));
    same("revoke", write_both!(b, revoke_api_key(2, T0)));
    write_both_err!(b, revoke_api_key(2, T0));
    same("keys", read_both!(b, api::api_keys()));
    same(
        "live",
        read_both!(b, api::live_key(ApiKeyKind::Content, "c0ffee".to_owned())),
    );
    same(
        "revoked",
        read_both!(b, api::live_key(ApiKeyKind::Admin, "abc".to_owned())),
    );

    // Members through the Admin API.
    let e = |s: &str| Email::parse(s).expect("email");
    same(
        "add",
        write_both!(b, add_member(&e("one@example.org"), "One", T0)),
    );
    same(
        "add 2",
        write_both!(b, add_member(&e("two@example.org"), "", T0 + 1)),
    );
    write_both_err!(b, add_member(&e("ONE@example.org"), "Again", T0));
    same(
        "update",
        write_both!(
            b,
            update_member(2, Some(&e("Deux@example.org")), Some("Deux"))
        ),
    );
    write_both_err!(b, update_member(2, Some(&e("one@example.org")), None));
    write_both_err!(b, update_member(99, None, Some("x")));
    same("member", read_both!(b, api::member(2)));
    for (filter, order) in [
        (None, vec![]),
        (Some("email:~'example'"), vec![("name", false)]),
        (Some("status:free+created_at:<=now"), vec![("email", true)]),
    ] {
        let q = browse(
            Resource::Members,
            Audience::Admin,
            filter,
            &order,
            Some(1),
            2,
        );
        let (l, p) = read_both!(b, api::browse_members(&q));
        same("members", ((l.items, l.total), (p.items, p.total)));
    }

    // Deleting: a tag (primary tags move on) and a post.
    same(
        "tag or create",
        write_both!(b, tag_by_slug_or_create("city", "City")),
    );
    same(
        "tag created",
        write_both!(b, tag_by_slug_or_create("new-tag", "New")),
    );
    same("delete tag", write_both!(b, delete_tag(1)));
    write_both_err!(b, delete_tag(1));
    same("delete post", write_both!(b, delete_post(3)));
    write_both_err!(b, delete_post(3));
    let q = browse(Resource::Posts, Audience::Admin, None, &[], None, 1);
    let (l, p) = read_both!(b, api::browse_posts(&q));
    let strip = |v: Vec<crate::sqlite::api::ApiPost>| {
        v.into_iter()
            .map(|x| (x.id, x.tags.iter().map(|t| t.id).collect::<Vec<_>>()))
            .collect::<Vec<_>>()
    };
    same("after deletes", (strip(l.items), strip(p.items)));
    same("refs after", read_both!(b, queries::post_refs(2)));
}

#[tokio::test]
async fn staff_sessions_throttles_and_the_desk_agree() {
    use crate::sqlite::staff::PostFilter;
    use masthead_domain::Role;
    let b = Both::new("staff").await;
    let (_a1, a2, t1, _t2) = seed(&b).await;
    let user = |email: &str, name: &str, role| NewStaffUser {
        email: Email::parse(email).expect("email"),
        name: name.into(),
        role,
        password_hash: format!("hash-of-{email}"),
        author_id: None,
    };
    same("no owner", read_both!(b, staff::owner_exists()));
    let owner = same(
        "owner",
        write_both!(
            b,
            insert_staff_user(&user("Boss@Example.org", "Ann Lee", Role::Owner))
        ),
    );
    let editor = same(
        "editor",
        write_both!(
            b,
            insert_staff_user(&user("ed@example.org", "Ann Lee", Role::Editor))
        ),
    );
    same(
        "third",
        write_both!(
            b,
            insert_staff_user(&user("ann3@example.org", "Ann Lee", Role::Author))
        ),
    );
    write_both_err!(
        b,
        insert_staff_user(&user("boss@EXAMPLE.org", "Again", Role::Author))
    );
    let bylines = same("byline slugs", read_both!(b, staff::all_authors_and_tags()));
    let slugs: Vec<&str> = bylines.0.iter().map(|a| a.1.as_str()).collect();
    assert!(
        slugs.contains(&"ann-lee") && slugs.contains(&"ann-lee-2") && slugs.contains(&"ann-lee-3"),
        "{slugs:?}"
    );
    same(
        "signin",
        read_both!(b, staff::staff_for_signin("boss@example.org".to_owned())),
    );
    same(
        "no such",
        read_both!(b, staff::staff_for_signin("nobody@example.org".to_owned())),
    );
    same("users", read_both!(b, staff::staff_users()));
    same("user", read_both!(b, staff::staff_user(editor)));
    same("owner now", read_both!(b, staff::owner_exists()));

    // Sessions.
    let token = b"0123456789abcdef0123456789abcdef".to_vec();
    same(
        "session",
        write_both!(b, insert_session(&token, editor, "csrf", T0, T0 + HOUR)),
    );
    same(
        "found",
        read_both!(b, staff::session(token.clone(), T0 + 1)),
    );
    same(
        "expired",
        read_both!(b, staff::session(token.clone(), T0 + HOUR)),
    );
    write_both_err!(b, insert_session(&token, owner, "csrf2", T0, T0 + HOUR));
    same(
        "deactivate",
        write_both!(b, set_staff_active(editor, false)),
    );
    same(
        "gone with the account",
        read_both!(b, staff::session(token.clone(), T0 + 1)),
    );
    same("reactivate", write_both!(b, set_staff_active(editor, true)));
    same(
        "session 2",
        write_both!(b, insert_session(&token, editor, "csrf", T0, T0 + HOUR)),
    );
    same("sign out", write_both!(b, delete_session(&token)));
    same("everywhere", write_both!(b, delete_sessions_of(editor)));

    // The last owner stays.
    write_both_err!(b, set_staff_role(owner, Role::Editor));
    write_both_err!(b, set_staff_active(owner, false));
    write_both_err!(b, set_staff_role(999, Role::Editor));
    same(
        "second owner",
        write_both!(b, set_staff_role(editor, Role::Owner)),
    );
    same(
        "now the first may go",
        write_both!(b, set_staff_role(owner, Role::Editor)),
    );
    same(
        "password",
        write_both!(b, set_password_hash(owner, "new-hash")),
    );
    same(
        "after",
        read_both!(b, staff::staff_for_signin("boss@example.org".to_owned())),
    );

    // Throttles: at most 3 per key within the window.
    let limits = [
        Limit::new("signin-ip:203.0.113.9", 3, 60_000),
        Limit::new("signin-acct:1", 5, 60_000),
    ];
    let mut recorded = Vec::new();
    for i in 0..5 {
        let got = same("attempt", write_both!(b, throttle(&limits, T0 + i)));
        if let Ok(ids) = got {
            recorded.push(ids);
        }
    }
    assert_eq!(recorded.len(), 3, "the fourth attempt is refused");
    same("forget one", write_both!(b, forget_attempt(&recorded[0])));
    assert!(same("one more", write_both!(b, throttle(&limits, T0 + 10))).is_ok());
    assert_eq!(
        same("full again", write_both!(b, throttle(&limits, T0 + 11))),
        Err(0)
    );
    // Event ids are opaque: SQLite reuses rowids once the table has emptied
    // (no AUTOINCREMENT), an identity never does.
    let (l, p) = write_both!(b, throttle(&limits, T0 + 70_000));
    assert_eq!(
        same("window passed", (l.map(|v| v.len()), p.map(|v| v.len()))),
        Ok(2)
    );
    same(
        "clear",
        write_both!(b, clear_throttle("signin-ip:203.0.113.9")),
    );

    // One-time tokens.
    let ott = b"token-hash".to_vec();
    same(
        "ott",
        write_both!(
            b,
            insert_one_time_token(&ott, "reset", Some(owner), T0, T0 + HOUR)
        ),
    );
    write_both_err!(
        b,
        insert_one_time_token(&ott, "invite", None, T0, T0 + HOUR)
    );
    same(
        "valid",
        read_both!(b, staff::one_time_token_valid(ott.clone(), "reset", T0)),
    );
    same(
        "wrong purpose",
        read_both!(b, staff::one_time_token_valid(ott.clone(), "setup", T0)),
    );
    same(
        "use",
        write_both!(b, use_one_time_token(&ott, "reset", T0 + 1)),
    );
    same(
        "used",
        write_both!(b, use_one_time_token(&ott, "reset", T0 + 2)),
    );
    same(
        "spent",
        read_both!(b, staff::one_time_token_valid(ott.clone(), "reset", T0)),
    );

    // The desk's list.
    for f in [
        PostFilter::default(),
        PostFilter {
            status: Some(PostStatus::Draft),
            ..PostFilter::default()
        },
        PostFilter {
            kind: Some(PostKind::Brief),
            author_id: Some(a2),
            ..PostFilter::default()
        },
        PostFilter {
            tag_id: Some(t1),
            title: Some("STORY-1".into()),
            ..PostFilter::default()
        },
        PostFilter {
            title: Some("100%_".into()),
            ..PostFilter::default()
        },
    ] {
        same(
            &format!("desk {f:?}"),
            read_both!(b, staff::desk_posts(f.clone(), 7)),
        );
    }
    same("ownership", read_both!(b, staff::post_kind_and_authors(1)));
    same("no post", read_both!(b, staff::post_kind_and_authors(999)));

    // Live entries edited from the console.
    let live = same(
        "live",
        write_both!(
            b,
            insert_post(&new_post("live", PostKind::Live, PostStatus::Published, T0))
        ),
    );
    let e = NewLiveEntry {
        post_id: live,
        title: "First".into(),
        body_source: "a".into(),
        body_html: "<p>a</p>".into(),
        pinned: false,
        created_ms: T0,
    };
    let entry = same("entry", write_both!(b, add_live_entry(&e)));
    same("belongs", write_both!(b, live_entry_belongs(entry, live)));
    same("not", write_both!(b, live_entry_belongs(entry, 1)));
    same(
        "edit",
        write_both!(b, update_live_entry(entry, "Pinned", "b", "<p>b</p>", true)),
    );
    same(
        "edit missing",
        write_both!(b, update_live_entry(999, "x", "x", "x", false)),
    );
    let (mut l, mut p) = read_both!(b, queries::live_entries(live));
    l[0].updated_ms = 0;
    p[0].updated_ms = 0;
    same("edited", (l, p));
    same("delete", write_both!(b, delete_live_entry(entry)));
    same("delete again", write_both!(b, delete_live_entry(entry)));
}

/// Spawns a task that runs `w.method(args…)` in a transaction of its own.
/// (Spelled out rather than through `PgStore::write`: a future that calls an
/// async closure over a borrowed writer cannot be proven `Send` today, and
/// `tokio::spawn` needs that.)
macro_rules! spawn_write {
    ($pg:expr, $f:ident ( $($arg:expr),* $(,)? )) => {{
        let pg = $pg.clone();
        tokio::spawn(async move {
            let mut client = pg.client().await?;
            let tx = client.transaction().await?;
            let value = {
                let w = super::PgWriter::new(&tx);
                w.$f($($arg),*).await?
            };
            tx.commit().await?;
            Ok::<_, crate::error::StoreError>(value)
        })
    }};
}

/// PostgreSQL runs writers side by side: what SQLite's single writer
/// guaranteed must still hold when transactions race.
#[tokio::test]
async fn racing_transactions_keep_the_rules() {
    use masthead_domain::Role;
    let db = TestDb::new("races").await;
    let pg = db.migrated().await;
    // Throttle: 12 racing attempts against a limit of 4: exactly 4 pass.
    // (Half through `write_send`, which a spawned task can use.)
    let limits = vec![Limit::new("join-ip:198.51.100.7", 4, 60_000)];
    let mut tasks = Vec::new();
    for i in 0..12 {
        let limits = limits.clone();
        if i % 2 == 0 {
            tasks.push(spawn_write!(pg, throttle(&limits, T0)));
        } else {
            let pg = pg.clone();
            tasks.push(tokio::spawn(async move {
                pg.write_send(|w| Box::pin(async move { w.throttle(&limits, T0).await }))
                    .await
            }));
        }
    }
    let mut passed = 0;
    for t in tasks {
        if t.await.expect("task").expect("throttle").is_ok() {
            passed += 1;
        }
    }
    assert_eq!(passed, 4);

    // Two owners demoting each other at once: one of them stays owner.
    let user = |email: &str| NewStaffUser {
        email: Email::parse(email).expect("email"),
        name: email.into(),
        role: Role::Owner,
        password_hash: String::new(),
        author_id: None,
    };
    let (one, two) = pg
        .write(async |w| {
            Ok((
                w.insert_staff_user(&user("one@example.org")).await?,
                w.insert_staff_user(&user("two@example.org")).await?,
            ))
        })
        .await
        .expect("owners");
    let (x, y) = (
        spawn_write!(pg, set_staff_role(one, Role::Editor)),
        spawn_write!(pg, set_staff_role(two, Role::Editor)),
    );
    let results = [x.await.expect("task"), y.await.expect("task")];
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    let client = pg.client().await.expect("client");
    assert!(
        crate::postgres::staff::owner_exists(&client)
            .await
            .expect("owner")
    );

    // Scheduled posts published by racing schedulers: each once, with one
    // webhook delivery each.
    pg.write(async |w| {
        w.insert_webhook("post.published", "https://hooks.example/", "h", "s", T0)
            .await?;
        for i in 0..5 {
            w.insert_post(&new_post(
                &format!("s{i}"),
                PostKind::Article,
                PostStatus::Scheduled,
                T0 + i,
            ))
            .await?;
        }
        Ok(())
    })
    .await
    .expect("seed");
    let mut tasks = Vec::new();
    for _ in 0..6 {
        tasks.push(spawn_write!(pg, publish_due(T0 + 10)));
    }
    let mut published = Vec::new();
    for t in tasks {
        published.extend(t.await.expect("task").expect("publish_due"));
    }
    published.sort_unstable();
    assert_eq!(published, [1, 2, 3, 4, 5], "each post once");
    let deliveries = crate::postgres::webhooks::recent_deliveries(&client, 100)
        .await
        .expect("deliveries");
    assert_eq!(deliveries.len(), 5, "one delivery per publication");

    // Instances claiming deliveries at once never take the same one.
    let mut tasks = Vec::new();
    for _ in 0..4 {
        tasks.push(spawn_write!(pg, claim_due_deliveries(i64::MAX, 2, 60_000)));
    }
    let mut claimed = Vec::new();
    for t in tasks {
        claimed.extend(
            t.await
                .expect("task")
                .expect("claim")
                .into_iter()
                .map(|d| d.delivery.id),
        );
    }
    claimed.sort_unstable();
    assert_eq!(claimed, [1, 2, 3, 4, 5], "each delivery claimed once");

    // Two saves from the same version: one lands, the other is a conflict.
    let editable = crate::postgres::editing::editable_post(&client, 1)
        .await
        .expect("read")
        .expect("post");
    let mut a = edit_of(&editable);
    a.title = "Saved by A".into();
    let mut b = edit_of(&editable);
    b.title = "Saved by B".into();
    let version = editable.updated_ms;
    let (x, y) = (
        spawn_write!(pg, save_post(1, version, &a, None, T0 + 100)),
        spawn_write!(pg, save_post(1, version, &b, None, T0 + 100)),
    );
    let results = [x.await.expect("task"), y.await.expect("task")];
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(
        results
            .iter()
            .any(|r| matches!(r, Err(crate::error::StoreError::Conflict(_)))),
        "{results:?}"
    );
}

fn edit_of(p: &crate::sqlite::editing::EditablePost) -> crate::sqlite::editing::PostEdit {
    crate::sqlite::editing::PostEdit {
        title: p.title.clone(),
        dek: p.dek.clone(),
        slug: p.slug.clone(),
        body_source: p.body_source.clone(),
        body_html: format!("<p>{}</p>", p.body_source),
        word_count: 3,
        reading_minutes: 1,
        status: p.status,
        published_ms: p.published_ms,
        tag_ids: None,
        author_ids: None,
        seo: None,
        feature: None,
        visibility: None,
        tier_ids: None,
        video_embed: None,
        autosave: false,
    }
}

/// Deliveries as both backends should have them (times are wall-clock).
fn deliveries(
    v: Vec<crate::sqlite::webhooks::Delivery>,
) -> Vec<(i64, i64, String, i64, String, u32)> {
    v.into_iter()
        .map(|d| {
            (
                d.id,
                d.webhook_id,
                d.event,
                d.subject_id,
                d.status,
                d.attempts,
            )
        })
        .collect()
}

#[tokio::test]
async fn editing_media_webhooks_and_export_agree() {
    use crate::sqlite::editing::{FeatureChoice, FeatureEdit, Seo};
    use crate::sqlite::media::{MediaDetails, NewMedia};
    use crate::sqlite::transfer::ImportFields;
    use crate::sqlite::webhooks::Outcome;
    use masthead_domain::Role;
    let b = Both::new("editing").await;
    // Webhooks first: every write below that SQLite's triggers watch must
    // enqueue the same deliveries on PostgreSQL.
    for event in masthead_model::WEBHOOK_EVENTS {
        same(
            "hook",
            write_both!(
                b,
                insert_webhook(event, "https://hooks.example/in", "Hook", "s3cret", T0)
            ),
        );
    }
    write_both_err!(
        b,
        insert_webhook("post.deleted", "https://hooks.example/in", "Hook", "s", T0)
    );
    same("hooks", read_both!(b, webhooks::webhooks()));
    let (a1, a2, t1, t2) = seed(&b).await;
    let staff = same(
        "staff",
        write_both!(
            b,
            insert_staff_user(&NewStaffUser {
                email: Email::parse("ed@example.org").expect("email"),
                name: "Ed Itor".into(),
                role: Role::Editor,
                password_hash: String::new(),
                author_id: Some(a1),
            })
        ),
    );

    // Editing a draft through to publication, with a collision on the way.
    let draft_id = 26;
    let draft = same("editable", read_both!(b, editing::editable_post(draft_id))).expect("draft");
    let mut edit = edit_of(&draft);
    edit.body_source = "First words".into();
    edit.autosave = true;
    let v1 = same(
        "autosave",
        write_both!(
            b,
            save_post(draft_id, draft.updated_ms, &edit, Some(staff), T0 + 1000)
        ),
    );
    edit.body_source = "More words".into();
    let v2 = same(
        "autosave 2",
        write_both!(b, save_post(draft_id, v1, &edit, Some(staff), T0 + 2000)),
    );
    same(
        "one autosave revision",
        read_both!(b, editing::revisions(draft_id)),
    );
    write_both_err!(b, save_post(draft_id, v1, &edit, Some(staff), T0 + 3000));
    write_both_err!(b, save_post(999, v1, &edit, Some(staff), T0 + 3000));
    let mut taken = edit.clone();
    taken.slug = "story-3".into();
    write_both_err!(b, save_post(draft_id, v2, &taken, Some(staff), T0 + 3000));
    let media = NewMedia {
        key: "abc123".into(),
        filename: "tram.jpg".into(),
        format: "jpeg".into(),
        width: 1600,
        height: 1200,
        bytes: 123_456,
        widths: vec![400, 800, 1600],
        fallback: "jpg".into(),
        uploaded_by: Some(staff),
        now: T0,
    };
    let (m1, fresh) = same("media", write_both!(b, insert_media(&media)));
    assert!(fresh);
    assert_eq!(
        same("again", write_both!(b, insert_media(&media))),
        (m1, false)
    );
    let words = MediaDetails {
        alt: "A tram".into(),
        caption: "Trams return".into(),
        photographer: "Ann".into(),
        agency: "PA".into(),
    };
    same(
        "media words",
        write_both!(b, update_media_details(m1, &words, T0 + 5)),
    );
    write_both_err!(b, update_media_details(999, &words, T0 + 5));
    let mut publish = edit.clone();
    publish.autosave = false;
    publish.status = PostStatus::Published;
    publish.published_ms = Some(T0 + 50 * HOUR);
    publish.tag_ids = Some(vec![t2, t1]);
    publish.author_ids = Some(vec![a2]);
    publish.seo = Some(Seo {
        meta_title: "M".into(),
        meta_description: String::new(),
        canonical_url: String::new(),
    });
    publish.feature = Some(FeatureEdit {
        choice: FeatureChoice::Media(m1),
        words: words.clone(),
    });
    publish.visibility = Some(Visibility::Members);
    publish.video_embed = Some("https://www.youtube.com/watch?v=x".into());
    let v3 = same(
        "publish",
        write_both!(b, save_post(draft_id, v2, &publish, Some(staff), T0 + 4000)),
    );
    let mut renamed = publish.clone();
    renamed.slug = "renamed".into();
    renamed.feature = Some(FeatureEdit {
        choice: FeatureChoice::Keep,
        words: MediaDetails::default(),
    });
    let v4 = same(
        "rename",
        write_both!(b, save_post(draft_id, v3, &renamed, Some(staff), T0 + 5000)),
    );
    same(
        "redirect",
        read_both!(b, editing::redirect_for("draft".to_owned())),
    );
    same(
        "editable after",
        read_both!(b, editing::editable_post(draft_id)),
    );
    let mut unpublish = renamed.clone();
    unpublish.status = PostStatus::Draft;
    unpublish.feature = Some(FeatureEdit {
        choice: FeatureChoice::Remove,
        words: MediaDetails::default(),
    });
    same(
        "unpublish",
        write_both!(b, save_post(draft_id, v4, &unpublish, None, T0 + 6000)),
    );
    same("revisions", read_both!(b, editing::revisions(draft_id)));
    same("media item", read_both!(b, media::media_item(m1)));
    same("media page", read_both!(b, media::media_page(None, 10)));

    // Review.
    same(
        "submit",
        write_both!(b, review(draft_id, staff, "submitted", "Please look", T0)),
    );
    same(
        "comment",
        write_both!(b, review(draft_id, staff, "comment", "Hm", T0 + 1)),
    );
    write_both_err!(b, review(draft_id, staff, "rejected", "", T0));
    write_both_err!(b, review(999, staff, "comment", "", T0));
    same("state", read_both!(b, editing::review_state(draft_id)));
    same("notes", read_both!(b, editing::review_notes(draft_id)));
    same("queue", read_both!(b, editing::review_queue()));

    // More writes the triggers watch: a live entry, the scheduler, members,
    // an import's fields.
    let live = same(
        "live",
        write_both!(
            b,
            insert_post(&new_post("live", PostKind::Live, PostStatus::Published, T0))
        ),
    );
    let entry = NewLiveEntry {
        post_id: live,
        title: "Now".into(),
        body_source: String::new(),
        body_html: String::new(),
        pinned: false,
        created_ms: T0 + HOUR,
    };
    same("entry", write_both!(b, add_live_entry(&entry)));
    same(
        "older entry: no update",
        write_both!(
            b,
            add_live_entry(&NewLiveEntry {
                created_ms: T0,
                ..entry.clone()
            })
        ),
    );
    same("due", write_both!(b, publish_due(T0 + 200 * HOUR)));
    let e = |s: &str| Email::parse(s).expect("email");
    same(
        "join",
        write_both!(b, join_member(&e("r@example.org"), "site", T0)),
    );
    same(
        "api member",
        write_both!(b, add_member(&e("api@example.org"), "Api", T0)),
    );
    // (After a refused insert the ids part: PostgreSQL's `ON CONFLICT DO
    // NOTHING` spends an identity value, SQLite spends no rowid.)
    same(
        "join again",
        write_both!(b, join_member(&e("R@example.org"), "site", T0)),
    );
    same(
        "name",
        write_both!(b, set_member_name("api@example.org", "Renamed")),
    );
    let import = ImportFields {
        uuid: Some("0b3c5d4e-1111-4222-8333-444455556666".into()),
        created_ms: T0 - HOUR,
        updated_ms: T0 + 7 * HOUR,
        featured: true,
        canonical_url: None,
        meta_title: Some("Imported".into()),
        meta_description: None,
        feature_image_alt: String::new(),
        feature_image_caption: String::new(),
        photographer: String::new(),
        agency: String::new(),
    };
    same(
        "import fields",
        write_both!(b, set_import_fields(5, &import)),
    );
    same(
        "import fields, same uuid elsewhere",
        write_both!(b, set_import_fields(6, &import)),
    );
    same(
        "avatar",
        write_both!(b, set_author_avatar(a2, Some("/media/a.png"))),
    );
    same("tag id", write_both!(b, tag_id_by_slug("arts")));
    same("author id", write_both!(b, author_id_by_slug("nobody")));

    let (l, p) = read_both!(b, webhooks::recent_deliveries(500));
    let log = same("deliveries", (deliveries(l), deliveries(p)));
    let count = |event: &str| log.iter().filter(|d| d.2 == event).count();
    // Published: 25 seeded posts, the page, the draft, the live post, the
    // scheduled one. Updated: the rename, the newer live entry (the older
    // one leaves `updated_at`), two imports. Unpublished: the draft again.
    assert_eq!(
        (
            count("post.published"),
            count("post.updated"),
            count("post.unpublished"),
            count("member.added")
        ),
        (29, 4, 1, 2),
        "{log:?}"
    );

    // Delivering: claimed under a lease (counting the attempt), recorded
    // while it is held, handed back, taken over once it ends.
    let claim = |v: &[crate::sqlite::webhooks::Due]| {
        v.iter()
            .map(|d| {
                let owner = d.delivery.lease_owner.as_deref().unwrap_or("");
                (
                    d.delivery.id,
                    d.delivery.status.clone(),
                    d.delivery.attempts,
                    owner == crate::lease::owner() && d.delivery.lease_until_ms.is_some(),
                    d.lease_token.len(),
                    d.target_url.clone(),
                    d.secret.clone(),
                )
            })
            .collect::<Vec<_>>()
    };
    // `record_attempt` under each backend's own lease token.
    macro_rules! record_both {
        ($l:expr, $p:expr, $id:expr, $code:expr, $err:expr, $outcome:expr) => {{
            let lite = b
                .lite
                .store
                .write(|w| w.record_attempt($id, &$l, $code, $err, $outcome, T0))
                .expect("sqlite record_attempt");
            let pg =
                b.pg.write(async |w| w.record_attempt($id, &$p, $code, $err, $outcome, T0).await)
                    .await
                    .expect("postgres record_attempt");
            (lite, pg)
        }};
    }
    let (l, p) = write_both!(b, claim_due_deliveries(i64::MAX, 3, 60_000));
    let claimed = same("claim", (claim(&l), claim(&p)));
    assert!(
        claimed.iter().all(|c| c.1 == "sending" && c.2 == 1 && c.3),
        "{claimed:?}"
    );
    let (lt, pt) = (l[0].lease_token.clone(), p[0].lease_token.clone());
    assert!(l.iter().all(|d| d.lease_token == lt), "one lease per claim");
    let stranger = "0".repeat(32);
    assert!(
        !same(
            "another's token",
            record_both!(
                stranger,
                stranger,
                claimed[0].0,
                Some(200),
                None,
                Outcome::Delivered
            )
        ),
        "only the holder records"
    );
    assert!(same(
        "delivered",
        record_both!(lt, pt, claimed[0].0, Some(200), None, Outcome::Delivered)
    ));
    assert!(same(
        "retry",
        record_both!(
            lt,
            pt,
            claimed[1].0,
            None,
            Some("could not connect to the receiver"),
            Outcome::Retry(T0 + 60_000)
        )
    ));
    assert!(same(
        "gave up",
        record_both!(
            lt,
            pt,
            claimed[2].0,
            Some(500),
            Some("the request failed: boom"),
            Outcome::GaveUp
        )
    ));
    assert!(
        !same(
            "recorded twice",
            record_both!(lt, pt, claimed[2].0, None, None, Outcome::Delivered)
        ),
        "a lease ends with its outcome"
    );
    same(
        "causes",
        write_both!(b, forget_failure_causes("unreachable")),
    );
    let (l, p) = write_both!(b, claim_due_deliveries(i64::MAX, 2, 60_000));
    let claimed_2 = same("claim 2", (claim(&l), claim(&p)));
    let (lt, pt) = (l[0].lease_token.clone(), p[0].lease_token.clone());
    // Held: a claim now finds other deliveries, never these.
    let (l2, p2) = write_both!(b, claim_due_deliveries(i64::MAX, 500, 60_000));
    let others = same("claim the rest", (claim(&l2), claim(&p2)));
    assert!(others.iter().all(|o| claimed_2.iter().all(|c| c.0 != o.0)));
    assert_eq!(
        same(
            "hand back",
            (
                b.lite
                    .store
                    .write(|w| w.release_deliveries(&lt))
                    .expect("sqlite"),
                b.pg.write(async |w| w.release_deliveries(&pt).await)
                    .await
                    .expect("postgres"),
            )
        ),
        2
    );
    // Handed back, they are the next claim's at once.
    let (l, p) = write_both!(b, claim_due_deliveries(i64::MAX, 2, 1));
    assert_eq!(
        same("claim again", (claim(&l), claim(&p)))[0].0,
        claimed_2[0].0
    );
    let (old_l, old_p) = (l[0].lease_token.clone(), p[0].lease_token.clone());
    // A lease of 1 ms ends at once: the next claim takes both over, and the
    // old holder's outcome is refused.
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let (l, p) = write_both!(b, claim_due_deliveries(i64::MAX, 2, 60_000));
    let taken_over = same("take over", (claim(&l), claim(&p)));
    assert_eq!(
        taken_over.iter().map(|t| (t.0, t.2)).collect::<Vec<_>>(),
        claimed_2.iter().map(|c| (c.0, c.2 + 2)).collect::<Vec<_>>(),
        "the same deliveries, each claim counting an attempt"
    );
    assert!(!same(
        "the old holder",
        record_both!(
            old_l,
            old_p,
            taken_over[0].0,
            Some(200),
            None,
            Outcome::Delivered
        )
    ));
    let (nl, np) = (l[0].lease_token.clone(), p[0].lease_token.clone());
    assert!(same(
        "the new holder",
        record_both!(nl, np, taken_over[0].0, Some(200), None, Outcome::Delivered)
    ));
    same("deactivate", write_both!(b, deactivate_webhook(1)));
    write_both_err!(b, deactivate_webhook(1));
    let (l, p) = read_both!(b, webhooks::recent_deliveries(500));
    let full = |v: Vec<crate::sqlite::webhooks::Delivery>| {
        v.into_iter()
            .map(|d| {
                (
                    d.id,
                    d.status,
                    d.attempts,
                    d.last_status,
                    d.last_error,
                    d.finished_ms,
                    d.next_attempt_ms.min(T0 + 60_000) == T0 + 60_000,
                )
            })
            .collect::<Vec<_>>()
    };
    same("delivery log", (full(l), full(p)));

    // The export.
    let (l, p) = read_both!(b, transfer::everything());
    let strip = |mut e: crate::sqlite::transfer::Everything| {
        for post in &mut e.posts {
            if post.id != 5 {
                assert_eq!(post.uuid.len(), 36);
                post.uuid.clear();
            }
        }
        (
            e.posts,
            e.tags,
            e.authors,
            e.members
                .into_iter()
                .map(|m| (m.id, m.email, m.name, m.status, m.created_ms))
                .collect::<Vec<_>>(),
        )
    };
    let (posts, _, _, _) = same("export", (strip(l), strip(p)));
    assert_eq!(posts[4].uuid, "0b3c5d4e-1111-4222-8333-444455556666");
}

/// The operations' futures are `Send`, so that a server can run them on
/// tokio's worker threads (a compile-time check; it runs nothing).
#[allow(dead_code, clippy::too_many_arguments)]
fn operations_are_send(
    c: &deadpool_postgres::Object,
    w: &super::PgWriter<'_>,
    b: &crate::sqlite::api::Browse,
    post: &NewPost,
    edit: &crate::sqlite::editing::PostEdit,
    user: &NewStaffUser,
    import: &crate::sqlite::transfer::ImportFields,
    new_media: &crate::sqlite::media::NewMedia,
) {
    fn send<T: Send>(_: T) {}
    use crate::postgres::{api, editing, media, queries, staff, taxonomy, transfer, webhooks};
    send(queries::feed(c, FeedScope::All, None, 1));
    send(queries::published_post_by_slug(c, String::new()));
    send(queries::feed_posts(c, FeedScope::All, 1));
    send(queries::live_page(c, 1, None, 1));
    send(queries::site_settings(c));
    send(super::changes::read(
        c,
        &super::changes::Horizon::beginning(),
        1,
    ));
    send(api::browse_posts(c, b));
    send(api::browse_tags(c, b));
    send(api::browse_members(c, b));
    send(staff::session(c, Vec::new(), 0));
    send(staff::desk_posts(c, Default::default(), 1));
    send(editing::editable_post(c, 1));
    send(media::media_page(c, None, 1));
    send(taxonomy::editable_tags(c));
    send(transfer::everything(c));
    send(webhooks::recent_deliveries(c, 1));
    send(w.insert_post(post));
    send(w.save_post(1, 1, edit, None, 0));
    send(w.throttle(&[], 0));
    send(w.insert_staff_user(user));
    send(w.claim_due_deliveries(0, 1, 1));
    send(w.set_import_fields(1, import));
    send(w.tag_by_slug_or_create("a", "a"));
    send(w.insert_media(new_media));
}

/// The listings are keyset scans of their partial indexes on PostgreSQL too
/// (as `sqlite::tests::listing_queries_use_their_indexes` checks for SQLite):
/// on a realistically spread table the planner reads each listing's index
/// in order, with no sort step, and the scheduler reads `posts_scheduled`.
#[tokio::test]
async fn listings_and_the_scheduler_use_their_indexes() {
    let db = TestDb::new("plans").await;
    let pg = db.migrated().await;
    // A realistic spread, so that the planner's choice means something:
    // 5,000 posts over 20 tags and 20 bylines (byline 3 on a third of
    // them, as a busy reporter's), a few drafts and scheduled.
    let client = pg.client().await.expect("client");
    client
        .batch_execute(
            "INSERT INTO authors (slug, name, created_at)
               SELECT 'a' || i, 'A' || i, 0 FROM generate_series(1, 20) i;
             INSERT INTO tags (slug, name, is_section, created_at)
               SELECT 't' || i, 'T' || i, i <= 5, 0 FROM generate_series(1, 20) i;
             INSERT INTO posts (kind, slug, title, status, primary_tag_id, created_at, updated_at, published_at, uuid)
               SELECT CASE WHEN i % 10 = 0 THEN 'brief' ELSE 'article' END, 'p' || i, 'P' || i,
                      CASE WHEN i % 50 = 0 THEN 'draft' WHEN i % 49 = 0 THEN 'scheduled' ELSE 'published' END,
                      1 + i % 20, 1700000000000 + i, 1700000000000 + i, 1700000000000 + i, gen_random_uuid()::text
               FROM generate_series(1, 5000) i;
             INSERT INTO post_tags (post_id, tag_id, position, published_at)
               SELECT id, primary_tag_id, 0, CASE WHEN status = 'published' THEN published_at END FROM posts;
             INSERT INTO post_authors (post_id, author_id, position, published_at)
               SELECT id, CASE WHEN id % 3 = 0 THEN 3 ELSE 1 + id % 20 END, 0,
                      CASE WHEN status = 'published' THEN published_at END FROM posts;
             ANALYZE;",
        )
        .await
        .expect("seed");
    let (a, t) = (3, 4);
    let cursor = FeedCursor {
        published_ms: T0 + 2000,
        id: 2000,
    };
    for (scope, index) in [
        (FeedScope::All, "posts_feed"),
        (FeedScope::Section(t), "posts_section"),
        (FeedScope::Kind(PostKind::Brief), "posts_kind"),
        (FeedScope::Tag(t), "post_tags_feed"),
        (FeedScope::Author(a), "post_authors_feed"),
    ] {
        let plan = crate::postgres::queries::feed_plan(&client, scope, cursor)
            .await
            .expect("plan");
        assert!(
            plan.contains(index),
            "{scope:?} should read {index}:\n{plan}"
        );
        assert!(!plan.contains("Sort"), "{scope:?} should not sort:\n{plan}");
        // And a connection plans each listing once: after the planner's
        // five trial runs with the values, it keeps the generic plan
        // instead of planning every page afresh.
        for _ in 0..8 {
            crate::postgres::queries::feed(&client, scope, Some(cursor), 20)
                .await
                .expect("feed");
        }
        let (custom, generic) = crate::postgres::queries::feed_plan_counts(&client, scope, 21)
            .await
            .expect("plan counts");
        assert!(
            custom <= 5 && generic >= 3,
            "{scope:?} should keep its generic plan: {custom} custom, {generic} generic"
        );
    }
    let plan: Vec<String> = client
        .query(
            format!("EXPLAIN {}", super::write::PUBLISH_DUE_SQL).as_str(),
            &[&T0],
        )
        .await
        .expect("explain")
        .iter()
        .map(|r| r.get(0))
        .collect();
    let plan = plan.join("\n");
    assert!(
        plan.contains("posts_scheduled"),
        "the scheduler reads posts_scheduled:\n{plan}"
    );
}

mod filters {
    //! Random Content/Admin API filters, orders and pages give the same
    //! results on both backends (case-insensitive matching, LIKE escapes,
    //! NULLs, relations, dates, ordering).

    use proptest::prelude::*;

    use super::*;
    use crate::sqlite::api::{Audience, Resource};

    fn condition() -> impl Strategy<Value = String> {
        let text = prop::sample::select(vec![
            "story-1", "STORY", "Title", "1", "%", "_", "100%", "_done", "ü", "Ü", "ünï", "\\\\",
            "",
        ]);
        prop_oneof![
            prop::sample::select(vec![
                "featured:true",
                "featured:false",
                "tag:city",
                "tag:-city",
                "tag:nope",
                "primary_tag:arts",
                "authors.slug:[ada,bo]",
                "authors.slug:-[ada]",
                "primary_author:bo",
                "published_at:>'2023-11-15'",
                "published_at:<='2023-11-15 09:00:00'",
                "published_at:<now-1000d",
                "updated_at:>=now-10000d",
                "reading_time:>1",
                "reading_time:<=2",
                "feature_image:null",
                "feature_image:-null",
                "canonical_url:null",
                "slug:[story-1,story-2,about,later]",
                "slug:-story-3",
                "kind:brief",
                "type:page",
                "type:post",
                "status:published",
                "status:-draft",
                "id:5",
                "id:-[1,2,3]",
                "visibility:public",
                "meta_title:-null",
            ])
            .prop_map(str::to_owned),
            (
                prop::sample::select(vec!["title", "slug", "custom_excerpt"]),
                prop::sample::select(vec!["~", "-~", "~^", "-~^", "~$", "-~$"]),
                text
            )
                .prop_map(|(f, op, t)| format!("{f}:{op}'{t}'")),
        ]
    }

    fn filter() -> impl Strategy<Value = String> {
        prop_oneof![
            condition(),
            (condition(), condition()).prop_map(|(a, b)| format!("{a}+{b}")),
            (condition(), condition()).prop_map(|(a, b)| format!("{a},{b}")),
            (condition(), condition(), condition()).prop_map(|(a, b, c)| format!("({a},{b})+{c}")),
        ]
    }

    fn order() -> impl Strategy<Value = Vec<(&'static str, bool)>> {
        prop::collection::vec(
            (
                prop::sample::select(vec![
                    "title",
                    "published_at",
                    "updated_at",
                    "featured",
                    "reading_time",
                    "slug",
                    "id",
                ]),
                any::<bool>(),
            ),
            0..3,
        )
    }

    async fn seeded() -> Both {
        let b = Both::new("filters").await;
        seed(&b).await;
        // Titles and excerpts with LIKE's special characters and non-ASCII
        // letters in both cases; a featured post; a feature image.
        let mut odd = new_post(
            "odd",
            PostKind::Article,
            PostStatus::Published,
            T0 + 500 * HOUR,
        );
        odd.title = "100% _done_ Ünïcode \\ title".into();
        odd.dek = "ünïcode".into();
        same("odd", write_both!(b, insert_post(&odd)));
        let extras = crate::sqlite::api::PostExtras {
            featured: Some(true),
            feature_image: Some(Some("/i.png".into())),
            feature_image_alt: None,
            feature_image_caption: None,
            tier_ids: None,
        };
        same("featured", write_both!(b, set_post_extras(29, &extras)));
        same("featured 2", write_both!(b, set_post_extras(4, &extras)));
        b
    }

    #[test]
    fn random_filters_agree() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let b = rt.block_on(seeded());
        // How many cases found something, and how many were refused (both
        // must be common, or the test proves little).
        let found = std::sync::atomic::AtomicUsize::new(0);
        let refused = std::sync::atomic::AtomicUsize::new(0);
        let config = ProptestConfig {
            cases: 200,
            failure_persistence: None,
            ..ProptestConfig::default()
        };
        proptest!(config, |(
            f in filter(),
            order in order(),
            limit in prop::option::of(1u32..8),
            page in 1u32..4,
            admin in any::<bool>(),
        )| {
            let audience = if admin { Audience::Admin } else { Audience::Content };
            let q = browse(Resource::Posts, audience, Some(&f), &order, limit, page);
            rt.block_on(async {
                let lite = b.lite.store.read(|c| crate::sqlite::api::browse_posts(c, &q));
                let client = b.pg.client().await.expect("client");
                let pg = crate::postgres::api::browse_posts(&client, &q).await;
                let ids = |r: crate::error::StoreResult<crate::sqlite::api::Page<crate::sqlite::api::ApiPost>>| {
                    r.map(|p| (p.items.into_iter().map(|x| x.id).collect::<Vec<_>>(), p.total))
                        .map_err(|e| e.to_string())
                };
                let (l, p) = (ids(lite), ids(pg));
                assert_eq!(l, p, "filter {f:?}, order {order:?}, limit {limit:?}, page {page}");
                match &l {
                    Ok((items, _)) if !items.is_empty() => found.fetch_add(1, Ordering::Relaxed),
                    Err(_) => refused.fetch_add(1, Ordering::Relaxed),
                    _ => 0,
                };
            });
        });
        let (found, refused) = (found.into_inner(), refused.into_inner());
        eprintln!("{found} of 200 found posts, {refused} were refused");
        assert!(
            found >= 80,
            "only {found} of 200 random filters found posts"
        );
    }
}

/// A unit of work lands whole or not at all, on both backends; the relaxed
/// variant commits like the other.
#[tokio::test]
async fn a_failed_unit_of_work_leaves_nothing_behind() {
    let b = Both::new("atomic").await;
    let first = new_post("first", PostKind::Article, PostStatus::Published, T0);
    let dup = new_post("first", PostKind::Article, PostStatus::Draft, T0);
    let lite = b.lite.store.write(|w| {
        w.insert_post(&first)?;
        w.insert_post(&dup)
    });
    let pg =
        b.pg.write(async |w| {
            w.insert_post(&first).await?;
            w.insert_post(&dup).await
        })
        .await;
    assert!(
        matches!(lite, Err(crate::error::StoreError::Conflict(_))),
        "{lite:?}"
    );
    assert!(
        matches!(pg, Err(crate::error::StoreError::Conflict(_))),
        "{pg:?}"
    );
    assert_eq!(same("nothing", read_both!(b, queries::post_count())), 0);
    let (l, p) = all_changes(&b).await;
    assert_eq!((l.len(), p.len()), (0, 0), "no change logged");
    let limits = [Limit::new("k", 1, 1000)];
    let lite = b
        .lite
        .store
        .write_relaxed(|w| w.throttle(&limits, T0))
        .expect("sqlite");
    let pg =
        b.pg.write_relaxed(async |w| w.throttle(&limits, T0).await)
            .await
            .expect("pg");
    assert_eq!((lite.is_ok(), pg.is_ok()), (true, true));
    assert_eq!(
        same("counted", write_both!(b, throttle(&limits, T0 + 1))),
        Err(0)
    );
}

#[tokio::test]
async fn bylines_and_tags_edited_from_the_desk_agree() {
    use crate::sqlite::taxonomy::{AuthorEdit, TagEdit};
    let b = Both::new("taxonomy").await;
    let (a1, _a2, t1, t2) = seed(&b).await;
    same("author", read_both!(b, taxonomy::author_by_id(a1)));
    same("no author", read_both!(b, taxonomy::author_by_id(999)));
    same("tag", read_both!(b, taxonomy::editable_tag(t2)));
    same("tags", read_both!(b, taxonomy::editable_tags()));
    let a = AuthorEdit {
        name: "Ada L.".into(),
        bio: "Numbers.".into(),
        location: "London".into(),
        avatar: Some("/media/ada.png".into()),
    };
    same("edit author", write_both!(b, update_author(a1, &a)));
    write_both_err!(b, update_author(999, &a));
    let t = TagEdit {
        name: "Culture".into(),
        description: "Arts and more".into(),
        is_section: true,
        position: -1,
    };
    same("edit tag", write_both!(b, update_tag(t2, &t)));
    write_both_err!(b, update_tag(999, &t));
    same("sections now", read_both!(b, queries::sections()));
    same("tags now", read_both!(b, taxonomy::editable_tags()));
    same(
        "author now",
        read_both!(b, queries::author_by_slug("ada".to_owned())),
    );
    same(
        "tag page",
        read_both!(b, queries::tag_by_slug("arts".to_owned())),
    );
    let (l, p) = read_both!(b, queries::feed(FeedScope::Section(t1), None, 3));
    same("section cards", (l, p));
    // The media library pages by id.
    for i in 0..5 {
        let m = crate::sqlite::media::NewMedia {
            key: format!("k{i}"),
            filename: format!("{i}.png"),
            format: "png".into(),
            width: 100,
            height: 50,
            bytes: 10,
            widths: vec![100],
            fallback: "png".into(),
            uploaded_by: None,
            now: T0 + i,
        };
        same("media", write_both!(b, insert_media(&m)));
    }
    same("first page", read_both!(b, media::media_page(None, 2)));
    same("older", read_both!(b, media::media_page(Some(3), 2)));
}

/// The same units of work through the `Store` facade on each backend: the
/// dispatch reaches `postgres/units.rs` and gives what `sqlite/units.rs` gives.
#[tokio::test]
async fn the_facade_runs_the_units_of_work_alike_on_both_backends() {
    use crate::{BackendKind, Store};
    use masthead_domain::{Role, Slug};

    let b = Both::new("facade").await;
    let lite = Store::open_sqlite(&b.lite.dir.join("facade.db")).expect("open SQLite");
    let pg = Store::with_postgres(b.pg.clone());
    assert_eq!(lite.backend_kind(), BackendKind::Sqlite);
    assert_eq!(pg.backend_kind(), BackendKind::Postgres);
    same(
        "schema version",
        (
            lite.schema_version().await.expect("sqlite version"),
            pg.schema_version().await.expect("pg version"),
        ),
    );

    let mut outcomes = Vec::new();
    for store in [&lite, &pg] {
        let mut seen = Vec::new();
        // Three drafts wanting one address: the second and third get numbers.
        for _ in 0..3 {
            let id = store
                .create_post(crate::units::CreatePost {
                    base_slug: Slug::parse("harbour-vote").expect("slug"),
                    post: new_post("ignored", PostKind::Article, PostStatus::Draft, T0),
                    tags_by_slug: vec![("harbour".into(), "Harbour".into())],
                    extras: None,
                    seo: None,
                })
                .await
                .expect("create_post");
            let post = store.editable_post(id).await.expect("read").expect("post");
            seen.push(format!("post {} tags {:?}", post.slug, post.tag_slugs));
        }
        // Bylines likewise.
        for _ in 0..2 {
            let author = NewAuthor {
                slug: String::new(),
                name: "Ada Lee".into(),
                bio: String::new(),
                location: String::new(),
            };
            let id = store
                .create_author(Slug::parse("ada-lee").expect("slug"), author)
                .await
                .expect("create_author");
            let a = store.author_by_id(id).await.expect("read").expect("author");
            seen.push(format!("author {}", a.slug));
        }
        // An invitation, then the owner set-up token spent once only.
        let invited = store
            .invite_staff(crate::units::Invite {
                user: NewStaffUser {
                    email: Email::parse("new@courier.example").expect("email"),
                    name: "New Reporter".into(),
                    role: Role::Author,
                    password_hash: "x".into(),
                    author_id: None,
                },
                token_hash: vec![7; 32],
                now: T0,
                expires: T0 + HOUR,
            })
            .await
            .expect("invite");
        seen.push(format!(
            "reset token valid: {}",
            store
                .one_time_token_valid(vec![7; 32], "reset", T0 + 1)
                .await
                .expect("token")
        ));
        let reset = store
            .reset_password(vec![7; 32], "y".into(), T0 + 2)
            .await
            .expect("reset");
        let again = store
            .reset_password(vec![7; 32], "z".into(), T0 + 3)
            .await
            .expect("reset again");
        seen.push(format!("reset {reset}, again {again}"));
        seen.push(format!(
            "invited is staff: {}",
            store.staff_user(invited).await.expect("staff").is_some()
        ));
        // SQLite-only operations: a clear refusal on PostgreSQL.
        let backup = store.backup_to(&b.lite.dir.join("copy.db")).await;
        match store.backend_kind() {
            BackendKind::Sqlite => assert!(backup.is_ok(), "{backup:?}"),
            BackendKind::Postgres => {
                let e = backup
                    .expect_err("no SQLite backup of PostgreSQL")
                    .to_string();
                assert!(
                    e.contains("pg_dump") && e.contains("docs/operations.md"),
                    "{e}"
                );
            }
        }
        store.checkpoint().await.expect("checkpoint");
        store.ping().await.expect("ping");
        outcomes.push(seen);
    }
    let pg_seen = outcomes.pop().expect("pg");
    let lite_seen = outcomes.pop().expect("lite");
    same("units through the facade", (lite_seen, pg_seen));
}

/// Drafts created at once with the same wanted address each get their own
/// (on PostgreSQL, transactions run side by side; the slug lock orders them),
/// and the facade's futures can be spawned (they are `Send`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_drafts_get_distinct_addresses_on_postgres() {
    let b = Both::new("facade_race").await;
    let pg = crate::Store::with_postgres(b.pg.clone());
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let pg = pg.clone();
            tokio::spawn(async move {
                pg.create_post(crate::units::CreatePost {
                    base_slug: masthead_domain::Slug::parse("breaking").expect("slug"),
                    post: new_post("ignored", PostKind::Brief, PostStatus::Draft, T0),
                    tags_by_slug: Vec::new(),
                    extras: None,
                    seo: None,
                })
                .await
            })
        })
        .collect();
    let mut slugs = Vec::new();
    for t in tasks {
        let id = t.await.expect("task").expect("create_post");
        slugs.push(
            pg.editable_post(id)
                .await
                .expect("read")
                .expect("post")
                .slug,
        );
    }
    slugs.sort();
    let mut want: Vec<String> = std::iter::once("breaking".to_owned())
        .chain((2..=8).map(|n| format!("breaking-{n}")))
        .collect();
    want.sort();
    assert_eq!(slugs, want);
}

/// Applies `f` to both results.
fn each<T, U>((lite, pg): (T, T), f: impl Fn(T) -> U) -> (U, U) {
    (f(lite), f(pg))
}

/// Newsletters with their uuids (random per database) checked and blanked.
fn no_uuids(v: Vec<Newsletter>) -> Vec<Newsletter> {
    v.into_iter()
        .map(|n| {
            assert_eq!(n.uuid.len(), 36, "a uuid: {}", n.uuid);
            Newsletter {
                uuid: String::new(),
                ..n
            }
        })
        .collect()
}

fn export_without_uuids(e: Option<MemberExport>) -> Option<MemberExport> {
    e.map(|e| MemberExport {
        newsletters: no_uuids(e.newsletters),
        ..e
    })
}

/// A member request with fixed secrets: `link`, `reference` and `code`
/// stand for what the web layer hashes.
fn member_request(
    purpose: MemberRequestPurpose,
    email: &str,
    member_id: Option<i64>,
    secret: u8,
    expires_ms: i64,
) -> NewMemberRequest {
    NewMemberRequest {
        purpose,
        email: Email::parse(email).expect("email"),
        member_id,
        name: "Ada".into(),
        newsletters: None,
        source: "site".into(),
        link_hash: vec![1, secret],
        ref_hash: vec![2, secret],
        code_hash: vec![3, secret],
        now_ms: T0,
        expires_ms,
    }
}

fn member_session_at(secret: u8, at: i64) -> NewMemberSession {
    NewMemberSession {
        token_hash: vec![9, secret],
        csrf_token: format!("csrf-{secret}"),
        now_ms: at,
        expires_ms: at + 86_400_000,
    }
}

#[tokio::test]
async fn member_sign_up_sign_in_account_and_deletion_agree() {
    let b = Both::new("members").await;
    let later = T0 + 3_600_000;
    let hook = same(
        "hook",
        write_both!(
            b,
            insert_webhook("member.deleted", "https://hooks.example/", "h", "s", T0)
        ),
    );
    let added = same(
        "hook",
        write_both!(
            b,
            insert_webhook("member.added", "https://hooks.example/", "h", "s", T0)
        ),
    );
    assert!(hook != added);
    // Each database seeds its default newsletter with a uuid of its own.
    let defaults = same(
        "newsletters",
        each(read_both!(b, members::newsletters()), no_uuids),
    );
    assert_eq!(defaults.len(), 1, "one default newsletter is seeded");
    assert!(defaults[0].subscribe_on_signup && defaults[0].status == "active");

    // A sign-up is recorded, not a member; a sign-in for nobody records nothing.
    let signup = member_request(
        MemberRequestPurpose::Signup,
        "Ada@Example.org",
        None,
        1,
        later,
    );
    assert_eq!(
        same("signup", write_both!(b, record_member_request(&signup))),
        MemberRequestRecorded::Signup
    );
    let nobody = member_request(
        MemberRequestPurpose::Signin,
        "nobody@example.org",
        None,
        2,
        later,
    );
    assert_eq!(
        same(
            "signin nobody",
            write_both!(b, record_member_request(&nobody))
        ),
        MemberRequestRecorded::Nothing
    );
    assert_eq!(
        same(
            "no member yet",
            read_both!(b, queries::member_count("members".to_owned()))
        ),
        0
    );

    // A wrong code counts; the link then confirms and signs in.
    let wrong = RedeemBy::Code {
        ref_hash: vec![2, 1],
        code_hash: vec![0],
    };
    assert_eq!(
        same(
            "wrong code",
            write_both!(
                b,
                redeem_member_request(&wrong, &member_session_at(1, T0), 5)
            )
        ),
        Err(RedeemRefused::WrongCode { left: 4 })
    );
    let link = RedeemBy::Link(vec![1, 1]);
    let joined = same(
        "confirm",
        write_both!(
            b,
            redeem_member_request(&link, &member_session_at(1, T0), 5)
        ),
    )
    .expect("confirmed");
    assert!(joined.joined && joined.purpose == MemberRequestPurpose::Signup);
    let ada = joined.member_id;
    assert_eq!(
        same(
            "member now",
            read_both!(b, queries::member_count("members".to_owned()))
        ),
        1
    );
    assert_eq!(
        same(
            "link reused",
            write_both!(
                b,
                redeem_member_request(&link, &member_session_at(2, T0), 5)
            )
        ),
        Err(RedeemRefused::Invalid)
    );
    let s = same(
        "session",
        read_both!(b, members::member_session(vec![9, 1], T0)),
    )
    .expect("signed in");
    assert_eq!(
        (s.member.email.as_str(), s.member.name.as_str()),
        ("Ada@Example.org", "Ada")
    );
    assert!(
        same(
            "unknown session",
            read_both!(b, members::member_session(vec![9, 7], T0))
        )
        .is_none()
    );
    assert!(
        same(
            "expired session",
            read_both!(b, members::member_session(vec![9, 1], T0 + 86_400_001))
        )
        .is_none()
    );
    let mine = same(
        "subscribed",
        each(read_both!(b, members::member_newsletters(ada)), no_uuids),
    );
    assert_eq!(mine.len(), 1, "sign-up subscribes to the defaults");

    // Joining again with the member's address means a sign-in, by code here.
    let again = member_request(
        MemberRequestPurpose::Signup,
        "ada@example.ORG",
        None,
        3,
        later,
    );
    assert_eq!(
        same("join again", write_both!(b, record_member_request(&again))),
        MemberRequestRecorded::Signin
    );
    let code = RedeemBy::Code {
        ref_hash: vec![2, 3],
        code_hash: vec![3, 3],
    };
    let r = same(
        "sign in by code",
        write_both!(
            b,
            redeem_member_request(&code, &member_session_at(3, T0), 5)
        ),
    )
    .expect("signed in");
    assert!(!r.joined && r.member_id == ada && r.purpose == MemberRequestPurpose::Signin);

    // Five wrong codes kill a request: the right one no longer works.
    let signin = member_request(
        MemberRequestPurpose::Signin,
        "ada@example.org",
        None,
        4,
        later,
    );
    same("signin", write_both!(b, record_member_request(&signin)));
    let wrong = RedeemBy::Code {
        ref_hash: vec![2, 4],
        code_hash: vec![0],
    };
    for left in (0..5).rev() {
        assert_eq!(
            same(
                "wrong",
                write_both!(
                    b,
                    redeem_member_request(&wrong, &member_session_at(4, T0), 5)
                )
            ),
            Err(RedeemRefused::WrongCode { left })
        );
    }
    let right = RedeemBy::Code {
        ref_hash: vec![2, 4],
        code_hash: vec![3, 4],
    };
    assert_eq!(
        same(
            "dead",
            write_both!(
                b,
                redeem_member_request(&right, &member_session_at(4, T0), 5)
            )
        ),
        Err(RedeemRefused::Invalid)
    );
    // Expired requests do not work, and go with the next request.
    let stale = member_request(
        MemberRequestPurpose::Signin,
        "ada@example.org",
        None,
        5,
        T0 + 1,
    );
    same("stale", write_both!(b, record_member_request(&stale)));
    assert_eq!(
        same(
            "expired",
            write_both!(
                b,
                redeem_member_request(
                    &RedeemBy::Link(vec![1, 5]),
                    &member_session_at(5, T0 + 2),
                    5
                )
            )
        ),
        Err(RedeemRefused::Invalid)
    );

    // A change of address applies once confirmed, and never onto another member's.
    let bo = member_request(
        MemberRequestPurpose::Signup,
        "bo@example.org",
        None,
        6,
        later,
    );
    same("bo", write_both!(b, record_member_request(&bo)));
    let bo_id = same(
        "bo joins",
        write_both!(
            b,
            redeem_member_request(&RedeemBy::Link(vec![1, 6]), &member_session_at(6, T0), 5)
        ),
    )
    .expect("bo")
    .member_id;
    let taken = member_request(
        MemberRequestPurpose::EmailChange,
        "BO@example.org",
        Some(ada),
        7,
        later,
    );
    assert_eq!(
        same("taken", write_both!(b, record_member_request(&taken))),
        MemberRequestRecorded::Nothing
    );
    let change = member_request(
        MemberRequestPurpose::EmailChange,
        "ada@new.example",
        Some(ada),
        8,
        later,
    );
    assert_eq!(
        same("change", write_both!(b, record_member_request(&change))),
        MemberRequestRecorded::EmailChange
    );
    let before = same(
        "before",
        each(
            read_both!(b, members::member_export(ada)),
            export_without_uuids,
        ),
    )
    .expect("ada");
    assert_eq!(
        before.member.email, "Ada@Example.org",
        "not changed before confirmation"
    );
    same(
        "confirm change",
        write_both!(
            b,
            redeem_member_request(&RedeemBy::Link(vec![1, 8]), &member_session_at(8, T0), 5)
        ),
    )
    .expect("changed");
    // Newsletters: only existing, active ones are kept.
    same(
        "choose",
        write_both!(b, set_member_newsletters(ada, &[999], T0)),
    );
    assert!(
        same(
            "none",
            each(read_both!(b, members::member_newsletters(ada)), no_uuids)
        )
        .is_empty()
    );
    same(
        "choose",
        write_both!(b, set_member_newsletters(ada, &[defaults[0].id, 999], T0)),
    );
    same(
        "name",
        write_both!(b, set_member_display_name(ada, "Ada L.")),
    );
    let export = same(
        "export",
        each(
            read_both!(b, members::member_export(ada)),
            export_without_uuids,
        ),
    )
    .expect("ada");
    assert_eq!(
        (
            export.member.email.as_str(),
            export.member.name.as_str(),
            export.newsletters.len()
        ),
        ("ada@new.example", "Ada L.", 1)
    );
    assert_eq!(export.sessions_created_ms.len(), 3);

    // Sign out everywhere, then delete: everything about the member goes.
    assert_eq!(
        same("signout all", write_both!(b, end_member_sessions(ada))),
        3
    );
    assert!(
        same(
            "gone",
            read_both!(b, members::member_session(vec![9, 1], T0))
        )
        .is_none()
    );
    same("signout one", write_both!(b, end_member_session(&[9, 6])));
    assert!(
        same(
            "bo out",
            read_both!(b, members::member_session(vec![9, 6], T0))
        )
        .is_none()
    );
    assert!(same("delete", write_both!(b, delete_member_account(ada))));
    assert!(!same(
        "delete again",
        write_both!(b, delete_member_account(ada))
    ));
    assert!(
        same(
            "erased",
            each(
                read_both!(b, members::member_export(ada)),
                export_without_uuids
            )
        )
        .is_none()
    );
    assert_eq!(
        same(
            "count",
            read_both!(b, queries::member_count("members".to_owned()))
        ),
        1
    );
    // Deliveries are stamped with the wall clock: compare what they are about.
    let events = same(
        "deliveries",
        each(read_both!(b, webhooks::recent_deliveries(10)), |ds| {
            ds.into_iter()
                .map(|d| (d.event, d.subject_id))
                .collect::<Vec<_>>()
        }),
    );
    let events: Vec<(&str, i64)> = events.iter().map(|(e, s)| (e.as_str(), *s)).collect();
    assert!(events.contains(&("member.deleted", ada)), "{events:?}");
    assert_eq!(
        events.iter().filter(|e| e.0 == "member.added").count(),
        2,
        "member.added once per confirmed sign-up: {events:?}"
    );
    let _ = bo_id;
}

fn desk_member_input(email: &str, name: &str, labels: &[&str], created: i64) -> NewDeskMember {
    NewDeskMember {
        email: Email::parse(email).expect("email"),
        name: name.to_owned(),
        note: format!("note on {name}"),
        status: "free".into(),
        labels: labels.iter().map(|l| (*l).to_owned()).collect(),
        newsletters: vec![1],
        source: "import".into(),
        created_ms: Some(created),
    }
}

#[tokio::test]
async fn the_desk_members_list_labels_edits_and_newsletters_agree() {
    let b = Both::new("roster").await;
    let day = 86_400_000;
    let edited_hook = same(
        "hook",
        write_both!(
            b,
            insert_webhook("member.edited", "https://hooks.example/", "h", "s", T0)
        ),
    );
    assert!(edited_hook > 0);
    let batch = vec![
        desk_member_input("ada@example.org", "Ada Lovelace", &["VIP", "Press"], T0),
        desk_member_input("bob@example.org", "Bob", &["vip"], T0 + day),
        desk_member_input("cy@example.org", "Cy", &[], T0 + day),
        desk_member_input("ADA@example.org", "Ada again", &[], T0),
        desk_member_input("dee@example.org", "Dee", &["Press"], T0 + 3 * day),
    ];
    let added = same("added", write_both!(b, add_desk_members(&batch, T0)));
    assert_eq!(
        added,
        vec![
            MemberAdded::Added(1),
            MemberAdded::Added(2),
            MemberAdded::Added(3),
            MemberAdded::Duplicate,
            MemberAdded::Added(4),
        ]
    );
    // "vip" found "VIP" whatever its case: two labels, not three.
    let labels = same("labels", read_both!(b, roster::labels()));
    assert_eq!(
        labels.iter().map(|l| l.slug.as_str()).collect::<Vec<_>>(),
        vec!["press", "vip"]
    );
    // Mark Cy bouncing, as the sender does.
    let bounce = "UPDATE members SET email_disabled = TRUE WHERE id = 3";
    b.lite
        .store
        .write(|w| Ok(w.tx().execute(bounce, [])?))
        .expect("sqlite bounce");
    b.pg.write(async |w| super::sql::exec(w.tx(), bounce, &[]).await)
        .await
        .expect("postgres bounce");

    let list = |filter: MemberFilter, after: Option<MemberCursor>, limit: u32| {
        let b = &b;
        async move {
            let (l, p) = read_both!(b, roster::desk_members(filter.clone(), after, limit, true));
            same(
                "page",
                ((l.members, l.next, l.total), (p.members, p.next, p.total)),
            )
        }
    };
    // Newest first; pages of two by keyset; the total counts them all.
    let (first, next, total) = list(MemberFilter::default(), None, 2).await;
    assert_eq!(total, Some(4));
    assert_eq!(first.iter().map(|m| m.id).collect::<Vec<_>>(), vec![4, 3]);
    let (second, next2, _) = list(MemberFilter::default(), next, 2).await;
    assert_eq!(second.iter().map(|m| m.id).collect::<Vec<_>>(), vec![2, 1]);
    assert_eq!(next2, None, "the last page says so");
    assert_eq!(second[1].labels.len(), 2);
    assert_eq!(second[1].newsletter_ids, vec![1]);
    assert_eq!(second[1].note, "note on Ada Lovelace");

    let ids = |f: MemberFilter| async move {
        let (m, _, total) = list(f, None, 50).await;
        let ids: Vec<i64> = m.iter().map(|m| m.id).collect();
        assert_eq!(total, Some(ids.len() as u64));
        ids
    };
    let by = |f: fn(&mut MemberFilter)| {
        let mut filter = MemberFilter::default();
        f(&mut filter);
        filter
    };
    assert_eq!(ids(by(|f| f.search = Some("LOVE".into()))).await, vec![1]);
    assert_eq!(
        ids(by(|f| f.search = Some("@example".into()))).await,
        vec![4, 3, 2, 1]
    );
    assert_eq!(ids(by(|f| f.label = Some("vip".into()))).await, vec![2, 1]);
    assert_eq!(ids(by(|f| f.bouncing = Some(true))).await, vec![3]);
    assert_eq!(ids(by(|f| f.bouncing = Some(false))).await, vec![4, 2, 1]);
    assert_eq!(
        ids(by(|f| f.status = Some("paid".into()))).await,
        Vec::<i64>::new()
    );
    assert_eq!(ids(by(|f| f.newsletter = Some(1))).await, vec![4, 3, 2, 1]);
    assert_eq!(
        ids(by(|f| {
            f.joined_from_ms = Some(T0 + 86_400_000);
            f.joined_before_ms = Some(T0 + 2 * 86_400_000);
        }))
        .await,
        vec![3, 2]
    );

    // Edits: note, labels by name (a new one created), newsletters, the
    // bouncing flag cleared; a taken address and an unknown member refused.
    let edit = MemberEdit {
        note: Some("Met at the fair".into()),
        labels: Some(vec!["Press".into(), "Early readers".into()]),
        newsletters: Some(vec![]),
        clear_bouncing: true,
        ..MemberEdit::default()
    };
    write_both!(b, edit_member(3, &edit, T0 + 5 * day));
    let cy = same("cy", read_both!(b, roster::desk_member(3))).expect("Cy");
    assert_eq!(cy.note, "Met at the fair");
    assert!(!cy.email_disabled);
    assert!(cy.newsletter_ids.is_empty());
    assert_eq!(
        cy.labels
            .iter()
            .map(|l| l.slug.as_str())
            .collect::<Vec<_>>(),
        vec!["early-readers", "press"]
    );
    let taken = MemberEdit {
        email: Some(Email::parse("bob@example.org").expect("email")),
        ..MemberEdit::default()
    };
    write_both_err!(b, edit_member(3, &taken, T0));
    write_both_err!(b, edit_member(99, &MemberEdit::default(), T0));
    same("missing", read_both!(b, roster::desk_member(99)));

    // Joins by day: one GROUP BY; an offset moves the day boundary.
    let days = same("days", read_both!(b, roster::joins_by_day(T0, 0)));
    let first_day = T0 / day;
    assert_eq!(
        days,
        vec![
            JoinsOnDay {
                day: first_day,
                count: 1
            },
            JoinsOnDay {
                day: first_day + 1,
                count: 2
            },
            JoinsOnDay {
                day: first_day + 3,
                count: 1
            },
        ]
    );
    same(
        "days later",
        read_both!(b, roster::joins_by_day(T0 + day, 3 * HOUR)),
    );

    // Newsletters: added last with a free slug, edited, a taken name refused.
    let input = NewsletterInput {
        name: "The briefing weekly".into(),
        description: "Once a week".into(),
        sender_name: Some("The desk".into()),
        sender_reply_to: "newsletter".into(),
        subscribe_on_signup: false,
        status: "active".into(),
    };
    let id = same("newsletter", write_both!(b, add_newsletter(&input, T0)));
    let (lite, pg) = read_both!(b, roster::newsletter(id));
    let weekly = same(
        "weekly",
        each(
            (lite.into_iter().collect(), pg.into_iter().collect()),
            no_uuids,
        ),
    );
    assert_eq!(weekly[0].slug, "the-briefing-weekly");
    assert_eq!(weekly[0].sort_order, 1);
    let dup = NewsletterInput {
        name: "The briefing".into(),
        ..input.clone()
    };
    write_both_err!(b, add_newsletter(&dup, T0));
    let archived = NewsletterInput {
        status: "archived".into(),
        ..input.clone()
    };
    // Dee receives the new newsletter before it is archived.
    let dee = MemberEdit {
        newsletters: Some(vec![1, id]),
        ..MemberEdit::default()
    };
    write_both!(b, edit_member(4, &dee, T0 + day));
    write_both!(b, edit_newsletter(id, &archived, T0 + day));
    write_both_err!(b, edit_newsletter(99, &archived, T0));
    let all = same("all", each(read_both!(b, members::newsletters()), no_uuids));
    assert_eq!(all.last().map(|n| n.status.as_str()), Some("archived"));
    // Choosing newsletters afterwards leaves the archived one's subscribers
    // alone (it cannot be chosen, and unarchiving brings them back).
    let none = MemberEdit {
        newsletters: Some(vec![]),
        ..MemberEdit::default()
    };
    write_both!(b, edit_member(4, &none, T0 + 2 * day));
    let dee = same("dee", read_both!(b, roster::desk_member(4))).expect("Dee");
    assert_eq!(dee.newsletter_ids, vec![id]);

    // Each edit queued one `member.edited` delivery (the refused ones none).
    let (lite, pg) = read_both!(b, webhooks::recent_deliveries(50));
    let edited = |v: Vec<crate::sqlite::webhooks::Delivery>| {
        v.iter()
            .filter(|d| d.event == "member.edited" && d.webhook_id == edited_hook)
            .map(|d| d.subject_id)
            .collect::<Vec<_>>()
    };
    assert_eq!((edited(lite), edited(pg)), (vec![4, 4, 3], vec![4, 4, 3]));
}

/// Newsletter sends (migration 0015): the snapshot of recipients, claims
/// under leases, outcomes, bounces and the one-send-per-newsletter rule.
#[tokio::test]
async fn newsletter_sends_agree() {
    let b = Both::new("sends").await;
    let e = |s: &str| Email::parse(s).expect("email");
    let (a1, _, _, _) = seed(&b).await;
    let mut p = new_post("sent-story", PostKind::Article, PostStatus::Published, T0);
    p.author_ids = vec![a1];
    let post = same("post", write_both!(b, insert_post(&p)));
    let newsletter = same(
        "newsletters",
        each(read_both!(b, members::newsletters()), no_uuids),
    )[0]
    .id;
    let mut ids = Vec::new();
    for (addr, status) in [
        ("free1@example.org", "free"),
        ("free2@example.org", "free"),
        ("paid@example.org", "paid"),
        ("comped@example.org", "comped"),
        ("nolist@example.org", "free"),
    ] {
        let id = same(
            "member",
            write_both!(b, insert_member(&e(addr), status, "import", T0)),
        )
        .expect("new member");
        if addr != "nolist@example.org" {
            same(
                "subscribe",
                write_both!(b, set_member_newsletters(id, &[newsletter], T0)),
            );
        }
        ids.push(id);
    }
    let new = |segment| NewSend {
        post_id: post,
        newsletter_id: newsletter,
        segment,
        subject: "Subject".into(),
        created_by: None,
        now_ms: T0,
    };
    let created = same("create", write_both!(b, create_send(&new(Segment::Paid))));
    assert_eq!(created.recipients, 2, "paid and comped, subscribed");
    write_both_err!(b, create_send(&new(Segment::All)));

    // One claim takes both; a second finds nothing held or due.
    let b = &b;
    let claim = |lease| async move {
        let l = b
            .lite
            .store
            .write(|w| w.claim_recipients(T0 + 1, 10, lease))
            .expect("sqlite claim");
        let p =
            b.pg.write(async |w| w.claim_recipients(T0 + 1, 10, lease).await)
                .await
                .expect("pg claim");
        (l, p)
    };
    let (lc, pc) = claim(60_000).await;
    let emails = |c: &RecipientClaim| {
        c.recipients
            .iter()
            .map(|r| r.email.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(emails(&lc), ["paid@example.org", "comped@example.org"]);
    assert_eq!(emails(&lc), emails(&pc));
    let (l2, p2) = claim(60_000).await;
    assert!(l2.recipients.is_empty() && p2.recipients.is_empty(), "held");

    // The first is sent; the second refused for good (a bounce).
    let sent = RecipientOutcome::Sent {
        reply: "250 ok".into(),
    };
    let bounce = RecipientOutcome::Failed {
        reply: "550 no such user".into(),
        bounce: true,
    };
    let (r1, r2) = (lc.recipients[0].id, lc.recipients[1].id);
    let (q1, q2) = (pc.recipients[0].id, pc.recipients[1].id);
    assert_eq!((r1, r2), (q1, q2));
    let l = b
        .lite
        .store
        .write(|w| {
            Ok((
                w.record_recipient(r1, &lc.token, &sent, T0 + 2)?,
                w.record_recipient(r2, &lc.token, &bounce, T0 + 2)?,
                w.record_recipient(r1, "not-the-lease", &sent, T0 + 2)?,
                w.finish_sends(T0 + 3)?,
            ))
        })
        .expect("sqlite record");
    let p =
        b.pg.write(async |w| {
            Ok((
                w.record_recipient(q1, &pc.token, &sent, T0 + 2).await?,
                w.record_recipient(q2, &pc.token, &bounce, T0 + 2).await?,
                w.record_recipient(q1, "not-the-lease", &sent, T0 + 2)
                    .await?,
                w.finish_sends(T0 + 3).await?,
            ))
        })
        .await
        .expect("pg record");
    assert_eq!(same("records", (l, p)), (true, true, false, 1));
    let summary = same("send", read_both!(b, sends::send(created.id))).expect("the send");
    assert_eq!(
        (
            summary.status.as_str(),
            summary.sent,
            summary.failed,
            summary.queued
        ),
        ("sent", 1, 1, 0)
    );
    same(
        "recipients",
        read_both!(b, sends::send_recipients(created.id, None, 0, 10)),
    );
    same("sends", read_both!(b, sends::sends(Some(post), 10)));

    // An unsubscribe shows in "unsubscribed since"; the bounced member is
    // skipped by the next send.
    assert!(same(
        "unsubscribe",
        write_both!(b, unsubscribe_member(ids[2], newsletter))
    ));
    assert!(!same(
        "again",
        write_both!(b, unsubscribe_member(ids[2], newsletter))
    ));
    assert_eq!(
        same(
            "since",
            read_both!(b, sends::unsubscribed_since(created.id))
        ),
        1
    );
    let mut p2 = new_post("second-story", PostKind::Article, PostStatus::Published, T0);
    p2.author_ids = vec![a1];
    let post2 = same("post 2", write_both!(b, insert_post(&p2)));
    let next = NewSend {
        post_id: post2,
        ..new(Segment::All)
    };
    let second = same("second", write_both!(b, create_send(&next)));
    assert_eq!(
        second.recipients, 2,
        "free1 and free2: paid left, comped bounced"
    );

    // A worker that dies: its lease ends and another takes the recipients
    // over; released ones are due at once; retries wait.
    let (lc, pc) = claim(1).await;
    assert_eq!(pc.recipients.len(), 2);
    assert_eq!(lc.recipients.len(), 2);
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let (lt, pt) = claim(60_000).await;
    assert_eq!(
        (lt.recipients.len(), pt.recipients.len()),
        (2, 2),
        "taken over"
    );
    assert_ne!(lc.token, lt.token);
    let retry = RecipientOutcome::Retry {
        reply: "451 later".into(),
        at_ms: T0 + HOUR,
    };
    let (a, c) = (lt.recipients[0].id, pt.recipients[0].id);
    let l = b
        .lite
        .store
        .write(|w| {
            Ok((
                w.record_recipient(a, &lt.token, &retry, T0)?,
                w.release_recipients(&lt.token)?,
            ))
        })
        .expect("sqlite");
    let p =
        b.pg.write(async |w| {
            Ok((
                w.record_recipient(c, &pt.token, &retry, T0).await?,
                w.release_recipients(&pt.token).await?,
            ))
        })
        .await
        .expect("pg");
    assert_eq!(same("retry and release", (l, p)), (true, 1));
    let (lr, pr) = claim(60_000).await;
    assert_eq!(emails(&lr), ["free2@example.org"], "the released one only");
    assert_eq!(emails(&lr), emails(&pr));
    assert_eq!(lr.recipients[0].attempts, 0);

    // A worker that dies after handing a message over (body written, the
    // final dot next): the next claim records it as sent, not again.
    let l = b
        .lite
        .store
        .write(|w| w.release_recipients(&lr.token))
        .expect("sqlite");
    let p =
        b.pg.write(async |w| w.release_recipients(&pr.token).await)
            .await
            .expect("pg");
    assert_eq!(same("release", (l, p)), 1);
    let (ld, pd) = claim(1).await;
    let (x, y) = (ld.recipients[0].id, pd.recipients[0].id);
    let l = b
        .lite
        .store
        .write(|w| {
            Ok((
                w.mark_handed(x, "not-the-lease", T0 + 4)?,
                w.mark_handed(x, &ld.token, T0 + 5)?,
            ))
        })
        .expect("sqlite handed");
    let p =
        b.pg.write(async |w| {
            Ok((
                w.mark_handed(y, "not-the-lease", T0 + 4).await?,
                w.mark_handed(y, &pd.token, T0 + 5).await?,
            ))
        })
        .await
        .expect("pg handed");
    assert_eq!(same("handed", (l, p)), (false, true));
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let (la, pa) = claim(60_000).await;
    assert!(
        la.recipients.is_empty() && pa.recipients.is_empty(),
        "a handed-over message is not sent again"
    );
    let after = same(
        "after handover",
        read_both!(
            b,
            sends::send_recipients(second.id, Some("sent".into()), 0, 10)
        ),
    );
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].reply.as_deref(), Some(HANDED_REPLY));
    assert_eq!(after[0].sent_ms, Some(T0 + 5));
}

/// Tiers (migration 0018): uuids are random per database, blanked after
/// their shape is checked; creation times of the seeded free tier are the
/// migration's wall clock.
fn tier_shapes(v: Vec<Tier>) -> Vec<Tier> {
    v.into_iter()
        .map(|t| {
            assert_eq!(t.uuid.len(), 36, "a uuid: {}", t.uuid);
            let free = t.is_free();
            Tier {
                uuid: String::new(),
                created_ms: if free { 0 } else { t.created_ms },
                updated_ms: if free { 0 } else { t.updated_ms },
                ..t
            }
        })
        .collect()
}

fn tier_input(name: &str, slug: &str, monthly: Option<i64>) -> TierInput {
    TierInput {
        name: name.into(),
        slug: slug.into(),
        description: format!("All of {name}"),
        kind: "paid".into(),
        active: true,
        visibility: "public".into(),
        currency: Some("eur".into()),
        monthly_price: monthly,
        yearly_price: Some(5_000),
        trial_days: 7,
        welcome_page_url: Some("/welcome/".into()),
        benefits: vec!["Ad-free".into(), "The weekly letter".into()],
    }
}

#[tokio::test]
async fn tiers_post_tiers_and_comps_agree() {
    use masthead_domain::Role;
    let b = Both::new("tiers").await;
    // The migration seeds the free tier, and nothing else.
    let seeded = same("seeded", each(read_both!(b, tiers::tiers()), tier_shapes));
    assert_eq!(seeded.len(), 1);
    let free = &seeded[0];
    assert_eq!((free.slug.as_str(), free.kind.as_str()), ("free", "free"));
    assert!(free.active && free.currency.is_none() && free.monthly_price.is_none());

    let gold = same(
        "gold",
        write_both!(b, create_tier(&tier_input(" Gold ", "gold", Some(500)), T0)),
    );
    let silver = same(
        "silver",
        write_both!(b, create_tier(&tier_input("Silver", "silver", None), T0)),
    );
    // A taken slug, a paid tier without prices, a price of zero: refused.
    write_both_err!(b, create_tier(&tier_input("Other", "gold", Some(1)), T0));
    let mut priceless = tier_input("Bronze", "bronze", None);
    priceless.yearly_price = None;
    write_both_err!(b, create_tier(&priceless, T0));
    write_both_err!(b, create_tier(&tier_input("Zero", "zero", Some(0)), T0));
    let all = same("tiers", each(read_both!(b, tiers::tiers()), tier_shapes));
    assert_eq!(
        all.iter().map(|t| t.slug.as_str()).collect::<Vec<_>>(),
        ["free", "gold", "silver"]
    );
    assert_eq!(all[1].name, "Gold", "names are trimmed");
    assert_eq!(all[1].benefits, ["Ad-free", "The weekly letter"]);
    assert_eq!(
        (all[1].monthly_price, all[1].yearly_price, all[1].trial_days),
        (Some(500), Some(5_000), 7)
    );
    let by_slug = same(
        "by slug",
        each(read_both!(b, tiers::tier_by_slug("silver".into())), |t| {
            tier_shapes(t.into_iter().collect())
        }),
    );
    assert_eq!(by_slug[0].id, silver);

    // Edits rewrite everything but the type; benefits keep their order.
    let mut edit = tier_input("Gold plus", "gold-plus", Some(700));
    edit.kind = "free".into();
    edit.benefits = vec!["Third".into(), "First".into()];
    write_both!(b, update_tier(gold, &edit, T0 + HOUR));
    let g = same(
        "gold edited",
        each(read_both!(b, tiers::tier(gold)), |t| {
            tier_shapes(t.into_iter().collect())
        }),
    );
    assert_eq!(
        (g[0].slug.as_str(), g[0].kind.as_str(), g[0].monthly_price),
        ("gold-plus", "paid", Some(700))
    );
    assert_eq!(g[0].benefits, ["Third", "First"]);
    assert_eq!(g[0].updated_ms, T0 + HOUR);
    write_both_err!(b, update_tier(silver, &edit, T0));
    write_both_err!(b, update_tier(999, &edit, T0));
    // The free tier keeps no prices and cannot be archived.
    write_both!(
        b,
        update_tier(free.id, &tier_input("Free", "free", Some(9)), T0)
    );
    let f = same(
        "free",
        each(read_both!(b, tiers::tier(free.id)), |t| {
            tier_shapes(t.into_iter().collect())
        }),
    );
    assert_eq!((f[0].monthly_price, f[0].currency.as_deref()), (None, None));
    write_both_err!(b, archive_tier(free.id, T0));
    write_both!(b, archive_tier(silver, T0 + HOUR));
    let s = same(
        "archived",
        each(read_both!(b, tiers::tier(silver)), |t| {
            tier_shapes(t.into_iter().collect())
        }),
    );
    assert!(!s[0].active);

    // A post visible to chosen tiers: saved with the editor, read with the post.
    let (a1, _, _, _) = seed(&b).await;
    let staff = same(
        "staff",
        write_both!(
            b,
            insert_staff_user(&NewStaffUser {
                email: Email::parse("boss@example.org").expect("email"),
                name: "Bo Ss".into(),
                role: Role::Administrator,
                password_hash: String::new(),
                author_id: Some(a1),
            })
        ),
    );
    let post = same("draft", read_both!(b, editing::editable_post(26))).expect("draft");
    assert!(post.tier_ids.is_empty());
    let mut save = edit_of(&post);
    save.status = PostStatus::Published;
    save.published_ms = Some(T0 + 2 * HOUR);
    save.visibility = Some(Visibility::Tiers);
    save.tier_ids = Some(vec![gold, free.id, 12_345]);
    same(
        "tiers post",
        write_both!(
            b,
            save_post(26, post.updated_ms, &save, Some(staff), T0 + 2 * HOUR)
        ),
    );
    let saved = same("editable", read_both!(b, editing::editable_post(26))).expect("post");
    assert_eq!(saved.visibility, Visibility::Tiers);
    assert_eq!(
        saved.tier_ids,
        vec![free.id, gold],
        "unknown tiers are left out"
    );
    let page = same(
        "page",
        each(
            read_both!(b, queries::published_post_by_slug(saved.slug.clone())),
            without_uuid,
        ),
    )
    .expect("published");
    assert_eq!(
        page.tiers
            .iter()
            .map(|t| (t.id, t.free))
            .collect::<Vec<_>>(),
        vec![(free.id, true), (gold, false)]
    );
    use masthead_domain::access::Reader;
    assert!(page.readable_by(Some(Reader::new("paid", Some(gold)))));
    assert!(page.readable_by(Some(Reader::new("free", None))));
    assert!(!page.readable_by(Some(Reader::new("comped", Some(silver)))));
    assert!(!page.readable_by(None));

    // Comps: a free member is comped; a paying one keeps paying; the
    // history says who gave what until when.
    let e = |s: &str| Email::parse(s).expect("email");
    let reader = same(
        "reader",
        write_both!(
            b,
            insert_member(&e("reader@example.org"), "free", "site", T0)
        ),
    )
    .expect("new member");
    let payer = same(
        "payer",
        write_both!(
            b,
            insert_member(&e("payer@example.org"), "paid", "import", T0)
        ),
    )
    .expect("new member");
    let now = crate::now_ms();
    let until = now + 30 * 24 * HOUR;
    let given = same(
        "give",
        write_both!(b, give_comp(reader, gold, Some(until), Some(staff), now)),
    );
    assert_eq!(given, Ok(CompGiven::Comped));
    let m = same("comped", read_both!(b, roster::desk_member(reader))).expect("member");
    assert_eq!(
        (m.status.as_str(), m.tier_id, m.comp_expires_ms),
        ("comped", Some(gold), Some(until))
    );
    assert_eq!(
        same(
            "payer comp",
            write_both!(b, give_comp(payer, gold, Some(until), None, now))
        ),
        Ok(CompGiven::Recorded)
    );
    let p = same("payer", read_both!(b, roster::desk_member(payer))).expect("member");
    assert_eq!(
        (p.status.as_str(), p.comp_expires_ms),
        ("paid", Some(until))
    );
    // Refusals change nothing: an archived tier, the free tier, a past end,
    // an unknown member.
    for (tier, end) in [
        (silver, Some(until)),
        (free.id, None),
        (gold, Some(now - 1)),
    ] {
        let refused = same(
            "refused",
            write_both!(b, give_comp(reader, tier, end, None, now)),
        );
        assert!(refused.is_err(), "{tier} {end:?}");
    }
    write_both_err!(b, give_comp(9_999, gold, None, None, now));
    let history = same(
        "history",
        each(read_both!(b, tiers::member_events(reader)), |v| {
            v.into_iter()
                .map(|e| (e.kind, e.tier_name, e.until_ms, e.staff_name))
                .collect::<Vec<_>>()
        }),
    );
    assert_eq!(
        history,
        vec![(
            "comp_given".to_owned(),
            Some("Gold plus".to_owned()),
            Some(until),
            Some("Bo Ss".to_owned())
        )]
    );

    // Ending it: free again, in the history; a second end has nothing to end.
    same(
        "end",
        write_both!(b, end_comp(reader, Some(staff), now + 1)),
    )
    .expect("ended");
    let m = same("ended", read_both!(b, roster::desk_member(reader))).expect("member");
    assert_eq!((m.status.as_str(), m.tier_id), ("free", None));
    assert_eq!(
        same("again", write_both!(b, end_comp(reader, None, now + 2))),
        Err(CompRefused::NoComp)
    );
    // A paying member's follow-up comp can be ended too; they still pay.
    same(
        "end payer's",
        write_both!(b, end_comp(payer, None, now + 3)),
    )
    .expect("ended");
    let p = same("payer", read_both!(b, roster::desk_member(payer))).expect("member");
    assert_eq!((p.status.as_str(), p.comp_expires_ms), ("paid", None));

    // A comp whose end passes reads as free at once; the job writes it down.
    same(
        "again",
        write_both!(b, give_comp(reader, gold, Some(now + HOUR), None, now + 3)),
    )
    .expect("given");
    let lapse = format!(
        "UPDATE members SET comp_expires_at = {} WHERE id = {reader}",
        now - 1
    );
    b.lite
        .store
        .write(|w| Ok(w.tx().execute(&lapse, [])?))
        .expect("sqlite lapse");
    b.pg.write(async |w| super::sql::exec(w.tx(), &lapse, &[]).await)
        .await
        .expect("postgres lapse");
    let m = same("lapsed", read_both!(b, roster::desk_member(reader))).expect("member");
    assert_eq!((m.status.as_str(), m.tier_id), ("free", None));
    let export = same("export", read_both!(b, members::member_export(reader))).expect("member");
    assert_eq!(export.member.status, "free");
    assert_eq!(same("job", write_both!(b, end_expired_comps(now + 5))), 1);
    assert_eq!(
        same("job again", write_both!(b, end_expired_comps(now + 5))),
        0
    );
    let kinds = same(
        "kinds",
        each(read_both!(b, tiers::member_events(reader)), |v| {
            v.into_iter().map(|e| e.kind).collect::<Vec<_>>()
        }),
    );
    assert_eq!(
        kinds,
        ["comp_expired", "comp_given", "comp_ended", "comp_given"]
    );
}

/// The desk's pickers and front page (issue 12): the same matches in the
/// same order, and the same lists, on both backends.
#[tokio::test]
async fn the_desk_front_page_and_pickers_agree() {
    use crate::sqlite::staff::{FrontViewer, Taxonomy};
    use masthead_domain::Role;
    let b = Both::new("front").await;
    let (a1, a2, _t1, _t2) = seed(&b).await;
    // More tags to pick from: names and slugs that start with or merely
    // contain what is typed, a wildcard to take literally, mixed case.
    for (slug, name) in [
        ("city-hall", "City Hall"),
        ("inner-city", "Inner city"),
        ("capacity", "Capacity"),
        ("pct-100", "100% local"),
        ("under-score", "Under_score"),
    ] {
        let t = NewTag {
            slug: slug.into(),
            name: name.into(),
            description: String::new(),
            is_section: false,
            position: 0,
        };
        same("tag", write_both!(b, insert_tag(&t)));
    }
    let found = same(
        "city",
        read_both!(b, staff::find_named(Taxonomy::Tags, "CIT".to_owned(), 10)),
    );
    let names: Vec<&str> = found.iter().map(|t| t.2.as_str()).collect();
    assert_eq!(
        names,
        ["City Hall", "Tag city", "Capacity", "Inner city"],
        "those starting with it first (by name or slug), then the rest"
    );
    let pct = same(
        "a literal %",
        read_both!(b, staff::find_named(Taxonomy::Tags, "%".to_owned(), 10)),
    );
    assert_eq!(pct.len(), 1, "{pct:?}");
    let under = same(
        "a literal _",
        read_both!(b, staff::find_named(Taxonomy::Tags, "_".to_owned(), 10)),
    );
    assert_eq!(under.len(), 1, "{under:?}");
    let limited = same(
        "everything, limited",
        read_both!(b, staff::find_named(Taxonomy::Tags, "  ".to_owned(), 3)),
    );
    assert_eq!(limited.len(), 3);
    let bylines = same(
        "bylines",
        read_both!(b, staff::find_named(Taxonomy::Bylines, "bo".to_owned(), 10)),
    );
    assert_eq!(bylines.iter().map(|a| a.0).collect::<Vec<_>>(), [a2]);
    same(
        "nothing",
        read_both!(
            b,
            staff::find_named(Taxonomy::Bylines, "zzz".to_owned(), 10)
        ),
    );

    // The front page: drafts of a1, one of them in review, a live roundup
    // with entries and one without, on top of the seed's scheduled post.
    let staff_user = same(
        "editor",
        write_both!(
            b,
            insert_staff_user(&NewStaffUser {
                email: Email::parse("ed@example.org").expect("email"),
                name: "Ed".into(),
                role: Role::Editor,
                password_hash: "h".into(),
                author_id: None,
            })
        ),
    );
    let mut ids = Vec::new();
    for i in 0..3 {
        let mut d = new_post(
            &format!("mine-{i}"),
            PostKind::Article,
            PostStatus::Draft,
            T0 + 200 * HOUR + i * HOUR,
        );
        d.author_ids = vec![a1, a2];
        ids.push(same("draft", write_both!(b, insert_post(&d))));
    }
    same(
        "submitted",
        write_both!(b, review(ids[0], staff_user, "submitted", "", T0)),
    );
    let mut quiet = new_post(
        "quiet-live",
        PostKind::Live,
        PostStatus::Published,
        T0 + 300 * HOUR,
    );
    quiet.author_ids = vec![a2];
    let quiet = same("quiet live", write_both!(b, insert_post(&quiet)));
    let mut busy = new_post(
        "busy-live",
        PostKind::Live,
        PostStatus::Published,
        T0 + 10 * HOUR,
    );
    busy.author_ids = vec![a1];
    let busy = same("busy live", write_both!(b, insert_post(&busy)));
    for i in 0..3 {
        let e = NewLiveEntry {
            post_id: busy,
            title: format!("Update {i}"),
            body_source: "Text".into(),
            body_html: "<p>Text</p>".into(),
            pinned: false,
            created_ms: T0 + 400 * HOUR + i,
        };
        same("entry", write_both!(b, add_live_entry(&e)));
    }
    let everyone = FrontViewer {
        byline: Some(a1),
        only: None,
    };
    let front = same("front", read_both!(b, staff::desk_front(everyone, 5)));
    assert_eq!(
        front.drafts.iter().map(|p| p.id).collect::<Vec<_>>(),
        [ids[2], ids[1], ids[0]],
        "my drafts, the most recently changed first (the seed's draft has no byline)"
    );
    assert_eq!(
        front.drafts[0].authors, "Name ada, Name bo",
        "bylines in order"
    );
    assert_eq!(
        front.in_review.iter().map(|p| p.id).collect::<Vec<_>>(),
        [ids[0]]
    );
    assert_eq!(front.scheduled.len(), 1);
    assert_eq!(front.scheduled[0].published_ms, Some(T0 + 100 * HOUR));
    assert_eq!(front.published.len(), 5);
    assert!(
        front
            .published
            .iter()
            .all(|p| p.status == "published" && p.kind != "page")
    );
    assert_eq!(front.published[0].id, quiet, "the newest publication first");
    assert_eq!(
        front
            .live
            .iter()
            .map(|l| (l.post.id, l.entries, l.last_entry_ms))
            .collect::<Vec<_>>(),
        [(busy, 3, Some(T0 + 400 * HOUR + 2)), (quiet, 0, None)],
        "the most recently updated roundup first"
    );
    // Someone who sees only their own work (byline a2).
    let own = FrontViewer {
        byline: Some(a2),
        only: Some(a2),
    };
    let front = same("own", read_both!(b, staff::desk_front(own, 50)));
    assert_eq!(front.drafts.len(), 3);
    assert!(
        front.scheduled.is_empty(),
        "the scheduled post is a1's alone"
    );
    assert_eq!(
        front.live.iter().map(|l| l.post.id).collect::<Vec<_>>(),
        [quiet]
    );
    assert!(
        front
            .published
            .iter()
            .all(|p| p.authors.contains("Name bo"))
    );
    // No byline: no drafts of one's own.
    let nobody = FrontViewer {
        byline: None,
        only: None,
    };
    let front = same("no byline", read_both!(b, staff::desk_front(nobody, 5)));
    assert!(front.drafts.is_empty());
}
