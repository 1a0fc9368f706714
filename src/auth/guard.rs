//! The Supabase key guard: a service key seen in a browser request means it has leaked into
//! front-end code, where anyone can read it. Such a request is refused (403) on every route
//! and logged at warn, so the leak is noticed before it is abused.
//!
//! A service key is a Supabase secret key (`sb_secret_…`) or a JWT whose `role` is
//! `service_role`, presented as a bearer token or an `apikey` header. A browser context is an
//! `Origin` header or `Sec-Fetch-Mode: cors` / `navigate`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::HeaderMap;
use http::header::{AUTHORIZATION, HeaderName, ORIGIN};

use super::credential::bearer;
use crate::error::Rejection;

static APIKEY: HeaderName = HeaderName::from_static("apikey");
static SEC_FETCH_MODE: HeaderName = HeaderName::from_static("sec-fetch-mode");

/// The longest token whose payload is looked at.
const MAX_GUARDED_TOKEN: usize = 8 * 1024;

/// Refuses a request from a browser that carries a Supabase service key.
pub fn refuse_leaked_service_key(headers: &HeaderMap) -> Result<(), Rejection> {
    if !from_browser(headers) {
        return Ok(());
    }
    let bearers = headers
        .get_all(AUTHORIZATION)
        .iter()
        .filter_map(|v| bearer(v.as_bytes()));
    let apikeys = headers
        .get_all(&APIKEY)
        .iter()
        .map(|v| v.as_bytes().trim_ascii());
    for credential in bearers.chain(apikeys) {
        if is_service_key(credential) {
            tracing::warn!(
                reason = "service_key_from_browser",
                "a Supabase service key arrived in a browser request: it has leaked into \
                 front-end code; rotate it"
            );
            return Err(Rejection::Forbidden("service_key_from_browser"));
        }
    }
    Ok(())
}

fn from_browser(headers: &HeaderMap) -> bool {
    let mode = headers.get(&SEC_FETCH_MODE).map(|v| v.as_bytes());
    headers.contains_key(ORIGIN) || matches!(mode, Some(b"cors" | b"navigate"))
}

/// Whether `credential` is a Supabase secret key or a `service_role` JWT.
fn is_service_key(credential: &[u8]) -> bool {
    if credential.starts_with(b"sb_secret_") {
        return true;
    }
    if credential.len() > MAX_GUARDED_TOKEN {
        return false;
    }
    // Only the claim is read, unverified: this decides nothing but a refusal.
    let mut segments = credential.split(|b| *b == b'.');
    let (Some(_), Some(payload), Some(_), None) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        return false;
    };
    let Ok(json) = URL_SAFE_NO_PAD.decode(payload) else {
        return false;
    };
    let role = serde_json::from_slice::<serde_json::Value>(&json)
        .ok()
        .and_then(|claims| {
            claims
                .get("role")
                .and_then(|r| r.as_str().map(str::to_owned))
        });
    role.as_deref() == Some("service_role")
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn jwt(payload: &str) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        format!("{header}.{}.c2ln", URL_SAFE_NO_PAD.encode(payload))
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    #[test]
    fn service_keys_from_a_browser_are_refused() {
        let service = jwt(r#"{"role":"service_role","iss":"supabase"}"#);
        let bearer = format!("Bearer {service}");
        let cases = [
            vec![
                ("origin", "https://yourapp.com"),
                ("authorization", bearer.as_str()),
            ],
            vec![("sec-fetch-mode", "cors"), ("apikey", service.as_str())],
            vec![
                ("sec-fetch-mode", "navigate"),
                ("apikey", "sb_secret_abc123"),
            ],
            vec![
                ("origin", "null"),
                ("authorization", "Bearer sb_secret_abc123"),
            ],
        ];
        for case in cases {
            assert!(
                refuse_leaked_service_key(&headers(&case)).is_err(),
                "{case:?}"
            );
        }
    }

    #[test]
    fn servers_and_ordinary_keys_pass() {
        let service = jwt(r#"{"role":"service_role"}"#);
        let anon = jwt(r#"{"role":"anon"}"#);
        let bearer = format!("Bearer {service}");
        // A server calling with its service key is not a leak.
        assert!(refuse_leaked_service_key(&headers(&[("authorization", &bearer)])).is_ok());
        let browser_anon = [("origin", "https://yourapp.com"), ("apikey", anon.as_str())];
        assert!(refuse_leaked_service_key(&headers(&browser_anon)).is_ok());
        let publishable = [
            ("origin", "https://a.com"),
            ("apikey", "sb_publishable_xyz"),
        ];
        assert!(refuse_leaked_service_key(&headers(&publishable)).is_ok());
        let garbage = [
            ("origin", "https://a.com"),
            ("authorization", "Bearer a.%%%.c"),
        ];
        assert!(refuse_leaked_service_key(&headers(&garbage)).is_ok());
    }
}
