//! The TLS listener: HTTP/1.1 and HTTP/2 chosen by ALPN, the same protections as plain HTTP,
//! `X-Forwarded-Proto: https` for the upstream, and a silent TLS client cut off in time.

#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::ServerName;
use support::{Setup, Upstream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// A self-signed certificate for `localhost`, written as PEM files; returns the directory
/// and the certificate to trust.
fn certificate() -> (
    tempfile::TempDir,
    rustls::pki_types::CertificateDer<'static>,
) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cert.pem"), cert.cert.pem()).unwrap();
    std::fs::write(dir.path().join("key.pem"), cert.signing_key.serialize_pem()).unwrap();
    (dir, cert.cert.der().clone())
}

fn connector(trusted: rustls::pki_types::CertificateDer<'static>, alpn: &[u8]) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(trusted).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    TlsConnector::from(Arc::new(config))
}

const ROUTES: &str = r#"
[[route]]
path = "/api/[...rest]"
auth = "none"
"#;

async fn tls_gateway(
    upstream: &Upstream,
) -> (
    support::Gateway,
    rustls::pki_types::CertificateDer<'static>,
    tempfile::TempDir,
) {
    let (dir, cert) = certificate();
    let tls = format!(
        "tls = {{ cert = \"file:{}\", key = \"file:{}\" }}\nheader_timeout = \"500ms\"\nhosts = [\"localhost\"]",
        dir.path().join("cert.pem").display(),
        dir.path().join("key.pem").display()
    );
    let gateway = Setup::new(&upstream.url())
        .server(&tls)
        .tables(ROUTES)
        .start()
        .await;
    (gateway, cert, dir)
}

#[tokio::test]
async fn http1_over_tls_is_proxied_with_forwarded_proto_https() {
    let upstream = Upstream::start().await;
    let (gateway, cert, _dir) = tls_gateway(&upstream).await;

    let tcp = TcpStream::connect(gateway.addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let mut tls = connector(cert, b"http/1.1")
        .connect(name, tcp)
        .await
        .unwrap();
    let request = "GET /api/hello HTTP/1.1\r\nHost: localhost\r\nX-Test-Id: tls1\r\n\
                   X-Forwarded-Proto: http\r\nConnection: close\r\n\r\n";
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    let _ = tls.read_to_end(&mut response).await;
    let response = support::parse_response(&response).unwrap();
    assert_eq!(response.status, 200, "{response:?}");
    let seen = upstream.one_tagged("tls1");
    assert_eq!(seen.header("x-forwarded-proto").as_deref(), Some("https"));
}

#[tokio::test]
async fn http2_is_chosen_by_alpn_and_refuses_non_canonical_paths() {
    let upstream = Upstream::start().await;
    let (gateway, cert, _dir) = tls_gateway(&upstream).await;

    let tcp = TcpStream::connect(gateway.addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let tls = connector(cert, b"h2").connect(name, tcp).await.unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(connection);

    let ok = http::Request::get("https://localhost/api/hello")
        .header("x-test-id", "tls2")
        .body(Empty::<bytes::Bytes>::new())
        .unwrap();
    let response = sender.send_request(ok).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        upstream
            .one_tagged("tls2")
            .header("x-forwarded-proto")
            .as_deref(),
        Some("https")
    );

    let traversal = http::Request::get("https://localhost/api/%2e%2e/admin")
        .header("x-test-id", "tls-traversal")
        .body(Empty::<bytes::Bytes>::new())
        .unwrap();
    let response = sender.send_request(traversal).await.unwrap();
    assert_eq!(response.status(), 400);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], br#"{"error":"Invalid input"}"#);
    upstream.assert_never_saw("tls-traversal");
}

#[tokio::test]
async fn a_client_that_never_finishes_the_handshake_is_cut_off() {
    let upstream = Upstream::start().await;
    let (gateway, _cert, _dir) = tls_gateway(&upstream).await;

    let mut tcp = TcpStream::connect(gateway.addr).await.unwrap();
    tcp.write_all(&[0x16, 0x03, 0x01]).await.unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "handshake never timed out");
}
