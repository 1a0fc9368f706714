//! Header hygiene: what no client may send through the gateway.
//!
//! Hop-by-hop headers and those a `Connection` header names belong to one connection and are
//! dropped. Headers that carry palisade's or Next.js's own decisions are removed whoever sends
//! them; headers by which a proxy speaks are kept only from a trusted proxy.

use std::borrow::Cow;

use http::HeaderMap;
use http::header::{CONNECTION, HeaderName, TRANSFER_ENCODING};

use crate::error::Rejection;

/// Hop-by-hop headers (RFC 9110 §7.6.1, plus the legacy ones proxies still see).
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Headers by which a proxy speaks for its client; dropped unless the peer is a proxy the
/// operator runs. Apps and frameworks read many of these for the client's address or the
/// public URL, so a client must not be able to set them.
const PROXY_ONLY: &[&str] = &[
    "forwarded",
    "x-forwarded",
    "x-real-ip",
    "x-client-ip",
    "true-client-ip",
    "cf-connecting-ip",
    "fastly-client-ip",
    "x-cluster-client-ip",
    "x-forwarded-port",
    "x-forwarded-prefix",
    "x-forwarded-server",
    "x-forwarded-ssl",
    "x-forwarded-scheme",
    "x-forwarded-uri",
    "x-host",
    "x-original-host",
    "x-original-url",
    "x-rewrite-url",
    "x-forwarded-protocol",
    "x-forwarded-client-cert",
    "x-url-scheme",
    "front-end-https",
];

/// Prefixes of headers a hosting platform sets for its apps (client address, geography),
/// dropped unless the peer is a proxy the operator runs.
const PROXY_ONLY_PREFIXES: &[&str] = &["x-vercel-"];

/// Exact names of framework-internal headers no client may send.
const INTERNAL: &[&str] = &["x-now-route-matches", "x-matched-path"];

/// Prefixes of headers no client may send: palisade's identity headers, and Next.js's
/// internal ones (`x-middleware-subrequest` lets a request skip middleware altogether).
const INTERNAL_PREFIXES: &[&str] = &["x-palisade-", "x-middleware-", "x-invoke-"];

/// Whether a client-sent header named `name` must never reach the upstream.
fn is_internal(name: &str) -> bool {
    INTERNAL.contains(&name) || INTERNAL_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// Headers a `Connection` header may not name: dropping them would change who the caller is,
/// where the request goes, or how it is framed.
fn is_protected(name: &str) -> bool {
    matches!(
        name,
        "authorization"
            | "cookie"
            | "host"
            | "content-length"
            | "content-type"
            | "x-forwarded-for"
            | "x-forwarded-proto"
            | "x-forwarded-host"
            | "x-request-id"
    ) || name.starts_with("x-palisade-")
}

/// Cleans an incoming request's headers in place; refuses a `Connection` header that names a
/// protected header.
pub fn clean_request(headers: &mut HeaderMap, from_trusted_proxy: bool) -> Result<(), Rejection> {
    check_framing(headers)?;
    let mut doomed: Vec<HeaderName> = Vec::new();
    for value in headers.get_all(CONNECTION) {
        let value = value
            .to_str()
            .map_err(|_| Rejection::InvalidHeader("connection_not_ascii"))?;
        for token in value.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let name = HeaderName::from_bytes(token.as_bytes())
                .map_err(|_| Rejection::InvalidHeader("connection_bad_token"))?;
            if is_protected(name.as_str()) || is_internal(name.as_str()) {
                return Err(Rejection::InvalidHeader(
                    "connection_names_protected_header",
                ));
            }
            doomed.push(name);
        }
    }

    for name in headers.keys() {
        // Some servers fold `_` into `-` (CGI, WSGI, PHP): `x_palisade_user` is the same
        // header to them, so it is judged by its folded name.
        let folded = fold_underscores(name.as_str());
        let proxy_only = PROXY_ONLY.contains(&&*folded)
            || PROXY_ONLY_PREFIXES.iter().any(|p| folded.starts_with(p));
        let spoofable = !from_trusted_proxy && proxy_only;
        if is_internal(&folded) || spoofable || is_rewritten(&folded, name.as_str()) {
            doomed.push(name.clone());
        }
    }
    remove_all(headers, &doomed);
    remove_hop_by_hop(headers);
    Ok(())
}

/// Refuses a transfer coding other than a single `chunked`: hyper decodes only the chunking,
/// so `gzip, chunked` would reach the upstream as gzip bytes framed as plain data. (A
/// `Content-Length` beside `chunked` never gets here: hyper reads the chunked body and drops
/// the length, so the upstream receives the body one way only.)
fn check_framing(headers: &HeaderMap) -> Result<(), Rejection> {
    let mut codings = headers.get_all(TRANSFER_ENCODING).iter();
    let Some(first) = codings.next() else {
        return Ok(());
    };
    if codings.next().is_some() || !first.as_bytes().eq_ignore_ascii_case(b"chunked") {
        return Err(Rejection::InvalidHeader("unsupported_transfer_encoding"));
    }
    Ok(())
}

/// `name` with `_` as `-`; borrowed when there is none.
fn fold_underscores(name: &str) -> Cow<'_, str> {
    if name.contains('_') {
        Cow::Owned(name.replace('_', "-"))
    } else {
        Cow::Borrowed(name)
    }
}

