//! User tokens (`kind = "jwt"`) through the running gateway: valid tokens admit and the app
//! learns who called; forged, expired, anonymous or misdirected tokens never reach it; the
//! Supabase session cookie works as a token source; `require` gives 403.

#![allow(clippy::unwrap_used)]

mod support;

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use support::{Gateway, Setup, Upstream};

const ISSUER: &str = "https://project.supabase.co/auth/v1";
const LEGACY_SECRET: &str = "legacy-hs256-secret-at-least-32-bytes-long!!";

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/jwt/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Claims of a signed-in Supabase user, valid for ten minutes.
fn user_claims(sub: &str) -> Value {
    json!({
        "iss": ISSUER, "aud": "authenticated", "sub": sub, "role": "authenticated",
        "exp": now() + 600, "iat": now(), "aal": "aal1",
        "app_metadata": { "plan": "pro" }
    })
}

fn es256(claims: &Value) -> String {
    palisade::auth::jwt::install_crypto_provider();
    let pem = std::fs::read(fixture("p256.key.pem")).unwrap();
    let key = EncodingKey::from_ec_pem(&pem).unwrap();
    jsonwebtoken::encode(&Header::new(Algorithm::ES256), claims, &key).unwrap()
}

fn hs256(claims: &Value, secret: &[u8]) -> String {
    palisade::auth::jwt::install_crypto_provider();
    let key = EncodingKey::from_secret(secret).unwrap();
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &key).unwrap()
}

fn config() -> String {
    format!(
        r#"
[auth.supabase]
kind = "jwt"
public_key = "{}"
issuer = "{ISSUER}"
audience = "authenticated"
cookie = "sb-test-auth-token"

[auth.legacy]
kind = "jwt"
secret = "env:TEST_LEGACY_SECRET"
issuer = "{ISSUER}"

[[route]]
path = "/api/me"
auth = "supabase"

[[route]]
path = "/api/either"
auth = ["supabase", "legacy"]

[[route]]
path = "/api/internal"
auth = "supabase"
require = {{ role = "service_role" }}

[[route]]
path = "/api/pro"
auth = "supabase"
require = {{ "app_metadata.plan" = ["pro", "team"], aal = "aal2" }}
"#,
        fixture("p256.pub.pem")
    )
}

async fn gateway(upstream: &Upstream) -> Gateway {
    Setup::new(&upstream.url())
        .tables(&config())
        .env("TEST_LEGACY_SECRET", LEGACY_SECRET)
        .start()
        .await
}

#[tokio::test]
async fn a_valid_user_token_admits_and_names_the_user() {
    let upstream = Upstream::start().await;
    let gateway = gateway(&upstream).await;
    let token = es256(&user_claims("user-1"));

    let extra =
        format!("Authorization: Bearer {token}\r\nX-Test-Id: ok\r\nx-palisade-user: admin\r\n");
    let response = gateway.get("/api/me", &extra).await;
    assert_eq!(response.status, 200, "{response:?}");
    let seen = upstream.one_tagged("ok");
    assert_eq!(seen.header("x-palisade-user").as_deref(), Some("user-1"));
    assert_eq!(
        seen.header("x-palisade-role").as_deref(),
        Some("authenticated")
    );
    assert_eq!(seen.header("x-palisade-auth").as_deref(), Some("supabase"));
    let expected = format!("Bearer {token}");
    assert_eq!(
        seen.header("authorization").as_deref(),
        Some(expected.as_str())
    );
}

