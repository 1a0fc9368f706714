//! `palisade demo`: the gateway in front of an example upstream, in one process, with no
//! network beyond loopback, and a list of commands that show each protection at work.
//!
//! `--self-test` sends the same requests itself and checks every answer, so the demo doubles
//! as an end-to-end test of the built binary.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::config::Config;
use crate::server::Bound;

/// The demo's config; `{listen}` and `{upstream}` are filled in at start.
const DEMO_CONFIG: &str = r#"
[server]
listen = "{listen}"
upstream = "http://{upstream}"
hosts = ["127.0.0.1", "localhost"]
max_body = "64KiB"
upstream_timeout = "2s"
unmatched = "deny"

[admin]
listen = "127.0.0.1:0"

[[route]]
path = "/api/hello"
methods = ["GET"]
auth = "none"

[[route]]
path = "/api/items/[id]"
methods = ["GET", "PUT"]
auth = "none"

[[route]]
path = "/api/upload"
methods = ["POST"]
auth = "none"
max_body = "1KiB"

[[route]]
path = "/api/slow"
auth = "none"

[auth.cron]
kind = "token"
keys = [{ id = "demo", value = "file:cron.token" }]

[[route]]
path = "/api/cron/[job]"
methods = ["POST"]
auth = "cron"
"#;

/// One demonstrated protection: what to type, and what the answer must be.
struct Scenario {
    title: &'static str,
    curl: &'static str,
    request: &'static str,
    body: &'static [u8],
    status: u16,
    absent: &'static [&'static str],
}

const SCENARIOS: &[Scenario] = &[
    Scenario {
        title: "A public route passes through to the upstream",
        curl: "curl -i http://{addr}/api/hello",
        request: "GET /api/hello",
        body: b"",
        status: 200,
        absent: &[],
    },
    Scenario {
        title: "A path no route matches is denied",
        curl: "curl -i http://{addr}/api/admin",
        request: "GET /api/admin",
        body: b"",
        status: 404,
        absent: &[],
    },
    Scenario {
        title: "A method the route does not list gets 405 and Allow",
        curl: "curl -i -X DELETE http://{addr}/api/hello",
        request: "DELETE /api/hello",
        body: b"",
        status: 405,
        absent: &[],
    },
    Scenario {
        title: "Path traversal with dot segments is refused",
        curl: "curl -i --path-as-is http://{addr}/api/../admin",
        request: "GET /api/../admin",
        body: b"",
        status: 400,
        absent: &[],
    },
    Scenario {
        title: "Encoded traversal is refused too",
        curl: "curl -i http://{addr}/api/items/%2e%2e%2fadmin",
        request: "GET /api/items/%2e%2e%2fadmin",
        body: b"",
        status: 400,
        absent: &[],
    },
    Scenario {
        title: "Next.js's middleware-bypass header and forged identity never reach the app",
        curl: "curl -i -H 'x-middleware-subrequest: middleware' -H 'x-palisade-user: admin' \
               http://{addr}/api/hello",
        request: "GET /api/hello\r\nx-middleware-subrequest: middleware\r\nx-palisade-user: admin",
        body: b"",
        status: 200,
        absent: &["x-middleware-subrequest", "x-palisade-user"],
    },
    Scenario {
        title: "A forged X-Forwarded-For is replaced by the real client address",
        curl: "curl -i -H 'X-Forwarded-For: 6.6.6.6' http://{addr}/api/hello",
        request: "GET /api/hello\r\nX-Forwarded-For: 6.6.6.6",
        body: b"",
        status: 200,
        absent: &["6.6.6.6"],
    },
    Scenario {
        title: "A Host the app does not answer to is refused",
        curl: "curl -i -H 'Host: evil.example' http://{addr}/api/hello",
        request: "GET /api/hello\r\nHost: evil.example",
        body: b"",
        status: 421,
        absent: &[],
    },
    Scenario {
        title: "Query parameters only Next.js may set are refused",
        curl: "curl -i 'http://{addr}/api/items/1?nxtPid=admin'",
        request: "GET /api/items/1?nxtPid=admin",
        body: b"",
        status: 400,
        absent: &[],
    },
    Scenario {
        title: "A body over the route's limit gets 413, even without Content-Length",
        curl: "head -c 4096 /dev/zero | curl -i -H 'Transfer-Encoding: chunked' \
               --data-binary @- http://{addr}/api/upload",
        request: "POST /api/upload\r\nTransfer-Encoding: chunked",
        body: CHUNKED_4K,
        status: 413,
        absent: &[],
    },
    Scenario {
        title: "A service route refuses a caller without its token",
        curl: "curl -i -X POST http://{addr}/api/cron/cleanup",
        request: "POST /api/cron/cleanup\r\nContent-Length: 0",
        body: b"",
        status: 401,
        absent: &[],
    },
    Scenario {
        title: "...and one with a wrong token",
        curl: "curl -i -X POST -H 'Authorization: Bearer guess' http://{addr}/api/cron/cleanup",
        request: "POST /api/cron/cleanup\r\nAuthorization: Bearer guess\r\nContent-Length: 0",
        body: b"",
        status: 401,
        absent: &[],
    },
    Scenario {
        title: "The right token is admitted, and the app learns the key id (x-palisade-client)",
        curl: "curl -i -X POST -H 'Authorization: Bearer {token}' http://{addr}/api/cron/cleanup",
        request: "POST /api/cron/cleanup\r\nAuthorization: Bearer {token}\r\nContent-Length: 0",
        body: b"",
        status: 200,
        absent: &[],
    },
    Scenario {
        title: "A slow upstream is cut off with 504",
        curl: "curl -i http://{addr}/api/slow",
        request: "GET /api/slow",
        body: b"",
        status: 504,
        absent: &[],
    },
];

