//! Role checks on every surface. For each role × action cell of
//! `docs/permissions.md` that concerns posts and tags, the desk (form posts
//! with the session cookie and CSRF token) and the Admin API (with the staff
//! session, and with an admin key for the administrator's column) must give
//! the answer `masthead_domain::permits` gives. Then the attacks of issue 8,
//! one test each, sent as a script would send them.

use std::sync::atomic::{AtomicUsize, Ordering};

use hmac::{Hmac, Mac};
use masthead_domain::{Action, Role, Whose, permits};
use serde_json::{Value, json};
use sha2::Sha256;

use super::*;

/// A time far enough ahead to schedule for, in the desk's form and in the API.
const LATER_LOCAL: &str = "2035-06-01T09:00";
const LATER_ISO: &str = "2035-06-01T09:00:00.000Z";

fn b64url(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(char::from(A[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

/// An Admin API token, made as Ghost's admin client makes it: HS256 with
/// the key's hex secret, its id as `kid`, audience `/admin/`, five minutes.
pub(super) fn admin_token(key: &str) -> String {
    let (id, secret) = key.split_once(':').expect("id:secret");
    let secret: Vec<u8> = (0..secret.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&secret[i..i + 2], 16).expect("hex"))
        .collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let header = b64url(
        json!({ "alg": "HS256", "typ": "JWT", "kid": id })
            .to_string()
            .as_bytes(),
    );
    let claims = b64url(
        json!({ "iat": now, "exp": now + 300, "aud": "/admin/" })
            .to_string()
            .as_bytes(),
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(&secret).expect("key");
    mac.update(format!("{header}.{claims}").as_bytes());
    let sig = b64url(&mac.finalize().into_bytes());
    format!("{header}.{claims}.{sig}")
}

/// A signed-in staff member and the byline that makes posts theirs.
struct Person {
    role: Role,
    cookie: String,
    csrf: String,
    byline: String,
}

/// How a question is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    /// The desk's forms, with the session cookie and CSRF token.
    Desk,
    /// The Admin API with the desk session, as the desk's own scripts would.
    Session,
    /// The Admin API with an admin key's token: an integration.
    Key,
}

/// A post made for one question.
struct Made {
    id: i64,
    hex: String,
    slug: String,
    title: String,
    /// The version token (`updated_at` in milliseconds).
    version: i64,
    bylines: Vec<String>,
}

/// One server with a person of every role, an outside writer whose posts
/// are "others'", and an admin key.
struct Newsroom {
    s: Server,
    /// Removed after the server stops (fields drop in order).
    _dir: TempDir,
    key: String,
    /// Writes the posts that are "others'".
    other: Person,
    /// A co-writer to add as a second byline.
    third: Person,
    n: AtomicUsize,
}

impl Newsroom {
    async fn open(name: &str) -> Newsroom {
        let dir = TempDir::new(name);
        let s = Server::start_with_env(&dir.0, &[("MASTHEAD_NO_DEMO", "true")]);
        let out = s.cli(&["key", "create", "admin", "--name", "permissions"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let key = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let nobody = || Person {
            role: Role::Author,
            cookie: String::new(),
            csrf: String::new(),
            byline: String::new(),
        };
        let mut room = Newsroom {
            s,
            _dir: dir,
            key,
            other: nobody(),
            third: nobody(),
            n: AtomicUsize::new(0),
        };
        room.other = room
            .person("outside.writer@courier.example", Role::Author)
            .await;
        room.third = room.person("co.writer@courier.example", Role::Author).await;
        room
    }

    /// Signs a new staff member in and learns their byline from the editor.
    async fn person(&self, email: &str, role: Role) -> Person {
        let (cookie, csrf) = signed_in(&self.s, email, role.as_str()).await;
        let res = client()
            .post(self.s.url("/admin/posts"))
            .header(header::COOKIE, &cookie)
            .form(&[
                ("csrf", csrf.as_str()),
                ("kind", "article"),
                ("title", "Whose byline is this"),
            ])
            .send()
            .await
            .expect("create");
        assert_eq!(res.status().as_u16(), 303, "{role:?} starts a draft");
        let edit = res.headers()[header::LOCATION]
            .to_str()
            .expect("location")
            .to_owned();
        let html = client()
            .get(self.s.url(&edit))
            .header(header::COOKIE, &cookie)
            .send()
            .await
            .expect("editor")
            .text()
            .await
            .expect("html");
        let byline = field(&html, "authors");
        assert!(!byline.is_empty() && !byline.contains(','), "{byline}");
        Person {
            role,
            cookie,
            csrf,
            byline,
        }
    }

    fn title(&self) -> String {
        format!("Cell {} story", self.n.fetch_add(1, Ordering::Relaxed))
    }

    fn api(
        &self,
        method: reqwest::Method,
        path: &str,
        who: Option<&Person>,
    ) -> reqwest::RequestBuilder {
        let req = client().request(method, self.s.url(&format!("/ghost/api/admin{path}")));
        match who {
            // What a browser sends from the desk's own pages.
            Some(p) => req
                .header(header::COOKIE, &p.cookie)
                .header(header::ORIGIN, &self.s.base),
            None => req.header(
                header::AUTHORIZATION,
                format!("Ghost {}", admin_token(&self.key)),
            ),
        }
    }

    /// A fresh post with these bylines and status, made with the admin key.
    async fn make(&self, bylines: &[&str], status: &str) -> Made {
        let title = self.title();
        let mut post = json!({
            "title": title,
            "status": status,
            "authors": bylines.iter().map(|b| json!({ "slug": b })).collect::<Vec<_>>(),
        });
        if status == "scheduled" {
            post["published_at"] = json!(LATER_ISO);
        }
        let res = self
            .api(reqwest::Method::POST, "/posts/", None)
            .json(&json!({ "posts": [post] }))
            .send()
            .await
            .expect("make");
        assert_eq!(res.status().as_u16(), 201, "the admin key makes posts");
        let v: Value = res.json().await.expect("json");
        made(&v["posts"][0], bylines)
    }

    /// The post as the admin key reads it now (`None` once deleted).
    async fn current(&self, hex: &str) -> Option<Value> {
        let res = self
            .api(reqwest::Method::GET, &format!("/posts/{hex}/"), None)
            .send()
            .await
            .expect("read");
        match res.status().as_u16() {
            200 => Some(res.json::<Value>().await.expect("json")["posts"][0].clone()),
            404 => None,
            other => panic!("reading {hex} answered {other}"),
        }
    }

    /// The desk's editor form for `p`, with `changes` applied.
    async fn desk_save(&self, who: &Person, p: &Made, changes: &[(&'static str, String)]) -> u16 {
        let mut form: Vec<(&'static str, String)> = vec![
            ("csrf", who.csrf.clone()),
            ("version", p.version.to_string()),
            ("title", p.title.clone()),
            ("dek", String::new()),
            ("slug", p.slug.clone()),
            ("body", "Filed from the desk.".into()),
            ("publish_at", String::new()),
            ("tags", String::new()),
            ("authors", p.bylines.join(", ")),
            ("action", "save".into()),
        ];
        for (k, v) in changes {
            match form.iter_mut().find(|(f, _)| f == k) {
                Some(slot) => slot.1 = v.clone(),
                None => form.push((k, v.clone())),
            }
        }
        client()
            .post(self.s.url(&format!("/admin/posts/{}", p.id)))
            .header(header::COOKIE, &who.cookie)
            .form(&form)
            .send()
            .await
            .expect("desk save")
            .status()
            .as_u16()
    }

    async fn api_edit(&self, who: Option<&Person>, p: &Made, mut changes: Value) -> u16 {
        let updated = self.current(&p.hex).await.expect("exists")["updated_at"].clone();
        changes["updated_at"] = updated;
        self.api(reqwest::Method::PUT, &format!("/posts/{}/", p.hex), who)
            .json(&json!({ "posts": [changes] }))
            .send()
            .await
            .expect("api edit")
            .status()
            .as_u16()
    }
}

fn made(v: &Value, bylines: &[&str]) -> Made {
    let hex = v["id"].as_str().expect("id").to_owned();
    let updated: jiff::Timestamp = v["updated_at"]
        .as_str()
        .expect("updated_at")
        .parse()
        .expect("iso");
    Made {
        id: i64::from_str_radix(&hex, 16).expect("hex id"),
        hex,
        slug: v["slug"].as_str().expect("slug").to_owned(),
        title: v["title"].as_str().expect("title").to_owned(),
        version: updated.as_millisecond(),
        bylines: bylines.iter().map(|b| (*b).to_owned()).collect(),
    }
}

/// A surface's answer: allowed or refused. Anything else is a failure.
fn answer(via: Via, status: u16, what: &str) -> bool {
    match (via, status) {
        (Via::Desk, 200 | 303) | (Via::Session | Via::Key, 200 | 201 | 204) => true,
        (_, 403) => false,
        (Via::Session | Via::Key, 404) if what.starts_with("see") => false,
        _ => panic!("{via:?} answered {status} to {what:?}"),
    }
}

/// The post states a "published" cell covers: scheduled counts as published.
fn states(published: bool) -> &'static [&'static str] {
    if published {
        &["published", "scheduled"]
    } else {
        &["draft"]
    }
}

/// Asks one cell of the matrix through one surface; returns the surface's
/// answer for each post state the cell covers.
async fn ask(
    room: &Newsroom,
    via: Via,
    who: Option<&Person>,
    action: Action,
) -> Vec<(String, bool)> {
    let me = who.map(|p| p.byline.as_str());
    let other = room.other.byline.as_str();
    let owner_of = |whose: Whose| match (whose, me) {
        (Whose::Own, Some(b)) => b,
        _ => other,
    };
    let desk = |status: u16, what: &str| answer(via, status, what);
    let mut out = Vec::new();
    match action {
        Action::CreatePost => {
            let title = room.title();
            let status = match (via, who) {
                (Via::Desk, Some(p)) => client()
                    .post(room.s.url("/admin/posts"))
                    .header(header::COOKIE, &p.cookie)
                    .form(&[
                        ("csrf", p.csrf.as_str()),
                        ("kind", "article"),
                        ("title", title.as_str()),
                    ])
                    .send()
                    .await
                    .expect("create")
                    .status()
                    .as_u16(),
                _ => room
                    .api(reqwest::Method::POST, "/posts/", who)
                    .json(&json!({ "posts": [{ "title": title }] }))
                    .send()
                    .await
                    .expect("create")
                    .status()
                    .as_u16(),
            };
            out.push(("draft".into(), desk(status, "create")));
        }
        Action::ReadPost { whose } => {
            let p = room.make(&[owner_of(whose)], "draft").await;
            let seen = match (via, who) {
                (Via::Desk, Some(who)) => {
                    let html = client()
                        .get(
                            room.s
                                .url(&format!("/admin/posts?q={}", p.title.replace(' ', "+"))),
                        )
                        .header(header::COOKIE, &who.cookie)
                        .send()
                        .await
                        .expect("list")
                        .text()
                        .await
                        .expect("html");
                    // A row links to the editor (the search box echoes the title).
                    html.contains(&format!("/admin/posts/{}/edit\"", p.id))
                }
                _ => {
                    let res = room
                        .api(reqwest::Method::GET, &format!("/posts/{}/", p.hex), who)
                        .send()
                        .await
                        .expect("read");
                    let read = answer(via, res.status().as_u16(), "see");
                    let v: Value = room
                        .api(
                            reqwest::Method::GET,
                            &format!("/posts/?filter=slug:{}", p.slug),
                            who,
                        )
                        .send()
                        .await
                        .expect("browse")
                        .json()
                        .await
                        .expect("json");
                    let listed = v["posts"].as_array().is_some_and(|a| a.len() == 1);
                    assert_eq!(
                        v["meta"]["pagination"]["total"],
                        json!(usize::from(listed)),
                        "pagination counts only what is shown"
                    );
                    assert_eq!(read, listed, "{via:?}: read and browse agree");
                    read
                }
            };
            out.push(("draft".into(), seen));
        }
        Action::EditPost { whose, published } => {
            for state in states(published) {
                let p = room.make(&[owner_of(whose)], state).await;
                let new_title = format!("{} (rewritten)", p.title);
                let status = match (via, who) {
                    (Via::Desk, Some(who)) => {
                        room.desk_save(who, &p, &[("title", new_title)]).await
                    }
                    _ => room.api_edit(who, &p, json!({ "title": new_title })).await,
                };
                out.push(((*state).into(), desk(status, "edit")));
            }
        }
        Action::PublishPost { whose } => {
            for (state, act) in [
                ("draft", "publish"),
                ("draft", "schedule"),
                ("published", "unpublish"),
            ] {
                let p = room.make(&[owner_of(whose)], state).await;
                let status = match (via, who) {
                    (Via::Desk, Some(who)) => {
                        room.desk_save(
                            who,
                            &p,
                            &[("action", act.into()), ("publish_at", LATER_LOCAL.into())],
                        )
                        .await
                    }
                    _ => {
                        let change = match act {
                            "publish" => json!({ "status": "published" }),
                            "schedule" => {
                                json!({ "status": "scheduled", "published_at": LATER_ISO })
                            }
                            _ => json!({ "status": "draft" }),
                        };
                        room.api_edit(who, &p, change).await
                    }
                };
                out.push((format!("{act} a {state}"), desk(status, act)));
            }
        }
        Action::ChangeBylines { whose } => {
            // Add a second byline: a co-writer to one's own post, or
            // oneself to someone else's.
            let owner = owner_of(whose);
            let second = match (whose, me) {
                (Whose::Others, Some(b)) => b,
                _ => room.third.byline.as_str(),
            };
            let p = room.make(&[owner], "draft").await;
            let status = match (via, who) {
                (Via::Desk, Some(who)) => {
                    room.desk_save(who, &p, &[("authors", format!("{owner}, {second}"))])
                        .await
                }
                _ => {
                    room.api_edit(
                        who,
                        &p,
                        json!({ "authors": [{ "slug": owner }, { "slug": second }] }),
                    )
                    .await
                }
            };
            out.push(("draft".into(), desk(status, "re-byline")));
        }
        Action::DeletePost { whose, published } => {
            for state in states(published) {
                let p = room.make(&[owner_of(whose)], state).await;
                let status = match (via, who) {
                    (Via::Desk, Some(who)) => {
                        room.desk_save(who, &p, &[("action", "delete".into())])
                            .await
                    }
                    _ => room
                        .api(reqwest::Method::DELETE, &format!("/posts/{}/", p.hex), who)
                        .send()
                        .await
                        .expect("delete")
                        .status()
                        .as_u16(),
                };
                let allowed = desk(status, "delete");
                assert_eq!(
                    room.current(&p.hex).await.is_none(),
                    allowed,
                    "{via:?}: a refused delete leaves the post, an allowed one removes it"
                );
                out.push(((*state).into(), allowed));
            }
        }
        Action::ManageTags => {
            let name = room.title().replace("story", "tag");
            let status = match (via, who) {
                (Via::Desk, Some(who)) => client()
                    .post(room.s.url("/admin/tags"))
                    .header(header::COOKIE, &who.cookie)
                    .form(&[("csrf", who.csrf.as_str()), ("name", name.as_str())])
                    .send()
                    .await
                    .expect("tag")
                    .status()
                    .as_u16(),
                _ => room
                    .api(reqwest::Method::POST, "/tags/", who)
                    .json(&json!({ "tags": [{ "name": name }] }))
                    .send()
                    .await
                    .expect("tag")
                    .status()
                    .as_u16(),
            };
            out.push(("in the tag list".into(), desk(status, "add a tag")));
            if via != Via::Desk {
                // Naming a tag nobody has made yet on a new post creates it.
                let name = room.title().replace("story", "tag");
                let status = room
                    .api(reqwest::Method::POST, "/posts/", who)
                    .json(&json!({ "posts": [{ "title": room.title(), "tags": [{ "name": name }] }] }))
                    .send()
                    .await
                    .expect("tagged post")
                    .status()
                    .as_u16();
                out.push(("named on a post".into(), desk(status, "tag a post")));
            }
        }
        other => panic!("{other:?} is not a post or tag action"),
    }
    out
}

/// The post and tag actions of `docs/permissions.md`.
fn post_and_tag_actions() -> Vec<Action> {
    Action::all()
        .into_iter()
        .filter(|a| {
            matches!(
                a,
                Action::CreatePost
                    | Action::ReadPost { .. }
                    | Action::EditPost { .. }
                    | Action::PublishPost { .. }
                    | Action::ChangeBylines { .. }
                    | Action::DeletePost { .. }
                    | Action::ManageTags
            )
        })
        .collect()
}

#[tokio::test]
async fn every_post_and_tag_cell_gets_the_same_answer_on_every_surface() {
    let room = Newsroom::open("permissions").await;
    let mut people = Vec::new();
    for role in Role::ALL {
        let email = format!("{}@courier.example", role.as_str());
        people.push(room.person(&email, role).await);
    }
    let actions = post_and_tag_actions();
    assert_eq!(actions.len(), 16, "every post and tag row is asked");
    let mut wrong = Vec::new();
    let mut asked = 0;
    for action in &actions {
        let expected = |role: Role| permits(role, *action);
        for p in &people {
            for via in [Via::Desk, Via::Session] {
                for (case, got) in ask(&room, via, Some(p), *action).await {
                    asked += 1;
                    if got != expected(p.role) {
                        wrong.push(format!(
                            "{via:?} as {}: {} ({case}): answered {got}, the table says {}",
                            p.role.as_str(),
                            action.describe(),
                            expected(p.role)
                        ));
                    }
                }
            }
        }
        // An integration has no byline: every post is another's to it.
        let own = matches!(
            action,
            Action::ReadPost { whose: Whose::Own }
                | Action::EditPost {
                    whose: Whose::Own,
                    ..
                }
                | Action::PublishPost { whose: Whose::Own }
                | Action::ChangeBylines { whose: Whose::Own }
                | Action::DeletePost {
                    whose: Whose::Own,
                    ..
                }
        );
        if !own {
            for (case, got) in ask(&room, Via::Key, None, *action).await {
                asked += 1;
                if got != expected(Role::Administrator) {
                    wrong.push(format!(
                        "Key: {} ({case}): answered {got}, the table says {}",
                        action.describe(),
                        expected(Role::Administrator)
                    ));
                }
            }
        }
    }
    assert!(asked > 250, "{asked} questions asked");
    assert!(
        wrong.is_empty(),
        "{} wrong answers:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

/// A newsroom for one attack: the outside writers and an admin key.
async fn newsroom(name: &str) -> Newsroom {
    Newsroom::open(name).await
}

async fn json_of(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn contributors_get_only_their_own_posts_from_the_admin_api() {
    let room = newsroom("perm-browse").await;
    let c = room
        .person("stringer@courier.example", Role::Contributor)
        .await;
    let other = room.other.byline.clone();
    let theirs = [
        room.make(&[&other], "draft").await,
        room.make(&[&other], "scheduled").await,
    ];
    let mine = room.make(&[&c.byline], "draft").await;
    // Browse: only the contributor's own posts, and a total that says so.
    let (status, v) = json_of(
        room.api(reqwest::Method::GET, "/posts/?limit=all", Some(&c))
            .send()
            .await
            .expect("browse"),
    )
    .await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = v["posts"]
        .as_array()
        .expect("posts")
        .iter()
        .filter_map(|p| p["id"].as_str())
        .collect();
    assert!(ids.contains(&mine.hex.as_str()), "{ids:?}");
    for p in &theirs {
        assert!(
            !ids.contains(&p.hex.as_str()),
            "another's {} is shown",
            p.title
        );
    }
    assert_eq!(v["meta"]["pagination"]["total"], json!(ids.len()));
    // A filter cannot widen what is shown.
    let (_, v) = json_of(
        room.api(
            reqwest::Method::GET,
            &format!("/posts/?filter=slug:{}", theirs[0].slug),
            Some(&c),
        )
        .send()
        .await
        .expect("browse"),
    )
    .await;
    assert_eq!(v["posts"], json!([]));
    assert_eq!(v["meta"]["pagination"]["total"], json!(0));
    // Read by id or slug: not found, as the desk does not list them either.
    for p in &theirs {
        for path in [
            format!("/posts/{}/", p.hex),
            format!("/posts/slug/{}/", p.slug),
        ] {
            let res = room
                .api(reqwest::Method::GET, &path, Some(&c))
                .send()
                .await
                .expect("read");
            assert_eq!(res.status().as_u16(), 404, "{path}");
        }
        let html = client()
            .get(room.s.url("/admin/posts"))
            .header(header::COOKIE, &c.cookie)
            .send()
            .await
            .expect("desk")
            .text()
            .await
            .expect("html");
        assert!(!html.contains(&p.title));
        assert!(html.contains(&mine.title));
    }
    let res = room
        .api(
            reqwest::Method::GET,
            &format!("/posts/{}/", mine.hex),
            Some(&c),
        )
        .send()
        .await
        .expect("read");
    assert_eq!(res.status().as_u16(), 200);
}

#[tokio::test]
async fn a_contributor_cannot_rewrite_or_delete_an_approved_scheduled_story() {
    let room = newsroom("perm-scheduled").await;
    let c = room
        .person("stringer@courier.example", Role::Contributor)
        .await;
    // The editor approved and scheduled the contributor's story.
    let p = room.make(&[&c.byline], "scheduled").await;
    let res = client()
        .get(room.s.url(&format!("/admin/posts/{}/edit", p.id)))
        .header(header::COOKIE, &c.cookie)
        .send()
        .await
        .expect("editor");
    assert_eq!(res.status().as_u16(), 403, "the editor does not open");
    let rewrite = format!("{} (unreviewed)", p.title);
    assert_eq!(
        room.desk_save(&c, &p, &[("title", rewrite.clone())]).await,
        403
    );
    assert_eq!(
        room.api_edit(Some(&c), &p, json!({ "title": rewrite }))
            .await,
        403
    );
    assert_eq!(
        room.desk_save(&c, &p, &[("action", "delete".into())]).await,
        403
    );
    let res = room
        .api(
            reqwest::Method::DELETE,
            &format!("/posts/{}/", p.hex),
            Some(&c),
        )
        .send()
        .await
        .expect("delete");
    assert_eq!(res.status().as_u16(), 403);
    let now = room.current(&p.hex).await.expect("still there");
    assert_eq!(now["title"], json!(p.title));
    assert_eq!(now["status"], json!("scheduled"));
}

#[tokio::test]
async fn an_author_cannot_publish_under_someone_elses_byline() {
    let room = newsroom("perm-byline").await;
    let a = room.person("writer@courier.example", Role::Author).await;
    let other = room.other.byline.clone();
    // A new post under another's byline, published at once.
    let (status, _) = json_of(
        room.api(reqwest::Method::POST, "/posts/", Some(&a))
            .json(&json!({ "posts": [{
                "title": "Statement from the editor",
                "status": "published",
                "authors": [{ "slug": other }],
            }] }))
            .send()
            .await
            .expect("add"),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(get(&room.s.url("/statement-from-the-editor/")).await.0, 404);
    // The author's own draft, handed to another and published in one save.
    let p = room.make(&[&a.byline], "draft").await;
    assert_eq!(
        room.api_edit(
            Some(&a),
            &p,
            json!({ "status": "published", "authors": [{ "slug": other }] }),
        )
        .await,
        403
    );
    assert_eq!(
        room.desk_save(
            &a,
            &p,
            &[("authors", other.clone()), ("action", "publish".into())]
        )
        .await,
        403
    );
    let now = room.current(&p.hex).await.expect("exists");
    assert_eq!(now["status"], json!("draft"));
    assert_eq!(now["authors"][0]["slug"], json!(a.byline));
    assert_eq!(now["authors"].as_array().map(Vec::len), Some(1));
    // Sharing the byline with a co-writer, and keeping one's own, is fine.
    assert_eq!(
        room.api_edit(
            Some(&a),
            &p,
            json!({ "status": "published", "authors": [{ "slug": a.byline }, { "slug": other }] }),
        )
        .await,
        200
    );
}

#[tokio::test]
async fn contributors_cannot_create_tags_on_any_surface() {
    let room = newsroom("perm-tags").await;
    let c = room
        .person("stringer@courier.example", Role::Contributor)
        .await;
    let (status, v) = json_of(
        room.api(reqwest::Method::POST, "/tags/", None)
            .json(&json!({ "tags": [{ "name": "Harbour" }] }))
            .send()
            .await
            .expect("tag"),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    let tag_exists = |slug: &'static str| {
        let room = &room;
        async move {
            let (_, v) = json_of(
                room.api(
                    reqwest::Method::GET,
                    &format!("/tags/?filter=slug:{slug}"),
                    None,
                )
                .send()
                .await
                .expect("tags"),
            )
            .await;
            v["tags"].as_array().is_some_and(|a| !a.is_empty())
        }
    };
    // Directly, and by naming a new tag on a post.
    let res = room
        .api(reqwest::Method::POST, "/tags/", Some(&c))
        .json(&json!({ "tags": [{ "name": "Scoop" }] }))
        .send()
        .await
        .expect("tag");
    assert_eq!(res.status().as_u16(), 403);
    let res = room
        .api(reqwest::Method::POST, "/posts/", Some(&c))
        .json(&json!({ "posts": [{ "title": "Ferry timetable", "tags": [{ "name": "Scoop" }, "Harbour"] }] }))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status().as_u16(), 403);
    let p = room.make(&[&c.byline], "draft").await;
    assert_eq!(
        room.api_edit(Some(&c), &p, json!({ "tags": ["Scoop"] }))
            .await,
        403
    );
    assert!(!tag_exists("scoop").await);
    // Existing tags may be used.
    let res = room
        .api(reqwest::Method::POST, "/posts/", Some(&c))
        .json(&json!({ "posts": [{ "title": "Ferry timetable", "tags": ["Harbour"] }] }))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status().as_u16(), 201);
    // The desk neither adds tags for contributors nor makes them from slugs.
    let res = client()
        .post(room.s.url("/admin/tags"))
        .header(header::COOKIE, &c.cookie)
        .form(&[("csrf", c.csrf.as_str()), ("name", "Scoop")])
        .send()
        .await
        .expect("desk tag");
    assert_eq!(res.status().as_u16(), 403);
    assert_eq!(
        room.desk_save(&c, &p, &[("tags", "harbour, scoop".into())])
            .await,
        422
    );
    assert!(!tag_exists("scoop").await);
}

#[tokio::test]
async fn title_slug_and_alt_text_rules_hold_on_the_admin_api() {
    let room = newsroom("perm-rules").await;
    let e = room.person("chief@courier.example", Role::Editor).await;
    let add = |post: Value| {
        let room = &room;
        async move {
            json_of(
                room.api(reqwest::Method::POST, "/posts/", None)
                    .json(&json!({ "posts": [post] }))
                    .send()
                    .await
                    .expect("add"),
            )
            .await
        }
    };
    let long = "x".repeat(301);
    for title in ["", "   ", long.as_str()] {
        let (status, v) = add(json!({ "title": title })).await;
        assert_eq!(status, 422, "{title:?}: {v}");
        assert_eq!(v["errors"][0]["type"], "ValidationError");
        // The desk refuses the same titles.
        let res = client()
            .post(room.s.url("/admin/posts"))
            .header(header::COOKIE, &e.cookie)
            .form(&[
                ("csrf", e.csrf.as_str()),
                ("kind", "article"),
                ("title", title),
            ])
            .send()
            .await
            .expect("desk create");
        assert_eq!(res.status().as_u16(), 422, "{title:?}");
    }
    let (status, _) = add(json!({ "title": "Harbour", "slug": "Not A Slug" })).await;
    assert_eq!(status, 422);
    // A tag named on a post follows the tag list's slug rule.
    let (status, v) =
        add(json!({ "title": "Harbour", "tags": [{ "name": "Port", "slug": "Not A Slug" }] }))
            .await;
    assert_eq!(status, 422, "{v}");
    // Going out with a feature image needs its alt text.
    let image = "https://images.example/harbour.jpg";
    let (status, v) =
        add(json!({ "title": "Harbour at dawn", "status": "published", "feature_image": image }))
            .await;
    assert_eq!(status, 422, "{v}");
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("alt text")),
        "{v}"
    );
    let (status, _) = add(json!({
        "title": "Harbour at dawn", "status": "published",
        "feature_image": image, "feature_image_alt": "Fishing boats at the quay at first light",
    }))
    .await;
    assert_eq!(status, 201);
    // Edits obey the same rules.
    let p = room.make(&[&e.byline], "published").await;
    assert_eq!(room.api_edit(None, &p, json!({ "title": "" })).await, 422);
    assert_eq!(
        room.api_edit(Some(&e), &p, json!({ "title": long })).await,
        422
    );
    assert_eq!(
        room.api_edit(None, &p, json!({ "feature_image": image }))
            .await,
        422
    );
    assert_eq!(room.desk_save(&e, &p, &[("title", "  ".into())]).await, 422);
    let now = room.current(&p.hex).await.expect("exists");
    assert_eq!(now["title"], json!(p.title));
    assert_eq!(now["feature_image"], Value::Null);
}

#[tokio::test]
async fn the_cli_keeps_the_desks_limits() {
    with_server("perm-cli", |s| async move {
        // A live entry the desk would refuse as too long.
        let long_title = "t".repeat(301);
        let long_body = "b".repeat(20_001);
        for (title, body) in [
            ("  ", "text"),
            (long_title.as_str(), ""),
            ("Update", long_body.as_str()),
        ] {
            let out = s.cli(&[
                "live",
                "add",
                "--post",
                "storm-eamon-live",
                "--title",
                title,
                "--body",
                body,
            ]);
            assert!(!out.status.success(), "{title:.10}: accepted");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains("headline"), "{err}");
        }
        let (_, _, page) = get(&s.url("/storm-eamon-live/")).await;
        assert!(!page.contains(&long_title));
        // A staff name longer than the desk allows.
        let out = masthead(&s.data)
            .args(["user", "add", "--email", "long@courier.example", "--name"])
            .arg("n".repeat(121))
            .args(["--role", "author", "--password-stdin"])
            .stdin(Stdio::null())
            .output()
            .expect("user add");
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("--name"));
    })
    .await;
}
