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
    // Every word of every Authorization and apikey value: a leak detector looks wide, since
    // it decides nothing but a refusal.
    let values = headers
        .get_all(AUTHORIZATION)
        .iter()
        .chain(headers.get_all(&APIKEY));
    let mut words = values.flat_map(|value| {
        value
            .as_bytes()
            .split(|b| b.is_ascii_whitespace() || matches!(b, b',' | b'"' | b'\'' | 0xa0))
            .filter(|word| !word.is_empty())
    });
    if words.any(is_service_key) {
        tracing::warn!(
            reason = "service_key_from_browser",
            "a Supabase service key arrived in a browser request: it has leaked into \
             front-end code; rotate it"
        );
        return Err(Rejection::Forbidden("service_key_from_browser"));
    }
    Ok(())
}

fn from_browser(headers: &HeaderMap) -> bool {
    let browser_mode = headers.get_all(&SEC_FETCH_MODE).iter().any(|mode| {
        let mode = mode.as_bytes().trim_ascii();
        mode.eq_ignore_ascii_case(b"cors") || mode.eq_ignore_ascii_case(b"navigate")
    });
    headers.contains_key(ORIGIN) || browser_mode
}

/// Whether `credential` is a Supabase secret key or a `service_role` JWT.
fn is_service_key(credential: &[u8]) -> bool {
    if credential.len() >= 10 && credential[..10].eq_ignore_ascii_case(b"sb_secret_") {
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
    let unpadded: Vec<u8> = payload.iter().copied().filter(|b| *b != b'=').collect();
    let Ok(json) = URL_SAFE_NO_PAD.decode(&unpadded) else {
        return false;
    };
    // Every `"role": "service_role"` member counts, so a duplicate key cannot hide one.
    let text = String::from_utf8_lossy(&json);
    text.match_indices("\"role\"").any(|(at, key)| {
        let rest = text[at + key.len()..].trim_start();
        rest.strip_prefix(':')
            .is_some_and(|value| value.trim_start().starts_with("\"service_role\""))
    })
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
        let duplicate_role = jwt(r#"{"role":"service_role","role":"anon"}"#);
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
            vec![("sec-fetch-mode", "CORS"), ("apikey", "SB_SECRET_abc")],
            vec![
                ("sec-fetch-mode", "no-cors"),
                ("sec-fetch-mode", "cors"),
                ("apikey", "x, sb_secret_a"),
            ],
            vec![
                ("origin", "https://a.com"),
                ("authorization", "Bearer\t\"sb_secret_q\""),
            ],
            vec![
                ("origin", "https://a.com"),
                ("apikey", duplicate_role.as_str()),
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
