//! The desk's pickers and front page through the real server (issue 12,
//! items 3 and 5): the JSON search behind the tag and byline pickers (a
//! session needed, the role rules, clear 4xx answers to bad input), adding
//! a tag or byline from the editor, and the front page's lists with a
//! quick entry to a live roundup.

use serde_json::Value;

use super::*;

/// A desk request with the session cookie; status, content type, body.
async fn desk_json(
    s: &Server,
    cookie: Option<&str>,
    path: &str,
    form: Option<&[(&str, &str)]>,
) -> (u16, String, Value) {
    let c = client();
    let mut req = match form {
        Some(f) => c.post(s.url(path)).form(f),
        None => c.get(s.url(path)),
    };
    if let Some(cookie) = cookie {
        req = req.header(header::COOKIE, cookie);
    }
    let res = req.send().await.expect("request");
    let status = res.status().as_u16();
    let kind = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let cache = res
        .headers()
        .get(header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = res.text().await.expect("body");
    assert!(
        kind.starts_with("application/json"),
        "{path}: {status} answered {kind}: {body}"
    );
    assert_eq!(cache, "no-store", "{path}");
    (status, kind, serde_json::from_str(&body).expect("json"))
}

fn slugs(v: &Value) -> Vec<String> {
    v["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["slug"].as_str().expect("slug").to_owned())
        .collect()
}

fn error_of(v: &Value) -> &str {
    v["error"].as_str().expect("an error message")
}

#[tokio::test]
async fn picker_search_needs_a_session_follows_the_roles_and_refuses_bad_input() {
    with_server("pickers", |s| async move {
        // No session: 401 in JSON, not a redirect to the sign-in page.
        let (status, _, v) = desk_json(&s, None, "/admin/pickers/tags?q=hous", None).await;
        assert_eq!(status, 401);
        assert!(error_of(&v).contains("Sign in"));
        let (status, _, _) = desk_json(
            &s,
            None,
            "/admin/pickers/tags",
            Some(&[("csrf", "x"), ("name", "Sneaky")]),
        )
        .await;
        assert_eq!(status, 401);

        let (editor, editor_csrf) = signed_in(&s, "ed@courier.example", "editor").await;
        let ed = Some(editor.as_str());
        // Typing finds tags by name or slug, those starting with it first.
        let (status, _, v) = desk_json(&s, ed, "/admin/pickers/tags?q=HOUS", None).await;
        assert_eq!(status, 200);
        assert_eq!(
            slugs(&v).first().map(String::as_str),
            Some("housing"),
            "{v}"
        );
        assert_eq!(v["can_create"], true);
        assert!(v["items"][0]["name"].is_string() && v["items"][0]["id"].is_i64());
        let (_, _, v) = desk_json(&s, ed, "/admin/pickers/tags?q=&limit=2", None).await;
        assert_eq!(slugs(&v).len(), 2, "an empty search lists the first ones");
        let (_, _, v) = desk_json(&s, ed, "/admin/pickers/tags?q=zzzqqq", None).await;
        assert!(slugs(&v).is_empty());
        // The chips' names: the slugs asked for, in that order, unknown ones left out.
        let (_, _, v) = desk_json(
            &s,
            ed,
            "/admin/pickers/tags?slugs=housing,no-such-tag,city",
            None,
        )
        .await;
        assert_eq!(slugs(&v), ["housing", "city"]);
        let (status, _, v) = desk_json(&s, ed, "/admin/pickers/bylines?q=helen", None).await;
        assert_eq!(status, 200);
        assert!(slugs(&v).contains(&"helen-marsh".to_owned()), "{v}");

        // Bad input: clear 4xx answers in JSON.
        let long = format!("/admin/pickers/tags?q={}", "a".repeat(121));
        for (path, want) in [
            ("/admin/pickers/staff?q=a", 404),
            (long.as_str(), 400),
            ("/admin/pickers/tags?q=a&limit=0", 400),
            ("/admin/pickers/tags?q=a&limit=51", 400),
            ("/admin/pickers/tags?q=a&limit=many", 400),
        ] {
            let (status, _, v) = desk_json(&s, ed, path, None).await;
            assert_eq!(status, want, "{path}: {v}");
            assert!(!error_of(&v).is_empty());
        }
        let many = format!("/admin/pickers/tags?slugs={}", vec!["x"; 51].join(","));
        assert_eq!(desk_json(&s, ed, &many, None).await.0, 400);

        // An editor adds a tag from the picker; the same name again is the same tag.
        let add = |name: String, csrf: String, cookie: String, kind: &'static str| {
            let s = &s;
            async move {
                desk_json(
                    s,
                    Some(&cookie),
                    &format!("/admin/pickers/{kind}"),
                    Some(&[("csrf", csrf.as_str()), ("name", name.as_str())]),
                )
                .await
            }
        };
        let (status, _, made) = add(
            "Flood Defences".into(),
            editor_csrf.clone(),
            editor.clone(),
            "tags",
        )
        .await;
        assert_eq!(status, 201, "{made}");
        assert_eq!(made["slug"], "flood-defences");
        assert_eq!(made["name"], "Flood Defences");
        assert_eq!(made["created"], true);
        let (status, _, again) = add(
            "flood defences".into(),
            editor_csrf.clone(),
            editor.clone(),
            "tags",
        )
        .await;
        assert_eq!(status, 200, "{again}");
        assert_eq!(again["id"], made["id"]);
        assert_eq!(again["created"], false);
        let (_, _, v) = desk_json(&s, ed, "/admin/pickers/tags?q=flood", None).await;
        assert!(slugs(&v).contains(&"flood-defences".to_owned()));
        // Bylines likewise (a guest contributor).
        let (status, _, guest) = add(
            "Guest Writer".into(),
            editor_csrf.clone(),
            editor.clone(),
            "bylines",
        )
        .await;
        assert_eq!(status, 201, "{guest}");
        assert_eq!(guest["slug"], "guest-writer");
        let (status, _, _) = add(
            "guest writer".into(),
            editor_csrf.clone(),
            editor.clone(),
            "bylines",
        )
        .await;
        assert_eq!(status, 200);
        // Refused: a forged token, a name with nothing to make an address of,
        // one too long; nothing is written.
        let (status, _, v) = add("Forged".into(), "forged".into(), editor.clone(), "tags").await;
        assert_eq!(status, 403, "{v}");
        let (status, _, v) = add("!!!".into(), editor_csrf.clone(), editor.clone(), "tags").await;
        assert_eq!(status, 422, "{v}");
        let (status, _, _) =
            add("n".repeat(121), editor_csrf.clone(), editor.clone(), "tags").await;
        assert_eq!(status, 422);
        let (_, _, v) = desk_json(&s, ed, "/admin/pickers/tags?q=forged", None).await;
        assert!(slugs(&v).is_empty(), "{v}");
        // A form that cannot be read.
        let res = client()
            .post(s.url("/admin/pickers/tags"))
            .header(header::COOKIE, &editor)
            .header(header::CONTENT_TYPE, "application/json")
            .body("{}")
            .send()
            .await
            .expect("json body");
        assert_eq!(res.status().as_u16(), 400);

        // An author may search both, add neither.
        let (author, author_csrf) = signed_in(&s, "au@courier.example", "author").await;
        let (status, _, v) = desk_json(&s, Some(&author), "/admin/pickers/bylines?q=h", None).await;
        assert_eq!(status, 200);
        assert_eq!(v["can_create"], false);
        let (_, _, v) = desk_json(&s, Some(&author), "/admin/pickers/tags?q=h", None).await;
        assert_eq!(v["can_create"], false);
        let (status, _, v) = add(
            "Author Tag".into(),
            author_csrf.clone(),
            author.clone(),
            "tags",
        )
        .await;
        assert_eq!(status, 403);
        assert!(error_of(&v).contains("editors"), "{v}");
        let (status, _, _) = add("Author Byline".into(), author_csrf, author, "bylines").await;
        assert_eq!(status, 403);
        // A contributor may tag a draft, but not choose bylines at all.
        let (contributor, contributor_csrf) =
            signed_in(&s, "co@courier.example", "contributor").await;
        let (status, _, _) =
            desk_json(&s, Some(&contributor), "/admin/pickers/tags?q=h", None).await;
        assert_eq!(status, 200);
        let (status, _, v) =
            desk_json(&s, Some(&contributor), "/admin/pickers/bylines?q=h", None).await;
        assert_eq!(status, 403, "{v}");
        let (status, _, _) = add("Contributed".into(), contributor_csrf, contributor, "tags").await;
        assert_eq!(status, 403);
        let (_, _, v) = desk_json(&s, ed, "/admin/pickers/tags?q=author%20tag", None).await;
        assert!(slugs(&v).is_empty());
    })
    .await;
}

/// The post id in an editor address (`/admin/posts/ID/edit`).
fn id_in(location: &str) -> i64 {
    location
        .split('/')
        .nth(3)
        .and_then(|x| x.parse().ok())
        .expect("post id")
}

#[tokio::test]
async fn the_front_page_shows_the_newsroom_and_takes_a_quick_live_entry() {
    with_server("front", |s| async move {
        let c = client();
        let (cookie, csrf) = signed_in(&s, "front@courier.example", "editor").await;
        let post = |path: String, form: Vec<(&'static str, String)>| {
            c.post(s.url(&path))
                .header(header::COOKIE, cookie.clone())
                .form(&form)
                .send()
        };
        let front = || async {
            let res = c
                .get(s.url("/admin/"))
                .header(header::COOKIE, cookie.clone())
                .send()
                .await
                .expect("front");
            assert_eq!(res.status().as_u16(), 200);
            res.text().await.expect("html")
        };
        // A draft of my own, and one scheduled.
        let draft = |title: &'static str| {
            post(
                "/admin/posts".into(),
                vec![
                    ("csrf", csrf.clone()),
                    ("kind", "article".into()),
                    ("title", title.into()),
                ],
            )
        };
        let res = draft("Ferry timetable draft").await.expect("draft");
        assert_eq!(res.status().as_u16(), 303);
        let draft_id = id_in(res.headers()[header::LOCATION].to_str().expect("loc"));
        let res = draft("Bridge reopening scheduled").await.expect("draft 2");
        let sched_id = id_in(res.headers()[header::LOCATION].to_str().expect("loc"));
        let html = c
            .get(s.url(&format!("/admin/posts/{sched_id}/edit")))
            .header(header::COOKIE, &cookie)
            .send()
            .await
            .expect("edit")
            .text()
            .await
            .expect("html");
        let res = post(
            format!("/admin/posts/{sched_id}"),
            vec![
                ("csrf", csrf.clone()),
                ("version", field(&html, "version")),
                ("title", "Bridge reopening scheduled".into()),
                ("slug", "bridge-reopening-scheduled".into()),
                ("body", "The bridge reopens.".into()),
                ("authors", field(&html, "authors")),
                ("tags", "city".into()),
                ("publish_at", "2035-06-01T09:00".into()),
                ("action", "schedule".into()),
            ],
        )
        .await
        .expect("schedule");
        assert_eq!(res.status().as_u16(), 200);

        let html = front().await;
        let section = |id: &str| -> String {
            let start = html
                .find(&format!("id=\"{id}\""))
                .unwrap_or_else(|| panic!("no section {id}"));
            let rest = &html[start..];
            rest[..rest.find("</section>").expect("end")].to_owned()
        };
        let drafts = section("my-drafts");
        assert!(
            drafts.contains(&format!("data-post-id=\"{draft_id}\""))
                && drafts.contains("Ferry timetable draft"),
            "{drafts}"
        );
        let scheduled = section("scheduled");
        assert!(
            scheduled.contains("Bridge reopening scheduled"),
            "{scheduled}"
        );
        // 09:00 in London in June is 08:00 UTC.
        assert!(
            scheduled
                .contains("<time datetime=\"2035-06-01T08:00:00Z\">1 Jun 2035, 09:00 BST</time>"),
            "{scheduled}"
        );
        assert!(!drafts.contains("Bridge reopening scheduled"));
        let published = section("published");
        assert!(
            published.matches("data-post-id=").count() >= 5,
            "{published}"
        );
        // The demo's live roundup, with a quick entry box for an editor.
        let live = section("live");
        let storm = live
            .split("<article")
            .find(|a| a.contains("href=\"/storm-eamon-live/\""))
            .unwrap_or_else(|| panic!("the demo's live roundup is listed: {live}"));
        let action = storm
            .split("action=\"")
            .nth(1)
            .and_then(|x| x.split('"').next())
            .expect("a quick entry form")
            .to_owned();
        assert!(action.starts_with("/admin/live/") && action.ends_with("/entries"));
        let live_id: i64 = action
            .split('/')
            .nth(3)
            .and_then(|x| x.parse().ok())
            .expect("live id");
        let res = post(
            action.clone(),
            vec![
                ("csrf", csrf.clone()),
                ("from", "front".into()),
                ("title", "Quick entry from the front page".into()),
                ("body", "Winds are **easing**.".into()),
            ],
        )
        .await
        .expect("quick entry");
        assert_eq!(res.status().as_u16(), 303);
        assert_eq!(
            res.headers()[header::LOCATION],
            format!("/admin/?added={live_id}#live-{live_id}").as_str()
        );
        let html = c
            .get(s.url(&format!("/admin/?added={live_id}")))
            .header(header::COOKIE, &cookie)
            .send()
            .await
            .expect("after the entry")
            .text()
            .await
            .expect("html");
        assert!(
            html.contains("Entry published on"),
            "the front page says so"
        );
        let (_, _, page) = get(&s.url("/storm-eamon-live/")).await;
        assert!(page.contains("Quick entry from the front page"));
        assert!(page.contains("<strong>easing</strong>"));
        // Without the token, nothing is posted.
        let res = post(
            action,
            vec![
                ("csrf", "forged".into()),
                ("from", "front".into()),
                ("title", "Forged entry".into()),
            ],
        )
        .await
        .expect("forged");
        assert_eq!(res.status().as_u16(), 403);

        // An administrator also sees the member count and its trend.
        let (admin, _) = signed_in(&s, "admin@courier.example", "administrator").await;
        let html = c
            .get(s.url("/admin/"))
            .header(header::COOKIE, &admin)
            .send()
            .await
            .expect("front")
            .text()
            .await
            .expect("html");
        let members = html
            .split("id=\"growth\"")
            .nth(1)
            .and_then(|x| x.split("</section>").next())
            .expect("the members section");
        assert!(
            members.contains("<strong class=\"big-number\">1,184</strong> members."),
            "{members}"
        );
        assert!(
            members.contains("joined in the last 30 days")
                && members.contains("in the 30 days before."),
            "{members}"
        );
        assert_eq!(members.matches("<rect").count(), 30);

        // A contributor sees only their own work, and no quick entry box
        // (contributors do not post to live roundups).
        let (other, _) = signed_in(&s, "co2@courier.example", "contributor").await;
        let res = c
            .get(s.url("/admin/"))
            .header(header::COOKIE, &other)
            .send()
            .await
            .expect("front");
        let html = res.text().await.expect("html");
        assert!(!html.contains("Ferry timetable draft"));
        assert!(!html.contains("Bridge reopening scheduled"));
        assert!(!html.contains("/entries\""), "no quick entry form");
        assert!(
            !html.contains("class=\"growth\""),
            "members are the administrators'"
        );
    })
    .await;
}
