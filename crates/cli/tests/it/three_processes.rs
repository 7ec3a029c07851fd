//! Three `portcullis serve` processes on one PostgreSQL database, all with one
//! `--public-url` as behind a load balancer (issue 14; SECURITY-CASES R1, R12). The
//! server's own multi-instance tests run their instances in one process; here nothing
//! is shared but the database, so a cache or lock in one process cannot hide a gap.
//! Opaque tokens in realm `default`, JWTs (ES256, with a key rotation) in realm `jwt`.

use serde_json::Value;

use crate::load::{Accounts, PASSWORD, REDIRECT, client_in, code_through_pages};
use crate::{Server, Workspace, free_port, serve_with};

/// Races of each one-time thing; each round starts from a fresh one.
const ROUNDS: usize = 4;

/// Starts the three processes; the first listens at the public URL, so the pages'
/// redirects (built from it) lead back to a live process.
fn three_processes(w: &Workspace) -> (Vec<Server>, Vec<String>) {
    let port = free_port();
    let public = format!("http://127.0.0.1:{port}");
    let (mut servers, mut bases) = (Vec::new(), Vec::new());
    for bind in [format!("127.0.0.1:{port}"), "127.0.0.1:0".into(), "127.0.0.1:0".into()] {
        let (server, base, _) = serve_with(w, &["--bind", &bind, "--public-url", &public]);
        servers.push(server);
        bases.push(base);
    }
    let mut distinct = bases.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 3, "three processes on their own ports: {bases:?}");
    (servers, bases)
}

/// POSTs `form` to `base`'s token-family `path` in realm `default`; the status and
/// JSON body.
async fn post(
    http: &reqwest::Client,
    base: &str,
    path: &str,
    auth: &(String, String),
    form: &[(&str, &str)],
) -> (u16, Value) {
    post_in(http, base, "default", path, auth, form).await
}

async fn post_in(
    http: &reqwest::Client,
    base: &str,
    realm: &str,
    path: &str,
    auth: &(String, String),
    form: &[(&str, &str)],
) -> (u16, Value) {
    let mut request = http.post(format!("{base}/realms/{realm}/oauth/{path}")).form(form);
    if !auth.1.is_empty() {
        request = request.basic_auth(&auth.0, Some(&auth.1));
    }
    let r = request.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn active_at(http: &reqwest::Client, base: &str, accounts: &Accounts, token: &str) -> bool {
    active_in(http, base, "default", &accounts.introspector, token).await
}

/// Whether `introspector` of `realm` finds `token` active at `base`.
async fn active_in(
    http: &reqwest::Client,
    base: &str,
    realm: &str,
    introspector: &(String, String),
    token: &str,
) -> bool {
    let (status, info) = post_in(http, base, realm, "introspect", introspector, &[("token", token)]).await;
    assert_eq!(status, 200, "{info}");
    info["active"] == true
}

/// The same token request sent to each of `bases` at once: the answers, in that order.
async fn race(
    http: &reqwest::Client,
    bases: &[&String],
    auth: &(String, String),
    form: &[(&str, &str)],
) -> Vec<(u16, Value)> {
    let form: Vec<(String, String)> = form.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    let tasks: Vec<_> = bases
        .iter()
        .map(|base| {
            let (http, base, auth, form) = (http.clone(), (*base).clone(), auth.clone(), form.clone());
            tokio::spawn(async move {
                let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                post(&http, &base, "token", &auth, &form).await
            })
        })
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    answers
}

/// Exactly one 200; every other answer a 400 `invalid_grant`.
fn one_winner(answers: &[(u16, Value)], what: &str) -> Value {
    let winners: Vec<&Value> = answers.iter().filter(|(s, _)| *s == 200).map(|(_, v)| v).collect();
    assert_eq!(winners.len(), 1, "{what}: {answers:?}");
    let losers = answers.iter().filter(|(s, v)| *s == 400 && v["error"] == "invalid_grant").count();
    assert_eq!(losers, answers.len() - 1, "{what}: {answers:?}");
    winners[0].clone()
}

async fn checks(w: Workspace) {
    let accounts = Accounts::create(&w);
    let (_servers, bases) = three_processes(&w);
    let [a, b, c] = [&bases[0], &bases[1], &bases[2]];
    let http = reqwest::Client::new();

    // 1. Issued at A, active at B and C.
    let (status, t) = post(&http, a, "token", &accounts.machine, &[("grant_type", "client_credentials")]).await;
    assert_eq!(status, 200, "{t}");
    let at = t["access_token"].as_str().unwrap();
    for base in [a, b, c] {
        assert!(active_at(&http, base, &accounts, at).await, "issued at {a}, inactive at {base}");
    }

    // 2. Revoked at B (RFC 7009): inactive everywhere once the revoke has answered.
    let (status, body) = post(&http, b, "revoke", &accounts.machine, &[("token", at)]).await;
    assert_eq!(status, 200, "{body}");
    for base in [a, c, b] {
        assert!(!active_at(&http, base, &accounts, at).await, "revoked at {b}, still active at {base}");
    }

    // 3. One refresh token sent to A, B and C at once: one rotation; the losers'
    // reuse revokes the family, the winner's new tokens included, at every process.
    for round in 0..ROUNDS {
        let sign_in = [("grant_type", "password"), ("username", "alice"), ("password", PASSWORD)];
        let (status, t) = post(&http, &bases[round % 3], "token", &accounts.app, &sign_in).await;
        assert_eq!(status, 200, "{t}");
        let rt = t["refresh_token"].as_str().unwrap();
        let answers =
            race(&http, &[a, b, c], &accounts.app, &[("grant_type", "refresh_token"), ("refresh_token", rt)]).await;
        let won = one_winner(&answers, &format!("refresh round {round}"));
        let new_at = won["access_token"].as_str().unwrap();
        for base in [a, b, c] {
            assert!(!active_at(&http, base, &accounts, new_at).await, "round {round}: reuse left {base} a live token");
        }
    }

    // 4. One authorization code sent to B and C at once: one exchange.
    for round in 0..ROUNDS {
        let (code, verifier) = code_through_pages(a, &accounts.web.0).await.expect("a code through A's pages");
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("client_id", accounts.web.0.as_str()),
            ("code_verifier", verifier.as_str()),
        ];
        let answers = race(&http, &[b, c], &accounts.web, &form).await;
        one_winner(&answers, &format!("code round {round}"));
    }

    jwt_checks(&w, &http, [a, b, c]).await;
}

