//! Tests for remote validation, against a fake auth server on loopback.

use std::time::Duration;

use http::HeaderName;
use serde_json::json;

use super::*;
use crate::auth::test_server::{Reply, TestServer, free_addr};

const APIKEY: &str = "sb_publishable_test-api-key";

/// A JWT-shaped token whose payload holds `claims`; remote checks never verify it.
fn token_with(claims: &Value) -> String {
    let part = |value: &Value| URL_SAFE_NO_PAD.encode(value.to_string());
    let header = json!({ "alg": "ES256", "typ": "JWT", "kid": "k" });
    format!("{}.{}.c2lnbmF0dXJl", part(&header), part(claims))
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A token valid for ten minutes, different for each `n`.
fn token(n: u32) -> String {
    token_with(&json!({ "sub": format!("user-{n}"), "exp": now() + 600 }))
}

fn supabase_user() -> Value {
    json!({
        "id": "8a3c6d1e-0000-4000-8000-000000000001",
        "aud": "authenticated",
        "role": "authenticated",
        "email": "ada@example.com",
        "app_metadata": { "provider": "email", "plan": "pro" },
        "user_metadata": {},
    })
}

fn settings(server: &TestServer) -> RemoteSettings {
    let mut settings = RemoteSettings::new(server.url("/auth/v1/user"));
    settings.headers = vec![(
        HeaderName::from_static("apikey"),
        HeaderValue::from_static(APIKEY),
    )];
    settings.timeout = Duration::from_millis(300);
    settings
}

async fn provider_for(reply: Reply) -> (TestServer, RemoteProvider) {
    let server = TestServer::start(reply).await;
    let provider = RemoteProvider::new("supabase-user", settings(&server)).unwrap();
    (server, provider)
}

fn valid(outcome: RemoteOutcome) -> RemoteUser {
    match outcome {
        RemoteOutcome::Valid(user) => user,
        other => panic!("expected valid, got {other:?}"),
    }
}

#[tokio::test]
async fn a_supabase_user_is_valid() {
    let (_server, provider) = provider_for(Reply::json(&supabase_user())).await;

    let user = valid(provider.check(&token(1)).await);
    assert_eq!(user.subject, "8a3c6d1e-0000-4000-8000-000000000001");
    assert_eq!(user.role.as_deref(), Some("authenticated"));
    assert_eq!(user.user["app_metadata"]["plan"], "pro");
}

#[tokio::test]
async fn sub_names_the_user_when_id_is_absent() {
    let reply = Reply::json(&json!({ "sub": "svc-7", "role": "worker" }));
    let (_server, provider) = provider_for(reply).await;

    let user = valid(provider.check(&token(1)).await);
    assert_eq!(user.subject, "svc-7");
    assert_eq!(user.role.as_deref(), Some("worker"));
}

#[tokio::test]
async fn a_user_without_a_role_has_none() {
    let (_server, provider) = provider_for(Reply::json(&json!({ "id": "u-1" }))).await;
    assert_eq!(valid(provider.check(&token(1)).await).role, None);
}

#[tokio::test]
async fn refused_tokens_are_invalid() {
    for status in [401, 403] {
        let reply = Reply::new(status, r#"{"code":401,"msg":"invalid JWT"}"#);
        let (_server, provider) = provider_for(reply).await;
        assert_eq!(
            provider.check(&token(1)).await,
            RemoteOutcome::Invalid,
            "{status}"
        );
    }
}

#[tokio::test]
async fn anything_else_is_unavailable() {
    let cases = [
        (Reply::new(500, "oops"), "status"),
        (Reply::new(502, "bad gateway"), "status"),
        (Reply::new(404, "not found"), "status"),
        (
            Reply::new(302, "").header("location", "http://127.0.0.1:1/"),
            "status",
        ),
        (Reply::new(200, "<html>signed in!</html>"), "bad_answer"),
        (Reply::new(200, ""), "bad_answer"),
        (Reply::json(&json!(["id", "u-1"])), "bad_answer"),
        (Reply::json(&json!({ "id": 7 })), "bad_answer"),
        (Reply::json(&json!({ "id": "" })), "bad_answer"),
        (Reply::json(&json!({ "email": "a@b.c" })), "bad_answer"),
        (Reply::new(200, vec![b' '; MAX_USER_BYTES + 1]), "too_large"),
    ];
    for (reply, reason) in cases {
        let (_server, provider) = provider_for(reply.clone()).await;
        let outcome = provider.check(&token(1)).await;
        assert_eq!(outcome, RemoteOutcome::Unavailable(reason), "{reply:?}");
    }
}

#[tokio::test]
async fn a_slow_auth_server_is_unavailable() {
    let reply = Reply::json(&supabase_user()).delay(Duration::from_secs(2));
    let (_server, provider) = provider_for(reply).await;

    let start = Instant::now();
    assert_eq!(
        provider.check(&token(1)).await,
        RemoteOutcome::Unavailable("timeout")
    );
    assert!(start.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn a_down_auth_server_is_unavailable() {
    let addr = free_addr().await;
    let settings = RemoteSettings::new(format!("http://{addr}/auth/v1/user"));
    let provider = RemoteProvider::new("supabase-user", settings).unwrap();
    assert_eq!(
        provider.check(&token(1)).await,
        RemoteOutcome::Unavailable("connect")
    );
}

#[tokio::test]
async fn the_token_and_apikey_reach_the_server() {
    let (server, provider) = provider_for(Reply::json(&supabase_user())).await;
    let token = token(1);
    valid(provider.check(&token).await);

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let expected = format!("Bearer {token}");
    assert_eq!(requests[0]["authorization"], expected.as_str());
    assert_eq!(requests[0]["apikey"], APIKEY);
    assert_eq!(requests[0].get_all("authorization").iter().count(), 1);
}

#[tokio::test]
async fn a_cached_answer_makes_no_request() {
    let (server, provider) = provider_for(Reply::json(&supabase_user())).await;
    let token = token(1);

    let first = provider.check(&token).await;
    let second = provider.check(&token).await;
    assert_eq!(first, second);
    assert_eq!(server.hits(), 1);

    // Another token is another question.
    valid(provider.check(&self::token(2)).await);
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn valid_answers_expire_after_cache_ttl() {
    let server = TestServer::start(Reply::json(&supabase_user())).await;
    let mut settings = settings(&server);
    settings.cache_ttl = Duration::from_millis(200);
    let provider = RemoteProvider::new("supabase-user", settings).unwrap();
    let token = token(1);

    provider.check(&token).await;
    provider.check(&token).await;
    assert_eq!(server.hits(), 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    provider.check(&token).await;
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn a_cached_answer_never_outlives_exp() {
    let (server, provider) = provider_for(Reply::json(&supabase_user())).await;
    assert_eq!(provider.settings.cache_ttl, Duration::from_secs(30));
    // `exp` is in whole seconds: two ahead is between one and two seconds away.
    let token = token_with(&json!({ "sub": "u-1", "exp": now() + 2 }));

    valid(provider.check(&token).await);
    valid(provider.check(&token).await);
    assert_eq!(server.hits(), 1);

    // The server now refuses the expired token, and the cache does not hide it.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    server.set_reply(Reply::new(401, "token is expired"));
    assert_eq!(provider.check(&token).await, RemoteOutcome::Invalid);
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn an_expired_token_is_not_cached() {
    let (server, provider) = provider_for(Reply::json(&supabase_user())).await;
    let token = token_with(&json!({ "sub": "u-1", "exp": now() - 10 }));

    valid(provider.check(&token).await);
    valid(provider.check(&token).await);
    assert_eq!(server.hits(), 2);
}

#[test]
fn exp_is_read_only_from_a_readable_payload() {
    let in_a_minute = token_with(&json!({ "exp": now() + 60 }));
    let left = token_lifetime(&in_a_minute).unwrap();
    assert!(left > Duration::from_secs(58) && left <= Duration::from_secs(60));
    let fractional = token_with(&json!({ "exp": now() as f64 + 60.5 }));
    assert!(token_lifetime(&fractional).unwrap() > Duration::from_secs(59));
    assert_eq!(
        token_lifetime(&token_with(&json!({ "exp": 5 }))),
        Some(Duration::ZERO)
    );

    for token in [
        token_with(&json!({ "sub": "no exp" })),
        token_with(&json!({ "exp": "soon" })),
        token_with(&json!({ "exp": -1 })),
        token_with(&json!({ "exp": 1e300 })),
        token_with(&json!([1, 2])),
        "opaque-session-token".to_owned(),
        "a.%%%.c".to_owned(),
    ] {
        assert_eq!(token_lifetime(&token), None, "{token}");
    }
}

#[tokio::test]
async fn a_token_without_exp_is_kept_for_cache_ttl() {
    let (server, provider) = provider_for(Reply::json(&supabase_user())).await;
    let opaque = "opaque-session-token";

    valid(provider.check(opaque).await);
    valid(provider.check(opaque).await);
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn invalid_answers_are_cached_briefly() {
    let server = TestServer::start(Reply::new(401, "invalid JWT")).await;
    let mut settings = settings(&server);
    settings.negative_ttl = Duration::from_millis(200);
    let provider = RemoteProvider::new("supabase-user", settings).unwrap();
    let token = token(1);

    assert_eq!(provider.check(&token).await, RemoteOutcome::Invalid);
    assert_eq!(provider.check(&token).await, RemoteOutcome::Invalid);
    assert_eq!(server.hits(), 1);

    tokio::time::sleep(Duration::from_millis(300)).await;
    server.set_reply(Reply::json(&supabase_user()));
    valid(provider.check(&token).await);
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn unavailable_answers_are_not_cached() {
    let (server, provider) = provider_for(Reply::new(503, "down")).await;
    let token = token(1);

    assert_eq!(
        provider.check(&token).await,
        RemoteOutcome::Unavailable("status")
    );
    server.set_reply(Reply::json(&supabase_user()));
    valid(provider.check(&token).await);
    assert_eq!(server.hits(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_checks_of_one_token_make_one_request() {
    let reply = Reply::json(&supabase_user()).delay(Duration::from_millis(200));
    let (server, provider) = provider_for(reply).await;
    let provider = Arc::new(provider);
    let token = token(1);

    let checks: Vec<_> = (0..50)
        .map(|_| {
            let (provider, token) = (provider.clone(), token.clone());
            tokio::spawn(async move { provider.check(&token).await })
        })
        .collect();
    for check in checks {
        valid(check.await.unwrap());
    }
    assert_eq!(server.hits(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_checks_share_an_outage_without_keeping_it() {
    let reply = Reply::new(500, "down").delay(Duration::from_millis(200));
    let (server, provider) = provider_for(reply).await;
    let provider = Arc::new(provider);
    let token = token(1);

    let checks: Vec<_> = (0..20)
        .map(|_| {
            let (provider, token) = (provider.clone(), token.clone());
            tokio::spawn(async move { provider.check(&token).await })
        })
        .collect();
    for check in checks {
        assert_eq!(check.await.unwrap(), RemoteOutcome::Unavailable("status"));
    }
    assert_eq!(server.hits(), 1);

    server.set_reply(Reply::json(&supabase_user()));
    valid(provider.check(&token).await);
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn the_cache_is_bounded() {
    let server = TestServer::start(Reply::json(&supabase_user())).await;
    let mut settings = settings(&server);
    settings.max_entries = 8;
    let provider = RemoteProvider::new("supabase-user", settings).unwrap();

    for n in 0..100 {
        valid(provider.check(&token(n)).await);
    }
    provider.cache.run_pending_tasks().await;
    assert!(
        provider.cache.entry_count() <= 8,
        "{}",
        provider.cache.entry_count()
    );
    assert_eq!(server.hits(), 100);
}

#[tokio::test]
async fn a_large_user_is_used_but_not_kept() {
    let mut user = supabase_user();
    user["user_metadata"]["bio"] = json!("x".repeat(MAX_CACHED_USER_BYTES));
    let (server, provider) = provider_for(Reply::json(&user)).await;
    let token = token(1);

    valid(provider.check(&token).await);
    valid(provider.check(&token).await);
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn unsendable_tokens_are_invalid_without_a_request() {
    let (server, provider) = provider_for(Reply::json(&supabase_user())).await;

    let oversized = "a".repeat(DEFAULT_MAX_TOKEN_BYTES + 1);
    for token in ["", "line\nbreak", "nul\0byte", oversized.as_str()] {
        assert_eq!(provider.check(token).await, RemoteOutcome::Invalid);
    }
    assert_eq!(server.hits(), 0);
}

#[tokio::test]
async fn the_cache_is_keyed_by_a_hash_of_the_token() {
    let (_server, provider) = provider_for(Reply::json(&supabase_user())).await;
    let token = token(1);
    valid(provider.check(&token).await);

    let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    assert!(provider.cache.contains_key(&key));
}

#[test]
fn settings_are_checked() {
    let url = "http://project.supabase.co/auth/v1/user";
    let error = RemoteProvider::new("r", RemoteSettings::new(url)).unwrap_err();
    assert!(error.contains("https://"), "{error}");
    let https = RemoteSettings::new("https://project.supabase.co/auth/v1/user");
    assert!(RemoteProvider::new("r", https.clone()).is_ok());

    let mut with_authorization = https.clone();
    with_authorization.headers = vec![(AUTHORIZATION, HeaderValue::from_static("Bearer x"))];
    assert!(RemoteProvider::new("r", with_authorization).is_err());

    let mut unbounded = https;
    unbounded.max_entries = 0;
    assert!(RemoteProvider::new("r", unbounded).is_err());
}

#[test]
fn header_values_stay_out_of_debug() {
    let mut settings = RemoteSettings::new("https://project.supabase.co/auth/v1/user");
    settings.headers = vec![(
        HeaderName::from_static("apikey"),
        HeaderValue::from_static(APIKEY),
    )];
    let provider = RemoteProvider::new("supabase-user", settings.clone()).unwrap();

    assert!(
        provider
            .headers
            .iter()
            .all(|(_, value)| value.is_sensitive())
    );
    for shown in [format!("{settings:?}"), format!("{provider:?}")] {
        assert!(shown.contains("apikey"), "{shown}");
        assert!(!shown.contains(APIKEY), "{shown}");
    }
}

#[test]
fn logs_hold_no_token_apikey_or_body() {
    let logs = crate::auth::test_server::CapturedLogs::default();
    let _guard = tracing::subscriber::set_default(logs.subscriber());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let token = token(42);

    runtime.block_on(async {
        let secret_body = json!({ "id": "u-1", "note": "body-secret-xyz" });
        let (server, provider) = provider_for(Reply::json(&secret_body)).await;
        valid(provider.check(&token).await);
        for reply in [
            Reply::new(401, "body-secret-xyz"),
            Reply::new(500, "body-secret-xyz"),
        ] {
            server.set_reply(reply);
            provider.check(&format!("{token}x")).await;
        }
        provider.check(&format!("{token}y")).await;
    });

    let text = logs.text();
    assert!(text.contains("auth server gave no answer"), "{text}");
    for secret in [token.as_str(), APIKEY, "body-secret-xyz"] {
        assert!(!text.contains(secret), "{secret} in logs:\n{text}");
    }
}
