//! Webhooks, delivered to real HTTP receivers on loopback (which only
//! `--allow-private-webhooks` permits), and refused without it.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::*;

#[derive(Clone, Debug)]
struct Received {
    headers: Vec<(String, String)>,
    body: String,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("webhook body is JSON")
    }
}

/// A tiny HTTP server: records requests; answers 500 while `fail` is above
/// zero (counting down), or holds the connection for `hang_ms`.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
    fail: Arc<AtomicU32>,
}

impl Receiver {
    fn start(fail: u32, hang_ms: u64) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        let got = Arc::new(Mutex::new(Vec::new()));
        let fail = Arc::new(AtomicU32::new(fail));
        let (g, f) = (got.clone(), fail.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let (g, f) = (g.clone(), f.clone());
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
                    let headers: Vec<(String, String)> = head
                        .lines()
                        .skip(1)
                        .filter_map(|l| l.split_once(':'))
                        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                        .collect();
                    let len: usize = headers
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                        .and_then(|(_, v)| v.parse().ok())
                        .unwrap_or(0);
                    while buf.len() < head_end + len {
                        let n = stream.read(&mut chunk).unwrap_or(0);
                        if n == 0 {
                            break;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    let body = String::from_utf8_lossy(&buf[head_end..]).into_owned();
                    if let Ok(mut g) = g.lock() {
                        g.push(Received { headers, body });
                    }
                    if hang_ms > 0 {
                        std::thread::sleep(Duration::from_millis(hang_ms));
                    }
                    let failing = f
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                        .is_ok();
                    let status = if failing {
                        "500 Internal Server Error"
                    } else {
                        "200 OK"
                    };
                    let _ = write!(
                        stream,
                        "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    );
                });
            }
        });
        Receiver { url, got, fail }
    }

    fn received(&self) -> Vec<Received> {
        self.got.lock().map(|g| g.clone()).unwrap_or_default()
    }

    /// Waits (up to 10 s) for a request matching `pred`.
    async fn wait_for(&self, what: &str, pred: impl Fn(&Received) -> bool) -> Received {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(r) = self.received().into_iter().find(|r| pred(r)) {
                return r;
            }
            assert!(
                Instant::now() < deadline,
                "no {what} within 10 s; got {:?}",
                self.received()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn verify(secret: &str, r: &Received) {
    let sig = r.header("x-ghost-signature").expect("signed");
    let (mac_part, ts_part) = sig.split_once(", t=").expect("sha256=…, t=…");
    let hex = mac_part.strip_prefix("sha256=").expect("sha256=");
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(r.body.as_bytes());
    mac.update(ts_part.as_bytes());
    let want: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(hex, want, "the signature checks out");
}

#[tokio::test]
async fn webhooks_are_signed_retried_and_never_block_publishing() {
    let dir = TempDir::new("webhooks");
    // The receivers listen on loopback, so private targets must be allowed.
    let s = Server::start_with_env(
        &dir.0,
        &[
            ("MASTHEAD_WEBHOOK_RETRY_MS", "150"),
            ("MASTHEAD_ALLOW_PRIVATE_WEBHOOKS", "true"),
        ],
    );
    let good = Receiver::start(0, 0);
    let flaky = Receiver::start(2, 0);
    let slow = Receiver::start(0, 15_000);
    let (cookie, csrf) = signed_in(&s, "admin@courier.example", "administrator").await;
    let desk = |path: &'static str, form: Vec<(&'static str, String)>| {
        let mut form = form;
        form.push(("csrf", csrf.clone()));
        client()
            .post(s.url(path))
            .header(header::COOKIE, &cookie)
            .form(&form)
            .send()
    };
    for (event, url, name) in [
        ("post.published", &good.url, "good"),
        ("post.published", &flaky.url, "flaky"),
        ("post.published", &slow.url, "slow"),
        ("post.updated", &good.url, "good-updates"),
        ("member.added", &good.url, "good-members"),
        ("member.deleted", &good.url, "good-deleted"),
    ] {
        let res = desk(
            "/admin/integrations/webhooks",
            vec![
                ("event", event.into()),
                ("target_url", url.clone()),
                ("name", name.into()),
            ],
        )
        .await
        .expect("add");
        assert_eq!(res.status().as_u16(), 200, "{event}");
    }
    let res = desk(
        "/admin/integrations/webhooks",
        vec![
            ("event", "post.deleted".into()),
            ("target_url", good.url.clone()),
        ],
    )
    .await
    .expect("bad");
    assert_eq!(res.status().as_u16(), 422);
    let res = desk(
        "/admin/integrations/webhooks",
        vec![
            ("event", "member.added".into()),
            ("target_url", "ftp://example.org/x".into()),
        ],
    )
    .await
    .expect("bad");
    assert_eq!(res.status().as_u16(), 422);
    let page = client()
        .get(s.url("/admin/integrations"))
        .header(header::COOKIE, &cookie)
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    let secret_of = |name: &str| -> String {
        let row = page
            .split("<tr data-webhook-id=")
            .skip(1)
            .find(|r| r.contains(&format!("<td>{name}</td>")))
            .unwrap_or_else(|| panic!("row {name}"));
        row.split("readonly value=\"")
            .nth(1)
            .and_then(|x| x.split('"').next())
            .expect("secret")
            .to_owned()
    };

    // Publishing answers at once, even with a receiver that hangs.
    let res = desk(
        "/admin/posts",
        vec![
            ("kind", "brief".into()),
            ("title", "Lock gates reopen after repairs".into()),
        ],
    )
    .await
    .expect("create");
    let edit = res.headers()[header::LOCATION]
        .to_str()
        .expect("loc")
        .to_owned();
    let html = client()
        .get(s.url(&edit))
        .header(header::COOKIE, &cookie)
        .send()
        .await
        .expect("edit")
        .text()
        .await
        .expect("html");
    let post_path = edit.trim_end_matches("/edit").to_owned();
    let form = |version: String, body: &'static str| {
        vec![
            ("version", version),
            ("title", "Lock gates reopen after repairs".to_owned()),
            ("slug", "lock-gates-reopen".to_owned()),
            ("authors", field(&html, "authors")),
            ("body", body.to_owned()),
            ("action", "publish".to_owned()),
        ]
    };
    let started = Instant::now();
    let res = client()
        .post(s.url(&post_path))
        .header(header::COOKIE, &cookie)
        .form(&{
            let mut f = form(field(&html, "version"), "Boats can pass again from noon.");
            f.push(("csrf", csrf.clone()));
            f
        })
        .send()
        .await
        .expect("publish");
    assert_eq!(res.status().as_u16(), 200);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "publishing waited {:?} for a receiver",
        started.elapsed()
    );
    let published = res.text().await.expect("html");

    let r = good
        .wait_for("post.published", |r| {
            r.header("x-masthead-event") == Some("post.published")
        })
        .await;
    verify(&secret_of("good"), &r);
    let body = r.json();
    assert_eq!(
        body["post"]["current"]["title"],
        "Lock gates reopen after repairs"
    );
    assert_eq!(body["post"]["current"]["status"], "published");
    assert_eq!(r.header("content-type"), Some("application/json"));

    // The flaky receiver fails twice, then gets it; the log says so.
    let third = flaky
        .wait_for("the third attempt", |_| flaky.received().len() >= 3)
        .await;
    verify(&secret_of("flaky"), &third);
    assert_eq!(flaky.fail.load(Ordering::SeqCst), 0);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = client()
            .get(s.url("/admin/integrations"))
            .header(header::COOKIE, &cookie)
            .send()
            .await
            .expect("log")
            .text()
            .await
            .expect("html");
        let flaky_row = log
            .split("<tr data-delivery-id=")
            .skip(1)
            .find(|r| r.contains("<td>flaky</td>"))
            .unwrap_or("")
            .to_owned();
        if flaky_row.contains("data-status=\"delivered\"") {
            assert!(
                flaky_row.contains("<td>3</td>"),
                "three attempts: {flaky_row}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "flaky delivery not recorded: {flaky_row}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        slow.received().len(),
        1,
        "the slow receiver was called once"
    );

    // An edit of a published story, and a write by the CLI, are updates.
    let version = field(&published, "version");
    let res = client()
        .post(s.url(&post_path))
        .header(header::COOKIE, &cookie)
        .form(&{
            let mut f = form(
                version,
                "Boats can pass again from noon. Tolls are waived this week.",
            );
            f.retain(|(k, _)| *k != "action");
            f.push(("action", "save".to_owned()));
            f.push(("csrf", csrf.clone()));
            f
        })
        .send()
        .await
        .expect("save");
    assert_eq!(res.status().as_u16(), 200);
    let r = good
        .wait_for("post.updated", |r| {
            r.header("x-masthead-event") == Some("post.updated")
                && r.body.contains("Tolls are waived")
        })
        .await;
    verify(&secret_of("good-updates"), &r);
    let out = s.cli(&[
        "live",
        "add",
        "--post",
        "storm-eamon-live",
        "--title",
        "Harbour road reopens",
        "--body",
        "Police lifted the closure.",
    ]);
    assert!(out.status.success());
    good.wait_for("an update made by the CLI", |r| {
        r.header("x-masthead-event") == Some("post.updated") && r.body.contains("storm-eamon-live")
    })
    .await;

    // A confirmed sign-up is member.added (a pending one is nothing yet).
    let member = join_and_confirm(&s, "hooked.reader@example.com").await;
    let r = good
        .wait_for("member.added", |r| {
            r.header("x-masthead-event") == Some("member.added")
        })
        .await;
    verify(&secret_of("good-members"), &r);
    assert_eq!(
        r.json()["member"]["current"]["email"],
        "hooked.reader@example.com"
    );
    let id = r.json()["member"]["current"]["id"].clone();

    // A member deleting their account is member.deleted, with the id only.
    let account = client()
        .get(s.url("/account/"))
        .header(header::COOKIE, &member)
        .send()
        .await
        .expect("account")
        .text()
        .await
        .expect("html");
    let csrf = account
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|x| x.split('"').next())
        .expect("csrf")
        .to_owned();
    let res = client()
        .post(s.url("/account/delete"))
        .header(header::COOKIE, &member)
        .form(&[("csrf", csrf.as_str()), ("confirm", "yes")])
        .send()
        .await
        .expect("delete");
    assert_eq!(res.status().as_u16(), 200);
    let r = good
        .wait_for("member.deleted", |r| {
            r.header("x-masthead-event") == Some("member.deleted")
        })
        .await;
    verify(&secret_of("good-deleted"), &r);
    assert_eq!(r.json()["member"]["previous"]["id"], id, "{}", r.body);
    assert!(
        !r.body.contains("hooked.reader"),
        "no personal data: {}",
        r.body
    );
}

