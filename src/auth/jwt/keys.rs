//! Verification keys for the JWT stage: a JWK set, one PEM public key or one HMAC secret.
//!
//! Every key is pinned to exactly one algorithm when it is loaded, from its JWK `alg` or its key
//! type, never from a token. Keys that cannot be used safely (symmetric keys in a JWK set,
//! encryption keys, private key material, weak RSA moduli, unknown curves) are skipped and
//! reported, so one odd entry in a published key set does not take the whole set down.

use std::fmt;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_PAD_INDIFFERENT;
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey};
use serde_json::{Map, Value};

/// The largest JWK set document accepted, in bytes.
pub const MAX_JWKS_BYTES: usize = 256 * 1024;

/// The most keys a JWK set may list (usable or not).
pub const MAX_JWKS_KEYS: usize = 64;

/// The shortest HMAC secret accepted, in bytes (RFC 7518 §3.2 asks for at least the hash size).
pub const MIN_SECRET_BYTES: usize = 32;

/// RSA moduli outside this range (in bits) are refused; it is also what aws-lc verifies.
const RSA_BITS: std::ops::RangeInclusive<usize> = 2048..=8192;

/// JWK members that only a private key carries.
const PRIVATE_MEMBERS: [&str; 6] = ["d", "p", "q", "dp", "dq", "qi"];

/// Why a key source could not be turned into a [`KeySet`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The JWK set document is larger than [`MAX_JWKS_BYTES`].
    #[error("key set larger than {limit} bytes")]
    JwksTooLarge {
        /// The limit that was exceeded, in bytes.
        limit: usize,
    },
    /// The JWK set lists more than [`MAX_JWKS_KEYS`] keys.
    #[error("key set lists {count} keys, more than {limit}")]
    TooManyKeys {
        /// How many keys the document lists.
        count: usize,
        /// The limit that was exceeded.
        limit: usize,
    },
    /// The document is not JSON.
    #[error("key set is not valid json")]
    InvalidJson(#[source] serde_json::Error),
    /// The document is JSON but not an object with a `keys` array.
    #[error("key set has no `keys` array")]
    NotAKeySet,
    /// No key in the set could be used; every one was skipped.
    #[error("key set has no usable signing key ({skipped} skipped)")]
    NoUsableKeys {
        /// How many keys were skipped.
        skipped: usize,
    },
    /// The PEM is not a public key of a supported type (RSA, EC P-256/P-384, Ed25519).
    #[error("not a supported pem public key (rsa, ec p-256/p-384 or ed25519)")]
    InvalidPem,
    /// The PEM holds a private key; only the public half belongs in the gateway.
    #[error("pem holds a private key; configure the public key instead")]
    PrivateKeyPem,
    /// The RSA modulus is outside 2048 to 8192 bits.
    #[error("rsa key of {bits} bits; 2048 to 8192 are accepted")]
    WeakRsaKey {
        /// The modulus size, in bits.
        bits: usize,
    },
    /// The requested algorithm cannot be used with this key type.
    #[error("algorithm {algorithm:?} does not fit a {key_type} key")]
    AlgorithmMismatch {
        /// The key type, such as `rsa` or `ec p-256`.
        key_type: &'static str,
        /// The algorithm that was asked for.
        algorithm: Algorithm,
    },
    /// The HMAC secret is shorter than [`MIN_SECRET_BYTES`].
    #[error("hmac secret shorter than {min} bytes")]
    SecretTooShort {
        /// The minimum length, in bytes.
        min: usize,
    },
    /// Two key sets being merged name the same `kid`.
    #[error("key id {kid:?} appears twice")]
    DuplicateKid {
        /// The key id that appears twice.
        kid: String,
    },
}

/// A JWK that [`KeySet::from_jwks`] left out, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedKey {
    /// The key's `kid`, when it had one.
    pub kid: Option<String>,
    /// Why it was skipped, e.g. `symmetric key in a key set`.
    pub reason: &'static str,
}

/// One verification key, pinned to the single algorithm it may verify.
///
/// `Debug` shows the key id and algorithm only, never key material.
#[derive(Clone)]
pub struct Key {
    kid: Option<String>,
    algorithm: Algorithm,
    key: DecodingKey,
}

// === impl Key ===

