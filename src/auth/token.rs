//! Pre-shared service tokens (`kind = "token"`), for callers such as cron jobs.
//!
//! The presented value is hashed and its SHA-256 digest compared with every configured key's
//! digest in constant time, always all of them: neither the timing nor the keys' lengths
//! reveal anything. Several keys make rotation possible without downtime.

use std::sync::Arc;

use http::HeaderMap;
use http::header::{AUTHORIZATION, HeaderName};
use sha2::{Digest, Sha256};
use subtle::{ConditionallySelectable, ConstantTimeEq};

use super::credential::bearer;
use super::{Identity, Outcome};
use crate::secret::Secret;

/// The most bytes of a presented token that are read; a longer one is refused.
const MAX_TOKEN_BYTES: usize = 4096;

/// A `token` provider: a header to read and the keys it accepts.
pub struct TokenProvider {
    name: Arc<str>,
    header: HeaderName,
    keys: Vec<TokenKey>,
}

struct TokenKey {
    id: Arc<str>,
    digest: [u8; 32],
}

impl std::fmt::Debug for TokenProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|k| &*k.id).collect();
        f.debug_struct("TokenProvider")
            .field("name", &self.name)
            .field("header", &self.header)
            .field("key_ids", &ids)
            .finish()
    }
}

impl TokenProvider {
    /// A provider named `name` reading `header` (`authorization` means `Bearer <token>`) and
    /// accepting any of `keys`, given as `(id, value)`.
    pub fn new(name: &str, header: &str, keys: Vec<(String, Secret)>) -> Result<Self, String> {
        let header = HeaderName::from_bytes(header.as_bytes())
            .map_err(|_| format!("`{header}` is not a header name"))?;
        if keys.is_empty() {
            return Err("lists no keys".to_owned());
        }
        let mut checked: Vec<TokenKey> = Vec::with_capacity(keys.len());
        for (id, value) in keys {
            if id.trim().is_empty() {
                return Err("a key has an empty id".to_owned());
            }
            let bytes = value.expose();
            if bytes.iter().all(u8::is_ascii_whitespace) {
                return Err(format!("key `{id}` is empty or only white space"));
            }
            if bytes.len() > MAX_TOKEN_BYTES {
                return Err(format!("key `{id}` is longer than {MAX_TOKEN_BYTES} bytes"));
            }
            let digest: [u8; 32] = Sha256::digest(bytes).into();
            if let Some(twin) = checked.iter().find(|k| k.digest == digest) {
                return Err(format!("keys `{}` and `{id}` have the same value", twin.id));
            }
            if checked.iter().any(|k| *k.id == *id) {
                return Err(format!("key id `{id}` is used twice"));
            }
            checked.push(TokenKey {
                id: Arc::from(id),
                digest,
            });
        }
        Ok(TokenProvider {
            name: Arc::from(name),
            header,
            keys: checked,
        })
    }

    /// The provider's name in the config.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The header the token is read from.
    pub fn header(&self) -> &str {
        self.header.as_str()
    }

