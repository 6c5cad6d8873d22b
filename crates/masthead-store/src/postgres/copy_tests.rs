//! `Store::copy_to` between real databases: SQLite files and PostgreSQL
//! databases on the server named by `MASTHEAD_TEST_DATABASE_URL` (these
//! tests fail without one, never skip). A site with a row in every copied
//! table, written with awkward values (gaps in ids, NULLs, Unicode, the
//! largest integers, bytes, negative times, more rows than a batch), goes
//! SQLite -> PostgreSQL -> SQLite and -> PostgreSQL, and every table must
//! read back the same, through `SELECT *`, not the copy's own code.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use masthead_model::{CopyProgress, CopyReport, NewTag, TargetNotEmpty};

use super::tests::TestDb;
use crate::copy::{TABLES, Treatment};
use crate::error::{StoreError, StoreResult};
use crate::testing::{copied_tables, dump_site};
use crate::{SearchFilters, Store};

/// A directory for SQLite files, removed at the end.
struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
        let dir = std::env::temp_dir().join(format!(
            "masthead-copy-{tag}-{}-{}",
            std::process::id(),
            crate::now_ms()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        Dir(dir)
    }

    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn sqlite(path: &Path) -> Store {
    Store::open_sqlite(path).expect("open SQLite")
}

async fn postgres(db: &TestDb) -> Store {
    Store::with_postgres(db.migrated().await)
}

/// One row or more in every copied table, and in the tables a copy leaves
/// out, written straight into a SQLite file.
const SEED: &str = r#"
INSERT INTO settings (key, value) VALUES
    ('title', 'The Harbour Gazette — Zoë''s "paper"'),
    ('timezone', 'Europe/London'),
    ('empty', '');
INSERT INTO authors (id, slug, name, bio, location, avatar, created_at) VALUES
    (3, 'ines', 'Inès Marlow', 'Writes on
two lines', '東京', NULL, -86400000),
    (9, 'tomas', 'Tomas Brekke', '', '', '/media/a/320.webp', 1700000000000);
INSERT INTO tags (id, slug, name, description, is_section, position, created_at) VALUES
    (2, 'harbour', 'Harbour', 'Ships 🚢', 1, 0, 1),
    (5, 'notes', 'Notes', '', 0, 3, 2);
INSERT INTO staff_users (id, email, email_key, name, role, password_hash, author_id, active, created_at, updated_at) VALUES
    (4, 'Ed@Example.org', 'ed@example.org', 'Ed', 'owner', '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA', 3, 1, 10, 11),
    (8, 'gone@example.org', 'gone@example.org', 'Gone', 'contributor', 'x', NULL, 0, 12, 13);
INSERT INTO media (id, key, filename, format, width, height, bytes, widths, fallback, alt, caption, photographer, agency, uploaded_by, created_at, updated_at) VALUES
    (6, 'a1b2c3d4e5f6a7b8c9d0', 'slipway.jpg', 'jpeg', 2400, 1600, 9223372036854775807, '320,640,1024,1600,2400', 'jpg', 'A boat', '', 'Inès', 'Agence', 4, 20, 21),
    (7, 'ffffffffffffffffffff', 'plan.png', 'png', 1, 1, 0, '320', 'png', '', '', '', '', NULL, 22, 22);
INSERT INTO posts (id, kind, slug, title, dek, body_format, body_source, body_html, word_count, reading_minutes,
                   status, visibility, primary_tag_id, feature_image, feature_image_alt, feature_image_caption,
                   feature_image_photographer, feature_image_agency, feature_image_width, feature_image_height,
                   video_src, video_embed, video_duration_s, language, canonical_url, meta_title, meta_description,
                   created_at, updated_at, published_at, review, feature_media_id, feature_image_srcset,
                   feature_image_webp_srcset, featured, uuid) VALUES
    (11, 'article', 'lighthouse-relit', 'Lighthouse relit', 'After forty years', 'markdown', 'The *lighthouse* shines.',
     '<p>The <em>lighthouse</em> shines.</p>', 3, 1, 'published', 'public', 2, '/media/a1/1024.jpg', 'Alt', 'Caption',
     'Inès', 'Agence', 2400, 1600, NULL, NULL, NULL, 'en', NULL, 'Meta', NULL, 100, 200, 150, 'none', 6,
     '/media/a1/320.jpg 320w', '/media/a1/320.webp 320w', 1, '5b0f1c2e-3d4a-4b5c-8d6e-7f8091a2b3c4'),
    (12, 'live', 'storm-live', 'Storm, live', '', 'html', '<p>x</p>', '<p>x</p>', 1, 1, 'published', 'members', NULL,
     NULL, '', '', '', '', NULL, NULL, NULL, NULL, NULL, 'cy', 'https://example.org/storm', NULL, 'Desc', 300, 301, 300,
     'approved', NULL, NULL, NULL, 0, '0e0e0e0e-0000-4000-8000-000000000001'),
    (1000000, 'video', 'draft-video', 'Draft', 'Dek', 'markdown', '', '', 0, 1, 'draft', 'paid', 5, NULL, '', '', '',
     '', NULL, NULL, '/content/clip.mp4', '<iframe></iframe>', 95, 'en', NULL, NULL, NULL, 400, 401, NULL, 'submitted',
     NULL, NULL, NULL, 0, '0e0e0e0e-0000-4000-8000-000000000002');
INSERT INTO post_tags (post_id, tag_id, position, published_at) VALUES
    (11, 2, 0, 150), (11, 5, 1, 150), (1000000, 5, 0, NULL);
INSERT INTO post_authors (post_id, author_id, position, published_at) VALUES
    (11, 9, 0, 150), (11, 3, 1, 150), (12, 3, 0, 300);
INSERT INTO post_notes (id, post_id, kind, noted_at, note) VALUES
    (1, 11, 'correction', 160, 'We misspelt Inès.');
INSERT INTO live_entries (id, post_id, title, body_source, body_html, pinned, created_at, updated_at) VALUES
    (30, 12, 'Gale warning', 'Force 9', '<p>Force 9</p>', 1, 310, 311),
    (31, 12, '', '', '', 0, 320, 320);
INSERT INTO post_revisions (id, post_id, staff_id, created_at, title, dek, slug, body_source, status, autosave) VALUES
    (40, 11, 4, 190, 'Lighthouse relit', 'After forty years', 'lighthouse-relit', 'The *lighthouse* shines.', 'published', 0),
    (41, 1000000, NULL, 400, 'Draft', 'Dek', 'draft-video', '', 'draft', 1);
INSERT INTO slug_redirects (old_slug, post_id, created_at) VALUES ('old-lighthouse', 11, 180);
INSERT INTO review_comments (id, post_id, staff_id, created_at, decision, body) VALUES
    (50, 1000000, 8, 402, 'submitted', ''), (51, 1000000, NULL, 403, 'comment', 'Shorter, please.');
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10100)
INSERT INTO members (id, email, email_key, name, status, source, created_at)
    SELECT i * 3, 'Reader' || i || '@Example.org', 'reader' || i || '@example.org',
           CASE WHEN i % 7 = 0 THEN 'Zoë ' || i ELSE '' END,
           CASE i % 3 WHEN 0 THEN 'free' WHEN 1 THEN 'paid' ELSE 'comped' END, 'site', 1000 + i
      FROM n;
INSERT INTO newsletters (id, uuid, name, slug, description, sender_name, subscribe_on_signup, sort_order, created_at, updated_at) VALUES
    (2, '6f1c2d3e-4a5b-4c6d-8e7f-90a1b2c3d4e5', 'Weekend reads', 'weekend', 'Long stories for Saturday', 'Zoë at the Gazette', 0, 1, 10, 11);
INSERT INTO member_newsletters (member_id, newsletter_id, created_at)
    SELECT id, 1 + (id % 2), 2000 + id FROM members;
INSERT INTO labels (id, name, slug, created_at) VALUES
    (1, 'VIP', 'vip', 20), (2, 'Zoë''s list', 'zoes-list', 21);
INSERT INTO member_labels (member_id, label_id, created_at)
    SELECT id, 1 + (id % 2), 3000 + id FROM members WHERE id % 5 = 0;
UPDATE members SET note = 'Met at the fair, ' || id WHERE id % 11 = 0;
INSERT INTO campaigns (id, pitch, goal, metric, starts_at, deadline, active) VALUES
    (1, 'Help us reach 20,000 readers', 20000, 'members', 0, 9000000000000, 1),
    (2, 'Old drive', 5, 'paid', 0, 1, 0);
INSERT INTO api_keys (id, kind, name, key_id, secret, created_by, created_at, last_used_at, revoked_at) VALUES
    (60, 'content', 'Site search', '0123456789abcdef0123456789', NULL, 4, 500, NULL, NULL),
    (61, 'admin', 'Importer', '0123456789abcdef01234567', 'aa11bb22cc33dd44ee55ff6600112233aa11bb22cc33dd44ee55ff6600112233', NULL, 501, 502, 503);
INSERT INTO webhooks (id, event, target_url, name, secret, active, created_at) VALUES
    (70, 'post.published', 'https://hooks.example/in', 'Newsletter', 's3cret-signing-key', 1, 600),
    (71, 'member.added', 'https://crm.example/join', '', 'another', 0, 601);
INSERT INTO webhook_deliveries (id, webhook_id, event, subject_id, status, attempts, next_attempt_at, last_status, last_error, created_at, finished_at) VALUES
    (80, 70, 'post.published', 11, 'delivered', 1, 700, 200, NULL, 700, 701),
    (81, 70, 'post.published', 12, 'failed', 8, 800, NULL, 'connection refused', 710, 900),
    (82, 71, 'member.added', 3, 'pending', 0, 950, NULL, NULL, 940, NULL);
INSERT INTO email_sends (id, post_id, newsletter_id, segment, status, subject, recipients, created_by, created_at, started_at, finished_at) VALUES
    (5, 11, 2, 'all', 'sending', 'Lighthouse relit', 3, 4, 990, 991, NULL);
INSERT INTO email_recipients (id, send_id, member_id, email, name, status, attempts, next_attempt_at, reply, sent_at, lease_owner, lease_token, lease_until) VALUES
    (1, 5, 3, 'Reader1@Example.org', '', 'sent', 0, 992, '250 2.0.0 Ok: queued', 993, NULL, NULL, NULL),
    (2, 5, 6, 'Reader2@Example.org', '', 'failed', 1, 992, '550 5.1.1 no such user', NULL, NULL, NULL, NULL),
    (3, 5, 9, 'Reader3@Example.org', 'Zoë', 'sending', 0, 992, NULL, NULL, 'host:1', 'f00d', 999);
INSERT INTO stripe_customers (customer_id, member_id, email, created_at) VALUES
    ('cus_Zoe1', 3, 'Reader1@Example.org', 1100), ('cus_2', 6, '', 1101);
INSERT INTO stripe_products (stripe_product_id, tier_id, created_at) VALUES ('prod_gold', 5, 1200);
INSERT INTO stripe_prices (stripe_price_id, stripe_product_id, tier_id, amount, currency, cadence, active, created_at) VALUES
    ('plan_m', 'prod_gold', 5, 500, 'eur', 'month', 1, 1201),
    ('plan_old', 'prod_gold', 5, 400, 'eur', 'month', 0, 1199);
INSERT INTO stripe_subscriptions (subscription_id, customer_id, member_id, stripe_price_id, stripe_product_id, tier_id, status, cancel_at_period_end, current_period_end, trial_end_at, amount, currency, cadence, created_at, updated_at) VALUES
    ('sub_1', 'cus_Zoe1', 3, 'plan_m', 'prod_gold', 5, 'active', 1, 9000000000000, NULL, 500, 'usd', 'month', 1300, 1301),
    ('sub_orphan', 'cus_nobody', NULL, 'price_x', '', NULL, 'past_due', 0, NULL, 1250, 0, '', '', 1302, 1302);
INSERT INTO stripe_events (event_id, event_type, outcome, received_at) VALUES
    ('evt_1', 'invoice.paid', 'member 3 is paid (tier 2)', 1400);
UPDATE stripe_subscriptions SET current_period_start = 8997408000000, fetched_at = 1301 WHERE subscription_id = 'sub_1';
INSERT INTO donations (id, kind, amount, currency, member_id, email, name, stripe_ref, stripe_session_id,
                       stripe_subscription_id, stripe_customer_id, thanked_at, created_at) VALUES
    (1, 'one_off', 2500, 'eur', 3, 'Reader1@Example.org', 'Zoë', 'pi_1', 'cs_1', NULL, 'cus_Zoe1', 1501, 1500),
    (2, 'monthly', 500, 'eur', NULL, '', '', 'in_1', 'cs_2', 'sub_gift', 'cus_3', NULL, 1502);
INSERT INTO staff_sessions (token_hash, user_id, csrf_token, created_at, last_seen_at, expires_at) VALUES
    (x'00ff10', 4, 'csrf', 1, 2, 9000000000000);
INSERT INTO one_time_tokens (token_hash, purpose, user_id, created_at, expires_at, used_at) VALUES
    (x'abcd', 'reset', 4, 1, 9000000000000, NULL);
INSERT INTO signin_failures (id, key, at) VALUES (1, 'ip:203.0.113.9', 5);
INSERT INTO tiers (id, uuid, slug, name, description, type, active, visibility, currency, monthly_price, yearly_price,
                   trial_days, welcome_page_url, created_at, updated_at) VALUES
    (5, '1a2b3c4d-0000-4000-8000-00000000000a', 'gold', 'Gold — Zoë''s', '', 'paid', 1, 'public', 'eur', 500, NULL, 7, '/welcome/', 30, 31),
    (9, '1a2b3c4d-0000-4000-8000-00000000000b', 'old', 'Old', 'Archived', 'paid', 0, 'none', 'eur', NULL, 9000, 0, NULL, 32, 33);
INSERT INTO tier_benefits (tier_id, position, name) VALUES (5, 0, 'Ad-free'), (5, 1, 'Les «lettres»');
UPDATE posts SET visibility = 'tiers' WHERE id = 12;
INSERT INTO post_tiers (post_id, tier_id) VALUES (12, 1), (12, 5);
UPDATE members SET tier_id = 5, comp_expires_at = CASE WHEN id % 2 = 0 THEN 9000000000000 ELSE NULL END WHERE status <> 'free';
UPDATE members SET comp_tier_id = 5 WHERE status = 'comped';
INSERT INTO member_events (id, member_id, kind, tier_id, until_at, staff_id, note, created_at) VALUES
    (1, 6, 'comp_given', 5, 9000000000000, 4, '', 40), (2, 6, 'comp_ended', 5, NULL, NULL, 'by hand', 41);
"#;

/// A fresh SQLite site holding [`SEED`].
fn seeded_sqlite(path: &Path) -> Store {
    let store = sqlite(path);
    let c = rusqlite::Connection::open(path).expect("open for seeding");
    c.execute_batch(&format!("PRAGMA foreign_keys = ON; BEGIN; {SEED} COMMIT;"))
        .expect("seed");
    store
}

/// What a copy said as it went.
#[derive(Clone, Default)]
struct Heard(Arc<Mutex<Vec<CopyProgress>>>);

impl Heard {
    fn callback(&self) -> impl Fn(CopyProgress) + Send + Sync + 'static {
        let heard = self.0.clone();
        move |p| heard.lock().expect("progress").push(p)
    }

    fn all(&self) -> Vec<CopyProgress> {
        self.0.lock().expect("progress").clone()
    }
}

