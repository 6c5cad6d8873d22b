//! Admin API tokens. The first byte picks the mode: even bytes feed the rest
//! to `parse` as a token, as a client would send it; odd bytes split the rest
//! at the first NUL into a header and a payload, sign them with the fixed
//! secret and verify, so that the claim checks (times, audience) see hostile
//! values too, which an unsigned token never reaches.
#![no_main]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use masthead_domain::jwt::parse;
use sha2::Sha256;

const SECRET_HEX: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
const SECRET: [u8; 32] = [
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
];
/// A fixed "now" (2026): the server passes its clock, which no client controls.
const NOW_S: i64 = 1_780_000_000;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let token = if mode % 2 == 0 {
        match std::str::from_utf8(rest) {
            Ok(token) => token.to_owned(),
            Err(_) => return,
        }
    } else {
        let (header, payload) = match rest.iter().position(|&b| b == 0) {
            Some(nul) => (&rest[..nul], &rest[nul + 1..]),
            None => (
                &br#"{"alg":"HS256","kid":"0123456789abcdef01234567"}"#[..],
                rest,
            ),
        };
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let mut mac = Hmac::<Sha256>::new_from_slice(&SECRET).expect("any key length");
        mac.update(signing_input.as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{signing_input}.{signature}")
    };
    if let Ok(unverified) = parse(&token) {
        assert_eq!(unverified.kid.len(), 24);
        let _ = unverified.verify(SECRET_HEX, NOW_S);
    }
});
