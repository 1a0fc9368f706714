//! Stage 4, JWT: verifies a bearer token's signature and claims against a pinned key set.
//!
//! It decides whether a token is genuine and current, and hands back its claims; it rejects
//! oversized or malformed tokens, `alg: none`, remote-key headers (`jku`, `x5u`, `jwk`, `x5c`),
//! any `crit`, algorithms that differ from the chosen key's, bad signatures, and tokens that are
//! expired, not yet valid, issued in the future or missing a required claim. Signature checks go
//! through jsonwebtoken on aws-lc; the algorithm always comes from the key, never the token.

mod keys;
mod provider;
mod strict;
#[cfg(test)]
mod tests;

use std::str::FromStr;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, AlgorithmFamily, Validation};
use serde_json::{Map, Value};

pub use keys::SkippedKey;
pub use keys::{Key, KeyError, KeySet, MAX_JWKS_BYTES, MAX_JWKS_KEYS, MIN_SECRET_BYTES};
pub use provider::JwtProvider;

/// The default bound on a token's length, in bytes.
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 8 * 1024;

/// The default clock-skew allowance for `exp`, `nbf` and `iat`.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);

/// The largest leeway honoured; a larger configured value is cut down to this.
pub const MAX_LEEWAY: Duration = Duration::from_secs(300);

/// Header parameters that point at keys elsewhere or demand extensions: never followed.
const FORBIDDEN_HEADERS: [&str; 5] = ["jku", "x5u", "jwk", "x5c", "crit"];

/// Installs aws-lc as jsonwebtoken's process-wide crypto provider.
///
/// jsonwebtoken 10 and later panic at the first signature check when no provider is installed
/// and its crate features do not single one out (as when another crate turns on
/// `rust_crypto`). Call this once at start-up; calling it again, or after another provider was
/// installed, does nothing. [`verify`] calls it too, so a verification never panics for lack of
/// a provider.
pub fn install_crypto_provider() {
    // `Err` only says that a provider is already in place (ours, or one jsonwebtoken picked
    // from its features); either verifies, so there is nothing to report.
    let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
}

/// What a token must satisfy besides a good signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rules {
    /// When set, `iss` must be present and equal to it.
    pub issuer: Option<String>,
    /// When set, `aud` must be present and contain one of these (an empty list admits nothing).
    /// When unset, `aud` is not looked at.
    pub audience: Option<Vec<String>>,
    /// Clock-skew allowance for `exp`, `nbf` and `iat`; at most [`MAX_LEEWAY`] is honoured.
    pub leeway: Duration,
    /// Top-level claims that must be present and not `null`.
    pub required_claims: Vec<String>,
    /// Tokens longer than this are refused before any parsing.
    pub max_token_bytes: usize,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            issuer: None,
            audience: None,
            leeway: DEFAULT_LEEWAY,
            required_claims: Vec::new(),
            max_token_bytes: DEFAULT_MAX_TOKEN_BYTES,
        }
    }
}

/// Why a token was refused.
///
/// No variant carries any part of the token: they are safe to log and to use as metric labels
/// through [`Rejected::reason`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejected {
    /// The token is longer than [`Rules::max_token_bytes`]; nothing of it was parsed.
    #[error("token too large")]
    TooLarge,
    /// Not three base64url segments, or a header or payload that is not a JSON object (duplicate
    /// keys included), or otherwise not a compact JWS.
    #[error("malformed token")]
    Malformed,
    /// The header carries a parameter that is never honoured: `jku`, `x5u`, `jwk`, `x5c` (keys
    /// from elsewhere) or `crit` (extensions this verifier does not implement).
    #[error("forbidden header parameter `{0}`")]
    ForbiddenHeader(&'static str),
    /// `alg` is `none` (in any spelling), unknown, or differs from the chosen key's algorithm.
    #[error("algorithm not allowed")]
    AlgorithmNotAllowed,
    /// The token names a `kid` the set does not hold; a refreshed key set may know it.
    #[error("unknown key id")]
    UnknownKid,
    /// The set holds no key for the token's algorithm family, e.g. an HS256 token when the set
    /// holds only public keys; a fallback provider may decide instead.
    #[error("no key for the token's algorithm")]
    NoKeyForAlgorithm,
    /// The signature is empty, of the wrong size, or does not verify.
    #[error("bad signature")]
    BadSignature,
    /// `exp` is past, beyond the leeway.
    #[error("token expired")]
    Expired,
    /// `nbf` is in the future, beyond the leeway.
    #[error("token not yet valid")]
    NotYetValid,
    /// `iat` is in the future, beyond the leeway.
    #[error("token issued in the future")]
    IssuedInFuture,
    /// A required claim is absent or `null`.
    #[error("missing claim `{0}`")]
    MissingClaim(String),
    /// A claim has the wrong type, such as a string `exp` or a numeric `sub`.
    #[error("invalid claim `{0}`")]
    InvalidClaim(String),
    /// `iss` is not the configured issuer.
    #[error("wrong issuer")]
    WrongIssuer,
    /// `aud` names none of the configured audiences, or is present when none is configured.
    #[error("wrong audience")]
    WrongAudience,
}

