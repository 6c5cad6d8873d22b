//! `masthead backup` and `masthead restore`: a whole site in one archive file
//! (a tar, gzip'd when the name ends in `.gz` or `.tgz`), taken while the site
//! serves and writes.
//!
//! Order is what makes the snapshot consistent. The database is copied first
//! (one read transaction, see `Store::backup_to`); the files are listed after.
//! An upload's folder is renamed into place before its row is committed, and
//! folders are never changed or removed, so every media row in the snapshot
//! finds its files on disk when they are listed. A folder that appears later
//! may be archived too; it is harmless (no row points at it, and a later upload
//! of the same image reuses it).
//!
//! Restore unpacks into a sibling `DIR.partial`, checks the database and that
//! every media row has its files, syncs, and only then renames it into place:
//! a failed or interrupted restore never leaves a half-restored site.
//!
//! Media come from, and go back to, whichever media store is configured
//! (`--media-url`): the archive always holds them under `media/`. From an S3
//! bucket they are listed after the snapshot and downloaded into the archive,
//! the same ordering argument holding (a folder's `info` object is written
//! last, before its row). A restore with a bucket configured uploads every
//! folder the bucket lacks, `info` last, before the data directory is renamed
//! into place, and keeps no local copy.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use masthead_store::Store;
use masthead_web::media_store::{MediaFile, MediaStore};

/// First entry of every archive: says what it is and what it holds.
const MANIFEST: &str = "masthead-backup.txt";
const MANIFEST_HEAD: &str = "masthead backup, format 1";
const DB_NAME: &str = "masthead.db";
/// The data directory's folders that travel with the database.
const TREES: [&str; 2] = ["media", "content"];
/// How often long work reports its progress.
const PROGRESS_EVERY: Duration = Duration::from_secs(2);

/// What `backup` wrote.
pub struct BackupReport {
    pub db_bytes: u64,
    pub files: usize,
    pub file_bytes: u64,
    pub archive_bytes: u64,
    pub posts: u64,
    pub members: u64,
}

/// Writes the site in `data_dir` (served by `store`, its media in `media`)
/// to the archive `output`.
pub async fn backup(
    store: &Store,
    media: &MediaStore,
    data_dir: &Path,
    output: &Path,
) -> Result<BackupReport> {
    let started = Instant::now();
    let partial = with_suffix(output, ".partial");
    let snapshot = with_suffix(output, ".db.partial");
    // Leftovers of an earlier, interrupted run carry our names: replace them.
    remove_if_present(&partial)?;
    remove_if_present(&snapshot)?;
    let result = write_archive(store, media, data_dir, output, &partial, &snapshot, started).await;
    let _ = std::fs::remove_file(&snapshot);
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}

