//! The media library: upload (checked and re-encoded by `masthead-media`),
//! browse, and edit the words that go with an image.
//!
//! Files are written to the media store ([`crate::media_store`]: a directory
//! or an S3 bucket) as one folder, complete before the row that points at it
//! is, so the library never lists an image whose files are missing. Readers are served only the re-encoded widths
//! ([`crate::site::media`]); the original is kept for staff.

use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use masthead_domain::{Action, Whose, permits};
use masthead_media::{Limits, MediaError, Processed};
use masthead_store::{MediaDetails, MediaItem, NewMedia, StaffSession, now_ms};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{DeskForm, Staff, StaffView, message, page, unavailable};
use crate::media_store::{MediaFile, MediaStoreError};
use crate::state::AppState;

/// Items per library page.
const PAGE: u32 = 48;
/// Longest alt text, caption and credit accepted.
const MAX_WORDS: usize = 1_000;

/// The largest upload request: the file limit plus room for the form.
pub const UPLOAD_BODY_LIMIT: usize = 20 * 1024 * 1024 + 64 * 1024;

#[derive(Serialize)]
struct ItemView {
    id: i64,
    filename: String,
    format: String,
    width: u32,
    height: u32,
    size: String,
    thumb: String,
    src: String,
    srcset: String,
    webp_srcset: String,
    alt: String,
    caption: String,
    photographer: String,
    agency: String,
    uploader: Option<String>,
    when: String,
    markdown: String,
    widths: Vec<u32>,
}

fn size_label(bytes: i64) -> String {
    if bytes >= 1024 * 1024 {
        format!("{:.1} MB", bytes as f64 / (1024.0 * 1024.0))
    } else {
        format!("{} KB", (bytes + 1023) / 1024)
    }
}

fn view(state: &AppState, m: &MediaItem) -> ItemView {
    let alt = if m.alt.is_empty() {
        "describe the image"
    } else {
        m.alt.as_str()
    };
    ItemView {
        id: m.id,
        filename: m.filename.clone(),
        format: m.format.clone(),
        width: m.width,
        height: m.height,
        size: size_label(m.bytes),
        thumb: m.thumb(),
        src: m.src(),
        srcset: m.srcset(),
        webp_srcset: m.webp_srcset(),
        alt: m.alt.clone(),
        caption: m.caption.clone(),
        photographer: m.photographer.clone(),
        agency: m.agency.clone(),
        uploader: m.uploader_name.clone(),
        when: state.clock().time(m.created_ms).display,
        markdown: format!("![{}]({})", alt.replace(['[', ']'], ""), m.src()),
        widths: m.widths.clone(),
    }
}

fn whose(session: &StaffSession, m: &MediaItem) -> Whose {
    if m.uploaded_by == Some(session.user.id) {
        Whose::Own
    } else {
        Whose::Others
    }
}

#[derive(Deserialize)]
pub struct LibraryQuery {
    before: Option<String>,
}

pub async fn library(
    State(state): State<AppState>,
    Staff(session): Staff,
    Query(q): Query<LibraryQuery>,
) -> Response {
    library_page(&state, &session, q.before.as_deref(), StatusCode::OK, None).await
}

async fn library_page(
    state: &AppState,
    session: &StaffSession,
    before: Option<&str>,
    status: StatusCode,
    error: Option<&str>,
) -> Response {
    let before = match before.filter(|b| !b.is_empty()).map(str::parse::<i64>) {
        None => None,
        Some(Ok(b)) if b > 0 => Some(b),
        Some(_) => {
            return message(
                StatusCode::BAD_REQUEST,
                "Not a library page",
                "That link to older images is malformed. Start again from the library.",
                None,
            );
        }
    };
    let items = match state.store.media_page(before, PAGE + 1).await {
        Ok(i) => i,
        Err(e) => return unavailable(e),
    };
    let more = items.len() > PAGE as usize;
    let items: Vec<ItemView> = items
        .iter()
        .take(PAGE as usize)
        .map(|m| view(state, m))
        .collect();
    let older = more.then(|| items.last().map(|i| i.id)).flatten();
    page(
        status,
        "media.html",
        serde_json::json!({
            "title": "Media library",
            "staff": StaffView::from(&session.user),
            "csrf": session.csrf_token,
            "items": items,
            "older": older,
            "error": error,
            "can_upload": permits(session.user.role, Action::UploadMedia),
            "limit_mb": Limits::default().max_bytes / (1024 * 1024),
        }),
    )
}

