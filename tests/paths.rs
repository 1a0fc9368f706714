//! Canonical paths: every path that could be read two ways is refused with 400 before routing
//! and never reaches the upstream; a path that passes is forwarded byte for byte.

#![allow(clippy::unwrap_used)]

mod support;

use support::{Gateway, Setup, Upstream};

const ROUTES: &str = r#"
[[route]]
path = "/api/transfer"
methods = ["POST"]
auth = "none"

[[route]]
path = "/api/[...rest]"
auth = "none"
"#;

async fn gateway(upstream: &Upstream) -> Gateway {
    Setup::new(&upstream.url()).tables(ROUTES).start().await
}

/// Sends `GET target` tagged with `id` and asserts a 400 that the upstream never saw.
async fn assert_invalid(gateway: &Gateway, upstream: &Upstream, target: &str, id: &str) {
    let response = gateway.get(target, &format!("X-Test-Id: {id}\r\n")).await;
    assert_eq!(
        response.status, 400,
        "{target} was not refused: {response:?}"
    );
    response.assert_refused(400, "Invalid input");
    upstream.assert_never_saw(id);
}

#[tokio::test]
async fn every_non_canonical_path_form_is_refused_before_the_upstream() {
    let upstream = Upstream::start().await;
    let gateway = gateway(&upstream).await;

    let forms = [
        // Dot segments, raw and encoded in either case.
        "/api/../x",
        "/api/./x",
        "/api/..",
        "/api/%2e%2e/x",
        "/api/%2E%2E/x",
        "/api/.%2e/x",
        "/api/%2e./x",
        "/api/%2e/x",
        // Empty segments.
        "/api//x",
        "//api/x",
        "/api/x//",
        // Encoded separators.
        "/api/a%2fb",
        "/api/a%2Fb",
        "/api/a%5cb",
        "/api/a%5Cb",
        // Raw backslash.
        "/api/a\\b",
        "/api\\..\\x",
        // NUL and control characters.
        "/api/a%00b",
        "/api/a%01b",
        "/api/a%1fb",
        "/api/a%7fb",
        "/api/a%7Fb",
        // Invalid percent-encoding.
        "/api/a%zzb",
        "/api/a%2",
        "/api/a%",
        "/api/%g0",
        // Double encoding.
        "/api/%252e%252e/x",
        "/api/a%252Fb",
        "/api/a%252fb",
        "/api/a%2525b",
        "/api/a%255cb",
    ];
    for (i, target) in forms.iter().enumerate() {
        assert_invalid(&gateway, &upstream, target, &format!("form-{i}")).await;
    }
}

#[tokio::test]
async fn reserved_next_query_names_are_refused() {
    let upstream = Upstream::start().await;
    let gateway = gateway(&upstream).await;

    let queries = [
        "/api/items?nxtPfoo=1",
        "/api/items?nxtIbar=1",
        "/api/items?a=1&nxtPslug=admin",
        "/api/items?%6extPx=1",
        "/api/items?%6E%78%74%50x=1",
        "/api/items?nxtP",
    ];
    for (i, target) in queries.iter().enumerate() {
        assert_invalid(&gateway, &upstream, target, &format!("query-{i}")).await;
    }

    // A value (not a name) that happens to read nxtP is ordinary data.
    let response = gateway.get("/api/items?q=nxtPfoo", "").await;
    assert_eq!(response.status, 200, "{response:?}");
}

#[tokio::test]
async fn accepted_path_reaches_the_upstream_byte_for_byte() {
    let upstream = Upstream::start().await;
    let gateway = gateway(&upstream).await;

    let targets = [
        "/api/items/a%20b?x=1%2B2",
        "/api/items/%C3%A9t%C3%A9?q=%2e%2e%2f&r=a+b",
        "/api/items/~user/(x);y=1,z:@!$&'*",
        "/api/items/trailing/",
    ];
    for (i, target) in targets.iter().enumerate() {
        let id = format!("exact-{i}");
        let response = gateway.get(target, &format!("X-Test-Id: {id}\r\n")).await;
        assert_eq!(response.status, 200, "{target}: {response:?}");
        assert_eq!(upstream.one_tagged(&id).target, *target);
    }
}

#[tokio::test]
async fn encoded_unreserved_letters_route_as_next_decodes_them() {
    let upstream = Upstream::start().await;
    let gateway = gateway(&upstream).await;

    // Next.js decodes `%74` to `t` before routing, so this is /api/transfer, which takes only
    // POST: a GET must not slip through to the catch-all.
    for target in ["/api/%74ransfer", "/api/transfe%72", "/api/transfer/"] {
        let response = gateway.get(target, "X-Test-Id: decoded-get\r\n").await;
        assert_eq!(response.status, 405, "{target}: {response:?}");
        assert_eq!(response.header("allow").as_deref(), Some("POST"));
    }
    upstream.assert_never_saw("decoded-get");

    // And the POST it does take is forwarded with its path as sent.
    let response = gateway
        .request("POST", "/api/%74ransfer", "Content-Length: 0\r\n")
        .await;
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(gateway.route_of(&response).await, "/api/transfer");
    assert_eq!(upstream.seen_for("/api/%74ransfer").len(), 1);
}

#[tokio::test]
async fn a_single_trailing_slash_matches_as_if_absent() {
    let upstream = Upstream::start().await;
    let gateway = gateway(&upstream).await;

    let response = gateway.get("/api/items/", "").await;
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(gateway.route_of(&response).await, "/api/[...rest]");
    let response = gateway
        .get("/api/items//", "X-Test-Id: two-slashes\r\n")
        .await;
    response.assert_refused(400, "Invalid input");
    upstream.assert_never_saw("two-slashes");
}
