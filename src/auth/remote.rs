//! Stage 4, remote: asks the auth server about each token (Supabase's `GET /auth/v1/user`).
//!
//! It decides whether the auth server vouches for a bearer token: a 200 with a user object
//! admits, 401 or 403 refuses, and anything else (a 5xx, a time-out, no connection, a body
//! that is not a user) leaves the question open, which the gateway answers with 503, never a
//! pass. Answers are cached under a SHA-256 of the token, never past the token's own `exp`;
//! concurrent look-ups of one token share one request.

#[cfg(test)]
mod tests;

use crate::auth::{Identity, Outcome};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION};
use http::{HeaderName, HeaderValue, Request, StatusCode, Uri};
use http_body_util::Empty;
use moka::Expiry;
use moka::future::Cache;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::auth::client::{self, FetchError, HttpClient};
use crate::auth::jwt::DEFAULT_MAX_TOKEN_BYTES;

/// The metric counting requests to the auth server, by `provider` and `result` (`valid`,
/// `invalid` or `unavailable`); cache hits are not requests.
pub const REQUESTS_METRIC: &str = "palisade_remote_requests_total";

/// The largest user object read from the auth server, in bytes.
pub const MAX_USER_BYTES: usize = 64 * 1024;

/// Answers with a larger body are used but not kept, so the cache's memory stays near
/// `max_entries` times this even when users can grow their own metadata.
const MAX_CACHED_USER_BYTES: usize = 8 * 1024;

/// Settings for a [`RemoteProvider`].
#[derive(Clone)]
pub struct RemoteSettings {
    /// The endpoint asked about each token, e.g. `https://PROJECT.supabase.co/auth/v1/user`.
    pub url: String,
    /// Headers sent with every request, e.g. Supabase's `apikey`; values are secrets and are
    /// marked sensitive. `Authorization` is not allowed here: it carries the token.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// How long a "valid" answer is kept (`cache`), never past the token's `exp`.
    pub cache_ttl: Duration,
    /// How long an "invalid" answer is kept.
    pub negative_ttl: Duration,
    /// The bound on one request, from connecting to the last byte of the body.
    pub timeout: Duration,
    /// The most answers kept at once.
    pub max_entries: u64,
}

impl RemoteSettings {
    /// Settings for `url` with the defaults: no headers, answers kept 30 s (invalid ones 5 s),
    /// a 5 s time-out and at most 10 000 answers kept.
    pub fn new(url: impl Into<String>) -> RemoteSettings {
        RemoteSettings {
            url: url.into(),
            headers: Vec::new(),
            cache_ttl: Duration::from_secs(30),
            negative_ttl: Duration::from_secs(5),
            timeout: Duration::from_secs(5),
            max_entries: 10_000,
        }
    }
}

impl fmt::Debug for RemoteSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header names only: the values are credentials.
        let names: Vec<&str> = self.headers.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("RemoteSettings")
            .field("url", &self.url)
            .field("headers", &names)
            .field("cache_ttl", &self.cache_ttl)
            .field("negative_ttl", &self.negative_ttl)
            .field("timeout", &self.timeout)
            .field("max_entries", &self.max_entries)
            .finish()
    }
}

/// The user the auth server vouched for.
#[derive(Clone, Debug, PartialEq)]
pub struct RemoteUser {
    /// The user's id: the answer's `id` (Supabase), else its `sub`.
    pub subject: String,
    /// The answer's `role`, e.g. `authenticated`.
    pub role: Option<String>,
    /// The whole answer, for `require` rules on its fields.
    pub user: Map<String, Value>,
}

