//! One trusted public address, request logs that keep secrets out, and the
//! security headers, through the real server. Forged requests are sent the
//! way a script sends them: raw HTTP/1.1 with whatever `Host` it likes.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};

use super::*;

/// What an attacker puts in every header a server might build links from.
const FORGED: &[(&str, &str)] = &[
    ("Host", "evil.example"),
    ("X-Forwarded-Host", "evil.example"),
    ("X-Forwarded-Proto", "https"),
    ("Forwarded", "host=evil.example;proto=https"),
];

/// One raw HTTP/1.1 request with exactly the given headers (no `Host` unless
/// given); returns the status and the whole response, head and body.
fn raw(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let addr = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let mut req = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if method == "POST" {
        req.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body);
    stream.write_all(req.as_bytes()).expect("send");
    let mut out = Vec::new();
    stream.read_to_end(&mut out).expect("read");
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {text}"));
    (status, text)
}

fn content_key(s: &Server) -> String {
    let out = s.cli(&["key", "create", "content", "--name", "public-url tests"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// `serve` on a fresh data directory with everything it prints collected
/// (standard output and error); returns once it says where it serves.
fn serve_capturing(
    data: &Path,
    args: &[&str],
    envs: &[(&str, &str)],
) -> (Server, Arc<Mutex<Vec<u8>>>) {
    let mut child = masthead(data)
        .args(["serve", "--addr", "127.0.0.1:0"])
        .args(args)
        .env_remove("MASTHEAD_PUBLIC_URL")
        .env("MASTHEAD_LOG", "warn")
        .envs(envs.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start masthead");
    let output = Arc::new(Mutex::new(Vec::new()));
    for stream in [
        Box::new(child.stdout.take().expect("stdout")) as Box<dyn Read + Send>,
        Box::new(child.stderr.take().expect("stderr")),
    ] {
        let sink = output.clone();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stream);
            let mut line = Vec::new();
            while lines.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
                sink.lock().expect("lock").extend_from_slice(&line);
                line.clear();
            }
        });
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let base = loop {
        let text = String::from_utf8_lossy(&output.lock().expect("lock")).into_owned();
        if let Some(addr) = text
            .lines()
            .find_map(|l| l.split(" at http://").nth(1))
            .and_then(|rest| rest.split_whitespace().next())
        {
            break format!("http://{}", addr.trim_end_matches('/'));
        }
        if let Some(status) = child.try_wait().expect("wait") {
            panic!("server exited ({status}) before it was ready: {text}");
        }
        assert!(Instant::now() < deadline, "server not ready: {text}");
        std::thread::sleep(Duration::from_millis(50));
    };
    let server = Server {
        child,
        base,
        data: data.to_owned(),
    };
    (server, output)
}

#[tokio::test]
async fn a_forged_host_never_reaches_pages_feeds_or_the_api() {
    with_server("forged-host", |s| async move {
        let key = content_key(&s);
        let api = format!("/ghost/api/content/posts/?key={key}&limit=3");
        let paths = [
            "/tag/housing/",
            "/",
            "/tallow-flood-scheme-costs-rise/",
            "/rss/",
            "/sitemap.xml",
            "/robots.txt",
            api.as_str(),
        ];
        for path in paths {
            let (status, response) = raw(&s.base, "GET", path, FORGED, "");
            assert_eq!(status, 200, "{path}: {response}");
            assert!(
                !response.contains("evil.example"),
                "{path} reflects the forged host:\n{response}"
            );
            assert!(
                response.contains(&format!("{}/", s.base)),
                "{path} has absolute links on the public address"
            );
        }
        // Later readers get the cached copies: still the public address.
        for path in paths {
            let res = client().get(s.url(path)).send().await.expect("get");
            let cached = res.headers().get("x-cache").cloned();
            let body = res.text().await.expect("body");
            assert!(
                !body.contains("evil.example"),
                "{path} ({cached:?}): {body}"
            );
            assert!(body.contains(&format!("{}/", s.base)), "{path}");
        }
        let (_, _, home) = get(&s.url("/tag/housing/")).await;
        assert!(
            home.contains(&format!(
                "<link rel=\"canonical\" href=\"{}/tag/housing/\"",
                s.base
            )),
            "canonical link on the public address"
        );
    })
    .await;
}

#[tokio::test]
async fn a_reset_asked_for_with_a_forged_host_mails_a_link_on_the_public_address() {
    let smtp = SmtpSink::start();
    let dir = TempDir::new("forged-reset");
    let smtp_url = format!("smtp://127.0.0.1:{}", smtp.port);
    let s = Server::start_with_env(&dir.0, &[("MASTHEAD_SMTP_URL", smtp_url.as_str())]);
    let out = add_user(
        &s,
        "target@courier.example",
        "owner",
        "the owner's passphrase",
    );
    assert!(out.status.success());
    let (status, _) = raw(
        &s.base,
        "POST",
        "/admin/reset",
        FORGED,
        "email=target%40courier.example",
    );
    assert_eq!(status, 200);
    let mail = smtp.message(1).replace("=\r\n", "").replace("=\n", "");
    assert!(!mail.contains("evil.example"), "{mail}");
    let link = mail
        .split_whitespace()
        .find(|w| w.contains("/admin/reset/"))
        .expect("a link in the mail")
        .to_owned();
    assert!(
        link.starts_with(&format!("{}/admin/reset/", s.base)),
        "{link}"
    );
    assert_eq!(
        client()
            .get(&link)
            .send()
            .await
            .expect("form")
            .status()
            .as_u16(),
        200,
        "the mailed link works"
    );
}

#[test]
fn listening_on_a_public_address_needs_a_public_url() {
    let dir = TempDir::new("no-public-url");
    let run = |args: &[&str]| {
        let mut child = masthead(&dir.0)
            .arg("serve")
            .args(args)
            .env_remove("MASTHEAD_PUBLIC_URL")
            .env("MASTHEAD_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("serve {args:?} started instead of refusing");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut err = String::new();
        child
            .stderr
            .take()
            .expect("stderr")
            .read_to_string(&mut err)
            .expect("stderr");
        (status, err)
    };
    let (status, err) = run(&["--addr", "0.0.0.0:0"]);
    assert!(!status.success());
    assert!(
        err.contains("--public-url") && err.contains("MASTHEAD_PUBLIC_URL"),
        "{err}"
    );
    let (status, err) = run(&[
        "--addr",
        "127.0.0.1:0",
        "--public-url",
        "https://news.example/blog",
    ]);
    assert!(!status.success());
    assert!(err.contains("/blog"), "{err}");
    assert!(
        !dir.0.join("masthead.db").exists(),
        "refused before creating anything"
    );
}

#[tokio::test]
async fn a_set_public_url_is_in_every_link_and_turns_on_hsts() {
    let dir = TempDir::new("https-public-url");
    let (s, output) = serve_capturing(&dir.0, &["--public-url", "https://News.Example/"], &[]);
    let site = "https://news.example";
    let key = content_key(&s);
    for path in [
        "/",
        "/tag/housing/",
        "/tallow-flood-scheme-costs-rise/",
        "/rss/",
        "/sitemap.xml",
        "/robots.txt",
        &format!("/ghost/api/content/posts/?key={key}&limit=3"),
    ] {
        let (status, response) = raw(&s.base, "GET", path, FORGED, "");
        assert_eq!(status, 200, "{path}");
        assert!(!response.contains("evil.example"), "{path}");
        assert!(response.contains(&format!("{site}/")), "{path}: {response}");
        assert!(
            !response.contains(&s.base),
            "{path} prints the listen address"
        );
    }
    let (_, _, article) = get(&s.url("/tallow-flood-scheme-costs-rise/")).await;
    for needle in [
        "<link rel=\"canonical\" href=\"https://news.example/tallow-flood-scheme-costs-rise/\"",
        "content=\"https://news.example/tallow-flood-scheme-costs-rise/\"",
        "\"url\":\"https://news.example/tallow-flood-scheme-costs-rise/\"",
    ] {
        assert!(article.contains(needle), "article lacks {needle}");
    }
    // The owner's set-up link is on the public address too.
    let printed = String::from_utf8_lossy(&output.lock().expect("lock")).into_owned();
    assert!(
        printed.contains("https://news.example/admin/setup/"),
        "{printed}"
    );
    for path in ["/", "/", "/no-such-page/", "/healthz", "/robots.txt"] {
        let (_, headers, _) = get(&s.url(path)).await;
        assert_eq!(
            headers
                .get(header::STRICT_TRANSPORT_SECURITY)
                .map(|v| v.to_str().unwrap_or("")),
            Some("max-age=31536000; includeSubDomains"),
            "{path}"
        );
    }
}

/// The headers every response carries (HSTS only on an https site).
fn assert_security_headers(what: &str, h: &HeaderMap, content: bool) {
    let value = |name: &str| {
        h.get(name)
            .map(|v| v.to_str().unwrap_or("").to_owned())
            .unwrap_or_else(|| panic!("{what}: no {name} in {h:?}"))
    };
    assert_eq!(value("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(
        value("referrer-policy"),
        "strict-origin-when-cross-origin",
        "{what}"
    );
    let permissions = value("permissions-policy");
    for feature in [
        "camera=()",
        "microphone=()",
        "geolocation=()",
        "browsing-topics=()",
    ] {
        assert!(permissions.contains(feature), "{what}: {permissions}");
    }
    let csp = value("content-security-policy");
    assert!(csp.contains("frame-ancestors 'self'"), "{what}: {csp}");
    if content {
        assert!(csp.contains("sandbox"), "{what}: {csp}");
    }
    assert!(
        h.get("strict-transport-security").is_none(),
        "{what}: HSTS on an http site"
    );
}

#[tokio::test]
async fn every_kind_of_response_carries_the_security_headers() {
    with_server("security-headers", |s| async move {
        let c = client();
        let key = content_key(&s);
        let (_, _, home) = get(&s.url("/")).await;
        let css = home
            .split("href=\"/assets/site.")
            .nth(1)
            .and_then(|x| x.split('"').next())
            .map(|rest| format!("/assets/site.{rest}"))
            .expect("stylesheet");
        let (_, _, videos) = get(&s.url("/video/")).await;
        let poster = videos
            .split("\"/content/")
            .nth(1)
            .and_then(|x| x.split('"').next())
            .map(|rest| format!("/content/{rest}"))
            .expect("a demo image under /content/");
        let (_, _, live) = get(&s.url("/storm-eamon-live/")).await;
        let events = live
            .split("data-live-events=\"")
            .nth(1)
            .and_then(|x| x.split('"').next())
            .expect("live events")
            .to_owned();
        // An uploaded image, served under /media/.
        let (cookie, csrf) = signed_in(&s, "pictures@courier.example", "author").await;
        let mut png = std::io::Cursor::new(Vec::new());
        image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(64, 48, |x, y| {
            image::Rgb([x as u8 * 4, y as u8 * 5, 90])
        }))
        .write_to(&mut png, image::ImageFormat::Png)
        .expect("png");
        let form = reqwest::multipart::Form::new().text("csrf", csrf).part(
            "file",
            reqwest::multipart::Part::bytes(png.into_inner()).file_name("square.png"),
        );
        let uploaded: serde_json::Value = c
            .post(s.url("/admin/media"))
            .header(header::COOKIE, &cookie)
            .header(header::ACCEPT, "application/json")
            .multipart(form)
            .send()
            .await
            .expect("upload")
            .json()
            .await
            .expect("upload json");
        let media = uploaded["src"].as_str().expect("src").to_owned();
        assert!(media.starts_with("/media/"), "{media}");

        let api = format!("/ghost/api/content/posts/?key={key}&limit=2");
        for path in [
            "/",
            "/tallow-flood-scheme-costs-rise/",
            "/tag/housing/",
            "/rss/",
            "/sitemap.xml",
            "/robots.txt",
            "/no-such-page/",
            "/api/campaign",
            api.as_str(),
            "/ghost/api/content/posts/",
            css.as_str(),
            poster.as_str(),
            media.as_str(),
            "/healthz",
            "/admin/signin",
        ] {
            // Twice: rendered, then (where cacheable) from the page cache.
            for round in ["first", "second"] {
                let res = c.get(s.url(path)).send().await.expect("get");
                let what = format!(
                    "{path} ({round}, {}, x-cache {:?})",
                    res.status(),
                    res.headers().get("x-cache")
                );
                assert_security_headers(&what, res.headers(), path.starts_with("/content/"));
                // Revalidation answers too.
                if let Some(etag) = res.headers().get(header::ETAG).cloned() {
                    let res = c
                        .get(s.url(path))
                        .header(header::IF_NONE_MATCH, etag)
                        .send()
                        .await
                        .expect("conditional");
                    if res.status().as_u16() == 304 {
                        assert_security_headers(
                            &format!("{path} (304)"),
                            res.headers(),
                            path.starts_with("/content/"),
                        );
                    }
                }
            }
        }
        let res = c.get(s.url("/")).send().await.expect("hit");
        assert_eq!(res.headers()["x-cache"], "hit", "the home page was cached");
        assert_security_headers("/ (hit)", res.headers(), false);
        // The live stream: headers arrive before any event.
        let res = c.get(s.url(&events)).send().await.expect("events");
        assert_eq!(res.status().as_u16(), 200);
        assert_security_headers("live events", res.headers(), false);
        drop(res);
        // A refused cross-site form, and a desk page.
        let res = c
            .post(s.url("/join/"))
            .header(header::ORIGIN, "https://evil.example")
            .form(&[("email", "x@example.com")])
            .send()
            .await
            .expect("refused");
        assert_eq!(res.status().as_u16(), 403);
        assert_security_headers("cross-site refusal", res.headers(), false);
        let res = c
            .get(s.url("/admin/"))
            .header(header::COOKIE, &cookie)
            .send()
            .await
            .expect("desk");
        assert_security_headers("desk", res.headers(), false);
    })
    .await;
}

#[tokio::test]
async fn request_logs_print_route_templates_for_tokens_and_no_colour() {
    let dir = TempDir::new("logs");
    let (mut s, output) = serve_capturing(&dir.0, &[], &[("MASTHEAD_LOG", "info")]);
    let reset_token = "R3setT0kenFromAnEmailedLinkAAAAAAAAAAAAAAAA";
    let setup_token = "S3tupT0kenPrintedAtStartBBBBBBBBBBBBBBBBBBB";
    let query_secret = "QuerySecretCCCCCCCCCCCCCCCC";
    let c = client();
    for path in [
        format!("/admin/reset/{reset_token}"),
        format!("/admin/reset/{reset_token}?next={query_secret}"),
        format!("/admin/setup/{setup_token}"),
        format!("/tallow-flood-scheme-costs-rise/?t={query_secret}"),
        "/".to_owned(),
        "/".to_owned(),
    ] {
        c.get(s.url(&path)).send().await.expect("get");
    }
    c.post(s.url(&format!("/admin/reset/{reset_token}")))
        .form(&[("password", "a long enough password")])
        .send()
        .await
        .expect("post reset");
    c.post(s.url(&format!("/admin/setup/{setup_token}")))
        .form(&[
            ("name", "Someone"),
            ("email", "someone@courier.example"),
            ("password", "a long enough password"),
        ])
        .send()
        .await
        .expect("post setup");
    assert!(s.terminate().success());
    // Let the readers take the last lines.
    std::thread::sleep(Duration::from_millis(200));
    let bytes = output.lock().expect("lock").clone();
    let text = String::from_utf8_lossy(&bytes);
    for secret in [reset_token, setup_token, query_secret] {
        assert!(!text.contains(secret), "{secret} logged:\n{text}");
    }
    assert!(
        !bytes.contains(&0x1b),
        "colour codes in piped logs:\n{text}"
    );
    // The requests were logged, by template where a token was in the path.
    assert!(text.contains("path=/admin/reset/{token}"), "{text}");
    assert!(text.contains("path=/admin/setup/{token}"), "{text}");
    assert!(
        text.contains("path=/tallow-flood-scheme-costs-rise/}"),
        "{text}"
    );
    assert!(
        text.matches("path=/}").count() >= 2,
        "cache hits logged: {text}"
    );
}
