//! Three `masthead serve` processes on one PostgreSQL database, each on a
//! free loopback port, sharing one data directory for media (issue 9 item
//! 5). Through real HTTP: a post published through one is on the others'
//! cached home pages within a second; a live entry added on one reaches a
//! reader streaming from another within a second; posts scheduled for the
//! same moment are published once and their webhook delivered once while
//! all three race; an instance killed while it holds a webhook delivery
//! leaves it to another, which sends it once, after the lease; an image
//! uploaded through one is served by another.
//!
//! PostgreSQL only: it needs `MASTHEAD_TEST_DATABASE_URL` (a role that may
//! create databases; `scripts/test.sh` always sets it) and fails without it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::header;

const BIN: &str = env!("CARGO_BIN_EXE_masthead");
/// Webhook leases in this test: long enough for a send (a quarter of it,
/// 2 s), short enough to watch a takeover.
const LEASE_MS: i64 = 8_000;
/// What "at once" means across instances.
const WITHIN: Duration = Duration::from_secs(1);

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn admin_url() -> String {
    std::env::var("MASTHEAD_TEST_DATABASE_URL").expect(
        "MASTHEAD_TEST_DATABASE_URL is not set: the multi-instance test needs a real PostgreSQL \
         server. Run it through scripts/test.sh, or `source scripts/pg.sh && pg_start` first.",
    )
}

