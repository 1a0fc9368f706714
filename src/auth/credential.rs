//! Where a user's token is found: `Authorization: Bearer`, else the Supabase session cookie.
//!
//! The header wins when both are present: a request is judged by the credential the client
//! chose to send explicitly, and a bad bearer token is never rescued by a cookie.

use http::HeaderMap;
use http::header::AUTHORIZATION;

use super::session_cookie;

/// The token of an `Authorization: Bearer <token>` value (scheme case-insensitive), or `None`
/// for another scheme. A value that starts like the Bearer scheme but is not exactly
/// `Bearer`, one space, then the token (a tab, a no-break space, nothing) gives an empty
/// token, which is refused: it must not count as "no bearer token" and let a cookie decide
/// while the app, reading the header more loosely, takes it for verified.
pub fn bearer(value: &[u8]) -> Option<&[u8]> {
    let value = value.trim_ascii();
    let (scheme, rest) = match value.split_at_checked(6) {
        Some(split) => split,
        None => (value, &b""[..]),
    };
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return None;
    }
    match rest.split_first() {
        Some((b' ', token)) if !token.is_empty() => Some(token.trim_ascii_start()),
        _ if rest.first().is_some_and(|b| b.is_ascii_alphanumeric()) => None,
        _ => Some(b""),
    }
}

/// The request's user token: the bearer token, else (with `cookie` set) the session cookie's
/// access token. `Ok(None)` when there is neither; `Err` names why a presented one is unusable.
pub fn user_token(
    headers: &HeaderMap,
    cookie: Option<&str>,
) -> Result<Option<String>, &'static str> {
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
            return Ok(Some(token.to_owned()));
        }
    }
    let Some(name) = cookie else {
        return Ok(None);
    };
    session_cookie::access_token(headers, name).map_err(|error| error.reason())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_scheme_is_case_insensitive_and_needs_a_space() {
        assert_eq!(bearer(b"Bearer abc"), Some(&b"abc"[..]));
        assert_eq!(bearer(b"bEaReR   abc "), Some(&b"abc"[..]));
        assert_eq!(bearer(b"Bearer"), Some(&b""[..]));
        assert_eq!(
            bearer(b"Bearer\tabc"),
            Some(&b""[..]),
            "a tab is no separator"
        );
        assert_eq!(
            bearer(b"Bearer\xa0abc"),
            Some(&b""[..]),
            "nor a no-break space"
        );
        assert_eq!(bearer(b"Bearer:abc"), Some(&b""[..]));
        assert_eq!(
            bearer(b"Bearerabc"),
            None,
            "another scheme that merely starts alike"
        );
        assert_eq!(bearer(b"Basic abc"), None);
        assert_eq!(bearer(b"Bear"), None);
    }
}
