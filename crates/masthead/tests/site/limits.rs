//! Bounded work for anonymous callers, flooded the way an attacker would:
//! many requests in parallel from a separate client, each limit refusing
//! clearly, while the server keeps answering everyone else quickly. The
//! server trusts 127.0.0.1 as a proxy, so `X-Forwarded-For` stands for the
//! caller's address.

use super::*;

/// The most a probe may take while a flood runs.
const QUICK: Duration = Duration::from_millis(100);

fn start_behind_proxy(dir: &TempDir, envs: &[(&str, &str)]) -> Server {
    let mut all = vec![("MASTHEAD_TRUSTED_PROXIES", "127.0.0.1")];
    all.extend_from_slice(envs);
    Server::start_with_env(&dir.0, &all)
}

/// The median time of five GETs of `path` from a fresh client (one machine's
/// scheduling hiccup is not the server's), each of which must succeed.
async fn median_latency(s: &Server, paths: &[String]) -> Duration {
    let c = client();
    let mut times = Vec::new();
    for i in 0..5 {
        let path = &paths[i % paths.len()];
        let started = Instant::now();
        let res = c.get(s.url(path)).send().await.expect("probe");
        let status = res.status().as_u16();
        res.bytes().await.expect("probe body");
        times.push(started.elapsed());
        assert_eq!(status, 200, "{path} during the flood");
    }
    times.sort();
    times[2]
}

async fn assert_answers_quickly(s: &Server, paths: &[String], during: &str) {
    let t = median_latency(s, paths).await;
    eprintln!("{paths:?}: median {t:?} during {during}");
    assert!(t < QUICK, "{paths:?} took {t:?} during {during}");
}

fn statuses(list: &[u16]) -> std::collections::BTreeMap<u16, usize> {
    let mut m = std::collections::BTreeMap::new();
    for s in list {
        *m.entry(*s).or_insert(0) += 1;
    }
    m
}