/// Whether `name` is an underscore spelling of a header palisade sets itself, which would
/// reach an underscore-folding upstream beside palisade's own value.
fn is_rewritten(folded: &str, name: &str) -> bool {
    folded != name
        && matches!(
            folded,
            "x-forwarded-for" | "x-forwarded-proto" | "x-forwarded-host" | "x-request-id" | "host"
        )
}

/// Cleans an upstream response's headers in place.
pub fn clean_response(headers: &mut HeaderMap) {
    let mut doomed: Vec<HeaderName> = Vec::new();
    for value in headers.get_all(CONNECTION) {
        let Ok(value) = value.to_str() else { continue };
        for token in value.split(',').map(str::trim) {
            if let Ok(name) = HeaderName::from_bytes(token.as_bytes()) {
                doomed.push(name);
            }
        }
    }
    remove_all(headers, &doomed);
    remove_hop_by_hop(headers);
}

fn remove_all(headers: &mut HeaderMap, names: &[HeaderName]) {
    for name in names {
        headers.remove(name);
    }
}

fn remove_hop_by_hop(headers: &mut HeaderMap) {
    for name in HOP_BY_HOP {
        headers.remove(*name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn map(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, HeaderValue::from_static(value));
        }
        headers
    }

    #[test]
    fn next_internal_and_palisade_headers_are_removed() {
        let mut headers = map(&[
            (
                "x-middleware-subrequest",
                "middleware:middleware:middleware",
            ),
            ("x-palisade-user", "admin"),
            ("x-invoke-path", "/admin"),
            ("x-now-route-matches", "1"),
            ("accept", "*/*"),
        ]);
        clean_request(&mut headers, true).unwrap();
        assert_eq!(headers.len(), 1);
        assert!(headers.contains_key("accept"));
    }

    #[test]
    fn underscore_spellings_are_judged_as_dashes() {
        let mut headers = map(&[
            ("x_middleware_subrequest", "middleware"),
            ("x-palisade_user", "admin"),
            ("x_forwarded_for", "6.6.6.6"),
            ("x_real_ip", "6.6.6.6"),
            ("x_custom_header", "kept"),
        ]);
        clean_request(&mut headers, false).unwrap();
        assert_eq!(headers.len(), 1, "{headers:?}");
        assert!(headers.contains_key("x_custom_header"));
    }

    #[test]
    fn client_address_headers_are_proxy_only() {
        let pairs = [
            ("true-client-ip", "6.6.6.6"),
            ("cf-connecting-ip", "6.6.6.6"),
            ("x-client-ip", "6.6.6.6"),
            ("x-forwarded-ssl", "on"),
            ("x-original-host", "evil.example"),
            ("x-vercel-forwarded-for", "6.6.6.6"),
            ("x-vercel-ip-country", "XX"),
            ("x-forwarded-client-cert", "Hash=..."),
        ];
        let mut untrusted = map(&pairs);
        clean_request(&mut untrusted, false).unwrap();
        assert!(untrusted.is_empty(), "{untrusted:?}");
    }

    #[test]
    fn connection_named_headers_are_dropped() {
        let mut headers = map(&[
            ("connection", "keep-alive, X-Debug"),
            ("x-debug", "1"),
            ("keep-alive", "timeout=5"),
            ("upgrade", "h2c"),
            ("te", "trailers"),
        ]);
        clean_request(&mut headers, false).unwrap();
        assert!(headers.is_empty(), "{headers:?}");
    }

    #[test]
    fn connection_naming_a_protected_header_is_refused() {
        for victim in [
            "authorization",
            "X-Palisade-User",
            "x-forwarded-for",
            "cookie",
            "host",
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(
                CONNECTION,
                HeaderValue::from_str(&format!("close, {victim}")).unwrap(),
            );
            assert!(clean_request(&mut headers, false).is_err(), "{victim}");
        }
    }

    #[test]
    fn proxy_headers_kept_only_from_trusted_peers() {
        let pairs = [
            ("x-real-ip", "6.6.6.6"),
            ("forwarded", "for=6.6.6.6"),
            ("x-original-url", "/admin"),
        ];
        let mut untrusted = map(&pairs);
        clean_request(&mut untrusted, false).unwrap();
        assert!(untrusted.is_empty());
        let mut trusted = map(&pairs);
        clean_request(&mut trusted, true).unwrap();
        assert_eq!(trusted.len(), 3);
    }

    #[test]
    fn ambiguous_framing_is_refused() {
        for coding in ["gzip, chunked", "chunked, chunked", "identity", "xchunked"] {
            let headers = map(&[("transfer-encoding", coding)]);
            assert!(check_framing(&headers).is_err(), "{coding}");
        }
        assert!(check_framing(&map(&[("transfer-encoding", "Chunked")])).is_ok());
        assert!(check_framing(&map(&[("content-length", "5")])).is_ok());
    }

    #[test]
    fn response_hop_by_hop_is_removed() {
        let mut headers = map(&[
            ("connection", "x-internal"),
            ("x-internal", "1"),
            ("transfer-encoding", "chunked"),
            ("content-type", "text/plain"),
        ]);
        clean_response(&mut headers);
        assert_eq!(headers.len(), 1);
    }
}
