//! Header hygiene: what a client may not say to the upstream, who the client is, the request
//! id, and which hosts are answered.

#![allow(clippy::unwrap_used)]

mod support;

use support::{Gateway, Setup, Upstream};

const ROUTES: &str = r#"
[[route]]
path = "/api/[[...rest]]"
auth = "none"
"#;

async fn untrusted(upstream: &Upstream) -> Gateway {
    Setup::new(&upstream.url()).tables(ROUTES).start().await
}

/// A gateway that believes the test client (which connects from 127.0.0.1) is a proxy.
async fn behind_proxy(upstream: &Upstream) -> Gateway {
    Setup::new(&upstream.url())
        .server(r#"trusted_proxies = ["127.0.0.1/32"]"#)
        .tables(ROUTES)
        .start()
        .await
}

#[tokio::test]
async fn hop_by_hop_and_connection_named_headers_are_not_forwarded() {
    let upstream = Upstream::start().await;
    let gateway = untrusted(&upstream).await;

    let response = gateway
        .raw(&format!(
            "GET /api/hop HTTP/1.1\r\nHost: {}\r\n\
             Connection: close, X-Hop-Secret, x-debug-token\r\n\
             X-Hop-Secret: 1\r\nX-Debug-Token: abc\r\n\
             Keep-Alive: timeout=500\r\nTE: trailers\r\nUpgrade: websocket\r\n\
             Proxy-Authorization: Basic c3B5OnNweQ==\r\nProxy-Connection: keep-alive\r\n\
             X-Test-Id: hop\r\n\r\n",
            gateway.addr
        ))
        .await;
    assert_eq!(response.status, 200, "{response:?}");

    let seen = upstream.one_tagged("hop");
    for name in [
        "x-hop-secret",
        "x-debug-token",
        "keep-alive",
        "te",
        "upgrade",
        "proxy-authorization",
        "proxy-connection",
    ] {
        assert!(!seen.headers.contains_key(name), "{name} was forwarded");
    }
    if let Some(connection) = seen.header("connection") {
        assert!(
            !connection.to_ascii_lowercase().contains("x-hop"),
            "{connection}"
        );
    }
}

#[tokio::test]
async fn connection_naming_a_protected_header_is_refused() {
    let upstream = Upstream::start().await;
    let gateway = untrusted(&upstream).await;

    // Dropping these would change who the caller is or what palisade decided.
    for (i, victim) in [
        "authorization",
        "Authorization",
        "x-palisade-user",
        "cookie",
    ]
    .into_iter()
    .enumerate()
    {
        let id = format!("conn-{i}");
        let response = gateway
            .raw(&format!(
                "GET /api/x HTTP/1.1\r\nHost: {}\r\nConnection: close, {victim}\r\n\
                 Authorization: Bearer t\r\nX-Test-Id: {id}\r\n\r\n",
                gateway.addr
            ))
            .await;
        response.assert_refused(400, "Invalid input");
        upstream.assert_never_saw(&id);
    }
}

#[tokio::test]
async fn spoofed_identity_and_next_internal_headers_never_reach_the_upstream() {
    let upstream = Upstream::start().await;
    // Not even a trusted proxy may speak for palisade or for Next.js internals.
    for gateway in [untrusted(&upstream).await, behind_proxy(&upstream).await] {
        let id = format!("spoof-{}", gateway.addr.port());
        let response = gateway
            .get(
                "/api/admin",
                &format!(
                    "X-Palisade-User: admin\r\nX-Palisade-Role: service_role\r\n\
                     X-Palisade-Auth: supabase\r\n\
                     x-middleware-subrequest: middleware:middleware:middleware:middleware\r\n\
                     X-Middleware-Rewrite: /admin\r\nX-Invoke-Path: /admin\r\n\
                     X-Invoke-Query: %7B%7D\r\nX-Test-Id: {id}\r\n"
                ),
            )
            .await;
        assert_eq!(response.status, 200, "{response:?}");
        let seen = upstream.one_tagged(&id);
        for (name, _) in &seen.headers {
            let name = name.as_str();
            assert!(
                !["x-palisade-", "x-middleware-", "x-invoke-"]
                    .iter()
                    .any(|p| name.starts_with(p)),
                "{name} reached the upstream"
            );
        }
    }
}

#[tokio::test]
async fn proxy_headers_are_dropped_from_clients_and_kept_from_trusted_proxies() {
    let upstream = Upstream::start().await;
    let proxy_headers = "Forwarded: for=6.6.6.6;host=evil.example\r\nX-Real-IP: 6.6.6.6\r\n\
                         X-Original-URL: /admin\r\nX-Rewrite-URL: /admin\r\n\
                         X-Forwarded-Prefix: /evil\r\n";

    let gateway = untrusted(&upstream).await;
    let response = gateway
        .get(
            "/api/x",
            &format!("{proxy_headers}X-Test-Id: from-client\r\n"),
        )
        .await;
    assert_eq!(response.status, 200);
    let seen = upstream.one_tagged("from-client");
    for name in [
        "forwarded",
        "x-real-ip",
        "x-original-url",
        "x-rewrite-url",
        "x-forwarded-prefix",
    ] {
        assert!(!seen.headers.contains_key(name), "{name} from a client");
    }

    let gateway = behind_proxy(&upstream).await;
    let response = gateway
        .get(
            "/api/x",
            &format!("{proxy_headers}X-Test-Id: from-proxy\r\n"),
        )
        .await;
    assert_eq!(response.status, 200);
    let seen = upstream.one_tagged("from-proxy");
    assert_eq!(seen.header("x-real-ip").as_deref(), Some("6.6.6.6"));
    assert_eq!(seen.header("x-original-url").as_deref(), Some("/admin"));
    assert!(seen.headers.contains_key("forwarded"));
}

#[tokio::test]
async fn x_forwarded_for_from_a_client_is_replaced_by_the_peer_address() {
    let upstream = Upstream::start().await;
    let gateway = untrusted(&upstream).await;

    let response = gateway
        .get(
            "/api/x",
            "X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-For: 7.7.7.7, 8.8.8.8\r\n\
             X-Forwarded-Proto: https\r\nX-Forwarded-Host: evil.example\r\n\
             X-Test-Id: xff-client\r\n",
        )
        .await;
    assert_eq!(response.status, 200);
    let seen = upstream.one_tagged("xff-client");
    assert_eq!(seen.header("x-forwarded-for").as_deref(), Some("127.0.0.1"));
    assert_eq!(seen.header("x-forwarded-proto").as_deref(), Some("http"));
    let host = gateway.addr.to_string();
    assert_eq!(seen.header("x-forwarded-host"), Some(host.clone()));
    assert_eq!(seen.header("host"), Some(host));
}

#[tokio::test]
async fn x_forwarded_for_from_a_trusted_proxy_gives_the_rightmost_untrusted_address() {
    let upstream = Upstream::start().await;
    let gateway = behind_proxy(&upstream).await;

    // The client wrote 6.6.6.6 itself; the proxy appended the address it saw, 203.0.113.7;
    // a second trusted hop (127.0.0.1) appended the proxy's.
    let cases = [
        ("X-Forwarded-For: 6.6.6.6, 203.0.113.7\r\n", "203.0.113.7"),
        (
            "X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-For: 203.0.113.7, 127.0.0.1\r\n",
            "203.0.113.7",
        ),
        ("", "127.0.0.1"),
    ];
    for (i, (xff, client)) in cases.into_iter().enumerate() {
        let id = format!("xff-proxy-{i}");
        let response = gateway
            .get(
                "/api/x",
                &format!("{xff}X-Forwarded-Proto: https\r\nX-Test-Id: {id}\r\n"),
            )
            .await;
        assert_eq!(response.status, 200);
        let seen = upstream.one_tagged(&id);
        assert_eq!(
            seen.header("x-forwarded-for").as_deref(),
            Some(client),
            "{xff}"
        );
        assert_eq!(seen.header("x-forwarded-proto").as_deref(), Some("https"));

        let request_id = response.header("x-request-id").unwrap();
        let lines = gateway.access_lines_for(&request_id).await;
        assert_eq!(lines[0]["client.ip"], client);
    }
}

#[tokio::test]
async fn credentials_are_forwarded_unchanged() {
    let upstream = Upstream::start().await;
    let gateway = untrusted(&upstream).await;

    let response = gateway
        .get(
            "/api/x",
            "Authorization: Bearer eyJhbGciOi.x.y\r\n\
             Cookie: sb-abc-auth-token=base64-eyJ; theme=dark\r\nX-Test-Id: creds\r\n",
        )
        .await;
    assert_eq!(response.status, 200);
    let seen = upstream.one_tagged("creds");
    assert_eq!(
        seen.header("authorization").as_deref(),
        Some("Bearer eyJhbGciOi.x.y")
    );
    assert_eq!(
        seen.header("cookie").as_deref(),
        Some("sb-abc-auth-token=base64-eyJ; theme=dark")
    );
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_a_forged_one_is_replaced() {
    let upstream = Upstream::start().await;
    let gateway = untrusted(&upstream).await;

    // Forwarded, refused as non-canonical, refused as unrouted: each has its own fresh id.
    let forged = "X-Request-Id: forged-id-1\r\n";
    let mut ids = Vec::new();
    for (target, status) in [("/api/x", 200), ("/api/%2e%2e/x", 400), ("/nope", 404)] {
        let response = gateway.get(target, forged).await;
        assert_eq!(response.status, status, "{target}");
        let id = response.header("x-request-id").unwrap();
        assert_ne!(id, "forged-id-1");
        assert!(!id.is_empty());
        ids.push(id);
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3, "request ids repeat: {ids:?}");

    // The upstream never sees the forged id either: it gets the id the client got back.
    let response = gateway
        .get("/api/x", &format!("{forged}X-Test-Id: rid\r\n"))
        .await;
    let seen = upstream.one_tagged("rid");
    assert_eq!(seen.header("x-request-id"), response.header("x-request-id"));
}

#[tokio::test]
async fn a_trusted_proxys_request_id_is_kept() {
    let upstream = Upstream::start().await;
    let gateway = behind_proxy(&upstream).await;

    let response = gateway
        .get("/api/x", "X-Request-Id: edge-1234\r\nX-Test-Id: kept\r\n")
        .await;
    assert_eq!(
        response.header("x-request-id").as_deref(),
        Some("edge-1234")
    );
    assert_eq!(
        upstream
            .one_tagged("kept")
            .header("x-request-id")
            .as_deref(),
        Some("edge-1234")
    );
}

#[tokio::test]
async fn a_forged_host_is_refused_and_the_real_one_forwarded_as_sent() {
    let upstream = Upstream::start().await;
    let gateway = Setup::new(&upstream.url())
        .server(r#"hosts = ["localhost"]"#)
        .tables(ROUTES)
        .start()
        .await;

    let request = |host: &str, id: &str| {
        format!("GET /api/x HTTP/1.1\r\n{host}Connection: close\r\nX-Test-Id: {id}\r\n\r\n")
    };
    let response = gateway
        .raw(&request("Host: evil.example\r\n", "evil"))
        .await;
    response.assert_refused(421, "Unknown host");
    upstream.assert_never_saw("evil");

    let response = gateway
        .raw(&request(
            "Host: localhost\r\nHost: evil.example\r\n",
            "two-hosts",
        ))
        .await;
    response.assert_refused(400, "Invalid input");
    upstream.assert_never_saw("two-hosts");

    // A client cannot smuggle the forged host past the check in X-Forwarded-Host either.
    let response = gateway
        .raw(&request(
            "Host: localhost\r\nX-Forwarded-Host: evil.example\r\n",
            "xfh",
        ))
        .await;
    assert_eq!(response.status, 200, "{response:?}");
    let seen = upstream.one_tagged("xfh");
    assert_eq!(
        seen.header("x-forwarded-host").as_deref(),
        Some("localhost")
    );

    let port = gateway.addr.port();
    let response = gateway
        .raw(&request(&format!("Host: LocalHost:{port}\r\n"), "ok"))
        .await;
    assert_eq!(response.status, 200, "{response:?}");
    let seen = upstream.one_tagged("ok");
    assert_eq!(seen.header("host"), Some(format!("LocalHost:{port}")));
}

#[tokio::test]
async fn behind_a_trusted_proxy_both_host_and_forwarded_host_must_be_listed() {
    let upstream = Upstream::start().await;
    let gateway = Setup::new(&upstream.url())
        .server("hosts = [\"localhost\", \"yourapp.com\"]\ntrusted_proxies = [\"loopback\"]")
        .tables(ROUTES)
        .start()
        .await;
    let request = |host: &str, id: &str| {
        format!("GET /api/x HTTP/1.1\r\n{host}Connection: close\r\nX-Test-Id: {id}\r\n\r\n")
    };

    // The proxy vouches for X-Forwarded-Host, but a foreign Host still never reaches the app.
    let forged = "Host: evil.example\r\nX-Forwarded-Host: yourapp.com\r\n";
    let response = gateway.raw(&request(forged, "evil-host")).await;
    response.assert_refused(421, "Unknown host");
    upstream.assert_never_saw("evil-host");

    let forged = "Host: localhost\r\nX-Forwarded-Host: evil.example\r\n";
    let response = gateway.raw(&request(forged, "evil-xfh")).await;
    response.assert_refused(421, "Unknown host");
    upstream.assert_never_saw("evil-xfh");

    let fine = "Host: localhost\r\nX-Forwarded-Host: yourapp.com\r\n";
    let response = gateway.raw(&request(fine, "fine")).await;
    assert_eq!(response.status, 200, "{response:?}");
    let seen = upstream.one_tagged("fine");
    assert_eq!(
        seen.header("x-forwarded-host").as_deref(),
        Some("yourapp.com")
    );
}

#[tokio::test]
async fn underscore_and_client_ip_spellings_never_reach_the_upstream() {
    let upstream = Upstream::start().await;
    let gateway = untrusted(&upstream).await;
    let spoofed = "x_middleware_subrequest: middleware\r\nx-palisade_user: admin\r\n\
                   x_forwarded_for: 6.6.6.6\r\nTrue-Client-IP: 6.6.6.6\r\n\
                   CF-Connecting-IP: 6.6.6.6\r\nX-Client-IP: 6.6.6.6\r\n\
                   X-Original-Host: evil.example\r\n";
    let response = gateway
        .get("/api/x", &format!("{spoofed}X-Test-Id: underscores\r\n"))
        .await;
    assert_eq!(response.status, 200, "{response:?}");
    let seen = upstream.one_tagged("underscores");
    for name in [
        "x_middleware_subrequest",
        "x-palisade_user",
        "x_forwarded_for",
        "true-client-ip",
        "cf-connecting-ip",
        "x-client-ip",
        "x-original-host",
    ] {
        assert!(seen.header(name).is_none(), "{name} reached the upstream");
    }
}
