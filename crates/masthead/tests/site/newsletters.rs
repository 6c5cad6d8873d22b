//! Newsletters that are sent (issue 10, items 5, 6 and 10) through the real
//! server and a real SMTP server (aiosmtpd): the desk's preview, test and
//! send; both parts and the RFC 8058 headers as received; the one-click
//! unsubscribe posted as a mail client posts it (no cookie, no CSRF token);
//! forged tokens; a permanent refusal making an address bouncing and later
//! sends skipping it; one send per post and newsletter; the Admin API's
//! `?newsletter=` on publish. The HTML part is checked by html5lib in
//! strict mode (tests/smtp/check_email.py).

use super::feeds::publish_post;
use super::permissions::admin_token;
use super::*;
use serde_json::json;

const FROM: &str = "The Aldren Courier <news@courier.example>";
const BOUNCING: &str = "gone@reader.example";

fn start_with_mail(dir: &Path, smtp: &SmtpSink) -> Server {
    let url = format!("smtp://127.0.0.1:{}", smtp.port);
    Server::start_with_env(
        dir,
        &[
            ("MASTHEAD_SMTP_URL", url.as_str()),
            ("MASTHEAD_MAIL_FROM", FROM),
        ],
    )
}

/// The message as a mail client shows it (quoted-printable undone enough
/// to read links).
fn readable(raw: &str) -> String {
    raw.replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=")
}

/// A header's value, unfolded.
fn header_of(raw: &str, name: &str) -> Option<String> {
    let head = raw.split("\r\n\r\n").next().unwrap_or(raw);
    let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
    unfolded
        .lines()
        .find(|l| {
            l.to_ascii_lowercase()
                .starts_with(&format!("{}:", name.to_ascii_lowercase()))
        })
        .map(|l| l[name.len() + 1..].trim().to_owned())
}

/// Every message the sink holds, by recipient.
fn by_recipient(smtp: &SmtpSink) -> Vec<(String, String)> {
    (1..=smtp.count())
        .map(|n| {
            let m = smtp.message(n);
            let to = m
                .lines()
                .next()
                .and_then(|l| l.strip_prefix("RCPT-TO: "))
                .unwrap_or("")
                .to_owned();
            (to, m)
        })
        .collect()
}

fn html5lib_check(path: &Path) -> String {
    let python = std::env::var("MASTHEAD_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/smtp/check_email.py"
    );
    let out = Command::new(&python)
        .arg(script)
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
    .trim()
    .to_owned()
}

/// Members added and subscribed to the default newsletter; their ids.
async fn subscribed_members(dir: &Path, addresses: &[&str]) -> (i64, Vec<i64>) {
    let store = open_store(dir).await;
    let newsletter = store.newsletters().await.expect("newsletters")[0].id;
    let mut ids = Vec::new();
    for a in addresses {
        let id = store
            .add_member(
                masthead_domain::Email::parse(a).expect("email"),
                String::new(),
                masthead_store::now_ms(),
            )
            .await
            .expect("member");
        store
            .set_member_newsletters(id, vec![newsletter])
            .await
            .expect("subscribe");
        ids.push(id);
    }
    (newsletter, ids)
}

