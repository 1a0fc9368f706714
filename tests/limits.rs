//! Limits and time-outs: body size counted as it streams, a stalled body, a slow or dead
//! upstream. A refused body never arrives complete at the upstream.

#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use support::{Gateway, Setup, Upstream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const ROUTES: &str = r#"
[[route]]
path = "/upload"
max_body = "4KiB"
auth = "none"

[[route]]
path = "/tiny"
max_body = "16B"
auth = "none"

[[route]]
path = "/[[...rest]]"
auth = "none"
"#;

async fn gateway(upstream: &Upstream) -> Gateway {
    Setup::new(&upstream.url())
        .server(r#"max_body = "1KiB""#)
        .tables(ROUTES)
        .start()
        .await
}

fn post_head(gateway: &Gateway, target: &str, id: &str, framing: &str) -> String {
    format!(
        "POST {target} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\
         Content-Type: application/octet-stream\r\nX-Test-Id: {id}\r\n{framing}\r\n",
        gateway.addr
    )
}

fn chunked(body: &[u8], chunk: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for piece in body.chunks(chunk) {
        out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        out.extend_from_slice(piece);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// Every byte value, repeated to `len`.
fn binary(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 256) as u8).collect()
}

/// Asserts the upstream holds no complete body for `id` (it may have seen the head of a
/// streamed request before the limit was hit), allowing the cut-off to propagate first.
async fn assert_no_complete_body(upstream: &Upstream, id: &str) {
    tokio::time::sleep(Duration::from_millis(300)).await;
    for seen in upstream.tagged(id) {
        assert!(
            !seen.complete,
            "the upstream received a complete body for {id}"
        );
    }
}

#[tokio::test]
async fn declared_length_over_the_limit_is_413_before_anything_is_sent() {
    let upstream = Upstream::start().await;
    let gateway = gateway(&upstream).await;

    let mut request = post_head(&gateway, "/api/x", "cl-over", "Content-Length: 2048\r\n");
    request.push_str(&"a".repeat(2048));
    let response = gateway.raw(&request).await;
    response.assert_refused(413, "Payload too large");
    upstream.assert_never_saw("cl-over");

    // Declaring a huge length without sending it changes nothing.
    let request = post_head(
        &gateway,
        "/api/x",
        "cl-huge",
        "Content-Length: 99999999999\r\n",
    );
    let response = gateway.raw(&request).await;
    response.assert_refused(413, "Payload too large");
    upstream.assert_never_saw("cl-huge");
}

#[tokio::test]
async fn chunked_body_over_the_limit_is_413_and_never_arrives_whole() {
    let upstream = Upstream::start().await;
    let gateway = gateway(&upstream).await;

    let mut request = post_head(
        &gateway,
        "/api/x",
        "chunked-over",
        "Transfer-Encoding: chunked\r\n",
    )
    .into_bytes();
    request.extend(chunked(&binary(3000), 100));
    let response = support::raw_request(gateway.addr, &request).await;
    response.assert_refused(413, "Payload too large");
    assert_no_complete_body(&upstream, "chunked-over").await;

    // One chunk that alone is over the limit.
    let mut request = post_head(
        &gateway,
        "/api/x",
        "one-chunk",
        "Transfer-Encoding: chunked\r\n",
    )
    .into_bytes();
    request.extend(chunked(&binary(1025), 4096));
    let response = support::raw_request(gateway.addr, &request).await;
    response.assert_refused(413, "Payload too large");
    assert_no_complete_body(&upstream, "one-chunk").await;
}

#[tokio::test]
async fn body_within_the_limit_arrives_byte_for_byte() {
    let upstream = Upstream::start().await;
    let gateway = gateway(&upstream).await;
    let body = binary(1024);

    let mut request =
        post_head(&gateway, "/api/x", "exact", "Content-Length: 1024\r\n").into_bytes();
    request.extend_from_slice(&body);
    let response = support::raw_request(gateway.addr, &request).await;
    assert_eq!(response.status, 200, "{response:?}");
    let seen = upstream.one_tagged("exact");
    assert!(seen.complete);
    assert_eq!(seen.body, body);

    let mut request = post_head(
        &gateway,
        "/api/x",
        "exact-chunked",
        "Transfer-Encoding: chunked\r\n",
    )
    .into_bytes();
    request.extend(chunked(&body, 300));
    let response = support::raw_request(gateway.addr, &request).await;
    assert_eq!(response.status, 200, "{response:?}");
    let seen = upstream.one_tagged("exact-chunked");
    assert!(seen.complete);
    assert_eq!(seen.body, body);
}

#[tokio::test]
async fn a_routes_max_body_overrides_the_servers() {
    let upstream = Upstream::start().await;
    let gateway = gateway(&upstream).await;
    let body = binary(3000);
    let send = |target: &str, id: &str| {
        let mut request = post_head(&gateway, target, id, "Content-Length: 3000\r\n").into_bytes();
        request.extend_from_slice(&body);
        request
    };

    // 3000 bytes: over the server's 1KiB, within /upload's 4KiB.
    let response = support::raw_request(gateway.addr, &send("/upload", "bigger")).await;
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(upstream.one_tagged("bigger").body, body);

    let response = support::raw_request(gateway.addr, &send("/api/x", "server")).await;
    response.assert_refused(413, "Payload too large");
    upstream.assert_never_saw("server");

    // A route may also be stricter than the server.
    let mut request =
        post_head(&gateway, "/tiny", "tiny", "Transfer-Encoding: chunked\r\n").into_bytes();
    request.extend(chunked(&binary(17), 5));
    let response = support::raw_request(gateway.addr, &request).await;
    response.assert_refused(413, "Payload too large");
    assert_no_complete_body(&upstream, "tiny").await;
}

#[tokio::test]
async fn a_slow_upstream_gives_504() {
    let upstream = Upstream::start().await;
    let gateway = Setup::new(&upstream.url())
        .server(r#"upstream_timeout = "500ms""#)
        .tables(ROUTES)
        .start()
        .await;

    let response = gateway.get("/slow", "").await;
    response.assert_refused(504, "Gateway timeout");
    let id = response.header("x-request-id").unwrap();
    let lines = gateway.access_lines_for(&id).await;
    assert_eq!(lines[0]["decision"], "error");
    assert_eq!(lines[0]["reason"], "upstream_timeout");
}

#[tokio::test]
async fn a_dead_upstream_gives_502() {
    let dead = format!("http://127.0.0.1:{}", support::free_port());
    let gateway = Setup::new(&dead).tables(ROUTES).start().await;

    let response = gateway.get("/api/x", "").await;
    response.assert_refused(502, "Bad gateway");
    let response = gateway.get("/api/x", "").await;
    response.assert_refused(502, "Bad gateway");
}

#[tokio::test]
async fn a_stalled_body_gives_408() {
    let upstream = Upstream::start().await;
    let gateway = Setup::new(&upstream.url())
        .server(r#"body_timeout = "500ms""#)
        .tables(ROUTES)
        .start()
        .await;

    // Half the promised body, then silence, with the connection held open.
    let mut stream = TcpStream::connect(gateway.addr).await.unwrap();
    let head = post_head(&gateway, "/api/x", "stall", "Content-Length: 100\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&[b'x'; 50]).await.unwrap();
    let response = support::read_response(&mut stream).await;
    response.assert_refused(408, "Request timeout");
    assert_no_complete_body(&upstream, "stall").await;

    // The same with a chunked body that stops mid-way.
    let mut stream = TcpStream::connect(gateway.addr).await.unwrap();
    let head = post_head(
        &gateway,
        "/api/x",
        "stall-chunked",
        "Transfer-Encoding: chunked\r\n",
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream
        .write_all(b"10\r\n0123456789abcdef\r\n")
        .await
        .unwrap();
    let response = support::read_response(&mut stream).await;
    response.assert_refused(408, "Request timeout");
    assert_no_complete_body(&upstream, "stall-chunked").await;
}

#[tokio::test]
async fn ambiguous_body_framing_is_refused_or_read_one_way() {
    let upstream = Upstream::start().await;
    let gateway = gateway(&upstream).await;

    // Content-Length and chunked together (the classic smuggling pair): hyper reads the
    // chunked body and drops the length, so the upstream must get that body, framed one way.
    let mut request = post_head(
        &gateway,
        "/api/x",
        "cl-te",
        "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
    )
    .into_bytes();
    request.extend_from_slice(b"a\r\n0123456789\r\n0\r\n\r\n");
    let response = support::raw_request(gateway.addr, &request).await;
    if response.status == 200 {
        let seen = upstream.one_tagged("cl-te");
        assert!(seen.complete);
        assert_eq!(seen.body, b"0123456789");
        let framings = usize::from(seen.headers.contains_key("content-length"))
            + usize::from(seen.headers.contains_key("transfer-encoding"));
        assert!(framings <= 1, "both framings forwarded: {seen:?}");
    } else {
        assert_eq!(response.status, 400, "{response:?}");
        upstream.assert_never_saw("cl-te");
    }

    // Transfer codings the upstream would receive undecoded: refused.
    let framings = [
        ("te-gzip", "Transfer-Encoding: gzip, chunked\r\n"),
        (
            "te-twice",
            "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
        ),
    ];
    for (id, framing) in framings {
        let mut request = post_head(&gateway, "/api/x", id, framing).into_bytes();
        request.extend_from_slice(b"a\r\n0123456789\r\n0\r\n\r\n");
        let response = support::raw_request(gateway.addr, &request).await;
        assert_eq!(response.status, 400, "{id}: {response:?}");
        upstream.assert_never_saw(id);
    }

    // Two different lengths: refused outright.
    let mut request = post_head(
        &gateway,
        "/api/x",
        "two-cl",
        "Content-Length: 5\r\nContent-Length: 6\r\n",
    );
    request.push_str("012345");
    let response = gateway.raw(&request).await;
    assert_eq!(response.status, 400, "{response:?}");
    upstream.assert_never_saw("two-cl");
}

#[tokio::test]
async fn headers_trickled_past_the_header_timeout_get_408() {
    let upstream = Upstream::start().await;
    let gateway = Setup::new(&upstream.url())
        .server(r#"header_timeout = "500ms""#)
        .tables(ROUTES)
        .start()
        .await;

    // Slowloris: a request head that never ends.
    let mut stream = TcpStream::connect(gateway.addr).await.unwrap();
    let head = format!(
        "GET /api/x HTTP/1.1\r\nHost: {}\r\nX-Test-Id: slow-head\r\nX-A: ",
        gateway.addr
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let response = support::read_response(&mut stream).await;
    response.assert_refused(408, "Request timeout");
    upstream.assert_never_saw("slow-head");
}

#[tokio::test]
async fn silent_and_idle_connections_are_closed_after_the_header_timeout() {
    let upstream = Upstream::start().await;
    let gateway = Setup::new(&upstream.url())
        .server(r#"header_timeout = "500ms""#)
        .tables(ROUTES)
        .start()
        .await;

    // A connection that never says anything is closed, with no answer.
    let mut silent = TcpStream::connect(gateway.addr).await.unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), silent.read_to_end(&mut buf)).await;
    assert!(
        matches!(read, Ok(Ok(0))),
        "silent connection not closed: {read:?}"
    );

    // A keep-alive connection left idle after a response is closed too.
    let mut idle = TcpStream::connect(gateway.addr).await.unwrap();
    let request = format!("GET /api/x HTTP/1.1\r\nHost: {}\r\n\r\n", gateway.addr);
    idle.write_all(request.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), idle.read_to_end(&mut buf)).await;
    assert!(
        matches!(read, Ok(Ok(_))),
        "idle connection not closed: {read:?}"
    );
    assert!(
        buf.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&buf)
    );
}

#[tokio::test]
async fn a_slow_upload_within_the_body_timeout_is_not_blamed_on_the_upstream() {
    let upstream = Upstream::start().await;
    let gateway = Setup::new(&upstream.url())
        .server("body_timeout = \"10s\"\nupstream_timeout = \"500ms\"")
        .tables(ROUTES)
        .start()
        .await;

    // Six bytes, one every 250ms: 1.5s in all, three times the upstream's allowance.
    let mut stream = TcpStream::connect(gateway.addr).await.unwrap();
    let head = post_head(&gateway, "/api/x", "slow-upload", "Content-Length: 6\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    for byte in b"abcdef" {
        tokio::time::sleep(Duration::from_millis(250)).await;
        stream.write_all(&[*byte]).await.unwrap();
    }
    let response = support::read_response(&mut stream).await;
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(upstream.one_tagged("slow-upload").body, b"abcdef");
}
