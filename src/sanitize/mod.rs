//! Stage 1, sanitize: make the request mean one thing before any decision is taken on it.
//!
//! Spoofable and hop-by-hop headers are stripped, the `Host` is checked against the app's host
//! names, the path must be canonical and the query free of Next.js's reserved parameters, and
//! the `X-Forwarded-*` headers are set from what palisade itself knows. Rejects with 400 or 421.

pub mod forwarded;
pub mod headers;
pub mod path;

use std::net::IpAddr;

use http::header::{HOST, HeaderName, HeaderValue};
use http::request::Parts;
use http::{HeaderMap, Uri};

use crate::config::{HostName, Server};
use crate::error::Rejection;
use forwarded::Trust;
use path::CanonicalPath;

/// `x-request-id`, on every request forwarded and every response.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// What sanitizing learned about a request that later stages need.
#[derive(Debug)]
pub struct Sanitized<'u> {
    /// The client's address, after `trusted_proxies`.
    pub client_ip: IpAddr,
    /// The path, decoded and split for routing.
    pub path: CanonicalPath<'u>,
}

/// How the request reached palisade.
#[derive(Debug, Clone, Copy)]
pub struct Peer {
    /// The address of the connection's other end.
    pub ip: IpAddr,
    /// Whether it came over TLS.
    pub tls: bool,
    /// How far `ip`'s forwarding headers are believed.
    pub trust: Trust,
}

/// The request id: a proxy's the operator runs, when well-formed, else a fresh random one.
pub fn request_id(parts: &Parts, peer: &Peer) -> HeaderValue {
    if peer.trust == Trust::Full
        && let Some(id) = parts.headers.get(&X_REQUEST_ID)
    {
        let valid = (1..=128).contains(&id.len())
            && id
                .as_bytes()
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b));
        if valid {
            return id.clone();
        }
    }
    new_request_id()
}

/// A fresh random request id: 32 lower-case hex digits.
pub fn new_request_id() -> HeaderValue {
    let mut hex = [0u8; 32];
    let random = fastrand::u128(..);
    for (i, byte) in hex.iter_mut().enumerate() {
        let nibble = ((random >> (4 * i)) & 0xf) as u8;
        *byte = b"0123456789abcdef"[nibble as usize];
    }
    // Hex digits are always a valid header value.
    HeaderValue::from_bytes(&hex).unwrap_or_else(|_| HeaderValue::from_static("0"))
}

/// Runs stage 1 on a request's target and headers; the headers are cleaned in place.
pub fn sanitize<'u>(
    uri: &'u Uri,
    headers: &mut HeaderMap,
    peer: &Peer,
    server: &Server,
) -> Result<Sanitized<'u>, Rejection> {
    headers::clean_request(headers, peer.trust == Trust::Full)?;

    let path = path::canonicalize(uri.path()).map_err(Rejection::InvalidPath)?;
    if let Some(query) = uri.query() {
        path::check_query(query).map_err(Rejection::InvalidQuery)?;
    }

    // Behind a proxy the operator runs, the public host may come in X-Forwarded-Host; then
    // both it and the Host the proxy used must be ones the app answers to.
    let host = request_host(uri, headers)?;
    let public_host = match headers.get(&X_FORWARDED_HOST) {
        Some(forwarded) if peer.trust == Trust::Full => forwarded.clone(),
        _ => host.clone(),
    };
    if let Some(allowed) = &server.hosts {
        check_host(&host, allowed)?;
        check_host(&public_host, allowed)?;
    }

    let client_ip = server
        .trusted_proxies
        .client_address(peer.ip, headers.get_all(&X_FORWARDED_FOR).iter());
    let proto = match headers.get(&X_FORWARDED_PROTO) {
        Some(p) if peer.trust != Trust::None && (p == "https" || p == "http") => p.clone(),
        _ if peer.tls => HeaderValue::from_static("https"),
        _ => HeaderValue::from_static("http"),
    };

    // Tell the upstream what palisade established, replacing whatever the client said.
    headers.insert(X_FORWARDED_FOR.clone(), ip_header(client_ip));
    headers.insert(X_FORWARDED_PROTO.clone(), proto);
    headers.insert(X_FORWARDED_HOST.clone(), public_host);
    headers.insert(HOST, host);
    Ok(Sanitized { client_ip, path })
}

/// The request's one host: the `Host` header, or the HTTP/2 `:authority`, which must agree.
fn request_host(uri: &Uri, headers: &HeaderMap) -> Result<HeaderValue, Rejection> {
    let mut hosts = headers.get_all(HOST).iter();
    let header = hosts.next();
    if hosts.next().is_some() {
        return Err(Rejection::InvalidHeader("duplicate_host"));
    }
    let authority = uri.authority();
    let host = match (header, authority) {
        (Some(h), Some(a)) if !h.as_bytes().eq_ignore_ascii_case(a.as_str().as_bytes()) => {
            return Err(Rejection::InvalidHeader("host_mismatch"));
        }
        (Some(h), _) => h.clone(),
        (None, Some(a)) => {
            HeaderValue::from_str(a.as_str()).map_err(|_| Rejection::InvalidHeader("bad_host"))?
        }
        (None, None) => return Err(Rejection::InvalidHeader("missing_host")),
    };
    parse_host(&host).ok_or(Rejection::InvalidHeader("bad_host"))?;
    Ok(host)
}

