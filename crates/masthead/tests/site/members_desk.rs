//! Members in the desk through the real server (issue 10, items 7 and 8):
//! CSV import with a report of refused rows (and nothing of them written),
//! the list's search, filters and keyset pages, a member's page, members
//! added by hand, the filtered CSV export read back by another site, the
//! growth chart, newsletters, and who may see any of it.

use super::*;

/// A server on an empty site (no demo members to count around).
pub(crate) fn start(dir: &TempDir) -> Server {
    Server::start_with_env(&dir.0, &[("MASTHEAD_NO_DEMO", "true")])
}

/// `data-member-id` values in order of appearance.
fn member_ids(html: &str) -> Vec<i64> {
    html.split("data-member-id=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next()?.parse().ok())
        .collect()
}

/// The "N members match" count of a members page.
fn match_count(html: &str) -> u64 {
    html.split("id=\"member-count\">")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in {html}"))
}

pub(crate) async fn desk_get(s: &Server, cookie: &str, path: &str) -> (u16, String) {
    let res = client()
        .get(s.url(path))
        .header(header::COOKIE, cookie)
        .send()
        .await
        .expect("get");
    (res.status().as_u16(), res.text().await.expect("body"))
}

async fn desk_post(s: &Server, cookie: &str, path: &str, form: &[(&str, &str)]) -> (u16, String) {
    let res = client()
        .post(s.url(path))
        .header(header::COOKIE, cookie)
        .form(form)
        .send()
        .await
        .expect("post");
    (res.status().as_u16(), res.text().await.expect("body"))
}

/// Uploads `csv` to the import form; the status and the report page.
async fn import(s: &Server, cookie: &str, csrf: &str, csv: String) -> (u16, String) {
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf.to_owned())
        .part(
            "file",
            reqwest::multipart::Part::bytes(csv.into_bytes())
                .file_name("members.csv")
                .mime_str("text/csv")
                .expect("mime"),
        );
    let res = client()
        .post(s.url("/admin/members/import"))
        .header(header::COOKIE, cookie)
        .multipart(form)
        .send()
        .await
        .expect("import");
    (res.status().as_u16(), res.text().await.expect("report"))
}

/// (line, reason) of every refused row in an import report.
fn refused(html: &str) -> Vec<(usize, String)> {
    html.split("<tr data-line=\"")
        .skip(1)
        .map(|row| {
            let line = row
                .split('"')
                .next()
                .and_then(|n| n.parse().ok())
                .expect("line");
            let reason = row
                .split("<td>")
                .nth(2)
                .and_then(|r| r.split("</td>").next())
                .expect("reason")
                .to_owned();
            (line, reason)
        })
        .collect()
}

/// Every page of the list for `filters`, following "Next page" links.
async fn walk(s: &Server, cookie: &str, filters: &str) -> (Vec<i64>, u64, usize) {
    let mut ids = Vec::new();
    let mut pages = 0;
    let mut path = format!("/admin/members?{filters}");
    let mut total = None;
    loop {
        let (status, html) = desk_get(s, cookie, &path).await;
        assert_eq!(status, 200, "{path}: {html}");
        pages += 1;
        total.get_or_insert(match_count(&html));
        ids.extend(member_ids(&html));
        match html
            .split("rel=\"next\" href=\"")
            .nth(1)
            .and_then(|x| x.split('"').next())
        {
            Some(next) => path = next.replace("&amp;", "&"),
            None => break,
        }
        assert!(pages < 20, "the pages never end");
    }
    (ids, total.unwrap_or(0), pages)
}

