//! One client connection, from accept to close: the TLS handshake, choosing HTTP/1.1 or
//! HTTP/2, serving requests through the pipeline, and every time limit on the way.
//!
//! - Plain connections must show their protocol within `header_timeout` (`stream::sniff`);
//!   TLS connections must finish the handshake within it, and ALPN chooses the protocol.
//! - HTTP/1.1: hyper's header timer bounds each request head and each idle gap between
//!   requests; a head that stalls midway gets a 408 (`stream::answer_timeout`).
//! - HTTP/2: a connection with no request in flight for `idle_timeout` is closed with GOAWAY.
//! - Shutdown: each connection finishes the requests it has, then closes.

mod activity;
mod stream;

use std::borrow::Cow;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulConnection;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

use crate::pipeline::{self, Gateway};
use crate::sanitize::Peer;
use activity::{Activity, TrackedBody};
use stream::{Protocol, Sniffed, WatchedStream, answer_timeout, sniff};

/// How often a connection checks whether it has been idle too long.
const IDLE_CHECK: Duration = Duration::from_secs(1);

/// How long a connection asked to close may stay open with no request in flight: enough for
/// GOAWAY to go out, not enough for a client that ignores it to hold on.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// The limits every client connection gets.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// To send a request head, and to finish a TLS handshake or show the protocol.
    pub header_timeout: Duration,
    /// How long an HTTP/2 connection may have no request in flight.
    pub idle_timeout: Duration,
    /// How long a response may wait for the client to read it.
    pub send_timeout: Duration,
}

/// The HTTP/1.1 and HTTP/2 settings, built once and shared by every connection.
#[derive(Debug)]
pub struct Protocols {
    http1: auto::Builder<TokioExecutor>,
    http2: auto::Builder<TokioExecutor>,
    header_timeout: Duration,
}

impl Protocols {
    /// Settings for `limits`.
    pub fn new(limits: Limits) -> Protocols {
        Protocols {
            http1: http1(limits.header_timeout),
            http2: http2(),
            header_timeout: limits.header_timeout,
        }
    }

    /// The HTTP/1.1 settings, with only `left` for the first request head when sniffing the
    /// protocol already took some of the header time.
    fn http1_within(&self, left: Duration) -> Cow<'_, auto::Builder<TokioExecutor>> {
        if left + Duration::from_millis(50) >= self.header_timeout {
            return Cow::Borrowed(&self.http1);
        }
        Cow::Owned(http1(left.max(Duration::from_millis(1))))
    }
}

/// One accepted client connection.
pub struct Connection {
    /// The running gateway.
    pub gateway: Arc<Gateway>,
    /// Protocol settings.
    pub protocols: Arc<Protocols>,
    /// The TLS acceptor, when the listener speaks TLS.
    pub tls: Option<TlsAcceptor>,
    /// Time limits.
    pub limits: Limits,
    /// Who is on the other end.
    pub peer: Peer,
}

