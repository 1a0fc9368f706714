//! The access log: exactly one line per request, written when its response head is ready.
//!
//! It holds the request id, method, path (never the query string), route, status, decision
//! and reason, client address and latency, and nothing from the request's headers: no token,
//! cookie or key can reach it. The same facts feed the request metrics.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use http::{Method, StatusCode};

use crate::metrics::{LATENCY, REJECTIONS, REQUESTS};

/// The longest path written to the log; a longer one is cut, so a client cannot make one
/// log line arbitrarily large.
const MAX_LOGGED_PATH: usize = 1024;

fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The facts about one request that the log line and metrics record.
#[derive(Debug)]
pub struct Entry<'a> {
    /// The request id sent back in `x-request-id`.
    pub request_id: &'a str,
    /// The request method.
    pub method: &'a Method,
    /// The path, without the query string.
    pub path: &'a str,
    /// The matched route's pattern, when one matched.
    pub route: Option<&'a Arc<str>>,
    /// The client's address, after `trusted_proxies`.
    pub client_ip: IpAddr,
    /// The authenticated user id or service-token key id, never a credential.
    pub caller: Option<&'a str>,
    /// `allow`, `deny` or `error`.
    pub decision: &'static str,
    /// Why it was refused or failed, or `-`.
    pub reason: &'static str,
}

/// Writes the access-log line and records the request metrics.
pub fn record(entry: &Entry<'_>, status: StatusCode, latency: Duration) {
    tracing::info!(
        target: "palisade::access",
        request_id = entry.request_id,
        method = entry.method.as_str(),
        path = truncate(entry.path, MAX_LOGGED_PATH),
        route = entry.route.map_or("-", |r| &**r),
        status = status.as_u16(),
        decision = entry.decision,
        reason = entry.reason,
        client.ip = %entry.client_ip,
        user = entry.caller.unwrap_or("-"),
        latency_ms = latency.as_micros() as f64 / 1000.0,
        "request"
    );

    // Route labels share the config's string: no allocation per request.
    let route: metrics::SharedString = match entry.route {
        Some(name) => Arc::clone(name).into(),
        None => "-".into(),
    };
    metrics::counter!(
        REQUESTS,
        "route" => route.clone(),
        "status" => status.as_str().to_owned(),
        "decision" => entry.decision,
    )
    .increment(1);
    metrics::histogram!(LATENCY, "route" => route).record(latency.as_secs_f64());
    if entry.decision != "allow" {
        metrics::counter!(REJECTIONS, "reason" => entry.reason).increment(1);
    }
}
