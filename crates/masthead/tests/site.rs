//! Integration tests: the real `masthead` binary on a free port with a fresh
//! data directory, asserted on through real HTTP.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::header::{self, HeaderMap};
use reqwest::redirect::Policy;

#[path = "site/api.rs"]
mod api;
#[path = "site/backup.rs"]
mod backup;
#[path = "site/copy.rs"]
mod copy;
#[path = "site/desk_front.rs"]
mod desk_front;
#[path = "site/donations.rs"]
mod donations;
#[path = "site/feeds.rs"]
mod feeds;
#[path = "site/limits.rs"]
mod limits;
#[path = "site/media.rs"]
mod media;
#[path = "site/media_s3.rs"]
mod media_s3;
#[path = "site/members.rs"]
mod members;
#[path = "site/members_desk.rs"]
mod members_desk;
#[path = "site/meter.rs"]
mod meter;
#[path = "site/newsletters.rs"]
mod newsletters;
#[path = "site/overflow.rs"]
mod overflow;
#[path = "site/permissions.rs"]
mod permissions;
#[path = "site/public_url.rs"]
mod public_url;
#[path = "site/revenue.rs"]
mod revenue;
#[path = "site/search.rs"]
mod search;
#[path = "site/stripe.rs"]
mod stripe;
#[path = "site/tiers.rs"]
mod tiers;
#[path = "site/transfer.rs"]
mod transfer;
#[path = "site/webhooks.rs"]
mod webhooks;

