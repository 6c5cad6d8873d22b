//! The media library in an S3 bucket, against a real S3 API server (moto in
//! server mode, from PyPI; `scripts/test.sh` installs it), with signature
//! checking and an access policy on: every request Masthead sends must be
//! correctly signed and allowed by the permissions `docs/operations.md` lists.

use std::net::TcpStream;

use bytes::Bytes;
use image::ImageFormat;
use masthead_web::media_store::{
    MediaFile, MediaStore, MediaStoreError, S3Credentials, StoredObject,
};

use super::media::{Desk, json, photo, publish};
use super::*;

const BUCKET: &str = "courier-media";
/// Allowed by the policy, never created.
const MISSING: &str = "courier-missing";

/// A moto S3 server on a free loopback port, stopped when dropped.
struct Moto {
    child: Child,
    endpoint: String,
    key_id: String,
    secret: String,
}

impl Moto {
    /// Starts moto with authentication on after four unsigned set-up
    /// requests: a user, its policy, its access key and the bucket.
    async fn start() -> Moto {
        let python = std::env::var("MASTHEAD_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = Command::new(&python)
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p"])
            .arg(port.to_string())
            .env("INITIAL_NO_AUTH_ACTION_COUNT", "4")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run {python}: {e}; ./scripts/test.sh installs moto[server]")
            });
        let mut moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            key_id: String::new(),
            secret: String::new(),
        };
        // Wait for the port only: every HTTP request counts as an action.
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = moto.child.try_wait().expect("wait") {
                panic!(
                    "moto exited ({status}); is moto[server] installed for {python}? \
                     ./scripts/test.sh installs it"
                );
            }
            assert!(Instant::now() < deadline, "moto did not start within 30 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        moto.set_up().await;
        moto
    }

    async fn iam(&self, form: &[(&str, &str)]) -> String {
        let mut all = vec![("Version", "2010-05-08")];
        all.extend_from_slice(form);
        let res = client()
            .post(format!("{}/", self.endpoint))
            // Routes the request to IAM; not checked while auth is still off.
            .header(
                header::AUTHORIZATION,
                "AWS4-HMAC-SHA256 Credential=setup/20260101/us-east-1/iam/aws4_request, \
                 SignedHeaders=host, Signature=0",
            )
            .form(&all)
            .send()
            .await
            .expect("iam");
        assert!(res.status().is_success(), "{form:?}: {}", res.status());
        res.text().await.expect("iam body")
    }

    async fn set_up(&mut self) {
        self.iam(&[("Action", "CreateUser"), ("UserName", "masthead")])
            .await;
        // Exactly what docs/operations.md says Masthead needs.
        let policy = format!(
            r#"{{"Version":"2012-10-17","Statement":[
              {{"Effect":"Allow","Action":["s3:ListBucket"],"Resource":["arn:aws:s3:::{BUCKET}","arn:aws:s3:::{MISSING}"]}},
              {{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::{BUCKET}/*"}}]}}"#
        );
        self.iam(&[
            ("Action", "PutUserPolicy"),
            ("UserName", "masthead"),
            ("PolicyName", "media"),
            ("PolicyDocument", &policy),
        ])
        .await;
        let key = self
            .iam(&[("Action", "CreateAccessKey"), ("UserName", "masthead")])
            .await;
        let tag = |name: &str| {
            key.split(&format!("<{name}>"))
                .nth(1)
                .and_then(|x| x.split('<').next())
                .unwrap_or_else(|| panic!("no {name} in {key}"))
                .to_owned()
        };
        self.key_id = tag("AccessKeyId");
        self.secret = tag("SecretAccessKey");
        let res = client()
            .put(format!("{}/{BUCKET}", self.endpoint))
            .send()
            .await
            .expect("create bucket");
        assert_eq!(res.status().as_u16(), 200, "bucket created");
    }

    fn url(&self) -> String {
        format!("s3://{BUCKET}?endpoint={}", self.endpoint)
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("MASTHEAD_MEDIA_URL", self.url()),
            ("AWS_ACCESS_KEY_ID", self.key_id.clone()),
            ("AWS_SECRET_ACCESS_KEY", self.secret.clone()),
        ]
    }

    fn store(&self, url: &str, secret: &str) -> MediaStore {
        let creds = S3Credentials::new(&self.key_id, secret);
        MediaStore::open(Some(url), PathBuf::new(), || Ok(creds)).expect("s3 store")
    }

    fn bucket(&self) -> MediaStore {
        self.store(&self.url(), &self.secret)
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.stop();
    }
}

fn start_with(data: &Path, env: &[(&'static str, String)]) -> Server {
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Server::start_with_env(data, &pairs)
}

/// Runs `masthead serve` expecting it to refuse to start; returns its stderr.
fn serve_refuses(data: &Path, env: &[(&str, &str)]) -> String {
    let mut child = masthead(data)
        .args(["serve", "--addr", "127.0.0.1:0"])
        .env("MASTHEAD_LOG", "warn")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start masthead");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("masthead served with {env:?}; it should have refused to start");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut err)
        .expect("stderr");
    assert!(!status.success(), "{env:?}: {err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

async fn fetch(s: &Server, path: &str) -> (u16, HeaderMap, Bytes) {
    let res = client().get(s.url(path)).send().await.expect("get");
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, headers, res.bytes().await.expect("bytes"))
}

async fn sign_in(s: &Server) -> Desk<'_> {
    let (cookie, csrf) = signed_in(s, "pictures@courier.example", "editor").await;
    Desk {
        s,
        c: client(),
        cookie,
        csrf,
    }
}

/// Uploads the ferry photo; returns (media id, key).
async fn upload_ferry(d: &Desk<'_>) -> (String, String) {
    let (st, body) = json(
        d.upload("ferry.jpg", photo(1300, 700, ImageFormat::Jpeg), true)
            .await,
    )
    .await;
    assert_eq!(st, 201, "{body}");
    let key = body["src"]
        .as_str()
        .and_then(|s| s.split('/').nth(2))
        .expect("key")
        .to_owned();
    (body["id"].as_i64().expect("id").to_string(), key)
}

#[tokio::test]
async fn uploads_go_to_the_bucket_and_are_served_as_from_disk() {
    let mut moto = Moto::start().await;
    let dir = TempDir::new("media-s3");
    let s = start_with(&dir.0, &moto.env());
    let d = sign_in(&s).await;
    let (media_id, key) = upload_ferry(&d).await;

    // The folder is in the bucket, complete, and not on the local disk.
    let objects = moto.bucket().list().await.expect("list");
    let names: Vec<&str> = objects.iter().map(|o| o.path.as_str()).collect();
    for file in [
        "info",
        "original.jpg",
        "320.webp",
        "640.webp",
        "1024.webp",
        "1300.webp",
        "320.jpg",
        "1300.jpg",
    ] {
        let path = format!("{key}/{file}");
        assert!(names.contains(&path.as_str()), "{path} in {names:?}");
    }
    assert!(names.iter().all(|n| n.starts_with(&key)), "{names:?}");
    assert!(
        !dir.0.join("media").join(&key).exists(),
        "nothing written to the local media directory"
    );

    // A local-directory site given the same photo serves the same bytes with
    // the same headers.
    let local_dir = TempDir::new("media-local");
    let local = Server::start(&local_dir.0);
    let ld = sign_in(&local).await;
    let (_, local_key) = upload_ferry(&ld).await;
    assert_eq!(local_key, key, "keys come from the upload's bytes");
    for file in ["320.webp", "1300.webp", "640.jpg", "1300.jpg"] {
        let path = format!("/media/{key}/{file}");
        let (st, h, bytes) = fetch(&s, &path).await;
        let (lst, lh, lbytes) = fetch(&local, &path).await;
        assert_eq!((st, lst), (200, 200), "{path}");
        assert_eq!(bytes, lbytes, "{path}: same bytes");
        let stored = moto
            .bucket()
            .get(&format!("{key}/{file}"))
            .await
            .expect("object");
        assert_eq!(bytes, stored, "{path}: the bucket's bytes");
        for name in [
            header::CONTENT_TYPE,
            header::CACHE_CONTROL,
            header::ETAG,
            header::CONTENT_LENGTH,
            header::X_CONTENT_TYPE_OPTIONS,
        ] {
            assert_eq!(h.get(&name), lh.get(&name), "{path}: {name}");
        }
        assert_eq!(
            h[header::CACHE_CONTROL],
            "public, max-age=31536000, immutable"
        );
        assert_eq!(h[header::ETAG], format!("\"{key}-{file}\"").as_str());
    }
    drop(ld);
    drop(local);

    // A second instance on the same site and bucket, running beside the
    // first, serves the upload too (it has no file of it on any disk).
    let other = start_with(&dir.0, &moto.env());
    let path = format!("/media/{key}/1024.webp");
    let (st, h, bytes) = fetch(&other, &path).await;
    assert_eq!(st, 200);
    assert_eq!(h[header::CONTENT_TYPE], "image/webp");
    assert_eq!(bytes, fetch(&s, &path).await.2);
    drop(other);

    // Staff download the original from the bucket.
    let res =
        d.c.get(s.url(&format!("/admin/media/{media_id}/original")))
            .header(header::COOKIE, &d.cookie)
            .send()
            .await
            .expect("original");
    assert_eq!(res.status().as_u16(), 200);
    let original = res.bytes().await.expect("bytes");
    assert_eq!(
        original.as_ref(),
        photo(1300, 700, ImageFormat::Jpeg).as_slice()
    );

    // The same photo again is the same item; nothing is rewritten.
    let (st, body) = json(
        d.upload("again.jpg", photo(1300, 700, ImageFormat::Jpeg), true)
            .await,
    )
    .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["created"], false);
    assert_eq!(moto.bucket().list().await.expect("list"), objects);

    // A story with the photo: every address in its <picture> resolves.
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
    let res = publish(
        &d,
        &post_url,
        &field(&html, "authors"),
        &media_id,
        &field(&html, "version"),
        "The ferry moored at night",
        "public",
    )
    .await;
    assert_eq!(res.status().as_u16(), 200);
    let (st, _, story) = get(&s.url("/night-ferry-returns/")).await;
    assert_eq!(st, 200);
    let picture = story
        .split("<picture")
        .nth(1)
        .and_then(|p| p.split("</picture>").next())
        .expect("a picture");
    let mut addresses: Vec<&str> = picture
        .split("srcset=\"")
        .skip(1)
        .filter_map(|x| x.split('"').next())
        .flat_map(|set| set.split(", "))
        .filter_map(|candidate| candidate.split(' ').next())
        .collect();
    addresses.extend(
        picture
            .split(" src=\"")
            .skip(1)
            .filter_map(|x| x.split('"').next()),
    );
    assert!(addresses.len() >= 8, "{picture}");
    for a in &addresses {
        assert!(a.starts_with(&format!("/media/{key}/")), "{a}");
        let (st, _, bytes) = fetch(&s, a).await;
        assert_eq!(st, 200, "{a}");
        assert!(!bytes.is_empty(), "{a}");
    }
    // Feed enclosures get their length from the bucket.
    let (_, _, rss) = get(&s.url("/rss/")).await;
    let enclosure = rss
        .split("<enclosure ")
        .find(|e| e.contains(&format!("/media/{key}/")))
        .expect("an enclosure of the photo");
    let length: u64 = enclosure
        .split("length=\"")
        .nth(1)
        .and_then(|x| x.split('"').next())
        .and_then(|x| x.parse().ok())
        .expect("length");
    let url = enclosure
        .split("url=\"")
        .nth(1)
        .and_then(|x| x.split('"').next())
        .expect("url");
    let path = url
        .split_once("/media/")
        .map(|(_, p)| p)
        .expect("a media url");
    let (st, _, bytes) = fetch(&s, &format!("/media/{path}")).await;
    assert_eq!(st, 200);
    assert_eq!(length, bytes.len() as u64, "{enclosure}");

    // Missing objects are 404s, whatever the store.
    for path in [
        "/media/0123456789abcdef0123/640.webp".to_owned(),
        format!("/media/{key}/4000.webp"),
        format!("/media/{key}/info"),
    ] {
        assert_eq!(fetch(&s, &path).await.0, 404, "{path}");
    }

    // Another process on the same bucket (a restart, here; the database is
    // one SQLite file) serves the media with no local copy at all.
    let (cookie, csrf) = (d.cookie.clone(), d.csrf.clone());
    drop(d);
    let mut s = s;
    assert!(s.terminate().success());
    drop(s);
    let _ = std::fs::remove_dir_all(dir.0.join("media"));
    let s = start_with(&dir.0, &moto.env());
    let (st, _, bytes) = fetch(&s, &format!("/media/{key}/640.webp")).await;
    assert_eq!(st, 200);
    assert!(bytes.starts_with(b"RIFF"));
    assert!(
        !dir.0.join("media").exists(),
        "no local media directory made"
    );

    // The bucket goes away: readers get a 503 that says to try again (not a
    // 404 a cache would keep, not a 500), uploads a clear refusal.
    moto.stop();
    let (st, h, body) = fetch(&s, &format!("/media/{key}/640.webp")).await;
    assert_eq!(st, 503);
    assert_eq!(h[header::CONTENT_TYPE], "text/html; charset=utf-8");
    assert_eq!(h[header::RETRY_AFTER], "30");
    assert_eq!(h[header::CACHE_CONTROL], "no-store");
    assert!(
        String::from_utf8_lossy(&body).contains("try again"),
        "{}",
        String::from_utf8_lossy(&body)
    );
    let d = Desk {
        s: &s,
        c: client(),
        cookie,
        csrf,
    };
    let (st, body) = json(
        d.upload("new.png", photo(300, 200, ImageFormat::Png), true)
            .await,
    )
    .await;
    assert_eq!(st, 503, "{body}");
    assert!(
        body["error"].as_str().unwrap_or("").contains("Try again"),
        "{body}"
    );
    // The site itself keeps serving.
    assert_eq!(get(&s.url("/")).await.0, 200);
}

#[tokio::test]
async fn a_bad_media_url_or_bucket_stops_start_up_with_a_clear_message() {
    let moto = Moto::start().await;
    let dir = TempDir::new("media-s3-bad");
    let id = moto.key_id.clone();
    let secret = moto.secret.clone();
    let with_keys = |url: String| {
        vec![
            ("MASTHEAD_MEDIA_URL", url),
            ("AWS_ACCESS_KEY_ID", id.clone()),
            ("AWS_SECRET_ACCESS_KEY", secret.clone()),
        ]
    };
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let cases: Vec<(Vec<(&str, String)>, &str)> = vec![
        (
            vec![("MASTHEAD_MEDIA_URL", "ftp://media".to_owned())],
            "neither a file:// nor an s3://",
        ),
        (
            vec![("MASTHEAD_MEDIA_URL", moto.url())],
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
        ),
        (
            with_keys(format!("s3://{MISSING}?endpoint={}", moto.endpoint)),
            "does not exist",
        ),
        (
            with_keys(format!("s3://{BUCKET}?endpoint=http://127.0.0.1:{closed}")),
            "did not answer",
        ),
        (
            vec![
                ("MASTHEAD_MEDIA_URL", moto.url()),
                ("AWS_ACCESS_KEY_ID", id.clone()),
                ("AWS_SECRET_ACCESS_KEY", "not-the-secret".to_owned()),
            ],
            "may not use the bucket",
        ),
    ];
    for (env, says) in cases {
        let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let err = serve_refuses(&dir.0, &pairs);
        assert!(err.contains(says), "{env:?}: {err}");
        assert!(err.contains("media"), "{err}");
        assert!(!err.contains(&secret), "the secret never prints: {err}");
    }
}

/// The same operations, the same answers, from both stores.
#[tokio::test]
async fn both_media_stores_behave_alike() {
    let mut moto = Moto::start().await;
    let dir = TempDir::new("media-conformance");
    let stores = [
        MediaStore::open(None, dir.0.join("media"), || unreachable!()).expect("dir"),
        moto.bucket(),
    ];
    let key = "0123456789abcdef0123";
    let files = || {
        vec![
            MediaFile {
                name: "original.png".into(),
                bytes: Bytes::from_static(b"\x89PNG original!"),
                content_type: "image/png",
            },
            MediaFile {
                name: "320.webp".into(),
                bytes: Bytes::from(vec![7u8; 70_000]),
                content_type: "image/webp",
            },
            MediaFile {
                name: "info".into(),
                bytes: Bytes::from_static(b"png 320 200 320\n"),
                content_type: "text/plain; charset=utf-8",
            },
        ]
    };
    for store in &stores {
        let what = store.describe();
        store.check().await.expect("usable");
        assert!(store.list().await.expect("list").is_empty(), "{what}");
        assert_eq!(
            store.head(&format!("{key}/info")).await.expect("head"),
            None
        );
        assert!(
            matches!(
                store.get(&format!("{key}/info")).await,
                Err(MediaStoreError::NotFound)
            ),
            "{what}"
        );
        store.put_folder(key, files()).await.expect("put");
        // Writing the same folder again is harmless.
        store.put_folder(key, files()).await.expect("put again");
        for f in files() {
            let path = format!("{key}/{}", f.name);
            assert_eq!(
                store.get(&path).await.expect("get"),
                f.bytes,
                "{what} {path}"
            );
            assert_eq!(
                store.head(&path).await.expect("head"),
                Some(f.bytes.len() as u64),
                "{what} {path}"
            );
        }
        assert_eq!(
            store.list().await.expect("list"),
            vec![
                StoredObject {
                    path: format!("{key}/320.webp"),
                    len: 70_000
                },
                StoredObject {
                    path: format!("{key}/info"),
                    len: 16
                },
                StoredObject {
                    path: format!("{key}/original.png"),
                    len: 14
                },
            ],
            "{what}"
        );
        // A folder a crash left half-written is not listed (nor backed up).
        if let Some(root) = store.local_dir() {
            let tmp = root.join(format!(".tmp-{key}-1"));
            std::fs::create_dir_all(&tmp).expect("tmp");
            std::fs::write(tmp.join("320.webp"), b"half").expect("write");
            assert_eq!(store.list().await.expect("list").len(), 3, "{what}");
            assert!(
                !root.read_dir().expect("dir").any(|e| e
                    .expect("entry")
                    .file_name()
                    .to_string_lossy()
                    .starts_with(&format!(".tmp-{key}-{}", std::process::id()))),
                "no temporary folder of this process left behind"
            );
        }
        // Names that are not plain relative paths reach neither store.
        for bad in ["../masthead.db", "/etc/passwd", "a//b", ".tmp-x/info"] {
            assert!(
                matches!(store.get(bad).await, Err(MediaStoreError::NotFound)),
                "{what} {bad}"
            );
            assert_eq!(store.head(bad).await.expect("head"), None);
        }
        assert!(store.put_folder("../up", files()).await.is_err(), "{what}");
    }
    // Many objects: the bucket's listing is paged (1,000 a page).
    let bucket = moto.bucket();
    let many: Vec<MediaFile> = (0..1_005)
        .map(|i| MediaFile {
            name: format!("{i}.webp"),
            bytes: Bytes::from_static(b"x"),
            content_type: "image/webp",
        })
        .collect();
    bucket
        .put_folder("fedcba9876543210fedc", many)
        .await
        .expect("put many");
    assert_eq!(bucket.list().await.expect("list").len(), 1_005 + 3);
    // A wrong secret is refused, not mistaken for a missing object.
    let wrong = moto.store(&moto.url(), "wrong");
    assert!(
        matches!(
            wrong.get(&format!("{key}/info")).await,
            Err(MediaStoreError::Failed(_))
        ),
        "a refused signature is not a 404"
    );
    // A stopped server is "unavailable", for every operation.
    moto.stop();
    assert!(matches!(
        bucket.check().await,
        Err(MediaStoreError::Unavailable(_))
    ));
    assert!(matches!(
        bucket.get(&format!("{key}/info")).await,
        Err(MediaStoreError::Unavailable(_))
    ));
    assert!(matches!(
        bucket.head(&format!("{key}/info")).await,
        Err(MediaStoreError::Unavailable(_))
    ));
    assert!(matches!(
        bucket.list().await,
        Err(MediaStoreError::Unavailable(_))
    ));
    assert!(matches!(
        bucket.put_folder(key, files()).await,
        Err(MediaStoreError::Unavailable(_))
    ));
}

fn cli_with(data: &Path, args: &[&str], env: &[(&'static str, String)]) -> std::process::Output {
    masthead(data)
        .args(args)
        .env("MASTHEAD_LOG", "warn")
        .env_remove("MASTHEAD_MEDIA_URL")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("run cli")
}

/// `masthead backup` takes the media from the bucket into the archive;
/// `masthead restore` puts them back into a bucket (or onto the disk).
#[tokio::test]
async fn backups_carry_bucket_media_both_ways() {
    if sqlite_only("masthead backup/restore carry the SQLite file; PostgreSQL uses pg_dump") {
        super::backup::refused_on_postgres();
        return;
    }
    let mut moto = Moto::start().await;
    let dir = TempDir::new("media-s3-backup");
    let s = start_with(&dir.0, &moto.env());
    let d = sign_in(&s).await;
    let (_, key) = upload_ferry(&d).await;
    let in_bucket = moto.bucket().list().await.expect("list");
    assert!(in_bucket.len() >= 8, "{in_bucket:?}");

    // Taken while the site serves.
    let archive = dir.0.join("site.tar.gz");
    let out = cli_with(
        &dir.0,
        &["backup", "--output", archive.to_str().expect("path")],
        &moto.env(),
    );
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains("came from the S3 bucket courier-media"),
        "{said}"
    );
    assert!(!said.contains(&moto.secret), "{said}");

    // Restored without a bucket: every object is on disk, byte for byte.
    let plain = TempDir::new("media-s3-restored-plain");
    let site = plain.0.join("site");
    let out = cli_with(&site, &["restore", archive.to_str().expect("path")], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for object in &in_bucket {
        let on_disk = std::fs::read(site.join("media").join(&object.path)).expect("restored");
        let stored = moto.bucket().get(&object.path).await.expect("object");
        assert_eq!(on_disk, stored.as_ref(), "{}", object.path);
    }

    // Restored with a new, empty bucket: the objects go there, not to disk,
    // and a server on the restored site serves them.
    let mut other = Moto::start().await;
    let into = TempDir::new("media-s3-restored-bucket");
    let site = into.0.join("site");
    let out = cli_with(
        &site,
        &["restore", archive.to_str().expect("path")],
        &other.env(),
    );
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{said}");
    assert!(said.contains("The media are in the S3 bucket"), "{said}");
    assert_eq!(other.bucket().list().await.expect("list"), in_bucket);
    assert!(!site.join("media").exists(), "no local copy kept");
    let restored = start_with(&site, &other.env());
    let path = format!("/media/{key}/640.webp");
    let (st, _, bytes) = fetch(&restored, &path).await;
    assert_eq!(st, 200);
    assert_eq!(bytes, fetch(&s, &path).await.2);
    drop(restored);
    other.stop();

    // The bucket unreachable: the backup fails, saying why, and leaves nothing.
    moto.stop();
    let failed = dir.0.join("failed.tar");
    let out = cli_with(
        &dir.0,
        &["backup", "--output", failed.to_str().expect("path")],
        &moto.env(),
    );
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success());
    assert!(
        said.contains("media store") && said.contains("did not answer"),
        "{said}"
    );
    assert!(!said.contains("panicked"), "{said}");
    assert!(!failed.exists());
}

/// `--media-url file:///…` puts the library in another directory.
#[tokio::test]
async fn a_file_media_url_moves_the_library_to_another_directory() {
    let dir = TempDir::new("media-file-url");
    let elsewhere = TempDir::new("media-file-url-store");
    let url = format!("file://{}", elsewhere.0.join("library").display());
    let s = start_with(&dir.0, &[("MASTHEAD_MEDIA_URL", url)]);
    let d = sign_in(&s).await;
    let (_, key) = upload_ferry(&d).await;
    let file = elsewhere.0.join("library").join(&key).join("640.webp");
    let on_disk = std::fs::read(&file).expect("the width is in the configured directory");
    let (st, _, served) = fetch(&s, &format!("/media/{key}/640.webp")).await;
    assert_eq!(st, 200);
    assert_eq!(served.as_ref(), on_disk.as_slice());
    assert!(!dir.0.join("media").join(&key).exists());
}
