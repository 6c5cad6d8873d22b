//! The Ghost-compatible APIs, through the real server: raw HTTP for the
//! envelope, headers and errors, and Ghost's own client libraries (npm
//! `@tryghost/content-api`) for compatibility.

use super::*;

fn api_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/api")
}

/// Runs one of the client scripts in `tests/api/` against the server.
pub(super) fn run_client(script: &str, envs: &[(&str, &str)]) -> String {
    let dir = api_dir();
    assert!(
        dir.join("node_modules/@tryghost/content-api").exists(),
        "Ghost's client libraries are not installed: run scripts/test.sh (or `npm ci` in tests/api)"
    );
    let out = Command::new("node")
        .arg(dir.join(script))
        .current_dir(&dir)
        .envs(envs.iter().copied())
        .output()
        .expect("node must be installed to run the Ghost client tests");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{script} failed:\n{stdout}\n{stderr}");
    stdout
}

pub(super) fn create_key(s: &Server, kind: &str) -> String {
    let out = s.cli(&["key", "create", kind, "--name", "tests"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[tokio::test]
async fn the_official_content_client_works_unchanged() {
    with_server("content-sdk", |s| async move {
        let key = create_key(&s, "content");
        assert_eq!(key.len(), 26, "{key}");
        assert!(key.bytes().all(|b| b.is_ascii_hexdigit()));
        let out = run_client(
            "content.js",
            &[("MASTHEAD_URL", &s.base), ("MASTHEAD_KEY", &key)],
        );
        let last = out.lines().last().unwrap_or("");
        let checks: u32 = last
            .strip_prefix("ok ")
            .and_then(|x| x.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("unexpected output: {out}"));
        assert!(checks > 200, "{out}");
    })
    .await;
}

#[tokio::test]
async fn content_api_envelope_headers_and_errors_follow_ghost() {
    with_server("content-raw", |s| async move {
        let key = create_key(&s, "content");
        let url = |path: &str| s.url(&format!("/ghost/api/content{path}"));
        // No key: 403; an unknown one: 401; both in Ghost's error envelope.
        let res = client().get(url("/posts/")).send().await.expect("get");
        assert_eq!(res.status().as_u16(), 403);
        let body: serde_json::Value = res.json().await.expect("json");
        assert_eq!(body["errors"][0]["type"], "NoPermissionError");
        assert_eq!(body["errors"][0]["message"], "Authorization failed");
        let res = client()
            .get(url("/posts/?key=0123456789abcdef0123456789"))
            .send()
            .await
            .expect("get");
        assert_eq!(res.status().as_u16(), 401);
        let body: serde_json::Value = res.json().await.expect("json");
        assert_eq!(body["errors"][0]["type"], "UnauthorizedError");
        assert_eq!(body["errors"][0]["code"], "UNKNOWN_CONTENT_API_KEY");
        let res = client()
            .get(url(&format!("/posts/?key={key}&key={key}")))
            .send()
            .await
            .expect("get");
        assert_eq!(res.status().as_u16(), 400, "two keys");

        // Headers and a cheap revalidation.
        let res = client()
            .get(url(&format!("/posts/?key={key}&limit=3")))
            .send()
            .await
            .expect("get");
        assert_eq!(res.status().as_u16(), 200);
        let h = res.headers().clone();
        assert_eq!(h[header::CONTENT_TYPE], "application/json; charset=utf-8");
        assert_eq!(h["content-version"], "v5.0");
        assert_eq!(h[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        assert_eq!(h[header::CACHE_CONTROL], "public, max-age=0");
        assert!(
            h[header::VARY]
                .to_str()
                .unwrap_or("")
                .contains("Accept-Version")
        );
        let body: serde_json::Value = res.json().await.expect("json");
        assert_eq!(body["posts"].as_array().map(Vec::len), Some(3));
        assert_eq!(body["meta"]["pagination"]["limit"], 3);
        let res = client()
            .get(url(&format!("/posts/?key={key}&limit=3")))
            .header(header::IF_NONE_MATCH, h[header::ETAG].clone())
            .send()
            .await
            .expect("conditional");
        assert_eq!(res.status().as_u16(), 304);

        // Validation and parse errors, each with its Ghost type and status.
        for (query, status, kind) in [
            ("include=comments", 422, "ValidationError"),
            ("formats=docx", 422, "ValidationError"),
            ("limit=0", 422, "ValidationError"),
            ("limit=abc", 422, "ValidationError"),
            ("page=-1", 422, "ValidationError"),
            ("filter=tag:", 400, "BadRequestError"),
            ("filter=authors.email:a@b.c", 400, "BadRequestError"),
            ("order=password%20asc", 400, "BadRequestError"),
            ("order=title%20sideways", 400, "BadRequestError"),
        ] {
            let res = client()
                .get(url(&format!("/posts/?key={key}&{query}")))
                .send()
                .await
                .expect("get");
            assert_eq!(res.status().as_u16(), status, "{query}");
            let body: serde_json::Value = res.json().await.expect("json");
            assert_eq!(body["errors"][0]["type"], kind, "{query}");
        }
        let res = client()
            .get(url(&format!("/posts/slug/no-such-post/?key={key}")))
            .send()
            .await
            .expect("get");
        assert_eq!(res.status().as_u16(), 404);
        let res = client()
            .get(url(&format!("/unknown/?key={key}")))
            .send()
            .await
            .expect("get");
        assert_eq!(res.status().as_u16(), 404);
        let body: serde_json::Value = res.json().await.expect("json");
        assert_eq!(body["errors"][0]["message"], "Resource not found");
        // Without the trailing slash: redirected to Ghost's form of the address.
        let res = client()
            .get(url(&format!("/posts?key={key}")))
            .send()
            .await
            .expect("get");
        assert!(res.status().is_redirection());
        assert_eq!(
            res.headers()[header::LOCATION],
            format!("/ghost/api/content/posts/?key={key}").as_str()
        );
        // CORS preflight.
        let res = client()
            .request(reqwest::Method::OPTIONS, url("/posts/"))
            .send()
            .await
            .expect("options");
        assert_eq!(res.status().as_u16(), 204);
        assert_eq!(res.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");

        // Drafts never show; pages are not posts.
        let res = client()
            .get(url(&format!(
                "/posts/?key={key}&limit=all&filter=status:draft"
            )))
            .send()
            .await
            .expect("get");
        let body: serde_json::Value = res.json().await.expect("json");
        assert_eq!(body["meta"]["pagination"]["total"], 0);
        let res = client()
            .get(url(&format!("/posts/slug/about/?key={key}")))
            .send()
            .await
            .expect("get");
        assert_eq!(res.status().as_u16(), 404, "a page is not a post");
        let res = client()
            .get(url(&format!("/pages/slug/about/?key={key}")))
            .send()
            .await
            .expect("get");
        assert_eq!(res.status().as_u16(), 200);
    })
    .await;
}

#[tokio::test]
async fn the_official_admin_client_works_unchanged() {
    with_server("admin-sdk", |s| async move {
        let key = create_key(&s, "admin");
        let (id, secret) = key.split_once(':').expect("id:secret");
        assert_eq!((id.len(), secret.len()), (24, 64), "{key}");
        let out = run_client(
            "admin.js",
            &[("MASTHEAD_URL", &s.base), ("MASTHEAD_ADMIN_KEY", &key)],
        );
        let last = out.lines().last().unwrap_or("");
        let checks: u32 = last
            .strip_prefix("ok ")
            .and_then(|x| x.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("unexpected output: {out}"));
        assert!(checks >= 50, "{out}");
        // Without credentials, and with a content key instead of a token: refused.
        let res = client()
            .get(s.url("/ghost/api/admin/posts/"))
            .send()
            .await
            .expect("get");
        assert_eq!(res.status().as_u16(), 403);
        let res = client()
            .get(s.url("/ghost/api/admin/posts/"))
            .header(header::AUTHORIZATION, "Ghost not.a.token")
            .send()
            .await
            .expect("get");
        assert_eq!(res.status().as_u16(), 401);
        let body: serde_json::Value = res.json().await.expect("json");
        assert_eq!(body["errors"][0]["type"], "UnauthorizedError");
        // Site info needs no key, as in Ghost.
        let res = client()
            .get(s.url("/ghost/api/admin/site/"))
            .send()
            .await
            .expect("get");
        assert_eq!(res.status().as_u16(), 200);
        // A signed-in author may not manage members through the API.
        let (cookie, _) = signed_in(&s, "writer@courier.example", "author").await;
        let res = client()
            .get(s.url("/ghost/api/admin/members/"))
            .header(header::COOKIE, &cookie)
            .send()
            .await
            .expect("get");
        assert_eq!(res.status().as_u16(), 403);
        let res = client()
            .get(s.url("/ghost/api/admin/posts/?limit=2"))
            .header(header::COOKIE, &cookie)
            .send()
            .await
            .expect("get");
        assert_eq!(res.status().as_u16(), 200, "staff sessions work too");
        // Malformed JSON is a clear 400.
        let res = client()
            .post(s.url("/ghost/api/admin/posts/"))
            .header(header::COOKIE, &cookie)
            .header(header::CONTENT_TYPE, "application/json")
            .body("{\"posts\": [")
            .send()
            .await
            .expect("post");
        assert_eq!(res.status().as_u16(), 400);
    })
    .await;
}

#[tokio::test]
async fn administrators_create_and_revoke_keys_in_the_desk() {
    with_server("integrations", |s| async move {
        let (cookie, csrf) = signed_in(&s, "admin@courier.example", "administrator").await;
        let c = client();
        let res = c
            .post(s.url("/admin/integrations"))
            .header(header::COOKIE, &cookie)
            .form(&[
                ("csrf", csrf.as_str()),
                ("kind", "content"),
                ("name", "Mobile app"),
            ])
            .send()
            .await
            .expect("create");
        assert_eq!(res.status().as_u16(), 200);
        let html = res.text().await.expect("html");
        assert!(html.contains("Created a content key for Mobile app."));
        let row = html
            .split("<tr data-key-id=\"")
            .nth(1)
            .expect("a key row")
            .to_owned();
        let id = row.split('"').next().expect("id").to_owned();
        let key = row
            .split("readonly value=\"")
            .nth(1)
            .and_then(|x| x.split('"').next())
            .expect("key")
            .to_owned();
        assert_eq!(key.len(), 26);
        let api = |key: String| {
            let s = &s;
            async move {
                client()
                    .get(s.url(&format!("/ghost/api/content/settings/?key={key}")))
                    .send()
                    .await
                    .expect("api")
                    .status()
                    .as_u16()
            }
        };
        assert_eq!(api(key.clone()).await, 200);
        // Missing CSRF: refused; revoking with it: the key stops working at once.
        let res = c
            .post(s.url(&format!("/admin/integrations/{id}/revoke")))
            .header(header::COOKIE, &cookie)
            .form(&[("csrf", "nope")])
            .send()
            .await
            .expect("revoke");
        assert_eq!(res.status().as_u16(), 403);
        assert_eq!(api(key.clone()).await, 200);
        let res = c
            .post(s.url(&format!("/admin/integrations/{id}/revoke")))
            .header(header::COOKIE, &cookie)
            .form(&[("csrf", csrf.as_str())])
            .send()
            .await
            .expect("revoke");
        assert_eq!(res.status().as_u16(), 200);
        assert_eq!(api(key).await, 401);
        // Editors do not manage keys.
        let (ed, _) = signed_in(&s, "ed@courier.example", "editor").await;
        let res = c
            .get(s.url("/admin/integrations"))
            .header(header::COOKIE, &ed)
            .send()
            .await
            .expect("get");
        assert_eq!(res.status().as_u16(), 403);
    })
    .await;
}
