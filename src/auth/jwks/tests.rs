//! Tests for the fetched key set, against a key-set server on loopback.

use std::time::{Duration, Instant};

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use super::*;
use crate::auth::jwt::{Rejected, Rules, install_crypto_provider, verify};
use crate::auth::test_server::{Reply, TestServer, free_addr};

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/jwt/",
            $name
        ))
    };
}

fn p256() -> EncodingKey {
    EncodingKey::from_ec_pem(fixture!("p256.key.pem")).unwrap()
}

fn ed25519() -> EncodingKey {
    EncodingKey::from_ed_pem(fixture!("ed25519.key.pem")).unwrap()
}

/// A key set with one public key, as its JSON document.
fn document(key: &EncodingKey, alg: Algorithm, kid: &str) -> Value {
    install_crypto_provider();
    let mut jwk = serde_json::to_value(Jwk::from_encoding_key(key, alg).unwrap()).unwrap();
    jwk["kid"] = json!(kid);
    jwk["use"] = json!("sig");
    json!({ "keys": [jwk] })
}

/// The first set: ES256 under `old`.
fn old_set() -> Value {
    document(&p256(), Algorithm::ES256, "old")
}

/// The set after rotation: EdDSA under `new`.
fn new_set() -> Value {
    document(&ed25519(), Algorithm::EdDSA, "new")
}

fn token(key: &EncodingKey, alg: Algorithm, kid: &str) -> String {
    install_crypto_provider();
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_owned());
    let claims = json!({ "sub": "user-1", "exp": jsonwebtoken::get_current_timestamp() + 600 });
    jsonwebtoken::encode(&header, &claims, key).unwrap()
}

/// Settings scaled down for tests: everything in milliseconds.
fn settings() -> JwksSettings {
    JwksSettings {
        min_refetch_interval: Duration::from_secs(30),
        min_max_age: Duration::from_millis(100),
        max_max_age: Duration::from_secs(60),
        default_max_age: Duration::from_secs(60),
        retry_interval: Duration::from_millis(100),
        timeout: Duration::from_secs(2),
    }
}

fn kid_list(source: &JwksSource) -> Option<Vec<String>> {
    let set = source.current()?;
    Some(
        set.keys()
            .filter_map(|k| k.kid())
            .map(str::to_owned)
            .collect(),
    )
}

