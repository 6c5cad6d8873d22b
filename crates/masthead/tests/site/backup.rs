//! `masthead backup` and `masthead restore`, through the real binary: a backup
//! taken while the site serves and writes restores into a consistent site.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Cursor;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use reqwest::multipart::{Form, Part};

use super::*;

use super::transfer::{cli as run, text as said};

fn backup(data: &Path, file: &Path) -> String {
    let out = run(data, &["backup", "--output", file.to_str().expect("path")]);
    assert!(out.status.success(), "backup failed: {}", said(&out));
    said(&out)
}

fn restore(data: &Path, file: &Path) -> std::process::Output {
    run(data, &["restore", file.to_str().expect("path")])
}

/// On PostgreSQL, `masthead backup` and `restore` (which copy the SQLite
/// file) refuse, and say what to use instead.
pub(crate) fn refused_on_postgres() {
    let dir = TempDir::new("backup-pg");
    let file = dir.0.join("site.tar.gz");
    for args in [
        vec!["backup", "--output", file.to_str().expect("path")],
        vec!["restore", file.to_str().expect("path")],
    ] {
        let out = run(&dir.0, &args);
        assert!(!out.status.success(), "{args:?} must refuse on PostgreSQL");
        let text = said(&out);
        assert!(
            text.contains("docs/operations.md") && text.contains("pg_"),
            "{args:?} says what to use instead: {text}"
        );
        if let Some(password) = pg::password() {
            assert!(!text.contains(&password), "never the password: {text}");
        }
    }
    assert!(!file.exists(), "no archive written");
}

/// The site as `masthead export` writes it, without the export's own time.
fn export_of(data: &Path) -> serde_json::Value {
    let out = run(data, &["export"]);
    assert!(out.status.success(), "{}", said(&out));
    let mut v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("export is JSON");
    v["db"][0]["meta"]
        .as_object_mut()
        .expect("meta")
        .remove("exported_on");
    v
}

/// The ids of `table` in the site's database file, read from the file
/// itself (the backup under test is of that file).
fn ids(data: &Path, table: &str) -> Vec<i64> {
    masthead_store::testing::file_row_ids(&data.join("masthead.db"), table).expect("read ids")
}

/// Every file under `dir`, by path relative to it, with its bytes.
fn files_under(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).expect("under root").to_owned();
                out.insert(rel, std::fs::read(&p).expect("read"));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn photo(n: u64) -> Vec<u8> {
    let img = RgbImage::from_fn(480, 320, |x, y| {
        Rgb([
            (x as u64 * 255 / 480) as u8,
            ((y as u64 + n * 7) % 256) as u8,
            (n % 256) as u8,
        ])
    });
    let mut out = Cursor::new(Vec::new());
    DynamicImage::ImageRgb8(img)
        .write_to(&mut out, ImageFormat::Png)
        .expect("encode");
    out.into_inner()
}

/// What the writers got acknowledged, in order.
#[derive(Default)]
struct Acked {
    members: Vec<String>,
    posts: Vec<String>,
    uploads: u64,
}