#[tokio::test]
async fn forged_expired_anonymous_and_misdirected_tokens_never_reach_the_app() {
    let upstream = Upstream::start().await;
    let gateway = gateway(&upstream).await;

    let mut expired = user_claims("u");
    expired["exp"] = json!(now() - 120);
    let mut wrong_aud = user_claims("u");
    wrong_aud["aud"] = json!("someone-else");
    let mut wrong_iss = user_claims("u");
    wrong_iss["iss"] = json!("https://evil.example/auth/v1");
    let mut no_exp = user_claims("u");
    no_exp.as_object_mut().unwrap().remove("exp");
    // Supabase's anon key: a valid JWT with no user.
    let anon = json!({ "iss": ISSUER, "aud": "authenticated", "role": "anon", "exp": now() + 600 });
    let public_pem = std::fs::read(fixture("p256.pub.pem")).unwrap();
    let good = es256(&user_claims("u"));
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(user_claims("u").to_string());

    let tokens = [
        ("expired", es256(&expired)),
        ("wrong-aud", es256(&wrong_aud)),
        ("wrong-iss", es256(&wrong_iss)),
        ("no-exp", es256(&no_exp)),
        ("anon", es256(&anon)),
        ("alg-none", format!("{header}.{payload}.")),
        (
            "hs256-with-public-key",
            hs256(&user_claims("u"), &public_pem),
        ),
        ("truncated", good[..good.len() - 4].to_owned()),
        ("garbage", "not.a.token".to_owned()),
    ];
    for (tag, token) in tokens {
        let extra = format!("Authorization: Bearer {token}\r\nX-Test-Id: {tag}\r\n");
        let response = gateway.get("/api/me", &extra).await;
        response.assert_refused(401, "Unauthorized");
        assert_eq!(
            response.header("www-authenticate").as_deref(),
            Some("Bearer error=\"invalid_token\""),
            "{tag}"
        );
        upstream.assert_never_saw(tag);
    }

    let response = gateway.get("/api/me", "X-Test-Id: none\r\n").await;
    response.assert_refused(401, "Unauthorized");
    assert_eq!(
        response.header("www-authenticate").as_deref(),
        Some("Bearer")
    );
    upstream.assert_never_saw("none");
}

#[tokio::test]
async fn any_listed_provider_may_verify() {
    let upstream = Upstream::start().await;
    let gateway = gateway(&upstream).await;
    let legacy = hs256(&user_claims("legacy-user"), LEGACY_SECRET.as_bytes());

    let extra = format!("Authorization: Bearer {legacy}\r\nX-Test-Id: legacy\r\n");
    assert_eq!(gateway.get("/api/either", &extra).await.status, 200);
    let seen = upstream.one_tagged("legacy");
    assert_eq!(seen.header("x-palisade-auth").as_deref(), Some("legacy"));
    assert_eq!(
        seen.header("x-palisade-user").as_deref(),
        Some("legacy-user")
    );

    // The legacy secret does not open routes that only trust the key pair.
    let extra = format!("Authorization: Bearer {legacy}\r\nX-Test-Id: legacy-me\r\n");
    assert_eq!(gateway.get("/api/me", &extra).await.status, 401);
    upstream.assert_never_saw("legacy-me");
}

/// A session cookie the way @supabase/ssr writes it: `base64-` + base64url JSON, chunked.
fn session_cookie(token: &str, chunk: usize) -> String {
    let session = json!({ "access_token": token, "refresh_token": "r", "token_type": "bearer" });
    let value = format!("base64-{}", URL_SAFE_NO_PAD.encode(session.to_string()));
    let chunks: Vec<String> = value
        .as_bytes()
        .chunks(chunk)
        .enumerate()
        .map(|(i, part)| {
            format!(
                "sb-test-auth-token.{i}={}",
                std::str::from_utf8(part).unwrap()
            )
        })
        .collect();
    format!("Cookie: theme=dark; {}\r\n", chunks.join("; "))
}