async fn write_archive(
    store: &Store,
    media: &MediaStore,
    data_dir: &Path,
    output: &Path,
    partial: &Path,
    snapshot: &Path,
    started: Instant,
) -> Result<BackupReport> {
    eprintln!("Copying the database...");
    store
        .backup_to(snapshot)
        .await
        .context("copying the database")?;
    let db_bytes = std::fs::metadata(snapshot)?.len();
    let info = masthead_store::check_snapshot(snapshot).context("checking the copy")?;
    eprintln!(
        "Database copied and checked: {} in {:.1} s ({} posts, {} members, {} media items).",
        megabytes(db_bytes),
        started.elapsed().as_secs_f64(),
        info.posts,
        info.members,
        info.media_keys.len()
    );
    // Listed only now, after the snapshot: see the module docs.
    let mut files = Vec::new();
    match media.local_dir() {
        Some(dir) => list_files(dir, Path::new("media"), &mut files)?,
        None => {
            eprintln!("Listing media in {}...", media.describe());
            for object in media.list().await.context("listing the media store")? {
                files.push(Listed {
                    name: Path::new("media").join(&object.path),
                    len: object.len,
                    from: Source::Store(object.path),
                });
            }
        }
    }
    list_files(&data_dir.join("content"), Path::new("content"), &mut files)?;
    let listed: std::collections::HashSet<&Path> = files.iter().map(|f| f.name.as_path()).collect();
    for key in &info.media_keys {
        let marker = Path::new("media").join(key).join("info");
        if !listed.contains(marker.as_path()) {
            bail!(
                "media item {key} has no files in {}; the media store is damaged",
                media.describe()
            );
        }
    }
    let file_bytes: u64 = files.iter().map(|f| f.len).sum();
    eprintln!(
        "Archiving {} files ({})...",
        files.len(),
        megabytes(file_bytes)
    );

    let out =
        File::create(partial).with_context(|| format!("cannot create {}", partial.display()))?;
    let sink = if is_gzip_name(output) {
        Sink::Gzip(flate2::write::GzEncoder::new(
            BufWriter::new(out),
            flate2::Compression::fast(),
        ))
    } else {
        Sink::Plain(BufWriter::new(out))
    };
    let mut tar = tar::Builder::new(sink);
    tar.mode(tar::HeaderMode::Complete);
    tar.follow_symlinks(false);
    let manifest = format!(
        "{MANIFEST_HEAD}\nmasthead {}\ncreated_at_ms {}\nschema_version {}\nposts {}\nmembers {}\nmedia_items {}\nfiles {}\n",
        env!("CARGO_PKG_VERSION"),
        masthead_store::now_ms(),
        info.schema_version,
        info.posts,
        info.members,
        info.media_keys.len(),
        files.len()
    );
    append_bytes(&mut tar, MANIFEST, manifest.as_bytes())?;
    tar.append_path_with_name(snapshot, DB_NAME)
        .context("archiving the database")?;
    let mut progress = Progress::new("Archived", files.len(), file_bytes);
    for f in &files {
        match &f.from {
            Source::Disk(path) => tar
                .append_path_with_name(path, &f.name)
                .with_context(|| format!("archiving {}", f.name.display()))?,
            Source::Store(path) => {
                let bytes = media
                    .get(path)
                    .await
                    .with_context(|| format!("downloading {path} from {}", media.describe()))?;
                append_bytes(&mut tar, &f.name.to_string_lossy(), &bytes)
                    .with_context(|| format!("archiving {}", f.name.display()))?;
            }
        }
        progress.add(f.len);
    }
    let out = tar
        .into_inner()
        .and_then(Sink::finish)
        .context("finishing the archive")?;
    // Durable before it gets its name.
    out.sync_all().context("syncing the archive")?;
    drop(out);
    std::fs::rename(partial, output).with_context(|| {
        format!(
            "cannot rename {} to {}",
            partial.display(),
            output.display()
        )
    })?;
    sync_parent(output);
    Ok(BackupReport {
        db_bytes,
        files: files.len(),
        file_bytes,
        archive_bytes: std::fs::metadata(output)?.len(),
        posts: info.posts,
        members: info.members,
    })
}

/// What `restore` brought back.
pub struct RestoreReport {
    pub files: usize,
    pub bytes: u64,
    pub posts: u64,
    pub members: u64,
    pub media_items: usize,
    pub schema_version: i64,
    /// Where the directory that was replaced (with `--force`) now is.
    pub replaced: Option<PathBuf>,
}

