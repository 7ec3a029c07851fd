//! Drives every operation of the OpenAPI document with generated input (a seeded walk
//! of the document's schemas: well-typed values, wrong types, missing and unknown
//! fields, unicode, huge and empty strings, path parameters that name nothing) against
//! a real server with a valid admin token, and asserts that nothing answers 5xx and
//! every error is the documented JSON. The seed is printed on failure; set
//! `ADMIN_FUZZ_SEED` to replay one, `ADMIN_FUZZ_CASES` for more cases per operation.

use reqwest::Method;
use serde_json::{Map, Value, json};

use super::Api;
use super::openapi::{METHODS, document};

struct Gen<'a> {
    rng: fastrand::Rng,
    doc: &'a Value,
    /// Path values that name real objects, so some cases go past the lookup.
    known: Vec<String>,
}

const STRINGS: &[&str] = &[
    "",
    "a",
    "default",
    "acme",
    "ü日本語🦀",
    "\u{0}",
    "\u{202e}evil",
    "../../etc/passwd",
    "%00",
    "' OR 1=1 --",
    "javascript:alert(1)",
    "https://app.example/cb",
    "http://127.0.0.1/cb",
    "client_credentials",
    "authorization_code",
    "refresh_token",
    "jwt",
    "opaque",
    "ES256",
    "HS512",
    "customer",
    "none",
    "-1",
    "9223372036854775808",
    "correct horse battery",
];