fn psql(sql: &str) -> Result<(), String> {
    let out = Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d"])
        .arg(admin_url())
        .args(["-c", sql])
        .output()
        .map_err(|e| format!("cannot run psql: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "psql {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// A database of its own, dropped at the end.
struct Database {
    name: String,
    url: String,
}

impl Database {
    fn create() -> Database {
        let name = format!("instances_{}_{}", std::process::id(), now_ms());
        psql(&format!("CREATE DATABASE {name}")).unwrap_or_else(|e| panic!("{e}"));
        let admin = admin_url();
        let (head, tail) = admin.rsplit_once('/').expect("a postgres://…/database URL");
        let query = tail
            .split_once('?')
            .map_or(String::new(), |(_, q)| format!("?{q}"));
        Database {
            url: format!("{head}/{name}{query}"),
            name,
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let _ = psql(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ));
    }
}

struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let p = std::env::temp_dir().join(format!(
            "masthead-instances-{}-{}",
            std::process::id(),
            now_ms()
        ));
        std::fs::create_dir_all(&p).expect("temp dir");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `masthead --data-dir DATA --database-url URL`.
fn masthead(data: &Path, db: &Database) -> Command {
    let mut c = Command::new(BIN);
    c.arg("--data-dir")
        .arg(data)
        .args(["--database-url", &db.url])
        .env("MASTHEAD_LOG", "warn");
    c
}

/// The confirmation link in the newest mail to `to` in the outbox of the
/// data directory `data` (members' mail without an SMTP server).
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

struct Instance {
    name: &'static str,
    child: Child,
    base: String,
}

impl Instance {
    fn start(name: &'static str, data: &Path, db: &Database) -> Instance {
        let mut child = masthead(data, db)
            .args(["serve", "--addr", "127.0.0.1:0"])
            // The receivers below listen on loopback.
            .env("MASTHEAD_ALLOW_PRIVATE_WEBHOOKS", "true")
            .env("MASTHEAD_WEBHOOK_LEASE_MS", LEASE_MS.to_string())
            // A failed attempt is not retried within the test.
            .env("MASTHEAD_WEBHOOK_RETRY_MS", "600000")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start masthead");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let base = loop {
            let line = lines
                .next()
                .unwrap_or_else(|| panic!("instance {name} exited before it was ready"))
                .expect("read stdout");
            if let Some(rest) = line.split(" at http://").nth(1) {
                let addr = rest.split_whitespace().next().expect("addr");
                break format!("http://{}", addr.trim_end_matches('/'));
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Instance { name, child, base }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client() -> reqwest::Client {
    static PROVIDER: std::sync::Once = std::sync::Once::new();
    PROVIDER.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

/// A staff session: valid on every instance, as sessions live in the database.
struct Desk {
    cookie: String,
    csrf: String,
}

impl Desk {
    async fn sign_in(data: &Path, db: &Database, on: &Instance) -> Desk {
        let mut add = masthead(data, db)
            .args([
                "user",
                "add",
                "--email",
                "desk@courier.example",
                "--name",
                "Ines Ward",
                "--role",
                "administrator",
                "--password-stdin",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("user add");
        add.stdin
            .take()
            .expect("stdin")
            .write_all(b"a long enough password\n")
            .expect("password");
        let out = add.wait_with_output().expect("user add");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let res = client()
            .post(on.url("/admin/signin"))
            .form(&[
                ("email", "desk@courier.example"),
                ("password", "a long enough password"),
            ])
            .send()
            .await
            .expect("sign in");
        let cookie = res
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("masthead_session="))
            .and_then(|v| v.split(';').next())
            .expect("a session cookie")
            .to_owned();
        let desk = Desk {
            cookie,
            csrf: String::new(),
        };
        let html = desk.get(on, "/admin/").await;
        let csrf = html
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .and_then(|x| x.split('"').next())
            .expect("csrf")
            .to_owned();
        Desk { csrf, ..desk }
    }

    async fn get(&self, on: &Instance, path: &str) -> String {
        let res = client()
            .get(on.url(path))
            .header(header::COOKIE, &self.cookie)
            .send()
            .await
            .expect("get");
        assert_eq!(res.status().as_u16(), 200, "{} {path}", on.name);
        res.text().await.expect("text")
    }

    async fn form(&self, on: &Instance, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let mut all = vec![("csrf", self.csrf.as_str())];
        all.extend_from_slice(fields);
        client()
            .post(on.url(path))
            .header(header::COOKIE, &self.cookie)
            .form(&all)
            .send()
            .await
            .expect("post")
    }

    /// Adds a post through the Admin API (which takes desk sessions too).
    async fn add_post(&self, on: &Instance, post: serde_json::Value) -> serde_json::Value {
        let res = client()
            .post(on.url("/ghost/api/admin/posts/"))
            .header(header::COOKIE, &self.cookie)
            .json(&serde_json::json!({ "posts": [post] }))
            .send()
            .await
            .expect("add a post");
        let status = res.status().as_u16();
        let body: serde_json::Value = res.json().await.expect("json");
        assert_eq!(status, 201, "{} {body}", on.name);
        body["posts"][0].clone()
    }
}

/// One request a receiver got: when (wall clock, ms) and its delivery id.
#[derive(Clone, Debug)]
struct Got {
    at_ms: i64,
    delivery: String,
    body: String,
}

/// A webhook receiver on loopback that counts what it gets. The first
/// `hang` requests get no answer for a minute (their sender is stuck); the
/// rest get 200 at once.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Got>>>,
}

impl Receiver {
    fn start(hang: usize) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        let got = Arc::new(Mutex::new(Vec::new()));
        let g = got.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let g = g.clone();
                std::thread::spawn(move || {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    let head_end = loop {
                        let n = stream.read(&mut chunk).unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break p + 4;
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
                    let header = |name: &str| {
                        head.lines()
                            .filter_map(|l| l.split_once(':'))
                            .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
                            .map(|(_, v)| v.trim().to_owned())
                    };
                    let len: usize = header("content-length")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    while buf.len() < head_end + len {
                        let n = stream.read(&mut chunk).unwrap_or(0);
                        if n == 0 {
                            break;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    let nth = {
                        let mut g = g.lock().unwrap_or_else(|p| p.into_inner());
                        g.push(Got {
                            at_ms: now_ms(),
                            delivery: header("x-masthead-delivery").unwrap_or_default(),
                            body: String::from_utf8_lossy(&buf[head_end..]).into_owned(),
                        });
                        g.len()
                    };
                    if nth <= hang {
                        std::thread::sleep(Duration::from_secs(60));
                    }
                    let _ = write!(
                        stream,
                        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    );
                });
            }
        });
        Receiver { url, got }
    }

    fn got(&self) -> Vec<Got> {
        self.got.lock().map(|g| g.clone()).unwrap_or_default()
    }

    /// Waits until `n` requests have come, at most `within`.
    async fn wait_for(&self, n: usize, within: Duration) -> Vec<Got> {
        let deadline = Instant::now() + within;
        loop {
            let got = self.got();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {n} webhook requests within {within:?}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

async fn page(on: &Instance, path: &str) -> (u16, Option<String>, String) {
    let res = client().get(on.url(path)).send().await.expect("get");
    let status = res.status().as_u16();
    let cache = res
        .headers()
        .get("x-cache")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (status, cache, res.text().await.expect("body"))
}

/// Waits until every instance's `path` shows `text`; each must within
/// [`WITHIN`] of `since`.
async fn shows_everywhere(on: &[&Instance], path: &str, text: &str, since: Instant) {
    let mut waiting: Vec<&&Instance> = on.iter().collect();
    while !waiting.is_empty() {
        let mut still = Vec::new();
        for i in waiting {
            if !page(i, path).await.2.contains(text) {
                still.push(i);
            }
        }
        waiting = still;
        if let Some(late) = waiting.first() {
            assert!(
                since.elapsed() < WITHIN,
                "{} does not show {text:?} on {path} after {:?}",
                late.name,
                since.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The deliveries of `event`, newest first, read from the database.
async fn deliveries(store: &masthead_store::Store, event: &str) -> Vec<masthead_store::Delivery> {
    store
        .recent_deliveries(500)
        .await
        .expect("deliveries")
        .into_iter()
        .filter(|d| d.event == event)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_share_one_database() {
    let db = Database::create();
    let data = TempDir::new();
    // The first run seeds the demo newsroom; the others find it there.
    let a = Instance::start("A", &data.0, &db);
    let b = Instance::start("B", &data.0, &db);
    let c = Instance::start("C", &data.0, &db);
    let all = [&a, &b, &c];
    let store = masthead_store::Store::open_postgres(&db.url)
        .await
        .expect("open the database");
    let desk = Desk::sign_in(&data.0, &db, &a).await;

    // --- A publishes; B's and C's cached home pages change within a second.
    for i in [&b, &c] {
        let mut hit = false;
        for _ in 0..5 {
            hit = page(i, "/").await.1.as_deref() == Some("hit");
            if hit {
                break;
            }
        }
        assert!(hit, "{}'s home page is served from its cache", i.name);
    }
    let headline = "Ferry timetable restored across the estuary";
    desk.add_post(
        &a,
        serde_json::json!({ "title": headline, "status": "published" }),
    )
    .await;
    let published = Instant::now();
    shows_everywhere(&[&b, &c], "/", headline, published).await;
    eprintln!(
        "published through A: on B's and C's home pages after {:?}",
        published.elapsed()
    );

    // --- A live entry added on B reaches a reader streaming from C.
    let (status, _, live) = page(&c, "/storm-eamon-live/").await;
    assert_eq!(status, 200);
    let events = live
        .split("data-live-events=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("the live page streams")
        .to_owned();
    let post_id = events
        .split('/')
        .nth(2)
        .expect("/_live/{id}/events")
        .to_owned();
    let mut stream = client().get(c.url(&events)).send().await.expect("sse");
    assert_eq!(stream.status().as_u16(), 200);
    let entry = "Harbour master reopens the outer basin";
    let res = desk
        .form(
            &b,
            &format!("/admin/live/{post_id}/entries"),
            &[("title", entry), ("body", "Boats may leave from noon.")],
        )
        .await;
    let added = Instant::now();
    assert!(
        res.status().is_success() || res.status().is_redirection(),
        "{}",
        res.status()
    );
    let mut received = String::new();
    while !received.contains(entry) {
        let left = WITHIN.saturating_sub(added.elapsed());
        let chunk = tokio::time::timeout(left, stream.chunk())
            .await
            .unwrap_or_else(|_| panic!("no entry on C's stream within {WITHIN:?}: {received}"))
            .expect("stream")
            .expect("chunk");
        received.push_str(&String::from_utf8_lossy(&chunk));
    }
    eprintln!("added on B: on C's stream after {:?}", added.elapsed());
    assert!(received.contains("event: entry"), "{received}");
    drop(stream);

    // --- An image uploaded through A is served by C (one media directory).
    let png = {
        let img = image::RgbImage::from_fn(640, 400, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x * y) % 256) as u8])
        });
        let mut out = std::io::Cursor::new(Vec::new());
        image::DynamicImage::ImageRgb8(img)
            .write_to(&mut out, image::ImageFormat::Png)
            .expect("encode");
        out.into_inner()
    };
    let form = reqwest::multipart::Form::new()
        .text("csrf", desk.csrf.clone())
        .part(
            "file",
            reqwest::multipart::Part::bytes(png).file_name("basin.png"),
        );
    let res = client()
        .post(a.url("/admin/media"))
        .header(header::COOKIE, &desk.cookie)
        .header(header::ACCEPT, "application/json")
        .multipart(form)
        .send()
        .await
        .expect("upload");
    assert!(
        matches!(res.status().as_u16(), 200 | 201),
        "{}",
        res.status()
    );
    let uploaded: serde_json::Value = res.json().await.expect("json");
    let src = uploaded["src"].as_str().expect("src").to_owned();
    let res = client().get(c.url(&src)).send().await.expect("media");
    assert_eq!(res.status().as_u16(), 200, "C serves {src}");
    assert_eq!(res.headers()[header::CONTENT_TYPE], "image/png");
    let bytes = res.bytes().await.expect("bytes");
    assert!(bytes.starts_with(b"\x89PNG"), "{src}");

    // --- Posts scheduled for one moment: published once each, and their
    // webhook delivered once each, while all three schedulers and
    // deliverers race.
    let counting = Receiver::start(0);
    let res = desk
        .form(
            &a,
            "/admin/integrations/webhooks",
            &[
                ("event", "post.published"),
                ("target_url", &counting.url),
                ("name", "counting"),
            ],
        )
        .await;
    assert_eq!(res.status().as_u16(), 200);
    let due_ms = now_ms() + 2_500;
    let due = jiff::Timestamp::from_millisecond(due_ms)
        .expect("a time")
        .to_string();
    let titles: Vec<String> = (1..=4)
        .map(|i| format!("Tide tables for the week, part {i}"))
        .collect();
    for (i, title) in titles.iter().enumerate() {
        desk.add_post(
            all[i % 3],
            serde_json::json!({ "title": title, "status": "scheduled", "published_at": due }),
        )
        .await;
    }
    let got = counting
        .wait_for(titles.len(), Duration::from_secs(15))
        .await;
    for title in &titles {
        shows_everywhere(&all, "/", title, Instant::now()).await;
    }
    // Every scheduler has run at least twice more, every deliverer too.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let got_now = counting.got();
    assert_eq!(
        got_now.len(),
        titles.len(),
        "one request per post: {got_now:?}"
    );
    for title in &titles {
        let n = got
            .iter()
            .filter(|g| g.body.contains(title.as_str()))
            .count();
        assert_eq!(n, 1, "{title}: {n} deliveries");
    }
    let mut ids: Vec<&str> = got_now.iter().map(|g| g.delivery.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), titles.len(), "distinct deliveries");
    let published = deliveries(&store, "post.published").await;
    assert_eq!(
        published.len(),
        titles.len(),
        "one delivery queued per publication"
    );
    assert!(
        published
            .iter()
            .all(|d| d.status == "delivered" && d.attempts == 1 && d.lease_owner.is_none()),
        "{published:?}"
    );

    // --- The instance holding a delivery dies mid-send: after its lease,
    // another instance sends it, once.
    let hanging = Receiver::start(1);
    let res = desk
        .form(
            &a,
            "/admin/integrations/webhooks",
            &[
                ("event", "member.added"),
                ("target_url", &hanging.url),
                ("name", "hanging"),
            ],
        )
        .await;
    assert_eq!(res.status().as_u16(), 200);
    let res = client()
        .post(c.url("/join/"))
        .form(&[("email", "reader@estuary.example")])
        .send()
        .await
        .expect("join");
    assert_eq!(res.status().as_u16(), 303);
    // A member once the address is confirmed: the link from C's mail,
    // followed on B (the instances share their data directory's outbox).
    let outbox = data.0.clone();
    let link = tokio::task::spawn_blocking(move || outbox_link(&outbox, "reader@estuary.example"))
        .await
        .expect("outbox");
    let path = &link[link.find("/members/").expect("a site link")..];
    let res = client().get(b.url(path)).send().await.expect("confirm");
    assert!(
        res.status().is_success() || res.status().is_redirection(),
        "confirming: {}",
        res.status()
    );
    let first = hanging.wait_for(1, Duration::from_secs(10)).await[0].clone();
    let held = deliveries(&store, "member.added").await;
    assert_eq!(held.len(), 1, "{held:?}");
    let held = &held[0];
    assert_eq!(
        (held.status.as_str(), held.attempts),
        ("sending", 1),
        "{held:?}"
    );
    let owner = held.lease_owner.clone().expect("a holder");
    let lease_until = held.lease_until_ms.expect("a lease");
    let pid: u32 = owner
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("lease owner {owner:?} is host:pid"));
    let mut instances = [a, b, c];
    let holder = instances
        .iter_mut()
        .find(|i| i.child.id() == pid)
        .unwrap_or_else(|| panic!("the holder {owner} is one of the three"));
    let killed = holder.name;
    holder.child.kill().expect("SIGKILL");
    holder.child.wait().expect("reap");
    assert!(
        now_ms() < lease_until,
        "the holder was killed while its lease ran (the send timeout is a quarter of it)"
    );
    // Until the lease ends, the desk's log names the dead holder.
    let alive = instances
        .iter()
        .find(|i| i.name != killed)
        .expect("a survivor");
    let log = desk.get(alive, "/admin/integrations").await;
    assert!(log.contains(&format!("sending (by {owner})")), "{log}");

    let both = hanging
        .wait_for(2, Duration::from_millis(LEASE_MS as u64 + 5_000))
        .await;
    let second = &both[1];
    assert!(
        second.at_ms >= lease_until,
        "taken over only after the lease: {} ms early",
        lease_until - second.at_ms
    );
    assert_eq!(second.delivery, first.delivery, "the same delivery");
    let deadline = Instant::now() + Duration::from_secs(5);
    let done = loop {
        let d = deliveries(&store, "member.added").await;
        if d[0].status != "sending" {
            break d[0].clone();
        }
        assert!(Instant::now() < deadline, "still sending: {d:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        (
            done.status.as_str(),
            done.attempts,
            done.lease_owner.as_deref()
        ),
        ("delivered", 2, None),
        "{done:?}"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        hanging.got().len(),
        2,
        "sent once by the dead instance ({killed}) and once by its successor"
    );
}
