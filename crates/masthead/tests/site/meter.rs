//! The metered paywall (issue 11, item 6) through the real server: the
//! desk's setting, the signed `mh_meter` cookie a reader's client keeps,
//! the decision per request with both copies of a story in the page cache,
//! and the paywall markup search engines read.

use super::feeds::{json_ld, publish_post};
use super::*;

/// Two paragraphs for everyone; the third only in full.
const BODY: &str = "The council met at nine.\n\n\
    It sat until noon.\n\n\
    Readers in full learn that the budget doubled.\n\n\
    The vote is next week.";
const SECRET: &str = "the budget doubled";
const SPENT: &str = "You have read your 2 free stories this month.";

/// One response as a reader sees it.
struct Read {
    status: u16,
    cache: String,
    cache_control: String,
    vary: String,
    /// The `mh_meter` cookie set, whole (`mh_meter=…; Path=/; …`).
    meter: Option<String>,
    body: String,
}

impl Read {
    /// The cookie to send back (`mh_meter=value`).
    fn jar(&self) -> String {
        self.meter
            .as_deref()
            .and_then(|c| c.split(';').next())
            .expect("a meter cookie")
            .to_owned()
    }

    fn full(&self) -> bool {
        self.body.contains(SECRET)
    }
}

async fn read(url: &str, cookie: Option<&str>) -> Read {
    let mut req = client().get(url);
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    let res = req.send().await.expect("read");
    let h = res.headers().clone();
    let text = |name: header::HeaderName| {
        h.get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    Read {
        status: res.status().as_u16(),
        cache: h
            .get("x-cache")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned(),
        cache_control: text(header::CACHE_CONTROL),
        vary: text(header::VARY),
        meter: h
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("mh_meter="))
            .map(str::to_owned),
        body: res.text().await.expect("body"),
    }
}

/// Sets the meter on the desk: status and page.
async fn set_meter(s: &Server, cookie: &str, csrf: &str, n: &str) -> (u16, String) {
    let res = client()
        .post(s.url("/admin/settings/meter"))
        .header(header::COOKIE, cookie)
        .form(&[("csrf", csrf), ("meter_free_stories", n)])
        .send()
        .await
        .expect("meter form");
    (res.status().as_u16(), res.text().await.expect("page"))
}

fn private(r: &Read, who: &str) {
    assert_eq!(r.cache_control, "private, no-cache", "{who}");
    assert!(r.vary.contains("Cookie"), "{who}: Vary {}", r.vary);
}

/// A page's one JSON-LD article says the story is paywalled at `.paywalled`.
fn paywall_markup(html: &str, base: &str, who: &str) {
    let ld = json_ld(html, base);
    assert_eq!(ld.len(), 1, "{who}: {ld:?}");
    let a = &ld[0];
    assert_eq!(a["isAccessibleForFree"], false, "{who}");
    assert_eq!(a["hasPart"]["@type"], "WebPageElement", "{who}");
    assert_eq!(a["hasPart"]["isAccessibleForFree"], false, "{who}");
    assert_eq!(a["hasPart"]["cssSelector"], ".paywalled", "{who}");
    assert_eq!(
        html.matches("<div class=\"paywalled\">").count(),
        1,
        "{who}: one element of the class"
    );
}

