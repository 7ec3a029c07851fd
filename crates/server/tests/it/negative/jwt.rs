//! Forged and malformed JWT access tokens (SECURITY-CASES #45–#48, RFC 8725 §2–3,
//! RFC 9068 §4), presented at introspection and at check_token. Each forgery keeps the
//! real token's `jti`, whose row says "active": only the signature and claim checks
//! stand between the forgery and an active answer. A positive control re-signs the
//! real claims with the realm's real key, so the signing done here is known to work.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD as B64};
use jsonwebtoken::{Algorithm, EncodingKey};
use portcullis_core::clock::Clock;
use portcullis_core::model::{SigningAlg, TokenFormat};
use portcullis_core::token::keys::{self, RealmKey};
use serde_json::{Value, json};

use super::{assert_unchanged, snapshot};
use crate::harness::{TestClient, TestServer, assert_error};

/// A JWT from a header and claims, signed by `key` under `alg`.
fn sign(header: &Value, claims: &Value, key: &EncodingKey, alg: Algorithm) -> String {
    let input = format!("{}.{}", B64.encode(header.to_string()), B64.encode(claims.to_string()));
    let sig = jsonwebtoken::crypto::sign(input.as_bytes(), key, alg).unwrap();
    format!("{input}.{sig}")
}

fn unsigned(header: &Value, claims: &Value, signature: &str) -> String {
    format!("{}.{}.{signature}", B64.encode(header.to_string()), B64.encode(claims.to_string()))
}

fn decode_part(part: &str) -> Value {
    serde_json::from_slice(&B64.decode(part).unwrap()).unwrap()
}

/// The realm's signing key as the server holds it, to sign claims the server must
/// still refuse.
async fn realm_key(s: &TestServer, realm: &str) -> (String, EncodingKey, Algorithm) {
    let records = s.store.signing_keys(realm, s.clock.now()).await.unwrap();
    let r = &records[0];
    let key = match r.alg {
        SigningAlg::Es256 => EncodingKey::from_ec_pem(r.private_pem.as_bytes()).unwrap(),
        SigningAlg::Rs256 => EncodingKey::from_rsa_pem(r.private_pem.as_bytes()).unwrap(),
        other => panic!("no test key for {other}"),
    };
    (r.kid.clone(), key, keys::jwt_algorithm(r.alg))
}

/// The forms of a public key an attacker tries as an HMAC secret (CVE-2015-9235):
/// the JWK JSON, and for P-256 the SPKI DER, its PEM and the raw point.
fn public_key_forms(jwk: &Value) -> Vec<(&'static str, Vec<u8>)> {
    let mut forms = vec![("jwk json", serde_json::to_vec(jwk).unwrap())];
    if jwk["kty"] == "EC" {
        let mut point = vec![4u8];
        point.extend(B64.decode(jwk["x"].as_str().unwrap()).unwrap());
        point.extend(B64.decode(jwk["y"].as_str().unwrap()).unwrap());
        // SubjectPublicKeyInfo for id-ecPublicKey on prime256v1, then the point.
        let mut der = hex_bytes("3059301306072a8648ce3d020106082a8648ce3d030107034200");
        der.extend(&point);
        let pem = format!("-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n", STANDARD.encode(&der));
        forms.push(("spki der", der));
        forms.push(("spki pem", pem.into_bytes()));
        forms.push(("raw point", point));
    } else {
        forms.push(("rsa modulus", B64.decode(jwk["n"].as_str().unwrap()).unwrap()));
    }
    forms
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect()
}

