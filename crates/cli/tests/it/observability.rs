//! `serve --metrics-addr` and `serve --otlp-endpoint` on the real binary: metrics on
//! their own port only, and a token request's spans (the request's and its storage
//! calls') arriving at an OTLP/HTTP receiver started by the test, sent at shutdown.

use std::time::Duration;

use axum::body::Bytes;
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use serde_json::Value;

use crate::{Workspace, free_port, serve_with_env};

/// Every span the receiver has been sent within `wait`, once `done` says enough came.
async fn receive_spans(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<Bytes>,
    wait: Duration,
    done: impl Fn(&[Span]) -> bool,
) -> Vec<Span> {
    let mut spans = Vec::new();
    let deadline = tokio::time::Instant::now() + wait;
    while !done(&spans) {
        let Ok(Some(body)) = tokio::time::timeout_at(deadline, rx.recv()).await else { break };
        let export = ExportTraceServiceRequest::decode(body).expect("an OTLP/HTTP protobuf body");
        for resource in export.resource_spans {
            let service = resource.resource.iter().flat_map(|r| &r.attributes).find(|a| a.key == "service.name");
            assert!(matches!(
                service.and_then(|a| a.value.as_ref()?.value.as_ref()),
                Some(AnyValue::StringValue(s)) if s == "portcullis"
            ));
            spans.extend(resource.scope_spans.into_iter().flat_map(|s| s.spans));
        }
    }
    spans
}

fn attribute<'a>(span: &'a Span, key: &str) -> Option<&'a str> {
    span.attributes.iter().find(|a| a.key == key).and_then(|a| match a.value.as_ref()?.value.as_ref()? {
        AnyValue::StringValue(s) => Some(s.as_str()),
        _ => None,
    })
}

fn is_token_request(span: &Span) -> bool {
    span.name == "request" && attribute(span, "route") == Some("/realms/{realm}/oauth/token")
}

#[tokio::test]
async fn metrics_on_their_own_port_and_spans_of_a_token_request_and_its_storage_calls() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Bytes>();
    let receiver = axum::Router::new().route(
        "/v1/traces",
        post(move |body: Bytes| {
            let _ = tx.send(body);
            async { "" }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let collector = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, receiver).await });

    let w = Workspace::new();
    let c = w.json(&[
        "client",
        "create",
        "--realm",
        "default",
        "--name",
        "svc",
        "--grant-types",
        "client_credentials",
        "--json",
    ]);
    let (id, secret) = (c["client_id"].as_str().unwrap(), c["client_secret"].as_str().unwrap());
    let metrics = format!("127.0.0.1:{}", free_port());
    let (mut server, base, _) = serve_with_env(
        &w,
        &["--bind", "127.0.0.1:0", "--metrics-addr", &metrics],
        // No batch goes out on a timer during the test: the spans arrive because
        // shutdown sends what is batched.
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", collector.as_str()), ("OTEL_BSP_SCHEDULE_DELAY", "600000")],
    );
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{base}/realms/default/oauth/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let token = r.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned();

    assert_eq!(http.get(format!("{base}/metrics")).send().await.unwrap().status(), 404);
    let text = http.get(format!("http://{metrics}/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(
        text.contains("portcullis_tokens_issued_total{realm=\"default\",grant_type=\"client_credentials\"} 1"),
        "{text}"
    );

    let pid = server.0.id().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let stored = |spans: &[Span]| spans.iter().any(|s| s.name == "insert_token_if_client_at");
    let spans = receive_spans(&mut rx, Duration::from_secs(20), |s| s.iter().any(is_token_request) && stored(s)).await;
    assert!(server.0.wait().unwrap().success(), "SIGTERM with traces on: exit 0");
    let request = spans.iter().find(|s| is_token_request(s)).expect("the token request's span");
    let insert = spans.iter().find(|s| s.name == "insert_token_if_client_at").expect("the token insert's span");
    assert_eq!(insert.trace_id, request.trace_id, "the storage call is part of the request's trace");
    assert_eq!(insert.parent_span_id, request.span_id, "a child of the request's span");
    assert_eq!(attribute(insert, "db.system.name"), Some("sqlite"));
    // No span names or attributes carry the token or the secret.
    for span in &spans {
        let debug = format!("{span:?}");
        assert!(!debug.contains(&token) && !debug.contains(secret), "{debug}");
    }
}