/// Unpacks `archive` into `data_dir`, which must be missing or empty unless
/// `force` is given (then the old directory is moved aside, not deleted).
/// Media go to `media` when it is not the data directory's own folder.
pub async fn restore(
    archive: &Path,
    data_dir: &Path,
    media: &MediaStore,
    force: bool,
) -> Result<RestoreReport> {
    let occupied = match std::fs::read_dir(data_dir) {
        Ok(mut entries) => entries.next().is_some(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", data_dir.display())),
    };
    if occupied && !force {
        bail!(
            "{} is not empty; restore into a new directory, or pass --force to replace it \
             (stop the server first; the old directory is kept beside it)",
            data_dir.display()
        );
    }
    let staging = with_suffix(data_dir, ".partial");
    remove_dir_if_present(&staging)?;
    std::fs::create_dir_all(&staging)
        .with_context(|| format!("cannot create {}", staging.display()))?;
    let mut result = unpack_and_check(archive, &staging);
    if let Ok((_, _, info)) = &result
        && media.local_dir() != Some(data_dir.join("media").as_path())
        && let Err(e) = upload_media(&staging.join("media"), media, &info.media_keys).await
    {
        result = Err(e);
    }
    let (files, bytes, info) = match result {
        Ok(r) => r,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    let replaced = if occupied {
        let aside = with_suffix(
            data_dir,
            &format!(".replaced-{}", masthead_store::now_ms() / 1000),
        );
        std::fs::rename(data_dir, &aside).with_context(|| {
            format!(
                "cannot move {} aside to {}",
                data_dir.display(),
                aside.display()
            )
        })?;
        Some(aside)
    } else {
        None
    };
    // Replaces a missing or empty directory in one step.
    std::fs::rename(&staging, data_dir).with_context(|| {
        format!(
            "cannot rename {} to {} (the restored site is complete in the former)",
            staging.display(),
            data_dir.display()
        )
    })?;
    sync_parent(data_dir);
    Ok(RestoreReport {
        files,
        bytes,
        posts: info.posts,
        members: info.members,
        media_items: info.media_keys.len(),
        schema_version: info.schema_version,
        replaced,
    })
}

fn unpack_and_check(
    archive: &Path,
    staging: &Path,
) -> Result<(usize, u64, masthead_store::SnapshotInfo)> {
    let mut file =
        File::open(archive).with_context(|| format!("cannot open {}", archive.display()))?;
    let total = file.metadata()?.len();
    let mut magic = [0u8; 2];
    let gzip = file.read(&mut magic)? == 2 && magic == [0x1f, 0x8b];
    let file = File::open(archive)?;
    let source: Box<dyn Read> = if gzip {
        Box::new(flate2::read::GzDecoder::new(BufReader::new(file)))
    } else {
        Box::new(BufReader::new(file))
    };
    let mut tar = tar::Archive::new(source);
    tar.set_preserve_permissions(false);
    let mut manifest_seen = false;
    let mut files = 0usize;
    let mut bytes = 0u64;
    // Synced at the end, so the new names are durable too.
    let mut dirs = std::collections::BTreeSet::from([staging.to_owned()]);
    let mut progress = Progress::new("Restored", 0, total);
    for entry in tar
        .entries()
        .with_context(|| format!("{} is not a tar archive", archive.display()))?
    {
        let mut entry = entry.with_context(|| format!("reading {}", archive.display()))?;
        let name = entry.path()?.into_owned();
        if !manifest_seen {
            if name != Path::new(MANIFEST) {
                bail!(
                    "{} is not a Masthead backup (it does not start with {MANIFEST})",
                    archive.display()
                );
            }
            let mut text = String::new();
            entry
                .by_ref()
                .take(64 * 1024)
                .read_to_string(&mut text)
                .context("reading the manifest")?;
            if text.lines().next() != Some(MANIFEST_HEAD) {
                bail!(
                    "{} is a backup format this build of Masthead does not read",
                    archive.display()
                );
            }
            manifest_seen = true;
            continue;
        }
        let kind = entry.header().entry_type();
        if !allowed(&name) || !(kind.is_file() || kind.is_dir()) {
            bail!(
                "{} holds an unexpected entry {:?}; refusing it",
                archive.display(),
                name.display()
            );
        }
        if !entry.unpack_in(staging)? {
            bail!(
                "{} holds an entry outside the data directory",
                archive.display()
            );
        }
        let path = staging.join(&name);
        if kind.is_dir() {
            dirs.insert(path);
            continue;
        }
        if let Some(parent) = path.parent() {
            dirs.insert(parent.to_owned());
        }
        File::open(&path)
            .and_then(|f| f.sync_all())
            .with_context(|| format!("syncing {}", path.display()))?;
        let len = entry.header().size().unwrap_or(0);
        bytes += len;
        progress.add(len);
        if name != Path::new(DB_NAME) {
            files += 1;
        }
    }
    if !manifest_seen {
        bail!(
            "{} is not a Masthead backup (it holds no manifest)",
            archive.display()
        );
    }
    let db = staging.join(DB_NAME);
    if !db.is_file() {
        bail!(
            "{} holds no database; it is not a complete backup",
            archive.display()
        );
    }
    let info = masthead_store::check_snapshot(&db).context("checking the restored database")?;
    let missing: Vec<&String> = info
        .media_keys
        .iter()
        .filter(|key| {
            !staging
                .join("media")
                .join(key.as_str())
                .join("info")
                .is_file()
        })
        .collect();
    if let Some(first) = missing.first() {
        bail!(
            "{} lacks the files of {} media item(s) (the first is {first}); it is not a complete backup",
            archive.display(),
            missing.len()
        );
    }
    for dir in &dirs {
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok((files, bytes, info))
}

/// Entries a backup may hold: the database and the two folders' contents.
fn allowed(name: &Path) -> bool {
    let mut parts = name.components();
    let top = match parts.next() {
        Some(Component::Normal(top)) => top,
        _ => return false,
    };
    if top == DB_NAME {
        return parts.next().is_none();
    }
    TREES.iter().any(|t| top == *t) && parts.all(|c| matches!(c, Component::Normal(_)))
}

struct Listed {
    /// Path inside the archive.
    name: PathBuf,
    len: u64,
    from: Source,
}

/// Where a listed file's bytes are.
enum Source {
    Disk(PathBuf),
    /// A path in a media store that is not a local directory.
    Store(String),
}

/// Puts the restored media folders into `media` (a bucket, or a directory
/// other than the data directory's), each folder's `info` last, then removes
/// the unpacked copy. Folders `media` already holds completely are skipped.
async fn upload_media(unpacked: &Path, media: &MediaStore, keys: &[String]) -> Result<()> {
    eprintln!("Putting the media into {}...", media.describe());
    media
        .check()
        .await
        .with_context(|| format!("the media store {} is not usable", media.describe()))?;
    let mut folders: Vec<String> = match std::fs::read_dir(unpacked) {
        Ok(entries) => entries
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| e.file_name().to_str().map(str::to_owned))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e).with_context(|| format!("cannot list {}", unpacked.display())),
    };
    folders.sort();
    let mut progress = Progress::new("Uploaded", folders.len(), 0);
    for key in &folders {
        let marker = format!("{key}/info");
        if media
            .head(&marker)
            .await
            .with_context(|| format!("looking up {marker}"))?
            .is_some()
        {
            progress.add(0);
            continue;
        }
        let dir = unpacked.join(key);
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .with_context(|| format!("cannot list {}", dir.display()))?
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str().map(str::to_owned))
            .filter(|n| n != "info")
            .collect();
        names.sort();
        if !dir.join("info").is_file() {
            // An unfinished folder from the source: no row points at it.
            continue;
        }
        names.push("info".to_owned());
        let mut files = Vec::with_capacity(names.len());
        let mut size = 0;
        for name in names {
            let bytes = std::fs::read(dir.join(&name))
                .with_context(|| format!("reading {}", dir.join(&name).display()))?;
            size += bytes.len() as u64;
            files.push(MediaFile {
                content_type: content_type(&name),
                bytes: bytes.into(),
                name,
            });
        }
        media
            .put_folder(key, files)
            .await
            .with_context(|| format!("writing media folder {key} to {}", media.describe()))?;
        progress.add(size);
    }
    for key in keys {
        if media.head(&format!("{key}/info")).await?.is_none() {
            bail!(
                "media item {key} is not complete in {} after the restore",
                media.describe()
            );
        }
    }
    std::fs::remove_dir_all(unpacked)
        .with_context(|| format!("cannot remove {}", unpacked.display()))?;
    Ok(())
}

