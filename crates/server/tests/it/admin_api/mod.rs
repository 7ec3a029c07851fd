//! The admin REST API over HTTP: CRUD of each resource, authentication, pagination,
//! validation, secrets, and the OpenAPI document (checked, then driven with generated
//! input).

mod audit;
mod auth;
mod crud;
mod fuzz;
mod openapi;
mod orgs;
mod pagination;

use reqwest::{Method, Response};
use serde_json::Value;

use crate::harness::TestServer;

/// A server and an admin token for every realm.
pub struct Api {
    pub s: TestServer,
    pub token: String,
}

impl Api {
    pub async fn start() -> Self {
        Self::on(TestServer::start().await).await
    }

    pub async fn on(s: TestServer) -> Self {
        let token = Self::token_for(&s, None).await;
        Self { s, token }
    }

    pub async fn token_for(s: &TestServer, realm: Option<&str>) -> String {
        let (_, secret) = s.admin().create_admin_token(realm).await.unwrap();
        secret.expose().to_owned()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/admin{path}", self.s.base)
    }

    pub async fn call_as(&self, token: Option<&str>, method: Method, path: &str, body: Option<Value>) -> Response {
        let mut req = self.s.http.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.unwrap()
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Response {
        self.call_as(Some(&self.token), method, path, body).await
    }

    /// The JSON of a call that must answer `status`.
    pub async fn expect(&self, method: Method, path: &str, body: Option<Value>, status: u16) -> Value {
        let r = self.call(method.clone(), path, body).await;
        let got = r.status().as_u16();
        let text = r.text().await.unwrap();
        assert_eq!(got, status, "{method} {path}: {text}");
        if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() }
    }
}