impl Rejected {
    /// A short snake_case name for logs and metric labels, e.g. `bad_signature`.
    pub fn reason(&self) -> &'static str {
        match self {
            Rejected::TooLarge => "too_large",
            Rejected::Malformed => "malformed",
            Rejected::ForbiddenHeader(_) => "forbidden_header",
            Rejected::AlgorithmNotAllowed => "algorithm_not_allowed",
            Rejected::UnknownKid => "unknown_kid",
            Rejected::NoKeyForAlgorithm => "no_key_for_algorithm",
            Rejected::BadSignature => "bad_signature",
            Rejected::Expired => "expired",
            Rejected::NotYetValid => "not_yet_valid",
            Rejected::IssuedInFuture => "issued_in_future",
            Rejected::MissingClaim(_) => "missing_claim",
            Rejected::InvalidClaim(_) => "invalid_claim",
            Rejected::WrongIssuer => "wrong_issuer",
            Rejected::WrongAudience => "wrong_audience",
        }
    }
}

/// The claims of a verified token, with the key that verified it.
#[derive(Clone, Debug, PartialEq)]
pub struct Claims {
    claims: Map<String, Value>,
    expires_at: u64,
    kid: Option<String>,
    algorithm: Algorithm,
}

// === impl Claims ===

impl Claims {
    /// The subject (`sub`), e.g. the Supabase user id; Supabase's anon key has none.
    pub fn sub(&self) -> Option<&str> {
        self.claims.get("sub").and_then(Value::as_str)
    }

    /// The `role` claim, e.g. `authenticated`, `anon` or `service_role` for Supabase.
    pub fn role(&self) -> Option<&str> {
        self.claims.get("role").and_then(Value::as_str)
    }

    /// One top-level claim.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.claims.get(name)
    }

    /// A nested claim by dotted path, e.g. `app_metadata.plan`.
    pub fn get_path(&self, path: &str) -> Option<&Value> {
        let mut parts = path.split('.');
        let first = self.claims.get(parts.next()?)?;
        parts.try_fold(first, |value, part| value.as_object()?.get(part))
    }

    /// `exp`, in seconds since the Unix epoch: a cache must not keep the result past it.
    pub fn expires_at(&self) -> u64 {
        self.expires_at
    }

    /// The `kid` of the key that verified the token, if that key has one.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The algorithm the token was verified with.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// All claims.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.claims
    }

    /// All claims, by value.
    pub fn into_map(self) -> Map<String, Value> {
        self.claims
    }
}