/// Step 5, a JWT realm: a JWT issued at A is active at B and C; a key rotated through A's
/// admin API is published by every process at once, verified by every process at once
/// (an unknown `kid` reloads the ring), and used for signing by B and C within their
/// key cache's lifetime (`KEY_CACHE_TTL`, 10 s); a JWT revoked at C is inactive at A
/// and B once the revoke has answered.
async fn jwt_checks(w: &Workspace, http: &reqwest::Client, [a, b, c]: [&String; 3]) {
    w.json(&["realm", "create", "jwt", "--token-format", "jwt", "--signing-alg", "ES256", "--json"]);
    let machine = client_in(w, "jwt", "machine", &["--grant-types", "client_credentials"]);
    let introspector = client_in(w, "jwt", "rs", &["--resource-server"]);
    let admin_token = w.json(&["admin-token", "create", "--json"])["token"].as_str().unwrap().to_owned();
    let issue = async |base: &str| {
        let (status, t) = post_in(http, base, "jwt", "token", &machine, &[("grant_type", "client_credentials")]).await;
        assert_eq!(status, 200, "{t}");
        t["access_token"].as_str().unwrap().to_owned()
    };
    let active = async |base: &str, token: &str| active_in(http, base, "jwt", &introspector, token).await;
    let kid = |t: &str| {
        use base64::Engine;
        let header = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(t.split('.').next().unwrap()).unwrap();
        serde_json::from_slice::<Value>(&header).unwrap()["kid"].as_str().unwrap().to_owned()
    };
    let published = async |base: &str| -> Vec<String> {
        let set: Value = http.get(format!("{base}/realms/jwt/jwks.json")).send().await.unwrap().json().await.unwrap();
        set["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect()
    };

    // Every process signs once, so each has the old ring cached.
    let before = [issue(a).await, issue(b).await, issue(c).await];
    for base in [a, b, c] {
        assert!(active(base, &before[0]).await, "a JWT of A inactive at {base}");
    }
    let old_kid = kid(&before[0]);

    let rotated =
        http.post(format!("{a}/admin/realms/jwt/keys/rotate")).bearer_auth(&admin_token).send().await.unwrap();
    assert_eq!(rotated.status().as_u16(), 200);
    let new_kid = rotated.json::<Value>().await.unwrap()["kid"].as_str().unwrap().to_owned();
    assert_ne!(new_kid, old_kid);
    for base in [c, b, a] {
        let kids = published(base).await;
        assert!(kids.contains(&old_kid) && kids.contains(&new_kid), "JWKS of {base} after the rotation: {kids:?}");
    }
    let from_a = issue(a).await;
    assert_eq!(kid(&from_a), new_kid, "A signs with the key it rotated in");
    for base in [b, c] {
        assert!(active(base, &from_a).await, "a JWT of the new key inactive at {base}");
    }
    // B and C sign with the new key once their key cache has expired.
    for base in [b, c] {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        loop {
            if kid(&issue(base).await) == new_kid {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "{base} still signs with the old key after 15 s");
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
    }
    for t in &before {
        assert!(active(b, t).await, "a JWT of the retired key stays valid");
    }

    // Revoked at C (RFC 7009): inactive everywhere once the revoke has answered.
    let (status, body) = post_in(http, c, "jwt", "revoke", &machine, &[("token", from_a.as_str())]).await;
    assert_eq!(status, 200, "{body}");
    for base in [a, b, c] {
        assert!(!active(base, &from_a).await, "a JWT revoked at {c} still active at {base}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_processes_on_one_postgres_agree_on_tokens_revocations_and_one_time_spends() {
    let Some(db) = portcullis_store::testing::TestDatabase::create("three_processes").await else { return };
    let outcome = tokio::spawn(checks(Workspace::on(&db.url))).await;
    db.drop_database().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}