#[tokio::test]
async fn the_members_desk_imports_lists_filters_edits_and_exports() {
    let dir = TempDir::new("members-desk");
    let s = start(&dir);
    let (cookie, csrf) = signed_in(&s, "owner@courier.example", "owner").await;

    // 62 good rows (line 2 onwards), then broken ones at known lines.
    let mut csv = String::from(
        "email,name,note,subscribed_to_emails,complimentary_plan,stripe_customer_id,created_at,deleted_at,labels,tiers\r\n",
    );
    for i in 0..62 {
        let labels = if i % 10 == 0 {
            "\"VIP, Press\""
        } else if i % 2 == 0 {
            "Press"
        } else {
            ""
        };
        let created = if i < 60 {
            format!("2025-03-{:02}T10:00:00.000Z", 1 + i % 28)
        } else {
            String::new()
        };
        csv.push_str(&format!(
            "reader{i}@example.org,Reader {i},\"Note, {i}\",{},{},,{created},,{labels},\r\n",
            if i % 3 == 0 { "false" } else { "true" },
            if i == 5 { "true" } else { "false" },
        ));
    }
    csv.push_str("not-an-address,Bad,,,,,,,,\r\n"); // line 64
    csv.push_str("READER7@example.org,Again,,,,,,,,\r\n"); // 65: duplicate of line 9
    csv.push_str("dated@example.org,Dated,,,,,2025-02-30,,,\r\n"); // 66: no such day
    csv.push_str("quo\"ted@example.org,Quoted,,,,,,,,\r\n"); // 67: broken quoting
    csv.push_str("\"open@example.org,Open,,,,,,,,\r\n"); // 68: never closed
    let (status, report) = import(&s, &cookie, &csrf, csv).await;
    assert_eq!(status, 422, "refused rows make it a 422: {report}");
    assert!(report.contains("62 members imported"), "{report}");
    let refused = refused(&report);
    let lines: Vec<usize> = refused.iter().map(|r| r.0).collect();
    assert_eq!(lines, vec![64, 65, 66, 67, 68], "{refused:?}");
    assert!(
        refused[0].1.contains("malformed e-mail address"),
        "{refused:?}"
    );
    assert!(
        refused[1].1.contains("duplicate") && refused[1].1.contains("line 9"),
        "{refused:?}"
    );
    assert!(refused[2].1.contains("bad date"), "{refused:?}");
    assert!(refused[3].1.contains("broken quoting"), "{refused:?}");
    assert!(refused[4].1.contains("never closed"), "{refused:?}");
    // Nothing of the refused rows was written, and imports send no mail.
    for q in ["q=dated", "q=quo", "q=open%40", "q=again", "q=not-an"] {
        assert_eq!(walk(&s, &cookie, q).await.1, 0, "{q}");
    }
    assert!(
        !dir.0.join("outbox").exists()
            || std::fs::read_dir(dir.0.join("outbox"))
                .expect("outbox")
                .next()
                .is_none(),
        "an import mails nobody"
    );
    // Importing the same file again adds nobody: every row is a duplicate.
    let again = "email,name\nreader1@example.org,Reader 1\n".to_owned();
    let (status, report) = import(&s, &cookie, &csrf, again).await;
    assert_eq!(status, 422);
    assert!(
        report.contains("0 members imported") && report.contains("already a member"),
        "{report}"
    );

    // Keyset pages of 50: every member once, newest first, across pages.
    let (ids, total, pages) = walk(&s, &cookie, "").await;
    assert_eq!((total, ids.len(), pages), (62, 62, 2));
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), 62, "no member twice");
    // The two without a date joined now: they come first.
    let (first, _, _) = walk(&s, &cookie, "q=reader61%40").await;
    assert!(
        ids[0..2].contains(&first[0]),
        "the undated join now: {ids:?}"
    );

    // Filters, alone and together; counts follow them.
    assert_eq!(
        walk(&s, &cookie, "q=READER1").await.1,
        11,
        "reader1, reader10-19"
    );
    assert_eq!(walk(&s, &cookie, "label=vip").await.1, 7);
    assert_eq!(walk(&s, &cookie, "label=press").await.1, 31);
    assert_eq!(walk(&s, &cookie, "status=comped").await.1, 1);
    assert_eq!(walk(&s, &cookie, "status=comped&q=reader5%40").await.1, 1);
    assert_eq!(walk(&s, &cookie, "bouncing=yes").await.1, 0);
    assert_eq!(walk(&s, &cookie, "bouncing=no").await.1, 62);
    // 2025-03-01 .. 03-02: i % 28 in {0, 1}, i < 60: 0, 1, 28, 29, 56, 57.
    assert_eq!(
        walk(&s, &cookie, "from=2025-03-01&to=2025-03-02").await.1,
        6
    );
    // `subscribed_to_emails` false: no newsletter (21 of the 62).
    assert_eq!(walk(&s, &cookie, "newsletter=1").await.1, 41);
    let (status, _) = desk_get(&s, &cookie, "/admin/members?status=gold").await;
    assert_eq!(status, 400);
    let (status, _) = desk_get(&s, &cookie, "/admin/members?after=oops").await;
    assert_eq!(status, 400);

    // A member's page: note, labels (a new one), newsletters, history.
    let (ids, _, _) = walk(&s, &cookie, "q=reader3%40").await;
    let id = ids[0];
    let (status, html) = desk_get(&s, &cookie, &format!("/admin/members/{id}")).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("Note, 3") && html.contains("id=\"emails-received\""),
        "{html}"
    );
    let (status, html) = desk_post(
        &s,
        &cookie,
        &format!("/admin/members/{id}"),
        &[
            ("csrf", csrf.as_str()),
            ("name", "Reader Three"),
            ("email", "reader3@example.org"),
            ("note", "Met at the harbour fair"),
            ("labels", "Harbour fair, Press"),
            ("newsletter", "1"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("Met at the harbour fair") && html.contains("Harbour fair, Press"),
        "{html}"
    );
    assert_eq!(walk(&s, &cookie, "label=harbour-fair").await.0, vec![id]);
    assert_eq!(walk(&s, &cookie, "newsletter=1").await.1, 42);
    // Another member's address is refused; a form without the token too.
    let (status, _) = desk_post(
        &s,
        &cookie,
        &format!("/admin/members/{id}"),
        &[("csrf", csrf.as_str()), ("email", "reader4@example.org")],
    )
    .await;
    assert_eq!(status, 409);
    let (status, _) = desk_post(
        &s,
        &cookie,
        &format!("/admin/members/{id}"),
        &[("note", "x")],
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = desk_get(&s, &cookie, "/admin/members/999999").await;
    assert_eq!(status, 404);

    // Added by hand: a member at once, with the newsletters ticked.
    let (status, _) = desk_post(
        &s,
        &cookie,
        "/admin/members",
        &[
            ("csrf", csrf.as_str()),
            ("email", "Walk.In@Example.org"),
            ("name", "Walk In"),
            ("labels", "Front desk"),
        ],
    )
    .await;
    assert_eq!(status, 303);
    let (found, _, _) = walk(&s, &cookie, "q=walk.in&label=front-desk").await;
    assert_eq!(found.len(), 1);
    assert_eq!(
        walk(&s, &cookie, "q=walk.in&newsletter=1").await.1,
        0,
        "no box ticked, no newsletter"
    );
    let (status, html) = desk_post(
        &s,
        &cookie,
        "/admin/members",
        &[("csrf", csrf.as_str()), ("email", "walk.in@example.org")],
    )
    .await;
    assert_eq!(status, 422);
    assert!(html.contains("already a member"), "{html}");
    let (status, _) = desk_post(
        &s,
        &cookie,
        "/admin/members",
        &[("csrf", csrf.as_str()), ("email", "nope")],
    )
    .await;
    assert_eq!(status, 422);

    // The growth chart: the three who joined today (two undated imports and
    // the walk-in), drawn as SVG with a table beside it.
    let (_, home) = desk_get(&s, &cookie, "/admin/").await;
    assert!(
        home.contains("<svg class=\"growth\"") && home.contains("role=\"img\""),
        "{home}"
    );
    assert!(home.contains("3 joined in the last 30 days"), "{home}");
    // The growth card's bars (the revenue card beside it has its own).
    let growth_bars = |html: &str| {
        html.split("id=\"growth\"")
            .nth(1)
            .and_then(|rest| rest.split("</section>").next())
            .map_or(0, |card| card.matches("<rect").count())
    };
    assert_eq!(growth_bars(&home), 30);
    let (_, home90) = desk_get(&s, &cookie, "/admin/?days=90").await;
    assert_eq!(growth_bars(&home90), 90);

    // The export: Ghost's header, the filtered members, read back by a
    // second site to the same members, notes and labels.
    let res = client()
        .get(s.url("/admin/members/export.csv?label=press"))
        .header(header::COOKIE, &cookie)
        .send()
        .await
        .expect("export");
    assert_eq!(res.status().as_u16(), 200);
    assert!(
        res.headers()[header::CONTENT_TYPE]
            .to_str()
            .expect("type")
            .starts_with("text/csv")
    );
    let exported = res.text().await.expect("csv");
    assert!(exported.starts_with(
        "id,email,name,note,subscribed_to_emails,complimentary_plan,stripe_customer_id,created_at,deleted_at,labels,tiers\r\n"
    ));
    assert_eq!(
        exported.lines().count(),
        1 + 32,
        "the 31 Press members and Reader Three"
    );
    assert!(
        exported.contains("reader3@example.org,Reader Three,Met at the harbour fair,true,false,,"),
        "{exported}"
    );
    assert!(exported.contains("\"Harbour fair,Press\""), "{exported}");

    let dir2 = TempDir::new("members-desk-copy");
    let s2 = start(&dir2);
    let (cookie2, csrf2) = signed_in(&s2, "owner@courier.example", "owner").await;
    let (status, report) = import(&s2, &cookie2, &csrf2, exported.clone()).await;
    assert_eq!(status, 200, "{report}");
    assert!(report.contains("32 members imported"), "{report}");
    let back = client()
        .get(s2.url("/admin/members/export.csv"))
        .header(header::COOKIE, &cookie2)
        .send()
        .await
        .expect("export")
        .text()
        .await
        .expect("csv");
    // Ids differ between sites; everything else survives the round trip.
    let rows = |csv: &str| {
        let mut v: Vec<String> = csv
            .lines()
            .skip(1)
            .map(|l| l.split_once(',').map(|x| x.1.to_owned()).expect("id,"))
            .collect();
        v.sort();
        v
    };
    assert_eq!(rows(&back), rows(&exported));
}

#[tokio::test]
async fn newsletters_are_managed_in_the_desk_and_offered_on_joining() {
    let dir = TempDir::new("newsletters-desk");
    let s = start(&dir);
    let (cookie, csrf) = signed_in(&s, "owner@courier.example", "owner").await;
    let (status, html) = desk_post(
        &s,
        &cookie,
        "/admin/newsletters",
        &[
            ("csrf", csrf.as_str()),
            ("name", "Weekend reads"),
            ("description", "Long stories for Saturday"),
            ("sender_name", "Zoë at the Courier"),
            ("sender_reply_to", "support"),
        ],
    )
    .await;
    assert_eq!(status, 303, "{html}");
    let (_, list) = desk_get(&s, &cookie, "/admin/newsletters").await;
    assert!(
        list.contains("Weekend reads") && list.contains("Zoë at the Courier"),
        "{list}"
    );
    let id: i64 = list
        .split("data-newsletter-id=\"")
        .nth(2)
        .and_then(|x| x.split('"').next())
        .and_then(|x| x.parse().ok())
        .expect("the new newsletter's id");
    // Offered on the join form, not ticked (it is not for new members by default).
    let (_, _, join) = get(&s.url("/join/")).await;
    assert!(join.contains("Weekend reads"), "{join}");
    // Bad input is refused with the reason; a taken name too.
    let (status, html) = desk_post(
        &s,
        &cookie,
        "/admin/newsletters",
        &[("csrf", csrf.as_str()), ("name", " ")],
    )
    .await;
    assert_eq!(status, 422);
    assert!(html.contains("needs a name"), "{html}");
    let (status, _) = desk_post(
        &s,
        &cookie,
        "/admin/newsletters",
        &[("csrf", csrf.as_str()), ("name", "Weekend reads")],
    )
    .await;
    assert_eq!(status, 409);
    let (status, _) = desk_post(
        &s,
        &cookie,
        "/admin/newsletters",
        &[
            ("csrf", csrf.as_str()),
            ("name", "X"),
            ("sender_reply_to", "everyone"),
        ],
    )
    .await;
    assert_eq!(status, 422);
    // Archived: kept in the desk, no longer offered.
    let (status, html) = desk_post(
        &s,
        &cookie,
        &format!("/admin/newsletters/{id}"),
        &[
            ("csrf", csrf.as_str()),
            ("name", "Weekend reads"),
            ("description", "Long stories for Saturday"),
            ("archived", "1"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    let (_, _, join) = get(&s.url("/join/")).await;
    assert!(!join.contains("Weekend reads"), "{join}");
    let (_, list) = desk_get(&s, &cookie, "/admin/newsletters").await;
    assert!(list.contains("archived"), "{list}");
    let (status, _) = desk_get(&s, &cookie, "/admin/newsletters/999").await;
    assert_eq!(status, 404);
}

/// Members' personal data is for administrators and the owner only.
#[tokio::test]
async fn only_administrators_and_the_owner_see_members() {
    let dir = TempDir::new("members-roles");
    let s = start(&dir);
    let (admin, admin_csrf) = signed_in(&s, "admin@courier.example", "administrator").await;
    let (status, _) = desk_post(
        &s,
        &admin,
        "/admin/members",
        &[
            ("csrf", admin_csrf.as_str()),
            ("email", "private@example.org"),
        ],
    )
    .await;
    assert_eq!(status, 303);
    let (status, html) = desk_get(&s, &admin, "/admin/members").await;
    assert_eq!(status, 200);
    let id = member_ids(&html)[0];
    for role in ["contributor", "author", "editor"] {
        let (cookie, csrf) = signed_in(&s, &format!("{role}@courier.example"), role).await;
        for path in [
            "/admin/members".to_owned(),
            format!("/admin/members/{id}"),
            "/admin/members/export.csv".to_owned(),
            "/admin/newsletters".to_owned(),
        ] {
            let (status, body) = desk_get(&s, &cookie, &path).await;
            assert_eq!(status, 403, "{role} {path}");
            assert!(!body.contains("private@example.org"), "{role} {path}");
        }
        let (status, _) = desk_post(
            &s,
            &cookie,
            &format!("/admin/members/{id}"),
            &[("csrf", csrf.as_str()), ("email", "stolen@example.org")],
        )
        .await;
        assert_eq!(status, 403, "{role} edits");
        let (status, _) = import(&s, &cookie, &csrf, "email\nx@example.org\n".into()).await;
        assert_eq!(status, 403, "{role} imports");
        let (_, home) = desk_get(&s, &cookie, "/admin/").await;
        assert!(
            !home.contains("class=\"growth\"") && !home.contains("/admin/members"),
            "{role}"
        );
    }
    // Signed out: to the sign-in page.
    let (status, _, _) = get(&s.url("/admin/members")).await;
    assert_eq!(status, 303);
}

async fn api(
    s: &Server,
    cookie: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let mut req = client()
        .request(method, s.url(&format!("/ghost/api/admin{path}")))
        .header(header::COOKIE, cookie);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.expect("api");
    let status = res.status().as_u16();
    (status, res.json().await.expect("json"))
}

/// The Admin API's members carry labels, newsletters, note, status and the
/// bouncing flag, filter on them, and newsletters are a resource of their own.
#[tokio::test]
async fn the_admin_api_members_have_labels_and_newsletters() {
    use reqwest::Method;
    use serde_json::json;
    let dir = TempDir::new("members-api");
    let s = start(&dir);
    let (cookie, _) = signed_in(&s, "owner@courier.example", "owner").await;

    let (status, body) = api(&s, &cookie, Method::GET, "/newsletters/", None).await;
    assert_eq!(status, 200, "{body}");
    let default = body["newsletters"][0].clone();
    assert_eq!(default["slug"], "default-newsletter");
    assert_eq!(default["subscribe_on_signup"], true);
    let default_id = default["id"].as_str().expect("id").to_owned();
    assert_eq!(default_id.len(), 24);

    let (status, body) = api(
        &s,
        &cookie,
        Method::POST,
        "/members/",
        Some(json!({ "members": [{
            "email": "ada@example.org", "name": "Ada", "note": "From the fair",
            "labels": ["VIP", { "name": "Press" }],
            "newsletters": [{ "id": default_id }],
        }] })),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let ada = &body["members"][0];
    let slugs: Vec<&str> = ada["labels"]
        .as_array()
        .expect("labels")
        .iter()
        .filter_map(|l| l["slug"].as_str())
        .collect();
    assert_eq!(slugs, vec!["press", "vip"]);
    assert_eq!(ada["labels"][0]["id"].as_str().map(str::len), Some(24));
    assert_eq!(ada["newsletters"][0]["slug"], "default-newsletter");
    assert_eq!(
        (ada["note"].as_str(), ada["status"].as_str()),
        (Some("From the fair"), Some("free"))
    );
    assert_eq!(
        (ada["email_disabled"].as_bool(), ada["subscribed"].as_bool()),
        (Some(false), Some(true))
    );
    let ada_id = ada["id"].as_str().expect("id").to_owned();

    let (status, body) = api(
        &s,
        &cookie,
        Method::POST,
        "/members/",
        Some(json!({ "members": [{ "email": "bo@example.org", "subscribed": false, "comped": true, "labels": [{ "slug": "vip" }] }] })),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["members"][0]["newsletters"], json!([]));
    assert_eq!(body["members"][0]["status"], "comped");
    assert_eq!(body["members"][0]["labels"][0]["name"], "VIP");
    // Without a choice, the newsletters new members get.
    let (_, body) = api(
        &s,
        &cookie,
        Method::POST,
        "/members/",
        Some(json!({ "members": [{ "email": "cy@example.org" }] })),
    )
    .await;
    assert_eq!(
        body["members"][0]["newsletters"][0]["slug"],
        "default-newsletter"
    );

    let count = |filter: &'static str| {
        let (s, cookie) = (&s, &cookie);
        async move {
            let (status, body) = api(
                s,
                cookie,
                Method::GET,
                &format!("/members/?filter={filter}"),
                None,
            )
            .await;
            assert_eq!(status, 200, "{filter}: {body}");
            body["members"].as_array().expect("members").len()
        }
    };
    assert_eq!(count("label:vip").await, 2);
    assert_eq!(count("labels.slug:press").await, 1);
    assert_eq!(count("status:free").await, 2);
    assert_eq!(count("status:comped%2Blabel:vip").await, 1);
    assert_eq!(count("newsletters.slug:default-newsletter").await, 2);
    assert_eq!(count("email_disabled:false").await, 3);
    let (status, _) = api(&s, &cookie, Method::GET, "/members/?filter=label:", None).await;
    assert_eq!(status, 400);

    // Edits: labels replaced (a new one created), the note cleared, no newsletters.
    let (status, body) = api(
        &s,
        &cookie,
        Method::PUT,
        &format!("/members/{ada_id}/"),
        Some(json!({ "members": [{ "labels": ["Early readers"], "note": null, "newsletters": [] }] })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let ada = &body["members"][0];
    assert_eq!(ada["labels"][0]["slug"], "early-readers");
    assert_eq!(ada["labels"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        (ada["note"].clone(), ada["newsletters"].clone()),
        (json!(null), json!([]))
    );
    for bad in [
        json!({ "members": [{ "newsletters": [{ "id": "ffffffffffffffffffffff99" }] }] }),
        json!({ "members": [{ "labels": "VIP" }] }),
        json!({ "members": [{ "labels": [{ "slug": "nobody-has-this" }] }] }),
        json!({ "members": [{ "note": 5 }] }),
        json!({ "members": [{ "email": "bo@example.org" }] }),
    ] {
        let (status, body) = api(
            &s,
            &cookie,
            Method::PUT,
            &format!("/members/{ada_id}/"),
            Some(bad.clone()),
        )
        .await;
        assert_eq!(status, 422, "{bad}: {body}");
        assert_eq!(body["errors"][0]["type"], "ValidationError", "{body}");
    }

    // Newsletters: add, read, edit, archive; bad input is a 422.
    let (status, body) = api(
        &s,
        &cookie,
        Method::POST,
        "/newsletters/",
        Some(json!({ "newsletters": [{ "name": "Weekend reads", "description": "Saturdays", "subscribe_on_signup": false }] })),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let weekend = body["newsletters"][0].clone();
    assert_eq!(
        (weekend["slug"].as_str(), weekend["status"].as_str()),
        (Some("weekend-reads"), Some("active"))
    );
    assert_eq!(weekend["sender_reply_to"], "newsletter");
    let wid = weekend["id"].as_str().expect("id").to_owned();
    for bad in [
        json!({ "newsletters": [{ "name": "" }] }),
        json!({ "newsletters": [{ "name": "Weekend reads" }] }),
        json!({ "newsletters": [{ "name": "X", "sender_reply_to": "everyone" }] }),
        json!({ "newsletters": [{ "name": "X", "subscribe_on_signup": "yes" }] }),
        json!({ "nope": [] }),
    ] {
        let (status, body) = api(
            &s,
            &cookie,
            Method::POST,
            "/newsletters/",
            Some(bad.clone()),
        )
        .await;
        assert_eq!(status, 422, "{bad}: {body}");
    }
    let (status, body) = api(
        &s,
        &cookie,
        Method::PUT,
        &format!("/newsletters/{wid}/"),
        Some(json!({ "newsletters": [{ "status": "archived" }] })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["newsletters"][0]["status"], "archived");
    assert_eq!(
        body["newsletters"][0]["description"], "Saturdays",
        "unsent fields are kept"
    );
    let (_, body) = api(
        &s,
        &cookie,
        Method::GET,
        "/newsletters/?filter=status:active",
        None,
    )
    .await;
    assert_eq!(body["newsletters"].as_array().map(Vec::len), Some(1));
    let (status, _) = api(
        &s,
        &cookie,
        Method::GET,
        &format!("/newsletters/{wid}/"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = api(
        &s,
        &cookie,
        Method::GET,
        "/newsletters/ffffffffffffffffffffff99/",
        None,
    )
    .await;
    assert_eq!(status, 404);
    // An archived newsletter is not given to members.
    let (status, _) = api(
        &s,
        &cookie,
        Method::PUT,
        &format!("/members/{ada_id}/"),
        Some(json!({ "members": [{ "newsletters": [{ "id": wid }] }] })),
    )
    .await;
    assert_eq!(status, 422);

    // An editor may not use any of it.
    let (editor, _) = signed_in(&s, "editor@courier.example", "editor").await;
    for path in ["/members/", "/newsletters/"] {
        let (status, _) = api(&s, &editor, Method::GET, path, None).await;
        assert_eq!(status, 403, "{path}");
    }
}

/// A Ghost export carries labels, notes and newsletters, and an import
/// brings them back: the second site exports the same members.
#[tokio::test]
async fn ghost_exports_carry_labels_notes_and_newsletters() {
    let dir = TempDir::new("members-ghost");
    let s = start(&dir);
    let (cookie, csrf) = signed_in(&s, "owner@courier.example", "owner").await;
    let (status, _) = desk_post(
        &s,
        &cookie,
        "/admin/newsletters",
        &[
            ("csrf", csrf.as_str()),
            ("name", "Weekend reads"),
            ("sender_reply_to", "support"),
        ],
    )
    .await;
    assert_eq!(status, 303);
    let (_, list) = desk_get(&s, &cookie, "/admin/newsletters").await;
    let weekend: String = list
        .split("data-newsletter-id=\"")
        .nth(2)
        .and_then(|x| x.split('"').next())
        .expect("id")
        .to_owned();
    for (email, labels, letters) in [
        ("ada@example.org", "VIP, Press", vec!["1", weekend.as_str()]),
        ("bo@example.org", "Press", vec![weekend.as_str()]),
        ("cy@example.org", "", vec![]),
    ] {
        let mut form = vec![
            ("csrf", csrf.as_str()),
            ("email", email),
            ("labels", labels),
            ("note", "A note, with \"quotes\""),
        ];
        form.extend(letters.iter().map(|l| ("newsletter", *l)));
        let (status, body) = desk_post(&s, &cookie, "/admin/members", &form).await;
        assert_eq!(status, 303, "{body}");
    }
    let export = |data: &Path| {
        let out = super::transfer::cli(data, &["export"]);
        assert!(out.status.success(), "{}", super::transfer::text(&out));
        let mut v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        v["db"][0]["meta"]
            .as_object_mut()
            .expect("meta")
            .remove("exported_on");
        v
    };
    let original = export(&dir.0);
    let data = &original["db"][0]["data"];
    assert_eq!(data["labels"].as_array().map(Vec::len), Some(2));
    assert_eq!(data["members_labels"].as_array().map(Vec::len), Some(3));
    assert_eq!(data["newsletters"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        data["members_newsletters"].as_array().map(Vec::len),
        Some(3)
    );
    assert_eq!(data["members"][0]["note"], "A note, with \"quotes\"");
    assert_eq!(data["members"][2]["subscribed"], false);

    let file = dir.0.join("export.json");
    std::fs::write(&file, serde_json::to_vec(&original).expect("json")).expect("write");
    let fresh = TempDir::new("members-ghost-target");
    let out = super::transfer::cli(&fresh.0, &["import", "ghost", file.to_str().expect("path")]);
    let said = super::transfer::text(&out);
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains("newsletters: 1 added, 1 already present"),
        "{said}"
    );
    assert!(said.contains("Nothing was skipped."), "{said}");
    // Members and what hangs on them come back the same (staff accounts are
    // not imported, so the byline's address differs: not compared).
    let again = export(&fresh.0);
    for key in [
        "members",
        "labels",
        "members_labels",
        "newsletters",
        "members_newsletters",
    ] {
        assert_eq!(
            again["db"][0]["data"][key], data[key],
            "the round trip changed {key}"
        );
    }
}
