//! A cached `get`: what every API call of a service using the manager pays once it
//! holds a token (target: under 1 µs). No network: the token is registered first.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use portcullis_client::{ClientConfig, ServerMetadata, Subject, TokenManager, TokenResponse};

fn cached_get(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let metadata: ServerMetadata = serde_json::from_value(serde_json::json!({
        "issuer": "http://127.0.0.1:8080/realms/default",
        "token_endpoint": "http://127.0.0.1:8080/realms/default/oauth/token",
    }))
    .unwrap();
    let manager = runtime.block_on(async {
        let config = ClientConfig::new("bench").with_secret("secret");
        let m = TokenManager::with_metadata(metadata, config, reqwest::Client::new()).await.unwrap();
        for (i, scope) in ["invoices.read", "invoices.write", "invoices.read invoices.write"].iter().enumerate() {
            let response = TokenResponse {
                access_token: format!("token-{i}"),
                token_type: "Bearer".into(),
                expires_in: Some(3600),
                refresh_token: None,
                scope: Some((*scope).into()),
                authorities: None,
            };
            m.register(&Subject::Client, response).await.unwrap();
        }
        m
    });
    c.bench_function("token_manager/cached_get", |b| {
        b.iter(|| {
            let t = runtime.block_on(manager.get(black_box(&Subject::Client), Some(&["invoices.read"]))).unwrap();
            black_box(t);
        })
    });
}

criterion_group!(benches, cached_get);
criterion_main!(benches);
