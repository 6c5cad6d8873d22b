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
    same("count in a transaction", write_both!(b, count_posts()));
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
        ("title", "The Daily Ledger"),
    ] {
        same("set", write_both!(b, set_setting(k, v)));
    }
    let s = same("settings", read_both!(b, queries::site_settings()));
    assert_eq!(
        (s.title.as_str(), s.api_max_limit),
        ("The Daily Ledger", API_MAX_LIMIT_CEILING)
    );

    let e = |s: &str| Email::parse(s).expect("email");
    same(
        "join",
        write_both!(b, join_member(&e("Reader@Example.org"), "site", T0)),
    );
    same(
        "join again",
        write_both!(b, join_member(&e("reader@example.ORG"), "site", T0)),
    );
    same(
        "insert",
        write_both!(
            b,
            insert_member(&e("paid@example.org"), "paid", "import", T0)
        ),
    );
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
    let (l, p) = read_both!(b, queries::changes_since(0, 1000));
    let strip = |v: Vec<Change>| {
        v.into_iter()
            .map(|c| (c.id, c.topic, c.post_id, c.ref_id))
            .collect::<Vec<_>>()
    };
    same("changes", (strip(l), strip(p)));
    same("latest change", read_both!(b, queries::latest_change_id()));
}