impl Key {
    /// The key id (`kid`), when the key has one; keys from PEM or a secret have none.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The one algorithm this key verifies.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    pub(super) fn decoding_key(&self) -> &DecodingKey {
        &self.key
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// The keys one JWT provider verifies with.
#[derive(Clone, Debug, Default)]
pub struct KeySet {
    keys: Vec<Key>,
    skipped: Vec<SkippedKey>,
}

// === impl KeySet ===

impl KeySet {
    /// Loads a JWK set document (`{"keys":[...]}`).
    ///
    /// Each key's algorithm is pinned from its `alg` when present (which must agree with its
    /// `kty`/`crv`), else from `kty`/`crv`: RSA→RS256, EC P-256→ES256, EC P-384→ES384, OKP
    /// Ed25519→EdDSA. Keys whose `use` is not `sig`, whose `key_ops` lack `verify`, of unknown
    /// type or curve, carrying private members, or symmetric (`oct`: a published set must never
    /// hold a shared secret) are skipped; [`KeySet::skipped`] says which and why, and a later
    /// duplicate of a `kid` is skipped too. Documents over [`MAX_JWKS_BYTES`] or listing more
    /// than [`MAX_JWKS_KEYS`] keys are refused, and so is a set with no usable key.
    pub fn from_jwks(json: &[u8]) -> Result<KeySet, KeyError> {
        if json.len() > MAX_JWKS_BYTES {
            return Err(KeyError::JwksTooLarge {
                limit: MAX_JWKS_BYTES,
            });
        }
        let doc: Value = serde_json::from_slice(json).map_err(KeyError::InvalidJson)?;
        let Some(entries) = doc.get("keys").and_then(Value::as_array) else {
            return Err(KeyError::NotAKeySet);
        };
        if entries.len() > MAX_JWKS_KEYS {
            let count = entries.len();
            return Err(KeyError::TooManyKeys {
                count,
                limit: MAX_JWKS_KEYS,
            });
        }

        let mut set = KeySet::default();
        for entry in entries {
            let kid = entry.get("kid").and_then(Value::as_str).map(str::to_owned);
            let key = jwk_to_key(entry).and_then(|key| match key.kid() {
                Some(kid) if set.contains_kid(kid) => Err("duplicate kid"),
                _ => Ok(key),
            });
            match key {
                Ok(key) => set.keys.push(key),
                Err(reason) => set.skipped.push(SkippedKey { kid, reason }),
            }
        }

        if set.keys.is_empty() {
            return Err(KeyError::NoUsableKeys {
                skipped: set.skipped.len(),
            });
        }
        Ok(set)
    }

    /// Loads one PEM public key: RSA (SPKI `PUBLIC KEY` or PKCS#1 `RSA PUBLIC KEY`), EC P-256,
    /// EC P-384 or Ed25519.
    ///
    /// The algorithm follows from the key type (RSA defaults to RS256; EC and Ed25519 allow only
    /// their own). `algorithm` overrides it within the key's family, e.g. PS256 for RSA. Private
    /// keys and certificates are refused. The key has no `kid`.
    pub fn from_public_pem(pem: &[u8], algorithm: Option<Algorithm>) -> Result<KeySet, KeyError> {
        match pem_label(pem) {
            Some("PUBLIC KEY" | "RSA PUBLIC KEY") => {}
            Some(label) if label.contains("PRIVATE") => return Err(KeyError::PrivateKeyPem),
            _ => return Err(KeyError::InvalidPem),
        }

        let (key, key_type, default) = if let Ok(key) = DecodingKey::from_ec_pem(pem) {
            // The EC public key is the uncompressed point 04 || x || y.
            match key.try_get_as_bytes().map(<[u8]>::len) {
                Ok(65) => (key, "ec p-256", Algorithm::ES256),
                Ok(97) => (key, "ec p-384", Algorithm::ES384),
                _ => return Err(KeyError::InvalidPem),
            }
        } else if let Ok(key) = DecodingKey::from_ed_pem(pem) {
            if key.try_get_as_bytes().map(<[u8]>::len) != Ok(32) {
                return Err(KeyError::InvalidPem);
            }
            (key, "ed25519", Algorithm::EdDSA)
        } else if let Ok(key) = DecodingKey::from_rsa_pem(pem) {
            check_rsa_der(&key)?;
            (key, "rsa", Algorithm::RS256)
        } else {
            return Err(KeyError::InvalidPem);
        };

        let algorithm = algorithm.unwrap_or(default);
        if !fits(default, algorithm) {
            return Err(KeyError::AlgorithmMismatch {
                key_type,
                algorithm,
            });
        }
        Ok(KeySet::single(Key {
            kid: None,
            algorithm,
            key,
        }))
    }