/// What the auth server said about a token.
#[derive(Clone, Debug, PartialEq)]
pub enum RemoteOutcome {
    /// A 200 with a user object that names the user.
    Valid(RemoteUser),
    /// A 401 or 403: the token is not (or no longer) good.
    Invalid,
    /// No answer to rely on; the reason (`timeout`, `connect`, `status`, `bad_answer`, …) is
    /// for logs and metrics. Never a pass.
    Unavailable(&'static str),
}

/// A provider that asks an auth server about each token.
pub struct RemoteProvider {
    name: String,
    uri: Uri,
    headers: Vec<(HeaderName, HeaderValue)>,
    settings: RemoteSettings,
    client: HttpClient,
    /// Keyed by the token's SHA-256, never the token.
    cache: Cache<[u8; 32], Answer>,
}

/// A cached answer, with the moment it stops counting.
#[derive(Clone)]
enum Answer {
    Valid(Arc<RemoteUser>, Instant),
    Invalid(Instant),
}

// === impl RemoteProvider ===

impl RemoteProvider {
    /// Checks the settings and builds the provider.
    ///
    /// The URL follows the key-set rule: `https://`, or `http://` to a loopback host only,
    /// since anyone on a plain-HTTP path could answer "valid" for every token.
    pub fn new(name: &str, settings: RemoteSettings) -> Result<RemoteProvider, String> {
        let uri = client::parse_url(&settings.url)?;
        let mut headers = Vec::with_capacity(settings.headers.len());
        for (header, value) in &settings.headers {
            if header == AUTHORIZATION {
                return Err("headers: `authorization` is set by the provider".to_owned());
            }
            let mut value = value.clone();
            value.set_sensitive(true);
            headers.push((header.clone(), value));
        }
        if settings.max_entries == 0 {
            return Err("max_entries must be at least 1".to_owned());
        }

        let cache = Cache::builder()
            .max_capacity(settings.max_entries)
            .expire_after(UntilDeadline)
            .build();
        Ok(RemoteProvider {
            name: name.to_owned(),
            uri,
            headers,
            client: client::build()?,
            settings,
            cache,
        })
    }

    /// The provider's name in the config.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Asks about `token` and turns the answer into an authentication outcome: the user, a
    /// refusal, or `Unavailable` (then 503, never a pass).
    pub async fn decide(&self, token: &str) -> Outcome {
        // Only user tokens (JWTs) go to the auth server: a service token that some other
        // provider on the route reads from the same header must never leave palisade.
        if !looks_like_jwt(token) {
            return Outcome::Refused("not_a_user_token");
        }
        match self.check(token).await {
            RemoteOutcome::Valid(user) => Outcome::Admitted(Identity {
                provider: Arc::from(self.name.as_str()),
                subject: Some(user.subject),
                role: user.role,
                client: None,
                claims: Some(Arc::new(user.user)),
            }),
            RemoteOutcome::Invalid => Outcome::Refused("auth_server_refused"),
            RemoteOutcome::Unavailable(reason) => Outcome::Unavailable(reason),
        }
    }

    /// Asks the auth server about `token`, or answers from the cache.
    ///
    /// Sends `GET url` with `Authorization: Bearer <token>` and the configured headers. A 200
    /// whose JSON object has a string `id` or `sub` is valid (`role` from `role`); 401 and 403
    /// are invalid; anything else is unavailable. Valid answers are kept for `cache_ttl` but
    /// never past the token's `exp`, invalid ones for `negative_ttl`, and unavailable ones not
    /// at all. Concurrent checks of one token make one request and share its answer. A token
    /// that is empty, over 8 KiB or not sendable in a header is invalid without a request.
    pub async fn check(&self, token: &str) -> RemoteOutcome {
        if token.is_empty() || token.len() > DEFAULT_MAX_TOKEN_BYTES {
            return RemoteOutcome::Invalid;
        }
        let Ok(mut bearer) = HeaderValue::from_str(&format!("Bearer {token}")) else {
            return RemoteOutcome::Invalid;
        };
        bearer.set_sensitive(true);

        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let asked = self.cache.try_get_with(key, self.ask(bearer, token)).await;
        match asked {
            Ok(Answer::Valid(user, _)) => RemoteOutcome::Valid(RemoteUser::clone(&user)),
            Ok(Answer::Invalid(_)) => RemoteOutcome::Invalid,
            Err(reason) => RemoteOutcome::Unavailable(*reason),
        }
    }

    /// One request to the auth server; an `Err` is an answer not to keep.
    async fn ask(&self, bearer: HeaderValue, token: &str) -> Result<Answer, &'static str> {
        let mut request = Request::get(self.uri.clone())
            .body(Empty::<Bytes>::new())
            .map_err(|_| "request")?;
        let headers = request.headers_mut();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        for (name, value) in &self.headers {
            headers.append(name, value.clone());
        }
        headers.insert(AUTHORIZATION, bearer);

        let timeout = self.settings.timeout;
        let answer = match client::get(&self.client, request, MAX_USER_BYTES, timeout).await {
            Ok((_, body)) => self.vouched(&body, token),
            Err(FetchError::Status(StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN)) => {
                Ok(Answer::Invalid(Instant::now() + self.settings.negative_ttl))
            }
            Err(error) => Err(error.reason()),
        };
        self.record(&answer);
        answer
    }

