//! `palisade check`: the route table, the settings that matter and the warnings, as text.

use std::fmt::Write as _;

use crate::auth::Provider;
use crate::config::{Config, Unmatched};

/// Renders what `palisade check` prints for a config that loaded.
pub fn report(config: &Config) -> String {
    let server = &config.server;
    let mut out = String::new();
    let scheme = if server.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let _ = writeln!(out, "listen    {scheme}://{}", server.listen);
    let _ = writeln!(out, "upstream  http://{}", server.upstream.authority);
    if let Some(admin) = &config.admin {
        let _ = writeln!(
            out,
            "admin     http://{}  (/healthz /readyz /metrics)",
            admin.listen
        );
    }
    let hosts = match &server.hosts {
        Some(hosts) => hosts
            .iter()
            .map(|h| match h.port {
                Some(port) => format!("{}:{port}", h.name),
                None => h.name.clone(),
            })
            .collect::<Vec<_>>()
            .join(", "),
        None => "any (not checked)".to_owned(),
    };
    let _ = writeln!(out, "hosts     {hosts}");
    let _ = writeln!(out, "max body  {}", human_size(server.max_body));
    let unmatched = match server.unmatched {
        Unmatched::Deny => "deny (404)",
        Unmatched::Pass => "pass (forwarded unprotected)",
    };
    let _ = writeln!(out, "unmatched {unmatched}");
    for (name, provider) in &config.providers {
        let _ = writeln!(out, "auth      {name}: {}", describe(provider));
    }
    let _ = writeln!(out);

    let header = [
        "ROUTE",
        "METHODS",
        "AUTH",
        "RATE LIMIT",
        "SCHEMAS",
        "CORS",
        "MAX BODY",
    ];
    let mut rows: Vec<[String; 7]> = vec![header.map(str::to_owned)];
    for route in &config.routes {
        let methods = match &route.methods {
            Some(methods) => methods
                .iter()
                .map(|m| m.as_str())
                .collect::<Vec<_>>()
                .join(","),
            None => "*".to_owned(),
        };
        let mut auth = if route.auth.is_public() {
            "none".to_owned()
        } else {
            let names: Vec<&str> = route.auth.providers.iter().map(|p| p.name()).collect();
            names.join("|")
        };
        if !route.auth.require.is_empty() {
            auth.push_str(" +require");
        }
        rows.push([
            route.name.to_string(),
            methods,
            auth,
            "-".to_owned(),
            schemas(route),
            "-".to_owned(),
            human_size(route.max_body),
        ]);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0))
        .collect();
    for row in &rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
    }

    if !config.warnings.is_empty() {
        let _ = writeln!(out);
        for warning in &config.warnings {
            let _ = writeln!(out, "warning: {warning}");
        }
    }
    out
}

/// Which of a route's inputs have schemas, such as `body,query`.
fn schemas(route: &crate::config::Route) -> String {
    let v = &route.validation;
    let parts: Vec<&str> = [
        ("body", v.body.is_some()),
        ("query", v.query.is_some()),
        ("params", v.params.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, set)| set.then_some(name))
    .collect();
    if parts.is_empty() {
        "-".to_owned()
    } else {
        parts.join(",")
    }
}

/// One line about a provider, naming key ids but never key material.
fn describe(provider: &Provider) -> String {
    match provider {
        Provider::Jwt(jwt) => jwt.describe(),
        Provider::Remote(remote) => {
            format!("user tokens judged by the auth server ({})", remote.name())
        }
        Provider::Token(token) => format!(
            "service tokens in `{}`, keys {}",
            token.header(),
            token.key_ids().collect::<Vec<_>>().join(", ")
        ),
    }
}

/// Writes a byte count the way the config does: `1MiB`, `16KiB`, or plain bytes.
fn human_size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 && b % (1 << 30) == 0 => format!("{}GiB", b >> 30),
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{}MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{}KiB", b >> 10),
        b => format!("{b}B"),
    }
}