#[tokio::test]
async fn live_streams_serve_only_published_live_posts_and_are_capped() {
    let dir = TempDir::new("limits-live");
    let s = start_behind_proxy(&dir, &[("MASTHEAD_MAX_LIVE_STREAMS", "12")]);
    let (_, _, page) = get(&s.url("/storm-eamon-live/")).await;
    let events = page
        .split("data-live-events=\"")
        .nth(1)
        .and_then(|x| x.split('"').next())
        .expect("events url")
        .to_owned();
    // A draft live post, an article and a number nobody has: all 404, the same.
    let (cookie, csrf) = signed_in(&s, "live-desk@courier.example", "editor").await;
    let res = client()
        .post(s.url("/admin/posts"))
        .header(header::COOKIE, &cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("kind", "live"),
            ("title", "Council budget night, live"),
        ])
        .send()
        .await
        .expect("create draft");
    assert_eq!(res.status().as_u16(), 303);
    let draft: i64 = res.headers()[header::LOCATION]
        .to_str()
        .ok()
        .and_then(|l| l.split('/').nth(3))
        .and_then(|x| x.parse().ok())
        .expect("draft id");
    let (_, _, home) = get(&s.url("/")).await;
    let article = post_ids(&home)[0];
    for id in [draft, article, 987_654] {
        let (status, _, _) = get(&s.url(&format!("/_live/{id}/events"))).await;
        assert_eq!(status, 404, "post {id}");
    }

    // Published, it streams; unpublished again, its open streams end at the
    // next update instead of carrying it.
    let edit = |version: String, action: &'static str, byline: String| {
        client()
            .post(s.url(&format!("/admin/posts/{draft}")))
            .header(header::COOKIE, &cookie)
            .form(&[
                ("csrf", csrf.clone()),
                ("version", version),
                ("title", "Council budget night, live".to_owned()),
                ("dek", "Every vote as it happens.".to_owned()),
                ("slug", "council-budget-night-live".to_owned()),
                ("body", "We are in the chamber.".to_owned()),
                ("publish_at", String::new()),
                ("action", action.to_owned()),
                ("tags", String::new()),
                ("authors", byline),
            ])
            .send()
    };
    let form = client()
        .get(s.url(&format!("/admin/posts/{draft}/edit")))
        .header(header::COOKIE, &cookie)
        .send()
        .await
        .expect("edit")
        .text()
        .await
        .expect("html");
    let byline = field(&form, "authors");
    let res = edit(field(&form, "version"), "publish", byline.clone())
        .await
        .expect("publish");
    let html = res.text().await.expect("html");
    assert!(html.contains("Published."), "{html}");
    let mut stream = client()
        .get(s.url(&format!("/_live/{draft}/events")))
        .send()
        .await
        .expect("stream");
    assert_eq!(stream.status().as_u16(), 200);
    let html = edit(field(&html, "version"), "unpublish", byline)
        .await
        .expect("unpublish")
        .text()
        .await
        .expect("html");
    assert!(html.contains("draft again"), "{html}");
    // Past the one-second memory of "published".
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let res = client()
        .post(s.url(&format!("/admin/live/{draft}/entries")))
        .header(header::COOKIE, &cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("title", "Embargoed: the vote count"),
            ("body", "Not for readers yet."),
        ])
        .send()
        .await
        .expect("entry");
    assert_eq!(res.status().as_u16(), 303);
    let mut received = String::new();
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(chunk) = stream.chunk().await.expect("chunk") {
            received.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await;
    assert!(ended.is_ok(), "the stream ended; got {received:?}");
    assert!(!received.contains("Embargoed"), "{received}");
    assert_eq!(
        get(&s.url(&format!("/_live/{draft}/events"))).await.0,
        404,
        "and no new one opens"
    );

    // One address may hold eight streams open; the ninth is refused plainly.
    let flood = client();
    let open = |from: &'static str| {
        let req = flood
            .get(s.url(&events))
            .header("x-forwarded-for", from)
            .send();
        async move { req.await.expect("stream") }
    };
    let mut held = Vec::new();
    for _ in 0..8 {
        let res = open("203.0.113.7").await;
        assert_eq!(res.status().as_u16(), 200);
        held.push(res);
    }
    let refused = open("203.0.113.7").await;
    assert_eq!(refused.status().as_u16(), 429);
    assert!(refused.headers().contains_key(header::RETRY_AFTER));
    assert!(
        refused
            .text()
            .await
            .expect("body")
            .contains("Too many live pages are open from your address")
    );
    // Others still get theirs, up to the total (12 here); then 503 for anyone.
    for from in [
        "198.51.100.1",
        "198.51.100.2",
        "198.51.100.3",
        "198.51.100.4",
    ] {
        let res = open(from).await;
        assert_eq!(res.status().as_u16(), 200, "{from}");
        held.push(res);
    }
    let full = open("198.51.100.5").await;
    assert_eq!(full.status().as_u16(), 503);
    assert!(full.headers().contains_key(header::RETRY_AFTER));
    assert!(full.text().await.expect("body").contains("full"));
    // Pages and the health check answer meanwhile.
    assert_answers_quickly(
        &s,
        &["/".into(), "/healthz".into(), "/storm-eamon-live/".into()],
        "a full house of live streams",
    )
    .await;
    drop(held);
}

