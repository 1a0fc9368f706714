//! What operators see: the admin listener's health, readiness and metrics, and the access log,
//! one JSON line per request that never holds a token, cookie or query string.

#![allow(clippy::unwrap_used)]

mod support;

use serde_json::Value;
use support::{Gateway, Setup, Upstream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const ROUTES: &str = r#"
[[route]]
path = "/api/[...rest]"
auth = "none"

[[route]]
path = "/api/transfer"
methods = ["POST"]
auth = "none"
max_body = "64B"
"#;

async fn gateway(upstream: &Upstream) -> Gateway {
    Setup::new(&upstream.url()).tables(ROUTES).start().await
}

#[tokio::test]
async fn admin_answers_health_readiness_and_metrics_with_labels() {
    let upstream = Upstream::start().await;
    let gateway = gateway(&upstream).await;

    let health = support::get(gateway.admin, "/healthz").await.unwrap();
    assert_eq!(health.status, 200);
    let ready = support::get(gateway.admin, "/readyz").await.unwrap();
    assert_eq!(ready.status, 200);

    assert_eq!(gateway.get("/api/items", "").await.status, 200);
    assert_eq!(gateway.get("/nowhere", "").await.status, 404);
    assert_eq!(gateway.get("/api/%2e%2e/x", "").await.status, 400);

    let metrics = support::get(gateway.admin, "/metrics").await.unwrap();
    assert_eq!(metrics.status, 200);
    let text = String::from_utf8(metrics.body).unwrap();
    let has = |labels: &[&str]| {
        text.lines().any(|line| {
            line.starts_with("palisade_requests_total{") && labels.iter().all(|l| line.contains(l))
        })
    };
    assert!(
        has(&[
            r#"route="/api/[...rest]""#,
            r#"status="200""#,
            r#"decision="allow""#
        ]),
        "{text}"
    );
    assert!(
        has(&[r#"route="-""#, r#"status="404""#, r#"decision="deny""#]),
        "{text}"
    );
    assert!(has(&[r#"status="400""#, r#"decision="deny""#]), "{text}");
    assert!(text.contains("palisade_request_duration_seconds"), "{text}");

    // The admin listener is not a route into the app.
    let elsewhere = support::get(gateway.admin, "/api/items").await.unwrap();
    assert_eq!(elsewhere.status, 404);
    assert!(upstream.seen_for("/api/items").len() == 1);
}

#[tokio::test]
async fn the_public_listener_does_not_serve_admin_paths() {
    let upstream = Upstream::start().await;
    let gateway = gateway(&upstream).await;

    for path in ["/metrics", "/healthz", "/readyz"] {
        let response = gateway.get(path, "").await;
        response.assert_refused(404, "Not found");
    }
}

#[tokio::test]
async fn each_request_gives_exactly_one_access_line_with_every_field() {
    let upstream = Upstream::start().await;
    let gateway = gateway(&upstream).await;

    let cases = [
        ("GET", "/api/items?page=2", 200, "allow", "/api/[...rest]"),
        ("GET", "/api/transfer", 405, "deny", "/api/transfer"),
        ("GET", "/nowhere", 404, "deny", "-"),
        ("GET", "/api/a%2fb", 400, "deny", "-"),
    ];
    for (method, target, status, decision, route) in cases {
        let response = gateway.request(method, target, "").await;
        assert_eq!(response.status, status, "{target}");
        let id = response.header("x-request-id").unwrap();
        let lines = gateway.access_lines_for(&id).await;
        assert_eq!(lines.len(), 1, "{target}: {lines:?}");
        let line = &lines[0];

        assert_eq!(line["method"], method);
        assert_eq!(line["path"], target.split('?').next().unwrap());
        assert_eq!(line["status"], status);
        assert_eq!(line["decision"], decision);
        if route != "-" {
            assert_eq!(line["route"], route);
        }
        assert_eq!(line["client.ip"], "127.0.0.1");
        assert!(line["latency_ms"].as_f64().is_some(), "{line}");
        let reason = line["reason"].as_str().unwrap();
        assert_eq!(reason == "-", decision == "allow", "{line}");
    }

    // Nothing else was logged as an access line: four requests, four lines.
    assert_eq!(gateway.access_log().len(), cases.len());
}

#[tokio::test]
async fn the_access_log_stays_on_when_diagnostics_are_turned_down() {
    let upstream = Upstream::start().await;
    let gateway = Setup::new(&upstream.url())
        .tables(ROUTES)
        .env("PALISADE_LOG", "warn")
        .start()
        .await;
    let response = gateway.request("GET", "/api/items", "").await;
    let id = response.header("x-request-id").unwrap();
    assert_eq!(gateway.access_lines_for(&id).await.len(), 1);
}

const SECRETS: [&str; 3] = ["SECRET-TOKEN-123", "SECRET-COOKIE-456", "SECRET-QUERY-789"];

#[tokio::test]
async fn no_token_cookie_or_query_reaches_the_logs() {
    let upstream = Upstream::start().await;
    // Debug level, so that per-request decisions are logged too.
    let gateway = Setup::new(&upstream.url())
        .tables(ROUTES)
        .env("PALISADE_LOG", "debug")
        .start()
        .await;

    let credentials = "Authorization: Bearer SECRET-TOKEN-123\r\n\
                       Cookie: sb-x=SECRET-COOKIE-456\r\n\
                       X-Api-Key: SECRET-TOKEN-123\r\nContent-Length: 0\r\n";
    // Forwarded, refused by each kind of check, and failing in the body.
    let requests = [
        ("GET", "/api/items?token=SECRET-QUERY-789", 200),
        ("GET", "/nowhere?token=SECRET-QUERY-789", 404),
        ("GET", "/api/%2e%2e/x?token=SECRET-QUERY-789", 400),
        ("GET", "/api/items?nxtPx=SECRET-QUERY-789", 400),
        ("GET", "/api/transfer?token=SECRET-QUERY-789", 405),
    ];
    for (method, target, status) in requests {
        let response = gateway.request(method, target, credentials).await;
        assert_eq!(response.status, status, "{target}");
    }
    let mut request = format!(
        "POST /api/transfer?token=SECRET-QUERY-789 HTTP/1.1\r\nHost: {}\r\n\
         Connection: close\r\nAuthorization: Bearer SECRET-TOKEN-123\r\n\
         Content-Length: 100\r\n\r\n",
        gateway.addr
    );
    request.push_str(&"x".repeat(100));
    assert_eq!(gateway.raw(&request).await.status, 413);
    // A connection that ends mid-headers, too.
    let mut stream = TcpStream::connect(gateway.addr).await.unwrap();
    stream
        .write_all(
            b"GET /api/items?token=SECRET-QUERY-789 HTTP/1.1\r\nCookie: sb-x=SECRET-COOKIE-456",
        )
        .await
        .unwrap();
    stream.shutdown().await.unwrap();
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(support::DEADLINE, stream.read_to_end(&mut rest)).await;

    let lines: Vec<Value> = gateway.access_log();
    assert_eq!(lines.len(), requests.len() + 1, "{lines:?}");
    let everything = format!("{}{}", gateway.stdout_text(), gateway.stderr_text());
    for secret in SECRETS {
        assert!(
            !everything.contains(secret),
            "{secret} was logged:\n{everything}"
        );
    }
    // The credentials did reach the upstream: the log is clean because it omits them.
    let seen = upstream.seen_for("/api/items?token=SECRET-QUERY-789");
    assert_eq!(
        seen[0].header("cookie").as_deref(),
        Some("sb-x=SECRET-COOKIE-456")
    );
}