/// The delivery log's rows as (hook name, status, attempts, result cell).
async fn delivery_log(s: &Server, cookie: &str) -> Vec<(String, String, u32, String)> {
    let html = client()
        .get(s.url("/admin/integrations"))
        .header(header::COOKIE, cookie)
        .send()
        .await
        .expect("log")
        .text()
        .await
        .expect("html");
    html.split("<tr data-delivery-id=")
        .skip(1)
        .map(|row| {
            let row = row.split("</tr>").next().unwrap_or("");
            let status = row
                .split("data-status=\"")
                .nth(1)
                .and_then(|x| x.split('"').next())
                .unwrap_or("")
                .to_owned();
            let cells: Vec<String> = row
                .split("<td>")
                .skip(1)
                .map(|c| c.split("</td>").next().unwrap_or("").trim().to_owned())
                .collect();
            let cell = |i: usize| cells.get(i).cloned().unwrap_or_default();
            (cell(1), status, cell(4).parse().unwrap_or(0), cell(5))
        })
        .collect()
}

#[tokio::test]
async fn webhooks_never_reach_private_addresses_and_the_log_does_not_tell_why() {
    let dir = TempDir::new("webhooks-private");
    let listening = Receiver::start(0, 0);
    let port = listening
        .url
        .trim_start_matches("http://127.0.0.1:")
        .trim_end_matches("/hook")
        .to_owned();
    // A port where nothing listens.
    let closed = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let targets: Vec<(&str, String)> = vec![
        ("listening-ip", format!("http://127.0.0.1:{port}/hook")),
        ("closed-ip", format!("http://127.0.0.1:{closed}/hook")),
        ("listening-name", format!("http://localhost:{port}/hook")),
        ("closed-name", format!("http://localhost:{closed}/hook")),
        (
            "metadata",
            "http://169.254.169.254/latest/meta-data/".to_owned(),
        ),
        ("private", "http://10.255.255.1/hook".to_owned()),
        ("mapped", format!("http://[::ffff:127.0.0.1]:{port}/hook")),
    ];

    // An operator once allowed private targets, and webhooks were added…
    let mut s = Server::start_with_env(
        &dir.0,
        &[
            ("MASTHEAD_WEBHOOK_RETRY_MS", "100"),
            ("MASTHEAD_ALLOW_PRIVATE_WEBHOOKS", "true"),
        ],
    );
    let (cookie, csrf) = signed_in(&s, "admin@courier.example", "administrator").await;
    let add = |s: &Server, name: &str, url: &str| {
        client()
            .post(s.url("/admin/integrations/webhooks"))
            .header(header::COOKIE, &cookie)
            .form(&[
                ("event", "member.added"),
                ("target_url", url),
                ("name", name),
                ("csrf", csrf.as_str()),
            ])
            .send()
    };
    for (name, url) in &targets {
        let res = add(&s, name, url).await.expect("add");
        assert_eq!(res.status().as_u16(), 200, "{name}");
    }
    assert!(s.terminate().success());

    // …then the server restarted without the allowance.
    let s = Server::start_with_env(&dir.0, &[("MASTHEAD_WEBHOOK_RETRY_MS", "100")]);
    // New private targets are refused with a reason when they are added.
    for (name, url) in &targets {
        let res = add(&s, name, url).await.expect("add");
        assert_eq!(res.status().as_u16(), 422, "{name}");
        let html = res.text().await.expect("html");
        assert!(
            html.contains("private or internal network")
                && html.contains("--allow-private-webhooks"),
            "{name}: {html}"
        );
    }
    // Existing ones are never delivered.
    join_and_confirm(&s, "curious.reader@example.com").await;
    let deadline = Instant::now() + Duration::from_secs(15);
    let log = loop {
        let log = delivery_log(&s, &cookie).await;
        // Tried twice, and not being tried again at this very moment (a
        // row is "sending" while a worker holds it).
        let tried = |name: &str| {
            log.iter()
                .any(|(hook, status, n, _)| hook == name && *n >= 2 && status != "sending")
        };
        if targets.iter().all(|(name, _)| tried(name)) {
            break log;
        }
        assert!(
            Instant::now() < deadline,
            "not every target was tried twice within 15 s: {log:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        listening.received().is_empty(),
        "a private receiver was reached: {:?}",
        listening.received()
    );
    // Every row says the same thing, whether something listens there or not.
    for (name, _) in &targets {
        let row = log
            .iter()
            .find(|(hook, ..)| hook == name)
            .unwrap_or_else(|| panic!("a row for {name}"));
        assert_eq!(
            row.1, "pending",
            "{name} is retried like any failure: {row:?}"
        );
        assert_eq!(row.3, "delivery failed", "{name}: {row:?}");
    }
}
