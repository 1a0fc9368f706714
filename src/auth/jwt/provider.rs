//! `kind = "jwt"`: a user's token, verified locally.
//!
//! Keys come from a key set the auth server publishes (`jwks_url`, refetched once when a token
//! names an unknown key), and from keys in the config (`jwks_file`, `public_key`, `secret`).
//! When a token's key is none of these (an unknown `kid` even after a refetch, or an HMAC token
//! with no secret here), the `fallback` provider, which asks the auth server, decides; this is
//! how supabase-js's `getClaims` behaves.

use std::sync::Arc;

use http::HeaderMap;

use super::{KeySet, Rejected, Rules, verify};
use crate::auth::credential::user_token;
use crate::auth::jwks::JwksSource;
use crate::auth::remote::RemoteProvider;
use crate::auth::{Identity, Outcome};

/// A `jwt` provider with its keys and claim rules.
#[derive(Debug)]
pub struct JwtProvider {
    name: Arc<str>,
    /// The key set fetched from `jwks_url`.
    fetched: Option<Arc<JwksSource>>,
    /// Keys from the config: `jwks_file`, `public_key`, `secret`.
    configured: Option<KeySet>,
    rules: Rules,
    cookie: Option<String>,
    fallback: Option<Arc<RemoteProvider>>,
}

impl JwtProvider {
    /// A provider named `name`; at least one of `fetched` and `configured` is set.
    pub fn new(
        name: &str,
        fetched: Option<Arc<JwksSource>>,
        configured: Option<KeySet>,
        rules: Rules,
        cookie: Option<String>,
        fallback: Option<Arc<RemoteProvider>>,
    ) -> JwtProvider {
        JwtProvider {
            name: Arc::from(name),
            fetched,
            configured,
            rules,
            cookie,
            fallback,
        }
    }

    /// The provider's name in the config.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key set fetched from `jwks_url`, if any, for the server to keep fresh.
    pub fn key_source(&self) -> Option<&Arc<JwksSource>> {
        self.fetched.as_ref()
    }

    /// A one-line description for `palisade check`.
    pub fn describe(&self) -> String {
        let mut parts = vec!["user tokens (JWT)".to_owned()];
        if self.fetched.is_some() {
            parts.push("key set fetched from jwks_url".to_owned());
        }
        if let Some(keys) = &self.configured {
            parts.push(format!("{} configured key(s)", keys.len()));
        }
        if let Some(cookie) = &self.cookie {
            parts.push(format!("session cookie `{cookie}`"));
        }
        if self.fallback.is_some() {
            parts.push("fallback to the auth server".to_owned());
        }
        parts.join(", ")
    }

    /// Verifies the request's user token, if it carries one.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Outcome {
        match user_token(headers, self.cookie.as_deref()) {
            Ok(Some(token)) => self.decide(&token).await,
            Ok(None) => Outcome::NoCredential,
            Err(reason) => Outcome::Refused(reason),
        }
    }

    async fn decide(&self, token: &str) -> Outcome {
        let mut unavailable = false;
        let mut last: Option<Rejected> = None;

        // 1. The published key set, refetched once if the token names a key it lacks.
        if let Some(source) = &self.fetched {
            match source.current() {
                None => unavailable = true,
                Some(set) => match verify(token, &set, &self.rules) {
                    Ok(claims) => return self.admit(claims),
                    Err(Rejected::UnknownKid) => match source.refetch_for_unknown_kid().await {
                        Some(fresh) => match verify(token, &fresh, &self.rules) {
                            Ok(claims) => return self.admit(claims),
                            Err(rejected) => last = Some(rejected),
                        },
                        None => last = Some(Rejected::UnknownKid),
                    },
                    Err(rejected) => last = Some(rejected),
                },
            }
        }

        // 2. Keys from the config, unless the published set already judged the token.
        let not_ours = matches!(
            last,
            None | Some(Rejected::UnknownKid | Rejected::NoKeyForAlgorithm)
        );
        if let Some(set) = self.configured.as_ref().filter(|_| not_ours) {
            match verify(token, set, &self.rules) {
                Ok(claims) => return self.admit(claims),
                Err(rejected) => last = Some(rejected),
            }
        }

        // 3. A token signed with a key palisade does not hold: the auth server decides.
        let not_ours = matches!(
            last,
            None | Some(Rejected::UnknownKid | Rejected::NoKeyForAlgorithm)
        );
        if let Some(fallback) = self.fallback.as_ref().filter(|_| not_ours) {
            // The auth server checks the signature; this provider's own issuer and audience
            // still apply, read from the (not yet verified) token before asking.
            if !self.addressed_to_us(token) {
                return Outcome::Refused("wrong_issuer_or_audience");
            }
            return fallback.decide(token).await;
        }
        match last {
            Some(rejected) => Outcome::Refused(rejected.reason()),
            None if unavailable => Outcome::Unavailable("no_key_set"),
            None => Outcome::Refused("no_key"),
        }
    }

    /// Whether the token's `iss` and `aud` match this provider's, read without verifying:
    /// good enough to refuse a token meant for someone else before asking the auth server.
    fn addressed_to_us(&self, token: &str) -> bool {
        use base64::Engine as _;
        let Some(payload) = token.split('.').nth(1) else {
            return false;
        };
        let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .ok()
            .and_then(|json| serde_json::from_slice::<serde_json::Value>(&json).ok());
        let Some(claims) = claims else {
            return false;
        };
        let issuer_ok = self.rules.issuer.as_deref().is_none_or(|issuer| {
            claims.get("iss").and_then(serde_json::Value::as_str) == Some(issuer)
        });
        let audience_ok =
            self.rules
                .audience
                .as_ref()
                .is_none_or(|wanted| match claims.get("aud") {
                    Some(serde_json::Value::String(aud)) => wanted.contains(aud),
                    Some(serde_json::Value::Array(auds)) => auds
                        .iter()
                        .filter_map(serde_json::Value::as_str)
                        .any(|aud| wanted.iter().any(|w| w == aud)),
                    _ => false,
                });
        issuer_ok && audience_ok
    }

    /// A verified token's identity. One without a subject (Supabase's anon or service_role
    /// key) is admitted only where the route's `require` names its role; see
    /// [`crate::auth::authenticate`].
    fn admit(&self, claims: super::Claims) -> Outcome {
        let subject = claims.sub().map(str::to_owned);
        let role = claims.role().map(str::to_owned);
        Outcome::Admitted(Identity {
            provider: Arc::clone(&self.name),
            subject,
            role,
            client: None,
            claims: Some(Arc::new(claims.into_map())),
        })
    }
}
