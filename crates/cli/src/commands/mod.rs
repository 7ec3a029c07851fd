//! One module per command group.

mod admin_token;
mod apikey;
mod app;
mod audit;
mod changes;
mod client;
mod grant;
mod keys;
mod permission;
mod public_url;
mod realm;
mod role;
mod serve;
mod user;

use std::sync::Arc;

use clap::Subcommand;
use portcullis_core::store::Store;
use portcullis_store::StoreOptions;

use crate::config::{Config, GlobalArgs, ServeArgs};

// Parsed once at start-up and matched once: the size of `serve`'s many options costs
// nothing, and boxing them would only complicate clap's derive.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the authorization server
    Serve(ServeArgs),
    /// Manage realms
    #[command(subcommand)]
    Realm(realm::RealmCommand),
    /// Manage OAuth clients
    #[command(subcommand)]
    Client(client::ClientCommand),
    /// Manage realm signing keys
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Manage user accounts
    #[command(subcommand)]
    User(user::UserCommand),
    /// List and revoke grants (a grant's tokens live and die with it)
    #[command(subcommand)]
    Grant(grant::GrantCommand),
    /// Tokens of the admin REST API (scoped to one realm or to all)
    #[command(subcommand)]
    AdminToken(admin_token::AdminTokenCommand),
    /// Manage apps (containers of API keys, through which customers sign in)
    #[command(subcommand)]
    App(app::AppCommand),
    /// Manage API keys of apps
    #[command(subcommand, name = "apikey")]
    Apikey(apikey::ApiKeyCommand),
    /// Manage a realm's named permissions
    #[command(subcommand)]
    Permission(permission::PermissionCommand),
    /// Give roles permissions
    #[command(subcommand)]
    Role(role::RoleCommand),
    /// The public URL (issuer prefix) shared by every instance on this database
    #[command(subcommand)]
    PublicUrl(public_url::PublicUrlCommand),
    /// Read the audit log (security events and admin changes)
    #[command(subcommand)]
    Audit(audit::AuditCommand),
}

pub async fn run(global: GlobalArgs, command: Command) -> Result<(), String> {
    match command {
        Command::Serve(args) => serve::run(&global, &args).await,
        Command::Realm(c) => realm::run(&open_store(&global).await?, c).await,
        Command::Client(c) => client::run(&open_store(&global).await?, c).await,
        Command::Keys(keys::KeysCommand::Rewrap(args)) => keys::rewrap(&global, args).await,
        Command::Keys(c) => keys::run(&open_store(&global).await?, c).await,
        Command::User(c) => user::run(&open_store(&global).await?, c).await,
        Command::Grant(c) => grant::run(&open_store(&global).await?, c).await,
        Command::AdminToken(c) => admin_token::run(&open_store(&global).await?, c).await,
        Command::App(c) => app::run(&open_store(&global).await?, c).await,
        Command::Apikey(c) => apikey::run(&open_store(&global).await?, c).await,
        Command::Permission(c) => permission::run(&open_store(&global).await?, c).await,
        Command::Role(c) => role::run(&open_store(&global).await?, c).await,
        Command::PublicUrl(c) => public_url::run(&open_store(&global).await?, c).await,
        Command::Audit(c) => audit::run(&open_store(&global).await?, c).await,
    }
}

/// Opens (creating and migrating if needed) the configured database and makes sure
/// the default realm exists, as the server would.
pub async fn open_store(global: &GlobalArgs) -> Result<Arc<dyn Store>, String> {
    let config = Config::resolve(global, &ServeArgs::default())?;
    connect(&config).await
}

pub async fn connect(config: &Config) -> Result<Arc<dyn Store>, String> {
    let (options, origin) = store_options(config)?;
    let store = portcullis_store::connect(&config.database_url, &options)
        .await
        .map_err(|e| format!("cannot open database {}: {e}", redact_url(&config.database_url)))?;
    // Once the database opened under it, so a refused start's first line is its error.
    crate::master_key::log(&origin);
    let clock = portcullis_core::clock::SystemClock;
    portcullis_core::admin::Admin::new(store.as_ref(), &clock)
        .ensure_default_realm()
        .await
        .map_err(|e| e.to_string())?;
    Ok(store)
}

/// The store's options, with the master key resolved, and where it came from.
fn store_options(config: &Config) -> Result<(StoreOptions, crate::master_key::Origin), String> {
    let master = crate::master_key::resolve(config.master_key_file.as_deref(), &config.database_url)?;
    let options = StoreOptions {
        sqlite_busy_timeout: config.sqlite_busy_timeout,
        max_connections: config.max_connections,
        sqlite_synchronous: config.sqlite_synchronous,
        sqlite_write_queue: config.sqlite_write_queue,
        acquire_timeout: config.database_acquire_timeout,
        statement_timeout: config.database_statement_timeout,
        at_rest: master.at_rest,
    };
    Ok((options, master.origin))
}

/// `keys rewrap`: every private key and the pepper sealed under the key in `new_file`
/// (created with a fresh key if missing) instead of the configured master key.
pub async fn rewrap(global: &GlobalArgs, new_file: &std::path::Path) -> Result<(usize, String), String> {
    let config = Config::resolve(global, &ServeArgs::default())?;
    let (options, _) = store_options(&config)?;
    let new = match crate::master_key::write_new(new_file)? {
        Some(key) => key,
        None => crate::master_key::read_file(new_file)?,
    };
    let id = new.id().to_owned();
    let count = portcullis_store::rewrap(&config.database_url, &options, new.clone())
        .await
        .map_err(|e| format!("cannot rewrap the keys of {}: {e}", redact_url(&config.database_url)))?;
    // The database now opens only under the new key, so the event is written through
    // a store opened with it. The key's id names it without revealing it (it already
    // prefixes every sealed value); the key itself never reaches the event.
    let detail = serde_json::json!({ "rewrapped": count, "master_key_id": id });
    let options = StoreOptions { at_rest: portcullis_core::at_rest::AtRest::new(Some(new)), ..options };
    match portcullis_store::connect(&config.database_url, &options).await {
        Ok(store) => changes::record_detail(store.as_ref(), "keys.rewrap", None, None, detail).await,
        Err(e) => eprintln!("warning: the keys were rewrapped but the audit event (keys.rewrap) was not recorded: {e}"),
    }
    Ok((count, id))
}

/// A database URL without its password, for messages.
fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("****"));
            u.to_string()
        }
        _ => raw.to_owned(),
    }
}
