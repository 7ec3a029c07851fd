use std::io::Read;

use clap::{Args, Subcommand};
use portcullis_core::admin::{Admin, AdminError, UserSpec};
use portcullis_core::clock::SystemClock;
use portcullis_core::model::{User, UserKind, split_list};
use portcullis_core::store::Store;
use serde_json::{Value, json};

use super::changes;
use crate::output::{done, print};

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account
    Create {
        #[arg(long)]
        realm: String,
        #[arg(long)]
        username: String,
        /// Read the password from standard input (one line)
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        fields: UserFields,
        #[arg(long)]
        json: bool,
    },
    /// List a realm's accounts
    List {
        #[arg(long)]
        realm: String,
        #[arg(long)]
        json: bool,
    },
    /// Show an account (never its password hash)
    Show {
        #[arg(long)]
        realm: String,
        /// User id or username
        user: String,
        #[arg(long)]
        json: bool,
    },
    /// Change an account; only the given fields change
    Update {
        #[arg(long)]
        realm: String,
        /// User id or username
        user: String,
        /// New username
        #[arg(long)]
        username: Option<String>,
        #[command(flatten)]
        fields: UserFields,
        #[arg(long, conflicts_with = "disable")]
        enable: bool,
        #[arg(long)]
        disable: bool,
        #[arg(long)]
        json: bool,
    },
    /// Disable an account: it cannot sign in and its tokens stop working
    Disable {
        #[arg(long)]
        realm: String,
        /// User id or username
        user: String,
        #[arg(long)]
        json: bool,
    },
    /// Delete an account with its grants, tokens, consents and sessions
    Delete {
        #[arg(long)]
        realm: String,
        /// User id or username
        user: String,
        #[arg(long)]
        json: bool,
    },
    /// Clear an account's failed sign-in counters, from every address
    Unlock {
        #[arg(long)]
        realm: String,
        /// User id or username
        user: String,
        #[arg(long)]
        json: bool,
    },
    /// Set a new password (read from standard input); revokes the user's grants
    SetPassword {
        #[arg(long)]
        realm: String,
        /// User id or username
        user: String,
        /// Read the password from standard input (the only way to give one)
        #[arg(long)]
        password_stdin: bool,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct UserFields {
    /// Roles (the token response's `authorities`), comma separated
    #[arg(long, value_name = "r1,r2")]
    roles: Option<String>,
    /// Teams, comma separated
    #[arg(long, value_name = "t1,t2")]
    teams: Option<String>,
    /// staff (default) or customer
    #[arg(long, value_name = "staff|customer")]
    kind: Option<String>,
}

impl UserFields {
    fn spec(&self, username: Option<String>) -> Result<UserSpec, String> {
        Ok(UserSpec {
            username,
            roles: self.roles.as_deref().map(split_list),
            teams: self.teams.as_deref().map(split_list),
            kind: self.kind.as_deref().map(str::parse::<UserKind>).transpose()?,
            disabled: None,
        })
    }
}

fn read_password() -> Result<String, String> {
    let mut s = String::new();
    std::io::stdin().read_to_string(&mut s).map_err(|e| format!("cannot read the password from stdin: {e}"))?;
    let line = s.lines().next().unwrap_or("").to_owned();
    if line.is_empty() {
        return Err("no password on standard input".into());
    }
    Ok(line)
}

pub fn user_json(u: &User) -> Value {
    json!({
        "id": u.id,
        "realm": u.realm,
        "username": u.username,
        "kind": u.kind.as_str(),
        "roles": u.roles,
        "teams": u.teams,
        "disabled": u.disabled,
        "has_password": u.password_hash.is_some(),
        "created_at": u.created_at,
        "updated_at": u.updated_at,
    })
}

pub async fn run(store: &std::sync::Arc<dyn Store>, command: UserCommand) -> Result<(), String> {
    let clock = SystemClock;
    let admin = Admin::new(store.as_ref(), &clock);
    let err = |e: AdminError| e.to_string();
    match command {
        UserCommand::Create { realm, username, password_stdin, fields, json } => {
            let spec = fields.spec(Some(username))?;
            let password = if password_stdin { Some(read_password()?) } else { None };
            let user = admin.create_user(&realm, &spec, password.as_deref()).await.map_err(err)?;
            changes::record(store.as_ref(), "user.create", Some(&realm), Some(&user.id)).await;
            print(&user_json(&user), json);
        }
        UserCommand::List { realm, json } => {
            admin.realm(&realm).await.map_err(err)?;
            let users = store.list_users(&realm).await.map_err(|e| e.to_string())?;
            print(&Value::Array(users.iter().map(user_json).collect()), json);
        }
        UserCommand::Show { realm, user, json } => {
            print(&user_json(&admin.user(&realm, &user).await.map_err(err)?), json)
        }
        UserCommand::Update { realm, user, username, fields, enable, disable, json } => {
            let mut spec = fields.spec(username)?;
            spec.disabled = if disable {
                Some(true)
            } else if enable {
                Some(false)
            } else {
                None
            };
            let before = user_json(&admin.user(&realm, &user).await.map_err(err)?);
            let updated = admin.update_user(&realm, &user, &spec).await.map_err(err)?;
            let after = user_json(&updated);
            changes::record_change(
                store.as_ref(),
                "user.update",
                Some(&realm),
                Some(&updated.id),
                before,
                after.clone(),
            )
            .await;
            print(&after, json);
        }
        UserCommand::Disable { realm, user, json } => {
            let spec = UserSpec { disabled: Some(true), ..Default::default() };
            let before = user_json(&admin.user(&realm, &user).await.map_err(err)?);
            let updated = admin.update_user(&realm, &user, &spec).await.map_err(err)?;
            // Disabling is an update through the admin API (`PATCH` with `disabled`).
            changes::record_change(
                store.as_ref(),
                "user.update",
                Some(&realm),
                Some(&updated.id),
                before,
                user_json(&updated),
            )
            .await;
            done(&format!("disabled user {user}; their browser sessions ended"), user_json(&updated), json);
        }
        UserCommand::Delete { realm, user, json } => {
            let user_id = admin.user(&realm, &user).await.map_err(err)?.id;
            admin.delete_user(&realm, &user_id).await.map_err(err)?;
            changes::record(store.as_ref(), "user.delete", Some(&realm), Some(&user_id)).await;
            done(&format!("deleted user {user}"), json!({"realm": realm, "user": user, "deleted": true}), json);
        }
        UserCommand::Unlock { realm, user, json } => {
            let (user, cleared) = admin.unlock_user(&realm, &user).await.map_err(err)?;
            changes::record(store.as_ref(), "user.unlock", Some(&realm), Some(&user.id)).await;
            let out =
                json!({ "id": user.id, "realm": user.realm, "username": user.username, "cleared_counters": cleared });
            print(&out, json);
        }
        UserCommand::SetPassword { realm, user, password_stdin, json } => {
            if !password_stdin {
                return Err("give the new password on standard input with --password-stdin".into());
            }
            let password = read_password()?;
            let updated = admin.set_password(&realm, &user, &password).await.map_err(err)?;
            changes::record(store.as_ref(), "user.set_password", Some(&realm), Some(&updated.id)).await;
            done(
                &format!("password set for {user}; their grants were revoked and their browser sessions ended"),
                json!({"realm": realm, "user": user, "password_set": true, "grants_revoked": true}),
                json,
            );
        }
    }
    Ok(())
}