/// Every forgery of `token` (a live JWT of `realm`), named.
async fn forgeries(s: &TestServer, realm: &str, token: &str) -> Vec<(String, String)> {
    let parts: Vec<&str> = token.split('.').collect();
    let (header, claims) = (decode_part(parts[0]), decode_part(parts[1]));
    let (kid, key, alg) = realm_key(s, realm).await;
    let mut out = Vec::new();
    let mut add = |name: &str, t: String| out.push((name.to_owned(), t));

    // alg none in its spellings, with no signature and with the real one (RFC 8725 §3.1, §3.2).
    for none in ["none", "None", "NONE", "nOnE"] {
        let mut h = header.clone();
        h["alg"] = none.into();
        add(&format!("alg {none}, empty signature"), unsigned(&h, &claims, ""));
        add(&format!("alg {none}, real signature"), unsigned(&h, &claims, parts[2]));
    }
    let mut no_alg = header.clone();
    no_alg.as_object_mut().unwrap().remove("alg");
    add("no alg", unsigned(&no_alg, &claims, parts[2]));
    add("empty signature", format!("{}.{}.", parts[0], parts[1]));
    add("two parts", format!("{}.{}", parts[0], parts[1]));

    // HS256 keyed with the realm's public key, in each form (RFC 8725 §2.1, §3.1).
    let jwks: Value = s.http.get(s.url(realm, "/jwks.json")).send().await.unwrap().json().await.unwrap();
    for (form, secret) in public_key_forms(&jwks["keys"][0]) {
        for hs in [Algorithm::HS256, Algorithm::HS512] {
            let mut h = header.clone();
            h["alg"] = format!("{hs:?}").into();
            add(
                &format!("{hs:?} keyed with the public key as {form}"),
                sign(&h, &claims, &EncodingKey::from_secret(&secret), hs),
            );
        }
    }

    // The realm's real key, with claims or headers the server must refuse (RFC 8725
    // §3.8–3.11, RFC 9068 §4, CVE-2026-25537).
    let with = |name: &str, edit: &dyn Fn(&mut Value, &mut Value)| {
        let (mut h, mut c) = (header.clone(), claims.clone());
        edit(&mut h, &mut c);
        (name.to_owned(), sign(&h, &c, &key, alg))
    };
    let now = s.clock.now();
    let signed = [
        with("exp as a string", &|_, c| c["exp"] = json!("99999999999")),
        with("nbf as a string", &|_, c| c["nbf"] = json!(now.to_string())),
        with("no exp", &|_, c| drop(c.as_object_mut().unwrap().remove("exp"))),
        with("exp in the past", &|_, c| c["exp"] = json!(now - 3600)),
        with("nbf an hour ahead", &|_, c| c["nbf"] = json!(now + 3600)),
        with("iat an hour ahead", &|_, c| c["iat"] = json!(now + 3600)),
        with("iss of another realm", &|_, c| c["iss"] = json!(format!("{}/realms/other", s.base))),
        with("aud of another realm", &|_, c| c["aud"] = json!(format!("{}/realms/other", s.base))),
        with("no iss", &|_, c| drop(c.as_object_mut().unwrap().remove("iss"))),
        with("typ JWT", &|h, _| h["typ"] = json!("JWT")),
        with("no typ", &|h, _| drop(h.as_object_mut().unwrap().remove("typ"))),
        with("unknown crit header", &|h, _| {
            h["crit"] = json!(["exp-ext"]);
            h["exp-ext"] = json!(1);
        }),
        with("unknown kid", &|h, _| h["kid"] = json!("not-a-kid")),
        with("kid SQL", &|h, _| h["kid"] = json!("' OR 1=1--")),
        with("kid path", &|h, _| h["kid"] = json!("../../../../dev/null")),
        with("kid 10 KB", &|h, _| h["kid"] = json!("k".repeat(10 * 1024))),
        with("no kid", &|h, _| drop(h.as_object_mut().unwrap().remove("kid"))),
    ];
    out.extend(signed);

    // An attacker's own key, named by the realm's kid and offered through jwk / jku /
    // x5u headers (RFC 8725 §3.10): the server fetches nothing and trusts no embedded key.
    let evil = keys::generate(realm, SigningAlg::Es256, now).unwrap();
    let evil_jwk = serde_json::to_value(RealmKey::load(&evil).unwrap().public_jwk.unwrap()).unwrap();
    let evil_key = EncodingKey::from_ec_pem(evil.private_pem.as_bytes()).unwrap();
    for (name, extra) in [
        ("embedded jwk", json!({"jwk": evil_jwk})),
        ("jku", json!({"jku": "http://127.0.0.1:9/jwks.json"})),
        ("x5u", json!({"x5u": "http://127.0.0.1:9/cert.pem"})),
        ("nothing extra", json!({})),
    ] {
        let mut h = json!({"alg": "ES256", "typ": "at+jwt", "kid": kid});
        h.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        out.push((format!("attacker's key, {name}"), sign(&h, &claims, &evil_key, Algorithm::ES256)));
    }
    out
}

