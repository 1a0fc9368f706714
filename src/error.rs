//! Rejections: every way the gateway refuses a request, and the JSON answer each one gets.
//!
//! A rejection carries what the log needs (a short machine-readable reason) and maps to exactly
//! one status and one short public message. Details stay in the log, never in the response.

use crate::upstream::UpstreamBody;
use bytes::Bytes;
use http::header::{ALLOW, CONTENT_TYPE, HeaderValue, WWW_AUTHENTICATE};
use http::{Response, StatusCode};
use http_body_util::{Either, Full};

use crate::sanitize::path::{PathRejected, QueryRejected};

/// The body of every response the gateway sends: the upstream's, streamed, or its own.
pub type ResponseBody = Either<UpstreamBody, Full<Bytes>>;

/// Why a request was refused or could not be served.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Rejection {
    /// The path is not in canonical form.
    #[error("non-canonical path: {0}")]
    InvalidPath(PathRejected),
    /// The query string is refused.
    #[error("refused query: {0}")]
    InvalidQuery(QueryRejected),
    /// A header is malformed or tries to speak for the gateway.
    #[error("refused header: {0}")]
    InvalidHeader(&'static str),
    /// The `Host` is not one the app answers to.
    #[error("unknown host")]
    UnknownHost,
    /// No route matches the path and unmatched paths are denied.
    #[error("no route matches")]
    RouteNotFound,
    /// A route matches the path but not the method.
    #[error("method not allowed")]
    MethodNotAllowed {
        /// The `Allow` header value.
        allow: HeaderValue,
    },
    /// The body is larger than the route allows.
    #[error("body larger than {limit} bytes")]
    BodyTooLarge {
        /// The limit that was exceeded.
        limit: u64,
    },
    /// The client did not send its body in time.
    #[error("request body not received in time")]
    BodyTimeout,
    /// The client's body stream broke off.
    #[error("request body aborted by the client")]
    BodyAborted,
    /// The upstream could not be reached or broke the exchange.
    #[error("upstream unreachable")]
    UpstreamUnreachable,
    /// The upstream did not answer in time.
    #[error("upstream timed out")]
    UpstreamTimeout,
    /// No provider admitted the caller of a protected route.
    #[error("not authenticated: {reason}")]
    Unauthenticated {
        /// Why the credential was refused, or `no_credential`.
        reason: &'static str,
        /// Whether a credential was presented (then `error="invalid_token"`).
        token_given: bool,
    },
    /// The caller is authenticated but may not call this route.
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// A provider could not decide (keys not loaded, auth server down).
    #[error("authentication unavailable: {0}")]
    AuthUnavailable(&'static str),
    /// A verified identity cannot be passed on as a header (a subject with control bytes).
    #[error("identity not representable as a header")]
    InvalidIdentity,
    /// The body, query or path parameters failed validation.
    #[error("invalid input: {reason}")]
    InvalidBody {
        /// Which check failed, such as `duplicate_key` or `body_schema`.
        reason: &'static str,
        /// The failing locations, when the route exposes them.
        issues: Option<Vec<Issue>>,
    },
    /// A route with a body schema got something other than JSON.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// Too many requests are already in flight to the upstream.
    #[error("too many requests in flight")]
    Overloaded,
}

impl Rejection {
    /// The status the client gets.
    pub fn status(&self) -> StatusCode {
        match self {
            Rejection::InvalidPath(_)
            | Rejection::InvalidQuery(_)
            | Rejection::InvalidHeader(_) => StatusCode::BAD_REQUEST,
            Rejection::BodyAborted => StatusCode::BAD_REQUEST,
            Rejection::Unauthenticated { .. } | Rejection::InvalidIdentity => {
                StatusCode::UNAUTHORIZED
            }
            Rejection::Forbidden(_) => StatusCode::FORBIDDEN,
            Rejection::InvalidBody { .. } => StatusCode::BAD_REQUEST,
            Rejection::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Rejection::AuthUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Rejection::UnknownHost => StatusCode::MISDIRECTED_REQUEST,
            Rejection::RouteNotFound => StatusCode::NOT_FOUND,
            Rejection::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Rejection::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Rejection::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            Rejection::UpstreamUnreachable => StatusCode::BAD_GATEWAY,
            Rejection::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
            Rejection::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// A short reason for logs and metrics, such as `dot_segment` or `upstream_timeout`.
    pub fn reason(&self) -> &'static str {
        match self {
            Rejection::InvalidPath(why) => why.reason(),
            Rejection::InvalidQuery(why) => why.reason(),
            Rejection::InvalidHeader(why) => why,
            Rejection::UnknownHost => "unknown_host",
            Rejection::RouteNotFound => "no_route",
            Rejection::MethodNotAllowed { .. } => "method_not_allowed",
            Rejection::BodyTooLarge { .. } => "body_too_large",
            Rejection::BodyTimeout => "body_timeout",
            Rejection::BodyAborted => "body_aborted",
            Rejection::UpstreamUnreachable => "upstream_unreachable",
            Rejection::UpstreamTimeout => "upstream_timeout",
            Rejection::Overloaded => "overloaded",
            Rejection::Unauthenticated { reason, .. } => reason,
            Rejection::Forbidden(reason) => reason,
            Rejection::AuthUnavailable(reason) => reason,
            Rejection::InvalidIdentity => "identity_not_header_safe",
            Rejection::InvalidBody { reason, .. } => reason,
            Rejection::UnsupportedMediaType => "unsupported_media_type",
        }
    }

    /// Whether the request was refused by policy (`deny`) or failed on the way (`error`).
    pub fn decision(&self) -> &'static str {
        match self {
            Rejection::UpstreamUnreachable | Rejection::UpstreamTimeout | Rejection::Overloaded => {
                "error"
            }
            _ => "deny",
        }
    }

    /// The JSON response for this rejection.
    pub fn into_response(self) -> Response<ResponseBody> {
        let status = self.status();
        if let Rejection::InvalidBody {
            issues: Some(issues),
            ..
        } = &self
        {
            return issues_response(issues);
        }
        let mut response = error_response(status, public_message(status));
        match self {
            Rejection::MethodNotAllowed { allow } => {
                response.headers_mut().insert(ALLOW, allow);
            }
            Rejection::Unauthenticated { token_given, .. } => {
                let challenge = if token_given {
                    HeaderValue::from_static("Bearer error=\"invalid_token\"")
                } else {
                    HeaderValue::from_static("Bearer")
                };
                response.headers_mut().insert(WWW_AUTHENTICATE, challenge);
            }
            Rejection::InvalidIdentity => {
                let challenge = HeaderValue::from_static("Bearer error=\"invalid_token\"");
                response.headers_mut().insert(WWW_AUTHENTICATE, challenge);
            }
            _ => {}
        }
        response
    }
}

/// The short public message for a status, as the spec lists them.
fn public_message(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "Invalid input",
        StatusCode::UNAUTHORIZED => "Unauthorized",
        StatusCode::FORBIDDEN => "Forbidden",
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::METHOD_NOT_ALLOWED => "Method not allowed",
        StatusCode::REQUEST_TIMEOUT => "Request timeout",
        StatusCode::PAYLOAD_TOO_LARGE => "Payload too large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "Unsupported media type",
        StatusCode::MISDIRECTED_REQUEST => "Unknown host",
        StatusCode::TOO_MANY_REQUESTS => "Too many requests",
        StatusCode::BAD_GATEWAY => "Bad gateway",
        StatusCode::SERVICE_UNAVAILABLE => "Service unavailable",
        StatusCode::GATEWAY_TIMEOUT => "Gateway timeout",
        _ => "Error",
    }
}

