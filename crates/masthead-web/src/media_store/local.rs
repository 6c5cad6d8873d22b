//! The media library in a local directory (`<data-dir>/media` by default).

use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::{MediaFile, MediaResult, MediaStoreError, StoredObject};

#[derive(Debug, Clone)]
pub struct LocalDir {
    root: PathBuf,
}

fn io_error(e: std::io::Error) -> MediaStoreError {
    if e.kind() == std::io::ErrorKind::NotFound {
        MediaStoreError::NotFound
    } else {
        MediaStoreError::Failed(e.to_string())
    }
}

fn joined(e: tokio::task::JoinError) -> MediaStoreError {
    MediaStoreError::Failed(e.to_string())
}

impl LocalDir {
    pub fn new(root: PathBuf) -> LocalDir {
        LocalDir { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub(super) async fn check(&self) -> MediaResult<()> {
        tokio::fs::create_dir_all(&self.root).await.map_err(|e| {
            MediaStoreError::Failed(format!("cannot create {}: {e}", self.root.display()))
        })
    }

    pub(super) async fn put_folder(&self, key: &str, files: Vec<MediaFile>) -> MediaResult<()> {
        let root = self.root.clone();
        let key = key.to_owned();
        tokio::task::spawn_blocking(move || write_folder(&root, &key, &files))
            .await
            .map_err(joined)?
            .map_err(|e| MediaStoreError::Failed(e.to_string()))
    }

    pub(super) async fn get(&self, path: &str) -> MediaResult<Bytes> {
        tokio::fs::read(self.root.join(path))
            .await
            .map(Bytes::from)
            .map_err(io_error)
    }

    pub(super) async fn head(&self, path: &str) -> MediaResult<Option<u64>> {
        match tokio::fs::metadata(self.root.join(path)).await {
            Ok(m) if m.is_file() => Ok(Some(m.len())),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(MediaStoreError::Failed(e.to_string())),
        }
    }

    pub(super) async fn list(&self) -> MediaResult<Vec<StoredObject>> {
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            list_files(&root, "", &mut out).map(|()| out)
        })
        .await
        .map_err(joined)?
        .map_err(|e| MediaStoreError::Failed(e.to_string()))
    }
}

/// Writes every file into a temporary folder, syncs them, then renames the
/// folder into place: a crash leaves either nothing or a complete folder.
fn write_folder(root: &Path, key: &str, files: &[MediaFile]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp: PathBuf = root.join(format!(".tmp-{key}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp)?;
    for file in files {
        let mut f = std::fs::File::create(tmp.join(&file.name))?;
        f.write_all(&file.bytes)?;
        f.sync_all()?;
    }
    let dest = root.join(key);
    let marker = files.last().map(|f| f.name.as_str()).unwrap_or("info");
    match std::fs::rename(&tmp, &dest) {
        Ok(()) => {}
        // Another upload of the same file finished first: theirs is as good.
        Err(_) if dest.join(marker).exists() => {
            let _ = std::fs::remove_dir_all(&tmp);
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
    }
    if let Ok(d) = std::fs::File::open(root) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Regular files under `dir`; temporary folders (`.tmp-…`) are left out.
fn list_files(dir: &Path, prefix: &str, out: &mut Vec<StoredObject>) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for e in entries {
        let e = e?;
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with('.') {
            continue;
        }
        let path = if prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{prefix}/{name}")
        };
        let kind = e.file_type()?;
        if kind.is_dir() {
            list_files(&e.path(), &path, out)?;
        } else if kind.is_file() {
            out.push(StoredObject {
                path,
                len: e.metadata()?.len(),
            });
        }
    }
    Ok(())
}
