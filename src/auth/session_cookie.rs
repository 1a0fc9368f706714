//! Reads the user's access token out of a Supabase SSR session cookie.
//!
//! # The format, as `@supabase/ssr` writes it
//!
//! - The cookie is named after auth-js's storage key, `sb-<project-ref>-auth-token` by default
//!   (or `cookieOptions.name`). Its item value is the session as auth-js stores it: the JSON of
//!   an object with `access_token`, `refresh_token`, `expires_at`, `expires_in`, `token_type`,
//!   `user`, ... (with the `tokens-only` encode option the `user` is left out; the tokens stay).
//! - Since 0.4.0 the default `cookieEncoding` is `base64url`: the value is `base64-` followed by
//!   the UTF-8 bytes of the JSON in the URL-safe alphabet **without** padding. With
//!   `cookieEncoding: "raw"`, and in releases before 0.4.0, the value is the JSON itself, which
//!   cookie serializers (`cookie`'s `serialize`, Next.js) percent-encode on the wire.
//! - A value whose `encodeURIComponent` form is longer than 3180 characters is split into
//!   cookies `NAME.0`, `NAME.1`, ... Each chunk is cut so that its percent-encoded form stays
//!   within 3180 characters without splitting an escape or a UTF-8 sequence, and the reader
//!   re-joins the (individually decoded) chunks by plain concatenation in index order. A value
//!   that fits is stored unchunked under `NAME`.
//! - The older `@supabase/auth-helpers` wrote a JSON array
//!   `[access_token, refresh_token, provider_token, provider_refresh_token, factors]`, chunked
//!   at 3600 characters with the same `NAME.<i>` naming.
//!
//! # What this module accepts
//!
//! Reading is stricter than `@supabase/ssr`'s own reader, because here the cookie is an
//! authentication input that an attacker may shape, for example by planting cookies from a
//! sibling subdomain:
//!
//! - Every `Cookie` header line is read (HTTP/2 may split cookies over several lines). Pairs are
//!   separated by `;`, whitespace around names and values is ignored, and one pair of double
//!   quotes around a value is removed (RFC 6265).
//! - Only `NAME` and `NAME.<i>` belong to the session, where `<i>` is `0` or a decimal number
//!   without a leading zero (the same shape `@supabase/ssr` treats as a chunk). Everything else
//!   (`NAME-code-verifier`, `NAME.x`, `NAME.01`, `xNAME`, ...) is ignored.
//! - Any of those names appearing twice is refused ([`CookieError::Duplicate`]): two cookies of
//!   one name mean two scopes (host-only and domain, or a planted one), and neither is allowed
//!   to win silently or to be mixed with the other.
//! - `NAME` together with any `NAME.<i>` is refused ([`CookieError::Ambiguous`]), where
//!   `@supabase/ssr` would let `NAME` win: a stale or planted cookie must not pick the session.
//! - Chunks must run from `NAME.0` without a gap ([`CookieError::MissingChunk`]); at most
//!   [`MAX_CHUNKS`] chunks and [`MAX_COOKIE_BYTES`] bytes in all are looked at, checked before
//!   any decoding.
//! - An empty value counts as present (and then fails to decode), unlike `@supabase/ssr`, which
//!   treats an empty value as absent.
//! - Each piece is percent-decoded (as a cookie parser would), the pieces are concatenated, and
//!   the result must be UTF-8. With a `base64-` prefix the rest is base64 in either alphabet (not
//!   mixed), padded or not; otherwise it is JSON as is.
//! - The JSON must be an object whose `access_token` is a string, or an array whose first item is
//!   a string. That string must look like a compact JWS (three non-empty base64url segments) and
//!   be at most [`MAX_TOKEN_BYTES`] long. Nothing is verified here: the caller checks the
//!   signature and claims exactly as for a bearer token.
//!
//! Every error means "no token" and so a 401; none of them carries any part of the cookie.

use std::fmt;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use http::HeaderMap;
use http::header::COOKIE;

/// Most chunks (`NAME.0` to `NAME.31`) accepted; a higher index is refused.
pub const MAX_CHUNKS: usize = 32;
/// Most bytes accepted for the cookie value, all chunks together, before decoding.
pub const MAX_COOKIE_BYTES: usize = 64 * 1024;
/// Most bytes accepted for the access token found in the session.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// The prefix `@supabase/ssr` puts before a base64url-encoded session.
const BASE64_PREFIX: &[u8] = b"base64-";

