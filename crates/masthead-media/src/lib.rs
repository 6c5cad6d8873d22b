//! The media pipeline: an upload is recognised by its content (never its
//! name), checked against size and pixel limits *before* it is decoded, decoded
//! under an allocation limit, turned upright (EXIF orientation), and re-encoded
//! at responsive widths in WebP and in the original format.
//!
//! Readers are only ever served the re-encoded files. They hold pixels and
//! nothing else: no EXIF (so no GPS position from a photographer's phone), no
//! comments, and none of the trailing bytes a polyglot file hides after its
//! image data. The original is kept for staff.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::{CompressionType, FilterType as PngFilter, PngEncoder};
use image::imageops::FilterType;
use image::{DynamicImage, ImageDecoder, ImageEncoder, ImageFormat, ImageReader};

/// The widths generated for `srcset`, narrowest first. Widths at or above the
/// original's are skipped; the original width (capped at [`MAX_SERVED_WIDTH`])
/// is always generated.
pub const WIDTHS: [u32; 4] = [320, 640, 1024, 1600];
/// The widest file served to readers.
pub const MAX_SERVED_WIDTH: u32 = 2400;
/// WebP quality (libwebp's 0–100 scale): visually clean for news photos.
const WEBP_QUALITY: f32 = 80.0;
/// JPEG quality for the original-format widths.
const JPEG_QUALITY: u8 = 82;

/// What an upload may be.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest file, in bytes.
    pub max_bytes: usize,
    /// Largest picture, in pixels (width × height): the guard against
    /// decompression bombs, checked from the header before decoding.
    pub max_pixels: u64,
    /// Longest side, in pixels.
    pub max_side: u32,
    /// Most memory the decoder may allocate.
    pub max_alloc: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 20 * 1024 * 1024,
            max_pixels: 50_000_000,
            max_side: 16_000,
            max_alloc: 512 * 1024 * 1024,
        }
    }
}

/// The formats Masthead accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Jpeg,
    Png,
    Gif,
    Webp,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Jpeg => "jpeg",
            Format::Png => "png",
            Format::Gif => "gif",
            Format::Webp => "webp",
        }
    }

    pub fn parse(s: &str) -> Option<Format> {
        Some(match s {
            "jpeg" => Format::Jpeg,
            "png" => Format::Png,
            "gif" => Format::Gif,
            "webp" => Format::Webp,
            _ => return None,
        })
    }

    /// The file extension of this format.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Jpeg => "jpg",
            Format::Png => "png",
            Format::Gif => "gif",
            Format::Webp => "webp",
        }
    }

    pub fn mime(self) -> &'static str {
        match self {
            Format::Jpeg => "image/jpeg",
            Format::Png => "image/png",
            Format::Gif => "image/gif",
            Format::Webp => "image/webp",
        }
    }

    /// The format the non-WebP widths are written in. GIF stills become PNG:
    /// lossless, smaller than a re-quantised GIF, and understood everywhere.
    pub fn fallback(self) -> Format {
        match self {
            Format::Gif => Format::Png,
            f => f,
        }
    }

    fn image_format(self) -> ImageFormat {
        match self {
            Format::Jpeg => ImageFormat::Jpeg,
            Format::Png => ImageFormat::Png,
            Format::Gif => ImageFormat::Gif,
            Format::Webp => ImageFormat::WebP,
        }
    }
}

/// Recognises an image by its first bytes (its "magic number").
pub fn sniff(bytes: &[u8]) -> Option<Format> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(Format::Jpeg)
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(Format::Png)
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some(Format::Gif)
    } else if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some(Format::Webp)
    } else {
        None
    }
}

/// Why an upload was refused. Each message says what to do.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MediaError {
    #[error("The file is empty. Choose an image file to upload.")]
    Empty,
    #[error(
        "The file is {} MB; the most an image may be is {} MB. Export it smaller (2,400 pixels wide is plenty for the site) and upload again.",
        mb(*.bytes), mb(*.limit)
    )]
    TooLarge { bytes: usize, limit: usize },
    #[error(
        "This file is not a JPEG, PNG, WebP or GIF image (Masthead checks the file's content, not its name). Save it in one of those formats and upload again."
    )]
    NotAnImage,
    #[error(
        "The image says it is {width} × {height} pixels, which is more than Masthead will open ({} megapixels at most, {max_side} pixels on a side). Files like this are often decompression bombs; if it is a real photo, resize it and upload again.",
        max_pixels / 1_000_000
    )]
    TooManyPixels {
        width: u32,
        height: u32,
        max_pixels: u64,
        max_side: u32,
    },
    #[error(
        "The {format} file is damaged or incomplete and could not be read ({detail}). Export it again from the original and upload the new file."
    )]
    Damaged {
        format: &'static str,
        detail: String,
    },
    #[error("The image could not be converted ({0}). Try saving it as a JPEG or PNG.")]
    Encode(String),
}

