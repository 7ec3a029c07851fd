//! The OpenAPI document is well formed: version 3.1.x, every operation named and with
//! responses, every `$ref` resolving, every path parameter declared. No maintained
//! Rust crate validates OpenAPI 3.1 (`openapiv3` reads 3.0 only), so these are the
//! structural checks written out.

use std::collections::BTreeSet;

use serde_json::Value;

use super::Api;

pub const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

pub async fn document(api: &Api) -> Value {
    let r = api.s.http.get(api.url("/openapi.json")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    r.json().await.unwrap()
}

/// Every problem found in `doc`; empty when it is valid.
pub fn problems(doc: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if !doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.1.")) {
        out.push(format!("openapi is {}, not 3.1.x", doc["openapi"]));
    }
    for field in ["title", "version"] {
        if !doc["info"][field].is_string() {
            out.push(format!("info.{field} is missing"));
        }
    }
    let Some(paths) = doc["paths"].as_object().filter(|p| !p.is_empty()) else {
        out.push("no paths".into());
        return out;
    };
    let mut ids = BTreeSet::new();
    for (path, item) in paths {
        if !path.starts_with("/admin/") {
            out.push(format!("{path} is not under /admin/"));
        }
        let templated: BTreeSet<&str> =
            path.split('/').filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}'))).collect();
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            let at = format!("{} {path}", method.to_uppercase());
            match op["operationId"].as_str() {
                Some(id) if ids.insert(id.to_owned()) => {}
                Some(id) => out.push(format!("{at}: operationId {id} is used twice")),
                None => out.push(format!("{at}: no operationId")),
            }
            if op["responses"].as_object().is_none_or(|r| r.is_empty()) {
                out.push(format!("{at}: no responses"));
            }
            let declared: BTreeSet<&str> = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "path")
                .inspect(|p| {
                    if p["required"] != true {
                        out.push(format!("{at}: path parameter {} is not required", p["name"]));
                    }
                })
                .filter_map(|p| p["name"].as_str())
                .collect();
            if declared != templated {
                out.push(format!("{at}: path parameters {declared:?} differ from the template's {templated:?}"));
            }
        }
    }
    let mut refs = Vec::new();
    collect_refs(doc, &mut refs);
    if refs.is_empty() {
        out.push("no $ref at all: the schemas are not shared".into());
    }
    for r in refs {
        let resolved = r.strip_prefix('#').and_then(|pointer| doc.pointer(pointer));
        if resolved.is_none() {
            out.push(format!("$ref {r} does not resolve"));
        }
    }
    out
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref") {
                out.push(r.clone());
            }
            m.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(a) => a.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn the_openapi_document_is_valid_3_1() {
    let api = Api::start().await;
    let doc = document(&api).await;
    assert_eq!(problems(&doc), Vec::<String>::new());
    let operations: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|i| METHODS.iter().filter(|m| i.get(**m).is_some()).count())
        .sum();
    assert!(operations >= 44, "{operations} operations");
    assert!(doc["components"]["securitySchemes"]["admin_token"]["scheme"] == "bearer", "{}", doc["components"]);
}

/// The checks catch what they are for.
#[test]
fn the_checks_find_broken_documents() {
    let good = serde_json::json!({
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {"/admin/x/{id}": {"get": {
            "operationId": "a",
            "parameters": [{"name": "id", "in": "path", "required": true}],
            "responses": {"200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/X"}}}}}
        }}},
        "components": {"schemas": {"X": {"type": "object"}}}
    });
    assert_eq!(problems(&good), Vec::<String>::new());
    for (pointer, bad) in [
        ("/openapi", serde_json::json!("3.0.3")),
        ("/paths/~1admin~1x~1{id}/get/operationId", Value::Null),
        ("/paths/~1admin~1x~1{id}/get/responses", serde_json::json!({})),
        ("/paths/~1admin~1x~1{id}/get/parameters", serde_json::json!([])),
        ("/components/schemas", serde_json::json!({})),
    ] {
        let mut doc = good.clone();
        *doc.pointer_mut(pointer).unwrap() = bad;
        assert!(!problems(&doc).is_empty(), "{pointer} broken and not noticed");
    }
}
