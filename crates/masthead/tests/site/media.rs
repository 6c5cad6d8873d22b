//! The media library and the editor's feature image, autosave and
//! visibility, through the real server.

use std::io::Cursor;

use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use reqwest::multipart::{Form, Part};

use super::*;

pub(super) fn photo(w: u32, h: u32, format: ImageFormat) -> Vec<u8> {
    let img = RgbImage::from_fn(w, h, |x, y| {
        Rgb([
            (x * 255 / w) as u8,
            (y * 255 / h) as u8,
            ((x + y) % 256) as u8,
        ])
    });
    let mut out = Cursor::new(Vec::new());
    DynamicImage::ImageRgb8(img)
        .write_to(&mut out, format)
        .expect("encode");
    out.into_inner()
}

pub(super) struct Desk<'a> {
    pub(super) s: &'a Server,
    pub(super) c: reqwest::Client,
    pub(super) cookie: String,
    pub(super) csrf: String,
}

impl Desk<'_> {
    pub(super) async fn upload(&self, name: &str, bytes: Vec<u8>, json: bool) -> reqwest::Response {
        self.upload_with(name, bytes, json, &self.csrf).await
    }

    async fn upload_with(
        &self,
        name: &str,
        bytes: Vec<u8>,
        json: bool,
        csrf: &str,
    ) -> reqwest::Response {
        let form = Form::new()
            .text("csrf", csrf.to_owned())
            .part("file", Part::bytes(bytes).file_name(name.to_owned()));
        let mut req = self
            .c
            .post(self.s.url("/admin/media"))
            .header(header::COOKIE, &self.cookie)
            .multipart(form);
        if json {
            req = req.header(header::ACCEPT, "application/json");
        }
        req.send().await.expect("upload")
    }

    pub(super) async fn page(&self, path: &str) -> (u16, String) {
        let res = self
            .c
            .get(self.s.url(path))
            .header(header::COOKIE, &self.cookie)
            .send()
            .await
            .expect("get");
        (res.status().as_u16(), res.text().await.expect("text"))
    }

    pub(super) async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let mut all = vec![("csrf", self.csrf.as_str())];
        all.extend_from_slice(form);
        self.c
            .post(self.s.url(path))
            .header(header::COOKIE, &self.cookie)
            .form(&all)
            .send()
            .await
            .expect("post")
    }
}

