//! JWT access tokens (`token::jwt::verify`) against a realm's key ring holding one key
//! of every algorithm and a retired key past its deadline.

use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::model::{SigningAlg, SigningKeyRecord};
use crate::token::jwt::{LEEWAY_SECS, verify};
use crate::token::keys::{KeyRing, RealmKey, generate, jwt_algorithm};

pub const ISSUER: &str = "https://fuzz.example/realms/fuzz";
pub const NOW: i64 = 1_800_000_000;
/// The kid of a key retired before `NOW` whose verification deadline has passed.
pub const RETIRED_KID: &str = "fuzz-retired";

/// The ring: fixed kids (`fuzz-es256`, ...), so a corpus can name them; fresh key
/// material each run, so no token the fuzzer has seen was ever signed by it.
pub fn ring() -> &'static KeyRing {
    static RING: OnceLock<KeyRing> = OnceLock::new();
    RING.get_or_init(|| {
        let mut records: Vec<SigningKeyRecord> = SigningAlg::ALL
            .iter()
            .map(|alg| {
                let mut r = generate("fuzz", *alg, NOW - 100).expect("a key");
                r.kid = kid(*alg);
                r
            })
            .collect();
        let mut retired = generate("fuzz", SigningAlg::Hs256, NOW - 100).expect("a key");
        retired.kid = RETIRED_KID.to_owned();
        retired.retired_at = Some(NOW - 50);
        retired.verify_until = Some(NOW - 1);
        records.push(retired);
        KeyRing::load(&records).expect("the ring loads")
    })
}

pub fn kid(alg: SigningAlg) -> String {
    format!("fuzz-{}", alg.to_string().to_ascii_lowercase())
}

fn keys() -> Vec<&'static RealmKey> {
    let ring = ring();
    let mut kids: Vec<String> = SigningAlg::ALL.iter().map(|a| kid(*a)).collect();
    kids.push(RETIRED_KID.to_owned());
    kids.iter().map(|k| ring.by_kid(k, 0).expect("every kid is in the ring")).collect()
}

/// The first byte picks a mode:
/// * 0: the rest is a token string. Nothing the fuzzer has seen was signed by the
///   ring, so it must be refused.
/// * 1: the second byte picks a key of the ring, the rest is `HEADER\nPAYLOAD` (JSON,
///   or not), signed here with that key under its own algorithm. An accepted token
///   names that key by `kid`, that algorithm in `alg`, `at+jwt` in `typ`, no `crit`,
///   the realm as issuer and audience, and times within the leeway of `NOW`.
/// * 2: like 1, but HMAC-signed with a secret the realm does not hold (an asymmetric
///   key's public JWK, the algorithm-confusion attack, or the fuzzer's bytes). Refused.
pub fn check(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else { return };
    match mode % 3 {
        0 => {
            let Ok(token) = std::str::from_utf8(rest) else { return };
            let outcome = verify(token, ring(), ISSUER, ISSUER, NOW);
            assert!(outcome.is_err(), "a token the realm never signed was accepted: {token:?}");
        }
        1 => {
            let Some((&pick, rest)) = rest.split_first() else { return };
            let keys = keys();
            let key = keys[usize::from(pick) % keys.len()];
            let alg = jwt_algorithm(key.alg);
            let token = signed(rest, |input| jsonwebtoken::crypto::sign(input, &key.encoding, alg).expect("signs"));
            if let Ok(claims) = verify(&token, ring(), ISSUER, ISSUER, NOW) {
                assert_ne!(key.kid, RETIRED_KID, "a retired key past its deadline verified");
                let header = jsonwebtoken::decode_header(&token).expect("an accepted header decodes");
                assert_eq!(header.kid.as_deref(), Some(key.kid.as_str()), "verified under another key's kid");
                assert_eq!(header.alg, alg, "verified under an algorithm the key is not bound to");
                assert!(header.typ.is_some_and(|t| t.to_ascii_lowercase().ends_with("at+jwt")));
                assert!(header.crit.is_none());
                assert_eq!((claims.iss.as_str(), claims.aud.as_str()), (ISSUER, ISSUER));
                assert!(claims.exp > NOW - LEEWAY_SECS && claims.iat <= NOW + LEEWAY_SECS);
                assert!(claims.nbf.is_none_or(|nbf| nbf <= NOW + LEEWAY_SECS));
            }
        }
        _ => {
            let Some((&pick, rest)) = rest.split_first() else { return };
            let jwks: Vec<Vec<u8>> = keys()
                .iter()
                .filter_map(|k| k.public_jwk.as_ref())
                .map(|jwk| serde_json::to_vec(jwk).expect("a JWK serializes"))
                .collect();
            let (secret, rest) = match jwks.get(usize::from(pick >> 1)) {
                Some(jwk) => (jwk.as_slice(), rest),
                None => super::split_two(rest),
            };
            let alg = if pick & 1 == 0 { jsonwebtoken::Algorithm::HS256 } else { jsonwebtoken::Algorithm::HS512 };
            let key = jsonwebtoken::EncodingKey::from_secret(secret);
            let token = signed(rest, |input| jsonwebtoken::crypto::sign(input, &key, alg).expect("signs"));
            let outcome = verify(&token, ring(), ISSUER, ISSUER, NOW);
            assert!(outcome.is_err(), "a token HMAC-signed with a foreign secret was accepted: {token}");
        }
    }
}

/// `HEADER\nPAYLOAD` as a compact JWS signed by `sign`.
fn signed(data: &[u8], sign: impl FnOnce(&[u8]) -> String) -> String {
    let (header, payload) = super::split_two(data);
    let input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(payload));
    let signature = sign(input.as_bytes());
    format!("{input}.{signature}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Mode 1 reaches the accepting path for every live key, so its assertions are
    /// not vacuous, and refuses the retired one.
    #[test]
    fn the_harness_signs_tokens_the_realm_accepts() {
        let claims = serde_json::json!({"iss": ISSUER, "sub": "c1", "aud": ISSUER, "client_id": "c1",
            "exp": NOW + 60, "iat": NOW, "jti": "j", "kind": "access"});
        for (i, key) in keys().iter().enumerate() {
            let header = serde_json::json!({"alg": jwt_algorithm(key.alg), "typ": "at+jwt", "kid": key.kid});
            let input = format!("{header}\n{claims}");
            let token = signed(input.as_bytes(), |m| {
                jsonwebtoken::crypto::sign(m, &key.encoding, jwt_algorithm(key.alg)).unwrap()
            });
            assert_eq!(verify(&token, ring(), ISSUER, ISSUER, NOW).is_ok(), key.kid != RETIRED_KID, "{}", key.kid);
            check(&[&[1, i as u8][..], input.as_bytes()].concat());
        }
    }
}