/// Verifies a compact JWS token against `keys` and `rules`, returning its claims.
///
/// The key is chosen by the token's `kid` when the set holds that kid; otherwise among the keys
/// without a kid (from PEM or a secret) by algorithm. The header's `alg` must equal the chosen
/// key's pinned algorithm, so an HMAC token never meets a public key (the "HS256 signed with
/// the public key" attack) and a public-key token never meets a secret.
pub fn verify(token: &str, keys: &KeySet, rules: &Rules) -> Result<Claims, Rejected> {
    // Bound the work before looking at a single byte.
    if token.len() > rules.max_token_bytes {
        return Err(Rejected::TooLarge);
    }
    let segments: Vec<&str> = token.split('.').collect();
    let [header, payload, signature] = segments[..] else {
        return Err(Rejected::Malformed);
    };
    if header.is_empty() || payload.is_empty() || !segments.iter().all(|s| is_base64url(s)) {
        return Err(Rejected::Malformed);
    }

    // The header decides the key, so it is read before any signature check, but only to refuse
    // or to pick among keys already pinned; nothing in it widens what is accepted.
    let header = parse_header(header)?;
    let candidates = select_keys(keys, header.kid.as_deref(), header.alg)?;
    if signature.is_empty() {
        return Err(Rejected::BadSignature);
    }

    install_crypto_provider();
    let validation = validation(header.alg, rules);
    let mut outcome = Err(Rejected::BadSignature);
    for key in candidates {
        outcome =
            jsonwebtoken::decode::<serde::de::IgnoredAny>(token, key.decoding_key(), &validation)
                .map(|_| key)
                .map_err(rejection);
        // Only a bad signature means "try the next key"; any other outcome is the answer.
        if !matches!(outcome, Err(Rejected::BadSignature)) {
            break;
        }
    }
    let key = outcome.map_err(|rejected| present_but_invalid(rejected, payload))?;

    // The signature holds: read the claims strictly and apply what jsonwebtoken does not.
    let claims = decode_object(payload)?;
    let expires_at = check_claims(&claims, rules)?;
    let kid = key.kid().map(str::to_owned);
    Ok(Claims {
        claims,
        expires_at,
        kid,
        algorithm: key.algorithm(),
    })
}

/// The header fields that matter, once the forbidden ones were refused.
struct Header {
    alg: Algorithm,
    kid: Option<String>,
}

fn parse_header(segment: &str) -> Result<Header, Rejected> {
    let header = decode_object(segment)?;
    let Some(Value::String(alg)) = header.get("alg") else {
        return Err(Rejected::Malformed);
    };
    if alg.eq_ignore_ascii_case("none") {
        return Err(Rejected::AlgorithmNotAllowed);
    }
    if let Some(name) = FORBIDDEN_HEADERS
        .into_iter()
        .find(|name| header.contains_key(*name))
    {
        return Err(Rejected::ForbiddenHeader(name));
    }

    let alg = Algorithm::from_str(alg).map_err(|_| Rejected::AlgorithmNotAllowed)?;
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return Err(Rejected::Malformed),
    };
    Ok(Header { alg, kid })
}

/// The keys a token may be checked against, all pinned to its `alg`.
fn select_keys<'k>(
    keys: &'k KeySet,
    kid: Option<&str>,
    alg: Algorithm,
) -> Result<Vec<&'k Key>, Rejected> {
    // A kid the set knows names exactly one key, whose algorithm must be the token's.
    if let Some(key) = kid.and_then(|kid| keys.keys().find(|key| key.kid() == Some(kid))) {
        if key.algorithm() != alg {
            return Err(Rejected::AlgorithmNotAllowed);
        }
        return Ok(vec![key]);
    }

    // Keys without a kid (PEM, secret) serve any token of their algorithm, kid or not, since
    // issuers such as Supabase put a kid even on tokens signed with the legacy secret.
    let unnamed: Vec<&Key> = keys.keys().filter(|key| key.kid().is_none()).collect();
    let matching: Vec<&Key> = unnamed
        .iter()
        .copied()
        .filter(|k| k.algorithm() == alg)
        .collect();
    if !matching.is_empty() {
        return Ok(matching);
    }

    // A published key set never holds a secret, so refetching it cannot help an HMAC token.
    if kid.is_some() && alg.family() != AlgorithmFamily::Hmac {
        return Err(Rejected::UnknownKid);
    }
    if unnamed
        .iter()
        .any(|key| key.algorithm().family() == alg.family())
    {
        return Err(Rejected::AlgorithmNotAllowed);
    }
    Err(Rejected::NoKeyForAlgorithm)
}

/// jsonwebtoken's checks, with the algorithm from the key and every claim rule switched on.
fn validation(alg: Algorithm, rules: &Rules) -> Validation {
    let mut validation = Validation::new(alg);
    validation.leeway = rules.leeway.min(MAX_LEEWAY).as_secs();
    validation.validate_exp = true;
    validation.validate_nbf = true;
    validation.required_spec_claims = ["exp".to_owned()].into();

    // Setting an expected value does not make the claim required: both are needed.
    if let Some(issuer) = &rules.issuer {
        validation.set_issuer(&[issuer]);
        validation.required_spec_claims.insert("iss".to_owned());
    }
    match &rules.audience {
        Some(audience) => {
            validation.set_audience(audience);
            validation.required_spec_claims.insert("aud".to_owned());
        }
        // Without this jsonwebtoken refuses every token that has an `aud` at all.
        None => validation.validate_aud = false,
    }
    validation
}