impl Gen<'_> {
    fn string(&mut self) -> String {
        match self.rng.u8(0..10) {
            0 => "x".repeat(self.rng.usize(256..70_000)),
            1 => (0..self.rng.usize(1..40)).map(|_| self.rng.char(..)).collect(),
            2 => (0..self.rng.usize(1..20)).map(|_| self.rng.alphanumeric()).collect(),
            3 if !self.known.is_empty() => self.known[self.rng.usize(..self.known.len())].clone(),
            _ => STRINGS[self.rng.usize(..STRINGS.len())].to_owned(),
        }
    }

    fn number(&mut self) -> Value {
        match self.rng.u8(0..6) {
            0 => json!(i64::MAX),
            1 => json!(i64::MIN),
            2 => json!(0),
            3 => json!(-1),
            4 => json!(1.5e300),
            _ => json!(self.rng.i64(-100..100_000)),
        }
    }

    /// Any JSON value, of any type.
    fn anything(&mut self, depth: u32) -> Value {
        match self.rng.u8(0..7) {
            0 => Value::Null,
            1 => Value::Bool(self.rng.bool()),
            2 => self.number(),
            3 | 4 => Value::String(self.string()),
            5 if depth < 3 => Value::Array((0..self.rng.usize(0..4)).map(|_| self.anything(depth + 1)).collect()),
            _ if depth < 3 => {
                let mut m = Map::new();
                for _ in 0..self.rng.usize(0..3) {
                    let k = self.string();
                    m.insert(k, self.anything(depth + 1));
                }
                Value::Object(m)
            }
            _ => Value::Null,
        }
    }

    fn resolve<'s>(&self, schema: &'s Value) -> &'s Value
    where
        Self: 's,
    {
        let mut s = schema;
        while let Some(r) = s["$ref"].as_str() {
            s = self.doc.pointer(r.trim_start_matches('#')).unwrap_or(&Value::Null);
        }
        s
    }

    /// A value for `schema`: mostly of its shape, sometimes of the wrong type.
    fn value(&mut self, schema: &Value, depth: u32) -> Value {
        let schema = self.resolve(schema).clone();
        if self.rng.u8(0..8) == 0 || depth > 4 {
            return self.anything(depth);
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(choices) = schema[key].as_array().filter(|c| !c.is_empty()) {
                let pick = choices[self.rng.usize(..choices.len())].clone();
                return self.value(&pick, depth + 1);
            }
        }
        if schema.get("allOf").is_some() || schema.get("properties").is_some() {
            return self.object(&schema, depth);
        }
        let types: Vec<String> = match &schema["type"] {
            Value::String(t) => vec![t.clone()],
            Value::Array(ts) => ts.iter().filter_map(|t| t.as_str().map(str::to_owned)).collect(),
            _ => vec![],
        };
        let t = if types.is_empty() { "any".to_owned() } else { types[self.rng.usize(..types.len())].clone() };
        match t.as_str() {
            "null" => Value::Null,
            "boolean" => Value::Bool(self.rng.bool()),
            "integer" | "number" => self.number(),
            "string" => Value::String(self.string()),
            "array" => {
                let n = if self.rng.u8(0..10) == 0 { self.rng.usize(50..120) } else { self.rng.usize(0..4) };
                (0..n).map(|_| self.value(&schema["items"], depth + 1)).collect()
            }
            "object" => self.object(&schema, depth),
            _ => self.anything(depth),
        }
    }

    fn object(&mut self, schema: &Value, depth: u32) -> Value {
        let mut props = Map::new();
        let mut required = Vec::new();
        let mut parts = vec![schema.clone()];
        parts.extend(schema["allOf"].as_array().cloned().unwrap_or_default());
        for part in parts {
            let part = self.resolve(&part).clone();
            props.extend(part["properties"].as_object().cloned().unwrap_or_default());
            required.extend(part["required"].as_array().cloned().unwrap_or_default());
        }
        let mut out = Map::new();
        for (name, s) in props {
            let is_required = required.iter().any(|r| r == &json!(name));
            // Required fields are usually there, optional ones half the time.
            let keep = if is_required { self.rng.u8(0..10) > 0 } else { self.rng.bool() };
            if keep {
                let v = self.value(&s, depth + 1);
                out.insert(name, v);
            }
        }
        if self.rng.u8(0..10) == 0 {
            let k = self.string();
            let v = self.anything(depth + 1);
            out.insert(k, v);
        }
        Value::Object(out)
    }
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_survives_generated_input() {
    let api = Api::start().await;
    let doc = document(&api).await;
    // Objects for the generated paths to hit.
    let c = api
        .expect(
            Method::POST,
            "/realms/default/clients",
            Some(json!({"name": "fuzz", "grant_types": ["password"]})),
            201,
        )
        .await;
    let u = api.expect(Method::POST, "/realms/default/users", Some(json!({"username": "fuzzer"})), 201).await;
    let mut known = vec![
        "default".to_owned(),
        c["client_id"].as_str().unwrap().to_owned(),
        u["id"].as_str().unwrap().to_owned(),
        "fuzzer".to_owned(),
    ];
    known.push(
        api.s
            .admin()
            .grants("default", None, None)
            .await
            .unwrap()
            .first()
            .map_or(String::new(), |g| portcullis_core::token::token_id_hex(&g.id)),
    );

    let app = api.expect(Method::POST, "/realms/default/apps", Some(json!({"name": "fuzzapp"})), 201).await;
    api.expect(Method::POST, "/realms/default/permissions", Some(json!({"name": "fuzz.p"})), 201).await;
    api.expect(Method::PUT, "/realms/default/roles/fuzzrole", Some(json!({"permissions": ["fuzz.p"]})), 200).await;
    let key = api.expect(Method::POST, "/realms/default/api-keys", Some(json!({"app": "fuzzapp"})), 201).await;
    for v in [&app["app_id"], &key["id"]] {
        known.push(v.as_str().unwrap().to_owned());
    }
    known.extend(["fuzzapp", "fuzz.p", "fuzzrole"].map(str::to_owned));

    let seed = std::env::var("ADMIN_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| fastrand::u64(..));
    let cases: usize = std::env::var("ADMIN_FUZZ_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(12);
    // Everything once with a token for every realm, once with one scoped to another
    // realm (whose answers are 403 and 404).
    api.expect(Method::POST, "/realms", Some(json!({"name": "acme"})), 201).await;
    let scoped = Api::token_for(&api.s, Some("acme")).await;
    for (i, token) in [api.token.clone(), scoped].iter().enumerate() {
        let mut g = Gen { rng: fastrand::Rng::with_seed(seed.wrapping_add(i as u64)), doc: &doc, known: known.clone() };
        walk(&api, token, &mut g, seed, cases).await;
    }
}

async fn walk(api: &Api, token: &str, g: &mut Gen<'_>, seed: u64, cases: usize) {
    let doc = g.doc;
    let (mut sent, mut operations) = (0, 0);
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            operations += 1;
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            for _ in 0..cases {
                let mut url_path = path.clone();
                let mut query = Vec::new();
                for p in &params {
                    let name = p["name"].as_str().unwrap();
                    let value = match g.value(&p["schema"], 0) {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    match p["in"].as_str() {
                        Some("path") => {
                            let v = if value.is_empty() || value.len() > 4000 { "x".to_owned() } else { value };
                            url_path = url_path.replace(&format!("{{{name}}}"), &encode(&v));
                        }
                        _ if g.rng.bool() => query.push(format!("{name}={}", encode(&value[..value.len().min(4000)]))),
                        _ => {}
                    }
                }
                let mut url = format!("{}{url_path}", api.s.base);
                if !query.is_empty() {
                    url = format!("{url}?{}", query.join("&"));
                }
                let schema = op["requestBody"]["content"]["application/json"]["schema"].clone();
                let body = if schema.is_null() && g.rng.u8(0..4) > 0 { None } else { Some(g.value(&schema, 0)) };
                let mut req = api
                    .s
                    .http
                    .request(Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(), &url)
                    .bearer_auth(token);
                if let Some(b) = &body {
                    req = req.header("content-type", "application/json").body(b.to_string());
                }
                let r = req.send().await.unwrap();
                let status = r.status().as_u16();
                let is_json = r.headers().get("content-type").is_some_and(|v| v == "application/json");
                let text = r.text().await.unwrap();
                let shown = |b: &Option<Value>| b.as_ref().map(|b| b.to_string().chars().take(300).collect::<String>());
                assert!(status < 500, "seed {seed}: {method} {url} with {:?} answered {status}: {text}", shown(&body));
                if status >= 400 {
                    let e: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                    assert!(
                        is_json && e["error"].is_string() && e["error_description"].is_string(),
                        "seed {seed}: {method} {url}: {status} is not the documented error: {text}"
                    );
                }
                sent += 1;
            }
        }
    }
    assert!(operations >= 44 && sent == operations * cases, "{operations} operations, {sent} requests");
}
