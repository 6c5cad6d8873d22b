//! Where the media library's files live: a local directory (the default) or
//! an S3-compatible bucket (`--media-url s3://bucket?endpoint=…`).
//!
//! Both hold the same tree of objects, named `<key>/<file>` (the key is part
//! of the upload's SHA-256, the file `original.<ext>`, `<width>.<ext>` or
//! `info`). A folder is complete when its `info` object exists: the local
//! directory renames a finished temporary folder into place, the bucket
//! writes `info` last. Objects are never changed once written (a name always
//! means the same bytes), which is what lets readers cache them for a year and
//! lets a backup list them after copying the database.
//!
//! Readers always fetch `/media/…` from Masthead, whichever store holds the
//! bytes, so pages are identical and the bucket can stay private.

mod local;
mod s3;

use std::fmt;
use std::path::PathBuf;

use bytes::Bytes;

pub use local::LocalDir;
pub use s3::{S3Bucket, S3Credentials};

/// The media library's storage, chosen once at start-up.
#[derive(Debug, Clone)]
pub enum MediaStore {
    Local(LocalDir),
    S3(S3Bucket),
}

/// One file of a folder being written.
pub struct MediaFile {
    /// The file's name inside its folder (`640.webp`, `info`).
    pub name: String,
    pub bytes: Bytes,
    pub content_type: &'static str,
}

/// An object found by [`MediaStore::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    /// `<key>/<file>`, relative to the store's root.
    pub path: String,
    pub len: u64,
}

/// Why a media operation failed.
#[derive(Debug)]
pub enum MediaStoreError {
    /// No such object.
    NotFound,
    /// The store could not be reached or answered with a server error: worth
    /// retrying later.
    Unavailable(String),
    /// Anything else (refused credentials, a full disk, a bad name).
    Failed(String),
}

impl fmt::Display for MediaStoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MediaStoreError::NotFound => f.write_str("no such media object"),
            MediaStoreError::Unavailable(m) => write!(f, "media store unavailable: {m}"),
            MediaStoreError::Failed(m) => write!(f, "media store error: {m}"),
        }
    }
}

impl std::error::Error for MediaStoreError {}

pub type MediaResult<T> = Result<T, MediaStoreError>;

/// A `--media-url` that cannot be used, with what to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaUrlError(pub String);

impl fmt::Display for MediaUrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for MediaUrlError {}

/// What a `--media-url` names, before credentials are added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaLocation {
    Dir(PathBuf),
    S3 {
        bucket: String,
        /// Objects go under `prefix/` when set (no leading or trailing slash).
        prefix: String,
        /// `http(s)://host[:port]`, without a path.
        endpoint: String,
        region: Option<String>,
    },
}

/// Reads `--media-url`: `file:///path`, or
/// `s3://bucket[/prefix]?endpoint=http://host:port&region=…` (both query
/// keys optional; without an endpoint, AWS's own for the region).
pub fn parse_media_url(raw: &str) -> Result<MediaLocation, MediaUrlError> {
    const FORMS: &str =
        "use file:///absolute/path or s3://bucket?endpoint=https://host&region=name";
    if let Some(path) = raw.strip_prefix("file://") {
        if path.is_empty() || !path.starts_with('/') {
            return Err(MediaUrlError(format!(
                "--media-url {raw:?} needs an absolute path after file:// (file:///srv/media)"
            )));
        }
        return Ok(MediaLocation::Dir(PathBuf::from(path)));
    }
    let Some(rest) = raw.strip_prefix("s3://") else {
        return Err(MediaUrlError(format!(
            "--media-url {raw:?} is neither a file:// nor an s3:// address; {FORMS}"
        )));
    };
    let (place, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (bucket, prefix) = place.split_once('/').unwrap_or((place, ""));
    if !valid_bucket(bucket) {
        return Err(MediaUrlError(format!(
            "--media-url: {bucket:?} is not a bucket name (3 to 63 lower-case letters, digits, \
             dots and hyphens, starting and ending with a letter or digit); {FORMS}"
        )));
    }
    let prefix = prefix.trim_matches('/');
    if !prefix.split('/').all(|p| {
        prefix.is_empty()
            || (!p.is_empty()
                && p != "."
                && p != ".."
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')))
    }) {
        return Err(MediaUrlError(format!(
            "--media-url: the prefix {prefix:?} may hold only letters, digits, '-', '_', '.' and '/'"
        )));
    }
    let mut endpoint = None;
    let mut region = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_decode(value).ok_or_else(|| {
            MediaUrlError(format!(
                "--media-url: the value of {name:?} is badly escaped"
            ))
        })?;
        match name {
            "endpoint" if endpoint.is_none() => endpoint = Some(parse_endpoint(&value)?),
            "region" if region.is_none() => {
                if value.is_empty()
                    || value.len() > 32
                    || !value
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                {
                    return Err(MediaUrlError(format!(
                        "--media-url: region {value:?} is not a region name (like us-east-1)"
                    )));
                }
                region = Some(value);
            }
            "endpoint" | "region" => {
                return Err(MediaUrlError(format!(
                    "--media-url gives {name:?} twice; give it once"
                )));
            }
            other => {
                return Err(MediaUrlError(format!(
                    "--media-url: unknown setting {other:?} (known: endpoint, region)"
                )));
            }
        }
    }
    Ok(MediaLocation::S3 {
        bucket: bucket.to_owned(),
        prefix: prefix.to_owned(),
        endpoint: endpoint.unwrap_or_default(),
        region,
    })
}

/// `http(s)://host[:port]` with nothing after the authority but a bare `/`.
fn parse_endpoint(raw: &str) -> Result<String, MediaUrlError> {
    let bad = || {
        MediaUrlError(format!(
            "--media-url: endpoint {raw:?} must be http://host[:port] or https://host[:port], \
             without a path (the bucket goes before the '?')"
        ))
    };
    let rest = raw
        .strip_prefix("http://")
        .or_else(|| raw.strip_prefix("https://"))
        .ok_or_else(bad)?;
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.is_empty()
        || !authority
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
    {
        return Err(bad());
    }
    let url = reqwest::Url::parse(&format!("{}{authority}", &raw[..raw.len() - rest.len()]))
        .map_err(|_| bad())?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad());
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

fn valid_bucket(name: &str) -> bool {
    let b = name.as_bytes();
    (3..=63).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'.' | b'-'))
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && !name.contains("..")
}

