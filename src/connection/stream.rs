//! The client's socket, shared between hyper and the connection task.
//!
//! Sharing it lets palisade act where hyper would only close: [`sniff`] reads until the
//! protocol is known (within the header time-out, so a client that sends part of the HTTP/2
//! preface and stops cannot hold the connection), and [`answer_timeout`] writes a 408 to an
//! HTTP/1 client whose request head stalled. The stream records whether request bytes
//! arrived that never became a request; only then is a 408 owed.

use std::future::Future as _;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Sleep;

/// Nothing read since the last request began, or ever.
const IDLE: u8 = 0;
/// Bytes of an HTTP/1 request head are in, and no request was dispatched yet.
const PARTIAL: u8 = 1;
/// A request was dispatched, or the connection speaks HTTP/2: never answer 408.
const SETTLED: u8 = 2;

/// The 408 answer, around a fresh request id.
fn response_408(id: &http::HeaderValue) -> Vec<u8> {
    let body = b"{\"error\":\"Request timeout\"}";
    let mut out = format!(
        "HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nx-request-id: {}\r\nconnection: close\r\n\r\n",
        body.len(),
        id.to_str().unwrap_or("-"),
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

/// What a client sends first on an HTTP/2 connection without TLS (RFC 9113 §3.4).
const H2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The protocol a plain connection speaks, known from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Anything that is not the HTTP/2 preface.
    Http1,
    /// The HTTP/2 preface (h2c with prior knowledge).
    Http2,
}

/// What [`sniff`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniffed {
    /// The protocol is known.
    Protocol(Protocol),
    /// The client closed the connection first.
    Closed,
    /// The client stopped before the protocol was known; a 408 is owed if it sent anything.
    Stalled,
}

/// A TCP stream shared between hyper and the connection task.
#[derive(Debug)]
pub struct WatchedStream {
    socket: Arc<TcpStream>,
    state: Arc<AtomicU8>,
    /// Bytes [`sniff`] read, handed to hyper before anything else.
    replay: Option<Bytes>,
    /// How long a write may wait for the client to take data.
    send_timeout: Duration,
    /// Running while a write waits; reset whenever the client takes data.
    stall: Option<Pin<Box<Sleep>>>,
}

impl Clone for WatchedStream {
    fn clone(&self) -> Self {
        WatchedStream {
            socket: Arc::clone(&self.socket),
            state: Arc::clone(&self.state),
            replay: self.replay.clone(),
            send_timeout: self.send_timeout,
            stall: None,
        }
    }
}

/// Marks the connection's request as dispatched; cheap to clone into the service.
#[derive(Debug, Clone)]
pub struct Dispatched(Arc<AtomicU8>);

impl Dispatched {
    /// Called when hyper hands a request to the service.
    pub fn mark(&self) {
        self.0.store(SETTLED, Ordering::Relaxed);
    }
}

impl WatchedStream {
    /// Wraps an accepted socket whose writes may wait at most `send_timeout` for the client.
    pub fn new(socket: TcpStream, send_timeout: Duration) -> (WatchedStream, Dispatched) {
        let state = Arc::new(AtomicU8::new(IDLE));
        let dispatched = Dispatched(Arc::clone(&state));
        let stream = WatchedStream {
            socket: Arc::new(socket),
            state,
            replay: None,
            send_timeout,
            stall: None,
        };
        (stream, dispatched)
    }

    fn note_read(&self, bytes: &[u8]) {
        if !bytes.is_empty() && self.state.load(Ordering::Relaxed) == IDLE {
            self.state.store(PARTIAL, Ordering::Relaxed);
        }
    }

    /// Waits for the socket to take data, failing once it has not for `send_timeout`: a
    /// client that stops reading must not hold its connection (and the upstream's) for ever.
    fn poll_writable(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.socket.poll_write_ready(cx) {
            Poll::Ready(ready) => {
                self.stall = None;
                Poll::Ready(ready)
            }
            Poll::Pending => {
                let timeout = self.send_timeout;
                let stall = self
                    .stall
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                ready!(stall.as_mut().poll(cx));
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the client stopped reading its response",
                )))
            }
        }
    }
}

/// Reads a plain connection's first bytes until its protocol is known, within `timeout`.
pub async fn sniff(stream: &mut WatchedStream, timeout: Duration) -> Sniffed {
    let mut buf = [0u8; H2_PREFACE.len()];
    let mut len = 0;
    let read = async {
        loop {
            if stream.socket.readable().await.is_err() {
                return Sniffed::Closed;
            }
            match stream.socket.try_read(&mut buf[len..]) {
                Ok(0) => return Sniffed::Closed,
                Ok(n) => len += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(_) => return Sniffed::Closed,
            }
            if buf[..len] != H2_PREFACE[..len] {
                return Sniffed::Protocol(Protocol::Http1);
            }
            if len == H2_PREFACE.len() {
                return Sniffed::Protocol(Protocol::Http2);
            }
        }
    };
    let sniffed = tokio::time::timeout(timeout, read)
        .await
        .unwrap_or(Sniffed::Stalled);
    // An HTTP/1 head has begun (a 408 is owed if it stalls); an HTTP/2 client never gets one.
    let state = match sniffed {
        Sniffed::Protocol(Protocol::Http2) => SETTLED,
        _ if len > 0 => PARTIAL,
        _ => IDLE,
    };
    stream.state.store(state, Ordering::Relaxed);
    stream.replay = Some(Bytes::copy_from_slice(&buf[..len]));
    sniffed
}

/// After hyper gave up on a connection for a header time-out: answers 408 when a request had
/// begun arriving, then lets the socket close.
pub async fn answer_timeout(stream: &WatchedStream, client_ip: std::net::IpAddr) {
    if stream.state.load(Ordering::Relaxed) != PARTIAL {
        return;
    }
    let id = crate::sanitize::new_request_id();
    let response = response_408(&id);
    let write = async {
        let mut sent = 0;
        while sent < response.len() {
            stream.socket.writable().await?;
            match stream.socket.try_write(&response[sent..]) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        Ok::<(), io::Error>(())
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), write).await;
    metrics::counter!(crate::metrics::REJECTIONS, "reason" => "header_timeout").increment(1);
    tracing::info!(
        target: "palisade::access",
        request_id = id.to_str().unwrap_or("-"),
        client.ip = %client_ip,
        status = 408,
        decision = "deny",
        reason = "header_timeout",
        "request head not received in time"
    );
}

impl AsyncRead for WatchedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(replay) = this.replay.as_mut() {
            let n = replay.len().min(buf.remaining());
            buf.put_slice(&replay.split_to(n));
            if replay.is_empty() {
                this.replay = None;
            }
            return Poll::Ready(Ok(()));
        }
        loop {
            ready!(this.socket.poll_read_ready(cx))?;
            let unfilled = buf.initialize_unfilled();
            match this.socket.try_read(unfilled) {
                Ok(n) => {
                    this.note_read(&unfilled[..n]);
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for WatchedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        loop {
            ready!(this.poll_writable(cx))?;
            match this.socket.try_write(buf) {
                Ok(n) => return Poll::Ready(Ok(n)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        loop {
            ready!(this.poll_writable(cx))?;
            match this.socket.try_write_vectored(bufs) {
                Ok(n) => return Poll::Ready(Ok(n)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        // The socket closes when the last handle drops, right after the connection ends.
        Poll::Ready(Ok(()))
    }
}
