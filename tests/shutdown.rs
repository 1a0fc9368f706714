//! Graceful shutdown: SIGTERM (and SIGINT) stop new traffic, let a request in flight finish,
//! and end the process with status 0 within the drain bound.

#![allow(clippy::unwrap_used)]

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use support::{DEADLINE, Gateway, Setup, Upstream};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const ROUTES: &str = r#"
[[route]]
path = "/[[...rest]]"
auth = "none"
"#;

async fn gateway(upstream: &Upstream) -> Gateway {
    Setup::new(&upstream.url())
        .server(r#"shutdown_timeout = "20s""#)
        .tables(ROUTES)
        .start()
        .await
}

fn signal(gateway: &Gateway, name: &str) {
    let status = Command::new("kill")
        .args([name, &gateway.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill {name} failed");
}

/// Polls until a new connection to the public listener is refused.
async fn refuses_new_connections(gateway: &Gateway) -> bool {
    let started = Instant::now();
    while started.elapsed() < DEADLINE {
        if TcpStream::connect(gateway.addr).await.is_err() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

async fn drains_a_request_in_flight(signal_name: &str) {
    let upstream = Upstream::start().await;
    let mut gateway = gateway(&upstream).await;

    // Start a request the upstream takes a while to answer, and wait until it is upstream.
    let mut stream = TcpStream::connect(gateway.addr).await.unwrap();
    let request = format!(
        "GET /hang-then-ok HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        gateway.addr
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let in_flight = tokio::spawn(async move { support::read_response(&mut stream).await });
    support::eventually("the request to reach the upstream", || {
        !upstream.seen_for("/hang-then-ok").is_empty()
    })
    .await;

    signal(&gateway, signal_name);
    assert!(
        refuses_new_connections(&gateway).await,
        "still accepting connections after {signal_name}"
    );

    let response = in_flight.await.unwrap();
    assert_eq!(
        response.status, 200,
        "the request in flight was cut: {response:?}"
    );
    assert_eq!(response.json()["target"], "/hang-then-ok");

    let status = gateway.wait_exit(DEADLINE).await;
    let status = status.unwrap_or_else(|| panic!("still running {DEADLINE:?} after {signal_name}"));
    assert_eq!(status.code(), Some(0), "{}", gateway.stderr_text());
    assert!(
        gateway
            .stdout_text()
            .contains("draining requests in flight")
    );
}

#[tokio::test]
async fn sigterm_drains_a_request_in_flight_then_exits_0() {
    drains_a_request_in_flight("-TERM").await;
}

#[tokio::test]
async fn sigint_drains_a_request_in_flight_then_exits_0() {
    drains_a_request_in_flight("-INT").await;
}

#[tokio::test]
async fn an_idle_gateway_exits_promptly_on_sigterm() {
    let upstream = Upstream::start().await;
    let mut gateway = gateway(&upstream).await;

    // An idle keep-alive connection must not hold shutdown until the drain bound.
    let mut idle = TcpStream::connect(gateway.addr).await.unwrap();
    let request = format!("GET /x HTTP/1.1\r\nHost: {}\r\n\r\n", gateway.addr);
    idle.write_all(request.as_bytes()).await.unwrap();
    support::eventually("the keep-alive request", || {
        !upstream.seen_for("/x").is_empty()
    })
    .await;

    signal(&gateway, "-TERM");
    let status = gateway.wait_exit(DEADLINE).await;
    assert_eq!(status.and_then(|s| s.code()), Some(0));
}