pub async fn item(
    State(state): State<AppState>,
    Staff(session): Staff,
    Path(id): Path<i64>,
) -> Response {
    let m = match state.store.media_item(id).await {
        Ok(Some(m)) => m,
        Ok(None) => return not_found(),
        Err(e) => return unavailable(e),
    };
    item_page(&state, &session, &m, StatusCode::OK, None, None)
}

fn not_found() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "No such image",
        "That image is not in the media library.",
        None,
    )
}

fn item_page(
    state: &AppState,
    session: &StaffSession,
    m: &MediaItem,
    status: StatusCode,
    error: Option<&str>,
    notice: Option<&str>,
) -> Response {
    page(
        status,
        "media_item.html",
        serde_json::json!({
            "title": format!("Image: {}", m.filename),
            "staff": StaffView::from(&session.user),
            "csrf": session.csrf_token,
            "item": view(state, m),
            "can_edit": permits(session.user.role, Action::EditMediaDetails { whose: whose(session, m) }),
            "error": error,
            "notice": notice,
        }),
    )
}

#[derive(Deserialize)]
pub struct DetailsForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    alt: String,
    #[serde(default)]
    caption: String,
    #[serde(default)]
    photographer: String,
    #[serde(default)]
    agency: String,
}

pub async fn save_details(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    DeskForm { staff, form }: DeskForm<DetailsForm>,
) -> Response {
    let session = &staff.0;
    let m = match state.store.media_item(id).await {
        Ok(Some(m)) => m,
        Ok(None) => return not_found(),
        Err(e) => return unavailable(e),
    };
    if !permits(
        session.user.role,
        Action::EditMediaDetails {
            whose: whose(session, &m),
        },
    ) {
        return message(
            StatusCode::FORBIDDEN,
            "Not allowed",
            "Only editors can change the words of images others uploaded.",
            None,
        );
    }
    let words = [&form.alt, &form.caption, &form.photographer, &form.agency];
    if words.iter().any(|w| w.len() > MAX_WORDS) {
        return item_page(
            &state,
            session,
            &m,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("Alt text, caption and credits are at most 1,000 characters each."),
            None,
        );
    }
    let details = MediaDetails {
        alt: form.alt.trim().to_owned(),
        caption: form.caption.trim().to_owned(),
        photographer: form.photographer.trim().to_owned(),
        agency: form.agency.trim().to_owned(),
    };
    match state
        .store
        .update_media_details(id, details, now_ms())
        .await
    {
        Ok(()) => match state.store.media_item(id).await {
            Ok(Some(m)) => item_page(&state, session, &m, StatusCode::OK, None, Some("Saved.")),
            Ok(None) => not_found(),
            Err(e) => unavailable(e),
        },
        Err(e) => unavailable(e),
    }
}

/// The file as it was uploaded, for staff only, as a download (never shown
/// inline: it has not been re-encoded).
pub async fn original(
    State(state): State<AppState>,
    Staff(_session): Staff,
    Path(id): Path<i64>,
) -> Response {
    let m = match state.store.media_item(id).await {
        Ok(Some(m)) => m,
        Ok(None) => return not_found(),
        Err(e) => return unavailable(e),
    };
    let Some(format) = masthead_media::Format::parse(&m.format) else {
        return not_found();
    };
    let path = format!("{}/original.{}", m.key, format.extension());
    match state.config.media.get(&path).await {
        Ok(bytes) => {
            let name: String = m
                .filename
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
                .collect();
            let disposition = format!(
                "attachment; filename=\"{}\"",
                if name.is_empty() { "original" } else { &name }
            );
            let mut res = (StatusCode::OK, bytes).into_response();
            let h = res.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            if let Ok(v) = HeaderValue::from_str(&disposition) {
                h.insert(header::CONTENT_DISPOSITION, v);
            }
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            res
        }
        Err(MediaStoreError::NotFound) => {
            tracing::error!(%path, store = %state.config.media.describe(), "original missing");
            message(
                StatusCode::NOT_FOUND,
                "The original is missing",
                "The file uploaded for this image is no longer in the media store. The sizes readers see still work.",
                None,
            )
        }
        Err(e) => {
            tracing::error!(error = %e, %path, "original unreadable");
            message(
                StatusCode::SERVICE_UNAVAILABLE,
                "Temporarily unavailable",
                "The media store could not be reached. Please try again in a minute.",
                None,
            )
        }
    }
}

