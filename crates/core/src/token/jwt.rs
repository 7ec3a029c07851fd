//! JWT access tokens (RFC 9068), signed and verified by `jsonwebtoken`.

use jsonwebtoken::{Header, Validation};
use serde::{Deserialize, Serialize};

use super::keys::{KeyRing, RealmKey, jwt_algorithm};

/// Longest JWT looked at; longer ones are inactive without being decoded.
pub const MAX_JWT_LEN: usize = 8 * 1024;

/// Allowed clock difference between instances for `exp`, `nbf` and `iat`.
pub const LEEWAY_SECS: i64 = 30;

/// RFC 9068 §2.2 claims, plus the Portcullis claims `kind`, `permissions`, `test`, and
/// for user tokens `username` and `authorities`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub client_id: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    #[serde(default)]
    pub scope: String,
    pub kind: String,
    #[serde(default)]
    pub permissions: Vec<String>,
    #[serde(default)]
    pub test: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorities: Option<Vec<String>>,
    /// Never issued by this server, but honoured when present (RFC 7519 §4.1.5), and
    /// typed, so a string `nbf` fails to deserialize instead of passing unread.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// The permissions as a bit field (`org::perm_bits`), beside them by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub perm_bits: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub teams: Vec<String>,
}

pub fn sign(key: &RealmKey, claims: &AccessTokenClaims) -> Result<String, jsonwebtoken::errors::Error> {
    let mut header = Header::new(jwt_algorithm(key.alg));
    header.typ = Some("at+jwt".to_owned());
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&header, claims, &key.encoding)
}

/// Why a JWT was refused. Never shown to clients (an inactive token is just inactive);
/// kept for logs and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwtRejection {
    TooLong,
    Malformed,
    WrongType,
    UnknownKey,
    /// The header's `alg` is not the algorithm its key is bound to (RFC 8725 §3.1).
    AlgorithmMismatch,
    CriticalHeader,
    Invalid(String),
    Expired,
    NotYetValid,
    IssuedInFuture,
}