#[tokio::test]
async fn the_meter_opens_n_members_only_stories_then_asks_readers_to_join() {
    let dir = TempDir::new("meter");
    let s = Server::start(&dir.0);
    let (boss, csrf) = signed_in(&s, "meter-boss@courier.example", "administrator").await;
    for (slug, visibility) in [
        ("council-one", "members"),
        ("council-two", "members"),
        ("council-three", "members"),
        ("council-paid", "paid"),
        ("council-free", "public"),
    ] {
        publish_post(
            &s,
            &boss,
            &csrf,
            "article",
            &format!("Council {slug}"),
            &[("slug", slug), ("body", BODY), ("visibility", visibility)],
        )
        .await;
    }
    let one = s.url("/council-one/");
    let two = s.url("/council-two/");
    let three = s.url("/council-three/");
    let paid = s.url("/council-paid/");

    // Off by default: the teaser at once, a public page, no cookie.
    let r = read(&one, None).await;
    assert_eq!(r.status, 200);
    assert!(!r.full() && r.body.contains("The rest of this story is for members"));
    assert!(!r.body.contains("free stories"));
    assert!(r.meter.is_none());
    assert!(r.cache_control.starts_with("public"), "{}", r.cache_control);

    // The desk: administrators only, 0 to 100, clear refusals.
    let (editor, editor_csrf) = signed_in(&s, "meter-ed@courier.example", "editor").await;
    assert_eq!(set_meter(&s, &editor, &editor_csrf, "2").await.0, 403);
    for bad in ["101", "-1", "two", ""] {
        let (status, page) = set_meter(&s, &boss, &csrf, bad).await;
        assert_eq!(status, 422, "{bad:?}");
        assert!(page.contains("from 0 (no meter) to 100"), "{bad:?}");
    }
    assert_eq!(set_meter(&s, &boss, "wrong", "2").await.0, 403, "CSRF");
    let (status, page) = set_meter(&s, &boss, &csrf, "2").await;
    assert_eq!(status, 200);
    assert!(page.contains("may read 2 members-only stories every 30 days"));
    assert!(page.contains("name=\"meter_free_stories\"") && page.contains("value=\"2\""));
    assert!(
        page.contains("never metered"),
        "the desk says paid stories are not"
    );

    // A reader with a cookie jar: two stories in full, then the sign-up box.
    let r = read(&one, None).await;
    assert_eq!(r.status, 200);
    assert!(r.full(), "first story in full");
    assert!(!r.body.contains("class=\"gate\""));
    private(&r, "metered, full");
    let set = r.meter.clone().expect("the meter is set");
    for attr in ["Path=/", "HttpOnly", "SameSite=Lax", "Max-Age=2592000"] {
        assert!(set.contains(attr), "{attr} in {set}");
    }
    assert!(!set.contains("Secure"), "a plain-http site: {set}");
    let jar = r.jar();
    paywall_markup(&r.body, &s.base, "full through the meter");
    let r = read(&two, Some(&jar)).await;
    assert!(r.full(), "second story in full");
    let jar = r.jar();
    let r = read(&three, Some(&jar)).await;
    assert_eq!(r.status, 200);
    assert!(!r.full(), "third story: teaser");
    assert!(r.body.contains(SPENT), "the box says why");
    assert!(r.body.contains("class=\"gate\""));
    assert!(r.meter.is_none(), "nothing to count");
    private(&r, "metered, teaser");
    paywall_markup(&r.body, &s.base, "teaser");
    // Re-reading a story already opened: still in full, not counted again.
    let r = read(&one, Some(&jar)).await;
    assert!(r.full(), "re-read in full");
    assert!(r.meter.is_none(), "the meter did not change");
    // Without the cookie, the count starts again.
    let r = read(&three, None).await;
    assert!(r.full(), "no cookie: counts from zero");
    // A tampered or garbled cookie counts as none, and is replaced.
    let (value, mac) = jar.rsplit_once('.').expect("signed");
    let flipped = if mac.starts_with('A') { "B" } else { "A" };
    let forged = format!("{value}.{flipped}{}", &mac[1..]);
    let fewer = format!("mh_meter=.{mac}");
    for bad in [
        forged.as_str(),
        fewer.as_str(),
        "mh_meter=%%%;;garbage",
        "mh_meter=",
    ] {
        let r = read(&three, Some(bad)).await;
        assert_eq!(r.status, 200, "{bad}");
        assert!(r.full(), "{bad}: counted as empty");
        let set = r.meter.clone().expect("replaced");
        assert_ne!(r.jar(), bad, "{set}");
    }

    // Stories for paying members are never metered.
    let r = read(&paid, None).await;
    assert!(!r.full() && r.body.contains("for paying members"));
    assert!(r.meter.is_none() && !r.body.contains("free stories"));
    assert!(r.cache_control.starts_with("public"), "{}", r.cache_control);
    paywall_markup(&r.body, &s.base, "paid teaser");
    // A free story keeps no paywall markup.
    let r = read(&s.url("/council-free/"), None).await;
    let ld = json_ld(&r.body, &s.base);
    assert_eq!(ld[0]["isAccessibleForFree"], true);
    assert!(ld[0].get("hasPart").is_none(), "{:?}", ld[0]);
    assert!(!r.body.contains("class=\"paywalled\""));

    // A signed-in member reads in full and is not metered, whatever cookie.
    let member = join_and_confirm(&s, "meter-reader@courier.example").await;
    let r = read(&three, Some(&format!("{member}; {jar}"))).await;
    assert!(r.full(), "member: in full");
    assert!(r.meter.is_none(), "members are not counted");
    assert_eq!(r.cache_control, "private, no-cache");
    let r = read(&paid, Some(&member)).await;
    assert!(!r.full(), "a free member on a paid story: teaser");
    assert!(!r.body.contains("free stories"));

    // The page cache keeps both copies; each request only picks one.
    for _ in 0..3 {
        read(&two, None).await;
        read(&two, Some(&jar)).await;
    }
    let r = read(&two, None).await;
    assert_eq!(
        r.cache, "hit",
        "a new reader's full copy comes from the cache"
    );
    assert!(r.full());
    assert!(r.meter.is_some(), "the cookie is added to the cached page");
    private(&r, "full, from the cache");
    let spent = {
        // A reader who has used both stories, on a story of neither.
        let mut j = read(&one, None).await.jar();
        j = read(&two, Some(&j)).await.jar();
        j
    };
    for _ in 0..3 {
        read(&three, Some(&spent)).await;
    }
    let r = read(&three, Some(&spent)).await;
    assert_eq!(r.cache, "hit", "the teaser comes from the cache");
    assert!(!r.full() && r.body.contains(SPENT));
    private(&r, "teaser, from the cache");
    let r = read(&three, None).await;
    assert!(
        r.full(),
        "the teaser copy is not served to a reader with stories left"
    );

    // Meter off again: the teaser at once for everyone, a public page.
    assert_eq!(set_meter(&s, &boss, &csrf, "0").await.0, 200);
    let r = read(&one, Some(&jar)).await;
    assert!(!r.full() && !r.body.contains("free stories"));
    assert!(r.meter.is_none());
    assert!(r.cache_control.starts_with("public"), "{}", r.cache_control);
}

