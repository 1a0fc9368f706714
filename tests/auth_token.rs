//! Service tokens (`kind = "token"`): two keys for rotation, every wrong or missing token
//! refused before the upstream, the caller's key id passed on, and no token in the logs.

#![allow(clippy::unwrap_used)]

mod support;

use support::{Gateway, Setup, Upstream};

const CURRENT: &str = "cron-current-0123456789abcdef";
const PREVIOUS: &str = "cron-previous-fedcba9876543210";

const CONFIG: &str = r#"
[auth.cron]
kind = "token"
keys = [{ id = "current", value = "env:TEST_CRON_SECRET" },
        { id = "previous", value = "env:TEST_CRON_SECRET_PREVIOUS" }]

[auth.partner]
kind = "token"
header = "x-api-key"
keys = [{ id = "acme", value = "env:TEST_PARTNER_KEY" }]

[[route]]
path = "/api/cron/[job]"
auth = "cron"

[[route]]
path = "/api/sync"
auth = ["cron", "partner"]

[[route]]
path = "/api/admin"
auth = "cron"
require = { role = "admin" }

[[route]]
path = "/api/public"
auth = "none"
"#;

async fn gateway(upstream: &Upstream) -> Gateway {
    Setup::new(&upstream.url())
        .tables(CONFIG)
        .env("TEST_CRON_SECRET", CURRENT)
        .env("TEST_CRON_SECRET_PREVIOUS", PREVIOUS)
        .env("TEST_PARTNER_KEY", "partner-key-1111")
        .start()
        .await
}

#[tokio::test]
async fn both_rotation_keys_admit_and_the_key_id_reaches_the_upstream() {
    let upstream = Upstream::start().await;
    let gateway = gateway(&upstream).await;

    for (token, id, tag) in [(CURRENT, "current", "k1"), (PREVIOUS, "previous", "k2")] {
        let extra = format!(
            "Authorization: Bearer {token}\r\nX-Test-Id: {tag}\r\n\
                             x-palisade-client: forged\r\nx-palisade-user: forged\r\n"
        );
        let response = gateway.get("/api/cron/cleanup", &extra).await;
        assert_eq!(response.status, 200, "{response:?}");
        let seen = upstream.one_tagged(tag);
        assert_eq!(seen.header("x-palisade-client").as_deref(), Some(id));
        assert_eq!(seen.header("x-palisade-auth").as_deref(), Some("cron"));
        assert_eq!(
            seen.header("x-palisade-user"),
            None,
            "a forged user got through"
        );
        // The app may need the original credential: it is forwarded unchanged.
        let expected = format!("Bearer {token}");
        assert_eq!(
            seen.header("authorization").as_deref(),
            Some(expected.as_str())
        );
    }
}

#[tokio::test]
async fn wrong_missing_and_malformed_tokens_get_401_and_never_reach_the_upstream() {
    let upstream = Upstream::start().await;
    let gateway = gateway(&upstream).await;

    let cases = [
        ("", "Bearer"),
        (
            "Authorization: Bearer wrong-token\r\n",
            "Bearer error=\"invalid_token\"",
        ),
        (
            "Authorization: Bearer \r\n",
            "Bearer error=\"invalid_token\"",
        ),
        ("Authorization: Basic Y3Jvbjpjcm9u\r\n", "Bearer"),
        (
            "Authorization: Bearer cron-current-0123456789abcdeF\r\n",
            "Bearer error=\"invalid_token\"",
        ),
        (
            "Authorization: Bearer cron-current-0123456789abcde\r\n",
            "Bearer error=\"invalid_token\"",
        ),
        ("x-api-key: cron-current-0123456789abcdef\r\n", "Bearer"),
    ];
    for (i, (extra, challenge)) in cases.iter().enumerate() {
        let tag = format!("bad-{i}");
        let response = gateway
            .get("/api/cron/cleanup", &format!("{extra}X-Test-Id: {tag}\r\n"))
            .await;
        response.assert_refused(401, "Unauthorized");
        assert_eq!(
            response.header("www-authenticate").as_deref(),
            Some(*challenge),
            "{extra}"
        );
        upstream.assert_never_saw(&tag);
    }
}

#[tokio::test]
async fn any_listed_provider_may_admit() {
    let upstream = Upstream::start().await;
    let gateway = gateway(&upstream).await;

    let response = gateway
        .get(
            "/api/sync",
            "x-api-key: partner-key-1111\r\nX-Test-Id: partner\r\n",
        )
        .await;
    assert_eq!(response.status, 200, "{response:?}");
    let seen = upstream.one_tagged("partner");
    assert_eq!(seen.header("x-palisade-auth").as_deref(), Some("partner"));
    assert_eq!(seen.header("x-palisade-client").as_deref(), Some("acme"));

    let extra = format!("Authorization: Bearer {CURRENT}\r\nX-Test-Id: cron\r\n");
    assert_eq!(gateway.get("/api/sync", &extra).await.status, 200);
    assert_eq!(
        upstream
            .one_tagged("cron")
            .header("x-palisade-auth")
            .as_deref(),
        Some("cron")
    );

    // The partner key is only good in its own header.
    let response = gateway
        .get(
            "/api/cron/x",
            "x-api-key: partner-key-1111\r\nX-Test-Id: wrong-route\r\n",
        )
        .await;
    assert_eq!(response.status, 401);
    upstream.assert_never_saw("wrong-route");
}

#[tokio::test]
async fn a_token_caller_without_required_claims_gets_403() {
    let upstream = Upstream::start().await;
    let gateway = gateway(&upstream).await;
    let extra = format!("Authorization: Bearer {CURRENT}\r\nX-Test-Id: admin\r\n");
    let response = gateway.get("/api/admin", &extra).await;
    response.assert_refused(403, "Forbidden");
    upstream.assert_never_saw("admin");

    // Public routes need nothing, and palisade adds no identity to them.
    let response = gateway.get("/api/public", "X-Test-Id: public\r\n").await;
    assert_eq!(response.status, 200);
    assert_eq!(
        upstream.one_tagged("public").header("x-palisade-auth"),
        None
    );
}

#[tokio::test]
async fn tokens_never_reach_the_logs() {
    let upstream = Upstream::start().await;
    let gateway = gateway(&upstream).await;
    for token in [CURRENT, "wrong-token-SECRET-777"] {
        let extra = format!("Authorization: Bearer {token}\r\n");
        gateway.get("/api/cron/cleanup", &extra).await;
    }
    let logs = format!("{}{}", gateway.stdout_text(), gateway.stderr_text());
    for secret in [
        CURRENT,
        PREVIOUS,
        "partner-key-1111",
        "wrong-token-SECRET-777",
    ] {
        assert!(!logs.contains(secret), "{secret} leaked into the logs");
    }
    // The access log names the caller by key id instead.
    assert!(
        gateway
            .access_log()
            .iter()
            .any(|line| line["user"] == "current")
    );
}
