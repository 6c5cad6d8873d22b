//! `masthead import ghost` and `masthead export`, through the real binary.

use super::*;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ghost-5-export.json")
}

/// Runs the CLI on `data` (also used by the backup tests).
pub(super) fn cli(data: &Path, args: &[&str]) -> std::process::Output {
    masthead(data)
        .args(args)
        .env("MASTHEAD_LOG", "warn")
        .output()
        .expect("run cli")
}

/// What a command printed, stdout then stderr.
pub(super) fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// An export with its timestamp removed, for comparing two of them.
fn export_of(data: &Path) -> serde_json::Value {
    let out = cli(data, &["export"]);
    assert!(out.status.success(), "{}", text(&out));
    let mut v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("export is JSON");
    v["db"][0]["meta"]
        .as_object_mut()
        .expect("meta")
        .remove("exported_on");
    v
}

#[tokio::test]
async fn a_ghost_export_imports_once_with_a_clear_report() {
    let dir = TempDir::new("import");
    let out = cli(
        &dir.0,
        &["import", "ghost", fixture().to_str().expect("path")],
    );
    let report = text(&out);
    assert!(out.status.success(), "{report}");
    for want in [
        "posts:   6 added; pages: 1 added",
        "tags:    2 added, 0 already present, 1 internal tags left out",
        "bylines: 2 added, 0 already present",
        "members: 2 added, 1 already members",
        "settings: title, accent, timezone",
        "post \"no-title\": it has no title",
        "post \"damaged-body\": its lexical body is not JSON",
        "member \"not-an-address\": not a valid e-mail address",
        "post \"spring-ferry-timetable\": parts of its body could not be converted: paywall, gallery",
        "post \"Hello World!\": its slug was not usable; it became \"hello-world\"",
    ] {
        assert!(report.contains(want), "missing {want:?} in:\n{report}");
    }
    assert!(
        report.contains("Reading ") && report.contains("in one transaction"),
        "progress is shown"
    );

    // Re-running adds nothing and changes nothing.
    let before = export_of(&dir.0);
    let again = cli(
        &dir.0,
        &["import", "ghost", fixture().to_str().expect("path")],
    );
    let again_report = text(&again);
    assert!(again.status.success(), "{again_report}");
    assert!(
        again_report.contains("posts:   0 added; pages: 0 added"),
        "{again_report}"
    );
    assert!(
        again_report.contains("members: 0 added, 3 already members"),
        "{again_report}"
    );
    assert_eq!(
        export_of(&dir.0),
        before,
        "a second import changed the site"
    );

    // What readers get.
    let mut server = Server::start(&dir.0);
    let (st, _, merrow) = get(&server.url("/pilot-boat-merrow-back/")).await;
    assert_eq!(st, 200);
    for want in [
        "<em>Merrow</em>",
        "<h2>A new engine</h2>",
        "<li><strong>a heated wheelhouse</strong></li>",
        "She handles like a dinghy now",
        "After a winter in the yard",
        "A red pilot boat leaving the slipway",
        "Relaunch day at the north slip.",
        "The Estuary Gazette",
    ] {
        assert!(merrow.contains(want), "{want} on the story");
    }
    let byline = merrow.split("class=\"byline\"").nth(1).expect("byline");
    assert!(
        byline.find("Ines Marlow") < byline.find("Tomas Brekke"),
        "bylines keep their order"
    );
    let (_, _, old) = get(&server.url("/old-site-storage/")).await;
    assert!(
        old.contains("<strong>mobiledoc</strong>")
            && old.contains("<em>markdown</em> card survives")
    );
    assert!(
        old.contains("Tomas Brekke"),
        "old exports' single author_id"
    );
    assert_eq!(
        get(&server.url("/harbour-dues-draft/")).await.0,
        404,
        "drafts stay drafts"
    );
    assert_eq!(
        get(&server.url("/regatta-results/")).await.0,
        404,
        "scheduled stays scheduled"
    );
    assert_eq!(get(&server.url("/about-us/")).await.0, 200, "pages");
    let (_, _, gated) = get(&server.url("/spring-ferry-timetable/")).await;
    assert!(gated.contains("Members hear it first") && gated.contains("for members"));
    assert_eq!(get(&server.url("/hello-world/")).await.0, 200);
    assert_eq!(get(&server.url("/damaged-body/")).await.0, 404);
    let (_, _, tag) = get(&server.url("/tag/harbour/")).await;
    assert!(tag.contains("Ships, pilots and the port."));
    assert_eq!(
        get(&server.url("/tag/hash-import-2024/")).await.0,
        404,
        "internal tags left out"
    );
    // Dates are kept.
    assert!(
        merrow.contains("datetime=\"2024-03-02T"),
        "published date kept"
    );
    assert_eq!(server.terminate().code(), Some(0));
}