#[tokio::test]
async fn on_an_https_site_the_meter_cookie_is_secure() {
    let dir = TempDir::new("meter-https");
    let s = Server::start_with_env(
        &dir.0,
        &[("MASTHEAD_PUBLIC_URL", "https://courier.example")],
    );
    let (boss, csrf) = signed_in(&s, "meter-tls@courier.example", "administrator").await;
    publish_post(
        &s,
        &boss,
        &csrf,
        "article",
        "Harbour budget",
        &[
            ("slug", "harbour-budget"),
            ("body", BODY),
            ("visibility", "members"),
        ],
    )
    .await;
    assert_eq!(set_meter(&s, &boss, &csrf, "1").await.0, 200);
    let r = read(&s.url("/harbour-budget/"), None).await;
    assert!(r.full());
    let set = r.meter.clone().expect("the meter is set");
    assert!(set.contains("; Secure"), "{set}");
    let r = read(&s.url("/harbour-budget/"), Some(&r.jar())).await;
    assert!(r.full(), "the one free story reopens");
    // One free story: the box says so in the singular.
    publish_post(
        &s,
        &boss,
        &csrf,
        "article",
        "Harbour budget two",
        &[
            ("slug", "harbour-budget-two"),
            ("body", BODY),
            ("visibility", "members"),
        ],
    )
    .await;
    let jar = read(&s.url("/harbour-budget/"), None).await.jar();
    let r = read(&s.url("/harbour-budget-two/"), Some(&jar)).await;
    assert!(!r.full());
    assert!(
        r.body.contains("You have read your free story this month."),
        "{}",
        r.body
    );
}
