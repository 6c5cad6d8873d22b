//! The search tests, run on each backend: the same writes, the same
//! queries, the same expected results, on a fresh SQLite file and on a fresh
//! PostgreSQL database (`MASTHEAD_TEST_DATABASE_URL`; without it the
//! PostgreSQL half fails, never skips). Each test is a function of the
//! backend; `on_both!` makes one test per backend of it.

use masthead_domain::search::{SearchCursor, parse};
use masthead_domain::{PostKind, PostStatus, Visibility};

use super::{SearchFilters, SearchPage};
use crate::model::{NewAuthor, NewPost, NewTag};
use crate::postgres::PgStore;
use crate::postgres::tests::TestDb;
use crate::sqlite::editing::PostEdit;
use crate::sqlite::taxonomy::{AuthorEdit, TagEdit};
use crate::sqlite::tests::TempDb;

#[derive(Clone, Copy, Debug)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

enum Db {
    Lite(TempDb),
    Pg { store: Box<PgStore>, _db: TestDb },
}

pub(crate) struct Fixture {
    db: Db,
    author: i64,
    tag: i64,
}

macro_rules! on_both {
    ($name:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name(super::Backend::Sqlite).await
            }
            #[tokio::test]
            async fn postgres() {
                super::$name(super::Backend::Postgres).await
            }
        }
    };
}

pub(crate) fn new_post(
    slug: &str,
    title: &str,
    body: &str,
    status: PostStatus,
    at: i64,
) -> NewPost {
    NewPost {
        kind: PostKind::Article,
        slug: slug.into(),
        title: title.into(),
        dek: String::new(),
        body_source: body.into(),
        body_html: format!("<p>{body}</p>"),
        word_count: 1,
        reading_minutes: 1,
        status,
        visibility: Visibility::Public,
        image: None,
        video: None,
        published_ms: (status != PostStatus::Draft).then_some(at),
        updated_ms: at,
        tag_ids: vec![],
        author_ids: vec![],
    }
}

/// Runs `$w.$f(args…)` in one write transaction of the fixture's backend.
macro_rules! write {
    ($fx:expr, |$w:ident| $body:expr) => {
        match &$fx.db {
            Db::Lite(db) => db.store.write(|$w| $body),
            Db::Pg { store, .. } => store.write(async |$w| $body.await).await,
        }
    };
}

impl Fixture {
    pub(crate) async fn new(backend: Backend, name: &str) -> Fixture {
        let db = match backend {
            Backend::Sqlite => Db::Lite(TempDb::new(name)),
            Backend::Postgres => {
                let db = TestDb::new(&name.replace('-', "_")).await;
                Db::Pg {
                    store: Box::new(db.migrated().await),
                    _db: db,
                }
            }
        };
        let mut fixture = Fixture {
            db,
            author: 0,
            tag: 0,
        };
        let author = NewAuthor {
            slug: "rosa".into(),
            name: "Rosa Quill".into(),
            bio: String::new(),
            location: String::new(),
        };
        let tag = NewTag {
            slug: "harbour".into(),
            name: "Harbour".into(),
            description: String::new(),
            is_section: false,
            position: 0,
        };
        fixture.author = write!(fixture, |w| w.insert_author(&author)).expect("author");
        fixture.tag = write!(fixture, |w| w.insert_tag(&tag)).expect("tag");
        fixture
    }

    /// How many matches the backend ranks together.
    fn rank_window(&self) -> usize {
        match &self.db {
            Db::Lite(_) => crate::sqlite::search::RANK_WINDOW as usize,
            Db::Pg { .. } => crate::postgres::search::TUNING.rank_window as usize,
        }
    }

    pub(crate) async fn page(
        &self,
        q: &str,
        filters: SearchFilters,
        after: Option<SearchCursor>,
        limit: u32,
    ) -> SearchPage {
        let q = parse(q).expect("query");
        match &self.db {
            Db::Lite(db) => db
                .store
                .read(|c| crate::sqlite::search::search(c, q, filters, after, limit)),
            Db::Pg { store, .. } => {
                let mut client = store.client().await.expect("client");
                crate::postgres::search::search(&mut client, q, filters, after, limit).await
            }
        }
        .expect("search")
    }

