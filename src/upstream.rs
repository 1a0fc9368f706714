//! Stage 7, upstream: forward an allowed request and stream the answer back.
//!
//! Requests go over a keep-alive pool to the one configured upstream, with the path and query
//! byte for byte as received. The upstream gets a bounded time to send its response head (504
//! after it); a refused or broken connection is a 502.

use std::time::Duration;

use http::header::CONTENT_LENGTH;
use http::request::Parts;
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Request, Response, Uri, Version};
use http_body_util::Either;
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::body::{BodyError, LimitedBody};
use crate::config::{Timeouts, Upstream as UpstreamConfig};
use crate::error::{Rejection, ResponseBody};
use crate::sanitize::headers;

/// The body palisade sends upstream: the client's, limited and timed.
pub type RequestBody = LimitedBody<Incoming>;

/// A pooled HTTP client bound to the configured upstream.
#[derive(Clone, Debug)]
pub struct Upstream {
    client: Client<HttpConnector, RequestBody>,
    authority: Authority,
    response_timeout: Duration,
    body_timeout: Duration,
}

impl Upstream {
    /// Builds the client; no connection is made until the first request.
    pub fn new(config: &UpstreamConfig, timeouts: &Timeouts) -> Upstream {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(timeouts.upstream.min(Duration::from_secs(5))));
        let client = Client::builder(TokioExecutor::new())
            .timer(TokioTimer::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(512)
            .build(connector);
        Upstream {
            client,
            authority: config.authority.clone(),
            response_timeout: timeouts.upstream,
            body_timeout: timeouts.body,
        }
    }

    /// The upstream's `host:port`, for logs.
    pub fn authority(&self) -> &Authority {
        &self.authority
    }

    /// Sends the request upstream with a body of at most `max_body` bytes.
    pub async fn forward(
        &self,
        mut parts: Parts,
        body: Incoming,
        max_body: u64,
    ) -> Result<Response<ResponseBody>, Rejection> {
        // A declared length over the limit is refused before anything is sent.
        if let Some(length) = parts.headers.get(CONTENT_LENGTH) {
            let length = length
                .to_str()
                .ok()
                .and_then(|l| l.parse::<u64>().ok())
                .ok_or(Rejection::InvalidHeader("bad_content_length"))?;
            if length > max_body {
                return Err(Rejection::BodyTooLarge { limit: max_body });
            }
        }

        let path = parts
            .uri
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/"));
        parts.uri = Uri::from_parts({
            let mut uri = http::uri::Parts::default();
            uri.scheme = Some(Scheme::HTTP);
            uri.authority = Some(self.authority.clone());
            uri.path_and_query = Some(path);
            uri
        })
        .map_err(|_| Rejection::InvalidHeader("bad_uri"))?;
        parts.version = Version::HTTP_11;
        let body = LimitedBody::new(body, max_body, self.body_timeout);
        let request = Request::from_parts(parts, body);

        let response = match tokio::time::timeout(
            self.response_timeout,
            self.client.request(request),
        )
        .await
        {
            Ok(Ok(response)) => response,
            Ok(Err(error)) => return Err(self.classify(&error)),
            Err(_) => {
                tracing::warn!(upstream.addr = %self.authority, "upstream did not answer in time");
                return Err(Rejection::UpstreamTimeout);
            }
        };

        let (mut head, body) = response.into_parts();
        headers::clean_response(&mut head.headers);
        Ok(Response::from_parts(head, Either::Left(body)))
    }

    /// Tells a client-side body failure (the caller's fault) from an upstream failure.
    fn classify(&self, error: &hyper_util::client::legacy::Error) -> Rejection {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
        while let Some(err) = source {
            if let Some(body) = err.downcast_ref::<BodyError>() {
                return match *body {
                    BodyError::TooLarge { limit } => Rejection::BodyTooLarge { limit },
                    BodyError::TimedOut => Rejection::BodyTimeout,
                    BodyError::Aborted => Rejection::BodyAborted,
                };
            }
            source = err.source();
        }
        tracing::warn!(upstream.addr = %self.authority, error = %error, "upstream request failed");
        Rejection::UpstreamUnreachable
    }
}