impl Connection {
    /// Serves the connection until it closes or `shutdown` turns true.
    pub async fn serve(self, socket: TcpStream, mut shutdown: watch::Receiver<bool>) {
        let Connection {
            gateway,
            protocols,
            tls,
            limits,
            peer,
        } = self;
        let accepted = Instant::now();
        let (mut stream, dispatched) = WatchedStream::new(socket, limits.send_timeout);
        let activity = Activity::new();
        let service = {
            let activity = Arc::clone(&activity);
            service_fn(move |request| {
                dispatched.mark();
                let in_flight = activity.begin();
                let gateway = Arc::clone(&gateway);
                async move {
                    let response = pipeline::handle(gateway, peer, request).await;
                    Ok::<_, Infallible>(response.map(|body| TrackedBody::new(body, in_flight)))
                }
            })
        };

        let Some(acceptor) = tls else {
            let sniffed = tokio::select! {
                sniffed = sniff(&mut stream, limits.header_timeout) => sniffed,
                _ = shutdown.wait_for(|stop| *stop) => return,
            };
            let protocol = match sniffed {
                Sniffed::Protocol(protocol) => protocol,
                Sniffed::Stalled => return answer_timeout(&stream, peer.ip).await,
                Sniffed::Closed => return,
            };
            let io = TokioIo::new(stream.clone());
            let served = match protocol {
                Protocol::Http1 => {
                    // The head's time started at accept, not when sniffing ended.
                    let left = limits.header_timeout.saturating_sub(accepted.elapsed());
                    let builder = protocols.http1_within(left);
                    let connection = builder.serve_connection(io, service);
                    drive(connection, shutdown, &activity, None).await
                }
                Protocol::Http2 => {
                    let connection = protocols.http2.serve_connection(io, service);
                    drive(connection, shutdown, &activity, Some(limits.idle_timeout)).await
                }
            };
            if served.as_ref().err().is_some_and(is_header_timeout) {
                answer_timeout(&stream, peer.ip).await;
            }
            return log_end(served, &peer);
        };

        let handshake = tokio::time::timeout(limits.header_timeout, acceptor.accept(stream));
        let tls_stream = tokio::select! {
            handshake = handshake => match handshake {
                Ok(Ok(tls_stream)) => tls_stream,
                Ok(Err(error)) => {
                    return tracing::debug!(%error, client.ip = %peer.ip, "tls handshake failed");
                }
                Err(_) => return tracing::debug!(client.ip = %peer.ip, "tls handshake timed out"),
            },
            _ = shutdown.wait_for(|stop| *stop) => return,
        };
        // ALPN chose the protocol. Over TLS a plaintext 408 would be garbage, so a stalled
        // request head just closes.
        let h2 = tls_stream.get_ref().1.alpn_protocol() == Some(b"h2");
        let io = TokioIo::new(tls_stream);
        let served = if h2 {
            let connection = protocols.http2.serve_connection(io, service);
            drive(connection, shutdown, &activity, Some(limits.idle_timeout)).await
        } else {
            let connection = protocols.http1.serve_connection(io, service);
            drive(connection, shutdown, &activity, None).await
        };
        log_end(served, &peer);
    }
}

type ServeError = Box<dyn std::error::Error + Send + Sync>;

/// Runs a hyper connection to its end. It is asked to close gracefully on shutdown or, with
/// `idle_limit`, once it has had no request in flight for that long; a connection that was
/// asked and still has nothing in flight after [`CLOSE_GRACE`] is dropped, so a client that
/// ignores GOAWAY cannot hold on.
async fn drive<C>(
    connection: C,
    mut shutdown: watch::Receiver<bool>,
    activity: &Activity,
    idle_limit: Option<Duration>,
) -> Result<(), ServeError>
where
    C: GracefulConnection,
    C::Error: Into<ServeError>,
{
    tokio::pin!(connection);
    let mut closing = false;
    let mut tick = tokio::time::interval(IDLE_CHECK);
    loop {
        tokio::select! {
            result = connection.as_mut() => return result.map_err(Into::into),
            _ = shutdown.wait_for(|stop| *stop), if !closing => {
                closing = true;
                connection.as_mut().graceful_shutdown();
            }
            _ = tick.tick(), if closing || idle_limit.is_some() => {
                let idle = activity.idle_for();
                if closing && idle >= CLOSE_GRACE {
                    return Ok(());
                }
                if !closing && idle_limit.is_some_and(|limit| idle >= limit) {
                    closing = true;
                    connection.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

fn is_header_timeout(error: &ServeError) -> bool {
    error
        .downcast_ref::<hyper::Error>()
        .is_some_and(hyper::Error::is_timeout)
}

fn log_end(result: Result<(), ServeError>, peer: &Peer) {
    if let Err(error) = result {
        tracing::debug!(%error, client.ip = %peer.ip, "connection ended with an error");
    }
}

/// HTTP/1.1: a bounded request head, with hyper's header timer.
fn http1(header_timeout: Duration) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new()).http1_only();
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .max_headers(100)
        .max_buf_size(64 * 1024);
    builder
}

/// HTTP/2: bounded streams and header lists, a cap on reset streams (rapid reset), and
/// pings that find dead peers.
fn http2() -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new()).http2_only();
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(128)
        .max_pending_accept_reset_streams(32)
        .max_header_list_size(64 * 1024)
        .keep_alive_interval(Duration::from_secs(30));
    builder
}