/// Splits a `Host` value into a lower-case name and an optional port; `None` if malformed.
fn parse_host(value: &HeaderValue) -> Option<HostName> {
    let text = value.to_str().ok()?;
    let authority: http::uri::Authority = text.parse().ok()?;
    let name = authority.host();
    let port_ok = valid_port(text);
    let valid = port_ok
        && !text.contains('@')
        && !name.is_empty()
        && (name.starts_with('[')
            || name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.'));
    valid.then(|| HostName {
        name: name.to_ascii_lowercase(),
        port: authority.port_u16(),
    })
}

/// Whether the part after a host's last `:` (outside IPv6 brackets), if any, is a port number.
pub(crate) fn valid_port(authority: &str) -> bool {
    match authority.rsplit_once(':') {
        Some((_, port)) if !port.contains(']') => {
            (1..=5).contains(&port.len())
                && port.bytes().all(|b| b.is_ascii_digit())
                && port.parse::<u16>().is_ok_and(|p| p > 0)
        }
        _ => true,
    }
}

fn check_host(value: &HeaderValue, allowed: &[HostName]) -> Result<(), Rejection> {
    let host = parse_host(value).ok_or(Rejection::InvalidHeader("bad_host"))?;
    let name = host.name.strip_suffix('.').unwrap_or(&host.name);
    let known = allowed
        .iter()
        .any(|a| a.name == name && (a.port.is_none() || a.port == host.port));
    if known {
        Ok(())
    } else {
        Err(Rejection::UnknownHost)
    }
}

fn ip_header(ip: IpAddr) -> HeaderValue {
    // An address's text form is always a valid header value.
    HeaderValue::from_str(&ip.to_string()).unwrap_or_else(|_| HeaderValue::from_static("unknown"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(text: &'static str) -> HeaderValue {
        HeaderValue::from_static(text)
    }

    fn allowed() -> Vec<HostName> {
        vec![
            HostName {
                name: "yourapp.com".into(),
                port: None,
            },
            HostName {
                name: "localhost".into(),
                port: Some(8080),
            },
        ]
    }

    #[test]
    fn listed_hosts_pass_case_insensitively() {
        assert!(check_host(&host("YourApp.com"), &allowed()).is_ok());
        assert!(check_host(&host("yourapp.com:443"), &allowed()).is_ok());
        assert!(check_host(&host("yourapp.com."), &allowed()).is_ok());
        assert!(check_host(&host("localhost:8080"), &allowed()).is_ok());
    }

    #[test]
    fn other_hosts_are_refused() {
        for bad in [
            "evil.com",
            "yourapp.com.evil.com",
            "localhost:9999",
            "localhost",
        ] {
            assert!(check_host(&host(bad), &allowed()).is_err(), "{bad}");
        }
        let malformed = [
            "user@yourapp.com",
            "your app.com",
            "",
            "yourapp.com:xx",
            "yourapp.com:+443",
            "yourapp.com:0",
            "yourapp.com:99999",
        ];
        for malformed in malformed {
            let value = HeaderValue::from_str(malformed).unwrap();
            assert!(parse_host(&value).is_none(), "{malformed}");
        }
    }

    #[test]
    fn generated_request_ids_are_unique_hex() {
        let parts = http::Request::new(()).into_parts().0;
        let peer = Peer {
            ip: "127.0.0.1".parse().unwrap(),
            tls: false,
            trust: Trust::None,
        };
        let a = request_id(&parts, &peer);
        let b = request_id(&parts, &peer);
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
    }

    #[test]
    fn untrusted_request_id_is_replaced() {
        let mut request = http::Request::new(());
        request
            .headers_mut()
            .insert("x-request-id", HeaderValue::from_static("forged"));
        let (parts, _) = request.into_parts();
        let untrusted = Peer {
            ip: "203.0.113.1".parse().unwrap(),
            tls: false,
            trust: Trust::None,
        };
        assert_ne!(request_id(&parts, &untrusted), "forged");
        let trusted = Peer {
            trust: Trust::Full,
            ..untrusted
        };
        assert_eq!(request_id(&parts, &trusted), "forged");
    }

    fn server(extra: &str) -> crate::config::Config {
        let text = format!(
            "[server]\nlisten = \"127.0.0.1:8080\"\nupstream = \"http://127.0.0.1:3000\"\n{extra}\n\
             [[route]]\npath = \"/x\"\nauth = \"none\"\n"
        );
        crate::config::Config::parse(
            &text,
            std::path::Path::new("t.toml"),
            std::path::Path::new("."),
        )
        .unwrap()
    }

    #[test]
    fn an_edge_network_is_believed_on_address_and_scheme_only() {
        let config = server("hosts = [\"yourapp.com\"]\ntrusted_proxies = [\"cloudflare\"]");
        let mut request = http::Request::get("/x").body(()).unwrap();
        let headers = request.headers_mut();
        for (name, value) in [
            ("host", "yourapp.com"),
            ("x-forwarded-for", "6.6.6.6, 198.51.100.7"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "evil.example"),
            ("x-real-ip", "6.6.6.6"),
            ("x-request-id", "chosen-by-client"),
        ] {
            headers.insert(name, HeaderValue::from_static(value));
        }
        let (mut parts, ()) = request.into_parts();
        let peer = Peer {
            ip: "104.16.0.1".parse().unwrap(),
            tls: false,
            trust: Trust::Address,
        };
        assert_ne!(request_id(&parts, &peer), "chosen-by-client");

        let uri = parts.uri.clone();
        let sanitized = sanitize(&uri, &mut parts.headers, &peer, &config.server).unwrap();
        assert_eq!(sanitized.client_ip.to_string(), "198.51.100.7");
        assert_eq!(parts.headers["x-forwarded-proto"], "https");
        assert_eq!(parts.headers["x-forwarded-host"], "yourapp.com");
        assert!(!parts.headers.contains_key("x-real-ip"));
    }
}
