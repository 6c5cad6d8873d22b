//! Members through the real server (issue 10): a confirmed sign-up whose
//! e-mail a real SMTP server (aiosmtpd) receives, sign-in by link and by
//! code, members-only reading with the page cache on, the account page,
//! Ghost's `send-magic-link`, and deleting an account.

use super::feeds::publish_post;
use super::*;

/// The teaser shows the first two paragraphs; the third is for members.
const MEMBERS_ONLY_BODY: &str = "The ferry timetable changes in spring.\n\n\
    The harbour board met on Tuesday.\n\n\
    Only members read that the harbour board voted seven to two.\n\n\
    The vote ends a decade of single sailings.";

/// A server whose mail goes to `smtp`.
fn start_with_mail(dir: &Path, smtp: &SmtpSink) -> Server {
    let url = format!("smtp://127.0.0.1:{}", smtp.port);
    Server::start_with_env(
        dir,
        &[
            ("MASTHEAD_SMTP_URL", url.as_str()),
            (
                "MASTHEAD_MAIL_FROM",
                "The Aldren Courier <members@courier.example>",
            ),
        ],
    )
}

/// The n-th message, with quoted-printable soft breaks undone and `=3D`
/// decoded, as a mail client shows it.
pub(super) fn mail(smtp: &SmtpSink, n: usize) -> String {
    smtp.message(n)
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=")
}

/// The sign-in link and the 6-digit code of a member e-mail.
pub(super) fn link_and_code(mail: &str) -> (String, String) {
    let link = mail
        .split(|c: char| c.is_whitespace() || c == '"' || c == '<' || c == '>')
        .find(|w| w.contains("/members/?token="))
        .expect("a link in the mail")
        .replace("&amp;", "&");
    let code = mail
        .split("asked for it: ")
        .nth(1)
        .map(|rest| rest.chars().take(6).collect::<String>())
        .filter(|c| c.len() == 6 && c.bytes().all(|b| b.is_ascii_digit()))
        .expect("a code in the mail");
    (link, code)
}

/// The member cookie a response sets (`name=value`).
pub(super) fn member_cookie(res: &reqwest::Response) -> String {
    let set = res
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("masthead_member="))
        .expect("a member cookie")
        .to_owned();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax"),
        "{set}"
    );
    set.split(';').next().expect("pair").to_owned()
}

fn field_value(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    html.split(&marker)
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_else(|| panic!("no {name} field"))
        .to_owned()
}

