//! The mock upstream: a loopback HTTP/1.1 server that records every request it receives and
//! answers with a JSON echo. `/slow` and `/hang-then-ok` take their time; `/big` is large.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::{HANG, SLOW};

/// One request as the mock upstream received it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The method.
    pub method: String,
    /// The request target exactly as sent: raw path and query.
    pub target: String,
    /// Every header, repeated ones included.
    pub headers: HeaderMap,
    /// The body bytes received so far.
    pub body: Vec<u8>,
    /// Whether the body arrived complete.
    pub complete: bool,
}

impl Seen {
    /// The one value of header `name`, as text.
    pub fn header(&self, name: &str) -> Option<String> {
        let mut values = self.headers.get_all(name).iter();
        let first = values.next()?;
        assert!(values.next().is_none(), "{name} arrived more than once");
        Some(first.to_str().unwrap().to_owned())
    }
}

/// A loopback HTTP/1.1 server that records every request and answers with a JSON echo.
pub struct Upstream {
    /// Its address.
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Upstream {
    /// Starts the mock on a free loopback port.
    pub async fn start() -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let log = Arc::clone(&log);
                tokio::spawn(async move {
                    let service = service_fn(move |request| answer(Arc::clone(&log), request));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Upstream { addr, seen, task }
    }

    /// `http://127.0.0.1:PORT`, for the config.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Everything received so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// The requests received for a target that starts with `prefix`.
    pub fn seen_for(&self, prefix: &str) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.target.starts_with(prefix))
            .collect()
    }

    /// The only request received whose headers carry `x-test-id: id`.
    pub fn one_tagged(&self, id: &str) -> Seen {
        let tagged: Vec<Seen> = self.tagged(id);
        assert_eq!(tagged.len(), 1, "upstream saw {id} {} times", tagged.len());
        tagged.into_iter().next().unwrap()
    }

    /// Every request received whose headers carry `x-test-id: id`.
    pub fn tagged(&self, id: &str) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.headers.get("x-test-id").is_some_and(|v| v == id))
            .collect()
    }

    /// Asserts that no request carrying `x-test-id: id` reached the upstream.
    pub fn assert_never_saw(&self, id: &str) {
        let tagged = self.tagged(id);
        assert!(
            tagged.is_empty(),
            "upstream saw refused request: {tagged:?}"
        );
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(
    log: Arc<Mutex<Vec<Seen>>>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, mut body) = request.into_parts();
    let target = parts
        .uri
        .path_and_query()
        .map_or("/".to_owned(), |pq| pq.as_str().to_owned());
    let index = {
        let mut log = log.lock().unwrap();
        log.push(Seen {
            method: parts.method.to_string(),
            target: target.clone(),
            headers: parts.headers.clone(),
            body: Vec::new(),
            complete: false,
        });
        log.len() - 1
    };

    // Record the body as it streams, so a cut-off body is visible as incomplete.
    let mut complete = true;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                if let Some(data) = frame.data_ref() {
                    log.lock().unwrap()[index].body.extend_from_slice(data);
                }
            }
            Err(_) => {
                complete = false;
                break;
            }
        }
    }
    log.lock().unwrap()[index].complete = complete;

    let path = parts.uri.path();
    if path.starts_with("/slow") {
        tokio::time::sleep(SLOW).await;
    } else if path.starts_with("/hang-then-ok") {
        tokio::time::sleep(HANG).await;
    }
    if path.starts_with("/big") {
        return Ok(Response::new(Full::new(Bytes::from(vec![
            b'x';
            super::BIG
        ]))));
    }
    let echo = serde_json::json!({ "method": parts.method.as_str(), "target": target });
    let mut response = Response::new(Full::new(Bytes::from(echo.to_string())));
    *response.status_mut() = StatusCode::OK;
    response.headers_mut().insert(
        "content-type",
        http::HeaderValue::from_static("application/json"),
    );
    Ok(response)
}