async fn copy(from: &Store, to: &Store) -> CopyReport {
    match from.copy_to(to, false, |_| {}).await {
        Ok(Ok(report)) => report,
        Ok(Err(refused)) => panic!("refused: {refused}"),
        Err(e) => panic!("copy failed: {e}"),
    }
}

async fn dump(store: &Store) -> BTreeMap<String, Vec<String>> {
    dump_site(store).await.expect("dump")
}

/// How many rows `table` holds, through the store's dump of it.
async fn count(store: &Store, table: &str) -> usize {
    crate::testing::dump_tables(store, &[table])
        .await
        .expect("dump")[table]
        .len()
}

/// Holds nothing but what migrations put in a new database (its first
/// newsletter and its free tier, in the `Defaulted` tables).
fn all_empty(dump: &BTreeMap<String, Vec<String>>) -> bool {
    dump.iter().all(|(table, rows)| {
        let defaulted = TABLES
            .iter()
            .any(|(name, t)| name == table && *t == Treatment::Defaulted);
        if defaulted {
            rows.len() == 1
                && (rows[0].contains("default-newsletter") || rows[0].contains("\"Free\""))
        } else {
            rows.is_empty()
        }
    })
}

// --- the schema ------------------------------------------------------------------

/// Every table of a migrated SQLite file and of a migrated PostgreSQL
/// database, found through each catalog (FTS5's shadow tables belong to
/// their virtual table), has a decision in `copy::TABLES`, and every
/// decision names a table that exists. A new table — members' sign-in,
/// Stripe's customers — fails this until someone decides what a copy does
/// with it.
#[tokio::test]
async fn every_table_in_either_schema_has_a_copy_decision() {
    let dir = Dir::new("schema");
    let path = dir.file("masthead.db");
    drop(sqlite(&path));
    let c = rusqlite::Connection::open(&path).expect("open");
    let mut lite: Vec<String> = c
        .prepare(
            "SELECT name FROM pragma_table_list()
              WHERE schema = 'main' AND type IN ('table', 'virtual') AND name NOT LIKE 'sqlite_%'",
        )
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("tables")
        .collect::<Result<_, _>>()
        .expect("tables");
    lite.sort();

    let db = TestDb::new("copy_schema").await;
    drop(db.migrated().await);
    let mut pg: Vec<String> = db
        .client()
        .await
        .query(
            "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema()",
            &[],
        )
        .await
        .expect("tables")
        .iter()
        .map(|r| r.get(0))
        .collect();
    pg.sort();

    let decided: Vec<&str> = TABLES.iter().map(|(t, _)| *t).collect();
    for (dialect, tables) in [("SQLite", &lite), ("PostgreSQL", &pg)] {
        let undecided: Vec<&String> = tables
            .iter()
            .filter(|t| !decided.contains(&t.as_str()))
            .collect();
        assert!(
            undecided.is_empty(),
            "{dialect} tables that `masthead copy` neither copies nor deliberately leaves out: \
             {undecided:?}. Add each to masthead-store's copy::TABLES, with its treatment."
        );
    }
    for table in decided {
        assert!(
            lite.iter().chain(&pg).any(|t| t == table),
            "copy::TABLES names {table}, which neither schema has"
        );
    }
    // Every copied table exists in both (only the search index may differ).
    for table in copied_tables() {
        assert!(
            lite.iter().any(|t| t == table) && pg.iter().any(|t| t == table),
            "{table}"
        );
    }
}