fn mb(bytes: usize) -> String {
    let tenths = (bytes as u64 * 10).div_ceil(1024 * 1024);
    if tenths.is_multiple_of(10) {
        format!("{}", tenths / 10)
    } else {
        format!("{}.{}", tenths / 10, tenths % 10)
    }
}

/// One generated file.
#[derive(Debug, Clone)]
pub struct Variant {
    pub width: u32,
    pub height: u32,
    pub format: Format,
    pub bytes: Vec<u8>,
}

impl Variant {
    /// Its file name in the item's folder: `{width}.{ext}`.
    pub fn file_name(&self) -> String {
        format!("{}.{}", self.width, self.format.extension())
    }
}

/// An accepted upload.
#[derive(Debug, Clone)]
pub struct Processed {
    pub format: Format,
    /// Upright size of the original.
    pub width: u32,
    pub height: u32,
    /// The widths generated, narrowest first (each in WebP and in the fallback format).
    pub widths: Vec<u32>,
    pub variants: Vec<Variant>,
}

/// Checks the upload without decoding its pixels: format and size.
pub fn inspect(bytes: &[u8], limits: &Limits) -> Result<(Format, u32, u32), MediaError> {
    if bytes.is_empty() {
        return Err(MediaError::Empty);
    }
    if bytes.len() > limits.max_bytes {
        return Err(MediaError::TooLarge {
            bytes: bytes.len(),
            limit: limits.max_bytes,
        });
    }
    let format = sniff(bytes).ok_or(MediaError::NotAnImage)?;
    if format == Format::Jpeg && !jpeg_is_complete(bytes) {
        // JPEG decoders paint a cut-off photo grey and carry on; a newsroom
        // would rather hear that the upload broke.
        return Err(damaged(
            format,
            "it stops before its end-of-image marker".to_owned(),
        ));
    }
    let decoder = decoder(bytes, format, limits)?;
    let (width, height) = decoder.dimensions();
    check_pixels(format, width, height, limits)?;
    Ok((format, width, height))
}

/// Whether a JPEG has its end-of-image marker after the start of its scan.
/// Inside entropy-coded data every 0xFF byte is followed by 0x00 or a restart
/// marker, so 0xFF 0xD9 there can only be the real end; an embedded EXIF
/// thumbnail's end comes before the main scan and does not count.
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let Some(scan) = bytes.windows(2).position(|w| w == [0xFF, 0xDA]) else {
        return false;
    };
    bytes[scan..].windows(2).any(|w| w == [0xFF, 0xD9])
}

fn check_pixels(
    format: Format,
    width: u32,
    height: u32,
    limits: &Limits,
) -> Result<(), MediaError> {
    let too_many = u64::from(width) * u64::from(height) > limits.max_pixels
        || width > limits.max_side
        || height > limits.max_side;
    if too_many {
        return Err(MediaError::TooManyPixels {
            width,
            height,
            max_pixels: limits.max_pixels,
            max_side: limits.max_side,
        });
    }
    if width == 0 || height == 0 {
        return Err(damaged(format, "it has no pixels".to_owned()));
    }
    Ok(())
}

fn damaged(format: Format, detail: String) -> MediaError {
    MediaError::Damaged {
        format: match format {
            Format::Jpeg => "JPEG",
            Format::Png => "PNG",
            Format::Gif => "GIF",
            Format::Webp => "WebP",
        },
        detail,
    }
}

fn decoder<'a>(
    bytes: &'a [u8],
    format: Format,
    limits: &Limits,
) -> Result<impl ImageDecoder + 'a, MediaError> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format.image_format());
    let mut l = image::Limits::default();
    // The side limit is applied by `check_pixels` with a clear message; the
    // decoder's own limits are a second wall, slightly wider.
    l.max_image_width = Some(limits.max_side.saturating_add(1));
    l.max_image_height = Some(limits.max_side.saturating_add(1));
    l.max_alloc = Some(limits.max_alloc);
    reader.limits(l);
    reader.into_decoder().map_err(|e| match e {
        image::ImageError::Limits(_) => MediaError::TooManyPixels {
            width: 0,
            height: 0,
            max_pixels: limits.max_pixels,
            max_side: limits.max_side,
        },
        e => damaged(format, short(&e)),
    })
}