#[tokio::test]
async fn a_sign_in_flood_from_one_address_never_locks_the_owner_out() {
    let dir = TempDir::new("limits-signin");
    let s = start_behind_proxy(&dir, &[]);
    let out = add_user(&s, "owner@courier.example", "owner", "the real passphrase");
    assert!(out.status.success());
    let flood = client();
    let attempt = |from: String, email: &'static str, password: &'static str| {
        let req = flood
            .post(s.url("/admin/signin"))
            .header("x-forwarded-for", from)
            .form(&[("email", email), ("password", password)])
            .send();
        async move {
            let res = req.await.expect("sign in");
            let retry = res.headers().contains_key(header::RETRY_AFTER);
            (res.status().as_u16(), retry)
        }
    };
    // Forty guesses at once from one address: each is counted before it is
    // tried, so exactly five are tried and the rest refused.
    let guesses: Vec<_> = (0..40)
        .map(|_| {
            tokio::spawn(attempt(
                "203.0.113.66".into(),
                "owner@courier.example",
                "guess guess guess",
            ))
        })
        .collect();
    assert_answers_quickly(&s, &["/".into(), "/healthz".into()], "a sign-in flood").await;
    let mut codes = Vec::new();
    for g in guesses {
        let (status, retry) = g.await.expect("task");
        assert!(status != 429 || retry, "a 429 says when to retry");
        codes.push(status);
    }
    let counted = statuses(&codes);
    assert_eq!(counted.get(&401), Some(&5), "{counted:?}");
    assert_eq!(counted.get(&429), Some(&35), "{counted:?}");
    // The flooding address stays locked out of that account, even with the
    // right password; the owner, elsewhere, signs in.
    assert_eq!(
        attempt(
            "203.0.113.66".into(),
            "owner@courier.example",
            "the real passphrase"
        )
        .await
        .0,
        429
    );
    assert_eq!(
        attempt(
            "192.0.2.10".into(),
            "owner@courier.example",
            "the real passphrase"
        )
        .await
        .0,
        303
    );

    // One address trying many accounts: thirty in fifteen minutes, then 429.
    let mut codes = Vec::new();
    for batch in 0..7 {
        let tries: Vec<_> = (0..5)
            .map(|i| {
                let email: &'static str =
                    Box::leak(format!("nobody{batch}-{i}@courier.example").into_boxed_str());
                tokio::spawn(attempt("203.0.113.99".into(), email, "whatever it is"))
            })
            .collect();
        for t in tries {
            codes.push(t.await.expect("task").0);
        }
    }
    let counted = statuses(&codes);
    assert_eq!(counted.get(&401), Some(&30), "{counted:?}");
    assert_eq!(counted.get(&429), Some(&5), "{counted:?}");

    // A crowd from many addresses: password work runs a few at a time and
    // the rest are told to come back (503 + Retry-After), never queued
    // without bound; pages answer meanwhile.
    let crowd: Vec<_> = (0..120)
        .map(|i| {
            tokio::spawn(attempt(
                format!("10.9.{}.{}", i / 200, i % 200 + 1),
                "crowd@courier.example",
                "crowd guess here",
            ))
        })
        .collect();
    assert_answers_quickly(&s, &["/".into(), "/healthz".into()], "a sign-in crowd").await;
    let mut codes = Vec::new();
    for t in crowd {
        let (status, retry) = t.await.expect("task");
        assert!(status != 503 || retry, "a 503 says when to retry");
        codes.push(status);
    }
    let counted = statuses(&codes);
    assert!(counted.get(&503).copied().unwrap_or(0) > 0, "{counted:?}");
    assert!(
        counted.keys().all(|k| [401, 503].contains(k)),
        "{counted:?}"
    );
    // Afterwards the owner still gets in (refused work was not counted).
    assert_eq!(
        attempt(
            "192.0.2.11".into(),
            "owner@courier.example",
            "the real passphrase"
        )
        .await
        .0,
        303
    );
}