    /// Loads one HMAC secret, for HS256 unless `algorithm` says HS384 or HS512.
    ///
    /// Secrets shorter than [`MIN_SECRET_BYTES`] are refused. The key has no `kid`.
    pub fn from_secret(secret: &[u8], algorithm: Option<Algorithm>) -> Result<KeySet, KeyError> {
        let algorithm = algorithm.unwrap_or(Algorithm::HS256);
        if algorithm.family() != AlgorithmFamily::Hmac {
            return Err(KeyError::AlgorithmMismatch {
                key_type: "hmac secret",
                algorithm,
            });
        }
        if secret.len() < MIN_SECRET_BYTES {
            return Err(KeyError::SecretTooShort {
                min: MIN_SECRET_BYTES,
            });
        }

        let key = DecodingKey::from_secret(secret).map_err(|_| KeyError::SecretTooShort {
            min: MIN_SECRET_BYTES,
        })?;
        Ok(KeySet::single(Key {
            kid: None,
            algorithm,
            key,
        }))
    }

    /// Joins two sets, e.g. a Supabase JWK set and the project's legacy HS256 secret.
    ///
    /// Fails when both name the same `kid`, since a token could then meet either key.
    pub fn merge(mut self, other: KeySet) -> Result<KeySet, KeyError> {
        for key in &other.keys {
            if let Some(kid) = key.kid()
                && self.contains_kid(kid)
            {
                return Err(KeyError::DuplicateKid {
                    kid: kid.to_owned(),
                });
            }
        }
        self.keys.extend(other.keys);
        self.skipped.extend(other.skipped);
        Ok(self)
    }

    /// How many usable keys the set holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set holds no usable key (only [`KeySet::default`] can).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether some key carries this `kid`.
    pub fn contains_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|key| key.kid() == Some(kid))
    }

    /// The usable keys, in document order.
    pub fn keys(&self) -> impl Iterator<Item = &Key> {
        self.keys.iter()
    }

    /// The keys [`KeySet::from_jwks`] left out, and why.
    pub fn skipped(&self) -> &[SkippedKey] {
        &self.skipped
    }

    fn single(key: Key) -> KeySet {
        KeySet {
            keys: vec![key],
            skipped: Vec::new(),
        }
    }
}

/// Turns one JWK into a pinned key, or says why it is skipped.
fn jwk_to_key(entry: &Value) -> Result<Key, &'static str> {
    let jwk = entry.as_object().ok_or("not an object")?;
    let kid = match jwk.get("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return Err("kid is not a string"),
    };

    // Only signature-verification keys, never encryption keys.
    match jwk.get("use") {
        None => {}
        Some(Value::String(use_)) if use_ == "sig" => {}
        Some(_) => return Err("use is not sig"),
    }
    if let Some(ops) = jwk.get("key_ops") {
        let verifies = ops
            .as_array()
            .is_some_and(|ops| ops.iter().any(|op| op == "verify"));
        if !verifies {
            return Err("key_ops lacks verify");
        }
    }
    if PRIVATE_MEMBERS
        .iter()
        .any(|member| jwk.contains_key(*member))
    {
        return Err("private key material in a key set");
    }

    let (key, default) = match text(jwk, "kty")? {
        "RSA" => rsa_jwk(jwk)?,
        "EC" => ec_jwk(jwk)?,
        "OKP" => okp_jwk(jwk)?,
        "oct" => return Err("symmetric key in a key set"),
        _ => return Err("unsupported kty"),
    };

    let algorithm = match jwk.get("alg") {
        None => default,
        // RFC 9864 names EdDSA over Ed25519 "Ed25519".
        Some(Value::String(alg)) if alg == "Ed25519" => Algorithm::EdDSA,
        Some(Value::String(alg)) => Algorithm::from_str(alg).map_err(|_| "unsupported alg")?,
        Some(_) => return Err("alg is not a string"),
    };
    if !fits(default, algorithm) {
        return Err("alg does not match kty/crv");
    }
    Ok(Key {
        kid,
        algorithm,
        key,
    })
}

