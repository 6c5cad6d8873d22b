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
        let iat = self.claims["iat"]
            .as_i64()
            .ok_or(JwtError("the token needs iat"))?;
        let exp = self.claims["exp"]
            .as_i64()
            .ok_or(JwtError("the token needs exp"))?;
        if exp - iat > MAX_LIFETIME_S {
            return Err(JwtError("the token lives longer than five minutes"));
        }
        if now_s > exp + LEEWAY_S {
            return Err(JwtError("jwt expired"));
        }
        if iat > now_s + LEEWAY_S {
            return Err(JwtError("the token was issued in the future"));
        }
        if !audience_ok(&self.claims["aud"]) {
            return Err(JwtError("the token's audience must be /admin/"));
        }
        Ok(())
    }
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

    proptest! {
        #[test]
        fn arbitrary_tokens_never_panic(s in ".{0,300}") {
            if let Ok(u) = parse(&s) {
                let _ = u.verify(SECRET, 0);
            }
        }
    }
}
