//! Local verification of an ES256 access token by the resource server's `Verifier`,
//! beside the raw signature check it wraps (target: within 1.2× of the raw check).
//! The JWKS is served from loopback once; every verification after is local.

use std::hint::black_box;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use axum::Router;
use axum::routing::get;
use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use portcullis_client::resource::{Claims, Verifier};
use portcullis_client::{ClientConfig, ServerMetadata};

fn verification(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new()).unwrap();
    let encoding = EncodingKey::from_ec_der(pkcs8.as_ref());
    let mut jwk = Jwk::from_encoding_key(&encoding, Algorithm::ES256).unwrap();
    jwk.common.key_id = Some("k1".into());
    let decoding = DecodingKey::from_jwk(&jwk).unwrap();
    let jwks = serde_json::to_value(JwkSet { keys: vec![jwk] }).unwrap();

    let (issuer, verifier) = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let app = Router::new().route("/jwks.json", get(move || async move { axum::Json(jwks) }));
        tokio::spawn(async move { axum::serve(listener, app).await });
        let metadata: ServerMetadata = serde_json::from_value(serde_json::json!({
            "issuer": issuer,
            "token_endpoint": format!("{issuer}/token"),
            "jwks_uri": format!("{issuer}/jwks.json"),
        }))
        .unwrap();
        let verifier = Verifier::with_metadata(metadata, ClientConfig::new("rs"), reqwest::Client::new()).unwrap();
        (issuer, verifier)
    });
    let mut header = Header::new(Algorithm::ES256);
    header.typ = Some("at+jwt".into());
    header.kid = Some("k1".into());
    let claims = serde_json::json!({
        "iss": issuer, "aud": issuer, "sub": "client", "client_id": "client", "scope": "invoices.read",
        "exp": 4_000_000_000u64, "iat": 1_800_000_000u64, "jti": "01a2", "kind": "access",
    });
    let token = jsonwebtoken::encode(&header, &claims, &encoding).unwrap();
    runtime.block_on(verifier.verify(&token)).unwrap(); // fetches the JWKS

    let mut raw = Validation::new(Algorithm::ES256);
    raw.set_issuer(&[&issuer]);
    raw.set_audience(&[&issuer]);
    c.bench_function("verify/es256_raw_signature_check", |b| {
        b.iter(|| black_box(jsonwebtoken::decode::<Claims>(black_box(&token), &decoding, &raw).unwrap()))
    });
    c.bench_function("verify/es256_verifier", |b| {
        b.iter(|| black_box(runtime.block_on(verifier.verify(black_box(&token))).unwrap()))
    });
}

criterion_group!(benches, verification);
criterion_main!(benches);