/// 4 KiB of `x` in one chunk of a chunked body: no `Content-Length` to refuse early.
const CHUNKED_4K: &[u8] = &{
    const HEAD: &[u8] = b"1000\r\n";
    const TAIL: &[u8] = b"\r\n0\r\n\r\n";
    let mut out = [b'x'; HEAD.len() + 4096 + TAIL.len()];
    let mut i = 0;
    while i < HEAD.len() {
        out[i] = HEAD[i];
        i += 1;
    }
    let mut j = 0;
    while j < TAIL.len() {
        out[HEAD.len() + 4096 + j] = TAIL[j];
        j += 1;
    }
    out
};

/// Runs the demo until Ctrl-C, or runs its scenarios once with `self_test`.
pub async fn run(listen: SocketAddr, self_test: bool) -> anyhow::Result<ExitCode> {
    let upstream = TcpListener::bind("127.0.0.1:0")
        .await
        .context("cannot start the demo upstream")?;
    let upstream_addr = upstream.local_addr()?;
    tokio::spawn(serve_upstream(upstream));

    // The demo's service token: made up for this run, kept in a file as a real one would be.
    let token = format!("demo-{:032x}", fastrand::u128(..));
    let dir = std::env::temp_dir().join(format!("palisade-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).context("cannot create the demo's folder")?;
    std::fs::write(dir.join("cron.token"), &token).context("cannot write the demo token")?;

    let text = DEMO_CONFIG
        .replace("{listen}", &listen.to_string())
        .replace("{upstream}", &upstream_addr.to_string());
    let config = Config::parse(&text, Path::new("<demo>"), &dir);
    let _ = std::fs::remove_dir_all(&dir);
    let config = config.map_err(|e| anyhow::anyhow!("the demo config is invalid:\n{e}"))?;
    let bound = Bound::bind(config)
        .await
        .with_context(|| format!("try another address with --listen (was {listen})"))?;
    let addr = bound
        .local_addr()
        .context("the demo listener has no address")?;
    let admin = bound.admin_addr();

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(bound.serve(async {
        let _ = stopped.await;
    }));

    let code = if self_test {
        let failures = self_check(addr, &token).await;
        if failures == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    } else {
        print_guide(addr, admin, &token);
        let _ = tokio::signal::ctrl_c().await;
        ExitCode::SUCCESS
    };
    let _ = stop.send(());
    let _ = server.await;
    Ok(code)
}

fn print_guide(addr: SocketAddr, admin: Option<SocketAddr>, token: &str) {
    let addr = addr.to_string();
    println!("\npalisade demo: the gateway on http://{addr}, in front of an example upstream");
    println!("that answers with what it received. Paste these in another terminal:\n");
    for (i, scenario) in SCENARIOS.iter().enumerate() {
        println!("{}. {} (expect {})", i + 1, scenario.title, scenario.status);
        let curl = scenario
            .curl
            .replace("{addr}", &addr)
            .replace("{token}", token);
        println!("   {curl}\n");
    }
    if let Some(admin) = admin {
        println!("Metrics: curl http://{admin}/metrics   Health: curl http://{admin}/healthz\n");
    }
    println!("Press Ctrl-C to stop.");
}

/// Sends every scenario's request and checks the answer; returns the number of failures.
async fn self_check(addr: SocketAddr, token: &str) -> usize {
    let mut failures = 0;
    for scenario in SCENARIOS {
        let outcome = send(addr, scenario, token).await;
        let verdict = match &outcome {
            Ok((status, _)) if *status != scenario.status => {
                format!("FAIL: got {status}, expected {}", scenario.status)
            }
            Ok((_, body)) => match scenario.absent.iter().find(|s| contains(body, s)) {
                Some(leak) => format!("FAIL: the upstream received `{leak}`"),
                None => "ok".to_owned(),
            },
            Err(error) => format!("FAIL: {error}"),
        };
        if verdict != "ok" {
            failures += 1;
        }
        println!("{:<4} {} [{}]", verdict, scenario.title, scenario.status);
    }
    println!("{} passed, {} failed", SCENARIOS.len() - failures, failures);
    failures
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    let needle = needle.to_ascii_lowercase();
    haystack
        .to_ascii_lowercase()
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// Sends one scenario's request as raw HTTP/1.1, so nothing normalises it on the way.
async fn send(
    addr: SocketAddr,
    scenario: &Scenario,
    token: &str,
) -> anyhow::Result<(u16, Vec<u8>)> {
    let request = scenario.request.replace("{token}", token);
    let (line, extra) = request.split_once("\r\n").unwrap_or((&request, ""));
    let mut head = format!("{line} HTTP/1.1\r\nConnection: close\r\n");
    if !extra.contains("Host:") {
        head.push_str(&format!("Host: {addr}\r\n"));
    }
    if !extra.is_empty() {
        head.push_str(extra);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");

    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(head.as_bytes()).await?;
    // The gateway may refuse before reading the body; a write error then is expected.
    let _ = stream.write_all(scenario.body).await;
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response))
        .await
        .context("no answer within 10s")??;
    let status = response
        .get(9..12)
        .and_then(|s| std::str::from_utf8(s).ok())
        .and_then(|s| s.parse().ok())
        .context("malformed status line")?;
    Ok((status, response))
}

/// The demo upstream: answers every request with what it received, as JSON.
async fn serve_upstream(listener: TcpListener) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(async move {
            let service = service_fn(echo);
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn echo(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    if request.uri().path() == "/api/slow" {
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    let headers: serde_json::Map<String, serde_json::Value> = request
        .headers()
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.as_str().to_owned(), serde_json::Value::String(value))
        })
        .collect();
    let method = request.method().to_string();
    let path = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let body_bytes = match request.into_body().collect().await {
        Ok(body) => body.to_bytes().len(),
        Err(_) => 0,
    };
    let echo = serde_json::json!({
        "upstream": "palisade demo",
        "method": method,
        "path": path,
        "headers": headers,
        "body_bytes": body_bytes,
    });
    let mut response = Response::new(Full::new(Bytes::from(echo.to_string())));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    Ok(response)
}
