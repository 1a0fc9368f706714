//! Outbound HTTP for the auth stage: key-set fetches and remote token checks.
//!
//! One small GET client over rustls (aws-lc, Mozilla's roots from webpki-roots, so no system
//! store is needed). It decides whether an auth URL is acceptable (`https://`, or `http://` to a
//! loopback host only) and reads a response under a time-out and a body-size bound; anything
//! but a 200 is an error, and no redirect is ever followed.

use std::net::IpAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode, Uri};
use http_body::Body as _;
use http_body_util::{BodyExt, Empty, LengthLimitError, Limited};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

/// The client both auth fetchers use; requests carry no body.
pub(crate) type HttpClient = Client<HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// How long an idle pooled connection to an auth server is kept.
const POOL_IDLE: Duration = Duration::from_secs(60);

/// Why a GET to an auth server produced no usable body.
///
/// No variant carries a header, a token or any of the response body.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FetchError {
    /// The whole exchange, body included, took longer than the time-out.
    #[error("timed out")]
    Timeout,
    /// No connection, a TLS failure, or the request could not be sent.
    #[error("request failed")]
    Request(#[source] hyper_util::client::legacy::Error),
    /// The server answered with something other than 200.
    #[error("status {0}")]
    Status(StatusCode),
    /// The body is larger than the bound.
    #[error("response larger than {0} bytes")]
    TooLarge(usize),
    /// The body could not be read to its end.
    #[error("response body failed")]
    Body,
}

impl FetchError {
    /// A short snake_case name for logs and metric labels.
    pub(crate) fn reason(&self) -> &'static str {
        match self {
            FetchError::Timeout => "timeout",
            FetchError::Request(_) => "connect",
            FetchError::Status(_) => "status",
            FetchError::TooLarge(_) => "too_large",
            FetchError::Body => "body",
        }
    }
}

/// Builds the client: HTTP/1.1 and HTTP/2 (by ALPN) over rustls with Mozilla's roots.
pub(crate) fn build() -> Result<HttpClient, String> {
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    let connector = HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(provider)
        .map_err(|error| format!("tls setup failed: {error}"))?
        // `http://` is let through here only because `parse_url` kept it to loopback hosts.
        .https_or_http()
        .enable_all_versions()
        .build();
    Ok(Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(POOL_IDLE)
        .build(connector))
}

/// Checks an auth URL: `https://` with a host, or `http://` to a loopback host.
///
/// Plain HTTP would let anyone on the path swap the keys or answer "valid" for any token, so
/// it is kept to tests and local development. User info in the URL is refused so that a
/// credential never sits where URLs get logged.
pub(crate) fn parse_url(url: &str) -> Result<Uri, String> {
    let uri: Uri = url
        .parse()
        .map_err(|_| format!("`{url}` is not a valid url"))?;
    let Some(authority) = uri.authority() else {
        return Err(format!("`{url}` has no host"));
    };
    if authority.as_str().contains('@') {
        return Err("url must not carry user info; use configured headers".to_owned());
    }

    let host = authority.host();
    match uri.scheme_str() {
        Some("https") if !host.is_empty() => Ok(uri),
        Some("http") if is_loopback(host) => Ok(uri),
        Some("http") => Err(format!(
            "`{url}` uses http:// to a non-loopback host; https:// is required"
        )),
        _ => Err(format!("`{url}` must use https://")),
    }
}

/// Whether `host` (as in a URL, IPv6 in brackets) names this machine.
fn is_loopback(host: &str) -> bool {
    let bare = host
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .unwrap_or(host);
    match bare.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => bare.eq_ignore_ascii_case("localhost"),
    }
}

/// Sends `request` and reads a 200's body of at most `limit` bytes, all within `timeout`.
///
/// The headers of the 200 come back too (for `Cache-Control`). Another status is an error
/// whose body is never read.
pub(crate) async fn get(
    client: &HttpClient,
    request: Request<Empty<Bytes>>,
    limit: usize,
    timeout: Duration,
) -> Result<(http::HeaderMap, Bytes), FetchError> {
    let exchange = async {
        let response = client.request(request).await.map_err(FetchError::Request)?;
        if response.status() != StatusCode::OK {
            return Err(FetchError::Status(response.status()));
        }

        // Refuse a declared oversize at once; `Limited` bounds the rest while reading.
        let (parts, body) = response.into_parts();
        if body.size_hint().lower() > limit as u64 {
            return Err(FetchError::TooLarge(limit));
        }
        let collected = Limited::new(body, limit).collect().await.map_err(|error| {
            if error.is::<LengthLimitError>() {
                FetchError::TooLarge(limit)
            } else {
                FetchError::Body
            }
        })?;
        Ok((parts.headers, collected.to_bytes()))
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .unwrap_or(Err(FetchError::Timeout))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::test_server::{Reply, TestServer};

    async fn get_with_limit(reply: Reply, limit: usize) -> Result<Bytes, FetchError> {
        let server = TestServer::start(reply).await;
        let request = Request::get(server.url("/")).body(Empty::new()).unwrap();
        let timeout = Duration::from_secs(2);
        get(&build().unwrap(), request, limit, timeout)
            .await
            .map(|(_, body)| body)
    }

    #[tokio::test]
    async fn bodies_are_bounded_while_reading() {
        for chunked in [false, true] {
            let reply = |body: &'static str| {
                let reply = Reply::new(200, body);
                if chunked { reply.chunked() } else { reply }
            };
            let fits = get_with_limit(reply("0123456789abcdef"), 16).await;
            assert_eq!(fits.unwrap(), "0123456789abcdef");
            let over = get_with_limit(reply("0123456789abcdefX"), 16).await;
            assert!(matches!(over, Err(FetchError::TooLarge(16))), "{over:?}");
        }
    }

    #[tokio::test]
    async fn only_200_is_read() {
        for status in [201, 204, 301, 400, 500] {
            let outcome = get_with_limit(Reply::new(status, "{}"), 16).await;
            assert!(
                matches!(outcome, Err(FetchError::Status(s)) if s == status),
                "{status}"
            );
        }
    }

    #[test]
    fn https_urls_are_accepted() {
        assert!(parse_url("https://project.supabase.co/auth/v1/.well-known/jwks.json").is_ok());
        assert!(parse_url("https://10.0.0.1:8443/keys").is_ok());
    }

    #[test]
    fn http_is_only_for_loopback() {
        for url in [
            "http://127.0.0.1:9999/jwks",
            "http://127.8.0.1/jwks",
            "http://[::1]:80/jwks",
            "http://localhost:54321/auth/v1/user",
            "http://LOCALHOST/x",
        ] {
            assert!(parse_url(url).is_ok(), "{url}");
        }
        for url in [
            "http://project.supabase.co/jwks",
            "http://10.0.0.1/jwks",
            "http://127.0.0.1.nip.io/jwks",
            "http://localhost.evil.example/jwks",
            "http://[::2]/jwks",
        ] {
            let error = parse_url(url).unwrap_err();
            assert!(error.contains("https:// is required"), "{url}: {error}");
        }
    }

    #[test]
    fn odd_urls_are_refused() {
        for url in [
            "",
            "/relative/path",
            "ftp://example.com/jwks",
            "example.com/jwks",
            "https://user:pass@example.com/jwks",
            "not a url",
        ] {
            assert!(parse_url(url).is_err(), "{url}");
        }
    }
}
