//! Stage 4, JWT keys: a JWK set fetched from a URL and kept current in the background.
//!
//! It decides which key set the JWT stage verifies against. The set is fetched at start, again
//! when its `Cache-Control: max-age` (clamped) runs out, and on demand when a token names an
//! unknown `kid`, at most once per interval and one fetch at a time. It refuses non-200 answers,
//! oversized bodies and documents that are not a usable key set; a failed fetch keeps the last
//! good set. Readers never lock: the set is swapped whole.

#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use bytes::Bytes;
use http::{HeaderMap, Request, Uri, header};
use http_body_util::Empty;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::auth::client::{self, FetchError, HttpClient};
use crate::auth::jwt::{KeyError, KeySet, MAX_JWKS_BYTES};

/// The metric counting key-set fetches, by `provider` and `result` (`ok` or `error`).
pub const FETCHES_METRIC: &str = "palisade_jwks_fetches_total";

/// Timings for a [`JwksSource`]; [`JwksSettings::default`] gives the production values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JwksSettings {
    /// Refetches for unknown `kid`s happen at most this often (30 s).
    pub min_refetch_interval: Duration,
    /// A `max-age` below this is raised to it, and `no-cache`/`no-store` mean this (60 s).
    pub min_max_age: Duration,
    /// A `max-age` above this is cut down to it (24 h).
    pub max_max_age: Duration,
    /// How long a set without a `max-age` is kept before the next fetch (10 min).
    pub default_max_age: Duration,
    /// While no set was ever loaded, the fetch is retried this often (5 s).
    pub retry_interval: Duration,
    /// The bound on one fetch, from connecting to the last byte of the body (5 s).
    pub timeout: Duration,
}

impl Default for JwksSettings {
    fn default() -> Self {
        JwksSettings {
            min_refetch_interval: Duration::from_secs(30),
            min_max_age: Duration::from_secs(60),
            max_max_age: Duration::from_secs(24 * 60 * 60),
            default_max_age: Duration::from_secs(10 * 60),
            retry_interval: Duration::from_secs(5),
            timeout: Duration::from_secs(5),
        }
    }
}

/// A JWK set fetched from a URL, kept current by a background task.
///
/// `Debug` shows the provider, the URL's host and path and the key ids, never key material.
pub struct JwksSource {
    provider: String,
    uri: Uri,
    settings: JwksSettings,
    client: HttpClient,
    /// The last good set; `None` until the first successful fetch.
    current: ArcSwapOption<KeySet>,
    /// Counts finished fetches, so a caller that waited for one knows it happened.
    fetches: AtomicU64,
    /// Held for the whole of a fetch: at most one is in flight.
    state: Mutex<FetchState>,
}

/// What the one fetch in flight needs to decide the next.
struct FetchState {
    /// When the background task fetches next.
    refresh_at: Instant,
    /// When the last fetch for an unknown `kid` started.
    last_refetch: Option<Instant>,
}

// === impl JwksSource ===

impl JwksSource {
    /// Checks the URL and prepares the source; nothing is fetched until [`JwksSource::spawn`].
    ///
    /// `http://` is only allowed for loopback hosts (tests, local development): anyone on the
    /// path of a plain-HTTP fetch could swap in their own keys. Otherwise `https://` is
    /// required.
    pub fn new(
        provider_name: &str,
        url: &str,
        settings: JwksSettings,
    ) -> Result<Arc<JwksSource>, String> {
        let uri = client::parse_url(url)?;
        let client = client::build()?;
        Ok(Arc::new(JwksSource {
            provider: provider_name.to_owned(),
            uri,
            settings,
            client,
            current: ArcSwapOption::empty(),
            fetches: AtomicU64::new(0),
            state: Mutex::new(FetchState {
                refresh_at: Instant::now(),
                last_refetch: None,
            }),
        }))
    }

    /// Spawns the background task that keeps the set current.
    ///
    /// It fetches now, then again when the set's max-age (from `Cache-Control`, clamped to
    /// [`JwksSettings::min_max_age`]..=[`JwksSettings::max_max_age`]) runs out. While no set was
    /// ever loaded it retries every [`JwksSettings::retry_interval`]; after a failed refresh
    /// the last good set stays and the next try comes after `min_max_age`. The task holds only
    /// a weak reference and ends at its first wake-up after the source is dropped; abort the
    /// handle to stop it at once (on a config reload, say). Call this once.
    pub fn spawn(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(refresh_loop(Arc::downgrade(self)))
    }

    /// The current set, without locking; `None` until the first successful fetch.
    pub fn current(&self) -> Option<Arc<KeySet>> {
        self.current.load_full()
    }

    /// Refetches the set because a token names a `kid` it does not hold; returns the set to
    /// retry with (`None` when none was ever loaded).
    ///
    /// At most one fetch runs at a time: callers arriving during a fetch wait for it and share
    /// its result rather than starting another. Beyond that, fetches for unknown `kid`s start at
    /// most once per [`JwksSettings::min_refetch_interval`]; other callers get the current set
    /// at once. So a flood of random `kid`s costs the auth server about one fetch per interval,
    /// and holds up no caller longer than one fetch (itself bounded by the time-out); tokens
    /// whose `kid` is known never come here and never wait.
    pub async fn refetch_for_unknown_kid(&self) -> Option<Arc<KeySet>> {
        let seen = self.fetches.load(Ordering::Acquire);
        let mut state = self.state.lock().await;

        // A fetch finished while we waited for the lock: its result is ours too.
        if self.fetches.load(Ordering::Acquire) != seen {
            return self.current();
        }
        let now = Instant::now();
        let recent = state
            .last_refetch
            .is_some_and(|at| now.duration_since(at) < self.settings.min_refetch_interval);
        if recent {
            return self.current();
        }

        state.last_refetch = Some(now);
        self.fetch_locked(&mut state).await;
        self.current()
    }

