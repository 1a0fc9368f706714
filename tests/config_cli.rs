//! The command line: `palisade check` on good and bad configs, and `palisade run` refusing a
//! config that asks for a protection this build does not have.

#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use support::{DEADLINE, free_port, palisade};

fn good_config(listen: u16) -> String {
    format!(
        r#"[server]
listen = "127.0.0.1:{listen}"
upstream = "http://127.0.0.1:3000"
hosts = ["localhost"]
max_body = "64KiB"

[admin]
listen = "127.0.0.1:{admin}"

[[route]]
path = "/api/transfer"
methods = ["POST"]
auth = "none"
max_body = "2KiB"

[[route]]
path = "/api/items/[id]"
methods = ["GET", "DELETE"]
auth = "none"

[[route]]
path = "/docs/[[...slug]]"
auth = "none"
"#,
        admin = free_port()
    )
}

fn write(dir: &Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("palisade.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs `palisade ARGS -c path` to completion, failing the test if it does not end in time.
fn run_to_end(args: &[&str], config: &Path) -> Output {
    let mut child = palisade()
        .args(args)
        .arg("-c")
        .arg(config)
        .env_remove("PALISADE_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            let output = child.wait_with_output().unwrap();
            panic!(
                "palisade {args:?} did not exit within {DEADLINE:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn check_on_a_good_config_prints_the_route_table_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(dir.path(), &good_config(free_port()));

    let output = run_to_end(&["check"], &config);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    for column in ["ROUTE", "METHODS", "AUTH", "RATE LIMIT", "SCHEMAS", "CORS"] {
        assert!(stdout.contains(column), "no {column} column:\n{stdout}");
    }
    let row = |pattern: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(pattern))
            .unwrap_or_else(|| panic!("no row for {pattern}:\n{stdout}"))
            .to_owned()
    };
    assert!(row("/api/transfer").contains("POST"));
    let transfer = row("/api/transfer");
    assert!(
        transfer.contains("2KiB") || transfer.contains("2048"),
        "{transfer}"
    );
    assert!(row("/api/items/[id]").contains("GET,DELETE"));
    assert!(row("/docs/[[...slug]]").contains('*'));
    assert!(stdout.contains(": ok"), "{stdout}");
}

#[test]
fn check_warns_when_hosts_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let text_in = good_config(free_port()).replace("hosts = [\"localhost\"]\n", "");
    let config = write(dir.path(), &text_in);

    let output = run_to_end(&["check"], &config);
    assert_eq!(output.status.code(), Some(0));
    assert!(text(&output.stdout).contains("warning: server.hosts"));
}

#[test]
fn an_unknown_key_is_named_with_its_line_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        // A typo that, if ignored, would leave the body limit at its default.
        (
            "max_body = \"64KiB\"",
            "max_bdy = \"64KiB\"",
            "max_bdy",
            ":5:",
        ),
        // A typo inside a route.
        (
            "max_body = \"2KiB\"",
            "maxbody = \"2KiB\"",
            "maxbody",
            "route",
        ),
        // A whole table palisade does not know.
        (
            "[admin]",
            "[firewall]\nmode = \"off\"\n\n[admin]",
            "firewall",
            ":7:",
        ),
    ];
    for (from, to, key, place) in cases {
        let config = write(dir.path(), &good_config(free_port()).replacen(from, to, 1));
        let output = run_to_end(&["check"], &config);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{to}: {stderr}");
        assert!(stderr.contains(key), "{key} not named: {stderr}");
        assert!(stderr.contains(place), "{place} not given: {stderr}");
    }
}

#[test]
fn a_bad_value_is_named_with_its_key_and_line_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "max_body = \"64KiB\"",
            "max_body = \"lots\"",
            "server.max_body",
            ":5:",
        ),
        (
            "upstream = \"http://127.0.0.1:3000\"",
            "upstream = \"ftp://x\"",
            "server.upstream",
            ":3:",
        ),
        (
            "methods = [\"POST\"]",
            "methods = [\"post\"]",
            "route[0].methods",
            ":12:",
        ),
        (
            "path = \"/api/items/[id]\"",
            "path = \"/api/items/[id\"",
            "route[1].path",
            ":17:",
        ),
    ];
    for (from, to, key, line) in cases {
        let config = write(dir.path(), &good_config(free_port()).replacen(from, to, 1));
        let output = run_to_end(&["check"], &config);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{to}: {stderr}");
        assert!(stderr.contains(key), "{key} not named: {stderr}");
        assert!(stderr.contains(line), "line {line} not given: {stderr}");
    }
}

