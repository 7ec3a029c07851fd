//! The admin API's JSON bodies, fuzzed through the real router in-process
//! (`tower::ServiceExt::oneshot`) over an in-memory SQLite store: the same extractor,
//! validation and writes as a request on the wire. Shared by the `admin_json` fuzz
//! target and the replay of its corpus in this crate's tests.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, header};
use portcullis_core::admin::Admin;
use portcullis_core::authority::Authority;
use portcullis_core::clock::{Clock, SystemClock};
use tower::ServiceExt;

use crate::{AppState, HttpSettings};

/// The routes that read a JSON body; the fuzzer's first byte picks one. They act on
/// the objects [`SETUP`] creates in realm `fuzz`.
pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/admin/realms"),
    ("PATCH", "/admin/realms/fuzz"),
    ("POST", "/admin/realms/fuzz/clients"),
    ("PATCH", "/admin/realms/fuzz/clients/c1"),
    ("POST", "/admin/realms/fuzz/clients/c1/secret"),
    ("POST", "/admin/realms/fuzz/users"),
    ("PATCH", "/admin/realms/fuzz/users/u1"),
    ("POST", "/admin/realms/fuzz/users/u1/password"),
    ("POST", "/admin/realms/fuzz/apps"),
    ("POST", "/admin/realms/fuzz/api-keys"),
    ("POST", "/admin/realms/fuzz/permissions"),
    ("PUT", "/admin/realms/fuzz/roles/r1"),
];

