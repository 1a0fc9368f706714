//! Supabase in practice: a key set fetched from the auth server and rotated, a `fallback` to
//! `getUser` for tokens signed with keys palisade does not hold, and a `remote` provider that
//! asks the auth server about every token. Down or slow auth servers mean 503, never a pass.

#![allow(clippy::unwrap_used)]

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use support::auth_server::AuthServer;
use support::{Gateway, Setup, Upstream};

const ISSUER: &str = "https://project.supabase.co/auth/v1";

/// A fresh P-256 signing key, as PEM.
fn new_key() -> Vec<u8> {
    rcgen::KeyPair::generate()
        .unwrap()
        .serialize_pem()
        .into_bytes()
}

fn encoding_key(pem: &[u8]) -> EncodingKey {
    palisade::auth::jwt::install_crypto_provider();
    EncodingKey::from_ec_pem(pem).unwrap()
}

/// A JWK set publishing each key under its kid.
fn jwks(keys: &[(&[u8], &str)]) -> String {
    let keys = keys
        .iter()
        .map(|(pem, kid)| {
            let mut jwk = Jwk::from_encoding_key(&encoding_key(pem), Algorithm::ES256).unwrap();
            jwk.common.key_id = Some((*kid).to_owned());
            jwk
        })
        .collect();
    serde_json::to_string(&JwkSet { keys }).unwrap()
}

fn claims(sub: &str) -> Value {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    json!({ "iss": ISSUER, "aud": "authenticated", "sub": sub, "role": "authenticated",
            "exp": now + 600, "iat": now })
}

fn es256(pem: &[u8], kid: &str, sub: &str) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, &claims(sub), &encoding_key(pem)).unwrap()
}

fn legacy_hs256(sub: &str) -> String {
    palisade::auth::jwt::install_crypto_provider();
    let key = EncodingKey::from_secret(b"the-projects-legacy-secret-we-do-not-hold").unwrap();
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims(sub), &key).unwrap()
}

async fn gateway(upstream: &Upstream, auth: &AuthServer) -> Gateway {
    let tables = format!(
        r#"
[auth.supabase]
kind = "jwt"
jwks_url = "{url}/jwks"
issuer = "{ISSUER}"
audience = "authenticated"
fallback = "supabase_remote"

[auth.keys_only]
kind = "jwt"
jwks_url = "{url}/jwks"
issuer = "{ISSUER}"

[auth.supabase_remote]
kind = "remote"
url = "{url}/auth/v1/user"
headers = {{ apikey = "env:TEST_ANON_KEY" }}
cache = "30s"
timeout = "2s"

[[route]]
path = "/api/me"
auth = "supabase"

[[route]]
path = "/api/strict"
auth = "keys_only"

[[route]]
path = "/api/transfer"
auth = "supabase_remote"
"#,
        url = auth.url()
    );
    Setup::new(&upstream.url())
        .tables(&tables)
        .env("TEST_ANON_KEY", "anon-key-for-tests")
        .start()
        .await
}

fn bearer(token: &str, tag: &str) -> String {
    format!("Authorization: Bearer {token}\r\nX-Test-Id: {tag}\r\n")
}

