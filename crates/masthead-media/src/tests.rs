use super::*;
use image::{Rgb, RgbImage, Rgba, RgbaImage};
use proptest::prelude::*;

fn photo(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        Rgb([(x * 255 / w.max(1)) as u8, (y * 255 / h.max(1)) as u8, 128])
    })
}

fn jpeg(w: u32, h: u32) -> Vec<u8> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, 90)
        .write_image(photo(w, h).as_raw(), w, h, image::ExtendedColorType::Rgb8)
        .expect("jpeg");
    out
}

fn png_rgba(w: u32, h: u32) -> Vec<u8> {
    let img = RgbaImage::from_fn(w, h, |x, _| Rgba([200, 30, 30, (x * 255 / w) as u8]));
    let mut out = Vec::new();
    PngEncoder::new(&mut out)
        .write_image(img.as_raw(), w, h, image::ExtendedColorType::Rgba8)
        .expect("png");
    out
}

fn encoded(w: u32, h: u32, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    DynamicImage::ImageRgb8(photo(w, h))
        .write_to(&mut out, format)
        .expect("encode");
    out.into_inner()
}

/// The error for an upload that must be refused (without dumping the bytes
/// of an accepted one into the test output).
fn refused(bytes: &[u8], limits: &Limits) -> MediaError {
    match process(bytes, limits) {
        Ok(p) => panic!("accepted a {:?} of {} × {}", p.format, p.width, p.height),
        Err(e) => e,
    }
}

fn decode(v: &Variant) -> DynamicImage {
    image::load_from_memory_with_format(&v.bytes, v.format.image_format()).expect("variant decodes")
}

#[test]
fn recognises_formats_by_content_not_name() {
    assert_eq!(sniff(&jpeg(8, 8)), Some(Format::Jpeg));
    assert_eq!(sniff(&png_rgba(8, 8)), Some(Format::Png));
    assert_eq!(sniff(&encoded(8, 8, ImageFormat::Gif)), Some(Format::Gif));
    assert_eq!(sniff(&encoded(8, 8, ImageFormat::WebP)), Some(Format::Webp));
    for not in [
        &b"<!doctype html><script>alert(1)</script>"[..],
        b"%PDF-1.7",
        b"RIFF\0\0\0\0WAVEfmt ",
        b"\xFF\xD8",
        b"",
    ] {
        assert_eq!(sniff(not), None, "{not:?}");
    }
    assert_eq!(
        refused(
            b"<svg xmlns='http://www.w3.org/2000/svg'/>",
            &Limits::default()
        ),
        MediaError::NotAnImage
    );
}

#[test]
fn a_wide_jpeg_gets_every_width_in_webp_and_jpeg() {
    let p = process(&jpeg(2000, 1000), &Limits::default()).expect("accepted");
    assert_eq!((p.format, p.width, p.height), (Format::Jpeg, 2000, 1000));
    assert_eq!(p.widths, vec![320, 640, 1024, 1600, 2000]);
    assert_eq!(p.variants.len(), 10);
    for v in &p.variants {
        assert!(matches!(v.format, Format::Webp | Format::Jpeg));
        assert_eq!(sniff(&v.bytes), Some(v.format), "{}", v.file_name());
        let img = decode(v);
        assert_eq!((img.width(), img.height()), (v.width, v.height));
        assert_eq!(v.height, v.width / 2);
    }
    // The widest file served is capped.
    let p = process(&jpeg(3000, 300), &Limits::default()).expect("accepted");
    assert_eq!(p.widths.last(), Some(&MAX_SERVED_WIDTH));
}

#[test]
fn a_small_image_is_not_enlarged() {
    let p = process(&jpeg(500, 300), &Limits::default()).expect("accepted");
    assert_eq!(p.widths, vec![320, 500]);
    assert!(p.variants.iter().all(|v| v.width <= 500));
}

#[test]
fn transparency_survives_in_png_and_webp() {
    let p = process(&png_rgba(700, 100), &Limits::default()).expect("accepted");
    assert_eq!(p.widths, vec![320, 640, 700]);
    let formats: Vec<_> = p.variants.iter().map(|v| v.format).collect();
    assert!(formats.contains(&Format::Png) && formats.contains(&Format::Webp));
    for v in &p.variants {
        assert!(decode(v).color().has_alpha(), "{}", v.file_name());
    }
}

