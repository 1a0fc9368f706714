//! The demo's credentials, made up for each run and kept in files as real ones would be: a
//! service token, and a signing key whose public half is the demo's key set, with user tokens
//! minted from it (valid, expired, forged, and Supabase-anon-like).

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

/// The issuer and audience the demo's user tokens carry.
pub(super) const ISSUER: &str = "https://demo.palisade.local/auth/v1";

/// Values the scenarios refer to as `{name}`.
pub(super) struct Credentials {
    values: Vec<(&'static str, String)>,
}

impl Credentials {
    /// Writes `cron.token` and `jwks.json` into `dir` and mints the user tokens.
    pub(super) fn create(dir: &Path) -> anyhow::Result<Credentials> {
        let service = format!("demo-{:032x}", fastrand::u128(..));
        std::fs::write(dir.join("cron.token"), &service).context("cannot write the demo token")?;

        let (signing, jwks) = signing_key("demo-key")?;
        std::fs::write(dir.join("jwks.json"), jwks).context("cannot write the demo key set")?;
        // Same kid, different key: what a forger would have to try.
        let (forger, _) = signing_key("demo-key")?;

        let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
        let user = json!({
            "iss": ISSUER, "aud": "authenticated", "sub": "demo-user-0001",
            "role": "authenticated", "iat": now, "exp": now + 3600
        });
        let mut expired = user.clone();
        expired["exp"] = json!(now - 600);
        let anon =
            json!({ "iss": ISSUER, "aud": "authenticated", "role": "anon", "exp": now + 3600 });

        let values = vec![
            ("token", service),
            ("user_token", mint(&signing, &user)?),
            ("expired_token", mint(&signing, &expired)?),
            ("forged_token", mint(&forger, &user)?),
            ("anon_token", mint(&signing, &anon)?),
        ];
        Ok(Credentials { values })
    }

    /// `text` with every `{name}` replaced by its value.
    pub(super) fn fill(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for (name, value) in &self.values {
            text = text.replace(&format!("{{{name}}}"), value);
        }
        text
    }
}

/// A fresh P-256 key: the key to sign with, and a JWK set publishing its public half.
fn signing_key(kid: &str) -> anyhow::Result<(EncodingKey, String)> {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
        .map_err(|_| anyhow::anyhow!("cannot generate the demo key"))?;
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref())
        .map_err(|_| anyhow::anyhow!("cannot read the demo key"))?;
    // An uncompressed point: 0x04, then x and y, 32 bytes each.
    let point = pair.public_key().as_ref();
    anyhow::ensure!(point.len() == 65, "unexpected public key length");
    let jwks = json!({ "keys": [{
        "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": kid,
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
        "y": URL_SAFE_NO_PAD.encode(&point[33..]),
    }]});
    Ok((EncodingKey::from_ec_der(pkcs8.as_ref()), jwks.to_string()))
}

fn mint(key: &EncodingKey, claims: &Value) -> anyhow::Result<String> {
    crate::auth::jwt::install_crypto_provider();
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("demo-key".to_owned());
    jsonwebtoken::encode(&header, claims, key).context("cannot sign a demo token")
}
