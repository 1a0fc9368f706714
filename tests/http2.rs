//! HTTP/2 from clients (h2c with prior knowledge): proxied like HTTP/1.1, and held to the same
//! canonical-path and header rules.

#![allow(clippy::unwrap_used)]

mod support;

use bytes::Bytes;
use http::{Request, StatusCode, Version};
use http_body_util::{BodyExt, Empty};
use support::{Gateway, Setup, Upstream};

const ROUTES: &str = r#"
[[route]]
path = "/api/[...rest]"
auth = "none"
"#;

async fn gateway(upstream: &Upstream) -> Gateway {
    Setup::new(&upstream.url()).tables(ROUTES).start().await
}

/// Sends one HTTP/2 request exactly as built (no URL normalisation), returning status and body.
async fn h2_send(gateway: &Gateway, request: Request<Empty<Bytes>>) -> (StatusCode, Bytes) {
    let (mut sender, _connection) = support::h2_connect(gateway.addr).await;
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.version(), Version::HTTP_2);
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, body)
}

fn h2_get(gateway: &Gateway, path: &str) -> http::request::Builder {
    Request::get(format!("http://{}{path}", gateway.addr)).version(Version::HTTP_2)
}

#[tokio::test]
async fn h2c_prior_knowledge_is_proxied() {
    let upstream = Upstream::start().await;
    let gateway = gateway(&upstream).await;

    let client = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let response = client
        .get(format!("{}/api/items/1?q=a%20b", gateway.url()))
        .header("x-test-id", "h2")
        .header("x-palisade-user", "admin")
        .header("x-middleware-subrequest", "middleware")
        .send()
        .await
        .unwrap();
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("x-request-id"));

    let seen = upstream.one_tagged("h2");
    assert_eq!(seen.target, "/api/items/1?q=a%20b");
    assert_eq!(seen.header("host"), Some(gateway.addr.to_string()));
    assert!(!seen.headers.contains_key("x-palisade-user"));
    assert!(!seen.headers.contains_key("x-middleware-subrequest"));

    // A POST body crosses from h2 to the HTTP/1.1 upstream intact.
    let response = client
        .post(format!("{}/api/items", gateway.url()))
        .header("x-test-id", "h2-post")
        .body(vec![7u8; 5000])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let seen = upstream.one_tagged("h2-post");
    assert!(seen.complete);
    assert_eq!(seen.body, vec![7u8; 5000]);
}

#[tokio::test]
async fn non_canonical_paths_are_refused_over_h2_too() {
    let upstream = Upstream::start().await;
    let gateway = gateway(&upstream).await;

    for (i, path) in [
        "/api/%2e%2e/x",
        "/api/%2E%2E/admin",
        "/api/a%2fb",
        "/api//x",
        "/api/%252e",
    ]
    .into_iter()
    .enumerate()
    {
        let id = format!("h2-bad-{i}");
        let request = h2_get(&gateway, path)
            .header("x-test-id", &id)
            .body(Empty::new())
            .unwrap();
        let (status, body) = h2_send(&gateway, request).await;
        assert_eq!(status, 400, "{path}");
        assert_eq!(&body[..], br#"{"error":"Invalid input"}"#);
        upstream.assert_never_saw(&id);
    }
}

#[tokio::test]
async fn an_h2_host_header_disagreeing_with_authority_is_refused() {
    let upstream = Upstream::start().await;
    let gateway = gateway(&upstream).await;

    // `:authority` says the gateway, `host` says somewhere else: which would Next.js believe?
    let request = h2_get(&gateway, "/api/x")
        .header("host", "evil.example")
        .header("x-test-id", "h2-host")
        .body(Empty::new())
        .unwrap();
    let (status, _) = h2_send(&gateway, request).await;
    assert_eq!(status, 400);
    upstream.assert_never_saw("h2-host");
}
