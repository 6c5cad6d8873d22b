//! Search, through the real server: stories published in the desk are found
//! by `/search/` and `/search.json` at once, ranked, filtered, paged by
//! keyset, with highlighted and escaped snippets; drafts and what lies behind
//! a members' gate never are; hostile queries never cost a 500. The same
//! assertions hold on either backend (FTS5 on SQLite, a tsvector index on
//! PostgreSQL).
//!
//! The server seeds the demo newsroom first, so every test word here is one
//! the demo content does not use.

use std::collections::BTreeSet;

use super::feeds::publish_post;
use super::*;

/// Percent-encodes a query value (everything but unreserved characters).
fn enc(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn search(s: &Server, query: &str) -> (u16, String) {
    let (status, _, body) = get(&s.url(&format!("/search/?q={}", enc(query)))).await;
    (status, body)
}

/// The ids of the results on the first page of `/search/?{params}`.
async fn found(s: &Server, params: &str) -> Vec<i64> {
    let (status, _, body) = get(&s.url(&format!("/search/?{params}"))).await;
    assert_eq!(status, 200, "{params}: {body}");
    post_ids(&body)
}

async fn found_q(s: &Server, query: &str) -> Vec<i64> {
    found(s, &format!("q={}", enc(query))).await
}

fn next_href(html: &str) -> Option<String> {
    let i = html.find("rel=\"next\"")?;
    let start = html[..i].rfind("href=\"")? + 6;
    let end = start + html[start..].find('"')?;
    Some(html[start..end].replace("&amp;", "&"))
}

fn day(offset_days: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let days = now.div_euclid(86_400) + offset_days;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[tokio::test]
async fn readers_find_published_stories_ranked_filtered_and_paged() {
    with_server("search", |s| async move {
        let (cookie, csrf) = signed_in(&s, "search-ed@courier.example", "editor").await;
        let publish = |kind: &'static str, title: String, fields: Vec<(&'static str, String)>| {
            let (s, cookie, csrf) = (&s, cookie.clone(), csrf.clone());
            async move {
                let fields: Vec<(&str, &str)> =
                    fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
                publish_post(s, &cookie, &csrf, kind, &title, &fields)
                    .await
                    .0
            }
        };

        // Ranking: a headline match outranks a body match; stemming.
        let in_body = publish(
            "article",
            "Harbour wall inspection".into(),
            vec![("body", "The zorbleton survey runs until spring.".into())],
        )
        .await;
        let in_title = publish(
            "article",
            "Zorbleton survey approved".into(),
            vec![("body", "A short report.".into())],
        )
        .await;
        assert_eq!(found_q(&s, "zorbleton").await, vec![in_title, in_body]);
        assert_eq!(
            found_q(&s, "zorbleton running").await,
            vec![in_body],
            "stemming"
        );

        // Phrases, prefixes, exclusions.
        let phrase = publish(
            "brief",
            "Quarrendale council meets".into(),
            vec![
                ("body", "The quarrendale city council voted.".into()),
                ("tags", "transport".into()),
            ],
        )
        .await;
        let apart = publish(
            "article",
            "Quarrendale news".into(),
            vec![("body", "The council of the quarrendale city.".into())],
        )
        .await;
        assert_eq!(
            found_q(&s, "quarrendale \"city council\"").await,
            vec![phrase]
        );
        let mut both = found_q(&s, "quarrendal*").await;
        both.sort_unstable();
        assert_eq!(both, vec![phrase, apart]);
        assert_eq!(found_q(&s, "quarrendale -voted").await, vec![apart]);

        // Filters: kind, tag, dates (inclusive days in the site's zone).
        assert_eq!(found(&s, "q=quarrendale&kind=brief").await, vec![phrase]);
        assert_eq!(found(&s, "q=quarrendale&tag=transport").await, vec![phrase]);
        assert_eq!(
            found(&s, "q=quarrendale&kind=&tag=&from=&to=").await.len(),
            2
        );
        let (from, to) = (day(-2), day(2));
        assert_eq!(
            found(&s, &format!("q=quarrendale&from={from}&to={to}"))
                .await
                .len(),
            2
        );
        assert!(
            found(&s, &format!("q=quarrendale&from={to}"))
                .await
                .is_empty()
        );
        assert!(
            found(&s, &format!("q=quarrendale&to={from}"))
                .await
                .is_empty()
        );

        // Drafts are never found, whatever the query.
        let res = client()
            .post(s.url("/admin/posts"))
            .header(header::COOKIE, &cookie)
            .form(&[
                ("csrf", csrf.as_str()),
                ("kind", "article"),
                ("title", "Zorbleton draft secret"),
            ])
            .send()
            .await
            .expect("draft");
        assert_eq!(res.status().as_u16(), 303);
        assert!(found_q(&s, "secret zorbleton").await.is_empty());

        // Members-only: found by the teaser, never by what the gate hides,
        // and no snippet quotes it.
        let gated = publish(
            "article",
            "Vellichor ferry returns".into(),
            vec![
                (
                    "body",
                    "The vellichor timetable opens.\n\nA second open paragraph.\n\n\
                     Only members read about the glimmerstone crossing.\n\nMore hidden text."
                        .into(),
                ),
                ("visibility", "members".into()),
            ],
        )
        .await;
        let (_, html) = search(&s, "vellichor").await;
        assert_eq!(post_ids(&html), vec![gated]);
        assert!(
            !html.contains("glimmerstone") && !html.contains("hidden text"),
            "{html}"
        );
        assert!(found_q(&s, "glimmerstone").await.is_empty());

        // Snippets: matches marked, everything else escaped.
        let hostile = publish(
            "article",
            "Brimwater <b>plan</b> & \"fees\"".into(),
            vec![(
                "body",
                "Officials said `<img src=x onerror=alert(1)>` brimwater plans were final.".into(),
            )],
        )
        .await;
        let (_, html) = search(&s, "brimwater").await;
        assert_eq!(post_ids(&html), vec![hostile]);
        assert!(
            html.contains("<mark>Brimwater</mark> &lt;b&gt;plan&lt;/b&gt; &amp; &quot;fees&quot;"),
            "{html}"
        );
        assert!(
            html.contains("&lt;img src=x onerror=alert(1)&gt; <mark>brimwater</mark> plans"),
            "{html}"
        );
        assert!(!html.contains("<img src=x"), "{html}");
        let (_, html) = search(&s, "<script>alert(1)</script> brimwater").await;
        assert!(
            !html.contains("<script>alert"),
            "the query is escaped where it is shown"
        );

        // Keyset paging over several pages: everything once, nothing missed.
        let mut made = BTreeSet::new();
        for i in 0..23 {
            let body = if i % 4 == 0 {
                "Plorvent plorvent market."
            } else {
                "Plorvent market."
            };
            made.insert(
                publish(
                    "brief",
                    format!("Market note {i}"),
                    vec![("body", body.into())],
                )
                .await,
            );
        }
        let mut url = s.url("/search/?q=plorvent");
        let (mut seen, mut pages) = (Vec::new(), 0);
        loop {
            let (status, _, html) = get(&url).await;
            assert_eq!(status, 200);
            pages += 1;
            seen.extend(post_ids(&html));
            match next_href(&html) {
                Some(href) => {
                    assert!(href.contains("after="), "{href}");
                    url = s.url(&href);
                }
                None => break,
            }
        }
        assert_eq!(pages, 2);
        assert_eq!(seen.len(), 23, "no result twice");
        assert_eq!(seen.iter().copied().collect::<BTreeSet<_>>(), made);

        // The JSON endpoint: the same results, snippets and the next cursor.
        let (status, headers, body) = get(&s.url("/search.json?q=plorvent")).await;
        assert_eq!(status, 200);
        assert!(
            headers[header::CONTENT_TYPE]
                .to_str()
                .expect("type")
                .starts_with("application/json")
        );
        let v: serde_json::Value = serde_json::from_str(&body).expect("json");
        let results = v["results"].as_array().expect("results");
        assert_eq!(results.len(), 20);
        assert!(
            results[0]["snippet_html"]
                .as_str()
                .expect("snippet")
                .contains("<mark>Plorvent</mark>")
        );
        assert!(results[0]["url"].as_str().expect("url").starts_with("http"));
        let next = v["next"].as_str().expect("a next cursor");
        let (_, _, body) =
            get(&s.url(&format!("/search.json?q=plorvent&after={}", enc(next)))).await;
        let v2: serde_json::Value = serde_json::from_str(&body).expect("json");
        assert_eq!(v2["results"].as_array().expect("results").len(), 3);
        assert!(v2["next"].is_null());

        // Unpublishing takes a story out of the results at once.
        let html = client()
            .get(s.url(&format!("/admin/posts/{in_title}/edit")))
            .header(header::COOKIE, &cookie)
            .send()
            .await
            .expect("edit")
            .text()
            .await
            .expect("html");
        let version = field(&html, "version");
        let res = client()
            .post(s.url(&format!("/admin/posts/{in_title}")))
            .header(header::COOKIE, &cookie)
            .form(&[
                ("csrf", csrf.as_str()),
                ("version", &version),
                ("title", "Zorbleton survey approved"),
                ("authors", &field(&html, "authors")),
                ("publish_at", ""),
                ("action", "unpublish"),
            ])
            .send()
            .await
            .expect("unpublish");
        assert_eq!(res.status().as_u16(), 200);
        assert_eq!(found_q(&s, "zorbleton").await, vec![in_body]);
    })
    .await;
}

#[tokio::test]
async fn bad_and_hostile_searches_never_fail_the_server() {
    with_server("search-hostile", |s| async move {
        // Every page has the search box in its header.
        for path in ["/", "/video/", "/search/", "/join/"] {
            let (_, _, html) = get(&s.url(path)).await;
            assert!(html.contains("action=\"/search/\""), "{path}");
        }
        let (status, html) = search(&s, "").await;
        assert_eq!(status, 200);
        assert!(html.contains("Type a word or two"));
        assert!(post_ids(&html).is_empty());

        let nul = "harbour\0council";
        let ten_k = "x".repeat(10_000);
        let hostile = [
            "\"",
            "\"\"",
            "\"harbour",
            "(",
            ")",
            "()",
            "(harbour",
            "harbour)",
            "*",
            "**",
            "harbour*",
            "*harbour",
            "-",
            "--harbour",
            "-harbour",
            "NEAR",
            "NEAR(harbour council)",
            "harbour NEAR/2 council",
            "AND",
            "OR",
            "NOT",
            "harbour AND",
            "OR harbour",
            "harbour NOT council",
            "title:harbour",
            "body:x",
            "{title dek}: x",
            "^harbour",
            "harbour + council",
            "'",
            "`",
            "\\",
            ";",
            "%",
            "col:\"x\" AND (y OR",
            nul,
            "é́́",
            "ﬁ",
            "👍",
            "\u{202e}harbour",
            "a:b:c",
            ":",
            "\"*\"",
        ];
        for q in hostile {
            let (status, body) = search(&s, q).await;
            assert_eq!(status, 200, "{q:?}: {body}");
            let (status, _, body) = get(&s.url(&format!("/search.json?q={}", enc(q)))).await;
            assert_eq!(status, 200, "{q:?}: {body}");
            let v: serde_json::Value = serde_json::from_str(&body).expect("json");
            assert!(v["results"].is_array(), "{q:?}");
        }
        // Too long: a clear 400, as a page and as JSON.
        for q in [&"harbour ".repeat(30), &ten_k] {
            let (status, body) = search(&s, q).await;
            assert_eq!(status, 400);
            assert!(body.contains("too long"), "{body}");
            let (status, _, body) = get(&s.url(&format!("/search.json?q={}", enc(q)))).await;
            assert_eq!(status, 400);
            let v: serde_json::Value = serde_json::from_str(&body).expect("json");
            assert!(
                v["error"]["message"]
                    .as_str()
                    .expect("message")
                    .contains("too long")
            );
        }
        // Bad cursors, kinds, dates and tags: 400 with a message.
        for params in [
            "q=harbour&after=nonsense",
            "q=harbour&after=7ff0000000000000.1.1",
            "q=harbour&after=0000000000000000.1.0",
            "q=harbour&kind=page",
            "q=harbour&kind=%00",
            "q=harbour&from=yesterday",
            "q=harbour&to=2026-02-30",
            "q=harbour&tag=Not%20A%20Slug",
        ] {
            let (status, _, body) = get(&s.url(&format!("/search/?{params}"))).await;
            assert_eq!(status, 400, "{params}: {body}");
            let (status, _, body) = get(&s.url(&format!("/search.json?{params}"))).await;
            assert_eq!(status, 400, "{params}: {body}");
            assert!(body.starts_with("{\"error\""), "{body}");
        }
        // Bytes that are not UTF-8 are read as replacement characters.
        let (status, _, _) = get(&s.url("/search/?q=%FF%FE%00")).await;
        assert_eq!(status, 200);
        // An unknown tag finds nothing (not an error).
        assert!(found(&s, "q=harbour&tag=no-such-tag").await.is_empty());
    })
    .await;
}
