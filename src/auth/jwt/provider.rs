//! `kind = "jwt"`: a user's token, verified locally against the provider's keys.
//!
//! The token comes from `Authorization: Bearer`, or, when `cookie` is set and no bearer token
//! was sent, from the Supabase SSR session cookie (the header wins: a request that carries
//! both is judged by what the client chose to send explicitly). A verified token must name a
//! subject, so Supabase's anon key (a valid JWT with no user) never passes for a user.

use std::sync::Arc;

use http::HeaderMap;
use http::header::AUTHORIZATION;

use super::{KeySet, Rejected, Rules, verify};
use crate::auth::session_cookie;
use crate::auth::token::bearer;
use crate::auth::{Identity, Outcome};

/// A `jwt` provider with its keys and claim rules.
#[derive(Debug)]
pub struct JwtProvider {
    name: Arc<str>,
    keys: KeySet,
    rules: Rules,
    cookie: Option<String>,
}

/// Where a request's user token came from.
enum Source {
    Header,
    Cookie,
}

impl JwtProvider {
    /// A provider named `name` verifying with `keys` under `rules`, also reading `cookie`.
    pub fn new(name: &str, keys: KeySet, rules: Rules, cookie: Option<String>) -> JwtProvider {
        JwtProvider {
            name: Arc::from(name),
            keys,
            rules,
            cookie,
        }
    }

    /// The provider's name in the config.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How many keys it verifies with.
    pub fn key_count(&self) -> usize {
        self.keys.len()
    }

    /// The session cookie it reads, if any.
    pub fn cookie(&self) -> Option<&str> {
        self.cookie.as_deref()
    }

    /// Verifies the request's user token, if it carries one.
    pub fn authenticate(&self, headers: &HeaderMap) -> Outcome {
        let (token, _source) = match self.token(headers) {
            Ok(Some(found)) => found,
            Ok(None) => return Outcome::NoCredential,
            Err(reason) => return Outcome::Refused(reason),
        };
        let claims = match verify(&token, &self.keys, &self.rules) {
            Ok(claims) => claims,
            Err(rejected) => return Outcome::Refused(reason(&rejected)),
        };
        let Some(subject) = claims.sub().map(str::to_owned) else {
            return Outcome::Refused("no_subject");
        };
        let role = claims.role().map(str::to_owned);
        Outcome::Admitted(Identity {
            provider: Arc::clone(&self.name),
            subject: Some(subject),
            role,
            client: None,
            claims: Some(Arc::new(claims.into_map())),
        })
    }

    /// The bearer token, else the session cookie's access token.
    fn token(&self, headers: &HeaderMap) -> Result<Option<(String, Source)>, &'static str> {
        let mut values = headers.get_all(AUTHORIZATION).iter();
        if let Some(value) = values.next() {
            if values.next().is_some() {
                return Err("duplicate_credential_header");
            }
            if let Some(token) = bearer(value.as_bytes()) {
                let token = std::str::from_utf8(token).map_err(|_| "malformed")?;
                if token.is_empty() {
                    return Err("empty_token");
                }
                return Ok(Some((token.to_owned(), Source::Header)));
            }
        }
        let Some(name) = &self.cookie else {
            return Ok(None);
        };
        match session_cookie::access_token(headers, name) {
            Ok(Some(token)) => Ok(Some((token, Source::Cookie))),
            Ok(None) => Ok(None),
            Err(error) => Err(error.reason()),
        }
    }
}

fn reason(rejected: &Rejected) -> &'static str {
    rejected.reason()
}