    /// Fetches once and records the outcome; the caller holds the state lock.
    async fn fetch_locked(&self, state: &mut FetchState) {
        let outcome = self.fetch().await;
        let now = Instant::now();
        match outcome {
            Ok((keys, max_age)) => {
                self.count("ok");
                self.log_loaded(&keys, max_age);
                self.current.store(Some(Arc::new(keys)));
                state.refresh_at = now + max_age;
            }
            Err(error) => {
                self.count("error");
                let loaded = self.current.load().is_some();
                tracing::warn!(
                    auth.provider = %self.provider,
                    reason = error.reason(),
                    error = %error,
                    keys.loaded = loaded,
                    "key set fetch failed; keeping the last good set",
                );
                // Try again soon, but never later than a refresh already planned. A plan
                // that is already due was this very fetch: replace it, or the loop would
                // fetch again at once, hammering a server that is down.
                let retry = if loaded {
                    self.settings.min_max_age
                } else {
                    self.settings.retry_interval
                };
                state.refresh_at = if state.refresh_at > now {
                    state.refresh_at.min(now + retry)
                } else {
                    now + retry
                };
            }
        }
        self.fetches.fetch_add(1, Ordering::AcqRel);
    }

    /// One GET of the key set, parsed, with how long it may be kept.
    async fn fetch(&self) -> Result<(KeySet, Duration), Error> {
        let request = Request::get(self.uri.clone())
            .header(header::ACCEPT, "application/jwk-set+json, application/json")
            .body(Empty::<Bytes>::new())
            .map_err(|_| Error::Request)?;
        let (headers, body) =
            client::get(&self.client, request, MAX_JWKS_BYTES, self.settings.timeout).await?;

        let keys = KeySet::from_jwks(&body)?;
        Ok((keys, max_age(&headers, &self.settings)))
    }

    fn count(&self, result: &'static str) {
        let provider = self.provider.clone();
        metrics::counter!(FETCHES_METRIC, "provider" => provider, "result" => result).increment(1);
    }

    /// Lifecycle logging: a changed set of key ids is news, an unchanged one is not.
    fn log_loaded(&self, keys: &KeySet, max_age: Duration) {
        let ids = kids(keys);
        let previous = self.current.load();
        let changed = previous.as_deref().is_none_or(|old| kids(old) != ids);
        let skipped = keys.skipped().len();
        if changed {
            tracing::info!(
                auth.provider = %self.provider,
                keys.ids = ?ids,
                keys.skipped = skipped,
                keys.max_age_secs = max_age.as_secs(),
                "key set loaded",
            );
        } else {
            tracing::debug!(
                auth.provider = %self.provider,
                keys.max_age_secs = max_age.as_secs(),
                "key set refreshed, unchanged",
            );
        }
    }
}

impl fmt::Debug for JwksSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Host and path only: a query string is never shown.
        let host = self.uri.host().unwrap_or_default();
        let current = self.current.load();
        f.debug_struct("JwksSource")
            .field("provider", &self.provider)
            .field("url", &format_args!("{host}{}", self.uri.path()))
            .field("kids", &current.as_deref().map(kids))
            .finish_non_exhaustive()
    }
}

/// Why a fetch produced no set; never holds any of the body.
#[derive(Debug, thiserror::Error)]
enum Error {
    #[error("request could not be built")]
    Request,
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error("unusable key set")]
    Keys(#[from] KeyError),
}

impl Error {
    fn reason(&self) -> &'static str {
        match self {
            Error::Request => "request",
            Error::Fetch(error) => error.reason(),
            Error::Keys(_) => "bad_key_set",
        }
    }
}

/// The background task: fetch whenever the planned refresh time has come.
///
/// Fetches for unknown `kid`s move the plan too, so after one of them the task sleeps on.
async fn refresh_loop(source: Weak<JwksSource>) {
    loop {
        let Some(source) = source.upgrade() else {
            return;
        };
        let due = {
            let mut state = source.state.lock().await;
            if Instant::now() >= state.refresh_at {
                source.fetch_locked(&mut state).await;
            }
            state.refresh_at
        };

        // Sleep without holding the source, so dropping it ends the task.
        drop(source);
        tokio::time::sleep_until(due).await;
    }
}

/// How long a fetched set may be kept: `Cache-Control: max-age`, clamped to the settings.
///
/// `no-cache` and `no-store` mean the shortest allowed time; no usable `max-age` means
/// [`JwksSettings::default_max_age`].
fn max_age(headers: &HeaderMap, settings: &JwksSettings) -> Duration {
    let mut max_age = None;
    let mut no_cache = false;
    let directives = headers
        .get_all(header::CACHE_CONTROL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim);
    for directive in directives {
        let (name, value) = directive.split_once('=').unwrap_or((directive, ""));
        let name = name.trim();
        if name.eq_ignore_ascii_case("max-age") {
            max_age = value.trim().trim_matches('"').parse::<u64>().ok();
        } else if name.eq_ignore_ascii_case("no-cache") || name.eq_ignore_ascii_case("no-store") {
            no_cache = true;
        }
    }

    let wanted = match (no_cache, max_age) {
        (true, _) => Duration::ZERO,
        (false, Some(secs)) => Duration::from_secs(secs),
        (false, None) => settings.default_max_age,
    };
    wanted.clamp(
        settings.min_max_age,
        settings.max_max_age.max(settings.min_max_age),
    )
}

fn kids(keys: &KeySet) -> Vec<&str> {
    keys.keys().filter_map(|key| key.kid()).collect()
}