fn rejection(error: jsonwebtoken::errors::Error) -> Rejected {
    match error.into_kind() {
        ErrorKind::InvalidSignature => Rejected::BadSignature,
        ErrorKind::ExpiredSignature => Rejected::Expired,
        ErrorKind::ImmatureSignature => Rejected::NotYetValid,
        ErrorKind::InvalidIssuer => Rejected::WrongIssuer,
        ErrorKind::InvalidAudience => Rejected::WrongAudience,
        ErrorKind::MissingRequiredClaim(claim) => Rejected::MissingClaim(claim),
        ErrorKind::InvalidClaimFormat(claim) => Rejected::InvalidClaim(claim),
        ErrorKind::InvalidAlgorithm | ErrorKind::MissingAlgorithm => Rejected::AlgorithmNotAllowed,
        // A key that cannot verify (say, an EC point off the curve) verifies nothing.
        ErrorKind::InvalidEcdsaKey
        | ErrorKind::InvalidEddsaKey
        | ErrorKind::InvalidRsaKey(_)
        | ErrorKind::InvalidKeyFormat => Rejected::BadSignature,
        _ => Rejected::Malformed,
    }
}

/// jsonwebtoken reports a required claim of the wrong type (a string `exp`, a numeric `iss`) as
/// missing; name it as invalid instead. Its checks run after the signature's, so the payload
/// read here is genuine.
fn present_but_invalid(rejected: Rejected, payload: &str) -> Rejected {
    let Rejected::MissingClaim(claim) = rejected else {
        return rejected;
    };
    let present = decode_object(payload)
        .is_ok_and(|claims| claims.get(&claim).is_some_and(|value| !value.is_null()));
    if present {
        Rejected::InvalidClaim(claim)
    } else {
        Rejected::MissingClaim(claim)
    }
}

/// The checks jsonwebtoken leaves out: `iat`, a string `iss`, claim types, required claims.
/// Returns `exp`.
fn check_claims(claims: &Map<String, Value>, rules: &Rules) -> Result<u64, Rejected> {
    let now = jsonwebtoken::get_current_timestamp();
    let leeway = rules.leeway.min(MAX_LEEWAY).as_secs();

    let expires_at = claims.get("exp").and_then(timestamp);
    let expires_at = expires_at.ok_or_else(|| Rejected::InvalidClaim("exp".to_owned()))?;
    if let Some(iat) = claims.get("iat") {
        let iat = timestamp(iat).ok_or_else(|| Rejected::InvalidClaim("iat".to_owned()))?;
        if iat > now.saturating_add(leeway) {
            return Err(Rejected::IssuedInFuture);
        }
    }

    // jsonwebtoken also admits an `iss` array holding the issuer; an issuer is one string.
    if let Some(issuer) = &rules.issuer {
        match claims.get("iss") {
            Some(Value::String(iss)) if iss == issuer => {}
            Some(Value::String(_)) => return Err(Rejected::WrongIssuer),
            _ => return Err(Rejected::InvalidClaim("iss".to_owned())),
        }
    }
    // The identity headers come from these: a number or object here is an issuer bug.
    for name in ["sub", "role"] {
        if claims.get(name).is_some_and(|value| !value.is_string()) {
            return Err(Rejected::InvalidClaim(name.to_owned()));
        }
    }

    for name in &rules.required_claims {
        if claims.get(name).is_none_or(Value::is_null) {
            return Err(Rejected::MissingClaim(name.clone()));
        }
    }
    Ok(expires_at)
}

/// A NumericDate as jsonwebtoken reads it: a non-negative integer, or a float rounded.
fn timestamp(value: &Value) -> Option<u64> {
    if let Some(seconds) = value.as_u64() {
        return Some(seconds);
    }
    let seconds = value.as_f64()?;
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "range checked"
    )]
    (seconds.is_finite() && (0.0..u64::MAX as f64).contains(&seconds))
        .then(|| seconds.round() as u64)
}

/// Decodes one base64url segment holding a JSON object, refusing duplicate keys.
fn decode_object(segment: &str) -> Result<Map<String, Value>, Rejected> {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| Rejected::Malformed)?;
    strict::object(&bytes).ok_or(Rejected::Malformed)
}

fn is_base64url(segment: &str) -> bool {
    segment
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