#[tokio::test]
async fn the_supabase_session_cookie_is_a_token_source() {
    let upstream = Upstream::start().await;
    let gateway = gateway(&upstream).await;
    let token = es256(&user_claims("cookie-user"));

    let extra = format!("{}X-Test-Id: cookie\r\n", session_cookie(&token, 200));
    let response = gateway.get("/api/me", &extra).await;
    assert_eq!(response.status, 200, "{response:?}");
    let seen = upstream.one_tagged("cookie");
    assert_eq!(
        seen.header("x-palisade-user").as_deref(),
        Some("cookie-user")
    );

    // A chunk missing from the middle, or a forged token inside a well-formed cookie: 401.
    let cookie = session_cookie(&token, 200).replace("sb-test-auth-token.1=", "other.1=");
    let response = gateway
        .get("/api/me", &format!("{cookie}X-Test-Id: gap\r\n"))
        .await;
    assert_eq!(response.status, 401);
    upstream.assert_never_saw("gap");
    let forged = session_cookie(
        &hs256(&user_claims("u"), b"guessed-secret-guessed-secret-123"),
        200,
    );
    let response = gateway
        .get("/api/me", &format!("{forged}X-Test-Id: forged\r\n"))
        .await;
    assert_eq!(response.status, 401);
    upstream.assert_never_saw("forged");

    // A bearer header wins over the cookie: a bad header is not rescued by a good cookie.
    let extra = format!(
        "Authorization: Bearer not.a.token\r\n{}X-Test-Id: both\r\n",
        session_cookie(&token, 200)
    );
    assert_eq!(gateway.get("/api/me", &extra).await.status, 401);
    upstream.assert_never_saw("both");
}

#[tokio::test]
async fn require_checks_nested_claims_with_403() {
    let upstream = Upstream::start().await;
    let gateway = gateway(&upstream).await;

    let extra = format!(
        "Authorization: Bearer {}\r\nX-Test-Id: aal1\r\n",
        es256(&user_claims("u"))
    );
    let response = gateway.get("/api/pro", &extra).await;
    response.assert_refused(403, "Forbidden");
    upstream.assert_never_saw("aal1");

    let mut claims = user_claims("u");
    claims["aal"] = json!("aal2");
    let extra = format!(
        "Authorization: Bearer {}\r\nX-Test-Id: aal2\r\n",
        es256(&claims)
    );
    assert_eq!(gateway.get("/api/pro", &extra).await.status, 200);

    claims["app_metadata"]["plan"] = json!("free");
    let extra = format!(
        "Authorization: Bearer {}\r\nX-Test-Id: free\r\n",
        es256(&claims)
    );
    assert_eq!(gateway.get("/api/pro", &extra).await.status, 403);
    upstream.assert_never_saw("free");
}

#[tokio::test]
async fn tokens_and_cookies_never_reach_the_logs() {
    let upstream = Upstream::start().await;
    let gateway = gateway(&upstream).await;
    let token = es256(&user_claims("logged-user"));
    gateway
        .get("/api/me", &format!("Authorization: Bearer {token}\r\n"))
        .await;
    gateway.get("/api/me", &session_cookie(&token, 100)).await;
    gateway
        .get("/api/me", "Authorization: Bearer forged.token.value\r\n")
        .await;

    let logs = format!("{}{}", gateway.stdout_text(), gateway.stderr_text());
    let signature = token.rsplit('.').next().unwrap();
    assert!(!logs.contains(signature), "a token leaked into the logs");
    assert!(!logs.contains("forged.token.value"));
    assert!(
        !logs.contains("base64-"),
        "a session cookie leaked into the logs"
    );
    assert!(
        gateway
            .access_log()
            .iter()
            .any(|line| line["user"] == "logged-user")
    );
}

#[tokio::test]
async fn a_service_key_from_a_browser_is_refused_everywhere() {
    let upstream = Upstream::start().await;
    let gateway = Setup::new(&upstream.url())
        .tables(&format!(
            "{}\n[[route]]\npath = \"/api/open\"\nauth = \"none\"\n",
            config()
        ))
        .env("TEST_LEGACY_SECRET", LEGACY_SECRET)
        .start()
        .await;
    let service = hs256(
        &json!({ "iss": ISSUER, "role": "service_role", "exp": now() + 600 }),
        b"whatever-secret-whatever-secret-1",
    );

    let leaks = [
        format!("Origin: https://yourapp.com\r\nAuthorization: Bearer {service}\r\n"),
        "Sec-Fetch-Mode: cors\r\napikey: sb_secret_0123456789abcdef\r\n".to_owned(),
    ];
    for (i, leak) in leaks.iter().enumerate() {
        let tag = format!("leak-{i}");
        let response = gateway
            .get("/api/open", &format!("{leak}X-Test-Id: {tag}\r\n"))
            .await;
        response.assert_refused(403, "Forbidden");
        upstream.assert_never_saw(&tag);
    }
    let logs = gateway.stdout_text();
    assert!(
        logs.contains("service_key_from_browser"),
        "the leak was not logged"
    );
    assert!(
        !logs.contains("sb_secret_0123456789abcdef"),
        "the key itself was logged"
    );

    // The same key from a server (no browser headers) is not a leak.
    let extra = format!("Authorization: Bearer {service}\r\nX-Test-Id: server\r\n");
    assert_eq!(gateway.get("/api/open", &extra).await.status, 200);
}