#[tokio::test]
async fn one_time_links_are_checked_before_hashing_and_throttled() {
    let dir = TempDir::new("limits-links");
    let s = start_behind_proxy(&dir, &[]);
    let flood = client();
    let post = |path: String, from: String, form: Vec<(&'static str, &'static str)>| {
        let req = flood
            .post(s.url(&path))
            .header("x-forwarded-for", from)
            .form(&form)
            .send();
        async move { req.await.expect("post").status().as_u16() }
    };
    let new_password = vec![("password", "a brand new passphrase")];
    let setup = vec![
        ("name", "Mallory"),
        ("email", "mallory@evil.example"),
        ("password", "a brand new passphrase"),
    ];
    // Guessed links from a hundred addresses at once: each is refused at
    // once (410), none waits for password hashing (which would make most of
    // them 503: only a few hashes run at a time).
    let started = Instant::now();
    let guesses: Vec<_> = (0..100)
        .map(|i| {
            let (path, form) = if i % 2 == 0 {
                (format!("/admin/reset/{:064x}", i), new_password.clone())
            } else {
                (format!("/admin/setup/{:064x}", i), setup.clone())
            };
            tokio::spawn(post(path, format!("10.1.0.{}", i + 1), form))
        })
        .collect();
    assert_answers_quickly(
        &s,
        &["/".into(), "/healthz".into()],
        "a flood of guessed links",
    )
    .await;
    let mut codes = Vec::new();
    for g in guesses {
        codes.push(g.await.expect("task"));
    }
    let counted = statuses(&codes);
    assert_eq!(counted.get(&410), Some(&100), "{counted:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    // One address: ten uses in fifteen minutes, counted atomically.
    let burst: Vec<_> = (0..15)
        .map(|i| {
            tokio::spawn(post(
                format!("/admin/reset/{:064x}", 1000 + i),
                "203.0.113.80".into(),
                new_password.clone(),
            ))
        })
        .collect();
    let mut codes = Vec::new();
    for b in burst {
        codes.push(b.await.expect("task"));
    }
    let counted = statuses(&codes);
    assert_eq!(counted.get(&410), Some(&10), "{counted:?}");
    assert_eq!(counted.get(&429), Some(&5), "{counted:?}");
    // Another address is unaffected.
    assert_eq!(
        post(
            format!("/admin/reset/{:064x}", 2000),
            "203.0.113.81".into(),
            new_password.clone()
        )
        .await,
        410
    );
}

#[tokio::test]
async fn joins_are_limited_per_address_atomically() {
    let dir = TempDir::new("limits-join");
    let s = start_behind_proxy(&dir, &[]);
    let before = campaign_count(&s).await;
    let flood = client();
    let join = |from: &'static str, email: String| {
        let req = flood
            .post(s.url("/join/"))
            .header("x-forwarded-for", from)
            .form(&[("email", email)])
            .send();
        async move {
            let res = req.await.expect("join");
            let retry = res.headers().contains_key(header::RETRY_AFTER);
            (res.status().as_u16(), retry)
        }
    };
    let joins: Vec<_> = (0..45)
        .map(|i| tokio::spawn(join("203.0.113.44", format!("flood-{i}@example.net"))))
        .collect();
    assert_answers_quickly(&s, &["/".into(), "/healthz".into()], "a join flood").await;
    let mut codes = Vec::new();
    for j in joins {
        let (status, retry) = j.await.expect("task");
        assert!(status != 429 || retry, "a 429 says when to retry");
        codes.push(status);
    }
    let counted = statuses(&codes);
    assert_eq!(counted.get(&303), Some(&30), "{counted:?}");
    assert_eq!(counted.get(&429), Some(&15), "{counted:?}");
    // Someone else joins as usual. Pending sign-ups are not members: the
    // count waits for confirmations.
    assert_eq!(
        join("198.51.100.20", "a-reader@example.net".into()).await.0,
        303
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(campaign_count(&s).await, before);
    // The refusal is the join form, saying why.
    let res = flood
        .post(s.url("/join/"))
        .header("x-forwarded-for", "203.0.113.44")
        .form(&[("email", "one-more@example.net")])
        .send()
        .await
        .expect("join");
    assert_eq!(res.status().as_u16(), 429);
    assert!(
        res.text()
            .await
            .expect("body")
            .contains("Too many requests have come from your address")
    );
}

#[tokio::test]
async fn page_cache_keys_ignore_parameters_no_route_reads() {
    let dir = TempDir::new("limits-cache");
    let s = start_behind_proxy(&dir, &[]);
    let c = client();
    // Twice: the cache keeps a page from its second render on.
    for _ in 0..2 {
        let first = c.get(s.url("/")).send().await.expect("home");
        assert_eq!(first.status().as_u16(), 200);
    }
    // A flood of made-up parameters: every one is the home page's entry.
    let flood = client();
    let requests: Vec<_> = (0..400)
        .map(|i| {
            let req = flood.get(s.url(&format!("/?x={i}&utm_source=f{i}"))).send();
            tokio::spawn(async move {
                let res = req.await.expect("get");
                let hit = res.headers().get("x-cache").map(|v| v.as_bytes() == b"hit");
                (res.status().as_u16(), hit)
            })
        })
        .collect();
    assert_answers_quickly(&s, &["/healthz".into(), "/".into()], "a cache-key flood").await;
    for r in requests {
        let (status, hit) = r.await.expect("task");
        assert_eq!(status, 200);
        assert_eq!(hit, Some(true), "an unread parameter makes no new entry");
    }
    // Parameters a route reads still make their own pages.
    let home = c.get(s.url("/?fragment=1")).send().await.expect("fragment");
    assert_eq!(home.headers()["x-cache"], "miss");
    // A page carrying a secret (a sign-in page's reference) is never served
    // from, or kept in, the cache.
    let check = format!("/members/check/?ref={}", "a1".repeat(32));
    for _ in 0..2 {
        let res = c.get(s.url(&check)).send().await.expect("check");
        assert_eq!(res.status().as_u16(), 200);
        assert!(res.headers().get("x-cache").is_none());
        assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
    }
}

/// A content key made with the CLI.
fn content_key(s: &Server) -> String {
    let out = s.cli(&["key", "create", "content", "--name", "limits"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[tokio::test]
async fn api_pages_hold_at_most_100_and_floods_leave_pages_and_healthz_alone() {
    let dir = TempDir::new("limits-api");
    let posts = 8_000u64;
    let seeded = masthead(&dir.0)
        .args(["seed", "--bench", &posts.to_string()])
        .env("MASTHEAD_LOG", "warn")
        .output()
        .expect("seed");
    assert!(
        seeded.status.success(),
        "{}",
        String::from_utf8_lossy(&seeded.stderr)
    );
    let s = start_behind_proxy(&dir, &[]);
    let key = content_key(&s);
    let api = |q: &str| s.url(&format!("/ghost/api/content/posts/?key={key}&{q}"));
    let c = client();
    let json = |res: reqwest::Response| async move {
        let status = res.status().as_u16();
        let v: serde_json::Value = res.json().await.expect("json");
        (status, v)
    };
    // limit=all answers the first 100, with what it takes to page on.
    let (status, all) = json(c.get(api("limit=all")).send().await.expect("all")).await;
    assert_eq!(status, 200);
    let published = all["meta"]["pagination"]["total"].as_u64().expect("total");
    assert!(published > 5_000, "{published}");
    assert_eq!(all["posts"].as_array().map(Vec::len), Some(100));
    assert_eq!(all["meta"]["pagination"]["limit"], 100);
    assert_eq!(all["meta"]["pagination"]["next"], 2);
    assert_eq!(all["meta"]["pagination"]["pages"], published.div_ceil(100));
    let (_, big) = json(c.get(api("limit=5000&page=2")).send().await.expect("big")).await;
    assert_eq!(big["posts"].as_array().map(Vec::len), Some(100));
    assert_eq!(big["meta"]["pagination"]["page"], 2);
    // The last page, and one past it.
    let last = published.div_ceil(100);
    let (status, tail) = json(
        c.get(api(&format!("limit=all&page={last}")))
            .send()
            .await
            .expect("last"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        tail["posts"].as_array().map(Vec::len),
        Some(usize::try_from(published - (last - 1) * 100).expect("fits"))
    );
    assert!(tail["meta"]["pagination"]["next"].is_null());
    let (status, past) = json(
        c.get(api("limit=100&page=4294967295"))
            .send()
            .await
            .expect("far"),
    )
    .await;
    assert_eq!(status, 200, "{past}");
    assert_eq!(past["posts"].as_array().map(Vec::len), Some(0));
    // Numbers no page can have: clear errors in Ghost's format, never a 500.
    for q in [
        "page=18446744073709551615",
        "page=4294967296",
        "page=0",
        "limit=-1",
        "limit=1e9",
        "limit=0",
        "limit=2.5",
        "page=1e3",
    ] {
        let (status, body) = json(c.get(api(q)).send().await.expect("bad")).await;
        assert_eq!(status, 422, "{q}: {body}");
        assert_eq!(body["errors"][0]["type"], "ValidationError", "{q}");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .is_some_and(|m| m.contains("whole number")),
            "{q}: {body}"
        );
    }
    // Relations come with the page.
    let (_, with) = json(
        c.get(api("limit=all&include=tags,authors"))
            .send()
            .await
            .expect("include"),
    )
    .await;
    assert!(
        with["posts"]
            .as_array()
            .expect("posts")
            .iter()
            .all(|p| p["authors"].as_array().is_some_and(|a| !a.is_empty())),
        "every post has its byline"
    );

    // Eight clients asking for everything, over and over (on the old build
    // they held every read slot): pages that need the database and the
    // health check still answer at once.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flood = client();
    let workers: Vec<_> = (0..8)
        .map(|_| {
            let (flood, stop, url) = (
                flood.clone(),
                stop.clone(),
                api("limit=all&include=tags,authors"),
            );
            tokio::spawn(async move {
                let mut n = 0u32;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let res = flood.get(&url).send().await.expect("flood");
                    assert_eq!(res.status().as_u16(), 200);
                    res.bytes().await.expect("body");
                    n += 1;
                }
                n
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Tag pages not seen before: each is a cache miss that reads the database.
    let tags: Vec<String> = (1..=5).map(|i| format!("/tag/topic-{i}/")).collect();
    assert_answers_quickly(&s, &tags, "a limit=all flood").await;
    assert_answers_quickly(&s, &["/healthz".into()], "a limit=all flood").await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut served = 0;
    for w in workers {
        served += w.await.expect("worker");
    }
    assert!(served >= 8, "{served}");

    // A site may raise the cap (settings key api_max_limit), read at start-up.
    drop(s);
    let store = open_store(&dir.0).await;
    store
        .set_setting("api_max_limit", "250")
        .await
        .expect("setting");
    drop(store);
    let s = start_behind_proxy(&dir, &[]);
    let api = |q: &str| s.url(&format!("/ghost/api/content/posts/?key={key}&{q}"));
    let (_, all) = json(c.get(api("limit=all")).send().await.expect("all")).await;
    assert_eq!(all["posts"].as_array().map(Vec::len), Some(250));
    assert_eq!(all["meta"]["pagination"]["limit"], 250);
}
