//! `portcullis public-url`: the issuer prefix every instance without `--public-url`
//! serves under, kept in the database.

use clap::Subcommand;
use portcullis_core::public_url;
use portcullis_core::store::Store;
use serde_json::json;

use super::changes;
use crate::output::print;

#[derive(Debug, Subcommand)]
pub enum PublicUrlCommand {
    /// Show the stored public URL (set by the first `serve`, or by `public-url set`)
    Show {
        #[arg(long)]
        json: bool,
    },
    /// Store a new public URL; instances without --public-url use it from their next start
    Set {
        /// http(s)://HOST[:PORT][/PATH], as clients reach the server
        url: String,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(store: &std::sync::Arc<dyn Store>, command: PublicUrlCommand) -> Result<(), String> {
    match command {
        PublicUrlCommand::Show { json } => {
            let url = public_url::read(store.as_ref()).await.map_err(|e| e.to_string())?;
            print(&json!({ "public_url": url }), json);
        }
        PublicUrlCommand::Set { url, json } => {
            let stored = public_url::store(store.as_ref(), &url).await?;
            // Shared by every realm: the event has none (`audit list` does not show it).
            changes::record(store.as_ref(), "public_url.set", None, None).await;
            print(&json!({ "public_url": stored }), json);
        }
    }
    Ok(())
}
