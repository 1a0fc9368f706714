//! Connection-level limits an attacker probes first: a stalled HTTP/2 preface, idle HTTP/2
//! connections, and more requests in flight than the upstream may be sent.

#![allow(clippy::unwrap_used)]

mod support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Request;
use http_body_util::Empty;
use hyper_util::rt::{TokioExecutor, TokioIo};
use support::{Setup, Upstream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const ROUTES: &str = r#"
[[route]]
path = "/[[...rest]]"
auth = "none"
"#;

/// Reads until the server closes the connection, failing after `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Vec<u8> {
    let mut buf = Vec::new();
    let read = tokio::time::timeout(limit, stream.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "connection still open after {limit:?}");
    buf
}

#[tokio::test]
async fn part_of_the_http2_preface_does_not_hold_a_connection() {
    let upstream = Upstream::start().await;
    let gateway = Setup::new(&upstream.url())
        .server(r#"header_timeout = "500ms""#)
        .tables(ROUTES)
        .start()
        .await;

    for prefix in [
        &b"P"[..],
        b"PRI * HTTP/2.0\r\n",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n",
    ] {
        let mut stream = TcpStream::connect(gateway.addr).await.unwrap();
        stream.write_all(prefix).await.unwrap();
        let answer = closed_within(&mut stream, Duration::from_secs(10)).await;
        assert!(answer.is_empty(), "{:?}", String::from_utf8_lossy(&answer));
    }
}

#[tokio::test]
async fn an_idle_http2_connection_is_closed_and_a_busy_one_is_not() {
    let upstream = Upstream::start().await;
    let gateway = Setup::new(&upstream.url())
        .server("idle_timeout = \"1s\"\nheader_timeout = \"500ms\"")
        .tables(ROUTES)
        .start()
        .await;

    let stream = TcpStream::connect(gateway.addr).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    let connection = tokio::spawn(connection);

    // A request that outlives the idle limit keeps the connection open...
    let url = format!("http://{}/hang-then-ok", gateway.addr);
    let request = Request::get(url).body(Empty::<Bytes>::new()).unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);

    // ...and once nothing is in flight, the server closes it (GOAWAY) within the limit.
    let started = Instant::now();
    let ended = tokio::time::timeout(Duration::from_secs(10), connection).await;
    assert!(ended.is_ok(), "idle HTTP/2 connection still open");
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "closed too early"
    );
}

#[tokio::test]
async fn requests_beyond_the_in_flight_limit_get_503_at_once() {
    let upstream = Upstream::start().await;
    let gateway = Setup::new(&upstream.url())
        .server("max_connections = 1\nupstream_timeout = \"20s\"")
        .tables(ROUTES)
        .start()
        .await;

    // One HTTP/2 connection: the first stream holds the only upstream slot.
    let stream = TcpStream::connect(gateway.addr).await.unwrap();
    let (sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(connection);
    let slow = format!("http://{}/slow", gateway.addr);
    let mut first = sender.clone();
    let holding = tokio::spawn(async move {
        let request = Request::get(slow).body(Empty::<Bytes>::new()).unwrap();
        first.send_request(request).await
    });
    support::eventually("the slow request reaches the upstream", || {
        !upstream.seen_for("/slow").is_empty()
    })
    .await;

    let mut second = sender.clone();
    let url = format!("http://{}/api/next", gateway.addr);
    let request = Request::get(url)
        .header("x-test-id", "overflow")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let started = Instant::now();
    let response = second.send_request(request).await.unwrap();
    assert_eq!(response.status(), 503);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the overflow request was queued"
    );
    upstream.assert_never_saw("overflow");
    holding.abort();
}
