//! The admin listener: `/healthz`, `/readyz` and `/metrics`, on an address of its own that is
//! never the public one.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::error::{ResponseBody, error_response};

/// Whether the gateway takes traffic: false before it listens and once shutdown begins.
#[derive(Debug, Default)]
pub struct Readiness(AtomicBool);

impl Readiness {
    /// Marks the gateway ready or not.
    pub fn set(&self, ready: bool) {
        self.0.store(ready, Ordering::Release);
    }

    /// Whether the gateway is ready.
    pub fn get(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// Answers one admin request.
pub async fn handle(
    readiness: Arc<Readiness>,
    metrics: Option<&'static PrometheusHandle>,
    request: Request<Incoming>,
) -> Result<Response<ResponseBody>, Infallible> {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return Ok(error_response(
            StatusCode::METHOD_NOT_ALLOWED,
            "Method not allowed",
        ));
    }
    let response = match request.uri().path() {
        "/healthz" => json(StatusCode::OK, "{\"status\":\"ok\"}".to_owned()),
        "/readyz" if readiness.get() => json(StatusCode::OK, "{\"status\":\"ready\"}".to_owned()),
        "/readyz" => json(
            StatusCode::SERVICE_UNAVAILABLE,
            "{\"status\":\"not ready\"}".to_owned(),
        ),
        "/metrics" => match metrics {
            Some(handle) => {
                let mut response =
                    Response::new(Either::Right(Full::new(Bytes::from(handle.render()))));
                response.headers_mut().insert(
                    CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
                );
                response
            }
            None => error_response(StatusCode::SERVICE_UNAVAILABLE, "Service unavailable"),
        },
        _ => error_response(StatusCode::NOT_FOUND, "Not found"),
    };
    Ok(response)
}

fn json(status: StatusCode, body: String) -> Response<ResponseBody> {
    let mut response = Response::new(Either::Right(Full::new(Bytes::from(body))));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