/// Waits until the send's page says it finished; the page.
async fn finished(s: &Server, cookie: &str, send_path: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let html = client()
            .get(s.url(send_path))
            .header(header::COOKIE, cookie)
            .send()
            .await
            .expect("send page")
            .text()
            .await
            .expect("html");
        if html.contains("<strong>Finished.</strong>") {
            return html;
        }
        assert!(Instant::now() < deadline, "the send did not finish: {html}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn figure(html: &str, name: &str) -> u64 {
    html.split(&format!("data-figure=\"{name}\">"))
        .nth(1)
        .and_then(|r| r.split('<').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no figure {name}"))
}

async fn send_form(
    s: &Server,
    cookie: &str,
    csrf: &str,
    post: i64,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let mut form = vec![("csrf", csrf)];
    form.extend_from_slice(fields);
    client()
        .post(s.url(&format!("/admin/posts/{post}/send")))
        .header(header::COOKIE, cookie)
        .form(&form)
        .send()
        .await
        .expect("send form")
}

#[tokio::test]
async fn a_newsletter_arrives_with_both_parts_and_unsubscribes_in_one_click() {
    let smtp = SmtpSink::start_refusing(&[BOUNCING]);
    let dir = TempDir::new("newsletters");
    let s = start_with_mail(&dir.0, &smtp);
    let (cookie, csrf) = signed_in(&s, "sender-ed@courier.example", "editor").await;
    let (post, _) = publish_post(
        &s,
        &cookie,
        &csrf,
        "article",
        "Harbour wall & the tide",
        &[
            ("dek", "The board decided."),
            ("slug", "harbour-wall"),
            ("body", "The wall is **finished**.\n\nRead [the report](/about/) and the [council page](https://council.example/wall).\n\n- first\n- second"),
        ],
    )
    .await;
    let readers = [
        "ann@reader.example",
        "bo@reader.example",
        "cy@reader.example",
        BOUNCING,
    ];
    let (newsletter, ids) = subscribed_members(&dir.0, &readers).await;
    let nl = newsletter.to_string();

    // A contributor may not send; the editor sees the page.
    let (c_cookie, c_csrf) = signed_in(&s, "sender-contrib@courier.example", "contributor").await;
    let res = send_form(
        &s,
        &c_cookie,
        &c_csrf,
        post,
        &[("action", "send"), ("newsletter", &nl), ("segment", "all")],
    )
    .await;
    assert_eq!(res.status().as_u16(), 403);
    let page = client()
        .get(s.url(&format!("/admin/posts/{post}/send")))
        .header(header::COOKIE, &cookie)
        .send()
        .await
        .expect("compose")
        .text()
        .await
        .expect("html");
    assert!(
        page.contains("Send only") && page.contains("Send a test to me"),
        "{page}"
    );

    // The preview is the e-mail as sent, and a real HTML5 parser finds no error.
    let preview = client()
        .get(s.url(&format!("/admin/posts/{post}/email?newsletter={nl}")))
        .header(header::COOKIE, &cookie)
        .send()
        .await
        .expect("preview")
        .text()
        .await
        .expect("html");
    assert!(preview.contains("Harbour wall &amp; the tide") && preview.contains("View in browser"));

    // A test goes to the signed-in editor only.
    let res = send_form(
        &s,
        &cookie,
        &csrf,
        post,
        &[("action", "test"), ("newsletter", &nl)],
    )
    .await;
    assert_eq!(res.status().as_u16(), 200);
    assert!(
        res.text()
            .await
            .expect("body")
            .contains("A test was sent to sender-ed@courier.example")
    );
    let test = smtp.message(1);
    assert!(
        test.starts_with("RCPT-TO: sender-ed@courier.example"),
        "{test}"
    );
    assert!(
        header_of(&test, "Subject")
            .expect("subject")
            .starts_with("[Test]")
    );

    // The send: every subscriber once, the refused address bouncing.
    let res = send_form(
        &s,
        &cookie,
        &csrf,
        post,
        &[("action", "send"), ("newsletter", &nl), ("segment", "all")],
    )
    .await;
    assert_eq!(res.status().as_u16(), 303);
    let send_path = res.headers()[header::LOCATION]
        .to_str()
        .expect("location")
        .to_owned();
    assert!(send_path.starts_with("/admin/sends/"), "{send_path}");
    let html = finished(&s, &cookie, &send_path).await;
    assert_eq!(figure(&html, "recipients"), 4);
    assert_eq!(figure(&html, "sent"), 3);
    assert_eq!(figure(&html, "failed"), 1);
    assert!(html.contains("550"), "the relay's refusal is shown: {html}");
    // Each member's page in the desk lists what they were sent.
    let (a_cookie, _) = signed_in(&s, "sender-admin@courier.example", "administrator").await;
    for (id, outcome) in [(ids[0], "sent "), (ids[3], "failed")] {
        let page = client()
            .get(s.url(&format!("/admin/members/{id}")))
            .header(header::COOKIE, &a_cookie)
            .send()
            .await
            .expect("member page")
            .text()
            .await
            .expect("html");
        let history = page
            .split("id=\"emails-received\"")
            .nth(1)
            .expect("the e-mails received");
        assert!(
            history.contains("Harbour wall") && history.contains(outcome),
            "member {id}: {history}"
        );
    }
    let received = by_recipient(&smtp);
    assert_eq!(received.len(), 4, "the test and three members");
    let mut to: Vec<&str> = received[1..].iter().map(|(t, _)| t.as_str()).collect();
    to.sort_unstable();
    assert_eq!(
        to,
        [
            "ann@reader.example",
            "bo@reader.example",
            "cy@reader.example"
        ]
    );

    // As received: both parts, the one-click headers, the sender's name.
    let (_, raw) = received
        .iter()
        .find(|(t, _)| t == "ann@reader.example")
        .expect("ann's");
    let path = dir.0.join("ann.eml");
    std::fs::write(&path, raw).expect("write");
    assert_eq!(html5lib_check(&path), "ok");
    let m = readable(raw);
    assert!(m.contains("Content-Type: text/plain") && m.contains("Content-Type: text/html"));
    assert_eq!(
        header_of(raw, "List-Unsubscribe-Post").as_deref(),
        Some("List-Unsubscribe=One-Click")
    );
    let list = header_of(raw, "List-Unsubscribe").expect("List-Unsubscribe");
    let https = list
        .split(['<', '>'])
        .find(|p| p.starts_with("http"))
        .expect("an https link")
        .to_owned();
    assert!(
        https.starts_with(&format!("{}/unsubscribe/?t=", s.base)),
        "{list}"
    );
    assert!(
        list.contains("<mailto:news@courier.example?subject=unsubscribe-"),
        "{list}"
    );
    assert!(
        header_of(raw, "From")
            .expect("from")
            .contains("news@courier.example")
    );
    assert!(m.contains(&https), "the visible link is the header's");
    assert!(
        m.contains("the report (") && m.contains("/about/)"),
        "links in the text part: {m}"
    );

    // A GET shows a button and changes nothing (link scanners fetch links).
    let store = open_store(&dir.0).await;
    let (status, headers, page) = get(&https).await;
    assert_eq!(status, 200);
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    assert!(
        page.contains("name=\"List-Unsubscribe\" value=\"One-Click\""),
        "{page}"
    );
    assert_eq!(store.member_newsletters(ids[0]).await.expect("nl").len(), 1);

    // A forged or altered token: 400, nothing changes.
    let token = https.split("t=").nth(1).expect("token").to_owned();
    let sig = token.rsplit('.').next().expect("sig");
    for forged in [
        format!("{}.{newsletter}.{sig}", ids[1]),
        format!("{}.{newsletter}.{}", ids[0], "0".repeat(sig.len())),
        "nonsense".to_owned(),
    ] {
        let url = s.url(&format!("/unsubscribe/?t={forged}"));
        assert_eq!(get(&url).await.0, 400, "{forged}");
        let res = reqwest::Client::new()
            .post(&url)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body("List-Unsubscribe=One-Click")
            .send()
            .await
            .expect("forged post");
        assert_eq!(res.status().as_u16(), 400);
    }
    assert_eq!(store.member_newsletters(ids[1]).await.expect("nl").len(), 1);

    // The one-click POST as a mail client sends it: no cookie, no CSRF
    // token, from elsewhere. Twice is fine.
    for _ in 0..2 {
        let res = reqwest::Client::new()
            .post(&https)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header("Sec-Fetch-Site", "cross-site")
            .header(header::ORIGIN, "https://mail.example")
            .body("List-Unsubscribe=One-Click")
            .send()
            .await
            .expect("one-click");
        assert_eq!(res.status().as_u16(), 200);
        assert!(
            res.text()
                .await
                .expect("body")
                .contains("You are unsubscribed")
        );
    }
    assert!(
        store
            .member_newsletters(ids[0])
            .await
            .expect("nl")
            .is_empty()
    );
    assert_eq!(store.member_newsletters(ids[1]).await.expect("nl").len(), 1);
    let html = finished(&s, &cookie, &send_path).await;
    assert_eq!(figure(&html, "unsubscribed"), 1);

    // Once per post and newsletter.
    let res = send_form(
        &s,
        &cookie,
        &csrf,
        post,
        &[("action", "send"), ("newsletter", &nl), ("segment", "all")],
    )
    .await;
    assert_eq!(res.status().as_u16(), 409);

    // The next send, published through the Admin API as Ghost does it,
    // skips the unsubscribed and the bouncing addresses.
    let key = String::from_utf8(s.cli(&["key", "create", "admin", "--name", "news"]).stdout)
        .expect("utf-8")
        .trim()
        .to_owned();
    let auth = format!("Ghost {}", admin_token(&key));
    let res = client()
        .post(s.url("/ghost/api/admin/posts/?newsletter=nobody"))
        .header(header::AUTHORIZATION, &auth)
        .json(&json!({"posts": [{"title": "Not sent", "status": "published"}]}))
        .send()
        .await
        .expect("bad newsletter");
    assert_eq!(
        res.status().as_u16(),
        404,
        "an unknown newsletter is refused before saving"
    );
    let res = client()
        .post(s.url("/ghost/api/admin/posts/?source=html&newsletter=default-newsletter&email_segment=status:free"))
        .header(header::AUTHORIZATION, &auth)
        .json(&json!({"posts": [{"title": "Second edition", "status": "published", "html": "<p>Again.</p>"}]}))
        .send()
        .await
        .expect("api publish");
    let status = res.status().as_u16();
    assert_eq!(status, 201, "{}", res.text().await.expect("body"));
    let deadline = Instant::now() + Duration::from_secs(30);
    while smtp.count() < 6 {
        assert!(Instant::now() < deadline, "the second send did not arrive");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let received = by_recipient(&smtp);
    let mut second: Vec<&str> = received[4..].iter().map(|(t, _)| t.as_str()).collect();
    second.sort_unstable();
    assert_eq!(
        second,
        ["bo@reader.example", "cy@reader.example"],
        "no unsubscribed, no bouncing"
    );
    let sends = client()
        .get(s.url("/admin/sends"))
        .header(header::COOKIE, &cookie)
        .send()
        .await
        .expect("sends")
        .text()
        .await
        .expect("html");
    assert!(
        sends.contains("Second edition") && sends.contains("Harbour wall"),
        "{sends}"
    );
}

/// A temporary refusal (4xx) is retried after the retry delay and then
/// delivered; the desk shows the failed try.
#[tokio::test]
async fn a_temporary_refusal_is_retried_then_delivered() {
    let smtp = SmtpSink::start_refusing(&["~later@reader.example"]);
    let dir = TempDir::new("newsletters-retry");
    let url = format!("smtp://127.0.0.1:{}", smtp.port);
    let s = Server::start_with_env(
        &dir.0,
        &[
            ("MASTHEAD_SMTP_URL", url.as_str()),
            ("MASTHEAD_MAIL_FROM", FROM),
            ("MASTHEAD_MAIL_RETRY_MS", "300"),
        ],
    );
    let (cookie, csrf) = signed_in(&s, "retry-ed@courier.example", "editor").await;
    let (newsletter, _) =
        subscribed_members(&dir.0, &["later@reader.example", "now@reader.example"]).await;
    let nl = newsletter.to_string();
    // "Publish and send" from the editor.
    let (post, html) = publish_post(
        &s,
        &cookie,
        &csrf,
        "article",
        "Greylisted",
        &[
            ("slug", "greylisted"),
            ("newsletter", &nl),
            ("email_segment", "all"),
        ],
    )
    .await;
    assert!(html.contains("Being sent to 2 members"), "{html}");
    let store = open_store(&dir.0).await;
    let sends = store.sends(Some(post), 10).await.expect("sends");
    assert_eq!(sends.len(), 1);
    let send_path = format!("/admin/sends/{}", sends[0].id);
    let html = finished(&s, &cookie, &send_path).await;
    assert_eq!(
        (figure(&html, "sent"), figure(&html, "failed")),
        (2, 0),
        "{html}"
    );
    assert!(
        html.contains("<td>later@reader.example</td><td>sent</td><td>1</td>"),
        "one failed try shown: {html}"
    );
    let mut to: Vec<String> = by_recipient(&smtp).into_iter().map(|(t, _)| t).collect();
    to.sort_unstable();
    assert_eq!(
        to,
        ["later@reader.example", "now@reader.example"],
        "each once"
    );
}

#[tokio::test]
async fn a_story_for_paying_members_reaches_the_others_as_its_free_part() {
    let smtp = SmtpSink::start();
    let dir = TempDir::new("newsletters-paid");
    let s = start_with_mail(&dir.0, &smtp);
    let (cookie, csrf) = signed_in(&s, "paid-ed@courier.example", "editor").await;
    let (post, _) = publish_post(
        &s,
        &cookie,
        &csrf,
        "article",
        "The port's ledger",
        &[
            ("slug", "port-ledger"),
            ("visibility", "paid"),
            (
                "body",
                "What the ledger shows, in short.\n\n<!--members-only-->\n\nThe figures line by line, for paying readers.",
            ),
        ],
    )
    .await;
    let (newsletter, ids) =
        subscribed_members(&dir.0, &["free@reader.example", "paying@reader.example"]).await;
    // The second reader is comped to a paid tier: they read as paying.
    let store = open_store(&dir.0).await;
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
            benefits: Vec::new(),
        })
        .await
        .expect("tier");
    store
        .give_comp(ids[1], gold, None, None)
        .await
        .expect("store")
        .expect("comp");
    drop(store);

    let res = send_form(
        &s,
        &cookie,
        &csrf,
        post,
        &[
            ("action", "send"),
            ("newsletter", &newsletter.to_string()),
            ("segment", "all"),
        ],
    )
    .await;
    assert_eq!(res.status().as_u16(), 303);
    let send_path = res.headers()[header::LOCATION]
        .to_str()
        .expect("location")
        .to_owned();
    finished(&s, &cookie, &send_path).await;
    let got = by_recipient(&smtp);
    assert_eq!(got.len(), 2, "{got:?}");
    let mail_of = |to: &str| {
        readable(
            &got.iter()
                .find(|(r, _)| r == to)
                .unwrap_or_else(|| panic!("nothing for {to}"))
                .1,
        )
    };
    let free = mail_of("free@reader.example");
    assert!(free.contains("What the ledger shows"), "{free}");
    assert!(
        !free.contains("line by line"),
        "the paid part leaked: {free}"
    );
    assert!(
        free.contains("The rest of this story is for paying members"),
        "{free}"
    );
    assert!(free.contains("/port-ledger/"), "{free}");
    let paying = mail_of("paying@reader.example");
    assert!(paying.contains("The figures line by line"), "{paying}");
    assert!(
        !paying.contains("The rest of this story is for"),
        "{paying}"
    );
}
