//! Tests for the JWT stage: every token is minted here, with keys from `tests/fixtures/`.

mod keys;
mod props;
mod verify;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};

use super::{KeySet, Rules, install_crypto_provider};

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/jwt/",
            $name
        ))
    };
}

const RSA_KEY: &[u8] = fixture!("rsa.key.pem");
const RSA_PUB: &[u8] = fixture!("rsa.pub.pem");
const RSA_PKCS1_PUB: &[u8] = fixture!("rsa.pkcs1.pub.pem");
const RSA2_KEY: &[u8] = fixture!("rsa2.key.pem");
const RSA1024_PUB: &[u8] = fixture!("rsa1024.pub.pem");
const P256_KEY: &[u8] = fixture!("p256.key.pem");
const P256_PUB: &[u8] = fixture!("p256.pub.pem");
const P384_KEY: &[u8] = fixture!("p384.key.pem");
const P384_PUB: &[u8] = fixture!("p384.pub.pem");
const ED_KEY: &[u8] = fixture!("ed25519.key.pem");
const ED_PUB: &[u8] = fixture!("ed25519.pub.pem");

const SECRET: &[u8] = b"super-secret-jwt-token-with-at-least-32-characters-long";
const ISSUER: &str = "https://project.supabase.co/auth/v1";
const AUDIENCE: &str = "authenticated";

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn rsa() -> EncodingKey {
    EncodingKey::from_rsa_pem(RSA_KEY).unwrap()
}

fn rsa2() -> EncodingKey {
    EncodingKey::from_rsa_pem(RSA2_KEY).unwrap()
}

fn p256() -> EncodingKey {
    EncodingKey::from_ec_pem(P256_KEY).unwrap()
}

fn p384() -> EncodingKey {
    EncodingKey::from_ec_pem(P384_KEY).unwrap()
}

fn ed25519() -> EncodingKey {
    EncodingKey::from_ed_pem(ED_KEY).unwrap()
}

fn hmac() -> EncodingKey {
    EncodingKey::from_secret(SECRET).unwrap()
}

/// Supabase-shaped claims, valid for ten minutes.
fn claims() -> Value {
    json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "8a3c6d1e-0000-4000-8000-000000000001",
        "role": "authenticated",
        "exp": now() + 600,
        "iat": now(),
        "session_id": "s-1",
        "app_metadata": { "provider": "email", "plan": "pro" },
    })
}

fn header(alg: &str, kid: Option<&str>) -> Value {
    match kid {
        Some(kid) => json!({ "alg": alg, "typ": "JWT", "kid": kid }),
        None => json!({ "alg": alg, "typ": "JWT" }),
    }
}

/// Mints a token from a raw header and claims, signed with `key` under `alg`.
fn mint(header: &Value, claims: &Value, key: &EncodingKey, alg: Algorithm) -> String {
    install_crypto_provider();
    let message = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), key, alg).unwrap();
    format!("{message}.{signature}")
}

/// Mints a token whose header names `alg` and `kid` and that `key` signs under `alg`.
fn token(alg: Algorithm, kid: Option<&str>, key: &EncodingKey, claims: &Value) -> String {
    mint(&header(&format!("{alg:?}"), kid), claims, key, alg)
}

/// Replaces a token's signature segment.
fn with_signature(token: &str, signature: &str) -> String {
    let (message, _) = token.rsplit_once('.').unwrap();
    format!("{message}.{signature}")
}

fn jwk(key: &EncodingKey, alg: Algorithm, kid: Option<&str>) -> Value {
    let mut jwk = serde_json::to_value(Jwk::from_encoding_key(key, alg).unwrap()).unwrap();
    let jwk_map = jwk.as_object_mut().unwrap();
    jwk_map.insert("use".into(), json!("sig"));
    match kid {
        Some(kid) => jwk_map.insert("kid".into(), json!(kid)),
        None => jwk_map.remove("kid"),
    };
    jwk
}

/// A JWK set shaped like Supabase's, with one key per supported asymmetric algorithm.
fn jwks_document() -> Vec<u8> {
    install_crypto_provider();
    let keys = vec![
        jwk(&rsa(), Algorithm::RS256, Some("rsa-1")),
        jwk(&rsa2(), Algorithm::PS256, Some("rsa-ps")),
        jwk(&p256(), Algorithm::ES256, Some("ec-1")),
        jwk(&p384(), Algorithm::ES384, Some("ec-384")),
        jwk(&ed25519(), Algorithm::EdDSA, Some("ed-1")),
    ];
    json!({ "keys": keys }).to_string().into_bytes()
}

fn jwks() -> KeySet {
    KeySet::from_jwks(&jwks_document()).unwrap()
}

fn secret_set() -> KeySet {
    KeySet::from_secret(SECRET, None).unwrap()
}

fn rules() -> Rules {
    Rules {
        issuer: Some(ISSUER.to_owned()),
        audience: Some(vec![AUDIENCE.to_owned()]),
        ..Rules::default()
    }
}