    /// The PostgreSQL store (a PostgreSQL fixture's).
    pub(crate) fn pg(&self) -> &PgStore {
        match &self.db {
            Db::Pg { store, .. } => store,
            Db::Lite(_) => panic!("a PostgreSQL fixture"),
        }
    }

    /// A PostgreSQL search's outcome, errors included.
    pub(crate) async fn try_page(
        &self,
        q: masthead_domain::search::SearchQuery,
        filters: SearchFilters,
    ) -> crate::StoreResult<SearchPage> {
        let mut client = self.pg().client().await?;
        crate::postgres::search::search(&mut client, q, filters, None, 20).await
    }

    /// A PostgreSQL search, reading the index as `t` says.
    pub(crate) async fn tuned_page(
        &self,
        t: &crate::postgres::search::Tuning,
        q: masthead_domain::search::SearchQuery,
        after: Option<SearchCursor>,
        limit: u32,
    ) -> crate::StoreResult<SearchPage> {
        let mut client = self.pg().client().await?;
        crate::postgres::search::search_tuned(
            &mut client,
            t,
            q,
            SearchFilters::default(),
            after,
            limit,
        )
        .await
    }

    async fn find(&self, q: &str, filters: SearchFilters) -> Vec<i64> {
        self.page(q, filters, None, 100)
            .await
            .hits
            .iter()
            .map(|h| h.card.id)
            .collect()
    }

    pub(crate) async fn ids(&self, q: &str) -> Vec<i64> {
        self.find(q, SearchFilters::default()).await
    }

    /// Every result of `q`, page by page of `limit`; and how many pages.
    async fn all_pages(&self, q: &str, limit: u32) -> (Vec<i64>, usize) {
        let (mut seen, mut after, mut pages) = (Vec::new(), None, 0);
        loop {
            let page = self.page(q, SearchFilters::default(), after, limit).await;
            assert!(page.hits.len() <= limit as usize);
            pages += 1;
            seen.extend(page.hits.iter().map(|h| h.card.id));
            match page.next {
                Some(n) => after = Some(n),
                None => return (seen, pages),
            }
        }
    }

    pub(crate) async fn insert(&self, p: NewPost) -> i64 {
        write!(self, |w| w.insert_post(&p)).expect("insert")
    }

    pub(crate) async fn insert_all(&self, posts: Vec<NewPost>) -> Vec<i64> {
        match &self.db {
            Db::Lite(db) => db
                .store
                .write(|w| posts.iter().map(|p| w.insert_post(p)).collect()),
            Db::Pg { store, .. } => {
                store
                    .write(async |w| {
                        let mut ids = Vec::with_capacity(posts.len());
                        for p in &posts {
                            ids.push(w.insert_post(p).await?);
                        }
                        Ok(ids)
                    })
                    .await
            }
        }
        .expect("insert")
    }

    async fn edit(&self, id: i64, change: impl FnOnce(&mut PostEdit)) {
        let post = match &self.db {
            Db::Lite(db) => db
                .store
                .read(|c| crate::sqlite::editing::editable_post(c, id)),
            Db::Pg { store, .. } => {
                let client = store.client().await.expect("client");
                crate::postgres::editing::editable_post(&client, id).await
            }
        }
        .expect("read")
        .expect("post");
        let body_html = format!("<p>{}</p>", post.body_source);
        let mut edit = PostEdit {
            title: post.title,
            dek: post.dek,
            slug: post.slug,
            body_source: post.body_source,
            body_html,
            word_count: 1,
            reading_minutes: 1,
            status: post.status,
            published_ms: post.published_ms,
            tag_ids: None,
            author_ids: None,
            seo: None,
            feature: None,
            visibility: None,
            tier_ids: None,
            video_embed: None,
            autosave: false,
        };
        change(&mut edit);
        let (version, now) = (post.updated_ms, crate::now_ms());
        write!(self, |w| w.save_post(id, version, &edit, None, now)).expect("save");
    }