// --- copying ---------------------------------------------------------------------

#[tokio::test]
async fn a_site_goes_between_every_pair_of_backends_row_for_row() {
    let dir = Dir::new("pairs");
    let a = seeded_sqlite(&dir.file("a.db"));
    let original = dump(&a).await;
    for (table, rows) in &original {
        assert!(
            !rows.is_empty(),
            "the seed leaves {table} empty: give it a row"
        );
    }
    assert_eq!(original.len(), copied_tables().len());

    // SQLite -> PostgreSQL, with progress.
    let b_db = TestDb::new("copy_b").await;
    let b = postgres(&b_db).await;
    let heard = Heard::default();
    let report = a
        .copy_to(&b, false, heard.callback())
        .await
        .expect("copy")
        .expect("not refused");
    assert!(!report.replaced);
    assert!(
        report.search_rebuilt,
        "the search index is built on PostgreSQL too"
    );
    assert_eq!(
        report.tables.iter().map(|(t, _)| *t).collect::<Vec<_>>(),
        copied_tables()
    );
    assert_eq!(
        report.tables.iter().find(|(t, _)| *t == "members"),
        Some(&("members", 10_100))
    );
    let heard = heard.all();
    assert!(
        heard.contains(&CopyProgress::Rows {
            table: "members",
            rows: 10_000
        }),
        "a large table reports as it goes: {heard:?}"
    );
    let tables_heard: Vec<&str> = heard
        .iter()
        .filter_map(|p| match p {
            CopyProgress::Table { table, .. } => Some(*table),
            _ => None,
        })
        .collect();
    assert_eq!(tables_heard, copied_tables());
    assert_eq!(heard.last(), Some(&CopyProgress::Committing));
    assert_eq!(dump(&b).await, original, "SQLite -> PostgreSQL");

    // PostgreSQL -> SQLite, PostgreSQL -> PostgreSQL, SQLite -> SQLite.
    let c = sqlite(&dir.file("c.db"));
    assert!(copy(&b, &c).await.search_rebuilt);
    assert_eq!(dump(&c).await, original, "PostgreSQL -> SQLite");
    let d_db = TestDb::new("copy_d").await;
    let d = postgres(&d_db).await;
    copy(&b, &d).await;
    assert_eq!(dump(&d).await, original, "PostgreSQL -> PostgreSQL");
    let e = sqlite(&dir.file("e.db"));
    copy(&a, &e).await;
    assert_eq!(dump(&e).await, original, "SQLite -> SQLite");

    // What is left out stays out; the change log has only the copy's note.
    for target in [&b, &c] {
        for (table, t) in TABLES {
            if matches!(t, Treatment::Dropped(_)) {
                assert_eq!(count(target, table).await, 0, "{table} is not copied");
            }
        }
        let log = crate::testing::dump_tables(target, &["change_log"])
            .await
            .expect("dump")
            .remove("change_log")
            .unwrap_or_default();
        assert_eq!(log.len(), 1, "{log:?}");
        assert!(
            log[0].contains("site"),
            "the copy's note is a site change: {log:?}"
        );
    }

    // Each copy's search index was rebuilt from the copied posts.
    for (name, copied) in [("SQLite", &c), ("PostgreSQL", &b), ("PostgreSQL", &d)] {
        let query = masthead_domain::search::parse("lighthouse").expect("query");
        let found = copied
            .search(query, SearchFilters::default(), None, 10)
            .await
            .expect("search");
        assert_eq!(
            found.hits.iter().map(|h| h.card.id).collect::<Vec<_>>(),
            [11],
            "search on the {name} copy"
        );
    }
    // The PostgreSQL copy hands out ids after the copied ones.
    let tag = NewTag {
        slug: "new".into(),
        name: "New".into(),
        description: String::new(),
        is_section: false,
        position: 9,
    };
    assert_eq!(b.create_tag(tag.clone()).await.expect("new tag"), 6);
    assert_eq!(d.create_tag(tag).await.expect("new tag"), 6);
    // And the copies serve: a story reads the same from each.
    let story = |s: Store| async move {
        let post = s
            .published_post_by_slug("lighthouse-relit".into())
            .await
            .expect("read")
            .expect("published");
        format!("{post:?}")
    };
    let from_a = story(a.clone()).await;
    assert_eq!(story(b.clone()).await, from_a);
    assert_eq!(story(c.clone()).await, from_a);
}