fn short(e: &image::ImageError) -> String {
    let mut s = e.to_string();
    if s.len() > 160 {
        let mut cut = 160;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

/// Decodes, turns upright and re-encodes at every width.
pub fn process(bytes: &[u8], limits: &Limits) -> Result<Processed, MediaError> {
    let (format, width, height) = inspect(bytes, limits)?;
    let mut decoder = decoder(bytes, format, limits)?;
    // A missing or unreadable orientation tag means "as stored".
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    // The codecs are well-fuzzed but not flawless: a crafted JPEG made
    // zune-jpeg 0.5.15 index out of bounds in its IDCT (found by
    // fuzz/fuzz_targets/upload.rs). A panic while decoding bytes from outside
    // is a damaged file, not a failed request.
    let decoded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        DynamicImage::from_decoder(decoder)
    }))
    .map_err(|_| damaged(format, "its image data is malformed".to_owned()))?;
    let mut img = decoded.map_err(|e| match e {
        image::ImageError::Limits(_) => MediaError::TooManyPixels {
            width,
            height,
            max_pixels: limits.max_pixels,
            max_side: limits.max_side,
        },
        e => damaged(format, short(&e)),
    })?;
    img.apply_orientation(orientation);
    let (w, h) = (img.width(), img.height());
    let alpha = img.color().has_alpha();
    let img = if alpha {
        DynamicImage::ImageRgba8(img.into_rgba8())
    } else {
        DynamicImage::ImageRgb8(img.into_rgb8())
    };

    let widths = widths_for(w);
    let mut variants = Vec::with_capacity(widths.len() * 2);
    // Largest first, each smaller width resized from the one before it: less
    // work than resizing the original every time, and sharp enough.
    let mut source = img;
    for &target in widths.iter().rev() {
        let th = scaled_height(w, h, target);
        let resized = if target == source.width() {
            source
        } else {
            source.resize_exact(target, th, FilterType::CatmullRom)
        };
        variants.push(encode_webp(&resized)?);
        if format.fallback() != Format::Webp {
            variants.push(encode(&resized, format.fallback())?);
        }
        source = resized;
    }
    variants.reverse();
    variants.sort_by_key(|v| (v.width, v.format.extension()));
    Ok(Processed {
        format,
        width: w,
        height: h,
        widths,
        variants,
    })
}

/// The widths generated for an original `width` pixels wide.
pub fn widths_for(width: u32) -> Vec<u32> {
    let top = width.min(MAX_SERVED_WIDTH);
    let mut v: Vec<u32> = WIDTHS.iter().copied().filter(|&x| x < top).collect();
    v.push(top);
    v
}

fn scaled_height(w: u32, h: u32, target: u32) -> u32 {
    let v = (u64::from(h) * u64::from(target) + u64::from(w) / 2) / u64::from(w.max(1));
    u32::try_from(v.max(1)).unwrap_or(u32::MAX)
}

fn encode_webp(img: &DynamicImage) -> Result<Variant, MediaError> {
    let (w, h) = (img.width(), img.height());
    let memory = match img {
        DynamicImage::ImageRgba8(buf) => webp::Encoder::from_rgba(buf.as_raw(), w, h),
        DynamicImage::ImageRgb8(buf) => webp::Encoder::from_rgb(buf.as_raw(), w, h),
        _ => return Err(MediaError::Encode("unexpected pixel layout".to_owned())),
    }
    .encode(WEBP_QUALITY);
    Ok(Variant {
        width: w,
        height: h,
        format: Format::Webp,
        bytes: memory.to_vec(),
    })
}

fn encode(img: &DynamicImage, format: Format) -> Result<Variant, MediaError> {
    let (w, h) = (img.width(), img.height());
    let mut out = Vec::new();
    let result = match format {
        Format::Jpeg => {
            let rgb = img.to_rgb8();
            JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY).write_image(
                rgb.as_raw(),
                w,
                h,
                image::ExtendedColorType::Rgb8,
            )
        }
        Format::Png => {
            let enc = PngEncoder::new_with_quality(
                &mut out,
                CompressionType::Default,
                PngFilter::Adaptive,
            );
            match img {
                DynamicImage::ImageRgba8(b) => {
                    enc.write_image(b.as_raw(), w, h, image::ExtendedColorType::Rgba8)
                }
                _ => enc.write_image(img.to_rgb8().as_raw(), w, h, image::ExtendedColorType::Rgb8),
            }
        }
        Format::Gif | Format::Webp => {
            return Err(MediaError::Encode(format!(
                "{} is not a fallback format",
                format.as_str()
            )));
        }
    };
    result.map_err(|e| MediaError::Encode(short(&e)))?;
    Ok(Variant {
        width: w,
        height: h,
        format,
        bytes: out,
    })
}

#[cfg(test)]
mod tests;