/// The media type stored with a restored media file.
fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("webp") => "image/webp",
        Some("jpg") => "image/jpeg",
        Some("png") => "image/png",
        Some("gif") => "image/gif",
        _ if name == "info" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Regular files under `dir`, sorted; upload folders still being written
/// (`.tmp-…`) are left out.
fn list_files(dir: &Path, name: &Path, out: &mut Vec<Listed>) -> Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("cannot list {}", dir.display())),
    };
    let mut entries = entries.collect::<std::io::Result<Vec<_>>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let file_name = e.file_name();
        if file_name.to_string_lossy().starts_with(".tmp-") {
            continue;
        }
        let kind = e.file_type()?;
        let child = name.join(&file_name);
        if kind.is_dir() {
            list_files(&e.path(), &child, out)?;
        } else if kind.is_file() {
            out.push(Listed {
                name: child,
                len: e.metadata()?.len(),
                from: Source::Disk(e.path()),
            });
        }
    }
    Ok(())
}

/// Where the archive goes: plain, or through gzip (whose trailer only
/// `finish` writes, so it is not hidden behind `dyn Write`).
enum Sink {
    Plain(BufWriter<File>),
    Gzip(flate2::write::GzEncoder<BufWriter<File>>),
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Sink::Plain(w) => w.write(buf),
            Sink::Gzip(w) => w.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::Plain(w) => w.flush(),
            Sink::Gzip(w) => w.flush(),
        }
    }
}