/// `%XX` escapes decoded; `None` for a broken escape or non-UTF-8 result.
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// `<key>/<file>` with plain, non-empty parts: what the stores accept as a name.
pub(crate) fn valid_path(path: &str) -> bool {
    !path.is_empty()
        && path.split('/').all(|p| {
            !p.is_empty()
                && !p.starts_with('.')
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
        })
}

impl MediaStore {
    /// The store a `--media-url` names (`None`: the directory `default_dir`).
    /// S3 credentials come from `credentials` (see [`S3Credentials::from_env`]).
    pub fn open(
        url: Option<&str>,
        default_dir: PathBuf,
        credentials: impl FnOnce() -> Result<S3Credentials, MediaUrlError>,
    ) -> Result<MediaStore, MediaUrlError> {
        match url.map(parse_media_url).transpose()? {
            None => Ok(MediaStore::Local(LocalDir::new(default_dir))),
            Some(MediaLocation::Dir(dir)) => Ok(MediaStore::Local(LocalDir::new(dir))),
            Some(MediaLocation::S3 {
                bucket,
                prefix,
                endpoint,
                region,
            }) => {
                let credentials = credentials()?;
                let region = region
                    .or_else(|| credentials.region.clone())
                    .unwrap_or_else(|| "us-east-1".to_owned());
                let endpoint = if endpoint.is_empty() {
                    format!("https://s3.{region}.amazonaws.com")
                } else {
                    endpoint
                };
                Ok(MediaStore::S3(S3Bucket::new(
                    endpoint,
                    bucket,
                    prefix,
                    region,
                    credentials,
                )))
            }
        }
    }

    /// For the operator: where media go (never credentials).
    pub fn describe(&self) -> String {
        match self {
            MediaStore::Local(d) => format!("the directory {}", d.root().display()),
            MediaStore::S3(b) => b.describe(),
        }
    }

    /// The local directory, when media live on this machine's disk.
    pub fn local_dir(&self) -> Option<&std::path::Path> {
        match self {
            MediaStore::Local(d) => Some(d.root()),
            MediaStore::S3(_) => None,
        }
    }

    /// Makes sure the store can be used: creates the directory, or asks the
    /// bucket (HEAD) whether it exists and these credentials may use it.
    pub async fn check(&self) -> MediaResult<()> {
        match self {
            MediaStore::Local(d) => d.check().await,
            MediaStore::S3(b) => b.check().await,
        }
    }

    /// Writes a whole folder; the last file is its completion marker. Either
    /// every file is there afterwards or the marker is not.
    pub async fn put_folder(&self, key: &str, files: Vec<MediaFile>) -> MediaResult<()> {
        if !valid_path(key) || files.iter().any(|f| !valid_path(&f.name)) {
            return Err(MediaStoreError::Failed(format!("bad media folder {key:?}")));
        }
        match self {
            MediaStore::Local(d) => d.put_folder(key, files).await,
            MediaStore::S3(b) => b.put_folder(key, files).await,
        }
    }

    /// One object's bytes.
    pub async fn get(&self, path: &str) -> MediaResult<Bytes> {
        if !valid_path(path) {
            return Err(MediaStoreError::NotFound);
        }
        match self {
            MediaStore::Local(d) => d.get(path).await,
            MediaStore::S3(b) => b.get(path).await,
        }
    }

    /// One object's size, or `None` when it does not exist.
    pub async fn head(&self, path: &str) -> MediaResult<Option<u64>> {
        if !valid_path(path) {
            return Ok(None);
        }
        match self {
            MediaStore::Local(d) => d.head(path).await,
            MediaStore::S3(b) => b.head(path).await,
        }
    }

    /// Every complete object, sorted by path (folders still being written
    /// locally are left out).
    pub async fn list(&self) -> MediaResult<Vec<StoredObject>> {
        let mut all = match self {
            MediaStore::Local(d) => d.list().await?,
            MediaStore::S3(b) => b.list().await?,
        };
        all.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(all)
    }
}

#[cfg(test)]
mod tests;