#[tokio::test]
async fn a_target_holding_a_site_is_refused_unless_replaced() {
    let dir = Dir::new("refuse");
    let a = seeded_sqlite(&dir.file("a.db"));
    let b_db = TestDb::new("copy_refuse").await;
    let b = postgres(&b_db).await;
    copy(&a, &b).await;
    let before = dump(&b).await;

    // A different site: one more member, one tag renamed.
    let other_path = dir.file("other.db");
    let other = seeded_sqlite(&other_path);
    rusqlite::Connection::open(&other_path)
        .expect("open")
        .execute_batch(
            "INSERT INTO members (id, email, email_key, created_at) VALUES (1, 'new@example.org', 'new@example.org', 5);
             UPDATE tags SET name = 'Port' WHERE id = 2;",
        )
        .expect("change");
    let wanted = dump(&other).await;

    for target in [&b, &a] {
        let refused: TargetNotEmpty = match other.copy_to(target, false, |_| {}).await {
            Ok(Err(refused)) => refused,
            other => panic!("expected a refusal, got {other:?}"),
        };
        assert!(refused.tables.contains(&("posts", 3)), "{refused:?}");
        assert!(refused.tables.contains(&("members", 10_100)), "{refused:?}");
        assert!(refused.to_string().contains("already holds a site"));
    }
    assert_eq!(dump(&b).await, before, "a refused copy changed nothing");

    // A session on the target goes with the site it belonged to.
    b_db.client()
        .await
        .batch_execute(
            "INSERT INTO staff_sessions (token_hash, user_id, csrf_token, created_at, last_seen_at, expires_at)
             VALUES ('\\x01', 4, 'c', 1, 2, 3)",
        )
        .await
        .expect("session");
    let report = other
        .copy_to(&b, true, |_| {})
        .await
        .expect("copy")
        .expect("replaced");
    assert!(report.replaced);
    assert_eq!(
        dump(&b).await,
        wanted,
        "--replace leaves exactly the new site"
    );
    assert_eq!(count(&b, "staff_sessions").await, 0);
    // Replacing an empty target is a plain copy.
    let e = sqlite(&dir.file("e.db"));
    let report = other
        .copy_to(&e, true, |_| {})
        .await
        .expect("copy")
        .expect("copied");
    assert!(!report.replaced);
    assert_eq!(dump(&e).await, wanted);
}