/// What an upload produced, for the editor's script.
#[derive(Serialize)]
struct Uploaded {
    id: i64,
    created: bool,
    filename: String,
    thumb: String,
    src: String,
    width: u32,
    height: u32,
    alt: String,
    caption: String,
    photographer: String,
    agency: String,
}

fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// Refusal in the caller's format: JSON for the editor's script, the library
/// page with the message otherwise.
async fn refuse(
    state: &AppState,
    session: &StaffSession,
    json: bool,
    status: StatusCode,
    text: &str,
) -> Response {
    if json {
        let mut res = (status, axum::Json(serde_json::json!({ "error": text }))).into_response();
        res.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        return res;
    }
    library_page(state, session, None, status, Some(text)).await
}

/// A file name fit to show: no folders, no control characters, not too long.
fn display_name(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = base.chars().filter(|c| !c.is_control()).take(200).collect();
    let clean = clean.trim();
    if clean.is_empty() {
        "upload".to_owned()
    } else {
        clean.to_owned()
    }
}

pub async fn upload(
    State(state): State<AppState>,
    staff: Staff,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    let session = &staff.0;
    let json = wants_json(&headers);
    if !permits(session.user.role, Action::UploadMedia) {
        return refuse(
            &state,
            session,
            json,
            StatusCode::FORBIDDEN,
            "Your role does not allow uploads.",
        )
        .await;
    }
    let mut multipart = match multipart {
        Ok(m) => m,
        Err(_) => {
            return refuse(
                &state,
                session,
                json,
                StatusCode::BAD_REQUEST,
                "The upload could not be read: send the form as multipart/form-data with a file field.",
            )
            .await;
        }
    };
    let mut csrf = String::new();
    let mut file: Option<(String, bytes::Bytes)> = None;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                let status = e.status();
                let text = if status == StatusCode::PAYLOAD_TOO_LARGE {
                    format!(
                        "The file is over the {} MB limit. Export it smaller (2,400 pixels wide is plenty for the site) and upload again.",
                        Limits::default().max_bytes / (1024 * 1024)
                    )
                } else {
                    "The upload was cut off or malformed. Try again.".to_owned()
                };
                return refuse(&state, session, json, status, &text).await;
            }
        };
        match field.name() {
            Some("csrf") => csrf = field.text().await.unwrap_or_default(),
            Some("file") => {
                let name = display_name(field.file_name().unwrap_or(""));
                match field.bytes().await {
                    Ok(b) => file = Some((name, b)),
                    Err(e) => {
                        let status = e.status();
                        return refuse(
                            &state,
                            session,
                            json,
                            status,
                            "The upload was cut off or is over the size limit. Try again with a smaller file.",
                        )
                        .await;
                    }
                }
            }
            _ => {}
        }
    }
    if let Err(r) = staff.check_csrf(&csrf) {
        if json {
            return refuse(
                &state,
                session,
                true,
                StatusCode::FORBIDDEN,
                "This form has expired. Reload the page and try again.",
            )
            .await;
        }
        return *r;
    }
    let Some((filename, bytes)) = file.filter(|(_, b)| !b.is_empty()) else {
        return refuse(
            &state,
            session,
            json,
            StatusCode::UNPROCESSABLE_ENTITY,
            &MediaError::Empty.to_string(),
        )
        .await;
    };
    match store_upload(&state, Some(session.user.id), filename, bytes).await {
        Ok((item, created)) => {
            if json {
                let mut res = (
                    if created {
                        StatusCode::CREATED
                    } else {
                        StatusCode::OK
                    },
                    axum::Json(Uploaded {
                        id: item.id,
                        created,
                        filename: item.filename.clone(),
                        thumb: item.thumb(),
                        src: item.src(),
                        width: item.widest(),
                        height: item.widest_height(),
                        alt: item.alt.clone(),
                        caption: item.caption.clone(),
                        photographer: item.photographer.clone(),
                        agency: item.agency.clone(),
                    }),
                )
                    .into_response();
                res.headers_mut()
                    .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                return res;
            }
            Redirect::to(&format!(
                "/admin/media/{}?{}",
                item.id,
                if created { "uploaded" } else { "existing" }
            ))
            .into_response()
        }
        Err(UploadError::Refused(e)) => {
            let status = match e {
                MediaError::TooLarge { .. } | MediaError::TooManyPixels { .. } => {
                    StatusCode::PAYLOAD_TOO_LARGE
                }
                MediaError::NotAnImage => StatusCode::UNSUPPORTED_MEDIA_TYPE,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            refuse(&state, session, json, status, &e.to_string()).await
        }
        Err(UploadError::Failed(text)) => {
            tracing::error!(error = %text, "upload failed");
            refuse(
                &state,
                session,
                json,
                StatusCode::SERVICE_UNAVAILABLE,
                "The image could not be saved (the server logged why). Try again in a minute.",
            )
            .await
        }
    }
}

