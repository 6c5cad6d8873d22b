//! The media library: uploaded images and their responsive renditions.

use serde::Serialize;

/// An item of the media library.
#[derive(Debug, Clone, Serialize)]
pub struct MediaItem {
    pub id: i64,
    pub key: String,
    pub filename: String,
    /// `jpeg`, `png`, `gif` or `webp`: what the upload really was.
    pub format: String,
    pub width: u32,
    pub height: u32,
    pub bytes: i64,
    /// Generated widths, narrowest first.
    pub widths: Vec<u32>,
    /// Extension of the non-WebP widths.
    pub fallback: String,
    pub alt: String,
    pub caption: String,
    pub photographer: String,
    pub agency: String,
    pub uploaded_by: Option<i64>,
    pub uploader_name: Option<String>,
    pub created_ms: i64,
}

impl MediaItem {
    /// Public address of one generated file.
    pub fn url(&self, width: u32, ext: &str) -> String {
        format!("/media/{}/{width}.{ext}", self.key)
    }

    /// The widest file served, in the fallback format: the plain `src`.
    pub fn src(&self) -> String {
        self.url(self.widest(), &self.fallback)
    }

    /// A small one, for the desk's thumbnails.
    pub fn thumb(&self) -> String {
        self.url(self.widths.first().copied().unwrap_or(0), "webp")
    }

    pub fn widest(&self) -> u32 {
        self.widths.last().copied().unwrap_or(self.width)
    }

    /// Height of the widest file served.
    pub fn widest_height(&self) -> u32 {
        let w = u64::from(self.width.max(1));
        let v = (u64::from(self.height) * u64::from(self.widest()) + w / 2) / w;
        u32::try_from(v.max(1)).unwrap_or(u32::MAX)
    }

    fn srcset_of(&self, ext: &str) -> String {
        self.widths
            .iter()
            .map(|&w| format!("{} {w}w", self.url(w, ext)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// `srcset` in the fallback format.
    pub fn srcset(&self) -> String {
        self.srcset_of(&self.fallback)
    }

    /// `srcset` in WebP.
    pub fn webp_srcset(&self) -> String {
        self.srcset_of("webp")
    }
}

/// An upload that passed the pipeline, to record.
#[derive(Debug, Clone)]
pub struct NewMedia {
    pub key: String,
    pub filename: String,
    pub format: String,
    pub width: u32,
    pub height: u32,
    pub bytes: i64,
    pub widths: Vec<u32>,
    pub fallback: String,
    pub uploaded_by: Option<i64>,
    pub now: i64,
}

/// The words that go with an image.
#[derive(Debug, Clone, Default)]
pub struct MediaDetails {
    pub alt: String,
    pub caption: String,
    pub photographer: String,
    pub agency: String,
}
