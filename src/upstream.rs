//! Stage 7, upstream: forward an allowed request and stream the answer back.
//!
//! Requests go over a keep-alive pool to the one configured upstream, with the path and query
//! byte for byte as received. The upstream gets a bounded time to send its response head (504
//! after it); a refused or broken connection is a 502.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::COOKIE;
use http::request::Parts;
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Request, Response, Uri, Version};
use http_body::Body as _;
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::body::{BodyError, LimitedBody, check_declared_length};
use crate::config::{Timeouts, Upstream as UpstreamConfig};
use crate::error::{Rejection, ResponseBody};
use crate::sanitize::headers;

pin_project_lite::pin_project! {
    /// The upstream's response body, streamed to the client; the request counts as in flight
    /// upstream until this is done or dropped.
    pub struct UpstreamBody {
        #[pin]
        inner: Incoming,
        _slot: OwnedSemaphorePermit,
    }
}

impl http_body::Body for UpstreamBody {
    type Data = bytes::Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, hyper::Error>>> {
        self.project().inner.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// The body palisade sends upstream: the client's, limited and timed, or bytes already read.
pub type RequestBody = Either<LimitedBody<Incoming>, Full<Bytes>>;

/// A request body as a stage hands it to the upstream.
#[derive(Debug)]
pub enum ClientBody {
    /// Streamed from the client, cut off past `max_body` bytes.
    Streamed {
        /// The client's body.
        body: Incoming,
        /// The route's limit.
        max_body: u64,
    },
    /// Read whole and checked by a later stage; forwarded byte for byte.
    Buffered(Bytes),
}

/// A pooled HTTP client bound to the configured upstream.
#[derive(Clone, Debug)]
pub struct Upstream {
    client: Client<HttpConnector, RequestBody>,
    slots: Arc<Semaphore>,
    authority: Authority,
    response_timeout: Duration,
    body_timeout: Duration,
}

impl Upstream {
    /// Builds the client; no connection is made until the first request.
    /// At most `max_in_flight` requests are sent at once; more wait for a slot.
    pub fn new(config: &UpstreamConfig, timeouts: &Timeouts, max_in_flight: usize) -> Upstream {
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
            slots: Arc::new(Semaphore::new(max_in_flight)),
            authority: config.authority.clone(),
            response_timeout: timeouts.upstream,
            body_timeout: timeouts.body,
        }
    }

    /// The upstream's `host:port`, for logs.
    pub fn authority(&self) -> &Authority {
        &self.authority
    }

    /// Sends the request upstream: its body streamed with at most `max_body` bytes, or the
    /// bytes a later stage already read and checked.
    pub async fn forward(
        &self,
        mut parts: Parts,
        body: ClientBody,
    ) -> Result<Response<ResponseBody>, Rejection> {
        if let ClientBody::Streamed { max_body, .. } = &body {
            check_declared_length(&parts.headers, *max_body)?;
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
        merge_cookies(&mut parts.headers);

        // A bounded number of requests in flight upstream; past it, refuse at once (503)
        // rather than queue: a queue would only hide the overload and hold more connections.
        let Ok(slot) = Arc::clone(&self.slots).try_acquire_owned() else {
            tracing::warn!(upstream.addr = %self.authority, "too many requests in flight upstream");
            return Err(Rejection::Overloaded);
        };

        let (body, mut body_sent) = match body {
            ClientBody::Streamed { body, max_body } => {
                let mut body = LimitedBody::new(body, max_body, self.body_timeout);
                let sent = (!body.is_end_stream()).then(|| body.on_sent());
                (Either::Left(body), sent)
            }
            ClientBody::Buffered(bytes) => (Either::Right(Full::new(bytes)), None),
        };
        let exchange = self.client.request(Request::from_parts(parts, body));
        tokio::pin!(exchange);

        // The upstream's time starts once the client's body is all sent: a slow upload is the
        // body time-out's business (408), not the upstream's. The extra second lets that
        // time-out win a tie; past it the upstream is not reading the body at all.
        if let Some(sent) = body_sent.as_mut() {
            let upload = tokio::time::sleep(self.body_timeout + Duration::from_secs(1));
            tokio::select! {
                result = &mut exchange => return self.finish(result, slot),
                _ = sent => {}
                () = upload => return Err(self.timed_out()),
            }
        }
        match tokio::time::timeout(self.response_timeout, exchange).await {
            Ok(result) => self.finish(result, slot),
            Err(_) => Err(self.timed_out()),
        }
    }

    fn timed_out(&self) -> Rejection {
        tracing::warn!(upstream.addr = %self.authority, "upstream did not answer in time");
        Rejection::UpstreamTimeout
    }

    /// The upstream's response, holding its in-flight `slot` until the body is done.
    fn finish(
        &self,
        result: Result<Response<Incoming>, hyper_util::client::legacy::Error>,
        slot: OwnedSemaphorePermit,
    ) -> Result<Response<ResponseBody>, Rejection> {
        let response = result.map_err(|error| self.classify(&error))?;
        let (mut head, body) = response.into_parts();
        headers::clean_response(&mut head.headers);
        let body = UpstreamBody {
            inner: body,
            _slot: slot,
        };
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

/// Joins several `Cookie` fields into one, as HTTP/2 clients send them apart but an HTTP/1.1
/// upstream expects one line (RFC 9113 §8.2.3).
fn merge_cookies(headers: &mut http::HeaderMap) {
    let mut cookies = headers.get_all(COOKIE).iter();
    if cookies.next().is_none() || cookies.next().is_none() {
        return;
    }
    let joined: Vec<&[u8]> = headers
        .get_all(COOKIE)
        .iter()
        .map(|v| v.as_bytes())
        .collect();
    if let Ok(value) = http::HeaderValue::from_bytes(&joined.join(&b"; "[..])) {
        headers.insert(COOKIE, value);
    }
}