const BIN: &str = env!("CARGO_BIN_EXE_masthead");

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let p =
            std::env::temp_dir().join(format!("masthead-it-{name}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&p).expect("temp dir");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        pg::drop_databases_under(&self.0);
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `masthead --data-dir DATA`, and on PostgreSQL (see [`pg`]) also
/// `--database-url` of the database that belongs to DATA.
fn masthead(data: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.arg("--data-dir").arg(data);
    if let Some(url) = pg::database_for(data) {
        c.arg("--database-url").arg(url);
    }
    c
}

/// The store of the site in DATA, opened as its server would open it.
async fn open_store(data: &Path) -> masthead_store::Store {
    match pg::database_for(data) {
        Some(url) => masthead_store::Store::open_postgres(&url)
            .await
            .expect("open the PostgreSQL store"),
        None => masthead_store::Store::open_sqlite(&data.join("masthead.db"))
            .expect("open the SQLite store"),
    }
}

/// Tests that exercise SQLite itself (its backup API, its file on disk):
/// on PostgreSQL they say why they do not apply, and `true` tells them to
/// return.
fn sqlite_only(reason: &str) -> bool {
    if pg::enabled() {
        eprintln!("SQLite-only test, not run on PostgreSQL: {reason}");
        return true;
    }
    false
}

/// The backend under test: SQLite in each data directory (the default), or
/// with `MASTHEAD_TEST_BACKEND=postgres` a fresh PostgreSQL database per data
/// directory, created through `MASTHEAD_TEST_DATABASE_URL` (a role that may
/// create databases) and dropped with the directory.
mod pg {
    use std::path::{Path, PathBuf};
    use std::process::Command;
    use std::sync::Mutex;

    static DATABASES: Mutex<Vec<(PathBuf, String)>> = Mutex::new(Vec::new());

    pub fn enabled() -> bool {
        match std::env::var("MASTHEAD_TEST_BACKEND").as_deref() {
            Ok("postgres") => true,
            Ok("sqlite") | Ok("") | Err(_) => false,
            Ok(other) => panic!("MASTHEAD_TEST_BACKEND must be sqlite or postgres, not {other:?}"),
        }
    }

    fn admin_url() -> String {
        std::env::var("MASTHEAD_TEST_DATABASE_URL").expect(
            "MASTHEAD_TEST_BACKEND=postgres needs MASTHEAD_TEST_DATABASE_URL \
             (scripts/pg.sh start prints one)",
        )
    }

    /// The password in the server's URL, to check no message shows it.
    pub fn password() -> Option<String> {
        let url = admin_url();
        let userinfo = url.split_once("://")?.1.split_once('@')?.0.to_owned();
        Some(userinfo.split_once(':')?.1.to_owned()).filter(|p| !p.is_empty())
    }

    /// `url` with its database name replaced by `name`.
    fn url_of(url: &str, name: &str) -> String {
        let (head, tail) = url.rsplit_once('/').expect("a postgres://…/database URL");
        let query = tail
            .split_once('?')
            .map_or(String::new(), |(_, q)| format!("?{q}"));
        format!("{head}/{name}{query}")
    }

    fn psql(sql: &str) -> Result<(), String> {
        let out = Command::new("psql")
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d"])
            .arg(admin_url())
            .args(["-c", sql])
            .output()
            .expect("run psql");
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "psql {sql}: {}",
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// The URL of DATA's database, created on first use; `None` on SQLite.
    pub fn database_for(data: &Path) -> Option<String> {
        if !enabled() {
            return None;
        }
        let mut dbs = DATABASES.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, name)) = dbs.iter().find(|(d, _)| d == data) {
            return Some(url_of(&admin_url(), name));
        }
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let name = format!("t_{}_{}_{nanos}", std::process::id(), dbs.len());
        psql(&format!("CREATE DATABASE {name}")).unwrap_or_else(|e| panic!("{e}"));
        dbs.push((data.to_owned(), name.clone()));
        Some(url_of(&admin_url(), &name))
    }

    /// A new, empty database that belongs to `owner` (dropped with the
    /// temporary directory holding it), whichever backend the suite runs
    /// on: for tests that always need PostgreSQL, such as `masthead copy`.
    pub fn scratch_database(owner: &Path) -> String {
        let admin = std::env::var("MASTHEAD_TEST_DATABASE_URL").expect(
            "this test needs PostgreSQL: set MASTHEAD_TEST_DATABASE_URL \
             (scripts/pg.sh start prints one; scripts/test.sh starts one)",
        );
        let mut dbs = DATABASES.lock().unwrap_or_else(|p| p.into_inner());
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let name = format!("s_{}_{}_{nanos}", std::process::id(), dbs.len());
        psql(&format!("CREATE DATABASE {name}")).unwrap_or_else(|e| panic!("{e}"));
        dbs.push((owner.join(&name), name.clone()));
        url_of(&admin, &name)
    }

    /// Drops the databases of data directories inside `root`.
    pub fn drop_databases_under(root: &Path) {
        let mut dbs = DATABASES.lock().unwrap_or_else(|p| p.into_inner());
        dbs.retain(|(data, name)| {
            if !data.starts_with(root) {
                return true;
            }
            // A server just killed may still have sessions open for a moment:
            // end them (they are our role's) and try again. Never panic here,
            // in a destructor.
            let mut last = Ok(());
            for _ in 0..20 {
                let _ = psql(&format!(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE datname = '{name}' AND pid <> pg_backend_pid()"
                ));
                last = psql(&format!("DROP DATABASE IF EXISTS {name}"));
                if last.is_ok() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            if let Err(e) = last {
                eprintln!("warning: test database left behind: {e}");
            }
            false
        });
    }
}

struct Server {
    child: Child,
    base: String,
    data: PathBuf,
}

impl Server {
    fn start(data: &Path) -> Server {
        Server::start_with_env(data, &[])
    }

    fn start_with_env(data: &Path, envs: &[(&str, &str)]) -> Server {
        let mut child = masthead(data)
            .args(["serve", "--addr", "127.0.0.1:0"])
            .env("MASTHEAD_LOG", "warn")
            .envs(envs.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start masthead");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let base = loop {
            let line = lines
                .next()
                .expect("server exited before it was ready")
                .expect("read stdout");
            if let Some(rest) = line.split(" at http://").nth(1) {
                let addr = rest.split_whitespace().next().expect("addr");
                break format!("http://{}", addr.trim_end_matches('/'));
            }
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server {
            child,
            base,
            data: data.to_owned(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "server did not stop within 10 s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn cli(&self, args: &[&str]) -> std::process::Output {
        masthead(&self.data)
            .args(args)
            .env("MASTHEAD_LOG", "warn")
            .output()
            .expect("run cli")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client() -> reqwest::Client {
    // The server's reqwest (shared by this crate) brings no TLS provider of
    // its own; tests only speak plain HTTP, but one must be installed.
    static PROVIDER: std::sync::Once = std::sync::Once::new();
    PROVIDER.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::Client::builder()
        .redirect(Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

async fn get(url: &str) -> (u16, HeaderMap, String) {
    let res = client().get(url).send().await.expect("request");
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, headers, res.text().await.expect("body"))
}

/// `data-post-id` values in order of appearance.
fn post_ids(html: &str) -> Vec<i64> {
    html.split("data-post-id=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next()?.parse().ok())
        .collect()
}

fn more_href(html: &str) -> Option<String> {
    let i = html.find("data-more")?;
    let start = html[..i].rfind("href=\"")? + 6;
    let end = start + html[start..].find('"')?;
    Some(html[start..end].replace("&amp;", "&"))
}

async fn campaign_count(s: &Server) -> u64 {
    let (status, _, body) = get(&s.url("/api/campaign")).await;
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    v["count"].as_u64().expect("count")
}

/// The confirmation (or sign-in) link of the newest member e-mail to `to`
/// in the outbox of the site in DATA (a server without `--smtp-url`), once
/// it is there.
fn outbox_link(data: &Path, to: &str) -> String {
    let outbox = data.join("outbox");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut found: Vec<(PathBuf, String)> = std::fs::read_dir(&outbox)
            .map(|d| {
                d.filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                    .filter_map(|p| Some((p.clone(), std::fs::read_to_string(&p).ok()?)))
                    .filter(|(_, m)| m.contains(&format!("To: {to}")))
                    .collect()
            })
            .unwrap_or_default();
        found.sort();
        if let Some((_, m)) = found.pop() {
            let m = m
                .replace("=\r\n", "")
                .replace("=\n", "")
                .replace("=3D", "=");
            return m
                .split_whitespace()
                .find(|w| w.contains("/members/?token="))
                .expect("a link in the mail")
                .to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "no mail to {to} in {}",
            outbox.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Joins with `email` and confirms through the outbox; the member's cookie.
async fn join_and_confirm(s: &Server, email: &str) -> String {
    let c = client();
    let res = c
        .post(s.url("/join/"))
        .form(&[("email", email)])
        .send()
        .await
        .expect("join");
    assert_eq!(res.status().as_u16(), 303, "join {email}");
    let res = c
        .get(outbox_link(&s.data, email))
        .send()
        .await
        .expect("confirm");
    assert_eq!(res.status().as_u16(), 303, "confirm {email}");
    res.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("masthead_member="))
        .and_then(|v| v.split(';').next())
        .expect("member cookie")
        .to_owned()
}

/// One server for the read-mostly tests; each test gets its own data dir otherwise.
async fn with_server<F, Fut>(name: &str, f: F)
where
    F: FnOnce(Server) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let dir = TempDir::new(name);
    let server = Server::start(&dir.0);
    f(server).await;
}

/// `masthead migrate` says which database it brought up to date, and to
/// which schema version; running it again changes nothing.
#[test]
fn migrate_names_the_backend_and_the_schema_version() {
    let dir = TempDir::new("migrate");
    let (backend, place) = if pg::enabled() {
        ("(PostgreSQL)", "PostgreSQL database ")
    } else {
        ("(SQLite)", "SQLite database ")
    };
    let mut versions = Vec::new();
    for _ in 0..2 {
        let out = masthead(&dir.0)
            .arg("migrate")
            .env("MASTHEAD_LOG", "warn")
            .output()
            .expect("run migrate");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.starts_with(place) && text.contains(backend), "{text}");
        let version: i64 = text
            .trim_end()
            .rsplit("schema version ")
            .next()
            .and_then(|v| v.trim_end_matches('.').parse().ok())
            .unwrap_or_else(|| panic!("no schema version in {text:?}"));
        assert!(version >= 9, "{text}");
        if let Some(password) = pg::password() {
            assert!(!text.contains(&password), "never the password: {text}");
        }
        versions.push(version);
    }
    assert_eq!(versions[0], versions[1]);
}

/// A database URL that is malformed, or names a server that is not there,
/// stops every command with a message saying what to fix, never the password.
#[test]
fn a_bad_database_url_is_refused_clearly_without_its_password() {
    let dir = TempDir::new("bad-db-url");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let unreachable = format!("postgres://editor:s3cret-Pw@127.0.0.1:{port}/news");
    for (url, says) in [
        (
            "mysql://editor:s3cret-Pw@db/news",
            "postgres://user:password@host:port/database",
        ),
        (unreachable.as_str(), "editor@127.0.0.1"),
    ] {
        for command in [&["migrate"][..], &["serve", "--addr", "127.0.0.1:0"]] {
            let out = Command::new(BIN)
                .arg("--data-dir")
                .arg(&dir.0)
                .args(["--database-url", url])
                .args(command)
                .env("MASTHEAD_LOG", "warn")
                .env_remove("RUST_BACKTRACE")
                .output()
                .expect("run masthead");
            assert!(!out.status.success(), "{command:?} with {url} must fail");
            let text = String::from_utf8_lossy(&out.stderr);
            assert!(text.contains("--database-url"), "names the flag: {text}");
            assert!(text.contains(says), "{text}");
            assert!(!text.contains("s3cret"), "never the password: {text}");
        }
    }
}

#[tokio::test]
async fn first_run_creates_migrates_seeds_and_second_run_reuses() {
    let dir = TempDir::new("firstrun");
    let data = dir.0.join("nested").join("data");
    let mut s = Server::start(&data);
    if pg::enabled() {
        assert!(
            !data.join("masthead.db").exists(),
            "no SQLite file beside a PostgreSQL site"
        );
    } else {
        assert!(data.join("masthead.db").is_file(), "database file created");
        assert!(data.join("masthead.db-wal").exists(), "WAL mode");
    }
    let (status, _, home) = get(&s.url("/")).await;
    assert_eq!(status, 200);
    assert_eq!(post_ids(&home).len(), 20);
    let members = campaign_count(&s).await;
    assert!(members > 1000, "demo members seeded");
    // Add a member, stop, start again: nothing re-seeded, nothing lost.
    join_and_confirm(&s, "second-run@example.net").await;
    assert!(s.terminate().success());
    let s2 = Server::start(&data);
    assert_eq!(campaign_count(&s2).await, members + 1);
    let (_, _, home2) = get(&s2.url("/")).await;
    assert_eq!(
        post_ids(&home2),
        post_ids(&home),
        "same posts, not seeded twice"
    );
}

#[tokio::test]
async fn show_more_walks_the_whole_feed_once() {
    with_server("walk", |s| async move {
        let (status, headers, html) = get(&s.url("/")).await;
        assert_eq!(status, 200);
        assert!(
            headers[header::CONTENT_TYPE]
                .to_str()
                .unwrap_or("")
                .starts_with("text/html")
        );
        let mut ids = post_ids(&html);
        assert_eq!(ids.len(), 20);
        let mut next = more_href(&html);
        let mut pages = 1;
        while let Some(href) = next {
            assert!(href.starts_with("/?after="), "{href}");
            // The fragment Show More fetches, and the no-JS page, agree.
            let (st, _, fragment) = get(&s.url(&format!("{href}&fragment=1"))).await;
            assert_eq!(st, 200);
            assert!(!fragment.contains("<html"), "fragment is not a whole page");
            let (st, _, full) = get(&s.url(&href)).await;
            assert_eq!(st, 200);
            assert!(full.contains("<html"));
            assert_eq!(post_ids(&fragment), post_ids(&full));
            ids.extend(post_ids(&fragment));
            next = more_href(&fragment);
            pages += 1;
        }
        let mut unique = ids.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), ids.len(), "no card twice");
        assert_eq!(ids.len(), 63, "every post but the two standalone pages");
        assert_eq!(pages, 4);
    })
    .await;
}

#[tokio::test]
async fn bad_input_gets_clear_errors_not_panics() {
    with_server("bad", |s| async move {
        let (st, _, body) = get(&s.url("/?after=garbage")).await;
        assert_eq!(st, 400);
        assert!(body.contains("not a valid position in the feed"), "{body}");
        assert!(body.contains("<html"), "themed error page");
        let (st, _, body) = get(&s.url("/tag/housing/?after=1.2.3&fragment=1")).await;
        assert_eq!(st, 400);
        assert!(body.contains("valid position"));
        let (st, _, body) = get(&s.url("/no-such-story/")).await;
        assert_eq!(st, 404);
        assert!(body.contains("Page not found"));
        for path in [
            "/tag/no-such-tag/",
            "/author/nobody/",
            "/section/housing/",
            "/UPPER/",
            "/_live/abc/events",
        ] {
            assert_eq!(get(&s.url(path)).await.0, 404, "{path}");
        }
        // Ghost-style URLs end in a slash.
        let (st, headers, _) = get(&s.url("/tallow-flood-scheme-costs-rise")).await;
        assert_eq!(st, 308);
        assert_eq!(
            headers[header::LOCATION],
            "/tallow-flood-scheme-costs-rise/"
        );

        // Random paths and queries never produce a server error.
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let alphabet = b"abz09-_./%?&=~!$'()*+,;:@[]\"<>{}|\\^`# \x7f";
        for _ in 0..300 {
            let mut path = String::from("/");
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            for i in 0..(seed % 40) {
                let c = alphabet[((seed >> (i % 50)) as usize + i as usize * 7) % alphabet.len()];
                path.push_str(&format!("%{c:02X}"));
                if i % 5 == 0 {
                    path.push(['a', '/', '?', '=', '&'][(seed as usize + i as usize) % 5]);
                }
            }
            let res = client().get(s.url(&path)).send().await;
            if let Ok(res) = res {
                assert!(res.status().as_u16() < 500, "{path} gave {}", res.status());
            }
        }
        assert_eq!(get(&s.url("/healthz")).await.0, 200, "still healthy");
    })
    .await;
}

#[tokio::test]
async fn article_page_has_everything_a_reader_expects() {
    with_server("article", |s| async move {
        let (st, headers, html) = get(&s.url("/tallow-flood-scheme-costs-rise/")).await;
        assert_eq!(st, 200);
        for needle in [
            "<h1 class=\"story__title\">",
            "class=\"story__dek\"",
            "rel=\"author\" href=\"/author/",
            "Published <time datetime=\"",
            "min read",
            "<figure class=\"story__media hero\">",
            "<figcaption>",
            "class=\"credit\"",
            "alt=\"",
            "Corrections and updates",
            "<strong>Correction</strong>",
            "Read next",
            "<blockquote>",
            "/join/",
            "class=\"story__label\"",
        ] {
            assert!(html.contains(needle), "article lacks {needle}");
        }
        assert!(headers.contains_key(header::CACHE_CONTROL));
        let csp = headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap_or("");
        assert!(
            csp.contains("default-src 'self'") && csp.contains("script-src 'self'"),
            "{csp}"
        );
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        // Read next: 4 cards, same section first, never the story itself.
        let section = html.split("Read next").nth(1).unwrap_or("");
        assert_eq!(section.matches("<h3><a href=").count(), 4);
        assert!(!section.contains("href=\"/tallow-flood-scheme-costs-rise/\""));
    })
    .await;
}

#[tokio::test]
async fn listings_video_and_media() {
    with_server("listings", |s| async move {
        for (path, needle) in [
            ("/tag/housing/", "Topic"),
            ("/section/city/", "Section"),
            ("/author/helen-marsh/", "Reporter"),
            ("/video/", "Video"),
        ] {
            let (st, _, html) = get(&s.url(path)).await;
            assert_eq!(st, 200, "{path}");
            assert!(html.contains(needle), "{path}");
            assert!(!post_ids(&html).is_empty(), "{path} lists posts");
        }
        let (_, _, videos) = get(&s.url("/video/")).await;
        assert!(videos.matches("card--video").count() >= 8);
        let first = videos
            .split("card--video")
            .nth(1)
            .and_then(|s| s.split("<a href=\"").nth(1))
            .and_then(|s| s.split('"').next())
            .expect("a video link")
            .to_owned();
        let (st, _, page) = get(&s.url(&first)).await;
        assert_eq!(st, 200);
        assert!(page.contains("<video controls"), "hosted video player");
        assert!(page.contains("poster=\"/content/images/demo/"));
        let src = page
            .split("<source src=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .expect("video source")
            .to_owned();
        // Media is served by Masthead itself, with ranges for seeking.
        let res = client()
            .get(s.url(&src))
            .header(header::RANGE, "bytes=0-99")
            .send()
            .await
            .expect("video");
        assert_eq!(res.status().as_u16(), 206);
        assert_eq!(res.bytes().await.expect("bytes").len(), 100);
        let img = page
            .split("poster=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .expect("poster")
            .to_owned();
        let (st, headers, svg) = get(&s.url(&img)).await;
        assert_eq!(st, 200);
        assert_eq!(headers[header::CONTENT_TYPE], "image/svg+xml");
        assert!(
            headers[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap_or("")
                .contains("sandbox")
        );
        assert!(svg.starts_with("<svg"));
        assert_eq!(get(&s.url("/content/../masthead.db")).await.0, 404);
    })
    .await;
}

#[tokio::test]
async fn assets_are_hashed_immutable_and_revalidate() {
    with_server("assets", |s| async move {
        let (_, _, html) = get(&s.url("/")).await;
        let css = html
            .split("href=\"/assets/site.")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .map(|rest| format!("/assets/site.{rest}"))
            .expect("stylesheet link");
        let (st, headers, body) = get(&s.url(&css)).await;
        assert_eq!(st, 200);
        assert!(body.contains("--accent"));
        assert_eq!(
            headers[header::CACHE_CONTROL],
            "public, max-age=31536000, immutable"
        );
        let etag = headers[header::ETAG].clone();
        let res = client()
            .get(s.url(&css))
            .header(header::IF_NONE_MATCH, etag)
            .send()
            .await
            .expect("conditional");
        assert_eq!(res.status().as_u16(), 304);
        assert_eq!(get(&s.url("/assets/site.0000000000.css")).await.0, 404);
        // Pages reference nothing on other hosts (absolute links, such as
        // the canonical one, point at this site).
        for attr in ["src=\"http", "href=\"http"] {
            for rest in html.split(attr).skip(1) {
                let url = format!("http{}", rest.split('"').next().unwrap_or(""));
                assert!(
                    url.starts_with(&format!("{}/", s.base)),
                    "home page points elsewhere: {url}"
                );
            }
        }
    })
    .await;
}

#[tokio::test]
async fn joining_counts_once_per_address_and_refuses_bad_input() {
    with_server("join", |s| async move {
        let before = campaign_count(&s).await;
        let (_, _, home) = get(&s.url("/")).await;
        assert!(home.contains(&format!(
            "{}</strong> out of <span data-drive-goal>25,000</span>",
            group(before)
        )));
        let c = client();
        let res = c
            .post(s.url("/join/"))
            .form(&[("email", "Reader.One@Example.com")])
            .send()
            .await
            .expect("join");
        assert_eq!(res.status().as_u16(), 303);
        let location = res.headers()[header::LOCATION]
            .to_str()
            .unwrap_or("")
            .to_owned();
        assert!(location.starts_with("/members/check/?ref="), "{location}");
        // Counted once the address is confirmed, not before.
        assert_eq!(campaign_count(&s).await, before);
        let res = c
            .get(outbox_link(&s.data, "Reader.One@Example.com"))
            .send()
            .await
            .expect("confirm");
        assert_eq!(res.status().as_u16(), 303);
        assert_eq!(campaign_count(&s).await, before + 1);
        // Same address, other case: the same answer, not counted.
        let res = c
            .post(s.url("/join/"))
            .form(&[("email", "  reader.one@example.COM ")])
            .send()
            .await
            .expect("join again");
        assert_eq!(res.status().as_u16(), 303);
        assert_eq!(campaign_count(&s).await, before + 1);
        // Invalid address: 422 with the form and a message.
        let res = c
            .post(s.url("/join/"))
            .form(&[("email", "not-an-email")])
            .send()
            .await
            .expect("bad");
        assert_eq!(res.status().as_u16(), 422);
        let body = res.text().await.expect("body");
        assert!(
            body.contains("role=\"alert\"") && body.contains("needs an @"),
            "{body}"
        );
        // Missing field, wrong content type, cross-site, oversized: refused, counted nowhere.
        let res = c
            .post(s.url("/join/"))
            .body("email=x")
            .send()
            .await
            .expect("no content type");
        assert_eq!(res.status().as_u16(), 400);
        let res = c
            .post(s.url("/join/"))
            .header("sec-fetch-site", "cross-site")
            .form(&[("email", "csrf@example.com")])
            .send()
            .await
            .expect("cross-site");
        assert_eq!(res.status().as_u16(), 403);
        let res = c
            .post(s.url("/join/"))
            .header(header::ORIGIN, "https://evil.example")
            .form(&[("email", "csrf2@example.com")])
            .send()
            .await
            .expect("cross-origin");
        assert_eq!(res.status().as_u16(), 403);
        // The server answers 413 without reading the body and then closes the
        // connection, so this request gets a client of its own: a pooled
        // connection reused after it would race that close.
        let huge = format!("email={}", "a".repeat(64 * 1024));
        let res = client()
            .post(s.url("/join/"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(huge)
            .send()
            .await
            .expect("huge");
        assert_eq!(res.status().as_u16(), 413);
        assert_eq!(campaign_count(&s).await, before + 1);
        // The counter endpoint revalidates cheaply.
        let res = c
            .get(s.url("/api/campaign"))
            .send()
            .await
            .expect("campaign");
        let etag = res.headers()[header::ETAG].clone();
        let res = c
            .get(s.url("/api/campaign"))
            .header(header::IF_NONE_MATCH, etag)
            .send()
            .await
            .expect("conditional");
        assert_eq!(res.status().as_u16(), 304);
    })
    .await;
}

fn group(n: u64) -> String {
    masthead_domain::campaign::group_thousands(n)
}

#[tokio::test]
async fn live_entries_from_the_cli_reach_open_pages_within_a_second() {
    with_server("live", |s| async move {
        let (st, _, page) = get(&s.url("/storm-eamon-live/")).await;
        assert_eq!(st, 200);
        assert!(page.contains("Key developments"));
        assert_eq!(page.matches("entry--pinned").count(), 3);
        let events = page
            .split("data-live-events=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .expect("events url")
            .to_owned();
        let mut res = client().get(s.url(&events)).send().await.expect("sse");
        assert_eq!(res.status().as_u16(), 200);
        assert_eq!(res.headers()[header::CONTENT_TYPE], "text/event-stream");
        let out = s.cli(&[
            "live",
            "add",
            "--post",
            "storm-eamon-live",
            "--title",
            "Harbour wall holds at high tide",
            "--body",
            "The tide peaked at 6.1m. <script>alert(1)</script>",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let added = Instant::now();
        let mut received = String::new();
        while !received.contains("Harbour wall holds") {
            let chunk = tokio::time::timeout(Duration::from_secs(2), res.chunk())
                .await
                .expect("an event within 2 s")
                .expect("stream")
                .expect("chunk");
            received.push_str(&String::from_utf8_lossy(&chunk));
        }
        let latency = added.elapsed();
        assert!(
            latency < Duration::from_secs(1),
            "arrived after {latency:?}"
        );
        assert!(received.contains("event: entry"));
        assert!(!received.contains("<script"), "entry bodies are sanitised");
        // Without JS, a reload shows it.
        let (_, _, again) = get(&s.url("/storm-eamon-live/")).await;
        assert!(again.contains("Harbour wall holds at high tide"));
        // Wrong post kind or slug: a clear CLI error.
        let out = s.cli(&[
            "live",
            "add",
            "--post",
            "tallow-flood-scheme-costs-rise",
            "--title",
            "x",
        ]);
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("no published live post"));
    })
    .await;
}

#[tokio::test]
async fn sigterm_stops_gracefully_even_with_live_readers() {
    let dir = TempDir::new("sigterm");
    let mut s = Server::start(&dir.0);
    let (_, _, page) = get(&s.url("/storm-eamon-live/")).await;
    let events = page
        .split("data-live-events=\"")
        .nth(1)
        .and_then(|x| x.split('"').next())
        .expect("events")
        .to_owned();
    let res = client().get(s.url(&events)).send().await.expect("sse");
    assert_eq!(res.status().as_u16(), 200);
    let started = Instant::now();
    let status = s.terminate();
    assert!(status.success(), "exit status {status:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn help_lists_the_commands() {
    let out = Command::new(BIN).arg("--help").output().expect("help");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for cmd in ["serve", "migrate", "seed", "live", "copy", "--data-dir"] {
        assert!(text.contains(cmd), "--help lacks {cmd}:\n{text}");
    }
    let out = Command::new(BIN)
        .args(["serve", "--help"])
        .output()
        .expect("serve help");
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--addr",
        "MASTHEAD_ADDR",
        "--theme-dir",
        "MASTHEAD_DATA_DIR",
    ] {
        assert!(text.contains(flag), "serve --help lacks {flag}");
    }
}

#[tokio::test]
async fn theme_dir_overrides_templates() {
    let dir = TempDir::new("theme");
    let theme = dir.0.join("theme");
    std::fs::create_dir_all(theme.join("templates")).expect("dir");
    std::fs::write(
        theme.join("templates/error.html"),
        "<!doctype html><title>x</title><p>Custom error {{ status }}</p>",
    )
    .expect("write");
    let data = dir.0.join("data");
    let mut child = masthead(&data)
        .args(["serve", "--addr", "127.0.0.1:0", "--theme-dir"])
        .arg(&theme)
        .env("MASTHEAD_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines().map_while(Result::ok);
    let line = lines
        .find(|l| l.contains(" at http://"))
        .expect("ready line");
    std::thread::spawn(move || for _ in lines {});
    let base = format!(
        "http://{}",
        line.split(" at http://")
            .nth(1)
            .and_then(|r| r.split('/').next())
            .expect("addr")
    );
    let (st, _, body) = get(&format!("{base}/missing/")).await;
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(st, 404);
    assert!(body.contains("Custom error 404"), "{body}");
}

#[tokio::test]
async fn pages_are_cached_compressed_and_invalidated_precisely() {
    with_server("cache", |s| async move {
        let c = client();
        let article = s.url("/tallow-flood-scheme-costs-rise/");
        let first = c.get(&article).send().await.expect("first");
        assert_eq!(first.headers()["x-cache"], "miss");
        let etag = first.headers()[header::ETAG].clone();
        let keys = first.headers()["surrogate-key"]
            .to_str()
            .unwrap_or("")
            .to_owned();
        assert!(keys.contains("post-") && keys.contains("site"), "{keys}");
        let identity = first.text().await.expect("body");
        // Kept from its second render on (the doorkeeper), served from then on.
        let second = c.get(&article).send().await.expect("second");
        assert_eq!(second.headers()["x-cache"], "miss");
        assert_eq!(second.headers()[header::ETAG], etag);
        assert_eq!(second.text().await.expect("body"), identity);
        let again = c.get(&article).send().await.expect("again");
        assert_eq!(again.headers()["x-cache"], "hit");
        assert_eq!(again.headers()[header::ETAG], etag);
        assert_eq!(again.text().await.expect("body"), identity);
        // Precompressed bodies by Accept-Encoding, each with its own ETag.
        for (accept, encoding) in [("gzip", "gzip"), ("br, gzip", "br")] {
            let res = c
                .get(&article)
                .header(header::ACCEPT_ENCODING, accept)
                .send()
                .await
                .expect("enc");
            assert_eq!(res.headers()[header::CONTENT_ENCODING], encoding);
            assert_eq!(res.headers()[header::VARY], "Accept-Encoding, Cookie");
            assert_ne!(res.headers()[header::ETAG], etag);
            let len = res.bytes().await.expect("bytes").len();
            assert!(
                len < identity.len() / 2,
                "{encoding}: {len} of {}",
                identity.len()
            );
        }
        let res = c
            .get(&article)
            .header(header::IF_NONE_MATCH, etag.clone())
            .send()
            .await
            .expect("304");
        assert_eq!(res.status().as_u16(), 304);
        // A live entry refreshes its live page, and leaves the article cached.
        let live = s.url("/storm-eamon-live/");
        assert!(!get(&live).await.2.contains("Ferry resumes at dusk"));
        let out = s.cli(&[
            "live",
            "add",
            "--post",
            "storm-eamon-live",
            "--title",
            "Ferry resumes at dusk",
        ]);
        assert!(out.status.success());
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            if get(&live).await.2.contains("Ferry resumes at dusk") {
                break;
            }
            assert!(Instant::now() < deadline, "live page still stale after 2 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let res = c.get(&article).send().await.expect("still cached");
        assert_eq!(res.headers()["x-cache"], "hit");
        // Malformed cursors and missing pages are never cached.
        for _ in 0..2 {
            let res = c.get(s.url("/?after=nope")).send().await.expect("400");
            assert_eq!(res.status().as_u16(), 400);
            assert!(res.headers().get("x-cache").is_none());
        }
    })
    .await;
}

fn session_cookie(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("masthead_session="))
        .map(str::to_owned)
}

fn add_user(s: &Server, email: &str, role: &str, password: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = masthead(&s.data)
        .args([
            "user",
            "add",
            "--email",
            email,
            "--name",
            "Helen Marsh",
            "--role",
            role,
            "--password-stdin",
        ])
        .env("MASTHEAD_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("user add");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{password}\n").as_bytes())
        .expect("write password");
    child.wait_with_output().expect("wait")
}

#[tokio::test]
async fn staff_sign_in_is_safe() {
    with_server("signin", |s| async move {
        let c = client();
        // Without a session the desk sends you to sign in.
        let res = c.get(s.url("/admin/")).send().await.expect("desk");
        assert_eq!(res.status().as_u16(), 303);
        assert_eq!(res.headers()[header::LOCATION], "/admin/signin");

        let out = add_user(&s, "editor@courier.example", "editor", "short");
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("at least 10 characters"));
        let out = add_user(
            &s,
            "editor@courier.example",
            "editor",
            "tide tables at dawn",
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = add_user(
            &s,
            "EDITOR@courier.example",
            "author",
            "another long password",
        );
        assert!(!out.status.success(), "one account per address");

        let signin = |email: &'static str, password: &'static str| {
            let c = c.clone();
            let url = s.url("/admin/signin");
            async move {
                c.post(url)
                    .form(&[("email", email), ("password", password)])
                    .send()
                    .await
                    .expect("sign in")
            }
        };
        let res = signin("editor@courier.example", "wrong password!").await;
        assert_eq!(res.status().as_u16(), 401);
        assert!(session_cookie(&res).is_none());
        assert!(
            res.text()
                .await
                .expect("body")
                .contains("do not match an account")
        );

        let res = signin("Editor@Courier.example", "tide tables at dawn").await;
        assert_eq!(res.status().as_u16(), 303);
        let cookie = session_cookie(&res).expect("session cookie");
        assert!(
            cookie.contains("HttpOnly")
                && cookie.contains("SameSite=Lax")
                && cookie.contains("Path=/")
        );
        assert!(!cookie.contains("Secure"), "plain HTTP on loopback");
        let token = cookie.split(';').next().expect("pair").to_owned();
        let desk = c
            .get(s.url("/admin/"))
            .header(header::COOKIE, &token)
            .send()
            .await
            .expect("desk");
        assert_eq!(desk.status().as_u16(), 200);
        assert_eq!(desk.headers()[header::CACHE_CONTROL], "no-store");
        let html = desk.text().await.expect("html");
        assert!(html.contains("Welcome, Helen Marsh") && html.contains("editor"));
        let csrf = html
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .and_then(|x| x.split('"').next())
            .expect("csrf token")
            .to_owned();

        // Sign-out without the form's token is refused; with it, the session ends.
        let res = c
            .post(s.url("/admin/signout"))
            .header(header::COOKIE, &token)
            .form(&[("csrf", "forged")])
            .send()
            .await
            .expect("forged");
        assert_eq!(res.status().as_u16(), 403);
        let res = c
            .post(s.url("/admin/signout"))
            .header(header::COOKIE, &token)
            .form(&[("csrf", csrf.as_str())])
            .send()
            .await
            .expect("sign out");
        assert_eq!(res.status().as_u16(), 303);
        let res = c
            .get(s.url("/admin/"))
            .header(header::COOKIE, &token)
            .send()
            .await
            .expect("after");
        assert_eq!(res.status().as_u16(), 303, "the old cookie no longer works");

        // Throttling: five failures lock the account for 15 minutes, even for the right password.
        for _ in 0..5 {
            assert_eq!(
                signin("editor@courier.example", "not the password")
                    .await
                    .status()
                    .as_u16(),
                401
            );
        }
        let res = signin("editor@courier.example", "tide tables at dawn").await;
        assert_eq!(res.status().as_u16(), 429);
        assert!(
            res.text()
                .await
                .expect("body")
                .contains("Too many failed attempts")
        );
        // Unknown accounts fail the same way.
        assert_eq!(
            signin("nobody@courier.example", "whatever it is")
                .await
                .status()
                .as_u16(),
            401
        );
    })
    .await;
}

#[tokio::test]
async fn serve_prints_a_one_time_owner_setup_link() {
    let dir = TempDir::new("setup");
    let mut child = masthead(&dir.0)
        .args(["serve", "--addr", "127.0.0.1:0"])
        .env("MASTHEAD_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines().map_while(Result::ok);
    let link = lines
        .find(|l| l.contains("/admin/setup/"))
        .and_then(|l| l.split_whitespace().last().map(str::to_owned))
        .expect("set-up link printed");
    std::thread::spawn(move || for _ in lines {});
    let c = client();
    assert_eq!(
        c.get(&link).send().await.expect("form").status().as_u16(),
        200
    );
    let form = [
        ("name", "Owner One"),
        ("email", "owner@courier.example"),
        ("password", "a long owner password"),
    ];
    let res = c.post(&link).form(&form).send().await.expect("setup");
    assert_eq!(res.status().as_u16(), 200);
    let res = c.post(&link).form(&form).send().await.expect("again");
    assert_eq!(res.status().as_u16(), 410, "the link works once");
    let base = link.split("/admin/").next().expect("base").to_owned();
    let res = c
        .post(format!("{base}/admin/signin"))
        .form(&[
            ("email", "owner@courier.example"),
            ("password", "a long owner password"),
        ])
        .send()
        .await
        .expect("sign in");
    assert_eq!(res.status().as_u16(), 303);
    let _ = child.kill();
    let _ = child.wait();
}

async fn signed_in(s: &Server, email: &str, role: &str) -> (String, String) {
    let out = add_user(s, email, role, "a long enough password");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let res = client()
        .post(s.url("/admin/signin"))
        .form(&[("email", email), ("password", "a long enough password")])
        .send()
        .await
        .expect("sign in");
    let cookie = session_cookie(&res).expect("cookie");
    let cookie = cookie.split(';').next().expect("pair").to_owned();
    let html = client()
        .get(s.url("/admin/"))
        .header(header::COOKIE, &cookie)
        .send()
        .await
        .expect("desk")
        .text()
        .await
        .expect("html");
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|x| x.split('"').next())
        .expect("csrf")
        .to_owned();
    (cookie, csrf)
}

#[tokio::test]
async fn the_desk_lists_posts_and_runs_the_live_console() {
    with_server("desk", |s| async move {
        let c = client();
        let (cookie, csrf) = signed_in(&s, "owner@courier.example", "owner").await;
        let get_desk = |path: &str| {
            c.get(s.url(path))
                .header(header::COOKIE, cookie.clone())
                .send()
        };
        let res = get_desk("/admin/posts?kind=live").await.expect("list");
        assert_eq!(res.status().as_u16(), 200);
        let html = res.text().await.expect("html");
        assert_eq!(html.matches("data-post-id=").count(), 2, "two live posts");
        assert!(html.contains("live console"));
        let html = get_desk("/admin/posts?q=tallow")
            .await
            .expect("search")
            .text()
            .await
            .expect("html");
        let rows = html.matches("data-post-id=").count();
        assert!(rows >= 2, "{rows}");
        for row in html.split("<tr data-post-id=").skip(1) {
            let title = row.split("</td>").next().unwrap_or("").to_lowercase();
            assert!(
                title.contains("tallow"),
                "a row without the search term: {title}"
            );
        }
        assert_eq!(
            get_desk("/admin/posts?status=bogus")
                .await
                .expect("bad")
                .status()
                .as_u16(),
            400
        );
        assert_eq!(
            get_desk("/admin/posts?tag=housing&status=published")
                .await
                .expect("tag")
                .status()
                .as_u16(),
            200
        );

        // The live console: add, pin, delete; open pages follow over SSE.
        let (_, _, page) = get(&s.url("/storm-eamon-live/")).await;
        let events = page
            .split("data-live-events=\"")
            .nth(1)
            .and_then(|x| x.split('"').next())
            .expect("events")
            .to_owned();
        let post_id: i64 = events
            .split('/')
            .nth(2)
            .and_then(|x| x.parse().ok())
            .expect("id");
        let mut sse = c.get(s.url(&events)).send().await.expect("sse");
        let console = format!("/admin/live/{post_id}");
        assert_eq!(
            get_desk(&console).await.expect("console").status().as_u16(),
            200
        );
        let res = c
            .post(s.url(&format!("{console}/entries")))
            .header(header::COOKIE, &cookie)
            .form(&[
                ("csrf", csrf.as_str()),
                ("title", "Bridge reopens to cars"),
                ("body", "Police lifted the closure at **18:10**."),
            ])
            .send()
            .await
            .expect("add");
        assert_eq!(res.status().as_u16(), 303);
        let mut received = String::new();
        while !received.contains("Bridge reopens to cars") {
            let chunk = tokio::time::timeout(Duration::from_secs(2), sse.chunk())
                .await
                .expect("event within 2 s")
                .expect("stream")
                .expect("chunk");
            received.push_str(&String::from_utf8_lossy(&chunk));
        }
        assert!(received.contains("<strong>18:10</strong>"));
        let html = get_desk(&console)
            .await
            .expect("console")
            .text()
            .await
            .expect("html");
        let entry_id = html
            .split("data-entry-id=\"")
            .nth(1)
            .and_then(|x| x.split('"').next())
            .expect("entry")
            .to_owned();
        let entry_url = s.url(&format!("{console}/entries/{entry_id}"));
        // A forged form is refused.
        let res = c
            .post(&entry_url)
            .header(header::COOKIE, &cookie)
            .form(&[("csrf", "nope"), ("title", "x"), ("action", "delete")])
            .send()
            .await
            .expect("forged");
        assert_eq!(res.status().as_u16(), 403);
        let res = c
            .post(&entry_url)
            .header(header::COOKIE, &cookie)
            .form(&[
                ("csrf", csrf.as_str()),
                ("title", "Bridge reopens to all traffic"),
                ("body", "Updated."),
                ("pinned", "1"),
                ("action", "save"),
            ])
            .send()
            .await
            .expect("save");
        assert_eq!(res.status().as_u16(), 303);
        let (_, _, public) = get(&s.url("/storm-eamon-live/")).await;
        assert!(public.contains("Bridge reopens to all traffic"));
        assert_eq!(public.matches("entry--pinned").count(), 4);
        let res = c
            .post(&entry_url)
            .header(header::COOKIE, &cookie)
            .form(&[("csrf", csrf.as_str()), ("action", "delete")])
            .send()
            .await
            .expect("delete");
        assert_eq!(res.status().as_u16(), 303);
        let mut received = String::new();
        while !received.contains("event: remove") {
            let chunk = tokio::time::timeout(Duration::from_secs(2), sse.chunk())
                .await
                .expect("removal within 2 s")
                .expect("stream")
                .expect("chunk");
            received.push_str(&String::from_utf8_lossy(&chunk));
        }
        let (_, _, public) = get(&s.url("/storm-eamon-live/")).await;
        assert!(!public.contains("Bridge reopens"));

        // A contributor may not post to a live roundup.
        let (contrib, contrib_csrf) =
            signed_in(&s, "stringer@courier.example", "contributor").await;
        let res = c
            .get(s.url(&console))
            .header(header::COOKIE, &contrib)
            .send()
            .await
            .expect("contrib");
        assert_eq!(res.status().as_u16(), 403);
        let res = c
            .post(s.url(&format!("{console}/entries")))
            .header(header::COOKIE, &contrib)
            .form(&[("csrf", contrib_csrf.as_str()), ("title", "Sneaky")])
            .send()
            .await
            .expect("contrib add");
        assert_eq!(res.status().as_u16(), 403);
        // And sees only their own posts in the list (none yet).
        let html = c
            .get(s.url("/admin/posts"))
            .header(header::COOKIE, &contrib)
            .send()
            .await
            .expect("list")
            .text()
            .await
            .expect("html");
        assert_eq!(html.matches("data-post-id=").count(), 0);
    })
    .await;
}

#[tokio::test]
async fn a_post_due_while_the_server_was_down_is_published_at_start_up() {
    let dir = TempDir::new("sched");
    let mut s = Server::start(&dir.0);
    assert!(s.terminate().success());
    let store = open_store(&dir.0).await;
    let now = masthead_store::now_ms();
    let post = |slug: &str, at: i64| masthead_store::NewPost {
        kind: masthead_domain::PostKind::Brief,
        slug: slug.to_owned(),
        title: format!("Scheduled {slug}"),
        dek: String::new(),
        body_source: "Due.".into(),
        body_html: "<p>Due.</p>".into(),
        word_count: 1,
        reading_minutes: 1,
        status: masthead_domain::PostStatus::Scheduled,
        visibility: masthead_domain::Visibility::Public,
        image: None,
        video: None,
        published_ms: Some(at),
        updated_ms: now,
        tag_ids: vec![],
        author_ids: vec![],
    };
    let (due, future) = (
        post("due-while-down", now - 3_600_000),
        post("not-yet", now + 86_400_000),
    );
    for post in [due, future] {
        let base_slug = masthead_domain::Slug::parse(&post.slug).expect("slug");
        store
            .create_post(masthead_store::CreatePost {
                base_slug,
                post,
                tags_by_slug: Vec::new(),
                extras: None,
                seo: None,
            })
            .await
            .expect("schedule");
    }
    drop(store);
    let s = Server::start(&dir.0);
    let deadline = Instant::now() + Duration::from_secs(3);
    while get(&s.url("/due-while-down/")).await.0 != 200 {
        assert!(
            Instant::now() < deadline,
            "not published within 3 s of start-up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(get(&s.url("/not-yet/")).await.0, 404, "future posts wait");
}

fn field(html: &str, name: &str) -> String {
    html.split(&format!("name=\"{name}\" value=\""))
        .nth(1)
        .and_then(|x| x.split('"').next())
        .unwrap_or_else(|| panic!("no field {name}"))
        .to_owned()
}

#[tokio::test]
async fn the_editor_saves_publishes_schedules_and_keeps_history() {
    with_server("editor", |s| async move {
        let c = client();
        let (cookie, csrf) = signed_in(&s, "desk@courier.example", "editor").await;
        let post_form = |path: String, form: Vec<(&'static str, String)>| {
            c.post(s.url(&path))
                .header(header::COOKIE, cookie.clone())
                .form(&form)
                .send()
        };
        // Create a draft: it gets a slug from the headline and is not public.
        let res = post_form(
            "/admin/posts".into(),
            vec![
                ("csrf", csrf.clone()),
                ("kind", "brief".into()),
                ("title", "Pier lights switched back on".into()),
            ],
        )
        .await
        .expect("create");
        assert_eq!(res.status().as_u16(), 303);
        let edit_url = res.headers()[header::LOCATION]
            .to_str()
            .expect("loc")
            .to_owned();
        let id: i64 = edit_url
            .split('/')
            .nth(3)
            .and_then(|x| x.parse().ok())
            .expect("id");
        assert_eq!(get(&s.url("/pier-lights-switched-back-on/")).await.0, 404);
        let html = c
            .get(s.url(&edit_url))
            .header(header::COOKIE, &cookie)
            .send()
            .await
            .expect("edit")
            .text()
            .await
            .expect("html");
        let version = field(&html, "version");
        let byline = field(&html, "authors");
        assert!(!byline.is_empty(), "the editor's own byline is filled in");
        let save =
            |version: String, action: &'static str, slug: &'static str, body: &'static str| {
                vec![
                    ("csrf", csrf.clone()),
                    ("version", version),
                    ("title", "Pier lights switched back on".to_owned()),
                    ("dek", "Engineers finished overnight.".to_owned()),
                    ("slug", slug.to_owned()),
                    ("body", body.to_owned()),
                    ("publish_at", String::new()),
                    ("action", action.to_owned()),
                    ("tags", "city, transport".to_owned()),
                    ("authors", byline.clone()),
                ]
            };
        let res = post_form(
            format!("/admin/posts/{id}"),
            save(
                version.clone(),
                "publish",
                "pier-lights-switched-back-on",
                "The lights came on at **dusk**.",
            ),
        )
        .await
        .expect("publish");
        assert_eq!(res.status().as_u16(), 200);
        let html = res.text().await.expect("html");
        assert!(html.contains("Published."));
        let v2 = field(&html, "version");
        // Readers see it at once, on the page and at the top of the feed.
        let (st, _, page) = get(&s.url("/pier-lights-switched-back-on/")).await;
        assert_eq!(st, 200);
        assert!(page.contains("<strong>dusk</strong>"));
        let (_, _, home) = get(&s.url("/")).await;
        assert_eq!(post_ids(&home).first(), Some(&id));
        let (_, _, transport) = get(&s.url("/tag/transport/")).await;
        assert_eq!(
            post_ids(&transport).first(),
            Some(&id),
            "tag pages follow the editor's tags"
        );
        assert!(
            page.contains("href=\"/tag/city/\""),
            "primary tag labels the story"
        );
        // A second editor still holding the first version gets a conflict, not an overwrite.
        let res = post_form(
            format!("/admin/posts/{id}"),
            save(
                version,
                "save",
                "pier-lights-switched-back-on",
                "Stale text",
            ),
        )
        .await
        .expect("stale");
        assert_eq!(res.status().as_u16(), 409);
        assert!(
            res.text()
                .await
                .expect("html")
                .contains("someone else saved this post")
        );
        assert!(
            !get(&s.url("/pier-lights-switched-back-on/"))
                .await
                .2
                .contains("Stale text")
        );
        // Renaming a published post keeps the old address as a 301.
        let res = post_form(
            format!("/admin/posts/{id}"),
            save(
                v2,
                "save",
                "pier-lights-back-on",
                "The lights came on at dusk, on time.",
            ),
        )
        .await
        .expect("rename");
        assert_eq!(res.status().as_u16(), 200);
        let v3 = field(&res.text().await.expect("html"), "version");
        let (st, headers, _) = get(&s.url("/pier-lights-switched-back-on/")).await;
        assert_eq!(st, 301);
        assert_eq!(headers[header::LOCATION], "/pier-lights-back-on/");
        // History: two revisions, a diff, and restore brings the old text back.
        let html = c
            .get(s.url(&format!("/admin/posts/{id}/revisions")))
            .header(header::COOKIE, &cookie)
            .send()
            .await
            .expect("revisions")
            .text()
            .await
            .expect("html");
        assert_eq!(html.matches("data-revision-id=").count(), 2);
        assert!(html.contains("class=\"diff-added\"") && html.contains("class=\"diff-removed\""));
        let oldest = html
            .rsplit("data-revision-id=\"")
            .next()
            .and_then(|x| x.split('"').next())
            .expect("rev")
            .to_owned();
        let res = post_form(
            format!("/admin/posts/{id}/revisions/{oldest}/restore"),
            vec![("csrf", csrf.clone()), ("version", v3)],
        )
        .await
        .expect("restore");
        assert_eq!(res.status().as_u16(), 303);
        let (st, _, page) = get(&s.url("/pier-lights-switched-back-on/")).await;
        assert_eq!(st, 200, "restored slug is live again");
        assert!(page.contains("<strong>dusk</strong>"));
        // Schedule in the past is refused; in the future it leaves the site.
        let html = c
            .get(s.url(&edit_url))
            .header(header::COOKIE, &cookie)
            .send()
            .await
            .expect("edit")
            .text()
            .await
            .expect("html");
        let v4 = field(&html, "version");
        let mut f = save(
            v4.clone(),
            "schedule",
            "pier-lights-switched-back-on",
            "Later.",
        );
        f[6].1 = "2001-01-01T09:00".into();
        assert_eq!(
            post_form(format!("/admin/posts/{id}"), f.clone())
                .await
                .expect("past")
                .status()
                .as_u16(),
            422
        );
        f[6].1 = "2099-01-01T09:00".into();
        let res = post_form(format!("/admin/posts/{id}"), f)
            .await
            .expect("schedule");
        assert_eq!(res.status().as_u16(), 200);
        assert!(res.text().await.expect("html").contains("Scheduled."));
        assert_eq!(
            get(&s.url("/pier-lights-switched-back-on/")).await.0,
            404,
            "scheduled posts are not public yet"
        );

        // A contributor can write drafts but not publish.
        let (ccookie, ccsrf) = signed_in(&s, "stringer2@courier.example", "contributor").await;
        let res = c
            .post(s.url("/admin/posts"))
            .header(header::COOKIE, &ccookie)
            .form(&[
                ("csrf", ccsrf.as_str()),
                ("kind", "article"),
                ("title", "Notes from the ferry queue"),
            ])
            .send()
            .await
            .expect("create");
        let cedit = res.headers()[header::LOCATION]
            .to_str()
            .expect("loc")
            .to_owned();
        let cid = cedit.split('/').nth(3).expect("id").to_owned();
        let html = c
            .get(s.url(&cedit))
            .header(header::COOKIE, &ccookie)
            .send()
            .await
            .expect("edit")
            .text()
            .await
            .expect("html");
        assert!(
            !html.contains("value=\"publish\""),
            "no publish button for contributors"
        );
        let cv = field(&html, "version");
        let cbyline = field(&html, "authors");
        let form = |action: &'static str| {
            vec![
                ("csrf", ccsrf.clone()),
                ("version", cv.clone()),
                ("title", "Notes from the ferry queue".to_owned()),
                ("dek", String::new()),
                ("slug", "notes-from-the-ferry-queue".to_owned()),
                ("body", "Draft.".to_owned()),
                ("publish_at", String::new()),
                ("action", action.to_owned()),
                ("authors", cbyline.clone()),
            ]
        };
        let res = c
            .post(s.url(&format!("/admin/posts/{cid}")))
            .header(header::COOKIE, &ccookie)
            .form(&form("publish"))
            .send()
            .await
            .expect("publish");
        assert_eq!(res.status().as_u16(), 403);
        let res = c
            .post(s.url(&format!("/admin/posts/{cid}")))
            .header(header::COOKIE, &ccookie)
            .form(&form("save"))
            .send()
            .await
            .expect("save");
        assert_eq!(res.status().as_u16(), 200);
        // ...and cannot touch the editor's post.
        let res = c
            .get(s.url(&edit_url))
            .header(header::COOKIE, &ccookie)
            .send()
            .await
            .expect("other");
        assert_eq!(res.status().as_u16(), 403);
    })
    .await;
}

#[tokio::test]
async fn settings_and_campaign_take_effect_on_the_public_site_at_once() {
    with_server("settings", |s| async move {
        let c = client();
        let (cookie, csrf) = signed_in(&s, "owner2@courier.example", "owner").await;
        let (_, _, before) = get(&s.url("/")).await;
        assert!(before.contains("The Aldren Courier"));
        let form = |timezone: &'static str| {
            vec![
                ("csrf", csrf.clone()),
                ("title", "The Aldren Evening Courier".to_owned()),
                ("description", "Evenings on the coast.".to_owned()),
                ("accent", "#1d4ed8".to_owned()),
                ("timezone", timezone.to_owned()),
                ("pitch", "Readers keep us going.".to_owned()),
                ("goal", "30000".to_owned()),
                ("metric", "members".to_owned()),
                ("deadline", "2027-06-30".to_owned()),
            ]
        };
        let res = c
            .post(s.url("/admin/settings"))
            .header(header::COOKIE, &cookie)
            .form(&form("Mars/Olympus_Mons"))
            .send()
            .await
            .expect("bad tz");
        assert_eq!(res.status().as_u16(), 422);
        assert!(
            res.text()
                .await
                .expect("html")
                .contains("Unknown time zone")
        );
        let res = c
            .post(s.url("/admin/settings"))
            .header(header::COOKIE, &cookie)
            .form(&form("Europe/Dublin"))
            .send()
            .await
            .expect("save");
        assert_eq!(res.status().as_u16(), 200);
        let (_, _, after) = get(&s.url("/")).await;
        assert!(
            after.contains("The Aldren Evening Courier"),
            "title changed at once"
        );
        assert!(after.contains("--accent:#1d4ed8"));
        assert!(after.contains("out of <span data-drive-goal>30,000</span>"));
        assert!(after.contains("Readers keep us going."));
        assert!(after.contains("by 30 June 2027"));
        let v: serde_json::Value =
            serde_json::from_str(&get(&s.url("/api/campaign")).await.2).expect("json");
        assert_eq!(v["goal"], 30000);
        // Editors do not manage settings.
        let (ecookie, ecsrf) = signed_in(&s, "ed3@courier.example", "editor").await;
        assert_eq!(
            c.get(s.url("/admin/settings"))
                .header(header::COOKIE, &ecookie)
                .send()
                .await
                .expect("get")
                .status()
                .as_u16(),
            403
        );
        let mut f = form("Europe/Dublin");
        f[0].1 = ecsrf;
        let res = c
            .post(s.url("/admin/settings"))
            .header(header::COOKIE, &ecookie)
            .form(&f)
            .send()
            .await
            .expect("post");
        assert_eq!(res.status().as_u16(), 403);
    })
    .await;
}

#[tokio::test]
async fn contributors_submit_and_editors_review() {
    with_server("review", |s| async move {
        let c = client();
        let (writer, wcsrf) = signed_in(&s, "freelance@courier.example", "contributor").await;
        let (editor, ecsrf) = signed_in(&s, "chief@courier.example", "editor").await;
        let res = c
            .post(s.url("/admin/posts"))
            .header(header::COOKIE, &writer)
            .form(&[
                ("csrf", wcsrf.as_str()),
                ("kind", "article"),
                ("title", "Night shift at the lifeboat station"),
            ])
            .send()
            .await
            .expect("create");
        let edit = res.headers()[header::LOCATION]
            .to_str()
            .expect("loc")
            .to_owned();
        let id = edit.split('/').nth(3).expect("id").to_owned();
        let review_url = s.url(&format!("/admin/posts/{id}/review"));
        let act = |cookie: &String, csrf: &String, decision: &'static str, body: &'static str| {
            c.post(&review_url)
                .header(header::COOKIE, cookie.clone())
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("decision", decision),
                    ("body", body),
                ])
                .send()
        };
        // Contributors cannot approve; they submit.
        assert_eq!(
            act(&writer, &wcsrf, "approved", "")
                .await
                .expect("self-approve")
                .status()
                .as_u16(),
            403
        );
        assert_eq!(
            act(&writer, &wcsrf, "submitted", "Ready for a look.")
                .await
                .expect("submit")
                .status()
                .as_u16(),
            303
        );
        let queue = c
            .get(s.url("/admin/review"))
            .header(header::COOKIE, &editor)
            .send()
            .await
            .expect("queue");
        assert_eq!(queue.status().as_u16(), 200);
        assert!(
            queue
                .text()
                .await
                .expect("html")
                .contains("Night shift at the lifeboat station")
        );
        assert_eq!(
            c.get(s.url("/admin/review"))
                .header(header::COOKIE, &writer)
                .send()
                .await
                .expect("no queue")
                .status()
                .as_u16(),
            403
        );
        assert_eq!(
            act(
                &editor,
                &ecsrf,
                "changes_requested",
                "Needs a second source."
            )
            .await
            .expect("send back")
            .status()
            .as_u16(),
            303
        );
        let page = c
            .get(s.url(&edit))
            .header(header::COOKIE, &writer)
            .send()
            .await
            .expect("edit")
            .text()
            .await
            .expect("html");
        assert!(page.contains("sent back for changes") && page.contains("Needs a second source."));
        assert!(page.contains("value=\"submitted\""), "can resubmit");
        assert_eq!(
            act(&writer, &wcsrf, "submitted", "Added the coxswain.")
                .await
                .expect("resubmit")
                .status()
                .as_u16(),
            303
        );
        assert_eq!(
            act(&editor, &ecsrf, "approved", "Good to go.")
                .await
                .expect("approve")
                .status()
                .as_u16(),
            303
        );
        let page = c
            .get(s.url(&edit))
            .header(header::COOKIE, &editor)
            .send()
            .await
            .expect("edit")
            .text()
            .await
            .expect("html");
        assert!(page.contains("Review: approved"));
        assert!(
            page.matches("<strong>").count() >= 4,
            "the thread lists every step"
        );
        let queue = c
            .get(s.url("/admin/review"))
            .header(header::COOKIE, &editor)
            .send()
            .await
            .expect("queue");
        assert!(
            queue
                .text()
                .await
                .expect("html")
                .contains("Nothing is waiting for review.")
        );
    })
    .await;
}

#[tokio::test]
async fn guest_bylines_and_new_sections() {
    with_server("bylines", |s| async move {
        let c = client();
        let (editor, csrf) = signed_in(&s, "night-editor@courier.example", "editor").await;
        let res = c
            .post(s.url("/admin/authors"))
            .header(header::COOKIE, &editor)
            .form(&[
                ("csrf", csrf.as_str()),
                ("name", "Marta Quill"),
                ("bio", "A freelance photographer on the coast."),
            ])
            .send()
            .await
            .expect("byline");
        assert_eq!(res.status().as_u16(), 200);
        assert!(
            res.text()
                .await
                .expect("html")
                .contains("/author/marta-quill/")
        );
        // The guest has no login, but an author page once credited.
        assert_eq!(get(&s.url("/author/marta-quill/")).await.0, 200);
        let res = c
            .post(s.url("/admin/tags"))
            .header(header::COOKIE, &editor)
            .form(&[
                ("csrf", csrf.as_str()),
                ("name", "Islands"),
                ("description", "Hollin Isle and beyond."),
                ("section", "1"),
            ])
            .send()
            .await
            .expect("tag");
        assert_eq!(res.status().as_u16(), 200);
        let (_, _, home) = get(&s.url("/")).await;
        assert!(
            home.contains("href=\"/section/islands/\""),
            "a new section shows in the navigation at once"
        );
        let (author, acsrf) = signed_in(&s, "reporter9@courier.example", "author").await;
        let res = c
            .post(s.url("/admin/authors"))
            .header(header::COOKIE, &author)
            .form(&[("csrf", acsrf.as_str()), ("name", "Someone Else")])
            .send()
            .await
            .expect("author");
        assert_eq!(res.status().as_u16(), 403);
    })
    .await;
}

/// A real SMTP server (Python aiosmtpd) that stores what it receives.
struct SmtpSink {
    child: Child,
    port: u16,
    dir: TempDir,
}

impl SmtpSink {
    fn start() -> SmtpSink {
        SmtpSink::start_refusing(&[])
    }

    /// A sink that refuses `refused` for good (550), as for an address that
    /// does not exist.
    fn start_refusing(refused: &[&str]) -> SmtpSink {
        let python = std::env::var("MASTHEAD_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let dir = TempDir::new("smtp");
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/smtp/sink.py");
        let mut child = Command::new(&python)
            .arg(script)
            .arg(port.to_string())
            .arg(&dir.0)
            .arg(refused.join(","))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run {python}: {e}; run ./scripts/test.sh, which installs aiosmtpd")
            });
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read");
        if line.trim() != "ready" {
            let mut err = String::new();
            let _ =
                std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut err);
            panic!(
                "the SMTP sink did not start (is aiosmtpd installed for {python}? ./scripts/test.sh installs it): {err}"
            );
        }
        SmtpSink { child, port, dir }
    }

    /// Waits for the n-th message and returns it.
    fn message(&self, n: usize) -> String {
        let path = self.dir.0.join(format!("{n}.eml"));
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(m) = std::fs::read_to_string(&path) {
                return m;
            }
            assert!(
                Instant::now() < deadline,
                "no message {n} arrived within 10 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn count(&self) -> usize {
        std::fs::read_dir(&self.dir.0)
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                    .count()
            })
            .unwrap_or(0)
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn password_reset_by_an_emailed_one_time_link() {
    let smtp = SmtpSink::start();
    let dir = TempDir::new("reset");
    let mut child = masthead(&dir.0)
        .args(["serve", "--addr", "127.0.0.1:0", "--smtp-url"])
        .arg(format!("smtp://127.0.0.1:{}", smtp.port))
        .args(["--mail-from", "The Aldren Courier <desk@courier.example>"])
        .env("MASTHEAD_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout"))
        .lines()
        .map_while(Result::ok);
    let ready = lines.find(|l| l.contains(" at http://")).expect("ready");
    std::thread::spawn(move || for _ in lines {});
    let base = format!(
        "http://{}",
        ready
            .split(" at http://")
            .nth(1)
            .and_then(|r| r.split('/').next())
            .expect("addr")
    );
    let s = Server {
        child,
        base,
        data: dir.0.clone(),
    };
    let (old_cookie, _) = signed_in(&s, "forgetful@courier.example", "author").await;
    let c = client();
    // Unknown addresses get the same answer and no mail.
    let res = c
        .post(s.url("/admin/reset"))
        .form(&[("email", "nobody@courier.example")])
        .send()
        .await
        .expect("unknown");
    assert_eq!(res.status().as_u16(), 200);
    let unknown_page = res.text().await.expect("html");
    let res = c
        .post(s.url("/admin/reset"))
        .form(&[("email", "Forgetful@Courier.example")])
        .send()
        .await
        .expect("reset");
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(
        res.text().await.expect("html"),
        unknown_page,
        "the page does not reveal who has an account"
    );
    // Undo quoted-printable soft line breaks, as a mail client would.
    let mail = smtp.message(1).replace("=\r\n", "").replace("=\n", "");
    assert!(
        mail.starts_with("RCPT-TO: forgetful@courier.example"),
        "{mail}"
    );
    assert!(mail.contains("desk@courier.example"));
    let link = mail
        .split_whitespace()
        .find(|w| w.contains("/admin/reset/"))
        .expect("a link in the mail")
        .trim()
        .to_owned();
    assert!(link.starts_with(&s.base), "{link}");
    assert_eq!(smtp.count(), 1, "no mail for the unknown address");
    assert_eq!(
        c.get(&link).send().await.expect("form").status().as_u16(),
        200
    );
    let res = c
        .post(&link)
        .form(&[("password", "short")])
        .send()
        .await
        .expect("weak");
    assert_eq!(res.status().as_u16(), 422);
    let res = c
        .post(&link)
        .form(&[("password", "a brand new passphrase")])
        .send()
        .await
        .expect("set");
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(
        c.post(&link)
            .form(&[("password", "yet another passphrase")])
            .send()
            .await
            .expect("reuse")
            .status()
            .as_u16(),
        410
    );
    // Old sessions are gone; the old password fails; the new one works.
    let res = c
        .get(s.url("/admin/"))
        .header(header::COOKIE, &old_cookie)
        .send()
        .await
        .expect("old session");
    assert_eq!(res.status().as_u16(), 303);
    let signin = |pw: &'static str| {
        c.post(s.url("/admin/signin"))
            .form(&[("email", "forgetful@courier.example"), ("password", pw)])
            .send()
    };
    assert_eq!(
        signin("a long enough password")
            .await
            .expect("old")
            .status()
            .as_u16(),
        401
    );
    assert_eq!(
        signin("a brand new passphrase")
            .await
            .expect("new")
            .status()
            .as_u16(),
        303
    );
}

#[tokio::test]
async fn corrections_from_the_desk_print_on_the_story_at_once() {
    with_server("notes", |s| async move {
        let c = client();
        let (editor, csrf) = signed_in(&s, "standards@courier.example", "editor").await;
        let html = c
            .get(s.url("/admin/posts?q=Seal%20pup"))
            .header(header::COOKIE, &editor)
            .send()
            .await
            .expect("list")
            .text()
            .await
            .expect("html");
        let id = html
            .split("<tr data-post-id=\"")
            .nth(1)
            .and_then(|x| x.split('"').next())
            .expect("a seal pup story")
            .to_owned();
        let edit = c
            .get(s.url(&format!("/admin/posts/{id}/edit")))
            .header(header::COOKIE, &editor)
            .send()
            .await
            .expect("edit")
            .text()
            .await
            .expect("html");
        let slug = edit
            .split("id=\"slug\"")
            .nth(1)
            .and_then(|x| x.split("value=\"").nth(1))
            .and_then(|x| x.split('"').next())
            .expect("slug field")
            .to_owned();
        let (_, _, before) = get(&s.url(&format!("/{slug}/"))).await; // cached now
        assert!(!before.contains("The pup was found on Westcliff beach, not Brackwater."));
        let res = c
            .post(s.url(&format!("/admin/posts/{id}/notes")))
            .header(header::COOKIE, &editor)
            .form(&[
                ("csrf", csrf.as_str()),
                ("kind", "correction"),
                (
                    "note",
                    "The pup was found on Westcliff beach, not Brackwater.",
                ),
            ])
            .send()
            .await
            .expect("note");
        assert_eq!(res.status().as_u16(), 303);
        let (_, _, after) = get(&s.url(&format!("/{slug}/"))).await;
        assert!(after.contains("<strong>Correction</strong>"));
        assert!(after.contains("The pup was found on Westcliff beach, not Brackwater."));
        let res = c
            .post(s.url(&format!("/admin/posts/{id}/notes")))
            .header(header::COOKIE, &editor)
            .form(&[("csrf", csrf.as_str()), ("kind", "rumour"), ("note", "x")])
            .send()
            .await
            .expect("bad");
        assert_eq!(res.status().as_u16(), 422);
    })
    .await;
}

#[tokio::test]
async fn live_preview_uses_the_site_pipeline_and_long_reads_fit() {
    with_server("preview", |s| async move {
        let c = client();
        let (cookie, csrf) = signed_in(&s, "longreads@courier.example", "editor").await;
        let res = c
            .post(s.url("/admin/preview"))
            .header(header::COOKIE, &cookie)
            .form(&[
                ("csrf", csrf.as_str()),
                ("body", "A **bold** claim.<script>alert(1)</script>"),
            ])
            .send()
            .await
            .expect("preview");
        assert_eq!(res.status().as_u16(), 200);
        let html = res.text().await.expect("html");
        assert!(
            html.contains("<strong>bold</strong>") && !html.contains("<script"),
            "{html}"
        );
        let forged = c
            .post(s.url("/admin/preview"))
            .header(header::COOKIE, &cookie)
            .form(&[("csrf", "forged"), ("body", "x")])
            .send()
            .await
            .expect("forged");
        assert_eq!(forged.status().as_u16(), 403);
        let anonymous = c
            .post(s.url("/admin/preview"))
            .form(&[("csrf", "x"), ("body", "x")])
            .send()
            .await
            .expect("anon");
        assert_eq!(anonymous.status().as_u16(), 303);
        let script = c.get(s.url("/admin/desk.js")).send().await.expect("js");
        assert_eq!(
            script.headers()[header::CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
        // A 300 KB long read saves: the desk's body limit is not the public one.
        let res = c
            .post(s.url("/admin/posts"))
            .header(header::COOKIE, &cookie)
            .form(&[
                ("csrf", csrf.as_str()),
                ("kind", "article"),
                ("title", "The long read"),
            ])
            .send()
            .await
            .expect("create");
        let edit = res.headers()[header::LOCATION]
            .to_str()
            .expect("loc")
            .to_owned();
        let id = edit.split('/').nth(3).expect("id").to_owned();
        let page = c
            .get(s.url(&edit))
            .header(header::COOKIE, &cookie)
            .send()
            .await
            .expect("edit")
            .text()
            .await
            .expect("html");
        let long =
            "A paragraph of the long read about the harbour and its people.\n\n".repeat(4_500);
        let res = c
            .post(s.url(&format!("/admin/posts/{id}")))
            .header(header::COOKIE, &cookie)
            .form(&[
                ("csrf", csrf.clone()),
                ("version", field(&page, "version")),
                ("title", "The long read".to_owned()),
                ("dek", String::new()),
                ("slug", "the-long-read".to_owned()),
                ("body", long),
                ("publish_at", String::new()),
                ("authors", field(&page, "authors")),
                (
                    "meta_title",
                    "Long read: the harbour and its people".to_owned(),
                ),
                ("canonical_url", "javascript:alert(1)".to_owned()),
                ("action", "publish".to_owned()),
            ])
            .send()
            .await
            .expect("save");
        assert_eq!(res.status().as_u16(), 422, "only http(s) canonical URLs");
        let res = c
            .post(s.url(&format!("/admin/posts/{id}")))
            .header(header::COOKIE, &cookie)
            .form(&[
                ("csrf", csrf.clone()),
                ("version", field(&page, "version")),
                ("title", "The long read".to_owned()),
                ("dek", String::new()),
                ("slug", "the-long-read".to_owned()),
                (
                    "body",
                    "A paragraph of the long read about the harbour and its people.\n\n"
                        .repeat(4_500),
                ),
                ("publish_at", String::new()),
                ("authors", field(&page, "authors")),
                (
                    "meta_title",
                    "Long read: the harbour and its people".to_owned(),
                ),
                ("action", "publish".to_owned()),
            ])
            .send()
            .await
            .expect("save");
        assert_eq!(res.status().as_u16(), 200);
        let (st, _, story) = get(&s.url("/the-long-read/")).await;
        assert_eq!(st, 200);
        assert!(story.contains("min read"));
        assert!(
            story.contains("<title>Long read: the harbour and its people | "),
            "the SEO title is used"
        );
    })
    .await;
}

#[tokio::test]
async fn long_roundups_page_their_older_entries() {
    with_server("live-pages", |s| async move {
        // The demo roundup has 19 entries (3 pinned): add 40 more, so that 56
        // unpinned entries need two pages of 50.
        let (cookie, csrf) = signed_in(&s, "live@courier.example", "editor").await;
        let (_, _, page) = get(&s.url("/storm-eamon-live/")).await;
        let post_id = page
            .split("data-live-events=\"/_live/")
            .nth(1)
            .and_then(|x| x.split('/').next())
            .expect("post id")
            .to_owned();
        for i in 0..40 {
            let res = client()
                .post(s.url(&format!("/admin/live/{post_id}/entries")))
                .header(header::COOKIE, &cookie)
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("title", &format!("Paging update {i:02}")),
                    ("body", "More from the harbour."),
                ])
                .send()
                .await
                .expect("add");
            assert!(res.status().is_redirection(), "add {i}: {}", res.status());
        }
        // The cached page is refreshed by the change poller within a moment.
        let deadline = Instant::now() + Duration::from_secs(5);
        let first = loop {
            let (st, _, first) = get(&s.url("/storm-eamon-live/")).await;
            assert_eq!(st, 200);
            if first.contains("59 updates.") {
                break first;
            }
            assert!(
                Instant::now() < deadline,
                "the total never counted every entry: {:?}",
                first
                    .split("data-live-status>")
                    .nth(1)
                    .and_then(|x| x.split('<').next())
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(first.matches("entry--pinned").count(), 3, "pinned on top");
        assert!(first.contains("Paging update 39"), "the newest entry");
        let older = first
            .split("href=\"/storm-eamon-live/?before=")
            .nth(1)
            .and_then(|x| x.split('"').next())
            .map(|c| format!("/storm-eamon-live/?before={c}"))
            .expect("an Older updates link");
        let (st, _, second) = get(&s.url(&older)).await;
        assert_eq!(st, 200);
        assert!(
            !second.contains("data-live-events"),
            "older pages do not follow new entries"
        );
        assert!(second.contains("Back to the newest updates"));
        assert!(second.contains("<meta name=\"robots\" content=\"noindex"));
        assert_eq!(second.matches("entry--pinned").count(), 0);
        assert!(
            !second.contains("href=\"/storm-eamon-live/?before="),
            "the second page is the last"
        );
        // Every entry is on exactly one page.
        let ids = |html: &str| -> Vec<String> {
            html.split("data-entry-id=\"")
                .skip(1)
                .filter_map(|x| x.split('"').next())
                .map(str::to_owned)
                .collect()
        };
        let mut all = ids(&first);
        all.extend(ids(&second));
        let count = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), count, "no entry on two pages");
        assert_eq!(count, 59, "every entry on exactly one page");
        // A malformed position is a clear 400.
        let (st, _, body) = get(&s.url("/storm-eamon-live/?before=yesterday")).await;
        assert_eq!(st, 400);
        assert!(body.contains("not a valid position"));
    })
    .await;
}