#[tokio::test]
async fn auth_decisions_are_counted_by_provider_and_reason() {
    let upstream = Upstream::start().await;
    let gateway = gateway(&upstream).await;
    let mut expired = user_claims("u");
    expired["exp"] = json!(now() - 600);
    let extra = format!("Authorization: Bearer {}\r\n", es256(&expired));
    assert_eq!(gateway.get("/api/me", &extra).await.status, 401);
    let extra = format!("Authorization: Bearer {}\r\n", es256(&user_claims("u")));
    assert_eq!(gateway.get("/api/me", &extra).await.status, 200);

    let metrics = support::get(gateway.admin, "/metrics").await.unwrap();
    let text = String::from_utf8_lossy(&metrics.body);
    let counted = |needle: &str| {
        text.lines()
            .any(|line| line.starts_with("palisade_auth_decisions_total") && line.contains(needle))
    };
    assert!(counted("reason=\"expired\""), "{text}");
    assert!(counted("result=\"admitted\""), "{text}");
    assert!(counted("provider=\"supabase\""), "{text}");
}

#[tokio::test]
async fn subjectless_keys_pass_only_where_require_names_their_role() {
    let upstream = Upstream::start().await;
    let gateway = gateway(&upstream).await;
    let service = es256(&json!({
        "iss": ISSUER, "aud": "authenticated", "role": "service_role", "exp": now() + 600
    }));
    let anon = es256(&json!({
        "iss": ISSUER, "aud": "authenticated", "role": "anon", "exp": now() + 600
    }));

    let response = gateway
        .get(
            "/api/internal",
            &format!("Authorization: Bearer {service}\r\n"),
        )
        .await;
    assert_eq!(response.status, 200, "{response:?}");
    for (path, token, tag) in [
        ("/api/me", &service, "service-me"),
        ("/api/internal", &anon, "anon-internal"),
        ("/api/me", &anon, "anon-me"),
    ] {
        let extra = format!("Authorization: Bearer {token}\r\nX-Test-Id: {tag}\r\n");
        let response = gateway.get(path, &extra).await;
        assert!(matches!(response.status, 401 | 403), "{tag}: {response:?}");
        upstream.assert_never_saw(tag);
    }
}

#[tokio::test]
async fn a_malformed_bearer_header_is_not_rescued_by_a_cookie() {
    let upstream = Upstream::start().await;
    let gateway = gateway(&upstream).await;
    let mine = es256(&user_claims("attacker"));
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#);
    let forged = format!(
        "{header}.{}.",
        URL_SAFE_NO_PAD.encode(user_claims("victim").to_string())
    );

    // A tab where the space belongs: an app matching /^Bearer\s+/ would read the forged token.
    let extra = format!(
        "Authorization: Bearer\t{forged}\r\n{}X-Test-Id: tab\r\n",
        session_cookie(&mine, 200)
    );
    let response = gateway.get("/api/me", &extra).await;
    response.assert_refused(401, "Unauthorized");
    upstream.assert_never_saw("tab");
}

#[tokio::test]
async fn subjects_that_are_not_plain_ids_are_refused() {
    let upstream = Upstream::start().await;
    let gateway = gateway(&upstream).await;
    for (i, sub) in ["", "   ", " user-1", "user-1 ", "üser"].iter().enumerate() {
        let tag = format!("sub-{i}");
        let extra = format!(
            "Authorization: Bearer {}\r\nX-Test-Id: {tag}\r\n",
            es256(&user_claims(sub))
        );
        let response = gateway.get("/api/me", &extra).await;
        response.assert_refused(401, "Unauthorized");
        upstream.assert_never_saw(&tag);
    }
}
