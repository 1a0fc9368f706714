//! `palisade demo`: the gateway in front of an example upstream, in one process, with no
//! network beyond loopback, and a list of commands that show each protection at work.
//!
//! `--self-test` sends the same requests itself and checks every answer, so the demo doubles
//! as an end-to-end test of the built binary.

mod credentials;
mod scenarios;
mod upstream;

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::config::Config;
use crate::server::Bound;
use credentials::Credentials;
use scenarios::{DEMO_CONFIG, SCENARIOS, Scenario};
use upstream::serve_upstream;

/// Runs the demo until Ctrl-C, or runs its scenarios once with `self_test`.
pub async fn run(listen: SocketAddr, self_test: bool) -> anyhow::Result<ExitCode> {
    let upstream = TcpListener::bind("127.0.0.1:0")
        .await
        .context("cannot start the demo upstream")?;
    let upstream_addr = upstream.local_addr()?;
    tokio::spawn(serve_upstream(upstream));

    // Credentials made up for this run, in files as real ones would be.
    let dir = std::env::temp_dir().join(format!("palisade-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).context("cannot create the demo's folder")?;
    let credentials = Credentials::create(&dir);

    let text = DEMO_CONFIG
        .replace("{listen}", &listen.to_string())
        .replace("{upstream}", &upstream_addr.to_string());
    let config = credentials.and_then(|credentials| {
        let config = Config::parse(&text, Path::new("<demo>"), &dir)
            .map_err(|e| anyhow::anyhow!("the demo config is invalid:\n{e}"))?;
        Ok((credentials, config))
    });
    let _ = std::fs::remove_dir_all(&dir);
    let (credentials, config) = config?;
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
        let failures = self_check(addr, &credentials).await;
        if failures == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    } else {
        print_guide(addr, admin, &credentials);
        let _ = tokio::signal::ctrl_c().await;
        ExitCode::SUCCESS
    };
    let _ = stop.send(());
    let _ = server.await;
    Ok(code)
}

fn print_guide(addr: SocketAddr, admin: Option<SocketAddr>, credentials: &Credentials) {
    let addr = addr.to_string();
    println!("\npalisade demo: the gateway on http://{addr}, in front of an example upstream");
    println!("that answers with what it received. Paste these in another terminal:\n");
    for (i, scenario) in SCENARIOS.iter().enumerate() {
        println!("{}. {} (expect {})", i + 1, scenario.title, scenario.status);
        let curl = scenario.curl.replace("{addr}", &addr);
        let curl = credentials.fill(&curl);
        println!("   {curl}\n");
    }
    if let Some(admin) = admin {
        println!("Metrics: curl http://{admin}/metrics   Health: curl http://{admin}/healthz\n");
    }
    println!("Press Ctrl-C to stop.");
}

/// Sends every scenario's request and checks the answer; returns the number of failures.
async fn self_check(addr: SocketAddr, credentials: &Credentials) -> usize {
    let mut failures = 0;
    for scenario in SCENARIOS {
        let outcome = send(addr, scenario, credentials).await;
        let verdict = match &outcome {
            Ok((status, _)) if *status != scenario.status => {
                format!("FAIL: got {status}, expected {}", scenario.status)
            }
            Ok((_, body)) => {
                let leaked = scenario.absent.iter().find(|s| contains(body, s));
                let missing = scenario.present.iter().find(|s| !contains(body, s));
                match (leaked, missing) {
                    (Some(leak), _) => format!("FAIL: the upstream received `{leak}`"),
                    (None, Some(missing)) => format!("FAIL: the upstream never saw `{missing}`"),
                    (None, None) => "ok".to_owned(),
                }
            }
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
    credentials: &Credentials,
) -> anyhow::Result<(u16, Vec<u8>)> {
    let request = credentials.fill(scenario.request);
    let (line, extra) = request.split_once("\r\n").unwrap_or((&request, ""));
    let mut head = format!("{line} HTTP/1.1\r\nConnection: close\r\n");
    if !extra.contains("Host:") {
        head.push_str(&format!("Host: {addr}\r\n"));
    }
    if !extra.is_empty() {
        head.push_str(extra);
        head.push_str("\r\n");
    }
    let framed = extra.contains("Content-Length") || extra.contains("Transfer-Encoding");
    if !scenario.body.is_empty() && !framed {
        head.push_str(&format!("Content-Length: {}\r\n", scenario.body.len()));
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
