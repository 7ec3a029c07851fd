//! Token minting, hashing, signing and verifying, and password checks, without storage or HTTP, so a
//! regression on a token path can be traced to this layer.

use criterion::{Criterion, criterion_group, criterion_main};
use portcullis_core::model::{SigningAlg, TokenKind};
use portcullis_core::secret::{ClientSecret, SecretHasher};
use portcullis_core::token::jwt::{self, AccessTokenClaims};
use portcullis_core::token::keys::{KeyRing, generate};
use portcullis_core::token::opaque;
use std::hint::black_box;

const NOW: i64 = 1_800_000_000;
const ISS: &str = "http://127.0.0.1:8080/realms/default";

fn claims() -> AccessTokenClaims {
    AccessTokenClaims {
        iss: ISS.into(),
        sub: "5a1e0c8e-2f43-4b0e-9d3c-0f6f7c1d2e3f".into(),
        aud: ISS.into(),
        client_id: "5a1e0c8e-2f43-4b0e-9d3c-0f6f7c1d2e3f".into(),
        exp: NOW + 3600,
        iat: NOW,
        jti: "01a20c86aaec72d88ac08a71d42e2469".into(),
        scope: "invoices.read invoices.write".into(),
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

fn opaque_tokens(c: &mut Criterion) {
    c.bench_function("opaque/mint", |b| b.iter(|| black_box(opaque::mint(TokenKind::Access))));
    let m = opaque::mint(TokenKind::Access);
    c.bench_function("opaque/parse_and_verify", |b| {
        b.iter(|| {
            let p = opaque::parse(black_box(&m.token)).unwrap();
            assert!(p.verifies(&m.verifier_hash));
        })
    });
    let hasher = SecretHasher::new(b"pepper");
    let secret = ClientSecret::generate();
    let stored = hasher.hash(secret.expose());
    c.bench_function("client_secret/verify_hmac_sha256", |b| {
        b.iter(|| assert!(hasher.verify(black_box(secret.expose()), &stored)))
    });
}

fn jwts(c: &mut Criterion) {
    for alg in SigningAlg::ALL {
        let ring = KeyRing::load(&[generate("default", *alg, NOW).unwrap()]).unwrap();
        let key = ring.signer(*alg).unwrap();
        let claims = claims();
        c.bench_function(&format!("jwt/sign/{alg}"), |b| b.iter(|| black_box(jwt::sign(key, &claims).unwrap())));
        let token = jwt::sign(key, &claims).unwrap();
        c.bench_function(&format!("jwt/verify/{alg}"), |b| {
            b.iter(|| black_box(jwt::verify(&token, &ring, ISS, ISS, NOW).unwrap()))
        });
    }
}

/// The floor of the password grant and the login page: one argon2id verification
/// (m=19456 KiB, t=2, p=1) per sign-in.
fn passwords(c: &mut Criterion) {
    let phc = portcullis_core::password::hash("correct horse battery staple").unwrap();
    let mut group = c.benchmark_group("password");
    group.sample_size(10);
    group.bench_function("argon2id_verify", |b| {
        b.iter(|| assert!(portcullis_core::password::verify(black_box("correct horse battery staple"), &phc)))
    });
    group.finish();
}

criterion_group!(benches, opaque_tokens, jwts, passwords);
criterion_main!(benches);