fn media_folders(s: &Server) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(s.data.join("media"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

pub(super) async fn json(res: reqwest::Response) -> (u16, serde_json::Value) {
    let status = res.status().as_u16();
    (status, res.json().await.expect("json body"))
}

#[tokio::test]
async fn uploads_are_checked_converted_and_served_immutably() {
    with_server("media", |s| async move {
        let (cookie, csrf) = signed_in(&s, "photo@courier.example", "author").await;
        let d = Desk {
            s: &s,
            c: client(),
            cookie,
            csrf,
        };
        // A real photo, uploaded from the library's form: 303 to its page.
        let jpeg = photo(1800, 1200, ImageFormat::Jpeg);
        let res = d.upload("Quay at dawn.jpg", jpeg.clone(), false).await;
        assert_eq!(res.status().as_u16(), 303);
        let location = res.headers()[header::LOCATION]
            .to_str()
            .expect("loc")
            .to_owned();
        assert!(location.ends_with("?uploaded"), "{location}");
        let (st, item) = d.page(&location).await;
        assert_eq!(st, 200);
        assert!(item.contains("1800 × 1200"), "dimensions shown");
        assert!(item.contains("320, 640, 1024, 1600, 1800"), "widths listed");
        let key = item
            .split("src=\"/media/")
            .nth(1)
            .and_then(|x| x.split('/').next())
            .expect("key")
            .to_owned();
        assert_eq!(key.len(), 20);

        // The same file again is the same item, not a copy.
        let (st, body) = json(d.upload("copy.jpg", jpeg, true).await).await;
        assert_eq!(st, 200);
        assert_eq!(body["created"], false);
        assert_eq!(
            body["src"],
            format!("/media/{key}/1800.jpg"),
            "the widest JPEG is the plain src"
        );

        // Readers get re-encoded files, cached for a year.
        for (file, mime, magic) in [
            ("640.webp", "image/webp", &b"RIFF"[..]),
            ("1800.jpg", "image/jpeg", &[0xFF, 0xD8, 0xFF][..]),
            ("320.jpg", "image/jpeg", &[0xFF, 0xD8, 0xFF][..]),
        ] {
            let res = client()
                .get(s.url(&format!("/media/{key}/{file}")))
                .send()
                .await
                .expect("file");
            assert_eq!(res.status().as_u16(), 200, "{file}");
            assert_eq!(res.headers()[header::CONTENT_TYPE], mime);
            assert_eq!(
                res.headers()[header::CACHE_CONTROL],
                "public, max-age=31536000, immutable"
            );
            assert_eq!(res.headers()["x-content-type-options"], "nosniff");
            let bytes = res.bytes().await.expect("bytes");
            assert!(bytes.starts_with(magic), "{file}");
        }
        // Only generated widths are reachable: never the original or the info file.
        for path in [
            format!("/media/{key}/original.jpg"),
            format!("/media/{key}/info"),
            format!("/media/{key}/9999.webp"),
            "/media/..%2f..%2fmasthead.db/1.jpg".to_owned(),
            "/media/0123456789abcdef0123/640.webp".to_owned(),
        ] {
            assert_eq!(get(&s.url(&path)).await.0, 404, "{path}");
        }
        // Staff can download the original, as an attachment.
        let id = location
            .trim_start_matches("/admin/media/")
            .split('?')
            .next()
            .expect("id")
            .to_owned();
        let res = d
            .c
            .get(s.url(&format!("/admin/media/{id}/original")))
            .header(header::COOKIE, &d.cookie)
            .send()
            .await
            .expect("original");
        assert_eq!(res.status().as_u16(), 200);
        assert!(
            res.headers()[header::CONTENT_DISPOSITION]
                .to_str()
                .unwrap_or("")
                .starts_with("attachment")
        );
        assert_eq!(res.headers()[header::CONTENT_TYPE], "application/octet-stream");
        // …but readers cannot.
        assert_ne!(
            get(&s.url(&format!("/admin/media/{id}/original"))).await.0,
            200
        );

        let folders_before = media_folders(&s);
        // Bad uploads: each refused with the right status and a message that
        // says what to do, and nothing is written.
        let mut truncated = photo(900, 600, ImageFormat::Png);
        truncated.truncate(truncated.len() / 2);
        let mut bomb = photo(4, 4, ImageFormat::Png);
        bomb[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        bomb[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        let crc = crc32(&bomb[12..29]);
        bomb[29..33].copy_from_slice(&crc.to_be_bytes());
        let mut fake_gif = b"GIF89a".to_vec();
        fake_gif.extend_from_slice(b"<script>alert(1)</script>");
        // Just over the file limit, inside the request limit: read, then refused.
        let mut huge = photo(64, 64, ImageFormat::Jpeg);
        huge.resize(20 * 1024 * 1024 + 1, 0);
        for (name, bytes, status, says) in [
            ("cut.png", truncated, 422, "damaged or incomplete"),
            (
                "notes.jpg",
                b"These are my notes, not a photo.".to_vec(),
                415,
                "not its name",
            ),
            ("bomb.png", bomb, 413, "decompression bomb"),
            ("fake.gif", fake_gif, 413, ""),
            ("huge.jpg", huge, 413, "the most an image may be is 20 MB"),
            ("empty.png", Vec::new(), 422, "The file is empty"),
        ] {
            let (st, body) = json(d.upload(name, bytes, true).await).await;
            let error = body["error"].as_str().unwrap_or("");
            if name == "fake.gif" {
                // A script behind a GIF signature: refused, as damaged or as absurdly large.
                assert!(st == 413 || st == 422, "{name}: {st} {error}");
            } else {
                assert_eq!(st, status, "{name}: {error}");
                assert!(error.contains(says), "{name}: {error}");
            }
        }
        // The form path shows the library with the message.
        let res = d.upload("notes.jpg", b"plain text".to_vec(), false).await;
        assert_eq!(res.status().as_u16(), 415);
        let html = res.text().await.expect("html");
        assert!(html.contains("role=\"alert\"") && html.contains("not a JPEG, PNG, WebP or GIF"));
        // Without the session's CSRF token: refused.
        let (st, _) = json(
            d.upload_with("x.png", photo(50, 50, ImageFormat::Png), true, "forged")
                .await,
        )
        .await;
        assert_eq!(st, 403);
        // A request announcing more than the upload limit is refused before
        // its body is read.
        {
            use std::io::{Read, Write};
            let addr = s.base.trim_start_matches("http://").to_owned();
            let mut tcp = std::net::TcpStream::connect(&addr).expect("connect");
            tcp.set_read_timeout(Some(Duration::from_secs(10)))
                .expect("timeout");
            write!(
                tcp,
                "POST /admin/media HTTP/1.1\r\nHost: {addr}\r\nCookie: {}\r\nContent-Type: multipart/form-data; boundary=x\r\nContent-Length: {}\r\n\r\n",
                d.cookie,
                64 * 1024 * 1024
            )
            .expect("write");
            let mut head = [0u8; 12];
            tcp.read_exact(&mut head).expect("read");
            assert_eq!(&head, b"HTTP/1.1 413");
        }
        // Not multipart at all.
        let res = d
            .c
            .post(s.url("/admin/media"))
            .header(header::COOKIE, &d.cookie)
            .header(header::ACCEPT, "application/json")
            .form(&[("csrf", d.csrf.as_str())])
            .send()
            .await
            .expect("form");
        assert_eq!(res.status().as_u16(), 400);
        assert_eq!(media_folders(&s), folders_before, "nothing written");

        // A polyglot: a real PNG with a script after its end. The image is
        // accepted; what readers are served is pixels only.
        let mut poly = photo(400, 300, ImageFormat::Png);
        poly.extend_from_slice(b"<html><script>alert(document.cookie)</script></html>");
        let (st, body) = json(d.upload("poly.png", poly, true).await).await;
        assert_eq!(st, 201, "{body}");
        let src = body["src"].as_str().expect("src").to_owned();
        assert!(src.ends_with("/400.png"), "{src}");
        for file in [src.clone(), src.replace(".png", ".webp")] {
            let res = client().get(s.url(&file)).send().await.expect("file");
            assert_eq!(res.status().as_u16(), 200);
            let bytes = res.bytes().await.expect("bytes");
            assert!(!bytes.windows(8).any(|w| w == b"<script>"), "{file}");
        }
        assert!(
            !media_folders(&s).iter().any(|f| f.starts_with(".tmp")),
            "no temporary folders left behind"
        );

        // The library lists both, newest first, and flags missing alt text.
        let (st, lib) = d.page("/admin/media").await;
        assert_eq!(st, 200);
        assert!(lib.find("poly.png") < lib.find("Quay at dawn.jpg"));
        assert!(lib.contains("No alt text yet"));
        // Words are editable by the uploader…
        let res = d
            .post(
                &format!("/admin/media/{id}"),
                &[
                    ("alt", "Fishing boats tied up at the quay at dawn"),
                    ("caption", "The quay before the market opens."),
                    ("photographer", "Rosa Vale"),
                    ("agency", "Courier Pictures"),
                ],
            )
            .await;
        assert_eq!(res.status().as_u16(), 200);
        let html = res.text().await.expect("html");
        assert!(html.contains("value=\"Fishing boats tied up at the quay at dawn\""));
        // …and not by a contributor who did not upload it.
        let (c2, csrf2) = signed_in(&s, "new@courier.example", "contributor").await;
        let res = client()
            .post(s.url(&format!("/admin/media/{id}")))
            .header(header::COOKIE, &c2)
            .form(&[("csrf", csrf2.as_str()), ("alt", "vandalised")])
            .send()
            .await
            .expect("post");
        assert_eq!(res.status().as_u16(), 403);
    })
    .await;
}

/// CRC-32 (IEEE), for forging a PNG header.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

const FERRY_BODY: &str = "The night ferry sails again from Monday.\n\nTickets go on sale at the quay.\n\nMembers get the timetable first.\n\nA fourth paragraph for members only.";

/// Publishes the ferry story with a library feature image.
pub(super) async fn publish(
    d: &Desk<'_>,
    post_url: &str,
    byline: &str,
    media_id: &str,
    version: &str,
    alt: &str,
    visibility: &str,
) -> reqwest::Response {
    d.post(
        post_url,
        &[
            ("version", version),
            ("title", "Night ferry returns"),
            ("slug", "night-ferry-returns"),
            ("authors", byline),
            ("body", FERRY_BODY),
            ("feature_media", media_id),
            ("feature_alt", alt),
            ("feature_caption", "The ferry at its berth."),
            ("feature_photographer", "Tomas Brekke"),
            ("feature_agency", ""),
            ("visibility", visibility),
            ("action", "publish"),
        ],
    )
    .await
}

#[tokio::test]
async fn feature_images_autosave_and_members_only_stories() {
    with_server("feature", |s| async move {
        let (cookie, csrf) = signed_in(&s, "ed@courier.example", "editor").await;
        let d = Desk {
            s: &s,
            c: client(),
            cookie,
            csrf,
        };
        let (_, body) = json(
            d.upload("ferry.jpg", photo(1300, 700, ImageFormat::Jpeg), true)
                .await,
        )
        .await;
        let media_id = body["id"].as_i64().expect("id").to_string();
        let key = body["src"]
            .as_str()
            .and_then(|s| s.split('/').nth(2))
            .expect("key")
            .to_owned();
        let res = d
            .post(
                "/admin/posts",
                &[("kind", "article"), ("title", "Night ferry returns")],
            )
            .await;
        let edit_url = res.headers()[header::LOCATION]
            .to_str()
            .expect("loc")
            .to_owned();
        let post_url = edit_url.trim_end_matches("/edit").to_owned();
        let (_, html) = d.page(&edit_url).await;
        assert!(
            html.contains(&format!("<option value=\"{media_id}\"")),
            "the library is offered"
        );
        assert!(html.contains("data-autosave=\"1\""), "drafts autosave");
        let byline = field(&html, "authors");
        let mut version = field(&html, "version");

        // Autosave: JSON back, the version moves on, one revision for the run.
        for text in ["The night ferry sails again", FERRY_BODY] {
            let res = d
                .post(
                    &post_url,
                    &[
                        ("version", &version),
                        ("title", "Night ferry returns"),
                        ("slug", "night-ferry-returns"),
                        ("authors", &byline),
                        ("body", text),
                        ("action", "autosave"),
                    ],
                )
                .await;
            assert_eq!(res.status().as_u16(), 200);
            let (_, j) = json(res).await;
            let next = j["version"].as_i64().expect("version").to_string();
            assert_ne!(next, version);
            version = next;
        }
        let (_, revs) = d.page(&format!("{post_url}/revisions")).await;
        assert_eq!(
            revs.matches("data-revision-id=").count(),
            1,
            "two autosaves by one person, one revision"
        );
        assert!(revs.contains("Tickets go on sale"), "the revision holds the latest text");
        // A stale autosave is a conflict, in JSON.
        let res = d
            .post(
                &post_url,
                &[
                    ("version", "1"),
                    ("title", "Night ferry returns"),
                    ("slug", "night-ferry-returns"),
                    ("authors", &byline),
                    ("body", "stale"),
                    ("action", "autosave"),
                ],
            )
            .await;
        let (st, j) = json(res).await;
        assert_eq!(st, 409);
        assert!(j["error"].as_str().unwrap_or("").contains("someone else saved"));

        // Publishing with a feature image but no alt text is refused.
        let res = publish(&d, &post_url, &byline, &media_id, &version, "", "public").await;
        assert_eq!(res.status().as_u16(), 422);
        assert!(res.text().await.expect("html").contains("alt text"));
        let res = publish(&d, &post_url, &byline, &media_id, &version, "The ferry moored at night", "public").await;
        assert_eq!(res.status().as_u16(), 200);
        let html = res.text().await.expect("html");
        let version = field(&html, "version");

        // The story prints the photo with WebP and JPEG widths, and its credit.
        let (st, _, story) = get(&s.url("/night-ferry-returns/")).await;
        assert_eq!(st, 200);
        assert!(story.contains(&format!(
            "<source type=\"image/webp\" srcset=\"/media/{key}/320.webp 320w, /media/{key}/640.webp 640w, /media/{key}/1024.webp 1024w, /media/{key}/1300.webp 1300w\""
        )), "{story}");
        assert!(story.contains(&format!("src=\"/media/{key}/1300.jpg\"")));
        assert!(story.contains(&format!("/media/{key}/640.jpg 640w")));
        assert!(story.contains("alt=\"The ferry moored at night\""));
        assert!(story.contains("width=\"1300\" height=\"700\""));
        assert!(story.contains("The ferry at its berth.") && story.contains("Tomas Brekke"));
        let (_, _, home) = get(&s.url("/")).await;
        assert!(home.contains(&format!("/media/{key}/320.webp 320w")), "home card");

        // Members only: the teaser and the gate, not the rest.
        let res = publish(&d, &post_url, &byline, &media_id, &version, "The ferry moored at night", "members").await;
        assert_eq!(res.status().as_u16(), 200);
        let (_, _, story) = get(&s.url("/night-ferry-returns/")).await;
        assert!(story.contains("The night ferry sails again from Monday."));
        assert!(story.contains("Tickets go on sale at the quay."));
        assert!(!story.contains("A fourth paragraph for members only."));
        assert!(story.contains("The rest of this story is for members"));
        // Autosave is for drafts only.
        let (_, html) = d.page(&edit_url).await;
        assert!(!html.contains("data-autosave"));
        let res = d
            .post(
                &post_url,
                &[
                    ("version", &field(&html, "version")),
                    ("title", "Night ferry returns"),
                    ("slug", "night-ferry-returns"),
                    ("authors", &byline),
                    ("body", "half-typed change"),
                    ("action", "autosave"),
                ],
            )
            .await;
        assert_eq!(res.status().as_u16(), 409);
        let (_, _, story) = get(&s.url("/night-ferry-returns/")).await;
        assert!(!story.contains("half-typed"), "a live story never autosaves");
    })
    .await;
}

/// The value of the input named `name`, wherever its attributes are.
fn input_value(html: &str, name: &str) -> String {
    let tag = html
        .split(&format!("name=\"{name}\""))
        .nth(1)
        .and_then(|x| x.split('>').next())
        .unwrap_or_else(|| panic!("no input {name}"));
    tag.split("value=\"")
        .nth(1)
        .and_then(|x| x.split('"').next())
        .unwrap_or("")
        .replace("&amp;", "&")
}

/// The first `href="{prefix}N"` on a page, as N.
fn first_id(html: &str, prefix: &str) -> String {
    html.split(&format!("href=\"{prefix}"))
        .nth(1)
        .and_then(|x| x.split('"').next())
        .unwrap_or_else(|| panic!("no link to {prefix}"))
        .to_owned()
}

#[tokio::test]
async fn bylines_tags_and_the_logo_change_the_site_at_once() {
    with_server("taxonomy", |s| async move {
        let (cookie, csrf) = signed_in(&s, "owner@courier.example", "owner").await;
        let d = Desk {
            s: &s,
            c: client(),
            cookie,
            csrf,
        };
        let (_, portrait) = json(
            d.upload("portrait.jpg", photo(800, 800, ImageFormat::Jpeg), true)
                .await,
        )
        .await;
        let portrait_id = portrait["id"].as_i64().expect("id").to_string();
        let (_, logo) = json(
            d.upload("logo.png", photo(900, 180, ImageFormat::Png), true)
                .await,
        )
        .await;
        let logo_id = logo["id"].as_i64().expect("id").to_string();

        // A byline: new bio and a portrait, shown on its page and its stories.
        let (_, list) = d.page("/admin/bylines-and-tags").await;
        let author_id = first_id(&list, "/admin/authors/");
        let (st, form) = d.page(&format!("/admin/authors/{author_id}")).await;
        assert_eq!(st, 200);
        let slug = form
            .split("href=\"/author/")
            .nth(1)
            .and_then(|x| x.split('/').next())
            .expect("slug")
            .to_owned();
        let name = input_value(&form, "name");
        let res = d
            .post(
                &format!("/admin/authors/{author_id}"),
                &[
                    ("name", &name),
                    ("location", "Harbour office"),
                    (
                        "bio",
                        "Covers the port and the ferries, and has since the floods.",
                    ),
                    ("avatar_media", &portrait_id),
                ],
            )
            .await;
        assert_eq!(res.status().as_u16(), 200);
        let (_, _, page) = get(&s.url(&format!("/author/{slug}/"))).await;
        assert!(page.contains("Covers the port and the ferries"), "new bio");
        assert!(page.contains("Harbour office"));
        let avatar = page
            .split("class=\"listing-head__avatar\" src=\"")
            .nth(1)
            .and_then(|x| x.split('"').next())
            .expect("portrait on the author page")
            .to_owned();
        assert!(avatar.starts_with("/media/"), "{avatar}");
        assert_eq!(get(&s.url(&avatar)).await.0, 200);
        let story = page
            .split("class=\"card__title\"><a href=\"")
            .nth(1)
            .and_then(|x| x.split('"').next())
            .expect("a story by them")
            .to_owned();
        let (_, _, story_html) = get(&s.url(&story)).await;
        assert!(
            story_html.contains(&format!("class=\"byline__avatar\" src=\"{avatar}\"")),
            "the byline shows the portrait"
        );
        // Bad input is refused and changes nothing.
        let res = d
            .post(
                &format!("/admin/authors/{author_id}"),
                &[("name", ""), ("avatar_media", "nope")],
            )
            .await;
        assert_eq!(res.status().as_u16(), 422);

        // A tag becomes the last section in the navigation, under a new name.
        let tag_id = list
            .split("href=\"/admin/tags/")
            .filter_map(|x| x.split('"').next())
            .last()
            .expect("a tag")
            .to_owned();
        let res = d
            .post(
                &format!("/admin/tags/{tag_id}"),
                &[
                    ("name", "Harbour Watch"),
                    ("description", "Everything that floats."),
                    ("section", "1"),
                    ("position", "10000"),
                ],
            )
            .await;
        assert_eq!(res.status().as_u16(), 200);
        let (_, _, home) = get(&s.url("/")).await;
        let nav = home
            .split("aria-label=\"Sections\"")
            .nth(1)
            .and_then(|x| x.split("</nav>").next())
            .expect("nav");
        let items: Vec<&str> = nav.split("<li>").skip(1).collect();
        assert!(items.len() >= 3, "{nav}");
        assert!(
            items[items.len() - 2].contains(">Harbour Watch</a>"),
            "last section, before Video: {nav}"
        );
        let res = d
            .post(
                &format!("/admin/tags/{tag_id}"),
                &[("name", "x"), ("position", "-4")],
            )
            .await;
        assert_eq!(res.status().as_u16(), 422);

        // The logo replaces the title in the masthead.
        let (_, settings) = d.page("/admin/settings").await;
        let mut form: Vec<(&str, String)> = [
            "title",
            "description",
            "accent",
            "timezone",
            "pitch",
            "goal",
        ]
        .into_iter()
        .map(|k| (k, input_value(&settings, k)))
        .collect();
        form.push(("metric", "members".into()));
        form.push(("deadline", input_value(&settings, "deadline")));
        form.push(("logo_media", logo_id.clone()));
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let res = d.post("/admin/settings", &pairs).await;
        assert_eq!(res.status().as_u16(), 200);
        let (_, _, home) = get(&s.url("/")).await;
        let title = input_value(&settings, "title");
        assert!(
            home.contains("<img class=\"masthead__logo\" src=\"/media/"),
            "logo in the masthead"
        );
        assert!(home.contains(&format!("alt=\"{title}\" width=\"240\" height=\"48\"")));
    })
    .await;
}

#[tokio::test]
async fn administrators_invite_promote_and_deactivate_staff() {
    with_server("staff", |s| async move {
        let (cookie, csrf) = signed_in(&s, "admin@courier.example", "administrator").await;
        let d = Desk {
            s: &s,
            c: client(),
            cookie,
            csrf,
        };
        // Inviting: an account with no password and a one-time link.
        let res = d
            .post(
                "/admin/staff",
                &[
                    ("name", "Ines Marlow"),
                    ("email", "Ines.Marlow@courier.example"),
                    ("role", "author"),
                ],
            )
            .await;
        assert_eq!(res.status().as_u16(), 200);
        let html = res.text().await.expect("html");
        let link = html
            .split("id=\"invite-link\" readonly value=\"")
            .nth(1)
            .and_then(|x| x.split('"').next())
            .expect("invitation link")
            .to_owned();
        let path = link
            .split_once("/admin/")
            .map(|(_, p)| format!("/admin/{p}"))
            .expect("path");
        // Nobody signs in to the invited account before the link is used.
        let res = client()
            .post(s.url("/admin/signin"))
            .form(&[
                ("email", "ines.marlow@courier.example"),
                ("password", "!invited"),
            ])
            .send()
            .await
            .expect("signin");
        assert_eq!(res.status().as_u16(), 401);
        let res = client()
            .post(s.url(&path))
            .form(&[("password", "harbour lights at dusk")])
            .send()
            .await
            .expect("set password");
        assert_eq!(res.status().as_u16(), 200);
        let res = client()
            .post(s.url("/admin/signin"))
            .form(&[
                ("email", "ines.marlow@courier.example"),
                ("password", "harbour lights at dusk"),
            ])
            .send()
            .await
            .expect("signin");
        assert_eq!(res.status().as_u16(), 303, "the invitee signs in");
        let ines_cookie = session_cookie(&res)
            .expect("cookie")
            .split(';')
            .next()
            .expect("pair")
            .to_owned();
        // The link works once.
        let res = client()
            .post(s.url(&path))
            .form(&[("password", "another password entirely")])
            .send()
            .await
            .expect("again");
        assert_ne!(res.status().as_u16(), 200);

        // Administrators cannot invite owners; a duplicate address is a conflict.
        let res = d
            .post(
                "/admin/staff",
                &[
                    ("name", "X"),
                    ("email", "x@courier.example"),
                    ("role", "owner"),
                ],
            )
            .await;
        assert_eq!(res.status().as_u16(), 403);
        let res = d
            .post(
                "/admin/staff",
                &[
                    ("name", "Again"),
                    ("email", "INES.MARLOW@courier.example"),
                    ("role", "author"),
                ],
            )
            .await;
        assert_eq!(res.status().as_u16(), 409);

        // Promote, then deactivate: the session ends at once.
        let (_, page) = d.page("/admin/staff").await;
        let ines_id = page
            .split("<tr data-staff-id=\"")
            .skip(1)
            .find(|row| row.contains("Ines Marlow"))
            .and_then(|row| row.split('"').next())
            .expect("row")
            .to_owned();
        let res = d
            .post(
                &format!("/admin/staff/{ines_id}"),
                &[("action", "role"), ("role", "editor")],
            )
            .await;
        assert_eq!(res.status().as_u16(), 200);
        assert!(
            res.text()
                .await
                .expect("html")
                .contains("Ines Marlow is now editor.")
        );
        let res = client()
            .get(s.url("/admin/review"))
            .header(header::COOKIE, &ines_cookie)
            .send()
            .await
            .expect("review queue");
        assert_eq!(res.status().as_u16(), 200, "the new role applies at once");
        let res = d
            .post(
                &format!("/admin/staff/{ines_id}"),
                &[("action", "deactivate")],
            )
            .await;
        assert_eq!(res.status().as_u16(), 200);
        let res = client()
            .get(s.url("/admin/"))
            .header(header::COOKIE, &ines_cookie)
            .send()
            .await
            .expect("desk");
        assert_eq!(res.status().as_u16(), 303, "signed out everywhere");

        // Nobody changes their own account here, and editors cannot touch administrators.
        let (_, page) = d.page("/admin/staff").await;
        let my_id = page
            .split("<tr data-staff-id=\"")
            .skip(1)
            .find(|row| row.contains("(you)"))
            .and_then(|row| row.split('"').next())
            .expect("my row")
            .to_owned();
        let res = d
            .post(
                &format!("/admin/staff/{my_id}"),
                &[("action", "deactivate")],
            )
            .await;
        assert_eq!(res.status().as_u16(), 403);
        let (ed_cookie, ed_csrf) = signed_in(&s, "editor@courier.example", "editor").await;
        let res = client()
            .post(s.url(&format!("/admin/staff/{my_id}")))
            .header(header::COOKIE, &ed_cookie)
            .form(&[
                ("csrf", ed_csrf.as_str()),
                ("action", "role"),
                ("role", "contributor"),
            ])
            .send()
            .await
            .expect("post");
        assert_eq!(res.status().as_u16(), 403);
        // Authors do not see the staff page at all.
        let (au_cookie, _) = signed_in(&s, "author@courier.example", "author").await;
        let res = client()
            .get(s.url("/admin/staff"))
            .header(header::COOKIE, &au_cookie)
            .send()
            .await
            .expect("get");
        assert_eq!(res.status().as_u16(), 403);
    })
    .await;
}

/// The body as stored, from the editor page's textarea.
fn stored_body(html: &str) -> String {
    let raw = html
        .split("<textarea id=\"body\"")
        .nth(1)
        .and_then(|r| r.split_once('>'))
        .and_then(|(_, r)| r.split("</textarea>").next())
        .expect("body textarea");
    raw.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&amp;", "&")
}

#[tokio::test]
async fn body_images_print_as_pictures_videos_as_players_and_saves_keep_line_endings() {
    with_server("body-media", |s| async move {
        let (cookie, csrf) = signed_in(&s, "body@courier.example", "editor").await;
        let d = Desk {
            s: &s,
            c: client(),
            cookie,
            csrf,
        };
        let (_, up) = json(
            d.upload("quay.jpg", photo(900, 600, ImageFormat::Jpeg), true)
                .await,
        )
        .await;
        let src = up["src"].as_str().expect("src").to_owned();
        let key = src.split('/').nth(2).expect("key").to_owned();
        assert_eq!(src, format!("/media/{key}/900.jpg"));
        let res = d
            .post(
                "/admin/posts",
                &[("kind", "article"), ("title", "Quay works begin")],
            )
            .await;
        let edit_url = res.headers()[header::LOCATION]
            .to_str()
            .expect("loc")
            .to_owned();
        let post_url = edit_url.trim_end_matches("/edit").to_owned();
        let (_, html) = d.page(&edit_url).await;
        let byline = field(&html, "authors");
        // What the desk's editor writes for an image with its words and a video.
        let body = format!(
            "Work began on Monday.\n\n<figure><img src=\"{src}\" alt=\"Diggers on the quay\" width=\"900\" height=\"600\"><figcaption>The north quay. <span class=\"credit\">Ann Lee / Courier</span></figcaption></figure>\n\n<https://www.youtube.com/watch?v=dQw4w9WgXcQ>\n\n<blockquote class=\"pullquote\">\n\nIt will take a year.\n\n</blockquote>\n"
        );
        // Sent as a browser sends a textarea: CRLF line breaks.
        let res = d
            .post(
                &post_url,
                &[
                    ("version", &field(&html, "version")),
                    ("title", "Quay works begin"),
                    ("slug", "quay-works-begin"),
                    ("authors", &byline),
                    ("body", &body.replace('\n', "\r\n")),
                    ("action", "publish"),
                ],
            )
            .await;
        assert_eq!(res.status().as_u16(), 200);
        let (_, html) = d.page(&edit_url).await;
        assert_eq!(stored_body(&html), body, "stored with the LF it had (none: a new post)");

        let (st, _, story) = get(&s.url("/quay-works-begin/")).await;
        assert_eq!(st, 200);
        assert!(story.contains(&format!(
            "<figure><picture><source type=\"image/webp\" srcset=\"/media/{key}/320.webp 320w, /media/{key}/640.webp 640w, /media/{key}/900.webp 900w\" sizes=\"(min-width: 44rem) 42rem, 100vw\"><img src=\"{src}\" alt=\"Diggers on the quay\" width=\"900\" height=\"600\" srcset=\"/media/{key}/320.jpg 320w, /media/{key}/640.jpg 640w, /media/{key}/900.jpg 900w\""
        )), "{story}");
        assert!(story.contains("<span class=\"credit\">Ann Lee / Courier</span>"));
        assert!(story.contains("data-embed-src=\"https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ\""), "{story}");
        assert!(story.contains("<blockquote class=\"pullquote\">"));
        // Every responsive width it names is really there.
        for w in ["320.webp", "640.webp", "900.webp", "320.jpg", "640.jpg", "900.jpg"] {
            let (st, _, _) = get(&s.url(&format!("/media/{key}/{w}"))).await;
            assert_eq!(st, 200, "/media/{key}/{w}");
        }
    })
    .await;
}