    /// Rows in the index.
    async fn indexed_rows(&self) -> i64 {
        match &self.db {
            Db::Lite(db) => db
                .store
                .read(|c| Ok(c.query_row("SELECT count(*) FROM post_search", [], |r| r.get(0))?)),
            Db::Pg { store, .. } => {
                let client = store.client().await.expect("client");
                Ok(client
                    .query_one("SELECT count(*) FROM post_search_keys", &[])
                    .await
                    .expect("count")
                    .get(0))
            }
        }
        .expect("count")
    }

    /// Empties the index, then fills it as the migration that made it does.
    async fn empty_and_rebuild(&self) {
        match &self.db {
            Db::Lite(db) => db.store.write(|w| {
                w.tx().execute("DELETE FROM post_search", [])?;
                w.tx().execute("DELETE FROM post_search_keys", [])?;
                w.rebuild_search_index()
            }),
            Db::Pg { store, .. } => {
                store
                    .write(async |w| {
                        w.tx().execute("DELETE FROM post_search_keys", &[]).await?;
                        w.rebuild_search_index().await
                    })
                    .await
            }
        }
        .expect("rebuild")
    }
}

async fn every_write_path_keeps_the_index_right(backend: Backend) {
    let f = Fixture::new(backend, "search-writes").await;
    let mut p = new_post(
        "ferry",
        "Ferry timetable cut",
        "The crossing runs twice daily.",
        PostStatus::Published,
        1_000,
    );
    p.tag_ids = vec![f.tag];
    p.author_ids = vec![f.author];
    let id = f.insert(p).await;
    let draft = f
        .insert(new_post(
            "secret",
            "Secret ferry plan",
            "Unpublished.",
            PostStatus::Draft,
            2_000,
        ))
        .await;
    let later = f
        .insert(new_post(
            "later",
            "Scheduled ferry story",
            "Tomorrow.",
            PostStatus::Scheduled,
            3_000,
        ))
        .await;
    assert_eq!(
        f.ids("ferry").await,
        vec![id],
        "drafts and scheduled posts are never found"
    );
    assert_eq!(
        f.ids("running").await,
        vec![id],
        "stemming: running finds runs"
    );
    assert_eq!(f.ids("harbour").await, vec![id], "tags are searched");
    assert_eq!(f.ids("quill").await, vec![id], "bylines are searched");

    // Editing the headline: the old word goes, the new one comes.
    f.edit(id, |e| e.title = "Ferry timetable restored".into())
        .await;
    assert!(f.ids("cut").await.is_empty());
    assert_eq!(f.ids("restored").await, vec![id]);

    // Tags and bylines replaced by an edit.
    f.edit(id, |e| {
        e.tag_ids = Some(vec![]);
        e.author_ids = Some(vec![]);
    })
    .await;
    assert!(f.ids("harbour").await.is_empty() && f.ids("quill").await.is_empty());
    let (tag, author) = (f.tag, f.author);
    f.edit(id, |e| {
        e.tag_ids = Some(vec![tag]);
        e.author_ids = Some(vec![author]);
    })
    .await;

    // Renaming a tag or a byline reindexes the posts carrying it.
    let tag_edit = TagEdit {
        name: "Waterfront".into(),
        description: String::new(),
        is_section: false,
        position: 0,
    };
    let author_edit = AuthorEdit {
        name: "Rosa Penn".into(),
        bio: String::new(),
        location: String::new(),
        avatar: None,
    };
    write!(f, |w| w.update_tag(tag, &tag_edit)).expect("rename tag");
    write!(f, |w| w.update_author(author, &author_edit)).expect("rename byline");
    assert_eq!(f.ids("waterfront").await, vec![id]);
    assert!(f.ids("harbour").await.is_empty());
    assert_eq!(f.ids("penn").await, vec![id]);
    assert!(f.ids("quill").await.is_empty());

    // Members-only: found by its teaser, never by what lies behind the gate.
    let gated = "<p>Open paragraph one.</p><p>Open paragraph two.</p><p>Hidden lighthouse.</p>";
    f.edit(id, |e| {
        e.body_html = gated.into();
        e.visibility = Some(Visibility::Members);
    })
    .await;
    assert_eq!(f.ids("open").await, vec![id]);
    assert!(f.ids("lighthouse").await.is_empty());
    f.edit(id, |e| {
        e.body_html = gated.into();
        e.visibility = Some(Visibility::Public);
    })
    .await;
    assert_eq!(f.ids("lighthouse").await, vec![id]);

    // Unpublishing removes; publishing (by an edit, or when due) adds.
    f.edit(id, |e| e.status = PostStatus::Draft).await;
    assert!(f.ids("ferry").await.is_empty());
    f.edit(draft, |e| {
        e.status = PostStatus::Published;
        e.published_ms = Some(2_000);
    })
    .await;
    assert_eq!(f.ids("ferry").await, vec![draft]);
    write!(f, |w| w.publish_due(3_000)).expect("publish due");
    assert_eq!(f.ids("ferry").await, vec![later, draft]);

    // Deleting a tag reindexes its posts; deleting a post removes it.
    f.edit(later, |e| e.tag_ids = Some(vec![tag])).await;
    assert_eq!(f.ids("waterfront").await, vec![later]);
    write!(f, |w| w.delete_tag(tag)).expect("delete tag");
    assert!(f.ids("waterfront").await.is_empty());
    write!(f, |w| w.delete_post(later)).expect("delete");
    assert_eq!(f.ids("ferry").await, vec![draft]);
    assert_eq!(
        f.indexed_rows().await,
        1,
        "only the one published post is indexed"
    );
}
on_both!(every_write_path_keeps_the_index_right);