#[tokio::test]
async fn joining_confirms_by_mail_then_members_read_in_full_and_manage_their_account() {
    let smtp = SmtpSink::start();
    let dir = TempDir::new("members");
    let s = start_with_mail(&dir.0, &smtp);
    let (cookie, csrf) = signed_in(&s, "members-ed@courier.example", "editor").await;
    publish_post(
        &s,
        &cookie,
        &csrf,
        "article",
        "Harbour vote",
        &[
            ("dek", "The board decided."),
            ("slug", "harbour-vote"),
            ("body", MEMBERS_ONLY_BODY),
            ("visibility", "members"),
        ],
    )
    .await;
    let story = s.url("/harbour-vote/");
    let secret = "voted seven to two";
    let before = campaign_count(&s).await;
    let c = client();

    // Join: a page asking for the code, no address in any URL, not counted yet.
    let res = c
        .post(s.url("/join/"))
        .form(&[("email", "Reader.One@Example.com"), ("name", "Reader One")])
        .send()
        .await
        .expect("join");
    assert_eq!(res.status().as_u16(), 303);
    let check = res.headers()[header::LOCATION]
        .to_str()
        .expect("location")
        .to_owned();
    assert!(check.starts_with("/members/check/?ref="), "{check}");
    assert!(!check.to_lowercase().contains("example.com"));
    assert_eq!(
        campaign_count(&s).await,
        before,
        "counted only once confirmed"
    );
    let (status, headers, page) = get(&s.url(&check)).await;
    assert_eq!(status, 200);
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    assert!(page.contains("six-digit code"), "{page}");

    let m = mail(&smtp, 1);
    assert!(m.starts_with("RCPT-TO: Reader.One@Example.com"), "{m}");
    assert!(m.contains("members@courier.example"));
    assert!(m.contains("Content-Type: text/plain") && m.contains("Content-Type: text/html"));
    let (link, code) = link_and_code(&m);
    assert!(link.starts_with(&s.base), "{link}");

    // A wrong code: told so, nothing changes.
    let reference = check.split("ref=").nth(1).expect("ref").to_owned();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let res = c
        .post(s.url("/members/check/"))
        .form(&[("ref", reference.as_str()), ("code", wrong)])
        .send()
        .await
        .expect("wrong code");
    assert_eq!(res.status().as_u16(), 422);
    assert!(res.text().await.expect("body").contains("4 more times"));
    let res = c
        .post(s.url("/members/check/"))
        .form(&[("ref", reference.as_str()), ("code", "12ab")])
        .send()
        .await
        .expect("malformed code");
    assert_eq!(res.status().as_u16(), 422);
    assert_eq!(campaign_count(&s).await, before);

    // Anonymous readers get the teaser, from the cache too.
    for _ in 0..3 {
        let (status, headers, html) = get(&story).await;
        assert_eq!(status, 200);
        assert!(!html.contains(secret), "anonymous: teaser only");
        assert!(html.contains("The rest of this story is for members"));
        assert!(
            headers[header::VARY]
                .to_str()
                .expect("vary")
                .contains("Cookie")
        );
    }

    // The link confirms: a member, counted, signed in.
    let res = c.get(&link).send().await.expect("follow link");
    assert_eq!(res.status().as_u16(), 303);
    assert_eq!(res.headers()[header::LOCATION], "/account/?welcome=1");
    let member = member_cookie(&res);
    assert_eq!(campaign_count(&s).await, before + 1);
    // The link works once; the code of that request is spent with it.
    assert_eq!(
        c.get(&link).send().await.expect("again").status().as_u16(),
        410
    );
    let res = c
        .post(s.url("/members/check/"))
        .form(&[("ref", reference.as_str()), ("code", code.as_str())])
        .send()
        .await
        .expect("spent code");
    assert_eq!(res.status().as_u16(), 410);
    let as_member = |url: String| {
        let req = c.get(url).header(header::COOKIE, member.clone()).send();
        async move {
            let res = req.await.expect("member get");
            let headers = res.headers().clone();
            (
                res.status().as_u16(),
                headers,
                res.text().await.expect("body"),
            )
        }
    };
    let (status, _, account) = as_member(s.url("/account/?welcome=1")).await;
    assert_eq!(status, 200);
    assert!(account.contains("Reader.One@Example.com") && account.contains("Reader One"));
    assert!(account.contains("Your membership is confirmed"));

    // With the cache on, the member reads in full and nobody else does,
    // whichever audience asked first.
    for _ in 0..3 {
        let (status, headers, html) = as_member(story.clone()).await;
        assert_eq!(status, 200);
        assert!(html.contains(secret), "member: in full");
        assert!(!html.contains("The rest of this story is for members"));
        assert_eq!(headers[header::CACHE_CONTROL], "private, no-cache");
        let (_, headers, html) = get(&story).await;
        assert!(!html.contains(secret), "anonymous after a member: teaser");
        assert!(
            !headers[header::CACHE_CONTROL]
                .to_str()
                .expect("cc")
                .contains("private")
        );
    }
    let (_, headers, _) = as_member(story.clone()).await;
    assert_eq!(
        headers["x-cache"], "hit",
        "members have their own cached copy"
    );
    // A forged or unknown member cookie is anonymous.
    let (_, _, html) = {
        let res = c
            .get(&story)
            .header(
                header::COOKIE,
                format!("masthead_member={}", "ab".repeat(32)),
            )
            .send()
            .await
            .expect("forged");
        (0, (), res.text().await.expect("body"))
    };
    assert!(!html.contains(secret));

    // Account: name, newsletters, export.
    let account_csrf = field_value(&account, "csrf");
    let res = c
        .post(s.url("/account/name"))
        .header(header::COOKIE, &member)
        .form(&[("csrf", "wrong"), ("name", "Mallory")])
        .send()
        .await
        .expect("csrf");
    assert_eq!(
        res.status().as_u16(),
        403,
        "a form without the session's token"
    );
    let res = c
        .post(s.url("/account/name"))
        .header(header::COOKIE, &member)
        .form(&[("csrf", account_csrf.as_str()), ("name", "R. One")])
        .send()
        .await
        .expect("name");
    assert_eq!(res.status().as_u16(), 303);
    let res = c
        .post(s.url("/account/newsletters"))
        .header(header::COOKIE, &member)
        .form(&[("csrf", account_csrf.as_str())])
        .send()
        .await
        .expect("no newsletters");
    assert_eq!(res.status().as_u16(), 303);
    let (status, headers, data) = as_member(s.url("/account/data.json")).await;
    assert_eq!(status, 200);
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    let data: serde_json::Value = serde_json::from_str(&data).expect("json");
    assert_eq!(data["member"]["email"], "Reader.One@Example.com");
    assert_eq!(data["member"]["name"], "R. One");
    assert_eq!(data["newsletters"], serde_json::json!([]));

    // A new address applies only once confirmed there.
    let res = c
        .post(s.url("/account/email"))
        .header(header::COOKIE, &member)
        .form(&[("csrf", account_csrf.as_str()), ("email", "not an address")])
        .send()
        .await
        .expect("bad new address");
    assert_eq!(res.status().as_u16(), 422);
    let res = c
        .post(s.url("/account/email"))
        .header(header::COOKIE, &member)
        .form(&[
            ("csrf", account_csrf.as_str()),
            ("email", "reader.two@example.com"),
        ])
        .send()
        .await
        .expect("new address");
    assert_eq!(res.status().as_u16(), 303);
    let m = mail(&smtp, 2);
    assert!(m.starts_with("RCPT-TO: reader.two@example.com"), "{m}");
    let (_, _, account) = as_member(s.url("/account/")).await;
    assert!(
        account.contains("Reader.One@Example.com"),
        "unchanged before confirmation"
    );
    let (change, _) = link_and_code(&m);
    let res = c.get(&change).send().await.expect("confirm change");
    assert_eq!(res.status().as_u16(), 303);
    assert_eq!(res.headers()[header::LOCATION], "/account/?changed=1");
    let (_, _, account) = as_member(s.url("/account/")).await;
    assert!(
        account.contains("reader.two@example.com"),
        "changed once confirmed"
    );
    // Back to the first address, the same way, for what follows.
    let res = c
        .post(s.url("/account/email"))
        .header(header::COOKIE, &member)
        .form(&[
            ("csrf", account_csrf.as_str()),
            ("email", "Reader.One@Example.com"),
        ])
        .send()
        .await
        .expect("old address");
    assert_eq!(res.status().as_u16(), 303);
    let (back, _) = link_and_code(&mail(&smtp, 3));
    assert_eq!(
        c.get(&back).send().await.expect("back").status().as_u16(),
        303
    );

    // Sign out: the teaser again, and the old cookie is dead.
    let res = c
        .post(s.url("/account/signout"))
        .header(header::COOKIE, &member)
        .form(&[("csrf", account_csrf.as_str())])
        .send()
        .await
        .expect("sign out");
    assert_eq!(res.status().as_u16(), 303);
    let (_, _, html) = as_member(story.clone()).await;
    assert!(!html.contains(secret), "signed out: teaser");
    assert_eq!(as_member(s.url("/account/")).await.0, 303);

    // Sign in again with the code typed on the page that asked.
    let res = c
        .post(s.url("/signin/"))
        .form(&[("email", "reader.one@example.COM")])
        .send()
        .await
        .expect("sign in");
    assert_eq!(res.status().as_u16(), 303);
    let check = res.headers()[header::LOCATION]
        .to_str()
        .expect("location")
        .to_owned();
    let reference = check.split("ref=").nth(1).expect("ref").to_owned();
    let m = mail(&smtp, 4);
    assert!(m.contains("Sign in to"), "{m}");
    let (_, code) = link_and_code(&m);
    // Another page's reference with this code does not work.
    let res = c
        .post(s.url("/members/check/"))
        .form(&[("ref", "cd".repeat(32).as_str()), ("code", code.as_str())])
        .send()
        .await
        .expect("other ref");
    assert_eq!(res.status().as_u16(), 410);
    let res = c
        .post(s.url("/members/check/"))
        .form(&[("ref", reference.as_str()), ("code", code.as_str())])
        .send()
        .await
        .expect("code");
    assert_eq!(res.status().as_u16(), 303);
    let member = member_cookie(&res);
    let res = c
        .get(&story)
        .header(header::COOKIE, &member)
        .send()
        .await
        .expect("story");
    assert!(res.text().await.expect("body").contains(secret));
    assert_eq!(
        campaign_count(&s).await,
        before + 1,
        "signing in counts nobody"
    );

    // Joining again with a member's address says the same and mails a sign-in.
    let res = c
        .post(s.url("/join/"))
        .form(&[("email", "READER.ONE@example.com")])
        .send()
        .await
        .expect("join again");
    assert_eq!(res.status().as_u16(), 303);
    assert!(mail(&smtp, 5).contains("Sign in to"));
    // Signing in with an unknown address: same answer, no mail.
    let res = c
        .post(s.url("/signin/"))
        .form(&[("email", "stranger@example.com")])
        .send()
        .await
        .expect("stranger");
    assert_eq!(res.status().as_u16(), 303);

    // Delete: erased at once, counted out, signed out.
    let (_, _, account) = {
        let res = c
            .get(s.url("/account/"))
            .header(header::COOKIE, &member)
            .send()
            .await
            .expect("account");
        (0, (), res.text().await.expect("body"))
    };
    let account_csrf = field_value(&account, "csrf");
    let res = c
        .post(s.url("/account/delete"))
        .header(header::COOKIE, &member)
        .form(&[("csrf", account_csrf.as_str())])
        .send()
        .await
        .expect("unconfirmed delete");
    assert_eq!(res.status().as_u16(), 422, "the box must be ticked");
    let res = c
        .post(s.url("/account/delete"))
        .header(header::COOKIE, &member)
        .form(&[("csrf", account_csrf.as_str()), ("confirm", "yes")])
        .send()
        .await
        .expect("delete");
    assert_eq!(res.status().as_u16(), 200);
    let res = c
        .get(&story)
        .header(header::COOKIE, &member)
        .send()
        .await
        .expect("story");
    assert!(!res.text().await.expect("body").contains(secret));
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(campaign_count(&s).await, before);
    assert_eq!(smtp.count(), 5, "no mail for the unknown address");
}

