//! Prometheus metrics: names, recording, and the recorder behind `/metrics`.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Requests answered, by `route`, `status` and `decision`.
pub const REQUESTS: &str = "palisade_requests_total";
/// Time from request head to response head, by `route`.
pub const LATENCY: &str = "palisade_request_duration_seconds";
/// Refusals, by stage-specific `reason`.
pub const REJECTIONS: &str = "palisade_rejections_total";
/// Upstream failures, by `kind` (`unreachable`, `timeout`).
pub const UPSTREAM_ERRORS: &str = "palisade_upstream_errors_total";
/// Authentication outcomes, by `provider`, `result` (`admitted`, `refused`, `unavailable`)
/// and `reason`.
pub const AUTH_DECISIONS: &str = "palisade_auth_decisions_total";
/// Validation failures, by `route` and `part` (`body`, `query`, `params`, `content_type`).
pub const VALIDATION_FAILURES: &str = "palisade_validation_failures_total";
/// Connections refused because `max_connections` was reached.
pub const CONNECTIONS_REFUSED: &str = "palisade_connections_refused_total";

const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide recorder once and returns the handle that renders it.
pub fn install() -> Result<&'static PrometheusHandle, String> {
    if let Some(handle) = HANDLE.get() {
        return Ok(handle);
    }
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(LATENCY.to_owned()), LATENCY_BUCKETS)
        .map_err(|e| format!("metrics: {e}"))?
        .build_recorder();
    let handle = recorder.handle();
    // Another recorder may already be installed (tests); then ours simply is not global.
    let _ = metrics::set_global_recorder(recorder);
    Ok(HANDLE.get_or_init(|| handle))
}

/// Keeps the recorder's histograms tidy; run in the background.
pub async fn upkeep(handle: &'static PrometheusHandle) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        tick.tick().await;
        handle.run_upkeep();
    }
}