fn rsa_jwk(jwk: &Map<String, Value>) -> Result<(DecodingKey, Algorithm), &'static str> {
    let n = component(jwk, "n")?;
    let e = component(jwk, "e")?;
    if !RSA_BITS.contains(&modulus_bits(&n)) {
        return Err("rsa modulus outside 2048..=8192 bits");
    }
    if e.is_empty() || e.len() > 8 {
        return Err("bad rsa exponent");
    }
    Ok((
        DecodingKey::from_rsa_raw_components(&n, &e),
        Algorithm::RS256,
    ))
}

fn ec_jwk(jwk: &Map<String, Value>) -> Result<(DecodingKey, Algorithm), &'static str> {
    let (size, algorithm) = match text(jwk, "crv")? {
        "P-256" => (32, Algorithm::ES256),
        "P-384" => (48, Algorithm::ES384),
        _ => return Err("unsupported curve"),
    };
    let x = component(jwk, "x")?;
    let y = component(jwk, "y")?;
    if x.len() != size || y.len() != size {
        return Err("bad ec coordinate length");
    }

    // jsonwebtoken keeps EC public keys as the uncompressed point 04 || x || y.
    let mut point = Vec::with_capacity(1 + 2 * size);
    point.push(0x04);
    point.extend_from_slice(&x);
    point.extend_from_slice(&y);
    Ok((DecodingKey::from_ec_der(&point), algorithm))
}

fn okp_jwk(jwk: &Map<String, Value>) -> Result<(DecodingKey, Algorithm), &'static str> {
    if text(jwk, "crv")? != "Ed25519" {
        return Err("unsupported curve");
    }
    let x = component(jwk, "x")?;
    if x.len() != 32 {
        return Err("bad ed25519 key length");
    }
    Ok((DecodingKey::from_ed_der(&x), Algorithm::EdDSA))
}

/// Whether `algorithm` may be used on a key whose type implies `default`.
fn fits(default: Algorithm, algorithm: Algorithm) -> bool {
    match default.family() {
        // Any RSA padding and hash works with any RSA key.
        AlgorithmFamily::Rsa => algorithm.family() == AlgorithmFamily::Rsa,
        // HMAC secrets: HS256, HS384 or HS512.
        AlgorithmFamily::Hmac => algorithm.family() == AlgorithmFamily::Hmac,
        // A curve fixes the algorithm: P-256 is ES256 only, P-384 ES384, Ed25519 EdDSA.
        AlgorithmFamily::Ec | AlgorithmFamily::Ed => algorithm == default,
    }
}

fn text<'a>(jwk: &'a Map<String, Value>, name: &str) -> Result<&'a str, &'static str> {
    match jwk.get(name) {
        Some(Value::String(value)) => Ok(value),
        _ => Err("missing or non-string kty/crv"),
    }
}

/// A base64url key component; padding is tolerated since some publishers add it.
fn component(jwk: &Map<String, Value>, name: &str) -> Result<Vec<u8>, &'static str> {
    let Some(Value::String(value)) = jwk.get(name) else {
        return Err("missing key component");
    };
    URL_SAFE_PAD_INDIFFERENT
        .decode(value)
        .map_err(|_| "key component is not base64url")
}

/// The size in bits of a big-endian modulus, ignoring leading zero bytes.
fn modulus_bits(n: &[u8]) -> usize {
    let Some(first) = n.iter().position(|byte| *byte != 0) else {
        return 0;
    };
    let top = n[first];
    (n.len() - first - 1) * 8 + (8 - top.leading_zeros() as usize)
}

/// Checks an RSA public key from PEM parses and has an accepted modulus size.
fn check_rsa_der(key: &DecodingKey) -> Result<(), KeyError> {
    let der = key.try_get_as_bytes().map_err(|_| KeyError::InvalidPem)?;
    let provider = &jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER;
    let (n, _e) = (provider.key_utils.rsa_pub_components_from_public_key)(der)
        .map_err(|_| KeyError::InvalidPem)?;

    let bits = modulus_bits(&n);
    if !RSA_BITS.contains(&bits) {
        return Err(KeyError::WeakRsaKey { bits });
    }
    Ok(())
}

/// The label of the first PEM block (`PUBLIC KEY`, `RSA PUBLIC KEY`, ...), if any.
fn pem_label(pem: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(pem).ok()?;
    let start = text.find("-----BEGIN ")? + "-----BEGIN ".len();
    let rest = &text[start..];
    rest.find("-----").map(|end| &rest[..end])
}
