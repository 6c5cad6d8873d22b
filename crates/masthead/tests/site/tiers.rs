//! Paid memberships, part one (issue 11), through the real server: tiers in
//! the desk, stories for paying members and for chosen tiers cut at the
//! paywall marker, complimentary access given and ended in the desk (and
//! running out), the page cache keeping each audience's copy apart, and the
//! Content and Admin APIs' tiers.

use super::feeds::publish_post;
use super::members_desk::{desk_get, start};
use super::*;

/// Three free paragraphs, the marker, then what only paying readers see.
const PAID_BODY: &str = "The lighthouse keeper retired in May.\n\n\
    Her logbooks go to the maritime museum.\n\n\
    The council met on Friday to choose a successor.\n\n\
    <!--members-only-->\n\n\
    Paying readers learn that the successor is her grandson.";
const FREE_END: &str = "choose a successor.";
const SECRET: &str = "the successor is her grandson";

/// A desk form; the status and the `Location` (or the page, when there is none).
async fn desk_post(s: &Server, cookie: &str, path: &str, form: &[(&str, &str)]) -> (u16, String) {
    let res = client()
        .post(s.url(path))
        .header(header::COOKIE, cookie)
        .form(form)
        .send()
        .await
        .expect("post");
    let status = res.status().as_u16();
    match res.headers().get(header::LOCATION) {
        Some(l) => (status, l.to_str().expect("location").to_owned()),
        None => (status, res.text().await.expect("body")),
    }
}

/// Adds a paid tier in the desk; its id.
pub(crate) async fn add_tier(
    s: &Server,
    cookie: &str,
    csrf: &str,
    name: &str,
    monthly: &str,
) -> i64 {
    let (status, location) = desk_post(
        s,
        cookie,
        "/admin/tiers",
        &[
            ("csrf", csrf),
            ("name", name),
            ("monthly_price", monthly),
            ("yearly_price", ""),
            ("benefits", "Every story\nThe weekly letter"),
        ],
    )
    .await;
    assert_eq!(status, 303, "{location}");
    location
        .strip_prefix("/admin/tiers/")
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("tier page: {location}"))
}

/// The desk id of the member with this address.
async fn member_id(s: &Server, cookie: &str, email: &str) -> i64 {
    let (status, html) = desk_get(s, cookie, &format!("/admin/members?q={email}")).await;
    assert_eq!(status, 200);
    html.split("data-member-id=\"")
        .nth(1)
        .and_then(|x| x.split('"').next())
        .and_then(|x| x.parse().ok())
        .unwrap_or_else(|| panic!("no member {email}"))
}

/// A page as `cookie` (`None`: anonymous) reads it: status, `x-cache` and
/// body.
async fn read(url: &str, cookie: Option<&str>) -> (u16, String, String) {
    let mut req = client().get(url);
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    let res = req.send().await.expect("read");
    let status = res.status().as_u16();
    let cache = res
        .headers()
        .get("x-cache")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    (status, cache, res.text().await.expect("body"))
}

/// Asserts that `who` gets the free part only: up to the marker, the gate,
/// and not a word after it.
fn teaser_only(html: &str, who: &str) {
    assert!(
        html.contains(FREE_END),
        "{who}: the free part, up to the marker"
    );
    assert!(!html.contains(SECRET), "{who}: nothing after the marker");
    assert!(
        html.contains("class=\"gate\""),
        "{who}: the invitation to join"
    );
}

fn in_full(html: &str, who: &str) {
    assert!(html.contains(SECRET), "{who}: the whole story");
    assert!(!html.contains("class=\"gate\""), "{who}: no gate");
}

