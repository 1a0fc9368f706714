//! Shared harness for the integration tests: a recording mock upstream, the real `palisade`
//! binary started on loopback ports, and a raw HTTP/1.1 client for requests that an ordinary
//! client would normalise before sending.

// Each test binary uses a different part of the harness.
#![allow(dead_code)]
#![allow(clippy::unwrap_used)]

use std::convert::Infallible;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How long any single wait in these tests may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(15);

/// How long the mock upstream sleeps on `/slow`: far beyond any `upstream_timeout` used here.
pub const SLOW: Duration = Duration::from_secs(10);

/// How long the mock upstream sleeps on `/hang-then-ok` before answering 200.
pub const HANG: Duration = Duration::from_millis(2000);

// === Mock upstream ===

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
    let echo = serde_json::json!({ "method": parts.method.as_str(), "target": target });
    let mut response = Response::new(Full::new(Bytes::from(echo.to_string())));
    *response.status_mut() = StatusCode::OK;
    response.headers_mut().insert(
        "content-type",
        http::HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

// === The gateway under test ===

/// Finds a loopback port nothing listens on (bound, then released).
pub fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The `palisade` binary built for these tests.
pub fn palisade() -> Command {
    Command::new(env!("CARGO_BIN_EXE_palisade"))
}

/// What to start a gateway with: lines for `[server]` and the rest of the file.
pub struct Setup {
    upstream: String,
    server: String,
    rest: String,
    env: Vec<(String, String)>,
}

impl Setup {
    /// A gateway in front of `upstream` (a URL), with no routes yet.
    pub fn new(upstream: &str) -> Setup {
        Setup {
            upstream: upstream.to_owned(),
            server: String::new(),
            rest: String::new(),
            env: Vec::new(),
        }
    }

    /// Adds lines to the `[server]` table.
    pub fn server(mut self, lines: &str) -> Setup {
        self.server.push_str(lines);
        self.server.push('\n');
        self
    }

    /// Adds tables after `[server]` and `[admin]`, such as `[[route]]`s.
    pub fn tables(mut self, text: &str) -> Setup {
        self.rest.push_str(text);
        self.rest.push('\n');
        self
    }

    /// Sets an environment variable for the gateway process.
    pub fn env(mut self, name: &str, value: &str) -> Setup {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Writes the config and starts `palisade run --log-format json`, waiting until it serves.
    pub async fn start(self) -> Gateway {
        // A freed port can be taken again before the gateway binds it: retry a few times.
        let mut last_error = String::new();
        for _ in 0..3 {
            match self.try_start().await {
                Ok(gateway) => return gateway,
                Err(error) => last_error = error,
            }
        }
        panic!("the gateway did not start: {last_error}");
    }

    async fn try_start(&self) -> Result<Gateway, String> {
        let dir = tempfile::tempdir().unwrap();
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let admin: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let config = format!(
            "[server]\nlisten = \"{addr}\"\nupstream = \"{}\"\n{}\n[admin]\nlisten = \"{admin}\"\n\n{}",
            self.upstream, self.server, self.rest
        );
        let config_path = dir.path().join("palisade.toml");
        std::fs::write(&config_path, &config).unwrap();

        let stdout = dir.path().join("stdout.log");
        let stderr = dir.path().join("stderr.log");
        let mut command = palisade();
        command
            .args(["run", "--log-format", "json", "-c"])
            .arg(&config_path)
            .env_remove("PALISADE_CONFIG")
            .env("PALISADE_LOG", "info")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap());
        for (name, value) in &self.env {
            command.env(name, value);
        }
        let child = command.spawn().unwrap();
        let mut gateway = Gateway {
            child,
            addr,
            admin,
            stdout,
            stderr,
            dir,
        };

        let started = Instant::now();
        loop {
            if let Some(status) = gateway.child.try_wait().unwrap() {
                return Err(format!(
                    "exited with {status}: {}\nconfig:\n{config}",
                    gateway.stderr_text()
                ));
            }
            if let Ok(response) = get(admin, "/healthz").await {
                if response.status == 200 {
                    return Ok(gateway);
                }
            }
            if started.elapsed() > DEADLINE {
                return Err(format!("no /healthz within {DEADLINE:?}"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A running `palisade run`, killed when dropped.
pub struct Gateway {
    /// The process.
    pub child: Child,
    /// The public listener.
    pub addr: SocketAddr,
    /// The admin listener.
    pub admin: SocketAddr,
    stdout: PathBuf,
    stderr: PathBuf,
    dir: tempfile::TempDir,
}

impl Gateway {
    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Everything the gateway wrote to stdout so far.
    pub fn stdout_text(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    /// Everything the gateway wrote to stderr so far.
    pub fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Every access-log line so far, parsed.
    pub fn access_log(&self) -> Vec<Value> {
        self.stdout_text()
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|line| line["target"] == "palisade::access")
            .collect()
    }

    /// The access-log lines for `request_id`, waiting until there is at least one.
    pub async fn access_lines_for(&self, request_id: &str) -> Vec<Value> {
        let started = Instant::now();
        loop {
            let lines: Vec<Value> = self
                .access_log()
                .into_iter()
                .filter(|line| line["request_id"] == request_id)
                .collect();
            if !lines.is_empty() || started.elapsed() > DEADLINE {
                return lines;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The `route` field of the one access-log line for a response.
    pub async fn route_of(&self, response: &RawResponse) -> String {
        let id = response.header("x-request-id").expect("x-request-id");
        let lines = self.access_lines_for(&id).await;
        assert_eq!(lines.len(), 1, "access log for {id}: {lines:?}");
        lines[0]["route"].as_str().unwrap().to_owned()
    }

    /// The process id, for signals.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the process to exit, up to `limit`.
    pub async fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        None
    }

    /// Sends a raw HTTP/1.1 request to the public listener.
    pub async fn raw(&self, request: &str) -> RawResponse {
        raw_request(self.addr, request.as_bytes()).await
    }

    /// Sends `GET target` with the usual headers plus `extra` (lines ending in `\r\n`).
    pub async fn get(&self, target: &str, extra: &str) -> RawResponse {
        self.request("GET", target, extra).await
    }

    /// Sends a bodiless `method target` with a matching `Host`, `Connection: close` and
    /// `extra` header lines (each ending in `\r\n`).
    pub async fn request(&self, method: &str, target: &str, extra: &str) -> RawResponse {
        let request = format!(
            "{method} {target} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n{extra}\r\n",
            self.addr
        );
        self.raw(&request).await
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- gateway stdout ---\n{}", self.stdout_text());
            eprintln!("--- gateway stderr ---\n{}", self.stderr_text());
        }
    }
}

// === Raw HTTP/1.1 ===

/// A response read off the wire.
#[derive(Debug, Clone)]
pub struct RawResponse {
    /// The status code.
    pub status: u16,
    /// Header names (lower case) and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The first value of header `name`.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }

    /// The body parsed as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// Asserts a gateway refusal: the status, the JSON `{"error": message}` body and a
    /// request id.
    pub fn assert_refused(&self, status: u16, message: &str) {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(
            self.json(),
            serde_json::json!({ "error": message }),
            "{self:?}"
        );
        assert!(
            self.header("x-request-id").is_some(),
            "no x-request-id: {self:?}"
        );
    }
}

/// Sends `bytes` on a fresh connection and reads the response until the server closes it
/// (the request should say `Connection: close`).
pub async fn raw_request(addr: SocketAddr, bytes: &[u8]) -> RawResponse {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    read_response(&mut stream).await
}

/// Reads one response from `stream` until the server closes it.
pub async fn read_response(stream: &mut TcpStream) -> RawResponse {
    let mut received = Vec::new();
    let read = tokio::time::timeout(DEADLINE, async {
        let mut buf = [0u8; 8192];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
                // A reset after a complete response still leaves the response readable.
                Err(_) => break,
            }
        }
    })
    .await;
    assert!(read.is_ok(), "no response within {DEADLINE:?}");
    parse_response(&received)
        .unwrap_or_else(|| panic!("bad response: {:?}", String::from_utf8_lossy(&received)))
}

/// Parses a whole HTTP/1.1 response.
pub fn parse_response(bytes: &[u8]) -> Option<RawResponse> {
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&bytes[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let rest = &bytes[end + 4..];
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    let body = if chunked {
        dechunk(rest)?
    } else {
        rest.to_vec()
    };
    Some(RawResponse {
        status,
        headers,
        body,
    })
}

fn dechunk(mut bytes: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = bytes.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&bytes[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        bytes = &bytes[line_end + 2..];
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(bytes.get(..size)?);
        bytes = bytes.get(size + 2..)?;
    }
}

/// `GET path` on a fresh connection to `addr`; an error if nothing answers.
pub async fn get(addr: SocketAddr, path: &str) -> std::io::Result<RawResponse> {
    let mut stream = TcpStream::connect(addr).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    Ok(read_response(&mut stream).await)
}

/// Waits until `condition` holds, failing the test after [`DEADLINE`].
pub async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let started = Instant::now();
    while !condition() {
        assert!(started.elapsed() < DEADLINE, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