async fn ranking_phrases_prefixes_filters_and_paging(backend: Backend) {
    let f = Fixture::new(backend, "search-rank").await;
    // Headline beats body; equal relevance falls back to newest first.
    let body_hit = f
        .insert(new_post(
            "a",
            "Harbour news",
            "The council met.",
            PostStatus::Published,
            5_000,
        ))
        .await;
    let title_hit = f
        .insert(new_post(
            "b",
            "Council votes",
            "Nothing else.",
            PostStatus::Published,
            1_000,
        ))
        .await;
    assert_eq!(f.ids("council").await, vec![title_hit, body_hit]);
    let phrase = f
        .insert(new_post(
            "c",
            "Plans",
            "The city council agreed.",
            PostStatus::Published,
            2_000,
        ))
        .await;
    let apart = f
        .insert(new_post(
            "d",
            "Plans",
            "The council of the city.",
            PostStatus::Published,
            2_000,
        ))
        .await;
    assert_eq!(f.ids("\"city council\"").await, vec![phrase]);
    let mut both = f.ids("city council").await;
    both.sort_unstable();
    assert_eq!(both, vec![phrase, apart]);
    assert_eq!(f.ids("counc*").await.len(), 4);
    assert_eq!(f.ids("council -city").await, vec![title_hit, body_hit]);
    // Stop words are words: a phrase of them stays a phrase.
    assert_eq!(f.ids("\"of the\"").await, vec![apart]);
    assert_eq!(f.ids("the -city").await, vec![body_hit]);
    let mut v = new_post("v", "Council video", "", PostStatus::Published, 9_000);
    v.kind = PostKind::Video;
    let video = f.insert(v).await;
    let only = |kind| SearchFilters {
        kind: Some(kind),
        ..SearchFilters::default()
    };
    assert_eq!(f.find("council", only(PostKind::Video)).await, vec![video]);
    assert!(f.find("council", only(PostKind::Live)).await.is_empty());
    let dated = SearchFilters {
        from_ms: Some(2_000),
        to_ms: Some(6_000),
        ..SearchFilters::default()
    };
    let mut found = f.find("council", dated).await;
    found.sort_unstable();
    assert_eq!(found, vec![body_hit, phrase, apart]);
    let tagged = SearchFilters {
        tag: Some("harbour".into()),
        ..SearchFilters::default()
    };
    // Facets are out of readers' reach, whatever they type.
    for q in [
        "karticle0",
        "\u{E000}karticle0",
        "kvideo0",
        "\"kind video\"",
        "kind video",
        "tag harbour",
    ] {
        assert!(f.ids(q).await.is_empty(), "{q:?}");
    }
    assert!(f.find("council", tagged.clone()).await.is_empty());
    let tag = f.tag;
    f.edit(apart, |e| e.tag_ids = Some(vec![tag])).await;
    assert_eq!(f.find("council", tagged).await, vec![apart]);
    let unknown = SearchFilters {
        tag: Some("nope".into()),
        ..SearchFilters::default()
    };
    assert!(f.find("council", unknown).await.is_empty());

    // Keyset paging: every page strictly after the last, no repeats, no gaps.
    let many = f
        .insert_all(
            (0..23)
                .map(|i| {
                    new_post(
                        &format!("m{i}"),
                        &format!("Market day {i}"),
                        if i % 3 == 0 {
                            "market market"
                        } else {
                            "market"
                        },
                        PostStatus::Published,
                        10_000 + i64::from(i % 4),
                    )
                })
                .collect(),
        )
        .await;
    let all = f.ids("market").await;
    let (seen, _) = f.all_pages("market", 5).await;
    assert_eq!(seen, all);
    let mut sorted = seen.clone();
    sorted.sort_unstable();
    let mut expected = many.clone();
    expected.sort_unstable();
    assert_eq!(sorted, expected);
}
on_both!(ranking_phrases_prefixes_filters_and_paging);