#[test]
fn gif_stills_fall_back_to_png_and_webp_sources_stay_webp() {
    let p = process(&encoded(400, 200, ImageFormat::Gif), &Limits::default()).expect("gif");
    assert_eq!(p.format, Format::Gif);
    assert!(p.variants.iter().any(|v| v.format == Format::Png));
    assert!(p.variants.iter().all(|v| v.format != Format::Gif));
    let p = process(&encoded(400, 200, ImageFormat::WebP), &Limits::default()).expect("webp");
    assert!(p.variants.iter().all(|v| v.format == Format::Webp));
    assert_eq!(p.variants.len(), p.widths.len());
}

#[test]
fn oversized_files_are_refused_before_anything_else() {
    let limits = Limits {
        max_bytes: 1000,
        ..Limits::default()
    };
    let big = jpeg(300, 300);
    let err = refused(&big, &limits);
    assert!(matches!(err, MediaError::TooLarge { .. }), "{err:?}");
    assert!(err.to_string().contains("Export it smaller"), "{err}");
    assert_eq!(refused(&[], &limits), MediaError::Empty);
}

/// CRC-32 (IEEE), for forging PNG chunks in tests.
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

/// A tiny PNG whose header claims `w` × `h` pixels.
fn png_claiming(w: u32, h: u32) -> Vec<u8> {
    let mut png = png_rgba(4, 4);
    // Signature (8), IHDR length (4), "IHDR" (4), then width and height.
    png[16..20].copy_from_slice(&w.to_be_bytes());
    png[20..24].copy_from_slice(&h.to_be_bytes());
    let crc = crc32(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    png
}

#[test]
fn decompression_bombs_are_refused_from_the_header() {
    // 100,000 × 100,000 pixels would need 40 GB decoded; the file is tiny.
    let bomb = png_claiming(100_000, 100_000);
    assert!(bomb.len() < 200);
    let err = refused(&bomb, &Limits::default());
    assert!(matches!(err, MediaError::TooManyPixels { .. }), "{err:?}");
    assert!(err.to_string().contains("decompression bomb"), "{err}");
    // Within the side limit but over the pixel budget.
    let err = refused(&png_claiming(9_000, 9_000), &Limits::default());
    assert!(
        matches!(
            err,
            MediaError::TooManyPixels {
                width: 9_000,
                height: 9_000,
                ..
            }
        ),
        "{err:?}"
    );
    // A real image over a tighter budget is refused the same way.
    let limits = Limits {
        max_pixels: 1_000,
        ..Limits::default()
    };
    let err = refused(&jpeg(100, 100), &limits);
    assert!(matches!(err, MediaError::TooManyPixels { .. }), "{err:?}");
    // A header claiming a size its data does not hold is damaged, not a panic.
    let err = refused(&png_claiming(2_000, 2_000), &Limits::default());
    assert!(matches!(err, MediaError::Damaged { .. }), "{err:?}");
}

#[test]
fn truncated_files_are_refused_as_damaged() {
    for (name, full) in [
        ("png", png_rgba(300, 200)),
        ("gif", encoded(300, 200, ImageFormat::Gif)),
        ("webp", encoded(300, 200, ImageFormat::WebP)),
        ("jpeg", jpeg(300, 200)),
    ] {
        for cut in [full.len() / 3, full.len() / 2, 40] {
            let err = refused(&full[..cut], &Limits::default());
            assert!(
                matches!(err, MediaError::Damaged { .. }),
                "{name} cut at {cut}: {err:?}"
            );
            assert!(err.to_string().contains("damaged or incomplete"));
        }
    }
}

#[test]
fn polyglots_are_disarmed_or_refused() {
    let payload = b"<html><script>alert(document.cookie)</script></html>";
    // A real PNG with HTML after its end: accepted, but what readers get is
    // re-encoded pixels, without the payload.
    let mut png = png_rgba(64, 64);
    png.extend_from_slice(payload);
    let p = process(&png, &Limits::default()).expect("the image part is fine");
    assert!(
        p.variants
            .iter()
            .all(|v| !v.bytes.windows(8).any(|w| w == b"<script>"))
    );
    // A JPEG carrying the payload in a comment segment, right after SOI.
    let jpg = jpeg(64, 64);
    let mut with_comment = jpg[..2].to_vec();
    with_comment.extend_from_slice(&[0xFF, 0xFE]);
    with_comment.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
    with_comment.extend_from_slice(payload);
    with_comment.extend_from_slice(&jpg[2..]);
    let p = process(&with_comment, &Limits::default()).expect("comment is legal");
    assert!(
        p.variants
            .iter()
            .all(|v| !v.bytes.windows(8).any(|w| w == b"<script>"))
    );
    // A script that merely starts with a GIF signature is not an image.
    for header in [&b"GIF89a=1;"[..], b"GIF89a\x10\x00\x10\x00\x00\x00\x00"] {
        let mut fake = header.to_vec();
        fake.extend_from_slice(payload);
        refused(&fake, &Limits::default());
    }
}

/// A JPEG with an EXIF block: orientation 6 (turn 90° clockwise) and a GPS
/// pointer, as a phone writes them.
fn jpeg_with_exif(w: u32, h: u32, orientation: u16) -> Vec<u8> {
    let mut tiff = Vec::new();
    tiff.extend_from_slice(b"II*\0");
    tiff.extend_from_slice(&8u32.to_le_bytes());
    tiff.extend_from_slice(&2u16.to_le_bytes()); // two entries
    // Orientation: tag 0x0112, SHORT, count 1.
    tiff.extend_from_slice(&0x0112u16.to_le_bytes());
    tiff.extend_from_slice(&3u16.to_le_bytes());
    tiff.extend_from_slice(&1u32.to_le_bytes());
    tiff.extend_from_slice(&orientation.to_le_bytes());
    tiff.extend_from_slice(&[0, 0]);
    // Artist: tag 0x013B, ASCII, a marker we can look for afterwards.
    let marker = b"SECRET-GPS-51.5N\0";
    tiff.extend_from_slice(&0x013Bu16.to_le_bytes());
    tiff.extend_from_slice(&2u16.to_le_bytes());
    tiff.extend_from_slice(&(marker.len() as u32).to_le_bytes());
    tiff.extend_from_slice(&(8 + 2 + 24 + 4u32).to_le_bytes());
    tiff.extend_from_slice(&0u32.to_le_bytes()); // no next IFD
    tiff.extend_from_slice(marker);
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let jpg = jpeg(w, h);
    let mut out = jpg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpg[2..]);
    out
}