/// Sends until the answer is not 503 (the key set may still be loading), then returns it.
async fn settled(gateway: &Gateway, path: &str, extra: &str) -> support::RawResponse {
    for _ in 0..100 {
        let response = gateway.get(path, extra).await;
        if response.status != 503 {
            return response;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{path} still answers 503");
}

#[tokio::test]
async fn the_published_key_set_verifies_and_rotation_takes_one_refetch() {
    let (upstream, auth) = (Upstream::start().await, AuthServer::start().await);
    let (old, new) = (new_key(), new_key());
    auth.state.lock().unwrap().jwks = Some(jwks(&[(&old, "key-1")]));
    let gateway = gateway(&upstream, &auth).await;

    let response = settled(
        &gateway,
        "/api/strict",
        &bearer(&es256(&old, "key-1", "u1"), "a"),
    )
    .await;
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(
        upstream
            .one_tagged("a")
            .header("x-palisade-user")
            .as_deref(),
        Some("u1")
    );

    // The auth server rotates to a new key: a token signed with it passes after one refetch.
    auth.state.lock().unwrap().jwks = Some(jwks(&[(&old, "key-1"), (&new, "key-2")]));
    let before = auth.state.lock().unwrap().jwks_fetches;
    let response = gateway
        .get("/api/strict", &bearer(&es256(&new, "key-2", "u2"), "b"))
        .await;
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(auth.state.lock().unwrap().jwks_fetches, before + 1);
}

#[tokio::test]
async fn a_flood_of_unknown_kids_cannot_hammer_the_auth_server() {
    let (upstream, auth) = (Upstream::start().await, AuthServer::start().await);
    let (known, stranger) = (new_key(), new_key());
    auth.state.lock().unwrap().jwks = Some(jwks(&[(&known, "key-1")]));
    let gateway = gateway(&upstream, &auth).await;
    let ok = settled(
        &gateway,
        "/api/strict",
        &bearer(&es256(&known, "key-1", "u"), "ok"),
    )
    .await;
    assert_eq!(ok.status, 200);

    let before = auth.state.lock().unwrap().jwks_fetches;
    let mut flood = Vec::new();
    for i in 0..40 {
        let token = es256(&stranger, &format!("random-{i}"), "x");
        let tag = format!("flood-{i}");
        let extra = bearer(&token, &tag);
        let addr = gateway.addr;
        flood.push(tokio::spawn(async move {
            let host = format!("GET /api/strict HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
            support::raw_request(addr, format!("{host}{extra}\r\n").as_bytes())
                .await
                .status
        }));
    }
    for request in flood {
        assert_eq!(request.await.unwrap(), 401);
    }
    let fetched = auth.state.lock().unwrap().jwks_fetches - before;
    assert!(fetched <= 2, "{fetched} key-set fetches for one flood");
    // Valid callers were served throughout.
    let ok = gateway
        .get(
            "/api/strict",
            &bearer(&es256(&known, "key-1", "u"), "after"),
        )
        .await;
    assert_eq!(ok.status, 200);
}

#[tokio::test]
async fn a_key_set_server_down_at_start_means_503_until_it_recovers() {
    let (upstream, auth) = (Upstream::start().await, AuthServer::start().await);
    let key = new_key();
    let gateway = gateway(&upstream, &auth).await;
    let token = es256(&key, "key-1", "u");

    let response = gateway.get("/api/strict", &bearer(&token, "down")).await;
    response.assert_refused(503, "Service unavailable");
    upstream.assert_never_saw("down");
    // A server that is down is retried calmly, not hammered.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let fetches = auth.state.lock().unwrap().jwks_fetches;
    assert!(fetches <= 2, "{fetches} fetches of a key set that is down");

    auth.state.lock().unwrap().jwks = Some(jwks(&[(&key, "key-1")]));
    let response = settled(&gateway, "/api/strict", &bearer(&token, "up")).await;
    assert_eq!(response.status, 200, "{response:?}");
}

#[tokio::test]
async fn a_token_signed_with_a_key_palisade_lacks_goes_to_the_fallback() {
    let (upstream, auth) = (Upstream::start().await, AuthServer::start().await);
    let key = new_key();
    let legacy = legacy_hs256("legacy-user");
    {
        let mut state = auth.state.lock().unwrap();
        state.jwks = Some(jwks(&[(&key, "key-1")]));
        state.users.push((legacy.clone(), "legacy-user".to_owned()));
    }
    let gateway = gateway(&upstream, &auth).await;

    let response = settled(&gateway, "/api/me", &bearer(&legacy, "legacy")).await;
    assert_eq!(response.status, 200, "{response:?}");
    let seen = upstream.one_tagged("legacy");
    assert_eq!(
        seen.header("x-palisade-user").as_deref(),
        Some("legacy-user")
    );
    assert_eq!(
        seen.header("x-palisade-auth").as_deref(),
        Some("supabase_remote")
    );
    let calls = auth.state.lock().unwrap().user_calls.clone();
    assert_eq!(calls, vec![Some("anon-key-for-tests".to_owned())]);

    // A token meant for another audience is refused without asking the auth server.
    let mut other = claims("legacy-user");
    other["aud"] = json!("another-app");
    palisade::auth::jwt::install_crypto_provider();
    let key = EncodingKey::from_secret(b"the-projects-legacy-secret-we-do-not-hold").unwrap();
    let misdirected = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &other, &key).unwrap();
    auth.state
        .lock()
        .unwrap()
        .users
        .push((misdirected.clone(), "legacy-user".to_owned()));
    let response = gateway
        .get("/api/me", &bearer(&misdirected, "other-aud"))
        .await;
    assert_eq!(response.status, 401);
    upstream.assert_never_saw("other-aud");
    assert_eq!(
        auth.state.lock().unwrap().user_calls.len(),
        1,
        "the auth server was asked"
    );

    // A provider without a fallback refuses the same token.
    let response = gateway.get("/api/strict", &bearer(&legacy, "strict")).await;
    assert_eq!(response.status, 401);
    upstream.assert_never_saw("strict");
}

#[tokio::test]
async fn the_remote_provider_asks_caches_and_fails_closed() {
    let (upstream, auth) = (Upstream::start().await, AuthServer::start().await);
    auth.state
        .lock()
        .unwrap()
        .users
        .push(("session.opaque.one".to_owned(), "u-9".to_owned()));
    let gateway = gateway(&upstream, &auth).await;

    for tag in ["first", "cached"] {
        let response = gateway
            .get("/api/transfer", &bearer("session.opaque.one", tag))
            .await;
        assert_eq!(response.status, 200, "{response:?}");
        assert_eq!(
            upstream
                .one_tagged(tag)
                .header("x-palisade-user")
                .as_deref(),
            Some("u-9")
        );
    }
    assert_eq!(
        auth.state.lock().unwrap().user_calls.len(),
        1,
        "the second answer was cached"
    );

    let response = gateway
        .get("/api/transfer", &bearer("session.signed.out", "revoked"))
        .await;
    response.assert_refused(401, "Unauthorized");
    upstream.assert_never_saw("revoked");

    // A token that is not a JWT (say, a service token on a shared header) never leaves.
    let calls = auth.state.lock().unwrap().user_calls.len();
    let response = gateway
        .get("/api/transfer", &bearer("cron-secret-value", "opaque"))
        .await;
    assert_eq!(response.status, 401);
    assert_eq!(
        auth.state.lock().unwrap().user_calls.len(),
        calls,
        "a non-JWT was sent out"
    );

    auth.state.lock().unwrap().user_down = true;
    let response = gateway
        .get("/api/transfer", &bearer("session.another.one", "outage"))
        .await;
    response.assert_refused(503, "Service unavailable");
    upstream.assert_never_saw("outage");
}