#[test]
fn broken_exports_are_refused_and_change_nothing() {
    let dir = TempDir::new("broken");
    let ok = cli(
        &dir.0,
        &["import", "ghost", fixture().to_str().expect("path")],
    );
    assert!(ok.status.success());
    let before = export_of(&dir.0);
    let good = std::fs::read_to_string(fixture()).expect("fixture");
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "not-json.json",
            "this is not JSON".into(),
            "is not valid JSON (line 1",
        ),
        (
            "truncated.json",
            good[..good.len() / 2].to_owned(),
            "is not valid JSON",
        ),
        ("other.json", "{\"posts\": []}".into(), "not a Ghost export"),
        (
            "shape.json",
            "{\"db\": [{\"data\": {\"posts\": {}}}]}".into(),
            "data.posts should be a list",
        ),
        (
            "members.json",
            "{\"data\": {\"members\": \"all of them\"}}".into(),
            "data.members should be a list",
        ),
    ];
    for (name, body, says) in cases {
        let path = dir.0.join(name);
        std::fs::write(&path, body).expect("write");
        let out = cli(&dir.0, &["import", "ghost", path.to_str().expect("path")]);
        let msg = text(&out);
        assert!(!out.status.success(), "{name} was accepted: {msg}");
        assert!(msg.contains(says), "{name}: {msg}");
        assert!(msg.contains("nothing was imported"), "{name}: {msg}");
    }
    let missing = cli(&dir.0, &["import", "ghost", "/nonexistent/export.json"]);
    assert!(!missing.status.success());
    assert!(text(&missing).contains("cannot read /nonexistent/export.json"));
    assert_eq!(
        export_of(&dir.0),
        before,
        "a refused import changed the site"
    );
}

#[tokio::test]
async fn export_then_import_loses_nothing() {
    with_server("roundtrip", |s| async move {
        // Give the demo site some of everything: a correction exists in the demo;
        // live entries, video, credits and sections too.
        let original = export_of(&s.data);
        let data = &original["db"][0]["data"];
        assert!(data["posts"].as_array().map_or(0, Vec::len) >= 60);
        assert!(data["members"].as_array().map_or(0, Vec::len) > 1_000);
        let file = s.data.join("export.json");
        let out = cli(
            &s.data,
            &["export", "--output", file.to_str().expect("path")],
        );
        assert!(out.status.success(), "{}", text(&out));
        let fresh = TempDir::new("roundtrip-target");
        let out = cli(&fresh.0, &["import", "ghost", file.to_str().expect("path")]);
        assert!(out.status.success(), "{}", text(&out));
        assert!(
            text(&out).contains("Nothing was skipped."),
            "{}",
            text(&out)
        );
        assert_eq!(
            export_of(&fresh.0),
            original,
            "the round trip changed something"
        );
        // Ghost's own fields are there for Ghost.
        let post = &data["posts"][0];
        for key in [
            "id",
            "uuid",
            "title",
            "slug",
            "html",
            "lexical",
            "status",
            "type",
            "visibility",
            "created_at",
            "published_at",
        ] {
            assert!(post.get(key).is_some(), "posts have {key}");
        }
        assert_eq!(post["id"].as_str().map(str::len), Some(24));
    })
    .await;
}

fn paid_fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ghost-5-paid.json")
}

