//! Shared harness for the integration tests: a recording mock upstream, the real `palisade`
//! binary started on loopback ports, and a raw HTTP/1.1 client for requests that an ordinary
//! client would normalise before sending.

// Each test binary uses a different part of the harness.
#![allow(dead_code, unused_imports)]
#![allow(clippy::unwrap_used)]

pub mod auth_server;
mod raw;
mod upstream;

use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub use raw::{RawResponse, get, parse_response, raw_request, read_response};
pub use upstream::{Seen, Upstream};

/// How long any single wait in these tests may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(15);

/// How long the mock upstream sleeps on `/slow`: far beyond any `upstream_timeout` used here.
pub const SLOW: Duration = Duration::from_secs(10);

/// How many bytes the mock upstream answers `/big` with: more than any socket buffers hold.
pub const BIG: usize = 32 << 20;

/// How long the mock upstream sleeps on `/hang-then-ok` before answering 200.
pub const HANG: Duration = Duration::from_millis(2000);

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
            if let Ok(response) = get(admin, "/healthz").await
                && response.status == 200
            {
                return Ok(gateway);
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

/// Waits until `condition` holds, failing the test after [`DEADLINE`].
pub async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let started = Instant::now();
    while !condition() {
        assert!(started.elapsed() < DEADLINE, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Like [`eventually`], for a condition that must be awaited.
pub async fn eventually_async<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !condition().await {
        assert!(started.elapsed() < DEADLINE, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// An HTTP/2 client connection (h2c with prior knowledge) to `addr`; the returned handle ends
/// when the server closes the connection.
pub async fn h2_connect(
    addr: SocketAddr,
) -> (
    hyper::client::conn::http2::SendRequest<http_body_util::Empty<bytes::Bytes>>,
    tokio::task::JoinHandle<Result<(), hyper::Error>>,
) {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let io = hyper_util::rt::TokioIo::new(stream);
    let (sender, connection) =
        hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), io)
            .await
            .unwrap();
    (sender, tokio::spawn(connection))
}
