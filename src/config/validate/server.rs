//! `[server]` and `[admin]`, checked: addresses, the upstream, hosts, trusted proxies, TLS and
//! time-outs.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use toml::Spanned;

use super::{Checker, HOUR, MAX_BODY_CEILING, MILLI, SECOND};
use crate::config::raw::{RawServer, RawTls};
use crate::config::units::{parse_duration, parse_size};
use crate::config::{HostName, Server, Timeouts, Tls, Unmatched, Upstream};
use crate::sanitize::forwarded::TrustedProxies;
use crate::secret;

pub(super) fn check_server(
    checker: &mut Checker<'_>,
    raw: &RawServer,
    base_dir: &Path,
    warnings: &mut Vec<String>,
) -> Option<Server> {
    let listen = checker.check("server.listen", &raw.listen, |s| parse_listen(s));
    let upstream = checker.check("server.upstream", &raw.upstream, |s| parse_upstream(s));
    let public_origin = match &raw.public_origin {
        Some(origin) => checker.check("server.public_origin", origin, |s| parse_origin(s)),
        None => None,
    };
    let trusted_proxies = check_trusted_proxies(checker, &raw.trusted_proxies, warnings);
    let max_body = match &raw.max_body {
        Some(size) => checker.check("server.max_body", size, |s| {
            parse_size(s, 1, MAX_BODY_CEILING)
        }),
        None => Some(1 << 20),
    };
    let unmatched = match &raw.unmatched {
        Some(value) => checker.check("server.unmatched", value, |s| match s.as_str() {
            "deny" => Ok(Unmatched::Deny),
            "pass" => Ok(Unmatched::Pass),
            other => Err(format!("`{other}` is not one of \"deny\" or \"pass\"")),
        }),
        None => Some(Unmatched::Deny),
    };
    let hosts = match &raw.hosts {
        Some(list) => check_hosts(checker, list),
        None => {
            warnings.push(
                "server.hosts is not set: any Host header is forwarded to the upstream, \
                 which may build absolute URLs from it; list the app's host names"
                    .to_owned(),
            );
            Some(None)
        }
    };
    let tls = match &raw.tls {
        Some(tls) => check_tls(checker, tls, base_dir).map(Some),
        None => Some(None),
    };
    let timeouts = check_timeouts(checker, raw);
    if let (Some(listen), Some(up)) = (listen, &upstream)
        && points_at(&up.authority, listen)
    {
        checker.report(
            "server.upstream",
            Some(raw.upstream.span()),
            format!(
                "`{}` points at palisade itself (server.listen is {listen}): requests would loop",
                raw.upstream.get_ref()
            ),
        );
    }
    let max_connections = match &raw.max_connections {
        Some(n) => checker.check("server.max_connections", n, |n| match *n {
            0 => Err("must be at least 1".to_owned()),
            n => Ok(n as usize),
        }),
        None => Some(10_000),
    };

    Some(Server {
        listen: listen?,
        upstream: upstream?,
        public_origin,
        trusted_proxies: trusted_proxies?,
        max_body: max_body?,
        unmatched: unmatched?,
        hosts: hosts?,
        tls: tls?,
        timeouts: timeouts?,
        max_connections: max_connections?,
    })
}

fn check_timeouts(checker: &mut Checker<'_>, raw: &RawServer) -> Option<Timeouts> {
    let mut one = |key: &str, value: &Option<Spanned<String>>, default: Duration| match value {
        Some(v) => checker.check(&format!("server.{key}"), v, |s| {
            parse_duration(s, MILLI, HOUR)
        }),
        None => Some(default),
    };
    let header = one("header_timeout", &raw.header_timeout, 10 * SECOND);
    let body = one("body_timeout", &raw.body_timeout, 30 * SECOND);
    let idle = one("idle_timeout", &raw.idle_timeout, 60 * SECOND);
    let send = one("send_timeout", &raw.send_timeout, 30 * SECOND);
    let upstream = one("upstream_timeout", &raw.upstream_timeout, 30 * SECOND);
    let shutdown = one("shutdown_timeout", &raw.shutdown_timeout, 30 * SECOND);
    Some(Timeouts {
        header: header?,
        body: body?,
        idle: idle?,
        send: send?,
        upstream: upstream?,
        shutdown: shutdown?,
    })
}

fn check_trusted_proxies(
    checker: &mut Checker<'_>,
    list: &[Spanned<String>],
    warnings: &mut Vec<String>,
) -> Option<TrustedProxies> {
    let mut proxies = TrustedProxies::default();
    let mut ok = true;
    for (i, entry) in list.iter().enumerate() {
        let key = format!("server.trusted_proxies[{i}]");
        match proxies.add(entry.get_ref()) {
            Ok(()) => {}
            Err(message) => {
                checker.report(key, Some(entry.span()), message);
                ok = false;
            }
        }
    }
    if proxies.trusts_everyone() {
        warnings.push(
            "server.trusted_proxies trusts every address: any client can choose its own \
             X-Forwarded-For and so its rate-limit key"
                .to_owned(),
        );
    }
    ok.then_some(proxies)
}

fn check_hosts(
    checker: &mut Checker<'_>,
    list: &[Spanned<String>],
) -> Option<Option<Vec<HostName>>> {
    let mut hosts = Vec::with_capacity(list.len());
    let mut ok = true;
    for (i, entry) in list.iter().enumerate() {
        match checker.check(&format!("server.hosts[{i}]"), entry, |s| {
            parse_host_entry(s)
        }) {
            Some(host) => hosts.push(host),
            None => ok = false,
        }
    }
    if ok && hosts.is_empty() {
        checker.report(
            "server.hosts",
            None,
            "is empty, so every request would be refused; \
             list the app's host names or remove the key"
                .to_owned(),
        );
        return None;
    }
    ok.then_some(Some(hosts))
}

