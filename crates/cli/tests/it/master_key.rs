//! The master key as an operator meets it: generated next to a new SQLite database
//! (owner-only), required to start, and replaced by `keys rewrap` without
//! invalidating the tokens signed before.

use std::process::Command;

use serde_json::Value;

use crate::{Workspace, serve_with};

async fn token_and_introspect(base: &str, id: &str, secret: &str, token: Option<&str>) -> (String, Value) {
    let http = reqwest::Client::new();
    let token = match token {
        Some(t) => t.to_owned(),
        None => {
            let issued: Value = http
                .post(format!("{base}/realms/jwt/oauth/token"))
                .basic_auth(id, Some(secret))
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            issued["access_token"].as_str().unwrap().to_owned()
        }
    };
    let info = http
        .post(format!("{base}/realms/jwt/oauth/introspect"))
        .basic_auth(id, Some(secret))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (token, info)
}

fn stop(server: crate::Server) {
    let mut server = server;
    let pid = server.0.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    assert!(server.0.wait().unwrap().success());
}

#[tokio::test]
async fn a_generated_master_key_seals_the_keys_and_rewrap_keeps_old_tokens_valid() {
    let w = Workspace::new();
    w.json(&["realm", "create", "jwt", "--token-format", "jwt", "--signing-alg", "ES256", "--json"]);
    let key_file = w.dir.path().join("p.db.master-key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).expect("master key generated").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let c = w.json(&[
        "client",
        "create",
        "--realm",
        "jwt",
        "--name",
        "svc",
        "--grant-types",
        "client_credentials",
        "--json",
    ]);
    let (id, secret) = (c["client_id"].as_str().unwrap(), c["client_secret"].as_str().unwrap());

    // One address for both runs: the issuer (and so the JWT's `iss`) derives from it.
    let bind = format!("127.0.0.1:{}", crate::free_port());
    let (server, base, _) = serve_with(&w, &["--bind", &bind]);
    let (jwt, info) = token_and_introspect(&base, id, secret, None).await;
    assert_eq!(info["active"], true, "{info}");
    stop(server);

    let new_key = w.dir.path().join("new.key");
    let rewrapped = w.json(&["keys", "rewrap", "--new-key-file", new_key.to_str().unwrap(), "--json"]);
    // Two realms' keys and the pepper.
    assert_eq!(rewrapped["rewrapped"], 3, "{rewrapped}");

    // The old key (still in the default file) no longer opens the database.
    w.refused(&["serve", "--bind", "127.0.0.1:0"], "wrong master key");
    w.refused(&["realm", "list"], "wrong master key");
    // Audited as a server event, written under the new key; never the key itself.
    let new_key_flag = ["--master-key-file", new_key.to_str().unwrap()];
    let events =
        w.json(&[&["audit", "list", "--server", "--kind", "admin.change", "--json"][..], &new_key_flag].concat());
    let rewraps: Vec<&serde_json::Value> =
        events.as_array().unwrap().iter().filter(|e| e["action"] == "keys.rewrap").collect();
    assert_eq!(rewraps.len(), 1, "{events}");
    assert!(rewraps[0]["realm"].is_null(), "{events}");
    assert_eq!(rewraps[0]["detail"]["rewrapped"], 3, "{events}");
    assert_eq!(rewraps[0]["detail"]["master_key_id"], rewrapped["master_key_id"], "{events}");
    for key_file in [&new_key, &key_file] {
        let key = std::fs::read_to_string(key_file).unwrap();
        assert!(!events.to_string().contains(key.trim()), "a master key reached the audit log: {events}");
    }

    let (server, base, _) = serve_with(&w, &["--bind", &bind, "--master-key-file", new_key.to_str().unwrap()]);
    let (_, info) = token_and_introspect(&base, id, secret, Some(&jwt)).await;
    assert_eq!(info["active"], true, "a token signed before the rewrap: {info}");
    // The client secret still verifies (its hash is keyed by the rewrapped pepper),
    // and new tokens are signed.
    let (_, info) = token_and_introspect(&base, id, secret, None).await;
    assert_eq!(info["active"], true, "{info}");
    stop(server);
}

#[test]
fn a_bad_master_key_is_a_clear_error() {
    let w = Workspace::new();
    let bad = w.dir.path().join("bad.key");
    std::fs::write(&bad, "too short").unwrap();
    w.refused(&["realm", "list", "--master-key-file", bad.to_str().unwrap()], "master key file");
    let missing = w.dir.path().join("missing.key");
    w.refused(&["serve", "--master-key-file", missing.to_str().unwrap()], "cannot read master key file");
    let out = w.cmd(&["realm", "list"]).env("PORTCULLIS_MASTER_KEY", "c2hvcnQ=").output().unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with("error: PORTCULLIS_MASTER_KEY: the master key is 5 bytes")
    );
    // Nothing was created without a usable key.
    assert!(!w.dir.path().join("p.db").exists());
}
