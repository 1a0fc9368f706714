//! Routing: Next.js precedence whatever the order in the file, 405 with `Allow`, and what
//! happens to a path no route matches.

#![allow(clippy::unwrap_used)]

mod support;

use support::{Gateway, Setup, Upstream};

// Listed from weakest to strongest, so a first-match router would get every case wrong.
const OVERLAPPING: &str = r#"
[[route]]
path = "/shop/[[...slug]]"
auth = "none"

[[route]]
path = "/api/[...rest]"
auth = "none"

[[route]]
path = "/shop/[item]"
auth = "none"

[[route]]
path = "/api/[id]"
auth = "none"

[[route]]
path = "/api/[id]/edit"
methods = ["PUT"]
auth = "none"

[[route]]
path = "/shop/cart"
methods = ["POST"]
auth = "none"

[[route]]
path = "/api/admin"
methods = ["GET", "DELETE"]
auth = "none"
"#;

/// Sends `method target` and returns the route the access log names, after checking that the
/// request was forwarded.
async fn routed(gateway: &Gateway, upstream: &Upstream, method: &str, target: &str) -> String {
    let before = upstream.seen_for(target).len();
    let response = gateway
        .request(method, target, "Content-Length: 0\r\n")
        .await;
    assert_eq!(response.status, 200, "{method} {target}: {response:?}");
    assert_eq!(upstream.seen_for(target).len(), before + 1, "{target}");
    gateway.route_of(&response).await
}

#[tokio::test]
async fn static_beats_param_beats_catch_all_beats_optional_catch_all() {
    let upstream = Upstream::start().await;
    let gateway = Setup::new(&upstream.url())
        .tables(OVERLAPPING)
        .start()
        .await;

    let cases = [
        ("GET", "/api/admin", "/api/admin"),
        ("GET", "/api/42", "/api/[id]"),
        ("PUT", "/api/42/edit", "/api/[id]/edit"),
        ("GET", "/api/42/other", "/api/[...rest]"),
        ("GET", "/api/a/b/c/d", "/api/[...rest]"),
        ("POST", "/shop/cart", "/shop/cart"),
        ("GET", "/shop/shoes", "/shop/[item]"),
        ("GET", "/shop/shoes/red", "/shop/[[...slug]]"),
        ("GET", "/shop", "/shop/[[...slug]]"),
        ("GET", "/shop/", "/shop/[[...slug]]"),
    ];
    for (method, target, route) in cases {
        let got = routed(&gateway, &upstream, method, target).await;
        assert_eq!(got, route, "{method} {target}");
    }
}

#[tokio::test]
async fn wrong_method_on_a_stronger_route_is_405_not_a_fallthrough() {
    let upstream = Upstream::start().await;
    let gateway = Setup::new(&upstream.url())
        .tables(OVERLAPPING)
        .start()
        .await;

    // `/api/admin` only takes GET and DELETE; `/api/[id]` would take a POST, but the path
    // already chose `/api/admin`, so a POST must not be routed to the weaker pattern.
    let cases = [
        ("POST", "/api/admin", "DELETE, GET, HEAD"),
        ("PATCH", "/api/admin/", "DELETE, GET, HEAD"),
        ("GET", "/shop/cart", "POST"),
        ("GET", "/api/7/edit", "PUT"),
    ];
    for (i, (method, target, allow)) in cases.into_iter().enumerate() {
        let id = format!("405-{i}");
        let response = gateway
            .request(method, target, &format!("X-Test-Id: {id}\r\n"))
            .await;
        response.assert_refused(405, "Method not allowed");
        assert_eq!(response.header("allow").as_deref(), Some(allow), "{target}");
        upstream.assert_never_saw(&id);
    }
}

#[tokio::test]
async fn head_is_allowed_wherever_get_is() {
    let upstream = Upstream::start().await;
    let gateway = Setup::new(&upstream.url())
        .tables(OVERLAPPING)
        .start()
        .await;

    let response = gateway.request("HEAD", "/api/admin", "").await;
    assert_eq!(response.status, 200, "{response:?}");
    assert!(response.body.is_empty());
    let seen = upstream.seen_for("/api/admin");
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "HEAD");

    // A route without GET does not take HEAD either.
    let response = gateway
        .request("HEAD", "/shop/cart", "X-Test-Id: head-cart\r\n")
        .await;
    assert_eq!(response.status, 405, "{response:?}");
    assert_eq!(response.header("allow").as_deref(), Some("POST"));
    upstream.assert_never_saw("head-cart");
}

#[tokio::test]
async fn matching_is_case_sensitive() {
    let upstream = Upstream::start().await;
    let gateway = Setup::new(&upstream.url())
        .tables(OVERLAPPING)
        .start()
        .await;

    // `/API/admin` is not `/api/admin`: no route, so deny.
    let response = gateway.get("/API/admin", "X-Test-Id: upper\r\n").await;
    response.assert_refused(404, "Not found");
    upstream.assert_never_saw("upper");

    // `/api/Admin` is not the static `admin`, so it is an `[id]`.
    let got = routed(&gateway, &upstream, "POST", "/api/Admin").await;
    assert_eq!(got, "/api/[id]");
}

#[tokio::test]
async fn unmatched_deny_answers_404_json_without_forwarding() {
    let upstream = Upstream::start().await;
    let gateway = Setup::new(&upstream.url())
        .server(r#"unmatched = "deny""#)
        .tables(OVERLAPPING)
        .start()
        .await;

    for (i, target) in ["/", "/admin", "/apix/1", "/_next/data/x.json"]
        .into_iter()
        .enumerate()
    {
        let id = format!("unmatched-{i}");
        let response = gateway.get(target, &format!("X-Test-Id: {id}\r\n")).await;
        response.assert_refused(404, "Not found");
        assert_eq!(
            response.header("content-type").as_deref(),
            Some("application/json")
        );
        upstream.assert_never_saw(&id);
    }
}

#[tokio::test]
async fn unmatched_pass_forwards_with_no_route() {
    let upstream = Upstream::start().await;
    let gateway = Setup::new(&upstream.url())
        .server(r#"unmatched = "pass""#)
        .tables(OVERLAPPING)
        .start()
        .await;

    let response = gateway.get("/about?x=1", "X-Test-Id: pass\r\n").await;
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(upstream.one_tagged("pass").target, "/about?x=1");
    assert_eq!(gateway.route_of(&response).await, "-");

    // Passing unmatched paths does not relax the canonical-path check.
    let response = gateway
        .get("/about/../admin", "X-Test-Id: pass-dots\r\n")
        .await;
    response.assert_refused(400, "Invalid input");
    upstream.assert_never_saw("pass-dots");

    // Nor a route's methods: a known path with the wrong method is still 405.
    let response = gateway.get("/shop/cart", "X-Test-Id: pass-405\r\n").await;
    assert_eq!(response.status, 405, "{response:?}");
    upstream.assert_never_saw("pass-405");
}