async fn many_matches_rank_window_by_window_and_page_without_gaps(backend: Backend) {
    let f = Fixture::new(backend, "search-windows").await;
    let window = f.rank_window();
    let n = window * 2 + 150;
    let ids = f
        .insert_all(
            (0..n)
                .map(|i| {
                    // Every seventh story says it twice: more relevant.
                    let body = if i % 7 == 0 {
                        "tidal tidal gate"
                    } else {
                        "tidal gate"
                    };
                    new_post(
                        &format!("t{i}"),
                        &format!("Story {i}"),
                        body,
                        PostStatus::Published,
                        1_000_000 + i as i64 * 1_000,
                    )
                })
                .collect(),
        )
        .await;
    // The first page: the more relevant stories among the newest window, newest first.
    let first: Vec<i64> = f
        .page("tidal", SearchFilters::default(), None, 100)
        .await
        .hits
        .iter()
        .map(|h| h.card.id)
        .collect();
    let best: Vec<i64> = ids
        .iter()
        .rev()
        .take(window)
        .filter(|id| (*id - ids[0]) % 7 == 0)
        .copied()
        .collect();
    assert_eq!(first[..best.len().min(100)], best[..best.len().min(100)]);
    let (seen, pages) = f.all_pages("tidal", 100).await;
    assert_eq!(seen.len(), n, "nothing twice");
    let mut sorted = seen.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, ids, "nothing missed");
    assert_eq!(pages, n.div_ceil(100));
    // A date filter is a range of keys: only the stories of that span.
    let span = SearchFilters {
        from_ms: Some(1_000_000 + 10 * 1_000),
        to_ms: Some(1_000_000 + 20 * 1_000),
        ..SearchFilters::default()
    };
    let mut found = f.find("tidal", span).await;
    found.sort_unstable();
    assert_eq!(found, ids[10..20].to_vec());
}
on_both!(many_matches_rank_window_by_window_and_page_without_gaps);