fn check_tls(checker: &mut Checker<'_>, raw: &RawTls, base_dir: &Path) -> Option<Tls> {
    let cert = checker.check("server.tls.cert", &raw.cert, |r| {
        secret::resolve(r, base_dir)
    });
    let key = checker.check("server.tls.key", &raw.key, |r| secret::resolve(r, base_dir));
    let (cert, key) = (cert?, key?);
    let tls = Tls { cert, key };
    // Build the acceptor once now so a bad certificate is a config error, not a runtime one.
    match crate::server::tls_config(&tls) {
        Ok(_) => Some(tls),
        Err(message) => {
            checker.report("server.tls", None, message);
            None
        }
    }
}

pub(super) fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    text.parse()
        .map_err(|_| format!("`{text}` is not an address and port such as \"127.0.0.1:8080\""))
}

/// Why the admin listener at `admin` cannot share the machine with the main one at `server`:
/// the same address, or the same port where either side listens on every address.
pub(super) fn listeners_clash(admin: SocketAddr, server: SocketAddr) -> Option<String> {
    if admin.port() != server.port() || admin.port() == 0 {
        return None;
    }
    if admin == server {
        return Some(format!(
            "`{admin}` is the same address as server.listen; give the admin listener its own port"
        ));
    }
    if admin.ip().is_unspecified() || server.ip().is_unspecified() {
        return Some(format!(
            "`{admin}` uses the same port as server.listen {server}, and one of them listens \
             on every address, so both cannot bind it; give the admin listener its own port"
        ));
    }
    None
}

/// Whether an upstream at `authority` is palisade's own listener at `listen`.
fn points_at(authority: &http::uri::Authority, listen: SocketAddr) -> bool {
    if authority.port_u16().unwrap_or(80) != listen.port() {
        return false;
    }
    let host = authority.host();
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let listen_ip = listen.ip().to_canonical();
    // Names that always resolve to this machine, and addresses that connect to it.
    let lower = host.trim_end_matches('.').to_ascii_lowercase();
    let local_name = lower == "localhost" || lower.ends_with(".localhost");
    match host.parse::<IpAddr>().map(|ip| ip.to_canonical()) {
        Ok(ip) if ip == listen_ip => true,
        // Connecting to 0.0.0.0 or :: reaches this machine's loopback.
        Ok(ip) if ip.is_unspecified() => listen_ip.is_loopback() || listen_ip.is_unspecified(),
        Ok(ip) => ip.is_loopback() && listen_ip.is_unspecified(),
        Err(_) => local_name && (listen_ip.is_loopback() || listen_ip.is_unspecified()),
    }
}

fn parse_upstream(text: &str) -> Result<Upstream, String> {
    let uri: http::Uri = text
        .parse()
        .map_err(|_| format!("`{text}` is not a URL such as \"http://127.0.0.1:3000\""))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some("https") => {
            return Err(
                "https upstreams are not supported yet; run palisade beside the app \
                 and reach it over http on a private address"
                    .to_owned(),
            );
        }
        _ => return Err(format!("`{text}` must start with http://")),
    }
    let authority = uri
        .authority()
        .cloned()
        .ok_or_else(|| format!("`{text}` has no host"))?;
    if authority.as_str().contains('@') {
        return Err("must not carry credentials".to_owned());
    }
    if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
        return Err(format!(
            "`{text}` has a path or query; palisade forwards the request's own path unchanged, \
             so give only scheme, host and port"
        ));
    }
    Ok(Upstream { authority })
}

/// Checks an origin written as `scheme://host[:port]`, returning it in lower case.
fn parse_origin(text: &str) -> Result<String, String> {
    let uri: http::Uri = text
        .parse()
        .map_err(|_| format!("`{text}` is not an origin such as \"https://yourapp.com\""))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.authority().is_none() {
        return Err(format!(
            "`{text}` is not an origin such as \"https://yourapp.com\""
        ));
    }
    if text.ends_with('/') || !matches!(uri.path(), "" | "/") || uri.query().is_some() {
        return Err(format!(
            "`{text}` must be a bare origin, without a path or trailing slash"
        ));
    }
    Ok(text.to_ascii_lowercase())
}

/// Parses one `hosts` entry: a DNS name or IP literal, optionally with `:port`.
pub(crate) fn parse_host_entry(text: &str) -> Result<HostName, String> {
    let bad =
        || format!("`{text}` is not a host name such as \"yourapp.com\" or \"localhost:8080\"");
    let authority: http::uri::Authority = text.parse().map_err(|_| bad())?;
    if authority.as_str().contains('@') || authority.host().is_empty() {
        return Err(bad());
    }
    // The same rule as for a request's Host: a port of plain digits from 1 to 65535 (Rust's
    // integer parser would also take `+80`, which no client sends).
    if !crate::sanitize::valid_port(text) {
        return Err(format!(
            "`{text}` has a port that is not a number from 1 to 65535"
        ));
    }
    let port = authority.port_u16();
    let name = authority.host().to_ascii_lowercase();
    let valid_name = name.starts_with('[')
        || name.parse::<IpAddr>().is_ok()
        || name.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if !valid_name {
        return Err(bad());
    }
    Ok(HostName { name, port })
}
