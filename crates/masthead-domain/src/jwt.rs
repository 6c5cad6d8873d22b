//! Ghost's Admin API tokens: a JWT signed with HS256 by the integration,
//! using the admin key's secret (hex-decoded), with the key's id as `kid`,
//! audience `/admin/` (or a versioned `/v5/admin/`-style path) and a life of
//! at most five minutes.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Longest lifetime a token may claim, as in Ghost.
const MAX_LIFETIME_S: i64 = 5 * 60;
/// Clock difference tolerated between the integration and the server.
const LEEWAY_S: i64 = 60;

/// A token whose signature is still to be checked.
#[derive(Debug)]
pub struct Unverified<'a> {
    pub kid: String,
    signing_input: &'a str,
    signature: Vec<u8>,
    claims: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtError(pub &'static str);

fn decode_part(part: &str) -> Result<Vec<u8>, JwtError> {
    URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|_| JwtError("the token is not valid base64url"))
}

/// Splits and decodes a token and checks its header.
pub fn parse(token: &str) -> Result<Unverified<'_>, JwtError> {
    if token.len() > 4_096 {
        return Err(JwtError("the token is too long"));
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError("a JWT has three parts separated by dots"));
    };
    let header: serde_json::Value = serde_json::from_slice(&decode_part(h)?)
        .map_err(|_| JwtError("the token's header is not JSON"))?;
    if header["alg"] != "HS256" {
        return Err(JwtError("the token must be signed with HS256"));
    }
    let kid = header["kid"]
        .as_str()
        .filter(|k| k.len() == 24 && k.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or(JwtError("the token's header needs the admin key id as kid"))?
        .to_ascii_lowercase();
    let claims: serde_json::Value = serde_json::from_slice(&decode_part(p)?)
        .map_err(|_| JwtError("the token's payload is not JSON"))?;
    Ok(Unverified {
        kid,
        signing_input: &token[..h.len() + 1 + p.len()],
        signature: decode_part(sig)?,
        claims,
    })
}

fn audience_ok(aud: &serde_json::Value) -> bool {
    let ok = |s: &str| {
        let s = s.trim_end_matches('/');
        s == "/admin"
            || s.strip_suffix("/admin")
                .and_then(|v| v.strip_prefix('/'))
                .is_some_and(|v| {
                    v == "canary"
                        || v.strip_prefix('v').is_some_and(|n| {
                            !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit() || b == b'.')
                        })
                })
    };
    match aud {
        serde_json::Value::String(s) => ok(s),
        serde_json::Value::Array(a) => a.iter().any(|v| v.as_str().is_some_and(ok)),
        _ => false,
    }
}

impl Unverified<'_> {
    /// Checks the signature with the key's hex secret, then the claims.
    pub fn verify(&self, secret_hex: &str, now_s: i64) -> Result<(), JwtError> {
        let secret = hex_decode(secret_hex).ok_or(JwtError("the key's secret is damaged"))?;
        let mut mac = Hmac::<Sha256>::new_from_slice(&secret)
            .map_err(|_| JwtError("the key's secret is damaged"))?;
        mac.update(self.signing_input.as_bytes());
        mac.verify_slice(&self.signature)
            .map_err(|_| JwtError("invalid signature"))?;
        check_times(
            time_claim(&self.claims["iat"], "the token needs iat")?,
            time_claim(&self.claims["exp"], "the token needs exp")?,
            now_s,
        )?;
        if !audience_ok(&self.claims["aud"]) {
            return Err(JwtError("the token's audience must be /admin/"));
        }
        Ok(())
    }
}

/// A time claim: whole seconds since 1970. Fractions, strings and numbers
/// beyond `i64` are refused rather than rounded.
fn time_claim(claim: &serde_json::Value, missing: &'static str) -> Result<i64, JwtError> {
    match claim {
        serde_json::Value::Null => Err(JwtError(missing)),
        v => v.as_i64().ok_or(JwtError(
            "the token's iat and exp must be whole numbers of seconds since 1970",
        )),
    }
}