/// Why a session cookie could not give a token (all mean "no token": the caller answers 401).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CookieError {
    /// The cookie's pieces together exceed [`MAX_COOKIE_BYTES`].
    TooLarge,
    /// A chunk index is [`MAX_CHUNKS`] or higher.
    TooManyChunks,
    /// The chunk with this index is absent while a later one is present.
    MissingChunk(usize),
    /// The cookie, or one of its chunks, appears more than once.
    Duplicate,
    /// Both the unchunked cookie and chunks of it are present.
    Ambiguous,
    /// The decoded value is not UTF-8.
    NotUtf8,
    /// The value has the `base64-` prefix but the rest is not valid base64.
    BadBase64,
    /// The value is not JSON.
    BadJson,
    /// The JSON holds no access token string.
    NoAccessToken,
    /// The access token does not look like a compact JWT.
    BadToken,
    /// The access token exceeds [`MAX_TOKEN_BYTES`].
    TokenTooLarge,
}

impl CookieError {
    /// A stable snake_case name for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::TooLarge => "too_large",
            Self::TooManyChunks => "too_many_chunks",
            Self::MissingChunk(_) => "missing_chunk",
            Self::Duplicate => "duplicate",
            Self::Ambiguous => "ambiguous",
            Self::NotUtf8 => "not_utf8",
            Self::BadBase64 => "bad_base64",
            Self::BadJson => "bad_json",
            Self::NoAccessToken => "no_access_token",
            Self::BadToken => "bad_token",
            Self::TokenTooLarge => "token_too_large",
        }
    }
}

impl fmt::Display for CookieError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge => f.write_str("session cookie too large"),
            Self::TooManyChunks => f.write_str("session cookie has too many chunks"),
            Self::MissingChunk(i) => write!(f, "session cookie chunk {i} is missing"),
            Self::Duplicate => f.write_str("session cookie sent more than once"),
            Self::Ambiguous => f.write_str("session cookie sent both whole and in chunks"),
            Self::NotUtf8 => f.write_str("session cookie is not utf-8"),
            Self::BadBase64 => f.write_str("session cookie has invalid base64"),
            Self::BadJson => f.write_str("session cookie is not valid json"),
            Self::NoAccessToken => f.write_str("session cookie holds no access token"),
            Self::BadToken => f.write_str("session access token is malformed"),
            Self::TokenTooLarge => f.write_str("session access token too large"),
        }
    }
}

impl std::error::Error for CookieError {}

/// Finds the session cookie `name` among all `Cookie` headers (there may be several header
/// lines, each with several `k=v` pairs separated by `;`), joins its chunks, decodes it and
/// returns the access token. `Ok(None)` when no such cookie is present at all.
///
/// An empty `name` matches nothing. See the module documentation for what is refused and why.
pub fn access_token(headers: &HeaderMap, name: &str) -> Result<Option<String>, CookieError> {
    let Some(raw) = collect(headers, name.as_bytes())? else {
        return Ok(None);
    };
    let joined = join(&raw);
    let text = String::from_utf8(joined).map_err(|_| CookieError::NotUtf8)?;
    let json = decode_value(&text)?;
    let session: serde_json::Value =
        serde_json::from_str(&json).map_err(|_| CookieError::BadJson)?;
    let token = token_of(&session)?;
    check_token(token)?;
    Ok(Some(token.to_owned()))
}

/// One fuzzing round: `data` is split at `\n` into `Cookie` header lines (lines that are not
/// valid header values are skipped) and read for the cookie `sb`. Panics only if a returned
/// token breaks this module's promises, which is what a fuzz target should report.
pub fn fuzz_one(data: &[u8]) {
    let mut headers = HeaderMap::new();
    for line in data.split(|&b| b == b'\n') {
        if let Ok(value) = http::HeaderValue::from_bytes(line) {
            headers.append(COOKIE, value);
        }
    }
    if let Ok(Some(token)) = access_token(&headers, "sb") {
        assert!(
            check_token(&token).is_ok(),
            "returned token breaks the promised shape"
        );
    }
}

/// The raw (still percent-encoded) pieces of the session cookie.
enum Raw<'a> {
    Whole(&'a [u8]),
    Chunks(Vec<&'a [u8]>),
}

/// What a cookie name is, relative to the session cookie's name.
enum Slot {
    Whole,
    Chunk(usize),
}

/// Scans every `Cookie` line once, refusing duplicates, high indexes and oversize values.
fn collect<'a>(headers: &'a HeaderMap, name: &[u8]) -> Result<Option<Raw<'a>>, CookieError> {
    if name.is_empty() {
        return Ok(None);
    }
    let mut whole: Option<&[u8]> = None;
    let mut chunks: [Option<&[u8]>; MAX_CHUNKS] = [None; MAX_CHUNKS];
    let mut total = 0usize;
    for line in headers.get_all(COOKIE) {
        for pair in line.as_bytes().split(|&b| b == b';') {
            let Some((key, value)) = split_pair(pair) else {
                continue;
            };
            let slot = match slot_of(key, name)? {
                Some(slot) => slot,
                None => continue,
            };
            total = total.saturating_add(value.len());
            if total > MAX_COOKIE_BYTES {
                return Err(CookieError::TooLarge);
            }
            let place = match slot {
                Slot::Whole => &mut whole,
                Slot::Chunk(i) => chunks.get_mut(i).ok_or(CookieError::TooManyChunks)?,
            };
            if place.replace(value).is_some() {
                return Err(CookieError::Duplicate);
            }
        }
    }
    let last = chunks.iter().rposition(Option::is_some);
    match (whole, last) {
        (None, None) => Ok(None),
        (Some(_), Some(_)) => Err(CookieError::Ambiguous),
        (Some(value), None) => Ok(Some(Raw::Whole(value))),
        (None, Some(last)) => {
            let mut pieces = Vec::with_capacity(last + 1);
            for (i, chunk) in chunks.iter().take(last + 1).enumerate() {
                pieces.push(chunk.ok_or(CookieError::MissingChunk(i))?);
            }
            Ok(Some(Raw::Chunks(pieces)))
        }
    }
}