/// A JWT realm `j` signing with `alg`, a client, its live token and a resource server.
async fn setup(s: &TestServer, alg: SigningAlg) -> (TestClient, String) {
    s.realm("j", TokenFormat::Jwt, alg).await;
    s.realm("other", TokenFormat::Jwt, alg).await;
    let c = s.cc_client("j", "x", "a").await;
    let t = s.token("j", &c, None).await;
    (c, t)
}

async fn forged_jwts_are_refused(alg: SigningAlg) {
    let s = TestServer::start().await;
    let (c, t) = setup(&s, alg).await;
    // Positive control: the real claims and header under the real key are active.
    let parts: Vec<&str> = t.split('.').collect();
    let (kid, key, a) = realm_key(&s, "j").await;
    let resigned = sign(&decode_part(parts[0]), &decode_part(parts[1]), &key, a);
    assert_eq!(decode_part(parts[0])["kid"], kid.as_str());
    assert!(s.is_active("j", &c, &resigned).await, "the control forgery must be active");

    let forged = forgeries(&s, "j", &t).await;
    let before = snapshot(&s).await;
    for (name, token) in &forged {
        assert_eq!(s.introspect("j", &c, token).await, json!({"active": false}), "introspect: {name}");
        let r = s.post_form(&s.url("j", "/oauth/check_token"), Some(&c), &[("token", token)]).await;
        let body = assert_error(r, 400, "invalid_token").await;
        // A genuine signature over a past `exp` is Spring's "expired"; all else is unknown.
        let expected = if name == "exp in the past" { "Token has expired" } else { "Token was not recognised" };
        assert_eq!(body["error_description"], expected, "check_token: {name}");
    }
    assert_unchanged(&s, &before, "forged JWTs").await;
    assert!(s.is_active("j", &c, &t).await);
}

#[tokio::test]
async fn forged_es256_jwts_are_inactive_and_unrecognised() {
    forged_jwts_are_refused(SigningAlg::Es256).await;
}

#[tokio::test]
async fn forged_rs256_jwts_are_inactive_and_unrecognised() {
    forged_jwts_are_refused(SigningAlg::Rs256).await;
}

/// A token signed by realm A, presented at realm B whose keys have the same algorithm
/// (RFC 8725 §3.8, SECURITY-CASES #51): B looks the `kid` up among its own keys only.
#[tokio::test]
async fn a_jwt_of_another_realm_is_inactive_there() {
    let s = TestServer::start().await;
    let (c, t) = setup(&s, SigningAlg::Es256).await;
    let other_rs = s
        .client_with(
            "other",
            portcullis_core::admin::ClientSpec {
                name: Some("rs".into()),
                resource_server: Some(true),
                ..Default::default()
            },
        )
        .await;
    // Realm B's own key, signing realm A's claims with B's issuer.
    let parts: Vec<&str> = t.split('.').collect();
    let (kid_b, key_b, alg) = realm_key(&s, "other").await;
    let mut claims = decode_part(parts[1]);
    claims["iss"] = json!(s.issuer("other"));
    claims["aud"] = json!(s.issuer("other"));
    let mut header = decode_part(parts[0]);
    header["kid"] = json!(kid_b);
    let as_b = sign(&header, &claims, &key_b, alg);
    let before = snapshot(&s).await;
    assert!(!s.is_active("other", &other_rs, &t).await, "A's token at B");
    assert!(!s.is_active("other", &other_rs, &as_b).await, "A's jti re-signed by B");
    assert!(!s.is_active("j", &c, &as_b).await, "B's key at A");
    let r = s.post_form(&s.url("other", "/oauth/check_token"), Some(&other_rs), &[("token", &t)]).await;
    assert_error(r, 400, "invalid_token").await;
    assert_unchanged(&s, &before, "cross-realm JWTs").await;
}
