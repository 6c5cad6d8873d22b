//! Feeds, sitemaps and search-engine metadata, through the real server,
//! checked with the tools their readers use: Python's `feedparser` for RSS
//! and Atom, `extruct` for JSON-LD, `xml.etree` for sitemaps (run with
//! `MASTHEAD_TEST_PYTHON`, which `scripts/test.sh` sets up).

use std::collections::{HashMap, HashSet};
use std::io::Write;

use serde_json::Value;

use super::*;

fn python() -> String {
    std::env::var("MASTHEAD_TEST_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// Runs a Python `script` with `input` on stdin and `args`; its stdout is JSON.
/// Fails loudly (never skips) when Python or a package is missing.
fn run_python(script: &str, input: &[u8], args: &[&str]) -> Value {
    let py = python();
    let mut child = Command::new(&py)
        .arg("-c")
        .arg(script)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {py} ({e}). Set MASTHEAD_TEST_PYTHON to a Python with feedparser \
                 and extruct (scripts/test.sh installs them in ~/.cache/masthead/venv)"
            )
        });
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("write to python");
    let out = child.wait_with_output().expect("python output");
    assert!(
        out.status.success(),
        "{py} failed: {}\n(feedparser and extruct are needed: \
         `{py} -m pip install feedparser extruct`, or run scripts/test.sh)",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("python printed JSON")
}

/// RSS or Atom as feedparser reads it; times as RFC 3339 strings.
const PARSE_FEED: &str = r#"
import sys, json, time, feedparser
d = feedparser.parse(sys.stdin.buffer.read())
def iso(t):
    return time.strftime('%Y-%m-%dT%H:%M:%SZ', t) if t else None
print(json.dumps({
    'bozo': int(bool(d.bozo)),
    'error': str(d.get('bozo_exception', '')),
    'version': d.get('version', ''),
    'title': d.feed.get('title'),
    'link': d.feed.get('link'),
    'entries': [{
        'id': e.get('id'),
        'guidislink': e.get('guidislink'),
        'title': e.get('title'),
        'link': e.get('link'),
        'published': iso(e.get('published_parsed')),
        'updated': iso(e.get('updated_parsed')),
        'authors': [a.get('name') for a in e.get('authors', [])],
        'tags': [t.get('term') for t in e.get('tags', [])],
        'enclosures': [{'href': x.get('href'), 'type': x.get('type'), 'length': x.get('length')}
                       for x in e.get('enclosures', [])],
        'summary': e.get('summary'),
        'content': [c.get('value') for c in e.get('content', [])],
    } for e in d.entries],
}))
"#;

/// A sitemap or sitemap index: root element and each entry's fields.
const PARSE_SITEMAP: &str = r#"
import sys, json, xml.etree.ElementTree as ET
SM = '{http://www.sitemaps.org/schemas/sitemap/0.9}'
NEWS = '{http://www.google.com/schemas/sitemap-news/0.9}'
root = ET.fromstring(sys.stdin.buffer.read())
def text(el, path):
    x = el.find(path)
    return x.text if x is not None else None
entries = []
for el in list(root):
    e = {'loc': text(el, SM + 'loc'), 'lastmod': text(el, SM + 'lastmod')}
    n = el.find(NEWS + 'news')
    if n is not None:
        e['news'] = {
            'name': text(n, NEWS + 'publication/' + NEWS + 'name'),
            'language': text(n, NEWS + 'publication/' + NEWS + 'language'),
            'date': text(n, NEWS + 'publication_date'),
            'title': text(n, NEWS + 'title'),
        }
    entries.append(e)
print(json.dumps({'root': root.tag, 'entries': entries}))
"#;

/// JSON-LD blocks of an HTML page, as extruct finds them.
const EXTRACT_JSON_LD: &str = r#"
import sys, json, extruct
html = sys.stdin.buffer.read().decode('utf-8')
print(json.dumps(extruct.extract(html, base_url=sys.argv[1], syntaxes=['json-ld'])['json-ld']))
"#;

fn parse_feed(body: &str) -> Value {
    run_python(PARSE_FEED, body.as_bytes(), &[])
}

fn parse_sitemap(body: &str) -> Value {
    run_python(PARSE_SITEMAP, body.as_bytes(), &[])
}

pub(crate) fn json_ld(html: &str, base: &str) -> Vec<Value> {
    match run_python(EXTRACT_JSON_LD, html.as_bytes(), &[base]) {
        Value::Array(items) => items,
        other => panic!("extruct gave {other}"),
    }
}