#[tokio::test]
async fn paid_and_tier_stories_follow_the_marker_comps_and_the_cache() {
    let dir = TempDir::new("tiers");
    let s = start(&dir);
    let (boss, csrf) = signed_in(&s, "boss@courier.example", "administrator").await;

    // Tiers: clear refusals, then two paid tiers.
    let (status, page) = desk_post(
        &s,
        &boss,
        "/admin/tiers",
        &[
            ("csrf", &csrf),
            ("name", "Nothing"),
            ("monthly_price", ""),
            ("yearly_price", ""),
        ],
    )
    .await;
    assert_eq!(status, 422);
    assert!(page.contains("needs a monthly or a yearly price"), "{page}");
    let (status, page) = desk_post(
        &s,
        &boss,
        "/admin/tiers",
        &[
            ("csrf", &csrf),
            ("name", "Cheap"),
            ("monthly_price", "five"),
        ],
    )
    .await;
    assert_eq!(status, 422);
    assert!(page.contains("The monthly price"), "{page}");
    let (status, _) = desk_post(
        &s,
        &boss,
        "/admin/tiers",
        &[("csrf", "forged"), ("name", "Gold"), ("monthly_price", "5")],
    )
    .await;
    assert_eq!(status, 403, "a form without the session's token is refused");
    let gold = add_tier(&s, &boss, &csrf, "Gold", "5.00").await;
    let silver = add_tier(&s, &boss, &csrf, "Silver", "2.50").await;
    let (status, page) = desk_post(
        &s,
        &boss,
        "/admin/tiers",
        &[
            ("csrf", &csrf),
            ("name", "Gold again"),
            ("slug", "gold"),
            ("monthly_price", "1"),
        ],
    )
    .await;
    assert_eq!(status, 409, "a taken slug");
    assert!(page.contains("Another tier has that slug"), "{page}");
    let (_, list) = desk_get(&s, &boss, "/admin/tiers").await;
    assert!(
        list.contains("USD 5.00") && list.contains("USD 2.50"),
        "{list}"
    );
    // An editor may not.
    let (editor, editor_csrf) = signed_in(&s, "ed@courier.example", "editor").await;
    let (status, _) = desk_get(&s, &editor, "/admin/tiers").await;
    assert_eq!(status, 403);
    let (status, _) = desk_post(
        &s,
        &editor,
        "/admin/tiers",
        &[
            ("csrf", &editor_csrf),
            ("name", "Mine"),
            ("monthly_price", "1"),
        ],
    )
    .await;
    assert_eq!(status, 403);

    // A story for paying members and one for Gold only, both with the marker.
    publish_post(
        &s,
        &boss,
        &csrf,
        "article",
        "Lighthouse successor",
        &[
            ("slug", "lighthouse-successor"),
            ("body", PAID_BODY),
            ("visibility", "paid"),
        ],
    )
    .await;
    let gold_field = format!("tier_{gold}");
    publish_post(
        &s,
        &boss,
        &csrf,
        "article",
        "Lighthouse for Gold",
        &[
            ("slug", "lighthouse-gold"),
            ("body", PAID_BODY),
            ("visibility", "tiers"),
            ("tiers_shown", "1"),
            (gold_field.as_str(), "1"),
        ],
    )
    .await;
    let paid = s.url("/lighthouse-successor/");
    let for_gold = s.url("/lighthouse-gold/");

    // Members: one free, one comped on Gold, one comped on Silver.
    let free = join_and_confirm(&s, "free@courier.example").await;
    let goldie = join_and_confirm(&s, "goldie@courier.example").await;
    let silvia = join_and_confirm(&s, "silvia@courier.example").await;
    let goldie_id = member_id(&s, &boss, "goldie@courier.example").await;
    let silvia_id = member_id(&s, &boss, "silvia@courier.example").await;
    let gold_s = gold.to_string();
    let silver_s = silver.to_string();

    // Anonymous readers first, twice (the second render is kept), then the
    // free member: the free part, ending at the marker.
    for _ in 0..2 {
        let (status, _, html) = read(&paid, None).await;
        assert_eq!(status, 200);
        teaser_only(&html, "anonymous");
        assert!(html.contains("for paying members"));
        let (_, _, html) = read(&for_gold, None).await;
        teaser_only(&html, "anonymous on a tier story");
        assert!(html.contains("Gold members"), "the gate names the tier");
    }
    let (_, cache, _) = read(&paid, None).await;
    assert_eq!(cache, "hit");
    let (_, _, html) = read(&paid, Some(&free)).await;
    teaser_only(&html, "a free member");

    // Comps from the desk: with a date, then shown in the history.
    let (status, location) = desk_post(
        &s,
        &boss,
        &format!("/admin/members/{goldie_id}/comp"),
        &[("csrf", &csrf), ("tier", &gold_s), ("until", "2099-12-31")],
    )
    .await;
    assert_eq!(
        (status, location.as_str()),
        (303, &*format!("/admin/members/{goldie_id}?comp=given"))
    );
    let (status, _) = desk_post(
        &s,
        &boss,
        &format!("/admin/members/{silvia_id}/comp"),
        &[("csrf", &csrf), ("tier", &silver_s), ("until", "")],
    )
    .await;
    assert_eq!(status, 303);
    let (_, page) = desk_get(&s, &boss, &format!("/admin/members/{goldie_id}?comp=given")).await;
    assert!(page.contains("Complimentary access given."), "{page}");
    assert!(page.contains("comped") && page.contains("(Gold)"), "{page}");
    assert!(
        page.contains("Complimentary membership (Gold) until") && page.contains("by Helen Marsh"),
        "the history says who gave what until when: {page}"
    );
    // The Admin API shows the comp as Ghost 5 does: status, comped, tiers.
    let res = client()
        .get(s.url(&format!("/ghost/api/admin/members/{goldie_id:024x}/")))
        .header(header::COOKIE, &boss)
        .send()
        .await
        .expect("api member");
    assert_eq!(res.status().as_u16(), 200);
    let body: serde_json::Value = res.json().await.expect("json");
    let m = &body["members"][0];
    assert_eq!(
        (m["status"].as_str(), m["comped"].as_bool()),
        (Some("comped"), Some(true)),
        "{m}"
    );
    assert_eq!(m["tiers"][0]["slug"], "gold", "{m}");
    assert!(
        m["tiers"][0]["expiry_at"]
            .as_str()
            .is_some_and(|d| d.starts_with("2100-01-01") || d.starts_with("2099-12-31")),
        "{m}"
    );
    // Refused: a date in the past, the free tier, a forged form.
    let (_, location) = desk_post(
        &s,
        &boss,
        &format!("/admin/members/{goldie_id}/comp"),
        &[("csrf", &csrf), ("tier", &gold_s), ("until", "2001-01-01")],
    )
    .await;
    assert!(location.ends_with("comp=past"), "{location}");
    let (_, location) = desk_post(
        &s,
        &boss,
        &format!("/admin/members/{goldie_id}/comp"),
        &[("csrf", &csrf), ("tier", "1"), ("until", "")],
    )
    .await;
    assert!(location.ends_with("comp=tier"), "{location}");
    let (status, _) = desk_post(
        &s,
        &boss,
        &format!("/admin/members/{goldie_id}/comp/end"),
        &[("csrf", "forged")],
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = desk_post(
        &s,
        &editor,
        &format!("/admin/members/{goldie_id}/comp"),
        &[("csrf", &editor_csrf), ("tier", &gold_s), ("until", "")],
    )
    .await;
    assert_eq!(status, 403, "editors do not give access");

    // Comped members read paid stories in full, tier stories only on their
    // tier; with the cache on, in either order, nobody gets another's copy.
    for round in 0..3 {
        let (_, _, html) = read(&paid, Some(&goldie)).await;
        in_full(&html, "Gold comp on a paid story");
        let (_, _, html) = read(&paid, None).await;
        teaser_only(&html, "anonymous after a comped member");
        let (_, _, html) = read(&paid, Some(&silvia)).await;
        in_full(&html, "Silver comp on a paid story");
        let (_, _, html) = read(&for_gold, Some(&goldie)).await;
        in_full(&html, "Gold comp on a Gold story");
        let (_, silver_cache, html) = read(&for_gold, Some(&silvia)).await;
        teaser_only(&html, "Silver comp on a Gold story");
        let (_, _, html) = read(&for_gold, Some(&free)).await;
        teaser_only(&html, "a free member on a Gold story");
        let (_, _, html) = read(&for_gold, None).await;
        teaser_only(&html, "anonymous on a Gold story");
        if round == 2 {
            assert_eq!(silver_cache, "hit", "each tier has its own cached copy");
        }
    }

    // A comp that runs out reads as ended at once (from the cache too); the
    // job then writes it down.
    let store = open_store(&s.data).await;
    store
        .move_comp_end_for_tests(goldie_id, masthead_store::now_ms() - 1_000)
        .await
        .expect("let the comp run out");
    for _ in 0..2 {
        let (_, _, html) = read(&paid, Some(&goldie)).await;
        teaser_only(&html, "an expired comp");
        let (_, _, html) = read(&for_gold, Some(&goldie)).await;
        teaser_only(&html, "an expired comp on a Gold story");
    }
    let (_, page) = desk_get(&s, &boss, &format!("/admin/members/{goldie_id}")).await;
    assert!(page.contains("<strong>free</strong>"), "{page}");

    // Ending Silvia's comp by hand: free again, in her history.
    let (_, location) = desk_post(
        &s,
        &boss,
        &format!("/admin/members/{silvia_id}/comp/end"),
        &[("csrf", &csrf)],
    )
    .await;
    assert!(location.ends_with("comp=ended"), "{location}");
    let (_, html) = desk_get(&s, &boss, &format!("/admin/members/{silvia_id}")).await;
    assert!(
        html.contains("Complimentary membership (Silver) ended, by Helen Marsh"),
        "{html}"
    );
    let (_, _, html) = read(&paid, Some(&silvia)).await;
    teaser_only(&html, "an ended comp");
    let (_, location) = desk_post(
        &s,
        &boss,
        &format!("/admin/members/{silvia_id}/comp/end"),
        &[("csrf", &csrf)],
    )
    .await;
    assert!(
        location.ends_with("comp=none"),
        "nothing left to end: {location}"
    );

    // Archiving a tier: no longer listed for comps; its story keeps it.
    let (status, _) = desk_post(
        &s,
        &boss,
        &format!("/admin/tiers/{silver}"),
        &[("csrf", &csrf), ("archive", "1")],
    )
    .await;
    assert_eq!(status, 200);
    let (_, location) = desk_post(
        &s,
        &boss,
        &format!("/admin/members/{silvia_id}/comp"),
        &[("csrf", &csrf), ("tier", &silver_s), ("until", "")],
    )
    .await;
    assert!(
        location.ends_with("comp=tier"),
        "an archived tier is not given: {location}"
    );
    let (status, page) = desk_post(
        &s,
        &boss,
        "/admin/tiers/1",
        &[("csrf", &csrf), ("archive", "1")],
    )
    .await;
    assert_eq!(status, 409);
    assert!(page.contains("The free tier cannot be archived"), "{page}");
}

#[tokio::test]
async fn stories_without_a_marker_keep_the_teaser_and_the_editor_offers_tiers() {
    let dir = TempDir::new("tiers-editor");
    let s = start(&dir);
    let (boss, csrf) = signed_in(&s, "owner@courier.example", "owner").await;
    // The site's currency: set before the first paid tier, then fixed.
    let (status, _) = desk_post(
        &s,
        &boss,
        "/admin/tiers/currency",
        &[("csrf", &csrf), ("currency", "EURO")],
    )
    .await;
    assert_eq!(status, 422);
    let (status, _) = desk_post(
        &s,
        &boss,
        "/admin/tiers/currency",
        &[("csrf", &csrf), ("currency", "EUR")],
    )
    .await;
    assert_eq!(status, 303);
    let gold = add_tier(&s, &boss, &csrf, "Gold", "5").await;
    let (_, list) = desk_get(&s, &boss, "/admin/tiers").await;
    assert!(list.contains("EUR 5.00"), "{list}");
    let (status, page) = desk_post(
        &s,
        &boss,
        "/admin/tiers/currency",
        &[("csrf", &csrf), ("currency", "gbp")],
    )
    .await;
    assert_eq!(status, 409);
    assert!(page.contains("cannot change once paid tiers"), "{page}");
    let (id, _) = publish_post(
        &s,
        &boss,
        &csrf,
        "article",
        "No marker",
        &[
            ("slug", "no-marker"),
            ("body", "First.\n\nSecond.\n\nThird, for payers."),
            ("visibility", "paid"),
        ],
    )
    .await;
    let (_, _, html) = read(&s.url("/no-marker/"), None).await;
    assert!(html.contains("Second.") && !html.contains("Third, for payers."));
    // The editor: the four audiences, Gold to tick, and the marker's button.
    let (status, page) = desk_get(&s, &boss, &format!("/admin/posts/{id}/edit")).await;
    assert_eq!(status, 200);
    assert!(page.contains("value=\"tiers\""), "{page}");
    assert!(page.contains(&format!("name=\"tier_{gold}\"")));
    assert!(page.contains("id=\"insert-paywall\"") && page.contains("&lt;!--members-only--&gt;"));
    // "Chosen tiers" with none ticked is refused with a reason.
    let version = field(&page, "version");
    let byline = field(&page, "authors");
    let (status, page) = desk_post(
        &s,
        &boss,
        &format!("/admin/posts/{id}"),
        &[
            ("csrf", &csrf),
            ("version", &version),
            ("title", "No marker"),
            ("slug", "no-marker"),
            ("authors", &byline),
            ("body", "First."),
            ("visibility", "tiers"),
            ("tiers_shown", "1"),
            ("action", "save"),
        ],
    )
    .await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("Tick the tiers"), "{page}");
}

