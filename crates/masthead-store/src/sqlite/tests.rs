use std::path::PathBuf;

use masthead_domain::{Email, FeedCursor, PostKind, PostStatus, Visibility};

use super::{SqliteStore, queries};
use crate::model::*;

/// A fresh database file in its own directory, removed on drop.
pub(crate) struct TempDb {
    dir: PathBuf,
    pub store: SqliteStore,
}

impl TempDb {
    pub fn new(name: &str) -> TempDb {
        let dir = std::env::temp_dir().join(format!(
            "masthead-store-{name}-{}-{}",
            std::process::id(),
            crate::now_ms()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let store = SqliteStore::open(&dir.join("masthead.db")).expect("open store");
        TempDb { dir, store }
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn post(
    slug: &str,
    kind: PostKind,
    published_ms: i64,
    tags: Vec<i64>,
    authors: Vec<i64>,
) -> NewPost {
    NewPost {
        kind,
        slug: slug.to_owned(),
        title: format!("Title {slug}"),
        dek: String::new(),
        body_source: "Body".into(),
        body_html: "<p>Body</p>".into(),
        word_count: 1,
        reading_minutes: 1,
        status: PostStatus::Published,
        visibility: Visibility::Public,
        image: None,
        video: None,
        published_ms: Some(published_ms),
        updated_ms: published_ms,
        tag_ids: tags,
        author_ids: authors,
    }
}

fn seed_small(db: &TempDb, n: i64) -> (i64, i64, i64) {
    db.store
        .write(|w| {
            let a = w.insert_author(&NewAuthor {
                slug: "ana".into(),
                name: "Ana".into(),
                bio: String::new(),
                location: String::new(),
            })?;
            let t1 = w.insert_tag(&NewTag {
                slug: "city".into(),
                name: "City".into(),
                description: String::new(),
                is_section: true,
                position: 0,
            })?;
            let t2 = w.insert_tag(&NewTag {
                slug: "sport".into(),
                name: "Sport".into(),
                description: String::new(),
                is_section: true,
                position: 1,
            })?;
            for i in 1..=n {
                let kind = if i % 5 == 0 {
                    PostKind::Video
                } else {
                    PostKind::Article
                };
                // Pairs of posts share a publication time, to exercise the id tiebreak.
                let tags = if i % 2 == 0 { vec![t1, t2] } else { vec![t2] };
                w.insert_post(&post(
                    &format!("p-{i}"),
                    kind,
                    1_000 * (i / 2),
                    tags,
                    vec![a],
                ))?;
            }
            w.insert_post(&post("about", PostKind::Page, 5, vec![t1], vec![a]))?;
            Ok((a, t1, t2))
        })
        .expect("seed")
}

fn walk(db: &TempDb, scope: FeedScope, page: u32) -> Vec<i64> {
    let mut seen = Vec::new();
    let mut after: Option<FeedCursor> = None;
    loop {
        let p = db
            .store
            .read(|c| queries::feed(c, scope, after, page))
            .expect("feed");
        seen.extend(p.cards.iter().map(|c| c.id));
        match p.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    seen
}

#[test]
fn keyset_pages_cover_everything_once_in_order() {
    let db = TempDb::new("walk");
    let (a, t1, t2) = seed_small(&db, 53);
    for scope in [
        FeedScope::All,
        FeedScope::Tag(t1),
        FeedScope::Tag(t2),
        FeedScope::Section(t1),
        FeedScope::Author(a),
        FeedScope::Kind(PostKind::Video),
    ] {
        let one_by_one = walk(&db, scope, 1);
        let by_seven = walk(&db, scope, 7);
        assert_eq!(one_by_one, by_seven, "{scope:?}");
        let mut dedup = one_by_one.clone();
        dedup.sort_unstable();
        dedup.dedup();
        assert_eq!(dedup.len(), one_by_one.len(), "duplicates in {scope:?}");
    }
    assert_eq!(
        walk(&db, FeedScope::All, 10).len(),
        53,
        "pages stay out of the feed"
    );
    assert_eq!(walk(&db, FeedScope::Tag(t1), 10).len(), 26);
    assert_eq!(walk(&db, FeedScope::Section(t1), 10).len(), 26);
    assert_eq!(walk(&db, FeedScope::Tag(t2), 10).len(), 53);
    assert_eq!(walk(&db, FeedScope::Section(t2), 10).len(), 27);
    assert_eq!(walk(&db, FeedScope::Kind(PostKind::Video), 10).len(), 10);
}

#[test]
fn posts_published_between_pages_do_not_shift_the_next_page() {
    let db = TempDb::new("shift");
    seed_small(&db, 30);
    let first = db
        .store
        .read(|c| queries::feed(c, FeedScope::All, None, 10))
        .expect("feed");
    let expected_second = db
        .store
        .read(|c| queries::feed(c, FeedScope::All, first.next, 10))
        .expect("feed");
    db.store
        .write(|w| {
            w.insert_post(&post(
                "breaking",
                PostKind::Brief,
                crate::now_ms(),
                vec![],
                vec![],
            ))
        })
        .expect("publish");
    let second = db
        .store
        .read(|c| queries::feed(c, FeedScope::All, first.next, 10))
        .expect("feed");
    let ids = |p: &FeedPage| p.cards.iter().map(|c| c.id).collect::<Vec<_>>();
    assert_eq!(ids(&second), ids(&expected_second));
}

#[test]
fn listing_queries_use_their_indexes() {
    let db = TempDb::new("plan");
    let (a, t1, _) = seed_small(&db, 20);
    let cursor = FeedCursor {
        published_ms: 5_000,
        id: 9,
    };
    for (scope, index) in [
        (FeedScope::All, "posts_feed"),
        (FeedScope::Section(t1), "posts_section"),
        (FeedScope::Kind(PostKind::Video), "posts_kind"),
        (FeedScope::Tag(t1), "post_tags_feed"),
        (FeedScope::Author(a), "post_authors_feed"),
    ] {
        let plan = queries::feed_plan(&db.store, scope, cursor).expect("plan");
        assert!(
            plan.contains(&format!("USING INDEX {index}"))
                || plan.contains(&format!("USING COVERING INDEX {index}")),
            "{scope:?} should use {index}:\n{plan}"
        );
        assert!(
            !plan.contains("USE TEMP B-TREE FOR ORDER BY"),
            "{scope:?} sorts:\n{plan}"
        );
    }
}

#[test]
fn the_scheduler_finds_due_posts_by_index() {
    let db = TempDb::new("plan-due");
    let plan = db
        .store
        .read(|c| {
            let mut stmt = c.prepare(&format!(
                "EXPLAIN QUERY PLAN {}",
                super::write::PUBLISH_DUE_SQL
            ))?;
            let lines = stmt
                .query_map([0_i64], |r| r.get::<_, String>(3))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(lines.join("\n"))
        })
        .expect("plan");
    assert!(
        plan.contains("INDEX posts_scheduled") && !plan.contains("SCAN posts"),
        "{plan}"
    );
}

#[test]
fn members_are_unique_by_address_in_any_case() {
    let db = TempDb::new("members");
    let e = |s: &str| Email::parse(s).expect("email");
    let outcomes = db
        .store
        .write(|w| {
            Ok(vec![
                w.join_member(&e("Ana@Example.org"), "site", 1)?,
                w.join_member(&e("ana@example.ORG"), "site", 2)?,
                w.join_member(&e("bo@example.org"), "site", 3)?,
            ])
        })
        .expect("join");
    assert_eq!(
        outcomes,
        vec![
            JoinOutcome::Joined,
            JoinOutcome::AlreadyMember,
            JoinOutcome::Joined
        ]
    );
    let n = db
        .store
        .read(|c| queries::member_count(c, "members".into()))
        .expect("count");
    assert_eq!(n, 2);
    let changes = db
        .store
        .read(|c| queries::changes_since(c, 0, 100))
        .expect("changes");
    assert_eq!(
        changes
            .iter()
            .filter(|c| c.topic == ChangeTopic::Member)
            .count(),
        2,
        "one change per new member, none for repeats"
    );
}

#[test]
fn a_failed_write_leaves_nothing_behind() {
    let db = TempDb::new("atomic");
    let result = db.store.write(|w| {
        w.insert_post(&post("first", PostKind::Article, 1, vec![], vec![]))?;
        // Same slug again: the unique constraint fails the whole transaction.
        w.insert_post(&post("first", PostKind::Article, 2, vec![], vec![]))
    });
    assert!(
        matches!(result, Err(crate::StoreError::Conflict(_))),
        "{result:?}"
    );
    let n = db.store.read(queries::post_count).expect("count");
    assert_eq!(n, 0);
}

#[test]
fn live_entries_only_on_live_posts() {
    let db = TempDb::new("live");
    let (live, article) = db
        .store
        .write(|w| {
            Ok((
                w.insert_post(&post("live", PostKind::Live, 10, vec![], vec![]))?,
                w.insert_post(&post("article", PostKind::Article, 10, vec![], vec![]))?,
            ))
        })
        .expect("seed");
    let entry = |post_id, ms| NewLiveEntry {
        post_id,
        title: "Update".into(),
        body_source: "x".into(),
        body_html: "<p>x</p>".into(),
        pinned: false,
        created_ms: ms,
    };
    db.store
        .write(|w| w.add_live_entry(&entry(live, 20)))
        .expect("add");
    db.store
        .write(|w| w.add_live_entry(&entry(live, 30)))
        .expect("add");
    assert!(
        db.store
            .write(|w| w.add_live_entry(&entry(article, 30)))
            .is_err()
    );
    assert!(matches!(
        db.store.write(|w| w.add_live_entry(&entry(9999, 30))),
        Err(crate::StoreError::NotFound)
    ));
    let entries = db
        .store
        .read(|c| queries::live_entries(c, live))
        .expect("entries");
    assert_eq!(
        entries.iter().map(|e| e.created_ms).collect::<Vec<_>>(),
        vec![30, 20]
    );
}

#[test]
fn reopening_keeps_data_and_migrations_are_idempotent() {
    let db = TempDb::new("reopen");
    seed_small(&db, 3);
    let path = db.store.path().to_owned();
    let again = SqliteStore::open(&path).expect("reopen");
    assert!(again.migrate().expect("migrate").is_empty());
    assert_eq!(again.read(queries::post_count).expect("count"), 4);
}

#[test]
fn scheduled_posts_publish_when_due_and_only_once() {
    let db = TempDb::new("schedule");
    let (_, t1, _) = seed_small(&db, 2);
    let mut due = post("due-story", PostKind::Article, 5_000, vec![t1], vec![]);
    due.status = PostStatus::Scheduled;
    let mut later = post("later-story", PostKind::Article, 9_000, vec![t1], vec![]);
    later.status = PostStatus::Scheduled;
    let (due_id, later_id) = db
        .store
        .write(|w| Ok((w.insert_post(&due)?, w.insert_post(&later)?)))
        .expect("insert");
    let feed_ids = |db: &TempDb, scope| walk(db, scope, 50);
    assert!(
        !feed_ids(&db, FeedScope::All).contains(&due_id),
        "not before its time"
    );
    // The clock is a parameter: no sleeping.
    assert_eq!(
        db.store.write(|w| w.publish_due(4_999)).expect("run"),
        Vec::<i64>::new()
    );
    assert_eq!(
        db.store.write(|w| w.publish_due(5_000)).expect("run"),
        vec![due_id]
    );
    assert_eq!(
        db.store.write(|w| w.publish_due(6_000)).expect("run"),
        Vec::<i64>::new(),
        "once"
    );
    assert!(feed_ids(&db, FeedScope::All).contains(&due_id));
    assert!(
        feed_ids(&db, FeedScope::Tag(t1)).contains(&due_id),
        "tag listing follows"
    );
    assert!(!feed_ids(&db, FeedScope::All).contains(&later_id));
    assert_eq!(
        db.store.write(|w| w.publish_due(100_000)).expect("run"),
        vec![later_id]
    );
}

#[test]
fn saves_detect_collisions_record_revisions_and_keep_old_slugs() {
    use super::editing::{PostEdit, editable_post, redirect_for, revisions};
    let db = TempDb::new("editing");
    seed_small(&db, 1);
    let id = db
        .store
        .read(|c| queries::published_post_id_by_slug(c, "p-1".into(), None))
        .expect("q")
        .expect("id");
    let v0 = db
        .store
        .read(|c| editable_post(c, id))
        .expect("read")
        .expect("post")
        .updated_ms;
    let edit = |title: &str, slug: &str| PostEdit {
        title: title.into(),
        dek: String::new(),
        slug: slug.into(),
        body_source: format!("{title} body"),
        body_html: format!("<p>{title} body</p>"),
        word_count: 2,
        reading_minutes: 1,
        status: PostStatus::Published,
        published_ms: Some(1_000),
        tag_ids: None,
        author_ids: None,
        seo: None,
        feature: None,
        visibility: None,
        tier_ids: None,
        video_embed: None,
        autosave: false,
    };
    let v1 = db
        .store
        .write(|w| w.save_post(id, v0, &edit("First", "p-1"), None, 10))
        .expect("save");
    // A second editor who opened version v0 collides.
    let clash = db
        .store
        .write(|w| w.save_post(id, v0, &edit("Second", "p-1"), None, 11));
    assert!(
        matches!(clash, Err(crate::StoreError::Conflict(_))),
        "{clash:?}"
    );
    let _v2 = db
        .store
        .write(|w| w.save_post(id, v1, &edit("Renamed", "renamed-story"), None, 12))
        .expect("rename");
    assert_eq!(
        db.store
            .read(|c| redirect_for(c, "p-1".into()))
            .expect("redirect")
            .as_deref(),
        Some("renamed-story")
    );
    let revs = db.store.read(|c| revisions(c, id)).expect("revisions");
    assert_eq!(
        revs.iter().map(|r| r.title.as_str()).collect::<Vec<_>>(),
        vec!["Renamed", "First"]
    );
    // Unpublishing takes it off listings.
    let cur = db
        .store
        .read(|c| editable_post(c, id))
        .expect("read")
        .expect("post");
    let mut draft = edit("Renamed", "renamed-story");
    draft.status = PostStatus::Draft;
    db.store
        .write(|w| w.save_post(id, cur.updated_ms, &draft, None, 13))
        .expect("unpublish");
    assert!(!walk(&db, FeedScope::All, 10).contains(&id));
    assert_eq!(
        db.store
            .read(|c| redirect_for(c, "p-1".into()))
            .expect("redirect"),
        None,
        "no redirect to a draft"
    );
}

#[test]
fn sessions_expire_and_sign_out_everywhere_ends_them_all() {
    use super::staff::session;
    let db = TempDb::new("sessions");
    let user = db
        .store
        .write(|w| {
            w.insert_staff_user(&NewStaffUser {
                email: Email::parse("ana@example.org").expect("email"),
                name: "Ana Silva".into(),
                role: masthead_domain::Role::Author,
                password_hash: "x".into(),
                author_id: None,
            })
        })
        .expect("user");
    db.store
        .write(|w| {
            w.insert_session(b"token-a", user, "csrf-a", 0, 1_000)?;
            w.insert_session(b"token-b", user, "csrf-b", 0, 5_000)
        })
        .expect("sessions");
    // The clock is a parameter: expiry is tested without waiting.
    let at = |t: &[u8], now| {
        db.store
            .read(|c| session(c, t.to_vec(), now))
            .expect("read")
    };
    let s = at(b"token-a", 999).expect("live session");
    assert_eq!(s.user.name, "Ana Silva");
    assert!(s.user.author_id.is_some(), "staff get a byline");
    assert!(at(b"token-a", 1_000).is_none(), "expired at its time");
    assert!(at(b"token-b", 1_000).is_some());
    assert!(at(b"unknown", 0).is_none());
    assert_eq!(
        db.store
            .write(|w| w.delete_sessions_of(user))
            .expect("everywhere"),
        2
    );
    assert!(at(b"token-b", 1_000).is_none());
}

#[test]
fn media_items_dedupe_and_give_posts_responsive_feature_images() {
    use super::editing::{FeatureChoice, FeatureEdit, PostEdit, editable_post};
    use super::media::{MediaDetails, NewMedia, media_item, media_page};
    let db = TempDb::new("media");
    seed_small(&db, 1);
    let upload = |key: &str, now: i64| NewMedia {
        key: key.into(),
        filename: "harbour.jpg".into(),
        format: "jpeg".into(),
        width: 2000,
        height: 1000,
        bytes: 123_456,
        widths: vec![320, 640, 1024, 1600, 2000],
        fallback: "jpg".into(),
        uploaded_by: None,
        now,
    };
    let (a, fresh) = db
        .store
        .write(|w| w.insert_media(&upload("aaaa000011112222", 5)))
        .expect("insert");
    assert!(fresh);
    let (again, fresh) = db
        .store
        .write(|w| w.insert_media(&upload("aaaa000011112222", 6)))
        .expect("again");
    assert_eq!((again, fresh), (a, false), "same file, same item");
    let (b, _) = db
        .store
        .write(|w| w.insert_media(&upload("bbbb000011112222", 7)))
        .expect("second");
    let page = db.store.read(|c| media_page(c, None, 1)).expect("page");
    assert_eq!(page.iter().map(|m| m.id).collect::<Vec<_>>(), vec![b]);
    let older = db
        .store
        .read(|c| media_page(c, Some(b), 10))
        .expect("older");
    assert_eq!(older.iter().map(|m| m.id).collect::<Vec<_>>(), vec![a]);

    let id = db
        .store
        .read(|c| queries::published_post_id_by_slug(c, "p-1".into(), None))
        .expect("q")
        .expect("id");
    let post = db
        .store
        .read(|c| editable_post(c, id))
        .expect("read")
        .expect("post");
    let words = MediaDetails {
        alt: "Boats at the quay".into(),
        caption: "Morning at the harbour".into(),
        photographer: "R. Vale".into(),
        agency: "Courier".into(),
    };
    let edit = PostEdit {
        title: "With a photo".into(),
        dek: String::new(),
        slug: "p-1".into(),
        body_source: String::new(),
        body_html: String::new(),
        word_count: 0,
        reading_minutes: 1,
        status: PostStatus::Published,
        published_ms: post.published_ms,
        tag_ids: None,
        author_ids: None,
        seo: None,
        feature: Some(FeatureEdit {
            choice: FeatureChoice::Media(a),
            words,
        }),
        visibility: None,
        tier_ids: None,
        video_embed: None,
        autosave: false,
    };
    let v = db
        .store
        .write(|w| w.save_post(id, post.updated_ms, &edit, None, 100))
        .expect("save");
    let shown = db
        .store
        .read(|c| queries::published_post_by_slug(c, "p-1".into()))
        .expect("q")
        .expect("post");
    let img = shown.image.expect("feature image");
    assert_eq!(img.src, "/media/aaaa000011112222/2000.jpg");
    assert_eq!((img.width, img.height), (Some(2000), Some(1000)));
    assert_eq!(img.caption, "Morning at the harbour");
    assert_eq!(
        img.webp_srcset.as_deref(),
        Some(
            "/media/aaaa000011112222/320.webp 320w, /media/aaaa000011112222/640.webp 640w, \
             /media/aaaa000011112222/1024.webp 1024w, /media/aaaa000011112222/1600.webp 1600w, \
             /media/aaaa000011112222/2000.webp 2000w"
        )
    );
    assert!(
        img.srcset
            .as_deref()
            .unwrap_or("")
            .contains("/1024.jpg 1024w")
    );
    let item = db
        .store
        .read(|c| media_item(c, a))
        .expect("q")
        .expect("item");
    assert_eq!(item.thumb(), "/media/aaaa000011112222/320.webp");
    // Removing it clears every column.
    let mut remove = edit.clone();
    remove.feature = Some(FeatureEdit {
        choice: FeatureChoice::Remove,
        words: MediaDetails::default(),
    });
    db.store
        .write(|w| w.save_post(id, v, &remove, None, 200))
        .expect("remove");
    let shown = db
        .store
        .read(|c| queries::published_post_by_slug(c, "p-1".into()))
        .expect("q")
        .expect("post");
    assert!(shown.image.is_none());
    // A library item that does not exist is refused, and nothing is half-written.
    let post = db
        .store
        .read(|c| editable_post(c, id))
        .expect("read")
        .expect("post");
    let mut missing = edit.clone();
    missing.title = "Should not stick".into();
    missing.feature = Some(FeatureEdit {
        choice: FeatureChoice::Media(9_999),
        words: MediaDetails::default(),
    });
    let err = db
        .store
        .write(|w| w.save_post(id, post.updated_ms, &missing, None, 300));
    assert!(matches!(err, Err(crate::StoreError::Invalid(_))), "{err:?}");
    let after = db
        .store
        .read(|c| editable_post(c, id))
        .expect("read")
        .expect("post");
    assert_eq!(after.title, "With a photo");
}

#[test]
fn the_last_active_owner_cannot_be_demoted_or_deactivated() {
    use masthead_domain::{Email, Role};
    let db = TempDb::new("owners");
    let add = |email: &str, role: Role| {
        db.store
            .write(|w| {
                w.insert_staff_user(&crate::NewStaffUser {
                    email: Email::parse(email).expect("email"),
                    name: email.into(),
                    role,
                    password_hash: "x".into(),
                    author_id: None,
                })
            })
            .expect("insert")
    };
    let a = add("a@example.com", Role::Owner);
    let b = add("b@example.com", Role::Editor);
    for attempt in [
        db.store.write(|w| w.set_staff_role(a, Role::Editor)),
        db.store.write(|w| w.set_staff_active(a, false)),
    ] {
        assert!(
            matches!(attempt, Err(crate::StoreError::Invalid(_))),
            "{attempt:?}"
        );
    }
    // With a second owner, the first may step down.
    db.store
        .write(|w| w.set_staff_role(b, Role::Owner))
        .expect("promote");
    db.store
        .write(|w| w.set_staff_role(a, Role::Editor))
        .expect("step down");
    // …and the remaining owner is again the last one.
    assert!(db.store.write(|w| w.set_staff_active(b, false)).is_err());
    db.store
        .write(|w| w.set_staff_active(a, false))
        .expect("deactivate a non-owner");
}

#[test]
fn throttles_check_and_record_in_one_step_and_refusals_count_nowhere() {
    let db = TempDb::new("throttle");
    let limits = || {
        vec![
            Limit::new("ip:a", 3, 60_000),
            Limit::new("acct:x", 5, 60_000),
        ]
    };
    let take = |limits: Vec<Limit>, now: i64| {
        db.store
            .write(|w| w.throttle(&limits, now))
            .expect("throttle")
    };
    let mut kept = Vec::new();
    for t in 0..3 {
        kept.push(take(limits(), 1_000 + t).expect("within the limit"));
    }
    assert_eq!(take(limits(), 1_010), Err(0), "the fourth from one address");
    // Refused attempts were not counted on the account: another address
    // still has the account's two remaining.
    let other = || {
        vec![
            Limit::new("ip:b", 3, 60_000),
            Limit::new("acct:x", 5, 60_000),
        ]
    };
    assert!(take(other(), 1_020).is_ok() && take(other(), 1_021).is_ok());
    assert_eq!(take(other(), 1_022), Err(1), "the account's ceiling");
    // A success takes its attempt back.
    let ids = kept.pop().expect("ids");
    db.store.write(|w| w.forget_attempt(&ids)).expect("forget");
    assert!(take(limits(), 1_030).is_ok());
    // After the window, counts start again (and old events are dropped).
    assert!(take(limits(), 1_030 + 60_000).is_ok());
    let rows: i64 = db
        .store
        .read(|c| {
            Ok(c.query_row(
                "SELECT COUNT(*) FROM signin_failures WHERE key = 'ip:a'",
                [],
                |r| r.get(0),
            )?)
        })
        .expect("count");
    assert_eq!(rows, 1);
}

/// Migration 0018 widens `posts`' visibility CHECK by editing the table's
/// definition in place: on a file with stories in it, nothing is lost or
/// cascaded, the writer that migrated accepts `tiers` at once, other values
/// are still refused, and the file passes SQLite's integrity check.
#[test]
fn the_tiers_migration_widens_visibility_in_place() {
    let dir = std::env::temp_dir().join(format!(
        "masthead-store-widen-{}-{}",
        std::process::id(),
        crate::now_ms()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("masthead.db");
    {
        // The schema as it was before 0018, with a tagged story in it.
        let mut c = rusqlite::Connection::open(&path).expect("open");
        c.execute_batch("PRAGMA foreign_keys = ON").expect("fk");
        c.execute_batch(
            "CREATE TABLE schema_migrations (
                 version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
        )
        .expect("table");
        for (version, name, sql) in super::MIGRATIONS.iter().filter(|m| m.0 < 18) {
            let tx = c.transaction().expect("tx");
            tx.execute_batch(sql).expect(name);
            tx.execute(
                "INSERT INTO schema_migrations VALUES (?1, ?2, 0)",
                rusqlite::params![version, name],
            )
            .expect("record");
            tx.commit().expect("commit");
        }
        c.execute_batch(
            "INSERT INTO tags (id, slug, name, created_at) VALUES (1, 'news', 'News', 0);
             INSERT INTO posts (id, kind, slug, title, status, visibility, created_at, updated_at, published_at)
                 VALUES (1, 'article', 'kept', 'Kept', 'published', 'paid', 0, 0, 0);
             INSERT INTO post_tags (post_id, tag_id, position, published_at) VALUES (1, 1, 0, 0);",
        )
        .expect("a story");
    }
    let store = SqliteStore::open(&path).expect("migrate");
    let (sql, tags, visibility): (String, i64, String) = store
        .read(|c| {
            Ok(c.query_row(
                "SELECT (SELECT sql FROM sqlite_schema WHERE name = 'posts'),
                        (SELECT COUNT(*) FROM post_tags), (SELECT visibility FROM posts WHERE id = 1)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?)
        })
        .expect("read");
    assert!(
        sql.contains("CHECK (visibility IN ('public', 'members', 'paid', 'tiers'))"),
        "{sql}"
    );
    assert_eq!((tags, visibility.as_str()), (1, "paid"), "nothing cascaded");
    // The connection that ran the migration sees the new definition.
    store
        .write(|w| {
            Ok(w.tx()
                .execute("UPDATE posts SET visibility = 'tiers' WHERE id = 1", [])?)
        })
        .expect("tiers is allowed");
    let bogus = store.write(|w| {
        Ok(w.tx()
            .execute("UPDATE posts SET visibility = 'secret' WHERE id = 1", [])?)
    });
    assert!(
        matches!(bogus, Err(crate::error::StoreError::Conflict(_))),
        "{bogus:?}"
    );
    let check: String = store
        .read(|c| Ok(c.query_row("PRAGMA integrity_check", [], |r| r.get(0))?))
        .expect("check");
    assert_eq!(check, "ok");
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}