#[test]
fn photos_are_turned_upright_and_lose_their_metadata() {
    let original = jpeg_with_exif(400, 200, 6);
    assert!(original.windows(10).any(|w| w == b"SECRET-GPS"));
    let p = process(&original, &Limits::default()).expect("accepted");
    assert_eq!((p.width, p.height), (200, 400), "turned upright");
    for v in &p.variants {
        assert!(v.height > v.width);
        assert!(!v.bytes.windows(10).any(|w| w == b"SECRET-GPS"));
    }
}

#[test]
fn messages_say_what_to_do() {
    let e = MediaError::TooLarge {
        bytes: 31 * 1024 * 1024 + 1,
        limit: 20 * 1024 * 1024,
    };
    assert_eq!(
        e.to_string(),
        "The file is 31.1 MB; the most an image may be is 20 MB. Export it smaller (2,400 pixels wide is plenty for the site) and upload again."
    );
    assert!(MediaError::NotAnImage.to_string().contains("not its name"));
}

#[test]
fn widths_are_sorted_and_bounded() {
    assert_eq!(widths_for(1), vec![1]);
    assert_eq!(widths_for(320), vec![320]);
    assert_eq!(widths_for(321), vec![320, 321]);
    assert_eq!(widths_for(10_000), vec![320, 640, 1024, 1600, 2400]);
}

fn small_samples() -> Vec<Vec<u8>> {
    vec![
        jpeg(48, 32),
        png_rgba(48, 32),
        encoded(48, 32, ImageFormat::Gif),
        encoded(48, 32, ImageFormat::WebP),
    ]
}

/// A JPEG the upload fuzzer found: its header is fine, its scan makes
/// zune-jpeg 0.5.15 slice out of bounds in the IDCT. It must be refused as
/// damaged, not panic in the request.
#[test]
fn a_jpeg_that_panics_the_decoder_is_refused_as_damaged() {
    let bytes = include_bytes!("testdata/zune-jpeg-idct-out-of-bounds.jpg");
    match process(bytes, &Limits::default()) {
        Err(MediaError::Damaged { format, .. }) => assert_eq!(format, "JPEG"),
        Err(other) => panic!("refused for the wrong reason: {other}"),
        Ok(p) => panic!("accepted a {:?} of {} × {}", p.format, p.width, p.height),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = process(&bytes, &Limits::default());
    }

    #[test]
    fn damaged_real_images_never_panic(
        which in 0usize..4,
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = small_samples().swap_remove(which);
        for (at, value) in flips {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        let keep = 1 + cut.index(bytes.len());
        bytes.truncate(keep);
        match process(&bytes, &Limits::default()) {
            Ok(p) => {
                // Whatever was accepted is a real, re-encoded image.
                prop_assert!(!p.variants.is_empty());
                for v in &p.variants {
                    prop_assert_eq!(sniff(&v.bytes), Some(v.format));
                }
            }
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }
}