/// Joins, desk publishes and image uploads in a loop until `stop`.
fn start_writers(
    s: &Server,
    cookie: &str,
    csrf: &str,
    stop: Arc<AtomicBool>,
) -> (Arc<Mutex<Acked>>, Vec<tokio::task::JoinHandle<()>>) {
    let acked = Arc::new(Mutex::new(Acked::default()));
    let n = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    {
        let (base, acked, stop, n) = (s.base.clone(), acked.clone(), stop.clone(), n.clone());
        let data = s.data.clone();
        tasks.push(tokio::spawn(async move {
            let c = client();
            while !stop.load(Ordering::SeqCst) {
                let i = n.fetch_add(1, Ordering::SeqCst);
                let email = format!("backup-reader-{i}@example.org");
                let res = c
                    .post(format!("{base}/join/"))
                    .header("x-forwarded-for", format!("10.9.{}.{}", i / 250, i % 250))
                    .form(&[("email", email.as_str())])
                    .send()
                    .await
                    .expect("join");
                // A flood limit may turn some away; those are simply not acknowledged.
                if res.status().as_u16() == 429 {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
                assert_eq!(res.status().as_u16(), 303, "join {i}");
                // A member once the address is confirmed (from the outbox).
                let link = {
                    let (data, email) = (data.clone(), email.clone());
                    tokio::task::spawn_blocking(move || outbox_link(&data, &email))
                        .await
                        .expect("outbox")
                };
                let res = c.get(link).send().await.expect("confirm");
                assert_eq!(res.status().as_u16(), 303, "confirm {i}");
                acked.lock().expect("lock").members.push(email);
            }
        }));
    }
    {
        let (base, acked, stop, n) = (s.base.clone(), acked.clone(), stop.clone(), n.clone());
        let (cookie, csrf) = (cookie.to_owned(), csrf.to_owned());
        tasks.push(tokio::spawn(async move {
            let c = client();
            while !stop.load(Ordering::SeqCst) {
                let i = n.fetch_add(1, Ordering::SeqCst);
                let title = format!("Backup under load {i}");
                let res = c
                    .post(format!("{base}/admin/posts"))
                    .header(header::COOKIE, &cookie)
                    .form(&[
                        ("kind", "brief"),
                        ("title", title.as_str()),
                        ("csrf", csrf.as_str()),
                    ])
                    .send()
                    .await
                    .expect("create");
                assert_eq!(res.status().as_u16(), 303);
                let edit = res.headers()[header::LOCATION]
                    .to_str()
                    .expect("location")
                    .to_owned();
                let html = c
                    .get(format!("{base}{edit}"))
                    .header(header::COOKIE, &cookie)
                    .send()
                    .await
                    .expect("edit")
                    .text()
                    .await
                    .expect("html");
                let slug = format!("backup-under-load-{i}");
                let res = c
                    .post(format!("{base}{}", edit.trim_end_matches("/edit")))
                    .header(header::COOKIE, &cookie)
                    .form(&[
                        ("version", field(&html, "version").as_str()),
                        ("title", title.as_str()),
                        ("slug", slug.as_str()),
                        ("authors", field(&html, "authors").as_str()),
                        ("body", "Published while a backup ran."),
                        ("action", "publish"),
                        ("csrf", csrf.as_str()),
                    ])
                    .send()
                    .await
                    .expect("publish");
                assert_eq!(res.status().as_u16(), 200, "publish {i}");
                acked.lock().expect("lock").posts.push(slug);
            }
        }));
    }
    {
        let (base, acked, stop, n) = (s.base.clone(), acked.clone(), stop.clone(), n.clone());
        let (cookie, csrf) = (cookie.to_owned(), csrf.to_owned());
        tasks.push(tokio::spawn(async move {
            let c = client();
            while !stop.load(Ordering::SeqCst) {
                let i = n.fetch_add(1, Ordering::SeqCst);
                let form = Form::new().text("csrf", csrf.clone()).part(
                    "file",
                    Part::bytes(photo(i)).file_name(format!("backup-{i}.png")),
                );
                let res = c
                    .post(format!("{base}/admin/media"))
                    .header(header::COOKIE, &cookie)
                    .header(header::ACCEPT, "application/json")
                    .multipart(form)
                    .send()
                    .await
                    .expect("upload");
                assert_eq!(res.status().as_u16(), 201, "upload {i}");
                acked.lock().expect("lock").uploads += 1;
            }
        }));
    }
    (acked, tasks)
}

/// Every media row of the site in `data` has its folder, with the same files
/// as in `source`.
fn media_complete(data: &Path, source: &Path) -> usize {
    let keys =
        masthead_store::testing::file_media_keys(&data.join("masthead.db")).expect("media keys");
    for key in &keys {
        let here = files_under(&data.join("media").join(key));
        assert!(
            here.contains_key(Path::new("info")),
            "media {key} restored without its files"
        );
        assert_eq!(
            here,
            files_under(&source.join("media").join(key)),
            "media {key} differs from the source"
        );
    }
    keys.len()
}

#[tokio::test]
async fn a_backup_taken_under_write_load_restores_a_consistent_site() {
    if sqlite_only("masthead backup snapshots the SQLite file with SQLite's backup API") {
        refused_on_postgres();
        return;
    }
    let dir = TempDir::new("backup-src");
    let mut s = Server::start_with_env(&dir.0, &[("MASTHEAD_TRUSTED_PROXIES", "127.0.0.1")]);
    let (cookie, csrf) = signed_in(&s, "owner@courier.example", "owner").await;
    let stop = Arc::new(AtomicBool::new(false));
    let (acked, tasks) = start_writers(&s, &cookie, &csrf, stop.clone());

    // Let every writer land something, then back up while they carry on.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ready = {
            let a = acked.lock().expect("lock");
            a.members.len() >= 5 && a.posts.len() >= 2 && a.uploads >= 2
        };
        if ready {
            break;
        }
        assert!(Instant::now() < deadline, "the writers made no progress");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (members_before, posts_before) = {
        let a = acked.lock().expect("lock");
        (a.members.clone(), a.posts.clone())
    };
    let out_dir = TempDir::new("backup-files");
    let archive = out_dir.0.join("site.tar.gz");
    let (data, file) = (dir.0.clone(), archive.clone());
    let report = tokio::task::spawn_blocking(move || backup(&data, &file))
        .await
        .expect("backup task");
    assert!(report.contains("Copying the database"), "{report}");
    assert!(
        report.contains(&format!("Wrote {}", archive.display())),
        "{report}"
    );
    let during = {
        let a = acked.lock().expect("lock");
        (a.members.len() - members_before.len()) + (a.posts.len() - posts_before.len())
    };
    // Keep writing a little after the backup, so the source moves on.
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::SeqCst);
    for t in tasks {
        t.await.expect("writer");
    }
    assert!(
        !out_dir.0.join("site.tar.gz.partial").exists()
            && !out_dir.0.join("site.tar.gz.db.partial").exists(),
        "no partial files are left behind"
    );

    let target = TempDir::new("backup-restored");
    let restored = target.0.join("site");
    let out = restore(&restored, &archive);
    assert!(out.status.success(), "restore failed: {}", said(&out));
    assert!(said(&out).contains("integrity check ok"), "{}", said(&out));
    assert!(
        !target.0.join("site.partial").exists(),
        "the staging directory is gone"
    );

    // The restored database is sound, and a snapshot of one moment: for
    // members and posts, exactly the source's rows up to some point (ids only
    // grow), holding everything acknowledged before the backup began.
    // check_snapshot runs SQLite's integrity check.
    masthead_store::check_snapshot(&restored.join("masthead.db")).expect("a sound database");
    for table in ["members", "posts", "media", "live_entries", "change_log"] {
        let (got, all) = (ids(&restored, table), ids(&dir.0, table));
        let last = got.last().copied().unwrap_or(0);
        let prefix: Vec<i64> = all.iter().copied().filter(|id| *id <= last).collect();
        assert_eq!(
            got, prefix,
            "{table}: the restored rows are not a prefix of the source's"
        );
    }
    let restored_export = export_of(&restored);
    let source_export = export_of(&dir.0);
    let set = |v: &serde_json::Value, list: &str, key: &str| -> BTreeSet<String> {
        v["db"][0]["data"][list]
            .as_array()
            .expect("list")
            .iter()
            .filter_map(|x| x[key].as_str().map(str::to_owned))
            .collect()
    };
    let (r_members, s_members) = (
        set(&restored_export, "members", "email"),
        set(&source_export, "members", "email"),
    );
    let (r_posts, s_posts) = (
        set(&restored_export, "posts", "slug"),
        set(&source_export, "posts", "slug"),
    );
    assert!(
        r_members.is_subset(&s_members),
        "members the source never had"
    );
    assert!(r_posts.is_subset(&s_posts), "posts the source never had");
    for m in &members_before {
        assert!(
            r_members.contains(m),
            "{m} joined before the backup but is not in it"
        );
    }
    for p in &posts_before {
        assert!(
            r_posts.contains(p),
            "{p} was published before the backup but is not in it"
        );
    }
    assert!(
        s_members.len() > r_members.len(),
        "the source moved on after the backup"
    );
    let media = media_complete(&restored, &dir.0);
    assert!(media >= 2, "uploads made before the backup are in it");
    eprintln!(
        "backup under load: {during} writes acknowledged while it ran; restored {} members, {} posts, {media} media items",
        r_members.len(),
        r_posts.len()
    );

    // Quiet now: a second backup restores to exactly the source.
    let quiet = out_dir.0.join("quiet.tar");
    backup(&dir.0, &quiet);
    let again = target.0.join("quiet");
    let out = restore(&again, &quiet);
    assert!(out.status.success(), "{}", said(&out));
    assert_eq!(
        export_of(&again),
        export_of(&dir.0),
        "a quiet backup restores the same site"
    );
    assert_eq!(
        files_under(&again.join("media")),
        files_under(&dir.0.join("media"))
    );
    assert_eq!(
        files_under(&again.join("content")),
        files_under(&dir.0.join("content"))
    );
    assert_eq!(s.terminate().code(), Some(0));
}

