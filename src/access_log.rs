//! The access log: exactly one line per request, written when its response head is ready.
//!
//! It holds the request id, method, path (never the query string), route, status, decision
//! and reason, client address and latency, and nothing from the request's headers: no token,
//! cookie or key can reach it. The same facts feed the request metrics.

use std::net::IpAddr;
use std::time::Duration;

use http::{Method, StatusCode};

use crate::metrics::{LATENCY, REJECTIONS, REQUESTS};

/// The facts about one request that the log line and metrics record.
#[derive(Debug)]
pub struct Entry<'a> {
    /// The request id sent back in `x-request-id`.
    pub request_id: &'a str,
    /// The request method.
    pub method: &'a Method,
    /// The path, without the query string.
    pub path: &'a str,
    /// The matched route's pattern, or `-` when none matched.
    pub route: &'a str,
    /// The client's address, after `trusted_proxies`.
    pub client_ip: IpAddr,
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
        path = entry.path,
        route = entry.route,
        status = status.as_u16(),
        decision = entry.decision,
        reason = entry.reason,
        client.ip = %entry.client_ip,
        latency_ms = latency.as_micros() as f64 / 1000.0,
        "request"
    );

    let route = entry.route.to_owned();
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