async fn snippets_mark_matches_and_come_from_the_text(backend: Backend) {
    let f = Fixture::new(backend, "search-snippets").await;
    let id = f
        .insert(new_post(
            "s",
            "Bridge <repairs>",
            "Engineers say the &lt;script&gt; bridge needs work before winter.",
            PostStatus::Published,
            1,
        ))
        .await;
    let mut long = new_post(
        "l",
        "Long read",
        &format!(
            "{} The ferry bridge story. {}",
            "Opening words here. ".repeat(20),
            "Closing words there. ".repeat(20)
        ),
        PostStatus::Published,
        2,
    );
    long.dek = "A standfirst about the weather".into();
    let long = f.insert(long).await;
    let page = f.page("bridge", SearchFilters::default(), None, 10).await;
    let hit = |id| page.hits.iter().find(|h| h.card.id == id).expect("a hit");
    assert_eq!(
        hit(id).title.to_html(),
        "<mark>Bridge</mark> &lt;repairs&gt;"
    );
    let snippet = hit(id).snippet.to_html();
    assert!(
        snippet.contains("&lt;script&gt; <mark>bridge</mark> needs"),
        "{snippet}"
    );
    // A cut in the middle of a long body: ellipses either side.
    let snippet = hit(long).snippet.to_html();
    assert!(
        snippet.starts_with('…')
            && snippet.ends_with('…')
            && snippet.contains("<mark>bridge</mark>"),
        "{snippet}"
    );
    // A match only in the standfirst: the snippet is the standfirst.
    let page = f.page("weather", SearchFilters::default(), None, 10).await;
    assert_eq!(
        page.hits[0].snippet.to_html(),
        "A standfirst about the <mark>weather</mark>"
    );
    assert_eq!(page.hits[0].title.to_html(), "Long read");
}
on_both!(snippets_mark_matches_and_come_from_the_text);

async fn the_migration_indexes_existing_posts(backend: Backend) {
    let f = Fixture::new(backend, "search-migrate").await;
    let id = f
        .insert(new_post(
            "m",
            "Lighthouse keeper",
            "x",
            PostStatus::Published,
            1,
        ))
        .await;
    f.insert(new_post("d", "Lighthouse draft", "x", PostStatus::Draft, 1))
        .await;
    // Two stories of the same millisecond: equal relevance, newest (by id) first.
    let twins = f
        .insert_all(vec![
            new_post("t1", "Lighthouse twin", "x", PostStatus::Published, 5),
            new_post("t2", "Lighthouse twin", "x", PostStatus::Published, 5),
        ])
        .await;
    f.empty_and_rebuild().await;
    assert_eq!(f.ids("lighthouse").await, vec![twins[1], twins[0], id]);
    assert_eq!(f.indexed_rows().await, 3);
}
on_both!(the_migration_indexes_existing_posts);

async fn a_seeded_site_is_searchable(backend: Backend) {
    use crate::units::{SeedPost, SiteSeed};
    let f = Fixture::new(backend, "search-seed").await;
    let post = |slug: &str, title: &str, status| SeedPost {
        post: new_post(slug, title, "Seeded body text.", status, 7_000),
        tags: vec![0],
        authors: vec![0],
        notes: vec![],
        entries: vec![],
    };
    let seed = SiteSeed {
        settings: vec![],
        authors: vec![NewAuthor {
            slug: "ida".into(),
            name: "Ida Marsh".into(),
            bio: String::new(),
            location: String::new(),
        }],
        tags: vec![NewTag {
            slug: "weather".into(),
            name: "Weather".into(),
            description: String::new(),
            is_section: false,
            position: 1,
        }],
        posts: Box::new(
            vec![
                post("gale", "Gale warning issued", PostStatus::Published),
                post("gale-draft", "Gale draft", PostStatus::Draft),
            ]
            .into_iter(),
        ),
        campaign: None,
        members: vec![],
        member_source: "test".into(),
        closing_settings: vec![],
    };
    let counts = match &f.db {
        Db::Lite(db) => db.store.write(|w| w.seed_site(seed)),
        Db::Pg { store, .. } => store.write(async |w| w.seed_site(seed).await).await,
    }
    .expect("seed");
    assert_eq!(counts.posts, 2);
    let found = f.ids("gale").await;
    assert_eq!(found.len(), 1, "the published post, not the draft");
    assert_eq!(f.ids("marsh").await, found, "its byline");
    let weather = SearchFilters {
        tag: Some("weather".into()),
        ..SearchFilters::default()
    };
    assert_eq!(f.find("seeded", weather).await, found, "its tag");
}
on_both!(a_seeded_site_is_searchable);
