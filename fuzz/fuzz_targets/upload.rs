//! Image uploads: sniffing, the header checks (size, pixels) and the decode →
//! re-encode path. `inspect` runs with the server's limits; `process` runs
//! with a small pixel budget so that a legitimately large image is refused by
//! the header check rather than decoded, which keeps each run short. The
//! decoders see every input either way.
#![no_main]

use libfuzzer_sys::fuzz_target;
use masthead_media::{Limits, MediaError, inspect, process, sniff};

/// At most 1024 × 256 pixels decoded per run.
const SMALL: Limits = Limits {
    max_bytes: 20 * 1024 * 1024,
    max_pixels: 1024 * 256,
    max_side: 4096,
    max_alloc: 64 * 1024 * 1024,
};

fuzz_target!(
    // libfuzzer-sys aborts from its panic hook, before any unwinding, so even
    // a panic that `process` catches on purpose (zune-jpeg's IDCT bug; the
    // server refuses such a file as damaged) would count as a crash. Put the
    // default hook back: a panic nobody catches still reaches libfuzzer-sys's
    // own catch_unwind around each run, which aborts, so real crashes are
    // still reported.
    init: {
        let _ = std::panic::take_hook();
    },
    |data: &[u8]| {
        let server = inspect(data, &Limits::default());
        if let Ok((format, width, height)) = server {
            assert_eq!(sniff(data), Some(format));
            assert!(width > 0 && height > 0);
            assert!(u64::from(width) * u64::from(height) <= Limits::default().max_pixels);
        }
        match process(data, &SMALL) {
            Ok(done) => {
                assert!(server.is_ok(), "processed what inspect refused: {server:?}");
                assert!(done.width > 0 && done.height > 0);
                assert!(!done.variants.is_empty());
                assert!(
                    done.widths.windows(2).all(|w| w[0] < w[1]),
                    "{:?}",
                    done.widths
                );
                for v in &done.variants {
                    assert_eq!(sniff(&v.bytes), Some(v.format), "{}", v.file_name());
                    assert!(done.widths.contains(&v.width));
                }
            }
            Err(MediaError::Encode(e)) => panic!("re-encoding a decoded image failed: {e}"),
            Err(_) => {}
        }
    }
);