/// Created once before the first input, each answered 2xx.
const SETUP: &[(&str, &str, &str)] = &[
    ("POST", "/admin/realms", r#"{"name":"fuzz"}"#),
    (
        "POST",
        "/admin/realms/fuzz/clients",
        r#"{"name":"c1","grant_types":["authorization_code","refresh_token"],"redirect_uris":["https://app.example/cb"],"scopes":["read","write"]}"#,
    ),
    ("POST", "/admin/realms/fuzz/users", r#"{"username":"u1"}"#),
    ("POST", "/admin/realms/fuzz/apps", r#"{"name":"a1"}"#),
    ("POST", "/admin/realms/fuzz/permissions", r#"{"name":"p1"}"#),
    ("PUT", "/admin/realms/fuzz/roles/r1", r#"{"permissions":["p1"]}"#),
];

/// What undoes an accepted change to an object of [`SETUP`], by the index in
/// [`ROUTES`] of the route that made it: sent after each input that route accepted,
/// so every input meets the objects as [`SETUP`] made them. Without it an input's
/// coverage depended on the inputs run before it (a client made public-only by one
/// input refused the next one's change), and two replays of one corpus in different
/// orders covered different branches of the same validation, which hid whether a
/// run had stopped finding new ones. Objects an input creates are left: a second
/// creation of one name meets the conflict whatever the order.
fn resets(client_id: &str, user_id: &str) -> Vec<Reset> {
    use portcullis_core::model::{DEFAULT_ACCESS_TTL, DEFAULT_CODE_TTL, DEFAULT_CUSTOMER_TTL, DEFAULT_REFRESH_TTL};
    let realm = format!(
        r#"{{"access_ttl":{DEFAULT_ACCESS_TTL},"refresh_ttl":{DEFAULT_REFRESH_TTL},"token_format":"opaque","signing_alg":"ES256","refresh_policy":"rotate","refresh_grace":0,"allow_implicit":false,"require_pkce":false,"allow_plain_pkce":false,"code_ttl":{DEFAULT_CODE_TTL},"customer_ttl":{DEFAULT_CUSTOMER_TTL}}}"#
    );
    // By id: an accepted input may have renamed `c1` or `u1`.
    vec![
        Reset { route: 1, method: "PATCH", path: "/admin/realms/fuzz".to_owned(), body: realm },
        Reset {
            route: 3,
            method: "PATCH",
            path: format!("/admin/realms/fuzz/clients/{client_id}"),
            body: r#"{"name":"c1","grant_types":["authorization_code","refresh_token"],"redirect_uris":["https://app.example/cb"],"scopes":["read","write"],"default_scopes":["read","write"],"auth_method":"client_secret_basic","resource_server":false,"disabled":false}"#.to_owned(),
        },
        Reset {
            route: 6,
            method: "PATCH",
            path: format!("/admin/realms/fuzz/users/{user_id}"),
            body: r#"{"username":"u1","roles":[],"teams":[],"kind":"staff","disabled":false}"#.to_owned(),
        },
        Reset {
            route: 11,
            method: "PUT",
            path: "/admin/realms/fuzz/roles/r1".to_owned(),
            body: r#"{"permissions":["p1"]}"#.to_owned(),
        },
    ]
}

/// What undoes an accepted creation, by the index in [`ROUTES`] of the route that made
/// it: the method, the path with `{}` for the new object's id, and the field of the
/// answer that holds the id. Left in place, created objects made an input's coverage
/// depend on earlier inputs too (a role's permissions are checked against the
/// permissions earlier inputs had created).
const CREATIONS: &[(usize, &str, &str, &str)] = &[
    (0, "DELETE", "/admin/realms/{}", "name"),
    (2, "DELETE", "/admin/realms/fuzz/clients/{}", "client_id"),
    (5, "DELETE", "/admin/realms/fuzz/users/{}", "id"),
    (8, "DELETE", "/admin/realms/fuzz/apps/{}", "app_id"),
    (9, "POST", "/admin/realms/fuzz/api-keys/{}/revoke", "id"),
    (10, "DELETE", "/admin/realms/fuzz/permissions/{}", "name"),
];

/// A request that undoes what an accepted input of route `route` changed.
struct Reset {
    route: usize,
    method: &'static str,
    path: String,
    body: String,
}

const CONTENT_TYPES: [Option<&str>; 4] =
    [Some("application/json"), Some("application/json"), None, Some("Application/JSON; charset=utf-8")];

struct Harness {
    runtime: tokio::runtime::Runtime,
    router: axum::Router,
    authorization: String,
    resets: Vec<Reset>,
}

impl Harness {
    fn send(&self, method: &str, path: &str, content_type: Option<&str>, body: &[u8]) -> (u16, Vec<u8>) {
        let mut request =
            Request::builder().method(method).uri(path).header(header::AUTHORIZATION, &self.authorization);
        if let Some(ct) = content_type {
            request = request.header(header::CONTENT_TYPE, ct);
        }
        let request = request.body(Body::from(body.to_vec())).expect("a request");
        self.runtime.block_on(async {
            let response = self.router.clone().oneshot(request).await.expect("the router is infallible");
            let status = response.status().as_u16();
            let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("a response body");
            (status, body.to_vec())
        })
    }
}

impl Harness {
    /// Sends a request that must be accepted; its answer as JSON (null when empty).
    fn send_accepted(&self, method: &str, path: &str, body: &str) -> serde_json::Value {
        let (status, answer) = self.send(method, path, Some("application/json"), body.as_bytes());
        assert!((200..300).contains(&status), "{method} {path}: {status} {}", String::from_utf8_lossy(&answer));
        serde_json::from_slice(&answer).unwrap_or_default()
    }

    /// Undoes what an accepted input of route `route` changed ([`resets`]) or created
    /// ([`CREATIONS`]), `answer` being its answer.
    fn reset_after(&self, route: usize, answer: &serde_json::Value) {
        for reset in self.resets.iter().filter(|r| r.route == route) {
            self.send_accepted(reset.method, &reset.path, &reset.body);
        }
        for (_, method, path, field) in CREATIONS.iter().filter(|(r, ..)| *r == route) {
            let id = answer[*field].as_str().unwrap_or_else(|| panic!("no {field} in {answer}"));
            self.send_accepted(method, &path.replace("{}", id), "");
        }
    }
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
        let (router, authorization) = runtime.block_on(async {
            // A fuzzer starved of CPU (a build beside it, `nice 19`) can hold SQLite's
            // write lock for seconds, past the default 5 s busy timeout, or wait longer
            // than the 1 s `acquire_timeout` for a pooled connection (seen at 43
            // executions/s: POST api-keys answered 503), and a request waiting is then
            // answered 503: no fault of the body it sent. Waited for instead; the
            // request timeout (408, accepted) still bounds it.
            let options = portcullis_store::StoreOptions {
                sqlite_busy_timeout: Duration::from_secs(3600),
                acquire_timeout: Duration::from_secs(3600),
                ..Default::default()
            };
            let store = portcullis_store::connect("sqlite::memory:", &options).await.expect("a store");
            let clock: Arc<dyn Clock> = Arc::new(SystemClock);
            let admin = Admin::new(store.as_ref(), clock.as_ref());
            admin.ensure_default_realm().await.expect("the default realm");
            let (_, token) = admin.create_admin_token(None).await.expect("an admin token");
            let authority = Authority::new(store.clone(), clock, "http://127.0.0.1:9").await.expect("an authority");
            let state =
                AppState { authority: Arc::new(authority), settings: Arc::new(HttpSettings::default()), metrics: None };
            (crate::router(state), format!("Bearer {}", token.expose()))
        });
        let mut harness = Harness { runtime, router, authorization, resets: Vec::new() };
        let answers: Vec<serde_json::Value> =
            SETUP.iter().map(|(method, path, body)| harness.send_accepted(method, path, body)).collect();
        let id = |at: usize, field: &str| answers[at][field].as_str().expect("an id in the setup's answer").to_owned();
        harness.resets = resets(&id(1, "client_id"), &id(2, "id"));
        // Each reset is itself accepted (a typo in one would otherwise go unseen).
        for reset in &harness.resets {
            harness.send_accepted(reset.method, &reset.path, &reset.body);
        }
        harness
    })
}

/// The first byte picks a route of [`ROUTES`], the second a `Content-Type`, the rest
/// is the body. Whatever the body, the answer is never a 5xx (a panicking handler
/// answers 500) and is a JSON object; a refusal carries an `error` code and a
/// description.
pub fn admin_json(data: &[u8]) {
    let [route, content_type, body @ ..] = data else { return };
    let route = usize::from(*route) % ROUTES.len();
    let (method, path) = ROUTES[route];
    let content_type = CONTENT_TYPES[usize::from(*content_type) % CONTENT_TYPES.len()];
    let harness = harness();
    let (status, answer) = harness.send(method, path, content_type, body);
    let shown = || {
        format!("{method} {path} {:?} -> {status} {}", String::from_utf8_lossy(body), String::from_utf8_lossy(&answer))
    };
    assert!(status < 500, "{}", shown());
    let json = if status == 204 {
        serde_json::Value::Null
    } else {
        let json: serde_json::Value =
            serde_json::from_slice(&answer).unwrap_or_else(|_| panic!("not JSON: {}", shown()));
        assert!(json.is_object(), "{}", shown());
        if status >= 400 {
            assert!(json["error"].is_string() && json["error_description"].is_string(), "{}", shown());
        }
        json
    };
    if (200..300).contains(&status) {
        harness.reset_after(route, &json);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn admin_json_corpus_replays() {
        portcullis_core::fuzzing::replay_corpus("admin_json", super::admin_json);
    }
}