fn entries(feed: &Value) -> &Vec<Value> {
    feed["entries"].as_array().expect("entries")
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

async fn get_typed(url: &str, content_type: &str) -> String {
    let (status, headers, body) = get(url).await;
    assert_eq!(status, 200, "{url}: {body}");
    assert_eq!(
        headers[header::CONTENT_TYPE].to_str().expect("type"),
        content_type,
        "{url}"
    );
    body
}

async fn rss_atom_json(s: &Server, prefix: &str) -> (Value, Value, Value) {
    let rss = get_typed(
        &s.url(&format!("{prefix}rss/")),
        "application/rss+xml; charset=utf-8",
    )
    .await;
    let atom = get_typed(
        &s.url(&format!("{prefix}atom/")),
        "application/atom+xml; charset=utf-8",
    )
    .await;
    let json = get_typed(
        &s.url(&format!("{prefix}feed.json")),
        "application/feed+json; charset=utf-8",
    )
    .await;
    let (rss, atom) = (parse_feed(&rss), parse_feed(&atom));
    for (f, version) in [(&rss, "rss20"), (&atom, "atom10")] {
        assert_eq!(f["bozo"], 0, "{prefix}: {}", f["error"]);
        assert_eq!(f["version"], version);
    }
    (
        rss,
        atom,
        serde_json::from_str(&json).expect("JSON Feed is JSON"),
    )
}

/// Milliseconds since the epoch of an RFC 3339 time.
fn epoch_ms(rfc3339: &str) -> i64 {
    rfc3339
        .parse::<jiff::Timestamp>()
        .unwrap_or_else(|e| panic!("{rfc3339:?} is not RFC 3339: {e}"))
        .as_millisecond()
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// A lowercase RFC 4122 UUID (`8-4-4-4-12` hex digits).
fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_digit() || ('a'..='f').contains(&c),
        })
}

/// The JSON Feed 1.1 fields every feed and item must have.
fn check_json_feed(feed: &Value, base: &str, feed_url: &str) {
    assert_eq!(feed["version"], "https://jsonfeed.org/version/1.1");
    assert!(feed["title"].as_str().is_some_and(|t| !t.is_empty()));
    assert_eq!(feed["feed_url"], feed_url);
    assert!(
        feed["home_page_url"]
            .as_str()
            .is_some_and(|u| u.starts_with(base))
    );
    for item in feed["items"].as_array().expect("items") {
        assert!(item["id"].as_str().is_some_and(|i| !i.is_empty()), "{item}");
        assert!(
            item["content_html"].is_string() || item["content_text"].is_string(),
            "an item needs content_html or content_text: {item}"
        );
        assert!(item["url"].as_str().is_some_and(|u| u.starts_with(base)));
        for key in ["date_published", "date_modified"] {
            epoch_ms(item[key].as_str().expect("date"));
        }
        for key in ["tags", "authors", "attachments"] {
            assert!(item.get(key).is_none_or(Value::is_array), "{key}: {item}");
        }
    }
}

