//! Config checks, written against the mistakes a user (or an attacker editing a config) makes.

use std::path::Path;

use super::*;
use crate::config::Unmatched;

fn load(text: &str) -> Result<Config, LoadError> {
    parse(text, Path::new("palisade.toml"), Path::new("."))
}

fn problems(text: &str) -> Vec<String> {
    match load(text) {
        Ok(_) => panic!("config should have been refused:\n{text}"),
        Err(errors) => errors.problems.iter().map(ToString::to_string).collect(),
    }
}

const MINIMAL: &str = r#"
[server]
listen = "127.0.0.1:8080"
upstream = "http://127.0.0.1:3000"
hosts = ["localhost"]

[[route]]
path = "/api/hello"
auth = "none"
"#;

#[test]
fn minimal_config_loads_with_defaults() {
    let config = load(MINIMAL).unwrap();
    assert_eq!(config.server.max_body, 1 << 20);
    assert_eq!(config.server.unmatched, Unmatched::Deny);
    assert_eq!(config.routes.len(), 1);
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
}

#[test]
fn unknown_key_is_named_with_its_line() {
    let text = MINIMAL.replace("upstream =", "upstrem =");
    let all = problems(&text);
    assert!(all[0].contains("upstrem"), "{all:?}");
    assert!(all[0].starts_with("palisade.toml:4:"), "{all:?}");
}

#[test]
fn unknown_route_key_is_named() {
    let text = format!("{MINIMAL}rate_limt = \"auth\"\n");
    let all = problems(&text);
    assert!(all[0].contains("rate_limt"), "{all:?}");
    assert!(all[0].contains("route[0]"), "{all:?}");
}

#[test]
fn bad_values_name_their_keys() {
    let text = MINIMAL.replace("127.0.0.1:8080", "localhost-8080").replace(
        "hosts = [\"localhost\"]",
        "hosts = [\"localhost\"]\nmax_body = \"lots\"",
    );
    let all = problems(&text);
    assert!(
        all.iter()
            .any(|p| p.contains(":3:") && p.contains("server.listen")),
        "{all:?}"
    );
    assert!(all.iter().any(|p| p.contains("server.max_body")), "{all:?}");
}

#[test]
fn wrong_type_names_the_key() {
    let text = MINIMAL.replace("hosts = [\"localhost\"]", "hosts = \"localhost\"");
    let all = problems(&text);
    assert!(all[0].contains("server.hosts"), "{all:?}");
}

#[test]
fn protections_not_built_yet_refuse_to_load() {
    let cases = [
        "[cors]\norigins = [\"https://a.com\"]\n",
        "[rate_limit]\nstore = \"memory\"\n",
        "[secrets]\ndeny = []\n",
    ];
    for extra in cases {
        let all = problems(&format!("{MINIMAL}\n{extra}"));
        assert!(
            all.iter().any(|p| p.contains("not implemented")),
            "{extra}: {all:?}"
        );
    }
    for key in ["rate_limit = \"auth\"", "cors = { origins = [] }"] {
        let all = problems(&format!("{MINIMAL}{key}\n"));
        assert!(
            all.iter().any(|p| p.contains("not implemented")),
            "{key}: {all:?}"
        );
    }
}

const CRON: &str =
    "\n[auth.cron]\nkind = \"token\"\nkeys = [{ id = \"current\", value = \"file:cron.key\" }]\n";

/// Loads `text` with a `cron.key` file beside it.
fn load_with_key(text: &str) -> Result<Config, LoadError> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cron.key"), "cron-secret-value-1234\n").unwrap();
    parse(text, Path::new("palisade.toml"), dir.path())
}