/// A source whose `post_tags` names a post that does not exist (written with
/// foreign keys off): every target refuses that row, late in the copy,
/// after thousands of rows of other tables went in.
fn orphaned_sqlite(path: &Path) -> Store {
    let store = seeded_sqlite(path);
    rusqlite::Connection::open(path)
        .expect("open")
        .execute_batch(
            "PRAGMA foreign_keys = OFF;
             INSERT INTO post_tags (post_id, tag_id, position, published_at) VALUES (999, 2, 0, NULL);",
        )
        .expect("orphan");
    store
}

fn assert_conflict_in(e: &StoreError, table: &str) {
    let text = e.to_string();
    assert!(
        matches!(e, StoreError::Conflict(_)) && text.contains(table),
        "expected a conflict writing {table}, got {e:?}"
    );
}

#[tokio::test]
async fn an_error_mid_copy_leaves_the_target_as_it_was() {
    let dir = Dir::new("midway");
    let broken = orphaned_sqlite(&dir.file("broken.db"));

    // Into empty targets of both kinds: still empty afterwards.
    let pg_db = TestDb::new("copy_midway").await;
    let pg = postgres(&pg_db).await;
    let lite = sqlite(&dir.file("lite.db"));
    for target in [&pg, &lite] {
        let heard = Heard::default();
        let e = broken
            .copy_to(target, false, heard.callback())
            .await
            .expect_err("the orphan is refused");
        assert_conflict_in(&e, "post_tags");
        assert!(
            heard.all().contains(&CopyProgress::Table {
                table: "posts",
                rows: 3
            }),
            "the error came after rows were written"
        );
        assert!(all_empty(&dump(target).await), "nothing stays");
        assert_eq!(count(target, "change_log").await, 0);
    }
    // The PostgreSQL target still works, and takes a good copy.
    let good = seeded_sqlite(&dir.file("good.db"));
    copy(&good, &pg).await;
    let site = dump(&pg).await;

    // Replacing a site, the error leaves the old site whole.
    let e = broken
        .copy_to(&pg, true, |_| {})
        .await
        .expect_err("refused again");
    assert_conflict_in(&e, "post_tags");
    assert_eq!(dump(&pg).await, site, "the replaced site is untouched");
    let lite_site = sqlite(&dir.file("lite-site.db"));
    copy(&good, &lite_site).await;
    broken
        .copy_to(&lite_site, true, |_| {})
        .await
        .expect_err("refused on SQLite too");
    assert_eq!(dump(&lite_site).await, site);

    // From PostgreSQL: an orphan there (its constraint dropped) stops a
    // copy into SQLite the same way.
    let src_db = TestDb::new("copy_midway_src").await;
    let src = postgres(&src_db).await;
    copy(&good, &src).await;
    src_db
        .client()
        .await
        .batch_execute(
            "ALTER TABLE live_entries DROP CONSTRAINT live_entries_post_id_fkey;
             INSERT INTO live_entries (post_id, title, body_source, body_html, pinned, created_at, updated_at)
             VALUES (424242, 'lost', '', '', FALSE, 1, 1);",
        )
        .await
        .expect("orphan on PostgreSQL");
    let target = sqlite(&dir.file("from-pg.db"));
    let e = src
        .copy_to(&target, false, |_| {})
        .await
        .expect_err("refused");
    assert!(matches!(e, StoreError::Conflict(_)), "{e:?}");
    assert!(e.to_string().contains("live_entries"), "{e}");
    assert!(all_empty(&dump(&target).await));

    // The reader failing half-way (text that is not UTF-8, late in the
    // order): its error is the one reported, and the writer rolls back.
    let bad_text_path = dir.file("bad-text.db");
    let bad_text = seeded_sqlite(&bad_text_path);
    rusqlite::Connection::open(&bad_text_path)
        .expect("open")
        .execute_batch("UPDATE webhooks SET name = CAST(x'ff' AS TEXT) WHERE id = 71;")
        .expect("bad text");
    for target in [&pg, &target] {
        let before = dump(target).await;
        let e = bad_text
            .copy_to(target, true, |_| {})
            .await
            .expect_err("refused");
        let text = e.to_string();
        assert!(
            text.contains("reading the source database") && text.contains("webhooks.name"),
            "{text}"
        );
        assert_eq!(dump(target).await, before, "the target is as it was");
    }

    // A value the target's type cannot hold: a flag SQLite kept as 2.
    let odd_path = dir.file("odd.db");
    let odd = seeded_sqlite(&odd_path);
    rusqlite::Connection::open(&odd_path)
        .expect("open")
        .execute_batch(
            "PRAGMA ignore_check_constraints = ON; UPDATE posts SET featured = 2 WHERE id = 12;",
        )
        .expect("odd flag");
    let empty_db = TestDb::new("copy_odd").await;
    let empty = postgres(&empty_db).await;
    let e = odd
        .copy_to(&empty, false, |_| {})
        .await
        .expect_err("refused");
    let text = e.to_string();
    assert!(
        text.contains("posts.featured of row 2 holds an integer") && text.contains("bool"),
        "names the column, the row and the type: {text}"
    );
    assert!(all_empty(&dump(&empty).await));
}