/// Splits `name=value`, trimming whitespace and one pair of quotes around the value.
fn split_pair(pair: &[u8]) -> Option<(&[u8], &[u8])> {
    let eq = pair.iter().position(|&b| b == b'=')?;
    let key = trim(pair.get(..eq)?);
    let mut value = trim(pair.get(eq + 1..)?);
    if let [b'"', inner @ .., b'"'] = value {
        value = inner;
    }
    Some((key, value))
}

/// Removes leading and trailing spaces and tabs.
fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// Whether `key` is the session cookie, one of its chunks, or something else (`None`).
fn slot_of(key: &[u8], name: &[u8]) -> Result<Option<Slot>, CookieError> {
    let Some(rest) = key.strip_prefix(name) else {
        return Ok(None);
    };
    if rest.is_empty() {
        return Ok(Some(Slot::Whole));
    }
    let Some(digits) = rest.strip_prefix(b".") else {
        return Ok(None);
    };
    let shaped = match digits {
        [b'0'] => true,
        [b'1'..=b'9', tail @ ..] => tail.iter().all(u8::is_ascii_digit),
        _ => false,
    };
    if !shaped {
        return Ok(None);
    }
    // At most two digits fit below MAX_CHUNKS; anything longer is out of range as it stands.
    if digits.len() > 2 {
        return Err(CookieError::TooManyChunks);
    }
    let index = digits
        .iter()
        .fold(0usize, |n, &d| n * 10 + usize::from(d - b'0'));
    if index >= MAX_CHUNKS {
        return Err(CookieError::TooManyChunks);
    }
    Ok(Some(Slot::Chunk(index)))
}

/// Percent-decodes each piece and concatenates them in order.
fn join(raw: &Raw<'_>) -> Vec<u8> {
    let pieces: &[&[u8]] = match raw {
        Raw::Whole(value) => std::slice::from_ref(value),
        Raw::Chunks(pieces) => pieces,
    };
    let mut out = Vec::with_capacity(pieces.iter().map(|p| p.len()).sum());
    for piece in pieces {
        out.extend(percent_encoding::percent_decode(piece));
    }
    out
}

/// Turns the joined value into JSON text: base64 when prefixed, as is otherwise.
fn decode_value(text: &str) -> Result<String, CookieError> {
    let Some(encoded) = text.as_bytes().strip_prefix(BASE64_PREFIX) else {
        return Ok(text.to_owned());
    };
    let config =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    let standard = encoded.iter().any(|&b| b == b'+' || b == b'/');
    let engine = if standard {
        GeneralPurpose::new(&alphabet::STANDARD, config)
    } else {
        GeneralPurpose::new(&alphabet::URL_SAFE, config)
    };
    let bytes = engine.decode(encoded).map_err(|_| CookieError::BadBase64)?;
    String::from_utf8(bytes).map_err(|_| CookieError::NotUtf8)
}

/// The access token of a session object, or the first item of the legacy array.
fn token_of(session: &serde_json::Value) -> Result<&str, CookieError> {
    let token = match session {
        serde_json::Value::Object(map) => map.get("access_token"),
        serde_json::Value::Array(items) => items.first(),
        _ => None,
    };
    token
        .and_then(serde_json::Value::as_str)
        .ok_or(CookieError::NoAccessToken)
}

/// Checks that `token` is bounded and shaped like `header.payload.signature` in base64url.
fn check_token(token: &str) -> Result<(), CookieError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(CookieError::TokenTooLarge);
    }
    let mut segments = 0usize;
    for segment in token.split('.') {
        segments += 1;
        let ok = !segment.is_empty()
            && segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok || segments > 3 {
            return Err(CookieError::BadToken);
        }
    }
    if segments == 3 {
        Ok(())
    } else {
        Err(CookieError::BadToken)
    }
}

#[cfg(test)]
mod tests;