#[tokio::test]
async fn the_apis_list_tiers_and_cut_gated_html_at_the_marker() {
    use serde_json::{Value, json};
    let dir = TempDir::new("tiers-api");
    let s = start(&dir);
    let (boss, csrf) = signed_in(&s, "owner@courier.example", "owner").await;
    let api = |method: reqwest::Method, path: &str, body: Option<Value>| {
        let mut req = client()
            .request(method, s.url(&format!("/ghost/api/admin{path}")))
            .header(header::COOKIE, &boss);
        if let Some(b) = body {
            req = req.json(&b);
        }
        async move {
            let res = req.send().await.expect("api");
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.expect("json"))
        }
    };
    use reqwest::Method;
    // Admin API: add, read, edit; clear 422s.
    let (status, body) = api(
        Method::POST,
        "/tiers/?include=monthly_price,yearly_price,benefits",
        Some(
            json!({ "tiers": [{ "name": "Gold", "monthly_price": 500, "yearly_price": 5000,
            "benefits": ["Every story", "The weekly letter"], "trial_days": 7 }] }),
        ),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let gold = body["tiers"][0].clone();
    assert_eq!(gold["slug"], "gold");
    assert_eq!(gold["type"], "paid");
    assert_eq!(gold["currency"], "usd");
    assert_eq!(gold["monthly_price"], 500);
    assert_eq!(
        gold["benefits"],
        json!(["Every story", "The weekly letter"])
    );
    let gold_id = gold["id"].as_str().expect("id").to_owned();
    assert_eq!(gold_id.len(), 24);
    for (bad, why) in [
        (json!({ "name": "Nothing" }), "monthly or a yearly"),
        (json!({ "name": "Zero", "monthly_price": 0 }), "above zero"),
        (
            json!({ "name": "Cents", "monthly_price": 4.5 }),
            "whole number",
        ),
        (
            json!({ "name": "Euro", "monthly_price": 500, "currency": "eur" }),
            "site's currency",
        ),
        (json!({ "name": "Gold", "monthly_price": 500 }), "slug"),
    ] {
        let (status, body) = api(Method::POST, "/tiers/", Some(json!({ "tiers": [bad] }))).await;
        assert_eq!(status, 422, "{body}");
        assert!(body.to_string().contains(why), "{why}: {body}");
    }
    let (status, body) = api(
        Method::PUT,
        &format!("/tiers/{gold_id}/"),
        Some(json!({ "tiers": [{ "name": "Gold plus", "yearly_price": null }] })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["tiers"][0]["name"], "Gold plus");
    let (status, body) = api(Method::GET, "/tiers/?filter=type:paid", None).await;
    assert_eq!(status, 200);
    assert_eq!(body["tiers"].as_array().map(Vec::len), Some(1), "{body}");
    // As Ghost 5's Admin API: prices and benefits without asking; the free
    // tier has no currency or prices at all.
    let (status, body) = api(Method::GET, "/tiers/", None).await;
    assert_eq!(status, 200);
    let listed = body["tiers"].as_array().expect("tiers");
    let paid = listed.iter().find(|t| t["type"] == "paid").expect("paid");
    assert_eq!(paid["monthly_price"], 500, "{paid}");
    assert_eq!(
        paid["benefits"],
        json!(["Every story", "The weekly letter"])
    );
    let free = listed.iter().find(|t| t["type"] == "free").expect("free");
    assert!(
        free.get("currency").is_none() && free.get("monthly_price").is_none(),
        "{free}"
    );
    assert!(free["benefits"].is_array(), "{free}");
    let (status, _) = api(Method::GET, "/tiers/ffffffffffffffffffffffff/", None).await;
    assert_eq!(status, 404);

    // A gated story with the marker, made through the Admin API.
    let (status, body) = api(
        Method::POST,
        "/posts/?source=html",
        Some(
            json!({ "posts": [{ "title": "Gold only", "status": "published",
            "html": "<p>Free words.</p><!--members-only--><p>Gold words.</p>",
            "visibility": "tiers", "tiers": [{ "id": gold_id }] }] }),
        ),
    )
    .await;
    assert_eq!(status, 201, "{body}");

    // The Content API, through Ghost's own client: the tiers with prices
    // and benefits; the story's html ends at the marker.
    let key = {
        let out = s.cli(&["key", "create", "content", "--name", "tests"]);
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let dir_api = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/api");
    assert!(
        dir_api.join("node_modules/@tryghost/content-api").exists(),
        "Ghost's client libraries are not installed: run scripts/test.sh (or `npm ci` in tests/api)"
    );
    let out = Command::new("node")
        .arg(dir_api.join("tiers.js"))
        .current_dir(&dir_api)
        .env("MASTHEAD_URL", &s.base)
        .env("MASTHEAD_KEY", &key)
        .output()
        .expect("node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "tiers.js: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = csrf;
}
