//! Extreme numbers from input (Admin API token times, NQL relative dates,
//! feed and live-page cursors, sitemap part numbers, desk ids) get a clear
//! answer in each surface's format: never a panic, a dropped connection or a
//! wrapped value.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::*;

fn create_key(s: &Server, kind: &str) -> String {
    let out = s.cli(&["key", "create", kind, "--name", "overflow"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Unpadded base64url, as JWTs are written.
fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}

/// An Admin API token for `key` (`id:hexsecret`) claiming `iat` and `exp`.
fn admin_token(key: &str, iat: i64, exp: i64) -> String {
    let (id, secret) = key.split_once(':').expect("id:secret");
    let secret: Vec<u8> = (0..secret.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&secret[i..i + 2], 16).expect("hex"))
        .collect();
    let header = base64url(
        serde_json::json!({ "alg": "HS256", "typ": "JWT", "kid": id })
            .to_string()
            .as_bytes(),
    );
    let claims = base64url(
        serde_json::json!({ "iat": iat, "exp": exp, "aud": "/admin/" })
            .to_string()
            .as_bytes(),
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(&secret).expect("key");
    mac.update(format!("{header}.{claims}").as_bytes());
    let signature = base64url(&mac.finalize().into_bytes());
    format!("{header}.{claims}.{signature}")
}

/// Percent-encodes a query value (everything but unreserved characters).
fn encoded(value: &str) -> String {
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

fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

#[tokio::test]
async fn admin_tokens_with_extreme_times_get_a_401_not_a_crash() {
    with_server("overflow-jwt", |s| async move {
        let key = create_key(&s, "admin");
        let posts = s.url("/ghost/api/admin/posts/");
        // A well-made token works, so the refusals below are about the times.
        let now = now_s();
        let res = client()
            .get(&posts)
            .header(
                header::AUTHORIZATION,
                format!("Ghost {}", admin_token(&key, now, now + 300)),
            )
            .send()
            .await
            .expect("answer");
        assert_eq!(res.status().as_u16(), 200);
        for (iat, exp) in [
            (i64::MIN, i64::MAX),
            (i64::MAX, i64::MIN),
            (i64::MIN, i64::MIN),
            (i64::MAX, i64::MAX),
            (i64::MAX - 100, i64::MAX),
            (i64::MIN, i64::MIN + 100),
            (now, i64::MAX),
            (i64::MIN, now),
            (now, now - 10),
        ] {
            let res = client()
                .get(&posts)
                .header(
                    header::AUTHORIZATION,
                    format!("Ghost {}", admin_token(&key, iat, exp)),
                )
                .send()
                .await
                .unwrap_or_else(|e| panic!("iat {iat}, exp {exp}: no answer ({e})"));
            assert_eq!(res.status().as_u16(), 401, "iat {iat}, exp {exp}");
            assert_eq!(
                res.headers()[header::CONTENT_TYPE],
                "application/json; charset=utf-8"
            );
            let body: serde_json::Value = res.json().await.expect("json");
            assert_eq!(body["errors"][0]["type"], "UnauthorizedError");
            let context = body["errors"][0]["context"].as_str().unwrap_or("");
            assert!(context.starts_with("Invalid token: "), "{body}");
        }
        // The server is still there.
        let (status, _, _) = get(&s.url("/healthz")).await;
        assert_eq!(status, 200);
    })
    .await;
}

#[tokio::test]
async fn nql_relative_dates_are_checked_and_a_bare_now_is_accepted() {
    with_server("overflow-nql", |s| async move {
        let content = create_key(&s, "content");
        let admin = create_key(&s, "admin");
        let browse = |filter: &str| {
            let url = s.url(&format!(
                "/ghost/api/content/posts/?key={content}&limit=all&filter={}",
                encoded(filter)
            ));
            let filter = filter.to_owned();
            async move {
                let res = client()
                    .get(url)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{filter}: no answer ({e})"));
                let status = res.status().as_u16();
                let body: serde_json::Value = res.json().await.expect("json");
                (status, body)
            }
        };
        let count = |body: &serde_json::Value| body["posts"].as_array().map_or(0, Vec::len);

        // Ghost's forms, including a bare `now`.
        let (status, all) = browse("published_at:<=now").await;
        assert_eq!(status, 200, "{all}");
        assert!(count(&all) > 0);
        let (status, body) = browse("published_at:>now").await;
        assert_eq!((status, count(&body)), (200, 0), "{body}");
        let (status, body) = browse("published_at:<=now+0s").await;
        assert_eq!((status, count(&body)), (200, count(&all)), "{body}");
        for filter in [
            "published_at:<=now-30d",
            "published_at:>now-1y",
            "published_at:>now-12M+published_at:<now+1w",
            "published_at:<now+4294967295s",
            "published_at:>now-10000y",
        ] {
            let (status, body) = browse(filter).await;
            assert_eq!(status, 200, "{filter}: {body}");
        }

        // Amounts beyond any date, and dates beyond the calendar.
        for (filter, says) in [
            ("published_at:>now-4294967295y", "at most 19998 years"),
            ("published_at:>now-99999999999999999999d", "is too large"),
            (
                "published_at:<now+4294967296s",
                "at most 4294967295 seconds",
            ),
            ("published_at:>now-19998y", "falls outside the dates"),
            ("published_at:<now+175307616h", "falls outside the dates"),
            ("published_at:<now+239976M", "falls outside the dates"),
        ] {
            let (status, body) = browse(filter).await;
            assert_eq!(status, 400, "{filter}: {body}");
            assert_eq!(body["errors"][0]["type"], "BadRequestError", "{body}");
            let context = body["errors"][0]["context"].as_str().unwrap_or("");
            assert!(context.contains(says), "{filter}: {body}");
        }

        // The Admin API reads filters the same way.
        let now = now_s();
        let token = admin_token(&admin, now, now + 300);
        for (filter, want) in [
            ("published_at:<=now", 200),
            ("published_at:>now-4294967295y", 400),
            ("published_at:>now-19998y", 400),
        ] {
            let res = client()
                .get(s.url(&format!(
                    "/ghost/api/admin/posts/?filter={}",
                    encoded(filter)
                )))
                .header(header::AUTHORIZATION, format!("Ghost {token}"))
                .send()
                .await
                .expect("answer");
            assert_eq!(res.status().as_u16(), want, "{filter}");
            let body: serde_json::Value = res.json().await.expect("json");
            if want == 400 {
                assert_eq!(body["errors"][0]["type"], "BadRequestError", "{body}");
            }
        }
    })
    .await;
}

#[tokio::test]
async fn extreme_cursors_ids_and_part_numbers_get_clear_answers() {
    with_server("overflow-cursor", |s| async move {
        // The ends of the cursor's range are positions like any other…
        for path in [
            "/?after=9223372036854775807.9223372036854775807",
            "/?after=-9223372036854775808.1",
            "/?after=-1.1",
            "/storm-eamon-live/?before=-9223372036854775808.9223372036854775807",
            "/storm-eamon-live/?before=9223372036854775807.1",
        ] {
            let (status, headers, _) = get(&s.url(path)).await;
            assert_eq!(status, 200, "{path}");
            assert!(
                headers[header::CONTENT_TYPE]
                    .to_str()
                    .unwrap_or("")
                    .starts_with("text/html"),
                "{path}"
            );
        }
        // …and one past them is a clear, themed 400.
        for path in [
            "/?after=9223372036854775808.1",
            "/?after=-9223372036854775809.1",
            "/?after=1.9223372036854775808",
            "/?after=99999999999999999999.1",
            "/?after=-0.1",
            "/storm-eamon-live/?before=-9223372036854775809.1",
            "/storm-eamon-live/?before=1.-1",
        ] {
            let (status, headers, body) = get(&s.url(path)).await;
            assert_eq!(status, 400, "{path}");
            assert!(
                headers[header::CONTENT_TYPE]
                    .to_str()
                    .unwrap_or("")
                    .starts_with("text/html"),
                "{path}"
            );
            assert!(body.contains("not a valid position"), "{path}: {body}");
        }
        // Sitemap parts far beyond the archive are simply not there.
        for n in [
            "999999999",
            "4294967295",
            "4294967296",
            "18446744073709551616",
        ] {
            let (status, _, _) = get(&s.url(&format!("/sitemap-posts-{n}.xml"))).await;
            assert_eq!(status, 404, "part {n}");
        }
        // Ids and revision numbers beyond i64 in desk and live-stream paths
        // are refused as client errors, and nothing breaks.
        let (cookie, csrf) = signed_in(&s, "owner@overflow.example", "owner").await;
        let huge = "99999999999999999999";
        for path in [
            format!("/admin/posts/{huge}/edit"),
            format!("/admin/posts/{huge}/revisions"),
            "/admin/posts/-9223372036854775808/edit".to_owned(),
            format!("/_live/{huge}/events"),
        ] {
            let res = client()
                .get(s.url(&path))
                .header(header::COOKIE, &cookie)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{path}: no answer ({e})"));
            assert!(res.status().is_client_error(), "{path}: {}", res.status());
        }
        for path in [
            format!("/admin/posts/1/revisions/{huge}/restore"),
            format!("/admin/posts/{huge}/revisions/1/restore"),
            "/admin/posts/1/revisions/-9223372036854775808/restore".to_owned(),
        ] {
            let res = client()
                .post(s.url(&path))
                .header(header::COOKIE, &cookie)
                .form(&[("csrf", csrf.as_str())])
                .send()
                .await
                .unwrap_or_else(|e| panic!("{path}: no answer ({e})"));
            assert!(res.status().is_client_error(), "{path}: {}", res.status());
        }
        let (status, _, _) = get(&s.url("/healthz")).await;
        assert_eq!(status, 200);
    })
    .await;
}