/// The lifetime and clock checks. The claims are the sender's numbers, so
/// every sum and difference is checked: an `iat` or `exp` near the ends of
/// `i64` is refused, not wrapped into a token that looks valid.
fn check_times(iat: i64, exp: i64, now_s: i64) -> Result<(), JwtError> {
    const OUT_OF_RANGE: JwtError = JwtError("the token's iat or exp is out of range");
    let lifetime = exp.checked_sub(iat).ok_or(OUT_OF_RANGE)?;
    if lifetime < 0 {
        return Err(JwtError("the token expires before it was issued"));
    }
    if lifetime > MAX_LIFETIME_S {
        return Err(JwtError("the token lives longer than five minutes"));
    }
    if now_s > exp.checked_add(LEEWAY_S).ok_or(OUT_OF_RANGE)? {
        return Err(JwtError("jwt expired"));
    }
    if iat > now_s.checked_add(LEEWAY_S).ok_or(OUT_OF_RANGE)? {
        return Err(JwtError("the token was issued in the future"));
    }
    Ok(())
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ID: &str = "0123456789abcdef01234567";
    const SECRET: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

    fn sign(header: &serde_json::Value, claims: &serde_json::Value, secret: &str) -> String {
        let h = URL_SAFE_NO_PAD.encode(header.to_string());
        let p = URL_SAFE_NO_PAD.encode(claims.to_string());
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&hex_decode(secret).expect("hex")).expect("key");
        mac.update(format!("{h}.{p}").as_bytes());
        let sig = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{h}.{p}.{sig}")
    }

    fn token(aud: &str, iat: i64, exp: i64) -> String {
        sign(
            &serde_json::json!({ "alg": "HS256", "typ": "JWT", "kid": ID }),
            &serde_json::json!({ "iat": iat, "exp": exp, "aud": aud }),
            SECRET,
        )
    }

    #[test]
    fn a_well_made_token_verifies() {
        let t = token("/admin/", 1_000, 1_300);
        let u = parse(&t).expect("parses");
        assert_eq!(u.kid, ID);
        assert_eq!(u.verify(SECRET, 1_100), Ok(()));
        for aud in ["/v5/admin/", "/v5.0/admin/", "/canary/admin/", "/admin"] {
            let t = token(aud, 1_000, 1_300);
            assert_eq!(parse(&t).expect("p").verify(SECRET, 1_100), Ok(()), "{aud}");
        }
    }

    #[test]
    fn forged_expired_and_odd_tokens_are_refused() {
        let t = token("/admin/", 1_000, 1_300);
        let other = "ff".repeat(32);
        assert_eq!(
            parse(&t).expect("p").verify(&other, 1_100),
            Err(JwtError("invalid signature"))
        );
        assert_eq!(
            parse(&t).expect("p").verify(SECRET, 1_300 + LEEWAY_S + 1),
            Err(JwtError("jwt expired"))
        );
        let long = token("/admin/", 1_000, 1_000 + 3_600);
        assert!(parse(&long).expect("p").verify(SECRET, 1_100).is_err());
        let aud = token("/members/", 1_000, 1_300);
        assert!(parse(&aud).expect("p").verify(SECRET, 1_100).is_err());
        let none = sign(
            &serde_json::json!({ "alg": "none", "kid": ID }),
            &serde_json::json!({ "iat": 1, "exp": 2, "aud": "/admin/" }),
            SECRET,
        );
        assert!(parse(&none).is_err());
        let nokid = sign(
            &serde_json::json!({ "alg": "HS256" }),
            &serde_json::json!({ "iat": 1, "exp": 2, "aud": "/admin/" }),
            SECRET,
        );
        assert!(parse(&nokid).is_err());
        // Tampering with the payload breaks the signature.
        let mut parts: Vec<String> = t.split('.').map(str::to_owned).collect();
        parts[1] = URL_SAFE_NO_PAD.encode(r#"{"iat":1000,"exp":9999999999,"aud":"/admin/"}"#);
        let tampered = parts.join(".");
        assert!(parse(&tampered).expect("p").verify(SECRET, 1_100).is_err());
        for junk in ["", "a.b", "a.b.c.d", "....", "x.y.z"] {
            assert!(parse(junk).is_err(), "{junk}");
        }
    }

    #[test]
    fn extreme_times_are_refused_not_wrapped() {
        let now = 1_700_000_000;
        let cases = [
            (i64::MIN, i64::MAX),
            (i64::MAX, i64::MIN),
            (i64::MIN, i64::MIN),
            (i64::MAX, i64::MAX),
            (i64::MAX - 100, i64::MAX),
            (i64::MIN, i64::MIN + 100),
            (0, i64::MAX),
            (now, i64::MAX),
            (i64::MIN, now),
        ];
        for (iat, exp) in cases {
            let t = token("/admin/", iat, exp);
            let u = parse(&t).expect("parses");
            assert!(u.verify(SECRET, now).is_err(), "iat {iat}, exp {exp}");
            for clock in [0, i64::MAX] {
                assert!(
                    u.verify(SECRET, clock).is_err(),
                    "iat {iat}, exp {exp} at {clock}"
                );
            }
        }
        assert_eq!(
            check_times(i64::MAX - 100, i64::MAX, i64::MAX),
            Err(JwtError("the token's iat or exp is out of range"))
        );
        assert_eq!(
            check_times(i64::MIN, i64::MAX, 0),
            Err(JwtError("the token's iat or exp is out of range"))
        );
        assert_eq!(
            check_times(i64::MAX, i64::MIN, 0),
            Err(JwtError("the token's iat or exp is out of range"))
        );
        assert_eq!(
            check_times(10, 5, 7),
            Err(JwtError("the token expires before it was issued"))
        );
        // A clock at the far end still works for sane tokens.
        assert_eq!(check_times(i64::MIN, i64::MIN + 300, i64::MIN), Ok(()));
    }

    #[test]
    fn time_claims_must_be_whole_seconds() {
        for claims in [
            serde_json::json!({ "iat": 1_000.5, "exp": 1_300, "aud": "/admin/" }),
            serde_json::json!({ "iat": "1000", "exp": 1_300, "aud": "/admin/" }),
            serde_json::json!({ "iat": 1_000, "exp": 1e300, "aud": "/admin/" }),
            serde_json::json!({ "iat": 1_000, "exp": 18_446_744_073_709_551_615u64, "aud": "/admin/" }),
            serde_json::json!({ "iat": 1_000, "aud": "/admin/" }),
        ] {
            let t = sign(
                &serde_json::json!({ "alg": "HS256", "typ": "JWT", "kid": ID }),
                &claims,
                SECRET,
            );
            assert!(
                parse(&t).expect("p").verify(SECRET, 1_100).is_err(),
                "{claims}"
            );
        }
    }

    proptest! {
        /// Whatever the claimed times and the clock, checking never panics,
        /// and a token passes only if its numbers really are in bounds
        /// (computed here in i128, where nothing can overflow).
        #[test]
        fn time_checks_never_overflow(iat in any::<i64>(), exp in any::<i64>(), now in any::<i64>()) {
            let ok = check_times(iat, exp, now).is_ok();
            let (iat, exp, now) = (i128::from(iat), i128::from(exp), i128::from(now));
            let want = (0..=i128::from(MAX_LIFETIME_S)).contains(&(exp - iat))
                && now <= exp + i128::from(LEEWAY_S)
                && iat <= now + i128::from(LEEWAY_S);
            prop_assert_eq!(ok, want);
        }

        #[test]
        fn extreme_signed_tokens_never_verify_far_from_their_times(
            iat in prop_oneof![Just(i64::MIN), Just(i64::MAX), any::<i64>()],
            exp in prop_oneof![Just(i64::MIN), Just(i64::MAX), any::<i64>()],
        ) {
            let t = token("/admin/", iat, exp);
            let u = parse(&t).expect("parses");
            let now = 1_700_000_000;
            if u.verify(SECRET, now).is_ok() {
                prop_assert!((iat - 60..=iat + 360).contains(&now));
            }
        }

        #[test]
        fn arbitrary_tokens_never_panic(s in ".{0,300}") {
            if let Ok(u) = parse(&s) {
                let _ = u.verify(SECRET, 0);
            }
        }
    }
}