#[test]
fn run_refuses_a_config_that_asks_for_an_unbuilt_protection() {
    let dir = tempfile::tempdir().unwrap();
    let asks = [
        ("[cors]\norigins = [\"https://yourapp.com\"]\n", "cors"),
        (
            "[rate_limit]\nstore = \"memory\"\n[rate_limit.policies]\n\
             auth = { limit = 5, window = \"15m\", key = \"ip\" }\n",
            "rate_limit",
        ),
        ("[secrets]\ndeny = []\n", "secrets"),
        (
            "[[route]]\npath = \"/api/pay\"\nauth = \"none\"\ncors = { origins = [] }\n",
            "cors",
        ),
        (
            "[[route]]\npath = \"/api/ai\"\nauth = \"none\"\nrate_limit = \"ai\"\n",
            "rate_limit",
        ),
    ];
    for (extra, key) in asks {
        let listen = free_port();
        let config = write(dir.path(), &format!("{}\n{extra}", good_config(listen)));

        let output = run_to_end(&["run"], &config);
        let stderr = text(&output.stderr);
        assert_ne!(output.status.code(), Some(0), "{extra}");
        assert!(stderr.contains(key), "{key} not named: {stderr}");
        assert!(stderr.contains("not implemented"), "{extra}: {stderr}");
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", listen)).is_err(),
            "something listens on the configured port"
        );
        assert!(!text(&output.stdout).contains("listening"), "{extra}");
    }
}

#[test]
fn run_refuses_an_invalid_config_without_listening() {
    let dir = tempfile::tempdir().unwrap();
    let listen = free_port();
    let config = write(
        dir.path(),
        &good_config(listen).replace("max_body = \"64KiB\"", "max_body = \"-1\""),
    );
    let output = run_to_end(&["run"], &config);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("server.max_body"), "{stderr}");
    assert!(stderr.contains("refusing to start"), "{stderr}");
}

#[test]
fn a_missing_config_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let output = run_to_end(&["check"], &dir.path().join("nope.toml"));
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("nope.toml"));
}

#[test]
fn check_refuses_secret_files_that_are_not_regular_files_promptly() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("certs")).unwrap();
    let text_in = good_config(free_port()).replace(
        "max_body = \"64KiB\"\n",
        "max_body = \"64KiB\"\ntls = { cert = \"file:certs\", key = \"file:/dev/zero\" }\n",
    );
    let config = write(dir.path(), &text_in);

    // `run_to_end` fails the test if palisade is still reading /dev/zero at the deadline.
    let output = run_to_end(&["check"], &config);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    for (key, file) in [
        ("server.tls.cert", "certs"),
        ("server.tls.key", "/dev/zero"),
    ] {
        assert!(
            stderr
                .lines()
                .any(|l| l.contains(key) && l.contains(file) && l.contains("not a regular file")),
            "{key} not reported cleanly: {stderr}"
        );
    }
}

#[test]
fn check_refuses_a_route_group_pattern_with_advice() {
    let dir = tempfile::tempdir().unwrap();
    let text_in = good_config(free_port()).replace("/api/transfer", "/(admin)/api/transfer");
    let config = write(dir.path(), &text_in);

    let output = run_to_end(&["check"], &config);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("route[0].path") && stderr.contains("not part of the URL"),
        "{stderr}"
    );
}

#[test]
fn a_config_in_the_working_directory_finds_its_schema_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("schemas")).unwrap();
    std::fs::write(
        dir.path().join("schemas/transfer.json"),
        r#"{"type":"object","properties":{"amount":{"type":"integer"}}}"#,
    )
    .unwrap();
    let config = format!(
        "{}\n[[route]]\npath = \"/api/pay\"\nauth = \"none\"\nbody = \"schemas/transfer.json\"\n",
        good_config(free_port())
    );
    std::fs::write(dir.path().join("palisade.toml"), config).unwrap();
    let output = palisade()
        .args(["check", "-c", "palisade.toml"])
        .current_dir(dir.path())
        .env_remove("PALISADE_CONFIG")
        .output()
        .unwrap();
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{}{stdout}", text(&output.stderr));
    assert!(
        stdout.contains("/api/pay") && stdout.contains("body"),
        "{stdout}"
    );
}