/// Verifies signature and claims of a presented JWT against `ring`.
///
/// The key is chosen by `kid` among this realm's keys only, and must be bound to the
/// header's `alg`, so an HS256 token can never be checked with a public key. `exp`,
/// `iss`, `aud`, `sub` and `iat` are required; claims of the wrong JSON type fail
/// deserialization (the CVE-2026-25537 class).
pub fn verify(
    token: &str,
    ring: &KeyRing,
    issuer: &str,
    audience: &str,
    now: i64,
) -> Result<AccessTokenClaims, JwtRejection> {
    if token.len() > MAX_JWT_LEN {
        return Err(JwtRejection::TooLong);
    }
    let header = jsonwebtoken::decode_header(token).map_err(|_| JwtRejection::Malformed)?;
    let typ_ok = header
        .typ
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt"));
    if !typ_ok {
        return Err(JwtRejection::WrongType);
    }
    if header.crit.is_some() {
        return Err(JwtRejection::CriticalHeader);
    }
    let kid = header.kid.as_deref().ok_or(JwtRejection::UnknownKey)?;
    let key = ring.by_kid(kid, now).ok_or(JwtRejection::UnknownKey)?;
    if jwt_algorithm(key.alg) != header.alg {
        return Err(JwtRejection::AlgorithmMismatch);
    }
    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub", "iat"]);
    // Time is checked below against the injected clock.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    let data = jsonwebtoken::decode::<AccessTokenClaims>(token, &key.decoding, &validation)
        .map_err(|e| JwtRejection::Invalid(e.to_string()))?;
    let claims = data.claims;
    if claims.exp <= now - LEEWAY_SECS {
        return Err(JwtRejection::Expired);
    }
    if claims.iat > now + LEEWAY_SECS {
        return Err(JwtRejection::IssuedInFuture);
    }
    if claims.nbf.is_some_and(|nbf| nbf > now + LEEWAY_SECS) {
        return Err(JwtRejection::NotYetValid);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SigningAlg;
    use crate::token::keys::generate;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    const ISS: &str = "http://127.0.0.1:8080/realms/default";
    const NOW: i64 = 1_800_000_000;

    fn ring(alg: SigningAlg) -> KeyRing {
        KeyRing::load(&[generate("default", alg, NOW).unwrap()]).unwrap()
    }

    fn claims() -> AccessTokenClaims {
        AccessTokenClaims {
            iss: ISS.into(),
            sub: "c1".into(),
            aud: ISS.into(),
            client_id: "c1".into(),
            exp: NOW + 60,
            iat: NOW,
            jti: "j".into(),
            scope: "a b".into(),
            kind: "access".into(),
            permissions: vec![],
            test: false,
            username: None,
            authorities: None,
            nbf: None,
            perm_bits: None,
            teams: Vec::new(),
        }
    }

    fn b64(v: &serde_json::Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
    }

    #[test]
    fn every_algorithm_signs_and_verifies() {
        for alg in SigningAlg::ALL {
            let r = ring(*alg);
            let t = sign(r.signer(*alg).unwrap(), &claims()).unwrap();
            assert_eq!(verify(&t, &r, ISS, ISS, NOW).unwrap(), claims(), "{alg}");
            let h = jsonwebtoken::decode_header(&t).unwrap();
            assert_eq!(h.typ.as_deref(), Some("at+jwt"));
        }
    }

    #[test]
    fn jwks_never_publishes_symmetric_or_private_material() {
        for alg in SigningAlg::ALL {
            let json = serde_json::to_string(&ring(*alg).jwks(NOW)).unwrap();
            for member in ["\"k\"", "\"d\"", "\"p\"", "\"q\"", "\"dp\"", "\"dq\"", "\"qi\"", "\"oct\""] {
                assert!(!json.contains(member), "{alg}: {json}");
            }
        }
    }

    #[test]
    fn wrong_issuer_audience_expiry_and_tampering_are_rejected() {
        let r = ring(SigningAlg::Es256);
        let key = r.signer(SigningAlg::Es256).unwrap();
        let t = sign(key, &claims()).unwrap();
        assert!(verify(&t, &r, "http://other/realms/x", ISS, NOW).is_err());
        assert!(verify(&t, &r, ISS, "other", NOW).is_err());
        assert_eq!(verify(&t, &r, ISS, ISS, NOW + 60 + LEEWAY_SECS).unwrap_err(), JwtRejection::Expired);
        let mut parts: Vec<String> = t.split('.').map(str::to_owned).collect();
        let mut c = serde_json::to_value(claims()).unwrap();
        c["scope"] = "admin".into();
        parts[1] = b64(&c);
        assert!(matches!(verify(&parts.join("."), &r, ISS, ISS, NOW), Err(JwtRejection::Invalid(_))));
    }

    #[test]
    fn alg_none_and_unsigned_tokens_are_rejected() {
        let r = ring(SigningAlg::Es256);
        let kid = r.signer(SigningAlg::Es256).unwrap().kid.clone();
        let body = b64(&serde_json::to_value(claims()).unwrap());
        for alg in ["none", "None", "nOnE"] {
            let h = b64(&serde_json::json!({"alg": alg, "typ": "at+jwt", "kid": kid}));
            for sig in ["", "AAAA"] {
                assert!(verify(&format!("{h}.{body}.{sig}"), &r, ISS, ISS, NOW).is_err());
            }
        }
    }

    #[test]
    fn hs256_forged_with_the_public_key_is_rejected() {
        let r = ring(SigningAlg::Es256);
        let key = r.signer(SigningAlg::Es256).unwrap();
        let public = serde_json::to_vec(key.public_jwk.as_ref().unwrap()).unwrap();
        let mut header = Header::new(jsonwebtoken::Algorithm::HS256);
        header.typ = Some("at+jwt".into());
        header.kid = Some(key.kid.clone());
        let forged =
            jsonwebtoken::encode(&header, &claims(), &jsonwebtoken::EncodingKey::from_secret(&public)).unwrap();
        assert_eq!(verify(&forged, &r, ISS, ISS, NOW).unwrap_err(), JwtRejection::AlgorithmMismatch);
    }

    #[test]
    fn string_typed_exp_missing_exp_wrong_typ_and_crit_are_rejected() {
        let r = ring(SigningAlg::Hs256);
        let key = r.signer(SigningAlg::Hs256).unwrap();
        let enc = &key.encoding;
        let mut header = Header::new(jsonwebtoken::Algorithm::HS256);
        header.typ = Some("at+jwt".into());
        header.kid = Some(key.kid.clone());
        let mut c = serde_json::to_value(claims()).unwrap();
        c["exp"] = "99999999999".into();
        let t = jsonwebtoken::encode(&header, &c, enc).unwrap();
        assert!(verify(&t, &r, ISS, ISS, NOW).is_err());
        c.as_object_mut().unwrap().remove("exp");
        let t = jsonwebtoken::encode(&header, &c, enc).unwrap();
        assert!(verify(&t, &r, ISS, ISS, NOW).is_err());

        let mut jwt_typ = header.clone();
        jwt_typ.typ = Some("JWT".into());
        let t = jsonwebtoken::encode(&jwt_typ, &claims(), enc).unwrap();
        assert_eq!(verify(&t, &r, ISS, ISS, NOW).unwrap_err(), JwtRejection::WrongType);

        let mut crit = header.clone();
        crit.crit = Some(vec!["exp2".into()]);
        let t = jsonwebtoken::encode(&crit, &claims(), enc).unwrap();
        assert_eq!(verify(&t, &r, ISS, ISS, NOW).unwrap_err(), JwtRejection::CriticalHeader);
    }

    #[test]
    fn a_future_or_string_typed_nbf_is_rejected() {
        let r = ring(SigningAlg::Es256);
        let key = r.signer(SigningAlg::Es256).unwrap();
        let mut header = Header::new(jsonwebtoken::Algorithm::ES256);
        header.typ = Some("at+jwt".into());
        header.kid = Some(key.kid.clone());
        let with_nbf = |nbf: serde_json::Value| {
            let mut c = serde_json::to_value(claims()).unwrap();
            c["nbf"] = nbf;
            jsonwebtoken::encode(&header, &c, &key.encoding).unwrap()
        };
        assert!(verify(&with_nbf(NOW.into()), &r, ISS, ISS, NOW).is_ok());
        let later = with_nbf((NOW + LEEWAY_SECS + 1).into());
        assert_eq!(verify(&later, &r, ISS, ISS, NOW).unwrap_err(), JwtRejection::NotYetValid);
        assert!(verify(&with_nbf(NOW.to_string().into()), &r, ISS, ISS, NOW).is_err());
    }

    #[test]
    fn unknown_or_hostile_kids_are_rejected() {
        let r = ring(SigningAlg::Hs256);
        let other = ring(SigningAlg::Hs256);
        let t = sign(other.signer(SigningAlg::Hs256).unwrap(), &claims()).unwrap();
        assert_eq!(verify(&t, &r, ISS, ISS, NOW).unwrap_err(), JwtRejection::UnknownKey);
        assert_eq!(verify(&"a".repeat(MAX_JWT_LEN + 1), &r, ISS, ISS, NOW).unwrap_err(), JwtRejection::TooLong);
    }

    #[test]
    fn a_retired_key_verifies_until_its_deadline_only() {
        let mut rec = generate("default", SigningAlg::EdDsa, NOW).unwrap();
        let signing = KeyRing::load(std::slice::from_ref(&rec)).unwrap();
        let t = sign(signing.signer(SigningAlg::EdDsa).unwrap(), &claims()).unwrap();
        rec.retired_at = Some(NOW);
        rec.verify_until = Some(NOW + 10);
        let retired = KeyRing::load(&[rec]).unwrap();
        assert!(retired.signer(SigningAlg::EdDsa).is_none());
        assert!(verify(&t, &retired, ISS, ISS, NOW + 5).is_ok());
        assert_eq!(verify(&t, &retired, ISS, ISS, NOW + 10).unwrap_err(), JwtRejection::UnknownKey);
        assert!(retired.jwks(NOW + 10).keys.is_empty());
    }
}