    /// Reads a 200's body as the user, kept until `cache_ttl` or the token's `exp`.
    fn vouched(&self, body: &[u8], token: &str) -> Result<Answer, &'static str> {
        let user = parse_user(body).ok_or("bad_answer")?;
        let mut keep = self.settings.cache_ttl;
        if let Some(left) = token_lifetime(token) {
            keep = keep.min(left);
        }
        if body.len() > MAX_CACHED_USER_BYTES {
            keep = Duration::ZERO;
        }
        Ok(Answer::Valid(Arc::new(user), Instant::now() + keep))
    }

    fn record(&self, answer: &Result<Answer, &'static str>) {
        let (result, reason) = match answer {
            Ok(Answer::Valid(..)) => ("valid", "ok"),
            Ok(Answer::Invalid(_)) => ("invalid", "refused"),
            Err(reason) => ("unavailable", *reason),
        };
        let provider = self.name.clone();
        metrics::counter!(REQUESTS_METRIC, "provider" => provider, "result" => result).increment(1);

        // An auth server that cannot answer is for an operator; its answers are routine.
        if answer.is_err() {
            tracing::warn!(auth.provider = %self.name, reason, "auth server gave no answer");
        } else {
            tracing::debug!(auth.provider = %self.name, decision = result, "auth server answered");
        }
    }
}

impl fmt::Debug for RemoteProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteProvider")
            .field("name", &self.name)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// Expires each answer at its own deadline.
struct UntilDeadline;

impl Expiry<[u8; 32], Answer> for UntilDeadline {
    fn expire_after_create(
        &self,
        _key: &[u8; 32],
        answer: &Answer,
        created_at: Instant,
    ) -> Option<Duration> {
        let (Answer::Valid(_, deadline) | Answer::Invalid(deadline)) = answer;
        Some(deadline.saturating_duration_since(created_at))
    }
}

/// The user in a 200's body: a JSON object with a non-empty string `id` or `sub`.
fn parse_user(body: &[u8]) -> Option<RemoteUser> {
    let Ok(Value::Object(user)) = serde_json::from_slice::<Value>(body) else {
        return None;
    };
    let text = |name: &str| {
        user.get(name)
            .and_then(Value::as_str)
            .filter(|value| !value.is_empty())
            .map(str::to_owned)
    };
    let subject = text("id").or_else(|| text("sub"))?;
    let role = text("role");
    Some(RemoteUser {
        subject,
        role,
        user,
    })
}

/// How long until the token's `exp`, read without verifying: the auth server vouches for the
/// token, and `exp` only shortens how long that answer is kept. A forged `exp` changes the
/// token and so its cache key. `None` when the token has no readable `exp`.
fn token_lifetime(token: &str) -> Option<Duration> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let Ok(Value::Object(claims)) = serde_json::from_slice::<Value>(&bytes) else {
        return None;
    };
    let exp = claims.get("exp")?.as_f64()?;
    if !exp.is_finite() || exp < 0.0 {
        return None;
    }

    let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?;
    Some(Duration::try_from_secs_f64(exp).ok()?.saturating_sub(now))
}

/// Whether `token` has a JWT's shape: three non-empty base64url segments.
fn looks_like_jwt(token: &str) -> bool {
    let segments: Vec<&str> = token.split('.').collect();
    segments.len() == 3
        && segments.iter().all(|s| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// `kind = "remote"` as a route's provider: the token from the request (bearer, else the
/// session cookie when `cookie` is set), judged by the auth server on every request (cached
/// briefly), so a sign-out or a revoked session is seen.
#[derive(Debug)]
pub struct RemoteAuth {
    provider: Arc<RemoteProvider>,
    cookie: Option<String>,
}

impl RemoteAuth {
    /// Wraps `provider`, also reading `cookie`.
    pub fn new(provider: Arc<RemoteProvider>, cookie: Option<String>) -> RemoteAuth {
        RemoteAuth { provider, cookie }
    }

    /// The provider's name in the config.
    pub fn name(&self) -> &str {
        self.provider.name()
    }

    /// The provider itself, for a `jwt` provider's `fallback`.
    pub fn provider(&self) -> &Arc<RemoteProvider> {
        &self.provider
    }

    /// Asks the auth server about the request's user token, if it carries one.
    pub async fn authenticate(&self, headers: &http::HeaderMap) -> Outcome {
        match crate::auth::credential::user_token(headers, self.cookie.as_deref()) {
            Ok(Some(token)) => self.provider.decide(&token).await,
            Ok(None) => Outcome::NoCredential,
            Err(reason) => Outcome::Refused(reason),
        }
    }
}