/// Waits until the source holds a set, for at most `limit`.
async fn loaded(source: &JwksSource, limit: Duration) -> Arc<KeySet> {
    let start = Instant::now();
    loop {
        if let Some(set) = source.current() {
            return set;
        }
        assert!(start.elapsed() < limit, "no key set after {limit:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn started(server: &TestServer, settings: JwksSettings) -> Arc<JwksSource> {
    let source = JwksSource::new("supabase", &server.url("/jwks.json"), settings).unwrap();
    source.spawn();
    loaded(&source, Duration::from_secs(3)).await;
    source
}

fn cache_control(value: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(header::CACHE_CONTROL, value.parse().unwrap());
    headers
}

#[tokio::test]
async fn initial_fetch_loads_the_set() {
    let server = TestServer::start(Reply::json(&old_set())).await;
    let source = started(&server, settings()).await;

    assert_eq!(kid_list(&source), Some(vec!["old".to_owned()]));
    assert_eq!(server.hits(), 1);
    let set = source.current().unwrap();
    let claims = verify(
        &token(&p256(), Algorithm::ES256, "old"),
        &set,
        &Rules::default(),
    );
    assert_eq!(claims.unwrap().sub(), Some("user-1"));
}

#[test]
fn max_age_comes_from_cache_control_within_bounds() {
    let settings = JwksSettings::default();
    let secs = |value: &str| max_age(&cache_control(value), &settings).as_secs();

    assert_eq!(secs("public, max-age=600"), 600);
    assert_eq!(secs("MAX-AGE=\"900\", must-revalidate"), 900);
    // Clamped to 60 s ..= 24 h.
    assert_eq!(secs("max-age=5"), 60);
    assert_eq!(secs("max-age=0"), 60);
    assert_eq!(secs("max-age=31536000"), 24 * 60 * 60);
    assert_eq!(secs("no-store"), 60);
    assert_eq!(secs("no-cache, max-age=3600"), 60);
    // Without a usable max-age, the default.
    assert_eq!(secs("public"), 600);
    assert_eq!(secs("max-age=soon"), 600);
    assert_eq!(secs("max-age=-1"), 600);
    assert_eq!(max_age(&HeaderMap::new(), &settings).as_secs(), 600);
}

#[test]
fn max_age_reads_every_cache_control_header() {
    let mut headers = cache_control("public");
    headers.append(header::CACHE_CONTROL, "max-age=120".parse().unwrap());
    assert_eq!(max_age(&headers, &JwksSettings::default()).as_secs(), 120);
}

#[test]
fn inverted_bounds_do_not_panic() {
    let settings = JwksSettings {
        min_max_age: Duration::from_secs(60),
        max_max_age: Duration::from_secs(10),
        ..JwksSettings::default()
    };
    assert_eq!(
        max_age(&cache_control("max-age=1"), &settings).as_secs(),
        60
    );
}

#[tokio::test]
async fn max_age_decides_the_next_fetch() {
    let reply = Reply::json(&old_set()).header("cache-control", "public, max-age=1");
    let server = TestServer::start(reply).await;
    let source = started(&server, settings()).await;

    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(server.hits(), 1, "refetched before max-age ran out");
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(server.hits(), 2, "not refetched once max-age ran out");
    assert!(source.current().is_some());
}

#[tokio::test]
async fn long_max_age_is_clamped() {
    let reply = Reply::json(&old_set()).header("cache-control", "max-age=86400");
    let server = TestServer::start(reply).await;
    let settings = JwksSettings {
        max_max_age: Duration::from_millis(200),
        ..settings()
    };
    let _source = started(&server, settings).await;

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let hits = server.hits();
    assert!(
        (4..=7).contains(&hits),
        "{hits} fetches in 1.1 s with a 200 ms bound"
    );
}

#[tokio::test]
async fn short_max_age_is_clamped() {
    let reply = Reply::json(&old_set()).header("cache-control", "no-cache");
    let server = TestServer::start(reply).await;
    let settings = JwksSettings {
        min_max_age: Duration::from_millis(500),
        ..settings()
    };
    let _source = started(&server, settings).await;

    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(server.hits(), 1);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn rotation_verifies_after_one_refetch() {
    let server = TestServer::start(Reply::json(&old_set())).await;
    let source = started(&server, settings()).await;

    // The issuer switches keys; a token under the new kid is unknown to the held set.
    server.set_reply(Reply::json(&new_set()));
    let token = token(&ed25519(), Algorithm::EdDSA, "new");
    let held = source.current().unwrap();
    assert_eq!(
        verify(&token, &held, &Rules::default()),
        Err(Rejected::UnknownKid)
    );

    let fresh = source.refetch_for_unknown_kid().await.unwrap();
    assert!(verify(&token, &fresh, &Rules::default()).is_ok());
    assert_eq!(kid_list(&source), Some(vec!["new".to_owned()]));
    assert_eq!(server.hits(), 2);

    // The old key is gone with its set.
    let old = self::token(&p256(), Algorithm::ES256, "old");
    assert_eq!(
        verify(&old, &fresh, &Rules::default()),
        Err(Rejected::UnknownKid)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_unknown_kids_fetches_once() {
    let server = TestServer::start(Reply::json(&old_set())).await;
    let source = started(&server, settings()).await;
    server.set_reply(Reply::json(&new_set()).delay(Duration::from_millis(500)));

    let flood: Vec<_> = (0..200)
        .map(|_| {
            let source = source.clone();
            tokio::spawn(async move { source.refetch_for_unknown_kid().await })
        })
        .collect();

    // While that fetch is in flight, readers are not held up.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let start = Instant::now();
    assert_eq!(kid_list(&source), Some(vec!["old".to_owned()]));
    assert!(start.elapsed() < Duration::from_millis(100));

    // Every caller waited for the same fetch and got its result.
    for caller in flood {
        let set = caller.await.unwrap().unwrap();
        assert!(set.contains_kid("new"));
    }
    assert_eq!(server.hits(), 2, "one initial fetch and one refetch");

    // Within the interval, more unknown kids fetch nothing and wait for nothing.
    let start = Instant::now();
    for _ in 0..200 {
        assert!(source.refetch_for_unknown_kid().await.is_some());
    }
    assert!(start.elapsed() < Duration::from_millis(250));
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn refetches_resume_after_the_interval() {
    let server = TestServer::start(Reply::json(&old_set())).await;
    let settings = JwksSettings {
        min_refetch_interval: Duration::from_millis(200),
        ..settings()
    };
    let source = started(&server, settings).await;

    source.refetch_for_unknown_kid().await;
    source.refetch_for_unknown_kid().await;
    assert_eq!(server.hits(), 2);
    tokio::time::sleep(Duration::from_millis(250)).await;
    source.refetch_for_unknown_kid().await;
    assert_eq!(server.hits(), 3);
}

#[tokio::test]
async fn server_down_at_start_then_recovers() {
    let addr = free_addr().await;
    let url = format!("http://{addr}/jwks.json");
    let source = JwksSource::new("supabase", &url, settings()).unwrap();
    source.spawn();

    tokio::time::sleep(Duration::from_millis(350)).await;
    assert!(source.current().is_none());
    assert!(source.refetch_for_unknown_kid().await.is_none());

    // Retried every 100 ms: the set is there a few intervals after the server comes up.
    let server = TestServer::start_on(addr, Reply::json(&old_set())).await;
    let set = loaded(&source, Duration::from_millis(500)).await;
    assert!(set.contains_kid("old"));
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn a_failed_refetch_keeps_the_last_good_set() {
    let server = TestServer::start(Reply::json(&old_set())).await;
    let settings = JwksSettings {
        min_refetch_interval: Duration::ZERO,
        timeout: Duration::from_millis(200),
        ..settings()
    };
    let source = started(&server, settings).await;

    let oversized = vec![b' '; MAX_JWKS_BYTES + 1];
    let failures = [
        Reply::new(500, "internal error"),
        Reply::new(404, "not found"),
        Reply::new(302, "").header("location", "http://127.0.0.1:1/evil.json"),
        Reply::new(200, "<html>garbage</html>"),
        Reply::json(&json!({ "keys": [] })),
        Reply::json(&json!({ "keys": [{ "kty": "oct", "k": "c2VjcmV0", "kid": "x" }] })),
        Reply::new(200, oversized),
        Reply::json(&new_set()).delay(Duration::from_millis(400)),
    ];
    for (i, reply) in failures.into_iter().enumerate() {
        server.set_reply(reply);
        let set = source.refetch_for_unknown_kid().await.unwrap();
        assert!(set.contains_kid("old"), "reply {i} replaced the set");
        assert_eq!(kid_list(&source), Some(vec!["old".to_owned()]), "reply {i}");
    }
    assert_eq!(server.hits(), 9);

    // The server heals: the next refetch takes the new set.
    server.set_reply(Reply::json(&new_set()));
    assert!(
        source
            .refetch_for_unknown_kid()
            .await
            .unwrap()
            .contains_kid("new")
    );
}

#[tokio::test]
async fn an_oversized_chunked_body_is_refused() {
    // No Content-Length: the bound must hold while reading.
    let server = TestServer::start(Reply::json(&old_set())).await;
    let settings = JwksSettings {
        min_refetch_interval: Duration::ZERO,
        ..settings()
    };
    let source = started(&server, settings).await;

    let mut big = old_set();
    big["padding"] = json!("x".repeat(MAX_JWKS_BYTES));
    server.set_reply(Reply::json(&big).chunked());
    assert!(
        source
            .refetch_for_unknown_kid()
            .await
            .unwrap()
            .contains_kid("old")
    );
    assert_eq!(server.hits(), 2);

    // The same document under the bound is taken, so the size was the reason.
    let mut small = new_set();
    small["padding"] = json!("x".repeat(1000));
    server.set_reply(Reply::json(&small).chunked());
    assert!(
        source
            .refetch_for_unknown_kid()
            .await
            .unwrap()
            .contains_kid("new")
    );
}

#[test]
fn plain_http_to_a_remote_host_is_refused() {
    let error = JwksSource::new("supabase", "http://project.supabase.co/jwks", settings());
    assert!(error.unwrap_err().contains("https://"));
    assert!(JwksSource::new("supabase", "https://project.supabase.co/jwks", settings()).is_ok());
    assert!(JwksSource::new("supabase", "file:///etc/jwks.json", settings()).is_err());
}

#[tokio::test]
async fn debug_shows_no_key_material() {
    let server = TestServer::start(Reply::json(&old_set())).await;
    let source = started(&server, settings()).await;

    let shown = format!("{source:?}");
    assert!(
        shown.contains("supabase") && shown.contains("\"old\""),
        "{shown}"
    );
    let x = old_set()["keys"][0]["x"].as_str().unwrap().to_owned();
    assert!(!shown.contains(&x), "{shown}");
}

#[tokio::test]
async fn dropping_the_source_ends_the_task() {
    let reply = Reply::json(&old_set()).header("cache-control", "no-store");
    let server = TestServer::start(reply).await;
    let source = JwksSource::new("supabase", &server.url("/jwks.json"), settings()).unwrap();
    let task = source.spawn();
    loaded(&source, Duration::from_secs(3)).await;

    drop(source);
    tokio::time::timeout(Duration::from_secs(1), task)
        .await
        .unwrap()
        .unwrap();
}
