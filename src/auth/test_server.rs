//! A loopback HTTP server for tests: answers every request with a reply the test can change,
//! counts requests and keeps their headers.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body::{Frame, SizeHint};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

/// What the server answers.
#[derive(Clone, Debug)]
pub(crate) struct Reply {
    pub status: StatusCode,
    pub headers: Vec<(&'static str, String)>,
    pub body: Bytes,
    /// Waited before answering.
    pub delay: Duration,
    /// Sent without `Content-Length`, so only reading tells the size.
    pub chunked: bool,
}

impl Reply {
    pub fn new(status: u16, body: impl Into<Bytes>) -> Reply {
        Reply {
            status: StatusCode::from_u16(status).unwrap(),
            headers: Vec::new(),
            body: body.into(),
            delay: Duration::ZERO,
            chunked: false,
        }
    }

    pub fn json(body: &serde_json::Value) -> Reply {
        Reply::new(200, body.to_string()).header("content-type", "application/json")
    }

    pub fn header(mut self, name: &'static str, value: &str) -> Reply {
        self.headers.push((name, value.to_owned()));
        self
    }

    pub fn chunked(mut self) -> Reply {
        self.chunked = true;
        self
    }

    pub fn delay(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }
}

struct Shared {
    reply: Mutex<Reply>,
    hits: AtomicUsize,
    seen: Mutex<Vec<HeaderMap>>,
}

/// The running server; dropping it closes the listener and every connection.
pub(crate) struct TestServer {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl TestServer {
    pub async fn start(reply: Reply) -> TestServer {
        TestServer::start_on("127.0.0.1:0".parse().unwrap(), reply).await
    }

    pub async fn start_on(addr: SocketAddr, reply: Reply) -> TestServer {
        let listener = TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            reply: Mutex::new(reply),
            hits: AtomicUsize::new(0),
            seen: Mutex::new(Vec::new()),
        });
        let task = tokio::spawn(serve(listener, shared.clone()));
        TestServer { addr, shared, task }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn hits(&self) -> usize {
        self.shared.hits.load(Ordering::SeqCst)
    }

    pub fn set_reply(&self, reply: Reply) {
        *self.shared.reply.lock().unwrap() = reply;
    }

    /// The headers of every request so far, in arrival order.
    pub fn requests(&self) -> Vec<HeaderMap> {
        self.shared.seen.lock().unwrap().clone()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An address on which nothing listens (bound, then released).
pub(crate) async fn free_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    // Connections live in the set, so aborting the server aborts them too.
    let mut connections = JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let shared = shared.clone();
        let service = service_fn(move |request| answer(request, shared.clone()));
        connections.spawn(async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn answer(
    request: Request<Incoming>,
    shared: Arc<Shared>,
) -> Result<Response<Body>, Infallible> {
    shared.hits.fetch_add(1, Ordering::SeqCst);
    shared.seen.lock().unwrap().push(request.headers().clone());
    let reply = shared.reply.lock().unwrap().clone();

    tokio::time::sleep(reply.delay).await;
    let mut response = Response::builder().status(reply.status);
    for (name, value) in &reply.headers {
        response = response.header(*name, value);
    }
    let body = Body {
        inner: Full::new(reply.body),
        chunked: reply.chunked,
    };
    Ok(response.body(body).unwrap())
}

/// A whole body that may hide its size.
struct Body {
    inner: Full<Bytes>,
    chunked: bool,
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        !self.chunked && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        if self.chunked {
            SizeHint::default()
        } else {
            self.inner.size_hint()
        }
    }
}

/// Everything logged at any level while its subscriber is the default.
#[derive(Clone, Default)]
pub(crate) struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    pub fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync + use<> {
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(self.clone())
            .finish()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for CapturedLogs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for CapturedLogs {
    type Writer = CapturedLogs;

    fn make_writer(&'a self) -> CapturedLogs {
        self.clone()
    }
}