/// The problems `text` has, loaded with a `cron.key` file beside it; it must not load.
fn problems_with_key(text: &str) -> Vec<String> {
    match load_with_key(text) {
        Ok(_) => panic!("config should have been refused:\n{text}"),
        Err(errors) => errors.problems.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn token_provider_and_route_auth_load() {
    let text = MINIMAL.replace(
        "auth = \"none\"",
        "auth = [\"cron\"]\nrequire = { role = \"x\" }",
    );
    let config = load_with_key(&format!("{text}{CRON}")).unwrap();
    assert_eq!(config.routes[0].auth.providers[0].name(), "cron");
    assert!(!config.routes[0].auth.require.is_empty());
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
}

#[test]
fn auth_mistakes_are_named_by_key() {
    let named = |text: String, key: &str, says: &str| {
        let all = problems_with_key(&text);
        assert!(
            all.iter().any(|p| p.contains(key) && p.contains(says)),
            "{key}: {all:?}"
        );
    };
    let route = |auth: &str| MINIMAL.replace("auth = \"none\"", auth);
    named(
        route("auth = \"supabase\""),
        "route[0].auth",
        "no [auth.supabase]",
    );
    named(
        format!("{}{CRON}", route("auth = [\"none\", \"cron\"]")),
        "route[0].auth",
        "mixes",
    );
    named(
        format!("{}{CRON}", route("auth = []")),
        "route[0].auth",
        "provider names",
    );
    named(
        format!("{}{CRON}", route("auth = [\"cron\", \"cron\"]")),
        "route[0].auth",
        "twice",
    );
    named(
        route("auth = \"none\"\nrequire = { aal = \"aal2\" }"),
        "route[0].require",
        "public",
    );
    named(
        format!(
            "{}{CRON}",
            route("auth = \"cron\"\nrequire = { role = [] }")
        ),
        "route[0].require",
        "no value",
    );
    let text = format!(
        "{}{}",
        route("auth = \"cron\""),
        CRON.replace("kind", "url = \"x\"\nkind")
    );
    named(text, "auth.cron.url", "not a setting of a token provider");
    let text = format!(
        "{}{}",
        route("auth = \"cron\""),
        CRON.replace("file:cron.key", "hunter2")
    );
    named(text, "auth.cron.keys[0].value", "reference");
    let text = format!(
        "{}{}",
        route("auth = \"cron\""),
        CRON.replace("\"token\"", "\"magic\"")
    );
    named(text, "auth.cron.kind", "not one of");
}

#[test]
fn an_unused_provider_is_a_warning() {
    let config = load_with_key(&format!("{MINIMAL}{CRON}")).unwrap();
    assert!(
        config
            .warnings
            .iter()
            .any(|w| w.contains("auth.cron is not used"))
    );
}

#[test]
fn route_without_auth_is_refused() {
    let all = problems(&MINIMAL.replace("auth = \"none\"\n", ""));
    assert!(all[0].contains("no `auth`"), "{all:?}");
}

#[test]
fn bad_patterns_and_conflicts_are_errors() {
    let all = problems(&MINIMAL.replace("/api/hello", "/api/[...rest]/x"));
    assert!(all[0].contains("route[0].path"), "{all:?}");
    let twice = format!("{MINIMAL}\n[[route]]\npath = \"/api/hello\"\nauth = \"none\"\n");
    let all = problems(&twice);
    assert!(all[0].contains("route[1].path"), "{all:?}");
}

#[test]
fn same_path_with_disjoint_methods_is_fine() {
    let text = r#"
[server]
listen = "127.0.0.1:8080"
upstream = "http://127.0.0.1:3000"
hosts = ["localhost"]
[[route]]
path = "/api/x"
methods = ["GET"]
auth = "none"
[[route]]
path = "/api/x"
methods = ["POST"]
auth = "none"
"#;
    assert_eq!(load(text).unwrap().routes.len(), 2);
    let all = problems(&text.replace("[\"POST\"]", "[\"post\"]"));
    assert!(all[0].contains("route[1].methods"), "{all:?}");
}

#[test]
fn upstream_must_be_plain_http_origin() {
    for bad in [
        "https://app.internal",
        "ftp://x",
        "http://127.0.0.1:3000/prefix",
        "http://u:p@h",
    ] {
        let all = problems(&MINIMAL.replace("http://127.0.0.1:3000", bad));
        assert!(all[0].contains("server.upstream"), "{bad}: {all:?}");
    }
}

#[test]
fn missing_hosts_and_open_trust_warn() {
    let text = MINIMAL.replace(
        "hosts = [\"localhost\"]",
        "trusted_proxies = [\"0.0.0.0/0\"]",
    );
    let config = load(&text).unwrap();
    assert!(config.warnings.iter().any(|w| w.contains("server.hosts")));
    assert!(
        config
            .warnings
            .iter()
            .any(|w| w.contains("trusts every address"))
    );
}

#[test]
fn timeouts_need_units() {
    let text = MINIMAL.replace(
        "hosts = [\"localhost\"]",
        "hosts = [\"localhost\"]\nupstream_timeout = \"30\"",
    );
    let all = problems(&text);
    assert!(
        all[0].contains("server.upstream_timeout") && all[0].contains("unit"),
        "{all:?}"
    );
}

#[test]
fn tls_key_must_be_a_reference() {
    let text = MINIMAL.replace(
        "hosts = [\"localhost\"]",
        "hosts = [\"localhost\"]\ntls = { cert = \"file:missing.pem\", key = \"BEGIN PRIVATE KEY\" }",
    );
    let all = problems(&text);
    assert!(
        all.iter()
            .any(|p| p.contains("server.tls.cert") && p.contains("missing.pem"))
    );
    assert!(
        all.iter()
            .any(|p| p.contains("server.tls.key") && !p.contains("BEGIN"))
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = MINIMAL
        .replace("127.0.0.1:8080", "nowhere")
        .replace("http://127.0.0.1:3000", "nothing")
        .replace("auth = \"none\"", "auth = 5");
    assert_eq!(problems(&text).len(), 3);
}

#[test]
fn overflowing_number_names_the_key_without_serde_internals() {
    let text = MINIMAL.replace(
        "hosts = [\"localhost\"]",
        "hosts = [\"localhost\"]\nmax_connections = 99999999999",
    );
    let all = problems(&text);
    assert!(all[0].contains("server.max_connections:"), "{all:?}");
    assert!(!all[0].contains("serde_spanned"), "{all:?}");
    assert!(all[0].starts_with("palisade.toml:6:"), "{all:?}");
    // A spanned value inside a list of tables keeps its index.
    let all = problems(&MINIMAL.replace("path = \"/api/hello\"", "path = 5"));
    assert!(all[0].contains("route[0].path:"), "{all:?}");
    assert!(!all[0].contains("serde_spanned"), "{all:?}");
}

#[test]
fn admin_listener_may_not_take_the_server_address() {
    let with_admin = |server: &str, admin: &str| {
        format!(
            "{}\n[admin]\nlisten = \"{admin}\"\n",
            MINIMAL.replace("127.0.0.1:8080", server)
        )
    };
    let all = problems(&with_admin("127.0.0.1:8080", "127.0.0.1:8080"));
    assert!(
        all[0].contains("admin.listen") && all[0].contains("same address as server.listen"),
        "{all:?}"
    );
    for (server, admin) in [
        ("0.0.0.0:8080", "127.0.0.1:8080"),
        ("127.0.0.1:8080", "0.0.0.0:8080"),
        ("[::]:8080", "127.0.0.1:8080"),
        ("[::1]:8080", "[::]:8080"),
    ] {
        let all = problems(&with_admin(server, admin));
        assert!(
            all[0].contains("admin.listen") && all[0].contains("same port as server.listen"),
            "{server} {admin}: {all:?}"
        );
    }
    for (server, admin) in [
        ("127.0.0.1:8080", "127.0.0.1:9090"),
        ("0.0.0.0:8080", "127.0.0.1:9090"),
        ("127.0.0.1:8080", "127.0.0.2:8080"),
    ] {
        let config = load(&with_admin(server, admin)).unwrap();
        assert_eq!(config.admin.unwrap().listen.to_string(), admin);
    }
}

#[test]
fn upstream_may_not_point_at_palisade_itself() {
    let with = |listen: &str, upstream: &str| {
        MINIMAL
            .replace("127.0.0.1:8080", listen)
            .replace("http://127.0.0.1:3000", upstream)
    };
    for (listen, upstream) in [
        ("127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("127.0.0.1:8080", "http://localhost:8080"),
        ("127.0.0.1:8080", "http://LocalHost.:8080"),
        ("127.0.0.1:80", "http://localhost"),
        ("0.0.0.0:8080", "http://127.0.0.1:8080"),
        ("0.0.0.0:8080", "http://localhost:8080"),
        ("[::]:8080", "http://[::1]:8080"),
        ("[::1]:8080", "http://[::1]:8080"),
        ("[::1]:8080", "http://localhost:8080"),
        ("10.0.0.5:8080", "http://10.0.0.5:8080"),
        ("127.0.0.1:8080", "http://[::ffff:127.0.0.1]:8080"),
        ("127.0.0.1:8080", "http://0.0.0.0:8080"),
    ] {
        let all = problems(&with(listen, upstream));
        assert!(
            all[0].contains("server.upstream") && all[0].contains("points at palisade itself"),
            "{listen} {upstream}: {all:?}"
        );
    }
    for (listen, upstream) in [
        ("127.0.0.1:8080", "http://127.0.0.1:3000"),
        ("127.0.0.1:8080", "http://app.internal:8080"),
        ("10.0.0.5:8080", "http://localhost:8080"),
        ("10.0.0.5:8080", "http://10.0.0.6:8080"),
    ] {
        load(&with(listen, upstream)).unwrap();
    }
}

#[test]
fn host_ports_are_plain_digits_in_range() {
    for bad in [
        "localhost:+80",
        "localhost:-80",
        "localhost:0",
        "localhost:65536",
        "localhost:000080",
        "localhost:",
        "[::1]:+80",
    ] {
        let all = problems(&MINIMAL.replace("\"localhost\"", &format!("\"{bad}\"")));
        assert!(all[0].contains("server.hosts[0]"), "{bad}: {all:?}");
    }
    for (good, port) in [
        ("localhost", None),
        ("localhost:80", Some(80)),
        ("localhost:65535", Some(65535)),
        ("[::1]:8080", Some(8080)),
        ("[::1]", None),
    ] {
        let text = MINIMAL.replace("\"localhost\"", &format!("\"{good}\""));
        let hosts = load(&text).unwrap().server.hosts.unwrap();
        assert_eq!(hosts[0].port, port, "{good}");
    }
}

#[test]
fn tls_file_that_is_a_directory_or_device_is_refused_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("certs")).unwrap();
    let text = MINIMAL.replace(
        "hosts = [\"localhost\"]",
        "hosts = [\"localhost\"]\ntls = { cert = \"file:certs\", key = \"file:/dev/zero\" }",
    );
    let all = match parse(&text, Path::new("palisade.toml"), dir.path()) {
        Ok(_) => panic!("config should have been refused"),
        Err(errors) => errors
            .problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
    };
    assert!(
        all.iter().any(|p| p.contains("server.tls.cert")
            && p.contains("certs")
            && p.contains("not a regular file")),
        "{all:?}"
    );
    assert!(
        all.iter().any(|p| p.contains("server.tls.key")
            && p.contains("/dev/zero")
            && p.contains("not a regular file")),
        "{all:?}"
    );
}

#[test]
fn unknown_methods_and_common_slips_get_advice() {
    let text = MINIMAL.replace("auth = \"none\"", "auth = \"none\"\nmethods = [\"GTE\"]");
    let all = problems(&text);
    assert!(
        all[0].contains("route[0].methods") && all[0].contains("GET, HEAD"),
        "{all:?}"
    );

    let all = problems(&MINIMAL.replace("[[route]]", "[route]"));
    assert!(all[0].contains("[[route]]"), "{all:?}");

    let text = MINIMAL.replace(
        "hosts = [\"localhost\"]",
        "hosts = [\"localhost\"]\nupstream_timeout = 30",
    );
    let all = problems(&text);
    assert!(
        all[0].contains("server.upstream_timeout") && all[0].contains("unit"),
        "{all:?}"
    );
}

#[test]
fn a_jwt_provider_needs_a_usable_key_source() {
    let route = MINIMAL.replace("auth = \"none\"", "auth = \"supabase\"");
    let all = problems(&format!("{route}\n[auth.supabase]\nkind = \"jwt\"\n"));
    assert!(
        all.iter()
            .any(|p| p.contains("auth.supabase.kind") && p.contains("key source"))
    );

    let short = format!("{route}\n[auth.supabase]\nkind = \"jwt\"\nsecret = \"file:cron.key\"\n");
    let all = problems_with_key(&short);
    assert!(
        all.iter().any(|p| p.contains("auth.supabase.secret")),
        "{all:?}"
    );

    let foreign = format!("{route}\n[auth.supabase]\nkind = \"jwt\"\nkeys = []\n");
    let all = problems(&foreign);
    assert!(
        all.iter()
            .any(|p| p.contains("auth.supabase.keys") && p.contains("jwt provider"))
    );
}

#[test]
fn remote_and_fallback_mistakes_are_named() {
    let route = MINIMAL.replace("auth = \"none\"", "auth = \"supabase\"");
    let all = problems(&format!("{route}\n[auth.supabase]\nkind = \"remote\"\n"));
    assert!(
        all.iter()
            .any(|p| p.contains("auth.supabase.kind") && p.contains("`url`")),
        "{all:?}"
    );

    let plain = format!(
        "{route}\n[auth.supabase]\nkind = \"remote\"\nurl = \"http://auth.example/user\"\n"
    );
    let all = problems(&plain);
    assert!(
        all.iter().any(|p| p.contains("auth.supabase.url")),
        "{all:?}"
    );

    let fallback = format!(
        "{route}{CRON}\n[auth.supabase]\nkind = \"jwt\"\njwks_url = \"https://x.supabase.co/jwks\"\nfallback = \"cron\"\n"
    );
    let all = problems_with_key(&fallback);
    assert!(
        all.iter().any(|p| p.contains("auth.supabase.fallback")),
        "{all:?}"
    );
}

#[test]
fn schemas_compile_at_load_and_name_the_route() {
    let missing = MINIMAL.replace(
        "auth = \"none\"",
        "auth = \"none\"\nbody = \"schemas/x.json\"",
    );
    let all = problems(&missing);
    assert!(
        all[0].contains("route[0].body") && all[0].contains("schemas/x.json"),
        "{all:?}"
    );

    let bad = MINIMAL.replace(
        "auth = \"none\"",
        "auth = \"none\"\nbody = { type = \"nonsense\" }",
    );
    let all = problems(&bad);
    assert!(all[0].contains("route[0].body"), "{all:?}");

    let inline = MINIMAL.replace(
        "auth = \"none\"",
        "auth = \"none\"\nbody = { type = \"object\", properties = { a = { type = \"integer\" } } }",
    );
    let config = load(&inline).unwrap();
    assert!(config.routes[0].validation.body.is_some());

    let stray = MINIMAL.replace("auth = \"none\"", "auth = \"none\"\nstrict = false");
    let all = problems(&stray);
    assert!(all[0].contains("route[0].strict"), "{all:?}");
}
