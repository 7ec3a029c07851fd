//! An API that accepts only tokens of its issuer carrying `invoices.read`. Its own
//! client (a resource server: `client create … --resource-server`) authenticates the
//! introspection of opaque tokens; JWTs are checked locally.
//!
//! ```sh
//! RS_ID=… RS_SECRET=… cargo run -p portcullis-client --example resource_server
//! ```
//! Listens on 127.0.0.1:3000 (`BIND`); `ISSUER` as in `machine_client.rs`.

use axum::Router;
use axum::routing::get;
use portcullis_client::ClientConfig;
use portcullis_client::resource::{RequireToken, VerifiedToken, Verifier, protected_resource_metadata};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let env = |k: &str, default: &str| std::env::var(k).unwrap_or_else(|_| default.to_owned());
    let issuer = env("ISSUER", "http://127.0.0.1:8080/realms/default");
    let bind = env("BIND", "127.0.0.1:3000");
    let config = ClientConfig::new(std::env::var("RS_ID")?).with_secret(std::env::var("RS_SECRET")?);
    let verifier = Verifier::discover(&issuer, config).await?;
    let app = Router::new()
        .route(
            "/invoices",
            get(|VerifiedToken(claims): VerifiedToken| async move {
                format!("invoices for {}", claims.sub.unwrap_or_default())
            }),
        )
        .layer(RequireToken::new(verifier).scope("invoices.read"))
        .merge(protected_resource_metadata(&format!("http://{bind}"), &[&issuer], &["invoices.read"]));
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    println!("listening on http://{bind}/invoices");
    axum::serve(listener, app).await?;
    Ok(())
}