#[tokio::test]
async fn paid_memberships_come_in_and_go_out_as_ghost_has_them() {
    let dir = TempDir::new("import-paid");
    let file = paid_fixture();
    let out = cli(&dir.0, &["import", "ghost", file.to_str().expect("path")]);
    let report = text(&out);
    assert!(out.status.success(), "{report}");
    for want in [
        "posts:   1 added; pages: 0 added",
        "members: 4 added, 0 already members",
        "tiers: 2 added, 1 already present",
        "paid memberships: 3 Stripe customers linked, 3 subscriptions written, 1 comps",
        "tier \"\": it has no usable slug or name",
        "Stripe price price_TipJar300: a one-time price is not a membership price",
        "Stripe customer \"cus_GoneZ0z0\": its member is not in the file",
        "subscription \"sub_Broken\": it lacks its id, customer or status",
    ] {
        assert!(report.contains(want), "missing {want:?} in:\n{report}");
    }
    let first = export_of(&dir.0);
    let data = &first["db"][0]["data"];
    let rows = |k: &str| data[k].as_array().map_or(0, Vec::len);
    assert_eq!(
        (
            rows("products"),
            rows("stripe_products"),
            rows("stripe_prices")
        ),
        (3, 2, 5),
        "tiers, Stripe products and recurring prices"
    );
    assert_eq!(
        (
            rows("members_stripe_customers"),
            rows("members_stripe_customers_subscriptions"),
            rows("members_products")
        ),
        (3, 3, 3)
    );
    let status_of = |email: &str| {
        data["members"]
            .as_array()
            .and_then(|ms| ms.iter().find(|m| m["email"] == email))
            .map(|m| m["status"].clone())
    };
    assert_eq!(status_of("alda.skipper@example.net"), Some("paid".into()));
    assert_eq!(status_of("joss.pilot@example.net"), Some("comped".into()));
    assert_eq!(
        status_of("rue.deckhand@example.net"),
        Some("free".into()),
        "an ended subscription leaves a free member"
    );
    let inactive = data["stripe_prices"]
        .as_array()
        .and_then(|ps| {
            ps.iter()
                .find(|p| p["stripe_price_id"] == "price_HarbourM500")
        })
        .expect("old price");
    assert_eq!(inactive["active"], false, "a retired price stays retired");
    // Ghost's importer finds a tier's prices by their rows' ids.
    let harbour = data["products"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["slug"] == "harbour-pass"))
        .expect("harbour pass");
    let monthly = data["stripe_prices"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["id"] == harbour["monthly_price_id"]))
        .expect("the monthly price's row");
    assert_eq!(monthly["stripe_price_id"], "price_HarbourM600");

    // Again: nothing added, nothing changed.
    let again = cli(&dir.0, &["import", "ghost", file.to_str().expect("path")]);
    let again_report = text(&again);
    assert!(again.status.success(), "{again_report}");
    assert!(
        again_report.contains("tiers: 0 added, 3 already present")
            && again_report.contains("0 subscriptions written, 0 comps"),
        "{again_report}"
    );
    assert_eq!(export_of(&dir.0), first, "a second import changed the site");

    // Export, import into an empty site, export: the same file.
    let exported = dir.0.join("paid-export.json");
    let out = cli(
        &dir.0,
        &["export", "--output", exported.to_str().expect("path")],
    );
    assert!(out.status.success(), "{}", text(&out));
    let fresh = TempDir::new("import-paid-again");
    let out = cli(
        &fresh.0,
        &["import", "ghost", exported.to_str().expect("path")],
    );
    assert!(
        text(&out).contains("Nothing was skipped."),
        "{}",
        text(&out)
    );
    assert_eq!(
        export_of(&fresh.0),
        first,
        "the round trip changed something"
    );

    // The desk shows the subscription; the Admin API shows it as Ghost 5 does.
    let mut server = Server::start(&dir.0);
    let (cookie, _) = signed_in(&server, "owner@harbour.example", "administrator").await;
    let res = client()
        .get(server.url("/ghost/api/admin/members/?filter=email:'alda.skipper@example.net'"))
        .header(header::COOKIE, &cookie)
        .send()
        .await
        .expect("members");
    assert_eq!(res.status().as_u16(), 200);
    let body: serde_json::Value = res.json().await.expect("json");
    let alda = body["members"]
        .as_array()
        .and_then(|ms| ms.iter().find(|m| m["email"] == "alda.skipper@example.net"))
        .expect("alda")
        .clone();
    let id = alda["id"].as_str().expect("id");
    let member_id = i64::from_str_radix(id, 16).expect("hex id");
    let res = client()
        .get(server.url(&format!("/admin/members/{member_id}")))
        .header(header::COOKIE, &cookie)
        .send()
        .await
        .expect("member page");
    assert_eq!(res.status().as_u16(), 200);
    let page = res.text().await.expect("html");
    assert!(
        page.contains("<code>sub_AldaHarbour1</code>: active"),
        "the desk lists the subscription"
    );
    let res = client()
        .get(server.url(
            "/ghost/api/admin/tiers/?filter=type:paid%2Bactive:true&include=monthly_price,yearly_price,benefits",
        ))
        .header(header::COOKIE, &cookie)
        .send()
        .await
        .expect("tiers");
    assert_eq!(res.status().as_u16(), 200);
    let tiers: serde_json::Value = res.json().await.expect("json");
    let tiers = tiers["tiers"].as_array().expect("tiers");
    assert_eq!(tiers.len(), 2, "the two imported paid tiers: {tiers:?}");
    let harbour = tiers
        .iter()
        .find(|t| t["slug"] == "harbour-pass")
        .expect("harbour pass");
    assert_eq!(harbour["monthly_price"], 600);
    assert_eq!(
        harbour["benefits"],
        serde_json::json!(["Tide tables a week early", "The Friday pilot's log"]),
        "benefits in their order"
    );
    let key = super::api::create_key(&server, "admin");
    let out = super::api::run_client(
        "members-paid.js",
        &[("MASTHEAD_URL", &server.base), ("MASTHEAD_ADMIN_KEY", &key)],
    );
    assert!(out.trim_end().ends_with("checks"), "{out}");
    assert_eq!(server.terminate().code(), Some(0));
}