/// One failing location, for `expose_errors`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// A JSON pointer into the input, such as `/amount`.
    pub pointer: String,
    /// What is wrong there.
    pub message: String,
}

/// `{"error": "Invalid input", "issues": [{"path": ..., "message": ...}]}`.
fn issues_response(issues: &[Issue]) -> Response<ResponseBody> {
    let issues: Vec<serde_json::Value> = issues
        .iter()
        .map(|i| serde_json::json!({ "path": i.pointer, "message": i.message }))
        .collect();
    let body = serde_json::json!({ "error": "Invalid input", "issues": issues }).to_string();
    let mut response = Response::new(Either::Right(Full::new(Bytes::from(body))));
    *response.status_mut() = StatusCode::BAD_REQUEST;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// A `{"error": "..."}` response; `message` must be a plain ASCII literal.
pub fn error_response(status: StatusCode, message: &'static str) -> Response<ResponseBody> {
    let body = format!("{{\"error\":\"{message}\"}}");
    let mut response = Response::new(Either::Right(Full::new(Bytes::from(body))));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn rejection_is_json_with_allow() {
        let allow = HeaderValue::from_static("GET, HEAD");
        let response = Rejection::MethodNotAllowed { allow }.into_response();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(response.headers()[ALLOW], "GET, HEAD");
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["error"], "Method not allowed");
    }

    #[test]
    fn every_public_message_is_json_safe() {
        for code in 400..600u16 {
            let status = StatusCode::from_u16(code).unwrap();
            let message = public_message(status);
            assert!(
                message
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b' ')
            );
        }
    }
}
