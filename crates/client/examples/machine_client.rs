//! A machine client: gets a client-credentials token (cached by the manager) and calls
//! the API of `resource_server.rs` with it. Against `portcullis serve` (README):
//!
//! ```sh
//! CLIENT_ID=… CLIENT_SECRET=… cargo run -p portcullis-client --example machine_client
//! ```
//! `ISSUER` defaults to `http://127.0.0.1:8080/realms/default`, `API` to
//! `http://127.0.0.1:3000/invoices`.

use portcullis_client::{ClientConfig, Subject, TokenManager};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let env = |k: &str, default: &str| std::env::var(k).unwrap_or_else(|_| default.to_owned());
    let issuer = env("ISSUER", "http://127.0.0.1:8080/realms/default");
    let api = env("API", "http://127.0.0.1:3000/invoices");
    let config = ClientConfig::new(std::env::var("CLIENT_ID")?).with_secret(std::env::var("CLIENT_SECRET")?);
    let manager = TokenManager::discover(&issuer, config).await?;
    for _ in 0..3 {
        // One token request: the later calls are served from the cache.
        let token = manager.get(&Subject::Client, Some(&["invoices.read"])).await?;
        println!("token with scopes {:?}, expires at {:?}", token.scopes(), token.expires_at());
        match reqwest::Client::new().get(&api).bearer_auth(token.secret()).send().await {
            Ok(r) => println!("{api}: {} {}", r.status(), r.text().await.unwrap_or_default()),
            Err(e) => println!("{api}: not reachable ({e}); start the resource_server example"),
        }
    }
    Ok(())
}