#[tokio::test]
async fn ghost_send_magic_link_takes_ghost_json_and_refuses_bad_input() {
    let smtp = SmtpSink::start();
    let dir = TempDir::new("members-ghost");
    let s = start_with_mail(&dir.0, &smtp);
    let c = client();
    let send = |body: serde_json::Value| {
        c.post(s.url("/members/api/send-magic-link/"))
            .json(&body)
            .send()
    };
    let res = send(serde_json::json!({
        "email": "portal@example.org", "emailType": "signup", "name": "Portal Reader",
        "labels": ["from-portal"], "newsletters": [{"name": "The briefing"}]
    }))
    .await
    .expect("send");
    assert_eq!(res.status().as_u16(), 201);
    assert_eq!(res.text().await.expect("body"), "{}");
    let (link, _) = link_and_code(&mail(&smtp, 1));
    let before = campaign_count(&s).await;
    let res = c.get(&link).send().await.expect("confirm");
    assert_eq!(res.status().as_u16(), 303);
    assert_eq!(campaign_count(&s).await, before + 1);
    let member = member_cookie(&res);
    let res = c
        .get(s.url("/account/data.json"))
        .header(header::COOKIE, &member)
        .send()
        .await
        .expect("data");
    let data: serde_json::Value = res.json().await.expect("json");
    assert_eq!(data["member"]["name"], "Portal Reader");
    assert_eq!(data["newsletters"][0]["name"], "The briefing");
    for (body, why) in [
        (
            serde_json::json!({ "email": "not-an-address" }),
            "bad address",
        ),
        (
            serde_json::json!({ "email": "a@example.org", "emailType": "spam" }),
            "bad emailType",
        ),
        (
            serde_json::json!({ "email": "a@example.org", "newsletters": [{"name": "Nope"}] }),
            "unknown newsletter",
        ),
    ] {
        let res = send(body).await.expect("bad");
        assert_eq!(res.status().as_u16(), 400, "{why}");
        let v: serde_json::Value = res.json().await.expect("json");
        assert!(v["errors"][0]["message"].is_string(), "{why}: {v}");
    }
    // An unknown address asking to sign in: the same 201, and no mail.
    let res = send(serde_json::json!({ "email": "nobody@example.org", "emailType": "signin" }))
        .await
        .expect("signin");
    assert_eq!(res.status().as_u16(), 201);
    // One address is mailed at most five times an hour, whatever the sender.
    for i in 0..6 {
        let res = send(serde_json::json!({ "email": "Often@example.org", "emailType": "signup" }))
            .await
            .expect("often");
        let want = if i < 5 { 201 } else { 429 };
        assert_eq!(res.status().as_u16(), want, "request {i}");
        if want == 429 {
            assert!(res.headers().contains_key(header::RETRY_AFTER));
        }
    }
    // Bad links are refused with a message, changing nothing.
    for bad in [
        "/members/?token=zz",
        "/members/",
        &format!("/members/?token={}", "ef".repeat(32)),
    ] {
        let res = c.get(s.url(bad)).send().await.expect("bad link");
        assert_eq!(res.status().as_u16(), 410, "{bad}");
        assert!(res.text().await.expect("body").contains("no longer works"));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(smtp.count(), 6, "the confirmed sign-up, and five to Often@");
}

#[tokio::test]
async fn without_an_smtp_server_member_mail_goes_to_the_outbox() {
    let dir = TempDir::new("members-outbox");
    let s = Server::start(&dir.0);
    let res = client()
        .post(s.url("/join/"))
        .form(&[("email", "outbox@example.org")])
        .send()
        .await
        .expect("join");
    assert_eq!(res.status().as_u16(), 303);
    let outbox = dir.0.join("outbox");
    let deadline = Instant::now() + Duration::from_secs(10);
    let message = loop {
        let found = std::fs::read_dir(&outbox)
            .ok()
            .and_then(|d| {
                d.filter_map(Result::ok)
                    .find(|e| e.path().extension().is_some_and(|x| x == "eml"))
            })
            .map(|e| std::fs::read_to_string(e.path()).expect("read"));
        if let Some(m) = found {
            break m;
        }
        assert!(
            Instant::now() < deadline,
            "no message in {}",
            outbox.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(message.contains("To: outbox@example.org"), "{message}");
    assert!(message.contains("Confirm your membership"));

    // The join form offers the newsletters; unticking them all is a choice.
    let (_, _, form) = get(&s.url("/join/")).await;
    assert!(form.contains("name=\"newsletter\"") && form.contains("The briefing"));
    let c = client();
    let res = c
        .post(s.url("/join/"))
        .form(&[
            ("email", "no-letters@example.org"),
            ("newsletters_shown", "1"),
        ])
        .send()
        .await
        .expect("join without newsletters");
    assert_eq!(res.status().as_u16(), 303);
    let res = c
        .get(outbox_link(&s.data, "no-letters@example.org"))
        .send()
        .await
        .expect("confirm");
    let member = member_cookie(&res);
    let data: serde_json::Value = c
        .get(s.url("/account/data.json"))
        .header(header::COOKIE, &member)
        .send()
        .await
        .expect("data")
        .json()
        .await
        .expect("json");
    assert_eq!(data["newsletters"], serde_json::json!([]), "{data}");
}
