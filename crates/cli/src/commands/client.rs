use clap::{Args, Subcommand};
use portcullis_core::admin::{Admin, AdminError, ClientSpec};
use portcullis_core::clock::SystemClock;
use portcullis_core::model::{AuthMethod, Client, GrantType, split_list};
use portcullis_core::store::Store;
use serde_json::{Value, json};

use super::changes;
use crate::output::{done, print};

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register a client; a confidential client's secret is printed once
    Create {
        #[arg(long)]
        realm: String,
        #[arg(long)]
        name: String,
        #[command(flatten)]
        fields: FieldArgs,
        /// A public client (no secret; PKCE)
        #[arg(long)]
        public: bool,
        #[arg(long)]
        json: bool,
    },
    /// List a realm's clients
    List {
        #[arg(long)]
        realm: String,
        #[arg(long)]
        json: bool,
    },
    /// Show a client (never its secret)
    Show {
        #[arg(long)]
        realm: String,
        /// Client id or name
        client: String,
        #[arg(long)]
        json: bool,
    },
    /// Change a client's settings; only the given fields change
    Update {
        #[arg(long)]
        realm: String,
        /// Client id or name
        client: String,
        /// New name
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        fields: FieldArgs,
        /// Refuse all authentication and make its tokens inactive
        #[arg(long, conflicts_with = "enable")]
        disable: bool,
        #[arg(long)]
        enable: bool,
        #[arg(long)]
        json: bool,
    },
    /// Delete a client and its tokens
    Delete {
        #[arg(long)]
        realm: String,
        /// Client id or name
        client: String,
        #[arg(long)]
        json: bool,
    },
    /// Issue a new secret; the old one stops working at once
    RotateSecret {
        #[arg(long)]
        realm: String,
        /// Client id or name
        client: String,
        /// Keep the tokens issued so far (by default they are revoked)
        #[arg(long)]
        keep_tokens: bool,
        #[arg(long)]
        json: bool,
    },
    /// Clear a client's failed secret counters, from every address (lifts the lock
    /// that wrong secrets put on it)
    Unlock {
        #[arg(long)]
        realm: String,
        /// Client id or name
        client: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct FieldArgs {
    /// Allowed grant types, comma separated
    #[arg(long, value_name = "G1,G2,...")]
    grant_types: Option<String>,
    /// A registered redirect URI (repeat for several); compared by exact string
    #[arg(long = "redirect-uri", value_name = "URI")]
    redirect_uris: Vec<String>,
    /// Allowed scopes, space separated
    #[arg(long, value_name = "\"s1 s2\"")]
    scope: Option<String>,
    /// Scopes granted when a request names none (default: all allowed scopes)
    #[arg(long, value_name = "\"s1 s2\"")]
    default_scope: Option<String>,
    /// Token endpoint authentication method
    #[arg(long, value_name = "METHOD")]
    auth_method: Option<String>,
    /// Access-token lifetime for this client, overriding the realm's
    #[arg(long, value_name = "SECS")]
    access_ttl: Option<i64>,
    /// Refresh-token lifetime for this client, overriding the realm's
    #[arg(long, value_name = "SECS")]
    refresh_ttl: Option<i64>,
    /// May introspect every token of the realm (a resource server)
    #[arg(long)]
    resource_server: bool,
}

impl FieldArgs {
    fn spec(&self, name: Option<String>, public: bool) -> Result<ClientSpec, String> {
        let grant_types = self
            .grant_types
            .as_deref()
            .map(|g| split_list(g).iter().map(|s| s.parse::<GrantType>()).collect::<Result<Vec<_>, _>>())
            .transpose()?;
        Ok(ClientSpec {
            name,
            grant_types,
            redirect_uris: (!self.redirect_uris.is_empty()).then(|| self.redirect_uris.clone()),
            scopes: self.scope.as_deref().map(split_list),
            default_scopes: self.default_scope.as_deref().map(split_list),
            public,
            auth_method: self.auth_method.as_deref().map(str::parse::<AuthMethod>).transpose()?,
            access_ttl: self.access_ttl,
            refresh_ttl: self.refresh_ttl,
            resource_server: self.resource_server.then_some(true),
            disabled: None,
        })
    }
}

pub fn client_json(c: &Client) -> Value {
    json!({
        "client_id": c.client_id,
        "realm": c.realm,
        "name": c.name,
        "public": c.is_public(),
        "auth_method": c.auth_method.as_str(),
        "grant_types": c.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
        "redirect_uris": c.redirect_uris,
        "scopes": c.scopes,
        "default_scopes": c.default_scopes,
        "access_ttl": c.access_ttl,
        "refresh_ttl": c.refresh_ttl,
        "resource_server": c.resource_server,
        "disabled": c.disabled,
        "created_at": c.created_at,
        "updated_at": c.updated_at,
    })
}

fn with_secret(c: &Client, secret: &str) -> Value {
    let mut v = client_json(c);
    v["client_secret"] = Value::String(secret.to_owned());
    v
}

pub async fn run(store: &std::sync::Arc<dyn Store>, command: ClientCommand) -> Result<(), String> {
    let clock = SystemClock;
    let admin = Admin::new(store.as_ref(), &clock);
    let err = |e: AdminError| e.to_string();
    match command {
        ClientCommand::Create { realm, name, fields, public, json } => {
            let (client, secret) = admin.create_client(&realm, &fields.spec(Some(name), public)?).await.map_err(err)?;
            changes::record(store.as_ref(), "client.create", Some(&realm), Some(&client.client_id)).await;
            match secret {
                Some(s) => print(&with_secret(&client, s.expose()), json),
                None => print(&client_json(&client), json),
            }
        }
        ClientCommand::List { realm, json } => {
            admin.realm(&realm).await.map_err(err)?;
            let clients = store.list_clients(&realm).await.map_err(|e| e.to_string())?;
            print(&Value::Array(clients.iter().map(client_json).collect()), json);
        }
        ClientCommand::Show { realm, client, json } => {
            print(&client_json(&admin.client(&realm, &client).await.map_err(err)?), json);
        }
        ClientCommand::Update { realm, client, name, fields, disable, enable, json } => {
            let mut spec = fields.spec(name, false)?;
            spec.disabled = if disable {
                Some(true)
            } else if enable {
                Some(false)
            } else {
                None
            };
            let before = client_json(&admin.client(&realm, &client).await.map_err(err)?);
            let updated = admin.update_client(&realm, &client, &spec).await.map_err(err)?;
            let after = client_json(&updated);
            changes::record_change(
                store.as_ref(),
                "client.update",
                Some(&realm),
                Some(&updated.client_id),
                before,
                after.clone(),
            )
            .await;
            print(&after, json);
        }
        ClientCommand::Delete { realm, client, json } => {
            let client_id = admin.client(&realm, &client).await.map_err(err)?.client_id;
            admin.delete_client(&realm, &client_id).await.map_err(err)?;
            changes::record(store.as_ref(), "client.delete", Some(&realm), Some(&client_id)).await;
            done(&format!("deleted client {client}"), json!({"realm": realm, "client": client, "deleted": true}), json);
        }
        ClientCommand::RotateSecret { realm, client, keep_tokens, json } => {
            let (client, secret) = admin.rotate_client_secret(&realm, &client, keep_tokens).await.map_err(err)?;
            changes::record(store.as_ref(), "client.rotate_secret", Some(&realm), Some(&client.client_id)).await;
            print(&json!({"client_id": client.client_id, "client_secret": secret.expose()}), json);
        }
        ClientCommand::Unlock { realm, client, json } => {
            let (client, cleared) = admin.unlock_client(&realm, &client).await.map_err(err)?;
            changes::record(store.as_ref(), "client.unlock", Some(&realm), Some(&client.client_id)).await;
            let out = json!({
                "client_id": client.client_id,
                "realm": client.realm,
                "name": client.name,
                "cleared_counters": cleared,
            });
            print(&out, json);
        }
    }
    Ok(())
}