impl Sink {
    fn finish(self) -> std::io::Result<File> {
        let buffered = match self {
            Sink::Plain(w) => w,
            Sink::Gzip(w) => w.finish()?,
        };
        buffered.into_inner().map_err(|e| e.into_error())
    }
}

fn append_bytes<W: Write>(tar: &mut tar::Builder<W>, name: &str, bytes: &[u8]) -> Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(bytes.len() as u64);
    header.set_mode(0o644);
    header.set_mtime((masthead_store::now_ms() / 1000).max(0) as u64);
    header.set_entry_type(tar::EntryType::Regular);
    tar.append_data(&mut header, name, bytes)?;
    Ok(())
}

/// Reports progress on standard error every few seconds.
struct Progress {
    verb: &'static str,
    files: usize,
    total_files: usize,
    bytes: u64,
    total_bytes: u64,
    last: Instant,
}

impl Progress {
    fn new(verb: &'static str, total_files: usize, total_bytes: u64) -> Progress {
        Progress {
            verb,
            files: 0,
            total_files,
            bytes: 0,
            total_bytes,
            last: Instant::now(),
        }
    }

    fn add(&mut self, bytes: u64) {
        self.files += 1;
        self.bytes += bytes;
        if self.last.elapsed() >= PROGRESS_EVERY {
            self.last = Instant::now();
            if self.total_files > 0 {
                eprintln!(
                    "  {} {} of {} files, {} of {}",
                    self.verb,
                    self.files,
                    self.total_files,
                    megabytes(self.bytes),
                    megabytes(self.total_bytes)
                );
            } else {
                eprintln!(
                    "  {} {} files, {} (archive: {})",
                    self.verb,
                    self.files,
                    megabytes(self.bytes),
                    megabytes(self.total_bytes)
                );
            }
        }
    }
}

pub fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1_000_000.0)
}

fn is_gzip_name(path: &Path) -> bool {
    let name = path.file_name().map(|n| n.to_string_lossy().to_lowercase());
    name.is_some_and(|n| n.ends_with(".gz") || n.ends_with(".tgz"))
}

/// `path` with `suffix` added to its last component (`site.tar` → `site.tar.partial`).
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    // Rebuilt from its components, so a trailing slash does not end up before the suffix.
    let mut name = path.components().collect::<PathBuf>().into_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

fn remove_if_present(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("cannot remove {}", path.display()))
        }
        _ => Ok(()),
    }
}

fn remove_dir_if_present(path: &Path) -> Result<()> {
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("cannot remove {}", path.display()))
        }
        _ => Ok(()),
    }
}

/// Makes a rename durable. Best effort: some filesystems refuse to sync a directory.
fn sync_parent(path: &Path) {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if let Ok(d) = File::open(parent) {
        let _ = d.sync_all();
    }
}