    /// The configured key ids, in order.
    pub fn key_ids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|k| &*k.id)
    }

    /// Checks the request's token against every key.
    pub fn authenticate(&self, headers: &HeaderMap) -> Outcome {
        let presented = match self.presented(headers) {
            Ok(Some(token)) => token,
            Ok(None) => return Outcome::NoCredential,
            Err(reason) => return Outcome::Refused(reason),
        };
        let digest: [u8; 32] = Sha256::digest(presented).into();

        // Look at every key, whatever matched earlier, and pick the match without branching.
        let mut found = subtle::Choice::from(0);
        let mut index = 0u32;
        for (i, key) in self.keys.iter().enumerate() {
            let equal = key.digest.ct_eq(&digest);
            index.conditional_assign(&(i as u32), equal);
            found |= equal;
        }
        if !bool::from(found) {
            return Outcome::Refused("unknown_token");
        }
        let key = &self.keys[index as usize];
        Outcome::Admitted(Identity {
            provider: Arc::clone(&self.name),
            subject: None,
            role: None,
            client: Some(Arc::clone(&key.id)),
            claims: None,
        })
    }

    /// The token in the configured header: `Ok(None)` when the header is absent.
    fn presented<'h>(&self, headers: &'h HeaderMap) -> Result<Option<&'h [u8]>, &'static str> {
        let mut values = headers.get_all(&self.header).iter();
        let Some(value) = values.next() else {
            return Ok(None);
        };
        if values.next().is_some() {
            return Err("duplicate_credential_header");
        }
        let bytes = value.as_bytes();
        let token = if self.header == AUTHORIZATION {
            match bearer(bytes) {
                Some(token) => token,
                None => return Ok(None),
            }
        } else {
            bytes.trim_ascii()
        };
        if token.is_empty() {
            return Err("empty_token");
        }
        if token.len() > MAX_TOKEN_BYTES {
            return Err("token_too_large");
        }
        Ok(Some(token))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn secret(value: &str) -> Secret {
        Secret::from_bytes(value.as_bytes())
    }

    fn provider() -> TokenProvider {
        let keys = vec![
            ("current".to_owned(), secret("new-cron-secret-0123456789")),
            ("previous".to_owned(), secret("old-cron-secret")),
        ];
        TokenProvider::new("cron", "authorization", keys).unwrap()
    }

    fn with_auth(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    fn client(outcome: Outcome) -> Option<String> {
        match outcome {
            Outcome::Admitted(identity) => identity.client.map(|c| c.to_string()),
            _ => None,
        }
    }

    #[test]
    fn either_key_admits_and_names_itself() {
        let p = provider();
        let current = p.authenticate(&with_auth("Bearer new-cron-secret-0123456789"));
        assert_eq!(client(current).as_deref(), Some("current"));
        let previous = p.authenticate(&with_auth("bearer   old-cron-secret "));
        assert_eq!(client(previous).as_deref(), Some("previous"));
    }

    #[test]
    fn near_misses_are_refused() {
        let p = provider();
        for value in [
            "Bearer old-cron-secreT",
            "Bearer old-cron-secret-",
            "Bearer old-cron-secre",
            "Bearer new-cron-secret-0123456789 old-cron-secret",
            "Bearer ",
        ] {
            assert!(
                matches!(p.authenticate(&with_auth(value)), Outcome::Refused(_)),
                "{value}"
            );
        }
        // Another scheme, or the bare token, is no credential at all.
        for value in [
            "Basic b2xkLWNyb24tc2VjcmV0",
            "old-cron-secret",
            "Bearerold-cron-secret",
        ] {
            assert!(
                matches!(p.authenticate(&with_auth(value)), Outcome::NoCredential),
                "{value}"
            );
        }
        assert!(matches!(
            p.authenticate(&HeaderMap::new()),
            Outcome::NoCredential
        ));
    }

    #[test]
    fn a_custom_header_takes_the_raw_value() {
        let keys = vec![("k".to_owned(), secret("raw-value-1234"))];
        let p = TokenProvider::new("svc", "x-api-key", keys).unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-api-key", HeaderValue::from_static("raw-value-1234"));
        assert_eq!(client(p.authenticate(&headers)).as_deref(), Some("k"));
        headers.append("x-api-key", HeaderValue::from_static("raw-value-1234"));
        assert!(matches!(p.authenticate(&headers), Outcome::Refused(_)));
    }

    #[test]
    fn bad_key_lists_are_config_errors() {
        let none: Vec<(String, Secret)> = Vec::new();
        assert!(TokenProvider::new("x", "authorization", none).is_err());
        let blank = vec![("a".to_owned(), secret("   "))];
        assert!(TokenProvider::new("x", "authorization", blank).is_err());
        let twins = vec![
            ("a".to_owned(), secret("same-1")),
            ("b".to_owned(), secret("same-1")),
        ];
        assert!(
            TokenProvider::new("x", "authorization", twins)
                .unwrap_err()
                .contains("same value")
        );
        let ids = vec![
            ("a".to_owned(), secret("one-1")),
            ("a".to_owned(), secret("two-2")),
        ];
        assert!(TokenProvider::new("x", "authorization", ids).is_err());
    }

    #[test]
    fn debug_shows_ids_not_values() {
        let text = format!("{:?}", provider());
        assert!(
            text.contains("current") && !text.contains("cron-secret"),
            "{text}"
        );
    }
}
