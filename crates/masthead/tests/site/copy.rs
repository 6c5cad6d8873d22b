//! `masthead copy`, through the real binary: a demo site with members,
//! revisions, media records, keys, webhooks and settings goes from the
//! suite's backend to the other one and back, and every side exports the
//! same bytes and holds the same rows. These tests always need PostgreSQL
//! (`MASTHEAD_TEST_DATABASE_URL`), whichever backend the suite runs on.

use std::process::Output;

use masthead_store::testing::{dump_site, dump_tables};
use masthead_store::{ApiKeyKind, NewMedia, NewStaffUser, PostEdit, SavePost, SignIn, Store};

use super::*;

/// `masthead --data-dir DATA [--database-url DB] ARGS`.
fn run(data: &Path, db: Option<&str>, args: &[&str]) -> Output {
    let mut c = Command::new(BIN);
    c.arg("--data-dir").arg(data);
    if let Some(url) = db {
        c.arg("--database-url").arg(url);
    }
    c.args(args)
        .env("MASTHEAD_LOG", "warn")
        .env_remove("MASTHEAD_DATABASE_URL")
        .env_remove("MASTHEAD_COPY_TO")
        .output()
        .expect("run masthead")
}

fn said(o: &Output) -> String {
    super::transfer::text(o)
}

/// Fails if `text` shows the test server's password.
fn no_password(text: &str) {
    if let Some(password) = pg::password() {
        assert!(!text.contains(&password), "never the password: {text}");
    }
}

/// The export's bytes without the line that says when it was made.
fn export_bytes(data: &Path, db: Option<&str>) -> String {
    let out = run(data, db, &["export"]);
    assert!(out.status.success(), "export: {}", said(&out));
    let text = String::from_utf8(out.stdout).expect("UTF-8 export");
    assert!(text.contains("\"exported_on\""), "the export has its time");
    text.lines()
        .filter(|l| !l.contains("\"exported_on\""))
        .collect::<Vec<_>>()
        .join("\n")
}

async fn open(data: &Path, db: Option<&str>) -> Store {
    match db {
        Some(url) => Store::open_postgres(url).await.expect("open PostgreSQL"),
        None => Store::open_sqlite(&data.join("masthead.db")).expect("open SQLite"),
    }
}