#[tokio::test]
async fn feeds_carry_the_latest_posts_in_three_formats() {
    with_server("feeds", |s| async move {
        let base = s.base.clone();
        let (rss, atom, json) = rss_atom_json(&s, "/").await;
        check_json_feed(&json, &base, &s.url("/feed.json"));
        let items = json["items"].as_array().expect("items");
        // The 50 newest posts, pages left out, newest first, the same in every format.
        assert_eq!(entries(&rss).len(), 50);
        assert_eq!(entries(&atom).len(), 50);
        assert_eq!(items.len(), 50);
        let (_, _, home) = get(&s.url("/")).await;
        let newest = home
            .split("class=\"card__title\"><a href=\"")
            .nth(1)
            .and_then(|x| x.split('"').next())
            .expect("a card");
        assert_eq!(items[0]["url"], s.url(newest), "the newest post leads");
        let mut last = i64::MAX;
        for ((r, a), j) in entries(&rss).iter().zip(entries(&atom)).zip(items) {
            let id = j["id"].as_str().expect("id");
            assert!(is_uuid(id), "items are identified by the post's UUID: {id}");
            assert_eq!(r["id"], id);
            assert_eq!(r["guidislink"], false, "RSS guid is not a permalink");
            assert_eq!(a["id"], format!("urn:uuid:{id}"), "Atom ids are IRIs");
            assert_eq!(r["title"], j["title"]);
            assert_eq!(a["title"], j["title"]);
            let link = j["url"].as_str().expect("url");
            assert_eq!(r["link"], link);
            assert_eq!(a["link"], link);
            assert!(
                !["/about/", "/corrections-policy/"]
                    .iter()
                    .any(|p| link.ends_with(p))
            );
            // RFC 822 in RSS and RFC 3339 in Atom name the same instant.
            assert_eq!(r["published"], j["date_published"]);
            assert_eq!(a["published"], j["date_published"]);
            assert_eq!(a["updated"], j["date_modified"]);
            let published = epoch_ms(j["date_published"].as_str().expect("date"));
            assert!(published <= last, "newest first");
            last = published;
            let tags = strs(&j["tags"]);
            assert_eq!(strs(&r["tags"]), tags, "categories from tags");
            assert_eq!(strs(&a["tags"]), tags);
            let authors: Vec<String> = j["authors"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x["name"].as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            assert!(!authors.is_empty(), "{j}");
            assert_eq!(strs(&r["authors"]), authors, "dc:creator per byline");
            assert_eq!(strs(&a["authors"]), authors);
            // Full content by default, with site-relative addresses made absolute.
            let html = j["content_html"].as_str().expect("full content");
            assert!(
                !html.contains("href=\"/") && !html.contains("src=\"/"),
                "{html}"
            );
            assert_eq!(strs(&r["content"]).len(), 1, "content:encoded");
            assert_eq!(strs(&a["content"]).len(), 1, "Atom content");
            // The feature image travels as an enclosure.
            if let Some(image) = j["image"].as_str() {
                assert!(image.starts_with(&base));
                assert!(
                    a["enclosures"]
                        .as_array()
                        .expect("enc")
                        .iter()
                        .any(|e| e["href"] == image),
                    "{a}"
                );
                assert_eq!(
                    r["enclosures"].as_array().expect("enc").len(),
                    1,
                    "one RSS enclosure"
                );
            }
        }
        let analysis = items
            .iter()
            .find(|i| i["url"] == s.url("/analysis-storm-eamon-tallow-scheme/"))
            .expect("the analysis is in the feed");
        assert!(
            analysis["content_html"]
                .as_str()
                .expect("html")
                .contains(&format!("href=\"{base}/tallow-flood-scheme-costs-rise/\"")),
            "links inside bodies are absolute"
        );
        // The story page prints the same publication time.
        let (_, _, page) = get(&s.url("/analysis-storm-eamon-tallow-scheme/")).await;
        assert!(page.contains(&format!(
            "Published <time datetime=\"{}\"",
            analysis["date_published"].as_str().expect("date")
        )));

        // A video post's enclosure is its file, with its real size and type.
        let film = entries(&rss)
            .iter()
            .find(|e| e["link"] == s.url("/tanyard-street-clean-up-film/"))
            .expect("the film is in the feed");
        let enclosure = &film["enclosures"][0];
        assert_eq!(enclosure["type"], "video/webm");
        let url = enclosure["href"].as_str().expect("href");
        let bytes = client()
            .get(url)
            .send()
            .await
            .expect("video")
            .bytes()
            .await
            .expect("bytes");
        assert!(!bytes.is_empty());
        assert_eq!(enclosure["length"], bytes.len().to_string());
        let film_json = items
            .iter()
            .find(|i| i["url"] == film["link"])
            .expect("film in JSON");
        assert_eq!(film_json["attachments"][0]["mime_type"], "video/webm");
        assert_eq!(film_json["attachments"][0]["duration_in_seconds"], 118);

        // The same id for a post in every feed it is in, and on every fetch.
        let (rss2, _, _) = rss_atom_json(&s, "/").await;
        assert_eq!(rss2["entries"][0]["id"], rss["entries"][0]["id"]);
        let (tag_rss, tag_atom, tag_json) = rss_atom_json(&s, "/tag/coast/").await;
        check_json_feed(&tag_json, &base, &s.url("/tag/coast/feed.json"));
        assert!(!entries(&tag_rss).is_empty());
        assert_eq!(entries(&tag_rss).len(), entries(&tag_atom).len());
        let ids: HashMap<String, String> = entries(&rss)
            .iter()
            .map(|e| {
                (
                    e["link"].as_str().unwrap_or("").to_owned(),
                    e["id"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect();
        for e in entries(&tag_rss) {
            assert!(strs(&e["tags"]).contains(&"Coast".to_owned()), "{e}");
            if let Some(id) = ids.get(e["link"].as_str().unwrap_or("")) {
                assert_eq!(e["id"], id.as_str(), "one id per post");
            }
        }
        assert!(
            tag_rss["title"]
                .as_str()
                .expect("title")
                .starts_with("Coast")
        );
        let (author_rss, _, author_json) = rss_atom_json(&s, "/author/priya-lambert/").await;
        check_json_feed(
            &author_json,
            &base,
            &s.url("/author/priya-lambert/feed.json"),
        );
        assert!(!entries(&author_rss).is_empty());
        for e in entries(&author_rss) {
            assert!(
                strs(&e["authors"]).contains(&"Priya Lambert".to_owned()),
                "{e}"
            );
        }

        // Unknown tags and bylines are the site's themed 404.
        for path in [
            "/tag/no-such-topic/rss/",
            "/tag/no-such-topic/atom/",
            "/author/nobody-here/feed.json",
            "/tag/Not%20A%20Slug/rss/",
        ] {
            let (status, headers, body) = get(&s.url(path)).await;
            assert_eq!(status, 404, "{path}");
            assert!(
                headers[header::CONTENT_TYPE]
                    .to_str()
                    .expect("type")
                    .starts_with("text/html")
            );
            assert!(body.contains("Page not found"), "{path}");
        }

        // Cached like pages: the type survives, and a HEAD never leaves an empty body behind.
        let res = client()
            .head(s.url("/author/helen-marsh/atom/"))
            .send()
            .await
            .expect("head");
        assert_eq!(res.status().as_u16(), 200);
        // Rendered once and not kept (the page cache keeps a page from its
        // second render on); then rendered and kept; then served from it.
        assert_eq!(get(&s.url("/author/helen-marsh/atom/")).await.0, 200);
        for round in 0..2 {
            let (status, headers, body) = get(&s.url("/author/helen-marsh/atom/")).await;
            assert_eq!(status, 200);
            assert_eq!(
                headers[header::CONTENT_TYPE].to_str().expect("type"),
                "application/atom+xml; charset=utf-8",
                "round {round}"
            );
            assert!(
                body.starts_with("<?xml"),
                "round {round}: a whole feed, not {body:?}"
            );
            assert_eq!(parse_feed(&body)["bozo"], 0, "round {round}: {body}");
            if round == 1 {
                assert_eq!(headers["x-cache"], "hit");
                let etag = headers[header::ETAG].clone();
                let res = client()
                    .get(s.url("/author/helen-marsh/atom/"))
                    .header(header::IF_NONE_MATCH, etag)
                    .send()
                    .await
                    .expect("revalidate");
                assert_eq!(res.status().as_u16(), 304);
            }
        }
        let (_, headers, _) = get(&s.url("/rss/")).await;
        assert_eq!(headers["x-cache"], "hit");
        assert_eq!(
            headers["surrogate-key"].to_str().expect("keys"),
            "feed site"
        );
    })
    .await;
}

/// Creates and publishes a post through the desk; returns its id and the
/// editor page the publication answered with.
pub(crate) async fn publish_post(
    s: &Server,
    cookie: &str,
    csrf: &str,
    kind: &str,
    title: &str,
    fields: &[(&str, &str)],
) -> (i64, String) {
    let c = client();
    let res = c
        .post(s.url("/admin/posts"))
        .header(header::COOKIE, cookie)
        .form(&[("csrf", csrf), ("kind", kind), ("title", title)])
        .send()
        .await
        .expect("create");
    assert_eq!(res.status().as_u16(), 303);
    let edit_url = res.headers()[header::LOCATION]
        .to_str()
        .expect("loc")
        .to_owned();
    let id: i64 = edit_url
        .split('/')
        .nth(3)
        .and_then(|x| x.parse().ok())
        .expect("id");
    let html = c
        .get(s.url(&edit_url))
        .header(header::COOKIE, cookie)
        .send()
        .await
        .expect("edit")
        .text()
        .await
        .expect("html");
    let version = field(&html, "version");
    let byline = field(&html, "authors");
    let mut form: Vec<(&str, &str)> = vec![
        ("csrf", csrf),
        ("version", &version),
        ("title", title),
        ("authors", &byline),
        ("publish_at", ""),
        ("action", "publish"),
    ];
    form.extend_from_slice(fields);
    let res = c
        .post(s.url(&format!("/admin/posts/{id}")))
        .header(header::COOKIE, cookie)
        .form(&form)
        .send()
        .await
        .expect("publish");
    let status = res.status().as_u16();
    let html = res.text().await.expect("html");
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Published."), "{html}");
    (id, html)
}

const SECRET_BODY: &str = "The ferry timetable opens with a free paragraph.\n\n\
    A second paragraph every reader sees.\n\n\
    Only members read that the night crossing returns in March.\n\n\
    Members also learn the fare stays at four pounds.";

#[tokio::test]
async fn members_only_stories_carry_only_their_excerpt_and_ids_survive_renames() {
    with_server("feeds-members", |s| async move {
        let base = s.base.clone();
        let (cookie, csrf) = signed_in(&s, "feeds-ed@courier.example", "editor").await;
        let title = "Night ferry </script><b>returns</b> & fares \"hold\"";
        let (id, html) = publish_post(
            &s,
            &cookie,
            &csrf,
            "article",
            title,
            &[
                ("dek", "The overnight service is back, members hear first."),
                ("slug", "night-ferry-members"),
                ("body", SECRET_BODY),
                ("tags", "transport"),
                ("visibility", "members"),
                ("canonical_url", "https://partner.example/ferry-story"),
            ],
        )
        .await;
        let (rss, atom, json) = rss_atom_json(&s, "/").await;
        let guid = entries(&rss)
            .iter()
            .find(|e| e["link"] == s.url("/night-ferry-members/"))
            .and_then(|e| e["id"].as_str())
            .expect("the members' story is in the feed")
            .to_owned();
        assert!(is_uuid(&guid), "{guid}");
        let secret = [
            "night crossing returns",
            "fare stays at four",
            "second paragraph",
        ];
        let atom_id = format!("urn:uuid:{guid}");
        for (name, feed, feed_id) in [("rss", &rss, &guid), ("atom", &atom, &atom_id)] {
            let e = entries(feed)
                .iter()
                .find(|e| e["id"] == feed_id.as_str())
                .unwrap_or_else(|| panic!("{name}: the members' story is in the feed"));
            assert_eq!(e["title"], title, "{name}: titles survive escaping");
            assert_eq!(
                e["summary"], "The overnight service is back, members hear first.",
                "{name}"
            );
            assert!(strs(&e["content"]).is_empty(), "{name}: no body: {e}");
        }
        let item = json["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|i| i["id"] == guid.as_str())
            .expect("in JSON Feed");
        assert!(item.get("content_html").is_none(), "{item}");
        assert_eq!(
            item["content_text"],
            "The overnight service is back, members hear first."
        );
        for path in ["/rss/", "/atom/", "/feed.json", "/tag/transport/rss/"] {
            let (_, _, raw) = get(&s.url(path)).await;
            for words in secret {
                assert!(!raw.contains(words), "{path} leaks {words:?}");
            }
        }

        // The story page: canonical from the desk, paywall markup naming the box's wrapper.
        let (_, _, page) = get(&s.url("/night-ferry-members/")).await;
        assert!(page.contains("<aside class=\"gate\""));
        assert_eq!(
            page.matches("<link rel=\"canonical\"").count(),
            1,
            "one canonical link"
        );
        assert!(
            page.contains("<link rel=\"canonical\" href=\"https://partner.example/ferry-story\">")
        );
        let script = page
            .split("<script type=\"application/ld+json\">")
            .nth(1)
            .and_then(|x| x.split("</script>").next())
            .expect("JSON-LD");
        assert!(
            !script.contains('<') && !script.contains('&'),
            "JSON-LD is escaped for <script>: {script}"
        );
        let ld = json_ld(&page, &base);
        assert_eq!(ld.len(), 1, "{ld:?}");
        let article = &ld[0];
        assert_eq!(article["@type"], "NewsArticle");
        assert_eq!(article["headline"], title);
        assert_eq!(article["isAccessibleForFree"], false);
        assert_eq!(article["hasPart"]["@type"], "WebPageElement");
        assert_eq!(article["hasPart"]["isAccessibleForFree"], false);
        assert_eq!(article["hasPart"]["cssSelector"], ".paywalled");
        assert!(page.contains("<div class=\"paywalled\">\n    <aside class=\"gate\""));
        assert_eq!(
            article["mainEntityOfPage"]["@id"],
            "https://partner.example/ferry-story"
        );

        // A new slug: same id, new link.
        let version = field(&html, "version");
        let byline = field(&html, "authors");
        let res = client()
            .post(s.url(&format!("/admin/posts/{id}")))
            .header(header::COOKIE, &cookie)
            .form(&[
                ("csrf", csrf.as_str()),
                ("version", &version),
                ("title", title),
                ("authors", &byline),
                ("dek", "The overnight service is back, members hear first."),
                ("slug", "night-ferry-renamed"),
                ("body", SECRET_BODY),
                ("tags", "transport"),
                ("visibility", "members"),
                ("action", "save"),
            ])
            .send()
            .await
            .expect("rename");
        assert_eq!(res.status().as_u16(), 200);
        let (rss, _, _) = rss_atom_json(&s, "/").await;
        let e = entries(&rss)
            .iter()
            .find(|e| e["id"] == guid.as_str())
            .expect("same id after the rename");
        assert_eq!(e["link"], s.url("/night-ferry-renamed/"));

        // Feeds of excerpts only, by the site's setting.
        let (ocookie, ocsrf) = signed_in(&s, "feeds-owner@courier.example", "owner").await;
        let settings = |feed_content: &'static str| {
            vec![
                ("csrf", ocsrf.clone()),
                ("title", "The Aldren Courier".to_owned()),
                ("description", "News.".to_owned()),
                ("accent", "#b3261e".to_owned()),
                ("timezone", "Europe/London".to_owned()),
                ("pitch", "Readers keep us going.".to_owned()),
                ("goal", "25000".to_owned()),
                ("metric", "members".to_owned()),
                ("deadline", "2027-12-31".to_owned()),
                ("feed_content", feed_content.to_owned()),
            ]
        };
        let res = client()
            .post(s.url("/admin/settings"))
            .header(header::COOKIE, &ocookie)
            .form(&settings("everything"))
            .send()
            .await
            .expect("bad setting");
        assert_eq!(res.status().as_u16(), 422);
        let res = client()
            .post(s.url("/admin/settings"))
            .header(header::COOKIE, &ocookie)
            .form(&settings("excerpt"))
            .send()
            .await
            .expect("save");
        assert_eq!(res.status().as_u16(), 200);
        assert!(
            res.text()
                .await
                .expect("html")
                .contains("<option value=\"excerpt\" selected>")
        );
        let (rss, atom, json) = rss_atom_json(&s, "/").await;
        for feed in [&rss, &atom] {
            for e in entries(feed) {
                assert!(strs(&e["content"]).is_empty(), "excerpts only: {e}");
                assert!(e["summary"].as_str().is_some_and(|s| !s.is_empty()), "{e}");
            }
        }
        for item in json["items"].as_array().expect("items") {
            assert!(item.get("content_html").is_none() && item["content_text"].is_string());
        }
    })
    .await;
}

#[tokio::test]
async fn sitemaps_list_every_public_page_and_robots_points_to_them() {
    with_server("sitemaps", |s| async move {
        let base = s.base.clone();
        let xml = "application/xml; charset=utf-8";
        let index = parse_sitemap(&get_typed(&s.url("/sitemap.xml"), xml).await);
        assert_eq!(
            index["root"],
            "{http://www.sitemaps.org/schemas/sitemap/0.9}sitemapindex"
        );
        let sitemaps: Vec<String> = index["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .map(|e| e["loc"].as_str().expect("loc").to_owned())
            .collect();
        for name in ["posts", "pages", "tags", "authors", "news"] {
            assert!(
                sitemaps.contains(&s.url(&format!("/sitemap-{name}.xml"))),
                "{name}: {sitemaps:?}"
            );
        }
        let mut seen = HashSet::new();
        let mut by_name: HashMap<String, Vec<Value>> = HashMap::new();
        for loc in &sitemaps {
            let map = parse_sitemap(&get_typed(loc, xml).await);
            assert_eq!(
                map["root"], "{http://www.sitemaps.org/schemas/sitemap/0.9}urlset",
                "{loc}"
            );
            let urls = map["entries"].as_array().expect("urls").clone();
            for u in &urls {
                let page = u["loc"].as_str().expect("loc");
                assert!(page.starts_with(&format!("{base}/")), "absolute: {page}");
                if !loc.ends_with("news.xml") {
                    epoch_ms(
                        u["lastmod"]
                            .as_str()
                            .unwrap_or_else(|| panic!("lastmod of {page}")),
                    );
                }
                if seen.insert(page.to_owned()) {
                    let (status, _, _) = get(page).await;
                    assert_eq!(status, 200, "{page} (from {loc})");
                }
            }
            by_name.insert(loc.trim_start_matches(&base).to_owned(), urls);
        }
        let locs = |name: &str| -> Vec<String> {
            by_name[name]
                .iter()
                .map(|u| u["loc"].as_str().unwrap_or("").to_owned())
                .collect()
        };
        let posts = locs("/sitemap-posts.xml");
        assert_eq!(posts.len(), 63, "every published post, no pages");
        assert!(locs("/sitemap-pages.xml").contains(&s.url("/about/")));
        assert!(locs("/sitemap-pages.xml").contains(&s.url("/")));
        assert!(!posts.contains(&s.url("/about/")));
        assert!(locs("/sitemap-tags.xml").contains(&s.url("/tag/coast/")));
        assert!(locs("/sitemap-tags.xml").contains(&s.url("/section/coast/")));
        assert!(locs("/sitemap-authors.xml").contains(&s.url("/author/priya-lambert/")));
        let (rss, _, _) = rss_atom_json(&s, "/").await;
        for e in entries(&rss) {
            assert!(posts.contains(&e["link"].as_str().unwrap_or("").to_owned()));
        }

        // Google News: the last 48 hours only (the demo spans ten days).
        let news = &by_name["/sitemap-news.xml"];
        let window_start = now_ms() - 48 * 3_600_000;
        let recent_in_rss = entries(&rss)
            .iter()
            .filter(|e| epoch_ms(e["published"].as_str().expect("date")) >= window_start)
            .count();
        assert!(recent_in_rss > 0 && recent_in_rss < entries(&rss).len());
        assert_eq!(
            news.len(),
            recent_in_rss,
            "exactly the stories of the last two days"
        );
        for u in news {
            let n = &u["news"];
            assert_eq!(n["name"], "The Aldren Courier");
            assert_eq!(n["language"], "en");
            assert!(n["title"].as_str().is_some_and(|t| !t.is_empty()));
            let published = epoch_ms(n["date"].as_str().expect("date"));
            assert!(published >= window_start - 60_000 && published <= now_ms());
        }

        // Numbered parts: part 1 has one address; an empty part is a 404.
        let (status, headers, _) = get(&s.url("/sitemap-posts-1.xml")).await;
        assert_eq!(status, 301);
        assert_eq!(headers[header::LOCATION], "/sitemap-posts.xml");
        assert_eq!(get(&s.url("/sitemap-posts-2.xml")).await.0, 404);
        assert_eq!(get(&s.url("/sitemap-posts-02.xml")).await.0, 404);
        // Other single-segment paths behave as before.
        let (status, headers, _) = get(&s.url("/storm-eamon-live")).await;
        assert_eq!(status, 308);
        assert_eq!(headers[header::LOCATION], "/storm-eamon-live/");
        assert_eq!(get(&s.url("/nothing.txt")).await.0, 404);

        let robots = get_typed(&s.url("/robots.txt"), "text/plain; charset=utf-8").await;
        let lines: Vec<&str> = robots.lines().filter(|l| !l.is_empty()).collect();
        let sitemap_line = format!("Sitemap: {base}/sitemap.xml");
        assert_eq!(
            lines,
            [
                "User-agent: *",
                "Disallow: /admin/",
                "Disallow: /_live/",
                sitemap_line.as_str(),
            ]
        );
    })
    .await;
}

/// `content` of every `<meta property|name="{key}">` in a page's head.
fn meta(html: &str, attr: &str, key: &str) -> Vec<String> {
    let head = html.split("</head>").next().unwrap_or("");
    head.split(&format!("<meta {attr}=\"{key}\" content=\""))
        .skip(1)
        .filter_map(|x| x.split('"').next())
        .map(|x| x.replace("&amp;", "&"))
        .collect()
}

fn one_meta(html: &str, attr: &str, key: &str) -> String {
    let all = meta(html, attr, key);
    assert_eq!(all.len(), 1, "exactly one {key}: {all:?}");
    all[0].clone()
}

#[tokio::test]
async fn pages_describe_themselves_to_search_engines_and_link_previews() {
    with_server("seo", |s| async move {
        let base = s.base.clone();
        let url = s.url("/analysis-storm-eamon-tallow-scheme/");
        let (_, _, page) = get(&url).await;
        assert_eq!(page.matches("<link rel=\"canonical\"").count(), 1);
        assert!(page.contains(&format!("<link rel=\"canonical\" href=\"{url}\">")));
        let og = |k: &str| one_meta(&page, "property", k);
        assert_eq!(og("og:site_name"), "The Aldren Courier");
        assert_eq!(og("og:type"), "article");
        assert_eq!(
            og("og:title"),
            "Analysis: Storm Eamon was the test the Tallow flood scheme was not ready for"
        );
        assert!(og("og:description").starts_with("The temporary barriers mostly held."));
        assert_eq!(og("og:url"), url);
        assert!(og("og:image").starts_with(&format!("{base}/content/images/")));
        assert_eq!(og("og:image:width"), "1200");
        assert_eq!(og("og:image:height"), "800");
        assert_eq!(og("article:section"), "Coast");
        let published = og("article:published_time");
        assert!(page.contains(&format!("Published <time datetime=\"{published}\"")));
        epoch_ms(&og("article:modified_time"));
        assert_eq!(
            meta(&page, "property", "article:tag"),
            ["Coast", "Flooding", "Investigations", "Council"]
        );
        assert_eq!(one_meta(&page, "name", "twitter:card"), "summary_large_image");
        assert_eq!(one_meta(&page, "name", "twitter:image"), og("og:image"));
        for (mime, path) in [
            ("application/rss+xml", "/rss/"),
            ("application/atom+xml", "/atom/"),
            ("application/feed+json", "/feed.json"),
        ] {
            assert!(page.contains(&format!(
                "<link rel=\"alternate\" type=\"{mime}\" title=\"The Aldren Courier\" href=\"{path}\">"
            )));
        }
        let ld = json_ld(&page, &base);
        assert_eq!(ld.len(), 1);
        let a = &ld[0];
        assert_eq!(a["@context"], "https://schema.org");
        assert_eq!(a["@type"], "NewsArticle");
        assert_eq!(a["headline"], og("og:title"));
        assert_eq!(a["datePublished"], published);
        assert_eq!(a["mainEntityOfPage"]["@id"], url);
        assert_eq!(a["author"][0]["@type"], "Person");
        assert_eq!(a["author"][0]["name"], "Callum Ferris");
        assert_eq!(a["author"][0]["url"], s.url("/author/callum-ferris/"));
        assert_eq!(a["image"][0]["url"], og("og:image"));
        assert_eq!(a["publisher"]["@type"], "Organization");
        assert_eq!(a["publisher"]["name"], "The Aldren Courier");
        let logo = a["publisher"]["logo"]["url"].as_str().expect("logo");
        assert!(logo.starts_with(&base));
        assert_eq!(get(logo).await.0, 200);
        assert_eq!(a["isAccessibleForFree"], true);

        // A live page: the coverage and its newest updates.
        let (_, _, live) = get(&s.url("/storm-eamon-live/")).await;
        let ld = json_ld(&live, &base);
        let blog = &ld[0];
        assert_eq!(blog["@type"], "LiveBlogPosting");
        assert_eq!(blog["coverageStartTime"], blog["datePublished"]);
        let updates = blog["liveBlogUpdate"].as_array().expect("updates");
        assert!(!updates.is_empty() && updates.len() <= 20);
        for u in updates {
            assert_eq!(u["@type"], "BlogPosting");
            assert!(u["headline"].as_str().is_some_and(|h| !h.is_empty()), "{u}");
            assert!(u["articleBody"].as_str().is_some_and(|b| !b.is_empty() && !b.contains('<')));
            epoch_ms(u["datePublished"].as_str().expect("date"));
        }
        let out = s.cli(&[
            "live",
            "add",
            "--post",
            "storm-eamon-live",
            "--title",
            "Harbour road reopens <fully>",
            "--body",
            "Police have lifted the closure & traffic flows.",
        ]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let (_, _, live) = get(&s.url("/storm-eamon-live/")).await;
            let ld = json_ld(&live, &base);
            let newest = &ld[0]["liveBlogUpdate"][0];
            if newest["headline"] == "Harbour road reopens <fully>" {
                assert_eq!(newest["articleBody"], "Police have lifted the closure & traffic flows.");
                assert_eq!(ld[0]["dateModified"], newest["datePublished"]);
                break;
            }
            assert!(Instant::now() < deadline, "the new entry reaches the JSON-LD");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }

        // A video post.
        let (_, _, film) = get(&s.url("/tanyard-street-clean-up-film/")).await;
        let ld = json_ld(&film, &base);
        let v = &ld[0];
        assert_eq!(v["@type"], "VideoObject");
        assert_eq!(v["name"], "Video: the clean-up begins on Tanyard Street");
        assert!(v["description"].as_str().is_some_and(|d| !d.is_empty()));
        assert!(v["thumbnailUrl"][0].as_str().is_some_and(|t| t.starts_with(&base)));
        epoch_ms(v["uploadDate"].as_str().expect("uploadDate"));
        assert_eq!(v["duration"], "PT1M58S");
        let content = v["contentUrl"].as_str().expect("contentUrl");
        assert!(content.starts_with(&base) && content.ends_with(".webm"));
        assert_eq!(get(content).await.0, 200);

        // Listings: canonical without ?after=, and their own feeds.
        let (_, _, tag) = get(&s.url("/tag/coast/")).await;
        let more = more_href(&tag).expect("a second page");
        let (_, _, deeper) = get(&s.url(&more)).await;
        for html in [&tag, &deeper] {
            assert!(html.contains(&format!(
                "<link rel=\"canonical\" href=\"{base}/tag/coast/\">"
            )));
            assert_eq!(one_meta(html, "property", "og:type"), "website");
            assert!(html.contains(
                "<link rel=\"alternate\" type=\"application/rss+xml\" title=\"Coast | The Aldren Courier\" href=\"/tag/coast/rss/\">"
            ));
        }
        let (_, _, home) = get(&s.url("/")).await;
        assert!(home.contains(&format!("<link rel=\"canonical\" href=\"{base}/\">")));
        assert_eq!(one_meta(&home, "property", "og:title"), "The Aldren Courier");
    })
    .await;
}
