//! Connection-level limits an attacker probes first: a stalled HTTP/2 preface, idle HTTP/2
//! connections, and more requests in flight than the upstream may be sent.

#![allow(clippy::unwrap_used)]

mod support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Request;
use http_body_util::Empty;
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
        // Closed in time; an HTTP/1 client that stalled the same way would be owed a 408.
        let answer = closed_within(&mut stream, Duration::from_secs(10)).await;
        assert!(
            answer.starts_with(b"HTTP/1.1 408 "),
            "{:?}",
            String::from_utf8_lossy(&answer)
        );
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

    let (mut sender, connection) = support::h2_connect(gateway.addr).await;

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
    let (sender, _connection) = support::h2_connect(gateway.addr).await;
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

#[tokio::test]
async fn a_client_that_stops_reading_its_response_is_cut_off() {
    let upstream = Upstream::start().await;
    let gateway = Setup::new(&upstream.url())
        .server("send_timeout = \"1s\"")
        .tables(ROUTES)
        .start()
        .await;

    // Ask for a large response and never read it: the gateway's writes stall.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(gateway.addr).await.unwrap();
    let request = format!("GET /big HTTP/1.1\r\nHost: {}\r\n\r\n", gateway.addr);
    stream.write_all(request.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_secs(4)).await;

    // By now the gateway has given up: reading drains what was sent, then the connection ends.
    let mut total = 0usize;
    let mut buf = vec![0u8; 64 * 1024];
    let drained = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
    })
    .await;
    assert!(drained.is_ok(), "the stalled connection was never closed");
    assert!(
        total < support::BIG,
        "the whole response arrived: {total} bytes"
    );
}

#[tokio::test]
async fn methods_palisade_does_not_route_get_405_everywhere() {
    let upstream = Upstream::start().await;
    let gateway = Setup::new(&upstream.url()).tables(ROUTES).start().await;
    for method in ["TRACE", "PRI", "FOO", "PROPFIND"] {
        let response = gateway
            .request(method, "/api/anything", "X-Test-Id: odd-method\r\n")
            .await;
        response.assert_refused(405, "Method not allowed");
        assert!(response.header("allow").unwrap().contains("GET"));
    }
    upstream.assert_never_saw("odd-method");
}

#[tokio::test]
async fn an_http2_client_that_ignores_goaway_is_still_closed() {
    let upstream = Upstream::start().await;
    let gateway = Setup::new(&upstream.url())
        .server("idle_timeout = \"1s\"")
        .tables(ROUTES)
        .start()
        .await;

    // The preface and an empty SETTINGS frame, then nothing: no ack, no ping answer.
    let mut stream = TcpStream::connect(gateway.addr).await.unwrap();
    stream
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .unwrap();
    stream
        .write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0])
        .await
        .unwrap();
    closed_within(&mut stream, Duration::from_secs(10)).await;
}

#[tokio::test]
async fn a_response_still_streaming_counts_against_the_in_flight_limit() {
    let upstream = Upstream::start().await;
    let gateway = Setup::new(&upstream.url())
        .server("max_connections = 2")
        .tables(ROUTES)
        .start()
        .await;

    let (sender, _connection) = support::h2_connect(gateway.addr).await;
    let get = |path: &str| {
        let url = format!("http://{}{path}", gateway.addr);
        Request::get(url).body(Empty::<Bytes>::new()).unwrap()
    };

    // Two large responses whose bodies are not read: both still hold their upstream slots.
    let mut first = sender.clone();
    let big_one = first.send_request(get("/big")).await.unwrap();
    let big_two = first.send_request(get("/big")).await.unwrap();
    assert_eq!(
        (big_one.status().as_u16(), big_two.status().as_u16()),
        (200, 200)
    );
    let response = first.send_request(get("/api/third")).await.unwrap();
    assert_eq!(response.status(), 503);

    // Dropping a body frees its slot.
    drop(big_one);
    support::eventually_async("a slot frees once a body is dropped", || {
        let mut sender = sender.clone();
        let request = get("/api/fourth");
        async move { sender.send_request(request).await.unwrap().status() == 200 }
    })
    .await;
}