#[tokio::test]
async fn a_source_written_during_the_copy_is_read_as_it_was() -> StoreResult<()> {
    // The reader holds one snapshot: a member who joins while the copy
    // runs is not in it, and the copy is still whole.
    let dir = Dir::new("snapshot");
    let a = seeded_sqlite(&dir.file("a.db"));
    let before = dump(&a).await;
    let b_db = TestDb::new("copy_snapshot").await;
    let b = postgres(&b_db).await;
    let writer = a.clone();
    let joined = Arc::new(Mutex::new(false));
    let flag = joined.clone();
    let handle = tokio::runtime::Handle::current();
    let report = a
        .copy_to(&b, false, move |p| {
            if p == (CopyProgress::Table {
                table: "settings",
                rows: 3,
            }) {
                // Runs on the writer's side, while the reader is mid-way.
                let writer = writer.clone();
                let flag = flag.clone();
                handle.spawn(async move {
                    let email = masthead_domain::Email::parse("late@example.org").expect("email");
                    writer
                        .add_member(email, String::new(), crate::now_ms())
                        .await
                        .expect("join");
                    *flag.lock().expect("flag") = true;
                });
            }
        })
        .await?
        .expect("copied");
    assert!(report.rows() > 10_000);
    // Give the join time to land if it has not.
    for _ in 0..50 {
        if *joined.lock().expect("flag") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(*joined.lock().expect("flag"), "the join went through");
    assert_eq!(dump(&b).await, before, "the copy holds the site as it was");
    assert_eq!(count(&a, "members").await, 10_101);
    Ok(())
}
