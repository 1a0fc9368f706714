//! Stage 4, auth: who is calling, verified, and whether they may call this route.
//!
//! A route names the providers any one of which may admit the caller. Each provider looks for
//! its own credential; the first that verifies one admits. A credential that fails, and no
//! other provider admitting, is a 401; a provider that cannot decide (its keys could not be
//! loaded, its auth server is down) makes it a 503, never a pass. An admitted caller that lacks
//! the claims the route requires gets 403.

mod client;
pub mod credential;
pub mod guard;
pub mod jwks;
pub mod jwt;
pub mod remote;
pub mod require;
pub mod session_cookie;
#[cfg(test)]
mod test_server;
pub mod token;

use std::sync::Arc;

use http::HeaderMap;
use http::header::{HeaderName, HeaderValue};

use crate::error::Rejection;
use jwt::JwtProvider;
use remote::RemoteAuth;
use require::Requirements;
use token::TokenProvider;

/// `x-palisade-user`: the authenticated subject.
pub static X_PALISADE_USER: HeaderName = HeaderName::from_static("x-palisade-user");
/// `x-palisade-role`: the subject's role claim.
pub static X_PALISADE_ROLE: HeaderName = HeaderName::from_static("x-palisade-role");
/// `x-palisade-auth`: the provider that admitted the caller.
pub static X_PALISADE_AUTH: HeaderName = HeaderName::from_static("x-palisade-auth");
/// `x-palisade-client`: the service token's key id.
pub static X_PALISADE_CLIENT: HeaderName = HeaderName::from_static("x-palisade-client");

/// Who an admitted caller is.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The provider that admitted the caller.
    pub provider: Arc<str>,
    /// The subject (a user id), for user tokens.
    pub subject: Option<String>,
    /// The role claim, for user tokens.
    pub role: Option<String>,
    /// The key id, for service tokens.
    pub client: Option<Arc<str>>,
    /// All verified claims, for `require`.
    pub claims: Option<Arc<serde_json::Map<String, serde_json::Value>>>,
}

/// What one provider made of a request.
#[derive(Debug)]
pub enum Outcome {
    /// The request carries no credential this provider reads.
    NoCredential,
    /// A credential was verified.
    Admitted(Identity),
    /// A credential was presented and refused, for this reason.
    Refused(&'static str),
    /// The provider could not decide (keys missing, auth server down), for this reason.
    Unavailable(&'static str),
}

/// A configured `[auth.NAME]` provider.
#[derive(Debug)]
pub enum Provider {
    /// `kind = "jwt"`: user tokens verified locally.
    Jwt(JwtProvider),
    /// `kind = "remote"`: user tokens judged by the auth server.
    Remote(RemoteAuth),
    /// `kind = "token"`: pre-shared service tokens.
    Token(TokenProvider),
}

impl Provider {
    /// The provider's name in the config.
    pub fn name(&self) -> &str {
        match self {
            Provider::Jwt(p) => p.name(),
            Provider::Remote(p) => p.name(),
            Provider::Token(p) => p.name(),
        }
    }

    async fn authenticate(&self, headers: &HeaderMap) -> Outcome {
        match self {
            Provider::Jwt(p) => p.authenticate(headers).await,
            Provider::Remote(p) => p.authenticate(headers).await,
            Provider::Token(p) => p.authenticate(headers),
        }
    }
}

/// A route's authentication and authorization.
#[derive(Debug, Clone)]
pub struct RouteAuth {
    /// Providers any one of which may admit the caller; empty for `auth = "none"`.
    pub providers: Vec<Arc<Provider>>,
    /// Claims the caller must hold.
    pub require: Requirements,
}

impl RouteAuth {
    /// Whether the route is public.
    pub fn is_public(&self) -> bool {
        self.providers.is_empty()
    }
}

/// Runs stage 4 for a protected route: the caller's identity, or why there is none.
pub async fn authenticate(auth: &RouteAuth, headers: &HeaderMap) -> Result<Identity, Rejection> {
    let mut refused = None;
    let mut unavailable = None;
    for provider in &auth.providers {
        let outcome = provider.authenticate(headers).await;
        record(provider, &outcome);
        match outcome {
            // A user token must name its user: Supabase's anon and service_role keys are
            // valid JWTs with no subject, admitted only where `require` names their role.
            Outcome::Admitted(identity) if is_subjectless(&identity, &auth.require) => {
                refused.get_or_insert("no_subject");
            }
            Outcome::Admitted(identity)
                if identity
                    .subject
                    .as_deref()
                    .is_some_and(|s| !is_plain_subject(s))
                    || identity
                        .role
                        .as_deref()
                        .is_some_and(|r| !is_plain_subject(r)) =>
            {
                refused.get_or_insert("bad_subject");
            }
            Outcome::Admitted(identity) => {
                auth.require.check(&identity)?;
                return Ok(identity);
            }
            Outcome::NoCredential => {}
            Outcome::Refused(reason) => {
                refused.get_or_insert(reason);
            }
            Outcome::Unavailable(reason) => {
                unavailable.get_or_insert(reason);
            }
        }
    }
    if let Some(reason) = unavailable {
        return Err(Rejection::AuthUnavailable(reason));
    }
    Err(Rejection::Unauthenticated {
        reason: refused.unwrap_or("no_credential"),
        token_given: refused.is_some(),
    })
}

/// Whether a subject can stand as a user id in `x-palisade-user`: printable ASCII, not empty,
/// no white space at either end (an upstream would trim it and mistake it for another user).
pub fn is_plain_subject(subject: &str) -> bool {
    !subject.is_empty()
        && subject.len() <= 256
        && subject.bytes().all(|b| (0x20..0x7f).contains(&b))
        && !subject.starts_with(' ')
        && !subject.ends_with(' ')
}

fn is_subjectless(identity: &Identity, require: &Requirements) -> bool {
    let user_token = identity.client.is_none();
    user_token && identity.subject.is_none() && !require.names_role(identity.role.as_deref())
}

/// Counts one provider's outcome; a request without its credential is not counted.
fn record(provider: &Provider, outcome: &Outcome) {
    let (result, reason) = match outcome {
        Outcome::NoCredential => return,
        Outcome::Admitted(_) => ("admitted", "-"),
        Outcome::Refused(reason) => ("refused", *reason),
        Outcome::Unavailable(reason) => ("unavailable", *reason),
    };
    metrics::counter!(
        crate::metrics::AUTH_DECISIONS,
        "provider" => provider.name().to_owned(),
        "result" => result,
        "reason" => reason,
    )
    .increment(1);
}

/// Adds the identity headers for the upstream. Incoming `x-palisade-*` headers were removed
/// in stage 1, so these are the only ones it sees.
pub fn add_identity_headers(headers: &mut HeaderMap, identity: &Identity) -> Result<(), Rejection> {
    let value = |text: &str| HeaderValue::from_str(text).map_err(|_| Rejection::InvalidIdentity);
    headers.insert(X_PALISADE_AUTH.clone(), value(&identity.provider)?);
    if let Some(subject) = &identity.subject {
        headers.insert(X_PALISADE_USER.clone(), value(subject)?);
    }
    if let Some(role) = &identity.role {
        headers.insert(X_PALISADE_ROLE.clone(), value(role)?);
    }
    if let Some(client) = &identity.client {
        headers.insert(X_PALISADE_CLIENT.clone(), value(client)?);
    }
    Ok(())
}