/// Runs `psql` on the database at `url`.
fn psql(url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args([
            "-X",
            "-q",
            "-t",
            "-A",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            url,
            "-c",
            sql,
        ])
        .output()
        .expect("run psql");
    assert!(
        out.status.success(),
        "psql {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The demo newsroom, plus one of everything the demo does not write: a
/// staff account signed in, a media record, API keys, a webhook with a
/// delivery, a revision and a slug redirect, a review comment, a setting.
async fn seed(data: &Path, db: Option<&str>) {
    let out = run(data, db, &["seed"]);
    assert!(out.status.success(), "seed: {}", said(&out));
    let store = open(data, db).await;
    let now = masthead_store::now_ms();
    let editor = store
        .create_staff_user(NewStaffUser {
            email: masthead_domain::Email::parse("Desk@Example.org").expect("email"),
            name: "Desk Editor".into(),
            role: masthead_domain::Role::Editor,
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
            author_id: None,
        })
        .await
        .expect("staff");
    store
        .sign_in(SignIn {
            attempts: Vec::new(),
            forgiven: "email:desk@example.org".into(),
            token_hash: vec![7; 32],
            user_id: editor,
            csrf: "csrf".into(),
            now,
            expires: now + 3_600_000,
        })
        .await
        .expect("session");
    store
        .insert_media(NewMedia {
            key: "0123456789abcdef0123".into(),
            filename: "quay.jpg".into(),
            format: "jpeg".into(),
            width: 1600,
            height: 900,
            bytes: 523_001,
            widths: vec![320, 640, 1024, 1600],
            fallback: "jpg".into(),
            uploaded_by: Some(editor),
            now,
        })
        .await
        .expect("media");
    store
        .insert_api_key(
            ApiKeyKind::Admin,
            "Importer".into(),
            "0123456789abcdef01234567".into(),
            Some("ab".repeat(32)),
            Some(editor),
            now,
        )
        .await
        .expect("admin key");
    store
        .insert_webhook(
            "member.added".into(),
            "https://crm.example/joined".into(),
            "CRM".into(),
            "signing-secret".into(),
            now,
        )
        .await
        .expect("webhook");
    let reader = store
        .add_member(
            masthead_domain::Email::parse("late.reader@example.org").expect("email"),
            String::new(),
            masthead_store::now_ms(),
        )
        .await
        .expect("member with a delivery");
    let newsletters: Vec<i64> = store
        .newsletters()
        .await
        .expect("newsletters")
        .iter()
        .map(|n| n.id)
        .collect();
    store
        .set_member_newsletters(reader, newsletters.clone())
        .await
        .expect("a subscription");
    store
        .edit_member(
            reader,
            masthead_store::MemberEdit {
                note: Some("Asked about the ferry timetable".into()),
                labels: Some(vec!["Harbour fair".into()]),
                ..masthead_store::MemberEdit::default()
            },
        )
        .await
        .expect("a label and a note");
    // A paid tier with benefits, complimentary access to it (a history
    // line), and (below) a story open to it.
    let gold = store
        .create_tier(masthead_store::TierInput {
            name: "Gold".into(),
            slug: "gold".into(),
            description: String::new(),
            kind: "paid".into(),
            active: true,
            visibility: "public".into(),
            currency: Some("usd".into()),
            monthly_price: Some(500),
            yearly_price: None,
            trial_days: 0,
            welcome_page_url: None,
            benefits: vec!["Every story".into()],
        })
        .await
        .expect("a tier");
    store
        .give_comp(reader, gold, None, Some(editor))
        .await
        .expect("a comp")
        .expect("given");
    store
        .set_setting("accent", "#0a5c8f")
        .await
        .expect("setting");
    // An edit of a published story: a revision and, renamed, a redirect.
    let page = store
        .feed(masthead_store::FeedScope::All, None, 1)
        .await
        .expect("feed");
    let id = page.cards.first().expect("a published post").id;
    let post = store.editable_post(id).await.expect("read").expect("post");
    // A newsletter send of it, with its one recipient queued.
    store
        .create_send(masthead_store::NewSend {
            post_id: id,
            newsletter_id: newsletters[0],
            segment: masthead_store::Segment::All,
            subject: post.title.clone(),
            created_by: None,
            now_ms: now,
        })
        .await
        .expect("a send");
    store
        .save_post(SavePost {
            id,
            version: post.updated_ms,
            edit: PostEdit {
                title: format!("{} (updated)", post.title),
                dek: post.dek.clone(),
                slug: format!("{}-updated", post.slug),
                body_source: format!("{}\n\nUpdated.", post.body_source),
                body_html: "<p>Updated.</p>".into(),
                word_count: 1,
                reading_minutes: 1,
                status: post.status,
                published_ms: post.published_ms,
                tag_ids: None,
                author_ids: None,
                seo: None,
                feature: None,
                visibility: Some(masthead_domain::Visibility::Tiers),
                tier_ids: Some(vec![gold]),
                video_embed: None,
                autosave: false,
            },
            tags_by_slug: None,
            extras: None,
            staff_id: Some(editor),
            now,
        })
        .await
        .expect("save");
    store
        .review(
            id,
            editor,
            "comment".into(),
            "Check the figures.".into(),
            now,
        )
        .await
        .expect("review comment");
    // Paid memberships on Stripe: a tier's product and price, a member's
    // customer and subscription (with their history), a handled event.
    let tier = store
        .create_tier(masthead_store::TierInput {
            name: "Gold".into(),
            slug: "gold-copy".into(),
            description: String::new(),
            kind: "paid".into(),
            active: true,
            visibility: "public".into(),
            currency: Some("usd".into()),
            monthly_price: Some(500),
            yearly_price: None,
            trial_days: 0,
            welcome_page_url: None,
            benefits: vec!["Every story".into()],
        })
        .await
        .expect("tier");
    store
        .save_stripe_product(tier, "prod_copy".into(), now)
        .await
        .expect("product");
    store
        .save_stripe_price(
            masthead_store::StripePrice {
                price_id: "plan_copy".into(),
                product_id: "prod_copy".into(),
                tier_id: tier,
                amount: 500,
                currency: "usd".into(),
                cadence: "month".into(),
                active: true,
            },
            now,
        )
        .await
        .expect("price");
    let linked = store
        .link_stripe_customer(masthead_store::CustomerLink {
            customer_id: "cus_copy".into(),
            email: Some(masthead_domain::Email::parse("payer@example.org").expect("email")),
            member_id: None,
            create_member: true,
            name: "Payer".into(),
            now_ms: now,
        })
        .await
        .expect("customer");
    assert!(matches!(
        linked,
        masthead_store::CustomerLinked::Member { .. }
    ));
    store
        .sync_subscription(
            masthead_store::SubscriptionState {
                subscription_id: "sub_copy".into(),
                customer_id: "cus_copy".into(),
                price_id: "plan_copy".into(),
                product_id: "prod_copy".into(),
                status: "active".into(),
                cancel_at_period_end: false,
                current_period_start_ms: Some(now),
                current_period_end_ms: Some(now + 30 * 86_400_000),
                trial_end_ms: None,
                amount: 500,
                currency: "usd".into(),
                cadence: "month".into(),
            },
            now,
            now,
        )
        .await
        .expect("subscription");
    store
        .record_stripe_event(
            "evt_copy".into(),
            "invoice.paid".into(),
            "applied".into(),
            now,
        )
        .await
        .expect("event");
    let given = store
        .record_donation(masthead_store::NewDonation {
            kind: "one_off".into(),
            amount: 2_500,
            currency: "usd".into(),
            member_id: None,
            email: "giver@example.org".into(),
            name: "Giver".into(),
            stripe_ref: "pi_copy".into(),
            stripe_session_id: Some("cs_copy".into()),
            stripe_subscription_id: None,
            stripe_customer_id: None,
            created_ms: now,
        })
        .await
        .expect("donation");
    assert!(given.is_some());
}

/// The other backend's fresh database for a copy: a PostgreSQL URL (a new
/// database, dropped with `dir`) when the site is on SQLite, or a directory
/// for a SQLite file when the site is on PostgreSQL. Returns `(data dir,
/// database URL)` as `run` takes them, and what `--to` should say.
fn other_backend(
    dir: &Path,
    site: &Path,
    site_db: Option<&str>,
    name: &str,
) -> (PathBuf, Option<String>, String) {
    match site_db {
        None => {
            let url = pg::scratch_database(dir);
            (site.to_owned(), Some(url.clone()), url)
        }
        Some(_) => {
            let data = dir.join(name);
            std::fs::create_dir_all(&data).expect("dir");
            (data.clone(), None, data.display().to_string())
        }
    }
}

#[tokio::test]
async fn copy_carries_a_whole_site_to_the_other_backend_and_back() {
    let dir = TempDir::new("copy");
    let site = dir.0.join("site");
    let site_db = pg::database_for(&site);
    seed(&site, site_db.as_deref()).await;
    let exported = export_bytes(&site, site_db.as_deref());
    let rows = dump_site(&open(&site, site_db.as_deref()).await)
        .await
        .expect("dump");
    for (table, found) in &rows {
        assert!(!found.is_empty(), "the seed leaves {table} empty");
    }

    // There: SQLite -> PostgreSQL, or PostgreSQL -> SQLite.
    let (there, there_db, to) = other_backend(&dir.0, &site, site_db.as_deref(), "there");
    let out = run(&site, site_db.as_deref(), &["copy", "--to", &to]);
    let text = said(&out);
    assert!(out.status.success(), "copy: {text}");
    no_password(&text);
    for want in [
        "Copying the site from the ",
        "in one transaction",
        "  posts: ",
        "  members: ",
        "  webhook_deliveries: ",
        "Committing...",
        "Not copied:",
        "  staff_sessions: ",
        "Media and content files were not copied",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    assert!(text.contains("Copied "), "{text}");
    assert_eq!(
        export_bytes(&there, there_db.as_deref()),
        exported,
        "the copy exports the same bytes"
    );
    let there_store = open(&there, there_db.as_deref()).await;
    assert_eq!(dump_site(&there_store).await.expect("dump"), rows);
    let sessions = |s: Store| async move {
        dump_tables(&s, &["staff_sessions"]).await.expect("dump")["staff_sessions"].len()
    };
    assert_eq!(sessions(open(&site, site_db.as_deref()).await).await, 1);
    assert_eq!(
        sessions(there_store.clone()).await,
        0,
        "sessions stay behind"
    );

    // And back: into a fresh database of the site's own kind.
    let back = dir.0.join("back");
    std::fs::create_dir_all(&back).expect("dir");
    let (back_db, to) = match &site_db {
        None => (None, back.display().to_string()),
        Some(_) => {
            let url = pg::scratch_database(&dir.0);
            (Some(url.clone()), url)
        }
    };
    let out = run(&there, there_db.as_deref(), &["copy", "--to", &to]);
    assert!(out.status.success(), "copy back: {}", said(&out));
    no_password(&said(&out));
    let back_data = if back_db.is_some() { &there } else { &back };
    assert_eq!(export_bytes(back_data, back_db.as_deref()), exported);
    assert_eq!(
        dump_site(&open(back_data, back_db.as_deref()).await)
            .await
            .expect("dump"),
        rows,
        "the round trip keeps every row"
    );
    assert!(
        said(&out).contains("The search index was rebuilt"),
        "{}",
        said(&out)
    );
}

#[tokio::test]
async fn copy_refuses_a_site_in_the_way_and_replaces_it_when_asked() {
    let dir = TempDir::new("copy-refuse");
    let site = dir.0.join("site");
    let site_db = pg::database_for(&site);
    seed(&site, site_db.as_deref()).await;
    let (there, there_db, to) = other_backend(&dir.0, &site, site_db.as_deref(), "there");
    let out = run(&site, site_db.as_deref(), &["copy", "--to", &to]);
    assert!(out.status.success(), "{}", said(&out));
    let before = export_bytes(&there, there_db.as_deref());

    // The site moves on; copying again is refused, with exit status 3.
    let store = open(&site, site_db.as_deref()).await;
    store
        .add_member(
            masthead_domain::Email::parse("after@example.org").expect("email"),
            String::new(),
            masthead_store::now_ms(),
        )
        .await
        .expect("join");
    let out = run(&site, site_db.as_deref(), &["copy", "--to", &to]);
    let text = said(&out);
    assert_eq!(out.status.code(), Some(3), "{text}");
    for want in [
        "Refused: the ",
        "already holds a site (",
        "posts: ",
        "members: ",
        "Nothing was changed",
        "--replace",
    ] {
        assert!(text.contains(want), "missing {want:?} in: {text}");
    }
    no_password(&text);
    assert_eq!(export_bytes(&there, there_db.as_deref()), before);

    // --replace makes the target the site as it is now.
    let out = run(
        &site,
        site_db.as_deref(),
        &["copy", "--to", &to, "--replace"],
    );
    let text = said(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("replacing the site that was there"), "{text}");
    let now = export_bytes(&site, site_db.as_deref());
    assert_ne!(now, before);
    assert_eq!(export_bytes(&there, there_db.as_deref()), now);

    // Onto itself, or from a directory without a site: refused at once.
    let own = match &site_db {
        Some(url) => url.clone(),
        None => site.display().to_string(),
    };
    let out = run(&site, site_db.as_deref(), &["copy", "--to", &own]);
    assert!(!out.status.success());
    assert!(
        said(&out).contains("the site's own database"),
        "{}",
        said(&out)
    );
    no_password(&said(&out));
    let nowhere = dir.0.join("nowhere");
    let out = run(
        &nowhere,
        None,
        &["copy", "--to", &dir.0.join("x.db").display().to_string()],
    );
    assert!(!out.status.success());
    assert!(
        said(&out).contains("holds no Masthead site to copy"),
        "{}",
        said(&out)
    );
}

#[test]
fn copy_errors_say_what_to_do_and_never_show_a_password() {
    let dir = TempDir::new("copy-errors");
    let site = dir.0.join("site");
    std::fs::create_dir_all(&site).expect("dir");
    // A SQLite site to copy from (the flags below choose the databases).
    let out = run(&site, None, &["migrate"]);
    assert!(out.status.success(), "{}", said(&out));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let unreachable = format!("postgres://editor:s3cret-Pw@127.0.0.1:{port}/news");
    let wrong_password = {
        let url = std::env::var("MASTHEAD_TEST_DATABASE_URL")
            .expect("the copy tests need MASTHEAD_TEST_DATABASE_URL (scripts/pg.sh start)");
        let (scheme_user, rest) = url.split_once('@').expect("user@host");
        let user = scheme_user.rsplit_once(':').map_or(scheme_user, |(u, _)| u);
        format!("{user}:s3cret-Pw@{rest}")
    };
    for (to, says) in [
        ("mysql://editor:s3cret-Pw@db/news", "not a mysql:// address"),
        (unreachable.as_str(), "editor@127.0.0.1"),
        (wrong_password.as_str(), "check that the server is running"),
        ("/no/such/dir/masthead.db", "create it first"),
    ] {
        let out = run(&site, None, &["copy", "--to", to]);
        let text = said(&out);
        assert_eq!(out.status.code(), Some(1), "{to}: {text}");
        assert!(text.contains(says), "{to}: {text}");
        assert!(!text.contains("s3cret"), "never the password: {text}");
        // The same through the environment.
        let out = Command::new(BIN)
            .arg("--data-dir")
            .arg(&site)
            .arg("copy")
            .env("MASTHEAD_COPY_TO", to)
            .env("MASTHEAD_LOG", "warn")
            .env_remove("MASTHEAD_DATABASE_URL")
            .output()
            .expect("run");
        assert!(!out.status.success());
        assert!(!said(&out).contains("s3cret"), "{}", said(&out));
    }
    let help = run(&site, None, &["copy", "--help"]);
    let text = said(&help);
    assert!(
        text.contains("--to <URL|PATH>") && text.contains("--replace"),
        "{text}"
    );
}

/// A copy stopped by `kill -9` half-way leaves nothing in the target, in
/// both directions. Each copy is held still at a known point by a lock
/// another session takes: into PostgreSQL, after every table is written
/// (the final change-log entry waits; once the lock goes, the dead copy's
/// session gets it and must still not commit); out of PostgreSQL into
/// SQLite, after `webhooks` (the source's `webhook_deliveries` cannot be
/// read).
#[tokio::test]
async fn a_killed_copy_leaves_the_target_as_it_was() {
    let dir = TempDir::new("copy-kill");
    let site = dir.0.join("site");
    let site_db = pg::database_for(&site);
    seed(&site, site_db.as_deref()).await;

    // Into PostgreSQL.
    let target = pg::scratch_database(&dir.0);
    let out = run(&dir.0.join("unused"), Some(&target), &["migrate"]);
    assert!(out.status.success(), "{}", said(&out));
    let mut copy = Command::new(BIN);
    copy.arg("--data-dir")
        .arg(&site)
        .args(
            site_db
                .iter()
                .flat_map(|url| ["--database-url", url.as_str()]),
        )
        .args(["copy", "--to", &target])
        .env("MASTHEAD_LOG", "warn");
    kill_while_held(
        &target,
        "change_log",
        "EXCLUSIVE",
        copy,
        "  webhook_deliveries: ",
    );
    let store = Store::open_postgres(&target).await.expect("open target");
    assert!(
        dump_site(&store)
            .await
            .expect("dump")
            .iter()
            // Only what migrations put in a new database: its first
            // newsletter and its free tier.
            .all(|(table, rows)| rows.is_empty()
                || (table == "newsletters"
                    && rows.len() == 1
                    && rows[0].contains("default-newsletter"))
                || (table == "tiers" && rows.len() == 1 && rows[0].contains("\"free\""))),
        "the killed copy left rows in PostgreSQL"
    );

    // Out of PostgreSQL into SQLite: the source is a copy of the site.
    let source = pg::scratch_database(&dir.0);
    let out = run(&site, site_db.as_deref(), &["copy", "--to", &source]);
    assert!(out.status.success(), "{}", said(&out));
    let into = dir.0.join("into");
    std::fs::create_dir_all(&into).expect("dir");
    let mut copy = Command::new(BIN);
    copy.arg("--data-dir")
        .arg(&into)
        .args(["--database-url", &source, "copy", "--to"])
        .arg(&into)
        .env("MASTHEAD_LOG", "warn");
    kill_while_held(
        &source,
        "webhook_deliveries",
        "ACCESS EXCLUSIVE",
        copy,
        "  webhooks: ",
    );
    let store = Store::open_sqlite(&into.join("masthead.db")).expect("open target");
    assert!(
        dump_site(&store)
            .await
            .expect("dump")
            .iter()
            // Only what migrations put in a new database: its first newsletter.
            .all(|(table, rows)| rows.is_empty()
                || (table == "newsletters"
                    && rows.len() == 1
                    && rows[0].contains("default-newsletter"))
                || (table == "tiers" && rows.len() == 1 && rows[0].contains("\"free\""))),
        "the killed copy left rows in SQLite"
    );
    // Once the lock is gone, the same copy goes through.
    drop(store);
    let out = run(
        &into,
        Some(&source),
        &["copy", "--to", &into.display().to_string()],
    );
    assert!(out.status.success(), "{}", said(&out));
}

/// Locks `table` in `mode` in a transaction on the database at `url`,
/// starts `copy`, waits for the progress line starting with `after`, checks
/// the copy is then stuck behind the lock, and kills it with SIGKILL; then
/// lets go of the lock and waits until the copy's sessions there are gone.
fn kill_while_held(url: &str, table: &str, mode: &str, mut copy: Command, after: &str) {
    let app = format!("masthead-copy-test-{}", std::process::id());
    let mut holder = Command::new("psql")
        .env("PGAPPNAME", &app)
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c"])
        .arg(format!(
            "BEGIN; LOCK TABLE {table} IN {mode} MODE; SELECT pg_sleep(120);"
        ))
        .stdout(Stdio::null())
        .spawn()
        .expect("psql");
    let deadline = Instant::now() + Duration::from_secs(20);
    let held = format!(
        "SELECT count(*) FROM pg_locks WHERE relation = '{table}'::regclass AND granted \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
         AND mode = '{}Lock' AND pid <> pg_backend_pid()",
        mode.split_whitespace()
            .map(|w| w[..1].to_owned() + &w[1..].to_lowercase())
            .collect::<String>()
    );
    while psql(url, &held) != "1" {
        assert!(Instant::now() < deadline, "the lock was never taken");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut child = copy
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the copy");
    // Kept open until the copy is killed: a copy still printing (tables
    // after `after`) must not die of a closed pipe instead of the lock.
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut heard = Vec::new();
    for line in (&mut stderr).lines() {
        let line = line.expect("read stderr");
        let done = line.starts_with(after);
        heard.push(line);
        if done {
            break;
        }
    }
    assert!(
        heard.last().is_some_and(|l| l.starts_with(after)),
        "the copy never reached {after:?}: {heard:?}"
    );
    std::thread::sleep(Duration::from_millis(800));
    assert!(
        child.try_wait().expect("wait").is_none(),
        "the copy finished despite the lock: {heard:?}"
    );
    child.kill().expect("SIGKILL");
    drop(stderr);
    let status = child.wait().expect("wait");
    assert!(!status.success());
    // Let go of the lock: the server would hold it until pg_sleep ends,
    // whatever happens to psql. The killed copy's session then runs on,
    // finds its client gone and rolls back: wait until it has.
    psql(
        url,
        &format!(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE application_name = '{app}'"
        ),
    );
    let _ = holder.wait();
    let deadline = Instant::now() + Duration::from_secs(20);
    while psql(
        url,
        &format!(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND application_name IN ('{app}', 'masthead')"
        ),
    ) != "0"
    {
        assert!(
            Instant::now() < deadline,
            "the killed copy's session never ended"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