pub(crate) enum UploadError {
    Refused(MediaError),
    Failed(String),
}

/// Checks, converts, writes the files, then records the item.
pub(crate) async fn store_upload(
    state: &AppState,
    staff_id: Option<i64>,
    filename: String,
    bytes: bytes::Bytes,
) -> Result<(MediaItem, bool), UploadError> {
    let key = {
        let digest = Sha256::digest(&bytes);
        digest[..10]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let _slot = state
        .media_slots
        .acquire()
        .await
        .map_err(|e| UploadError::Failed(e.to_string()))?;
    let limits = Limits::default();
    let (processed, bytes) = tokio::task::spawn_blocking(move || {
        let p = masthead_media::process(&bytes, &limits);
        (p, bytes)
    })
    .await
    .map_err(|e| UploadError::Failed(e.to_string()))?;
    let processed = processed.map_err(UploadError::Refused)?;
    let size = bytes.len();
    let media = &state.config.media;
    let marker = format!("{key}/info");
    let present = media
        .head(&marker)
        .await
        .map_err(|e| UploadError::Failed(e.to_string()))?
        .is_some();
    if !present {
        media
            .put_folder(&key, folder_files(processed.format, bytes, processed))
            .await
            .map_err(|e| UploadError::Failed(e.to_string()))?;
    }
    // Read back what was written (or was already there) for the row.
    let info = media
        .get(&marker)
        .await
        .map_err(|e| UploadError::Failed(format!("reading {marker}: {e}")))?;
    let Some(meta) = parse_info(&String::from_utf8_lossy(&info)) else {
        return Err(UploadError::Failed(format!(
            "{marker} in {} names no generated widths",
            media.describe()
        )));
    };
    let new = NewMedia {
        key,
        filename,
        format: meta.format.as_str().to_owned(),
        width: meta.width,
        height: meta.height,
        bytes: size as i64,
        widths: meta.widths,
        fallback: meta.format.fallback().extension().to_owned(),
        uploaded_by: staff_id,
        now: now_ms(),
    };
    let (id, created) = state
        .store
        .insert_media(new)
        .await
        .map_err(|e| UploadError::Failed(e.to_string()))?;
    match state.store.media_item(id).await {
        Ok(Some(item)) => Ok((item, created)),
        Ok(None) => Err(UploadError::Failed("the new item vanished".into())),
        Err(e) => Err(UploadError::Failed(e.to_string())),
    }
}

/// What a finished media folder holds, from its `info` file.
struct FolderInfo {
    format: masthead_media::Format,
    width: u32,
    height: u32,
    widths: Vec<u32>,
}

fn parse_info(text: &str) -> Option<FolderInfo> {
    let mut parts = text.trim().split(' ');
    let format = masthead_media::Format::parse(parts.next()?)?;
    let width = parts.next()?.parse().ok()?;
    let height = parts.next()?.parse().ok()?;
    let widths = parts
        .next()?
        .split(',')
        .map(str::parse)
        .collect::<Result<Vec<u32>, _>>()
        .ok()?;
    (!widths.is_empty()).then_some(FolderInfo {
        format,
        width,
        height,
        widths,
    })
}

/// A media folder: the original, every width, and last the `info` file
/// that marks it complete (see [`crate::media_store`]).
fn folder_files(
    format: masthead_media::Format,
    original: bytes::Bytes,
    p: Processed,
) -> Vec<MediaFile> {
    let widths = p
        .widths
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let info = format!("{} {} {} {widths}\n", format.as_str(), p.width, p.height);
    let mut files = vec![MediaFile {
        name: format!("original.{}", format.extension()),
        bytes: original,
        content_type: format.mime(),
    }];
    files.extend(p.variants.into_iter().map(|v| MediaFile {
        name: v.file_name(),
        content_type: v.format.mime(),
        bytes: bytes::Bytes::from(v.bytes),
    }));
    files.push(MediaFile {
        name: "info".to_owned(),
        bytes: bytes::Bytes::from(info),
        content_type: "text/plain; charset=utf-8",
    });
    files
}

crate::admin::has_csrf!(DetailsForm);
