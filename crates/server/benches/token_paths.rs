//! The token and introspection paths with real storage (SQLite on a temporary file)
//! but without HTTP: what one request costs below the web layer.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use portcullis_core::admin::{Admin, ClientSpec, RealmSettings};
use portcullis_core::authority::Authority;
use portcullis_core::client_auth::basic_header_value;
use portcullis_core::clock::SystemClock;
use portcullis_core::endpoint::{introspect::introspect, token::token};
use portcullis_core::grant::RequestContext;
use portcullis_core::model::{SigningAlg, TokenFormat};
use portcullis_core::params::Params;

fn params(pairs: &[(&str, &str)]) -> Params {
    Params::from_pairs(pairs.iter().map(|(a, b)| (a.to_string(), b.to_string()))).unwrap()
}

fn paths(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let (authority, realms) = rt.block_on(async {
        let store = portcullis_store::connect(&url, &Default::default()).await.unwrap();
        let admin = Admin::new(store.as_ref(), &SystemClock);
        admin.ensure_default_realm().await.unwrap();
        let mut realms = vec![("opaque", "default".to_owned(), String::new())];
        for (label, alg) in
            [("jwt_es256", SigningAlg::Es256), ("jwt_hs256", SigningAlg::Hs256), ("jwt_eddsa", SigningAlg::EdDsa)]
        {
            let name = label.replace('_', "-");
            let settings =
                RealmSettings { token_format: Some(TokenFormat::Jwt), signing_alg: Some(alg), ..Default::default() };
            admin.create_realm(&name, &settings).await.unwrap();
            realms.push((label, name, String::new()));
        }
        for r in realms.iter_mut() {
            let spec = ClientSpec { name: Some("bench".into()), scopes: Some(vec!["a".into()]), ..Default::default() };
            let (client, secret) = admin.create_client(&r.1, &spec).await.unwrap();
            r.2 = basic_header_value(&client.client_id, secret.unwrap().expose());
        }
        let authority = Authority::new(store, Arc::new(SystemClock), "http://127.0.0.1:8080").await.unwrap();
        (Arc::new(authority), realms)
    });
    let grant = params(&[("grant_type", "client_credentials")]);
    let ctx = RequestContext::default();
    for (label, realm, auth) in &realms {
        c.bench_function(&format!("client_credentials/{label}"), |b| {
            b.iter(|| {
                rt.block_on(async {
                    black_box(token(&authority, realm, Some(auth.as_bytes()), &grant, &ctx).await.unwrap())
                })
            })
        });
        let issued = rt.block_on(token(&authority, realm, Some(auth.as_bytes()), &grant, &ctx)).unwrap();
        let ask = params(&[("token", &issued.access_token)]);
        c.bench_function(&format!("introspect/{label}"), |b| {
            b.iter(|| {
                rt.block_on(async {
                    let r = introspect(&authority, realm, Some(auth.as_bytes()), &ask, None).await.unwrap();
                    assert!(r.active);
                })
            })
        });
    }
    let unknown =
        params(&[("token", "pcat_0190f0f0f0f0f0f0f0f0f0f0f0f0f0f0_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]);
    let (_, realm, auth) = &realms[0];
    c.bench_function("introspect/opaque_unknown", |b| {
        b.iter(|| {
            rt.block_on(async {
                assert!(!introspect(&authority, realm, Some(auth.as_bytes()), &unknown, None).await.unwrap().active)
            })
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = paths
}
criterion_main!(benches);