#[tokio::test]
async fn backup_restore_serve_round_trip_and_refusals() {
    if sqlite_only("masthead backup/restore carry the SQLite file; PostgreSQL uses pg_dump") {
        refused_on_postgres();
        return;
    }
    let dir = TempDir::new("backup-trip");
    let mut s = Server::start(&dir.0);
    let (_, _, home) = get(&s.url("/")).await;
    let files = TempDir::new("backup-trip-files");
    let archive = files.0.join("site.tar");
    backup(&dir.0, &archive);
    s.terminate();

    // Into a directory that is not empty: refused, nothing touched.
    let busy = TempDir::new("backup-busy");
    std::fs::write(busy.0.join("keep.txt"), "mine").expect("write");
    let out = restore(&busy.0, &archive);
    assert!(!out.status.success());
    assert!(said(&out).contains("is not empty"), "{}", said(&out));
    assert_eq!(
        std::fs::read_to_string(busy.0.join("keep.txt")).expect("kept"),
        "mine"
    );

    // Damaged archives: refused, and neither the directory nor a staging copy is left.
    let bytes = std::fs::read(&archive).expect("archive");
    let target = TempDir::new("backup-damaged");
    for (name, body, says) in [
        ("cut.tar", bytes[..bytes.len() / 2].to_vec(), ""),
        ("other.tar", vec![0u8; 4096], "not a Masthead backup"),
        ("text.tar", b"hello".to_vec(), ""),
    ] {
        let path = files.0.join(name);
        std::fs::write(&path, body).expect("write");
        let into = target.0.join(name);
        let out = restore(&into, &path);
        assert!(!out.status.success(), "{name} was restored");
        assert!(said(&out).contains(says), "{name}: {}", said(&out));
        assert!(!into.exists(), "{name} left a directory");
        assert!(
            !target.0.join(format!("{name}.partial")).exists(),
            "{name} left a staging copy"
        );
    }

    // A good one into an empty directory serves the same home page.
    let empty = TempDir::new("backup-empty");
    let out = restore(&empty.0, &archive);
    assert!(out.status.success(), "{}", said(&out));
    let mut back = Server::start(&empty.0);
    let (status, _, restored_home) = get(&back.url("/")).await;
    assert_eq!(status, 200);
    assert_eq!(post_ids(&restored_home), post_ids(&home));
    // Absolute links name each server's own address; everything else is the same.
    let home = home.replace(&s.base, "ORIGIN");
    let restored_home = restored_home.replace(&back.base, "ORIGIN");
    let differs = home
        .lines()
        .zip(restored_home.lines())
        .find(|(a, b)| a != b);
    assert_eq!(differs, None, "the restored site serves the same home page");
    assert_eq!(home.len(), restored_home.len());
    assert_eq!(
        files_under(&empty.0.join("content")),
        files_under(&dir.0.join("content"))
    );
    assert_eq!(back.terminate().code(), Some(0));

    // --force replaces a directory that is not empty, keeping the old one aside.
    let out = run(
        &busy.0,
        &["restore", archive.to_str().expect("path"), "--force"],
    );
    assert!(out.status.success(), "{}", said(&out));
    assert!(busy.0.join("masthead.db").is_file() && !busy.0.join("keep.txt").exists());
    let parent = busy.0.parent().expect("parent");
    let name = busy
        .0
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    let aside: Vec<PathBuf> = std::fs::read_dir(parent)
        .expect("list")
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name().is_some_and(|n| {
                n.to_string_lossy()
                    .starts_with(&format!("{name}.replaced-"))
            })
        })
        .collect();
    assert_eq!(aside.len(), 1, "the old directory is kept: {aside:?}");
    assert_eq!(
        std::fs::read_to_string(aside[0].join("keep.txt")).expect("kept"),
        "mine"
    );
    let _ = std::fs::remove_dir_all(&aside[0]);
}
