//! Tests for the session cookie reader, with sessions encoded the way `@supabase/ssr` does.

use super::*;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use proptest::prelude::*;
use serde_json::json;

const NAME: &str = "sb-abcdefghijklmnopqrst-auth-token";
/// `@supabase/ssr`'s chunk size, measured on the `encodeURIComponent` form.
const SSR_CHUNK: usize = 3180;
/// Identities in a session that needs at least three chunks.
const BIG: usize = 8;

/// What JavaScript's `encodeURIComponent` leaves alone.
const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

fn encode_uri_component(s: &str) -> String {
    utf8_percent_encode(s, URI_COMPONENT).to_string()
}

fn decode_uri_component(s: &str) -> Option<String> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

/// A token shaped like a Supabase ES256 access token.
fn jwt(sub: &str) -> String {
    let header =
        json!({"alg": "ES256", "kid": "b81269f1-21d8-4f2e-b719-c2240a840d90", "typ": "JWT"});
    let claims = json!({
        "iss": "https://abcdefghijklmnopqrst.supabase.co/auth/v1",
        "sub": sub,
        "aud": "authenticated",
        "exp": 1_767_225_600,
        "iat": 1_767_222_000,
        "email": "zoe@example.com",
        "phone": "",
        "app_metadata": {"provider": "google", "providers": ["google"]},
        "user_metadata": {"full_name": "Zoë Example", "email_verified": true},
        "role": "authenticated",
        "aal": "aal1",
        "amr": [{"method": "oauth", "timestamp": 1_767_222_000}],
        "session_id": "9f0b3a55-4a1e-4d2a-9b8e-3c1f5d7e9a10",
        "is_anonymous": false
    });
    let sig: Vec<u8> = (0u8..64)
        .map(|i| i.wrapping_mul(37).wrapping_add(11))
        .collect();
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode(sig)
    )
}

/// A session object like auth-js stores it; `identities` copies of a Google identity make it
/// grow past one cookie.
fn session(token: &str, identities: usize) -> serde_json::Value {
    let identity = json!({
        "identity_id": "2f6d3c1e-8b7a-4c5d-9e0f-1a2b3c4d5e6f",
        "id": "108234567890123456789",
        "user_id": "5b1f7c0e-3d2a-4e8b-9c6f-0a1b2c3d4e5f",
        "identity_data": {
            "avatar_url": "https://lh3.googleusercontent.com/a/ACg8ocJ-very-long-avatar-path=s96-c",
            "email": "zoe@example.com",
            "email_verified": true,
            "full_name": "Zoë Ünïcode 東京 🙂",
            "iss": "https://accounts.google.com",
            "name": "Zoë Ünïcode 東京 🙂",
            "provider_id": "108234567890123456789",
            "sub": "108234567890123456789"
        },
        "provider": "google",
        "last_sign_in_at": "2026-01-01T00:00:00.000000Z",
        "created_at": "2025-06-01T12:00:00.000000Z",
        "updated_at": "2026-01-01T00:00:00.000000Z",
        "email": "zoe@example.com"
    });
    json!({
        "access_token": token,
        "token_type": "bearer",
        "expires_in": 3600,
        "expires_at": 1_767_225_600,
        "refresh_token": "ykq3z2m4wdxa",
        "user": {
            "id": "5b1f7c0e-3d2a-4e8b-9c6f-0a1b2c3d4e5f",
            "aud": "authenticated",
            "role": "authenticated",
            "email": "zoe@example.com",
            "email_confirmed_at": "2025-06-01T12:00:00.000000Z",
            "phone": "",
            "confirmed_at": "2025-06-01T12:00:00.000000Z",
            "last_sign_in_at": "2026-01-01T00:00:00.000000Z",
            "app_metadata": {"provider": "google", "providers": ["google"]},
            "user_metadata": {"full_name": "Zoë Ünïcode 東京 🙂", "email_verified": true},
            "identities": vec![identity; identities],
            "created_at": "2025-06-01T12:00:00.000000Z",
            "updated_at": "2026-01-01T00:00:00.000000Z",
            "is_anonymous": false
        }
    })
}

/// `@supabase/ssr`'s `createChunks`: cut the `encodeURIComponent` form at `size`, never inside
/// an escape or a UTF-8 sequence, and store each piece decoded.
fn create_chunks(key: &str, value: &str, size: usize) -> Vec<(String, String)> {
    let mut encoded = encode_uri_component(value);
    if encoded.len() <= size {
        return vec![(key.to_owned(), value.to_owned())];
    }
    let mut pieces = Vec::new();
    while !encoded.is_empty() {
        let mut head = encoded[..size.min(encoded.len())].to_owned();
        if let Some(pos) = head.rfind('%')
            && pos + 3 > size
        {
            head.truncate(pos);
        }
        let piece = loop {
            match decode_uri_component(&head) {
                Some(piece) => break piece,
                None => {
                    assert!(head.len() > 3 && head.as_bytes()[head.len() - 3] == b'%');
                    head.truncate(head.len() - 3);
                }
            }
        };
        pieces.push(piece);
        encoded.drain(..head.len());
    }
    pieces
        .into_iter()
        .enumerate()
        .map(|(i, v)| (format!("{key}.{i}"), v))
        .collect()
}

#[derive(Clone, Copy, Debug)]
enum Enc {
    /// `cookieEncoding: "raw"` (and ssr before 0.4.0).
    Raw,
    /// The default: `base64-` + URL-safe alphabet, no padding.
    Base64Url,
    /// Not written by ssr, accepted anyway: URL-safe alphabet with padding.
    Base64UrlPadded,
    /// Not written by ssr, accepted anyway: standard alphabet with padding.
    Base64Std,
}

fn encode(json: &str, enc: Enc) -> String {
    match enc {
        Enc::Raw => json.to_owned(),
        Enc::Base64Url => format!("base64-{}", URL_SAFE_NO_PAD.encode(json)),
        Enc::Base64UrlPadded => format!("base64-{}", URL_SAFE.encode(json)),
        Enc::Base64Std => format!("base64-{}", STANDARD.encode(json)),
    }
}

/// The `name=value` pairs a browser sends back after ssr set them (serializers apply
/// `encodeURIComponent` to each value).
fn ssr_pairs(json: &str, enc: Enc, size: usize) -> Vec<String> {
    create_chunks(NAME, &encode(json, enc), size)
        .into_iter()
        .map(|(k, v)| format!("{k}={}", encode_uri_component(&v)))
        .collect()
}

fn headers(lines: &[String]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for line in lines {
        map.append(
            COOKIE,
            http::HeaderValue::from_str(line).expect("valid header"),
        );
    }
    map
}

fn one_line(pairs: &[String]) -> HeaderMap {
    headers(&[pairs.join("; ")])
}

fn read(map: &HeaderMap) -> Result<Option<String>, CookieError> {
    access_token(map, NAME)
}

fn pair(k: &str, v: &str) -> String {
    format!("{k}={v}")
}

fn b64(json: &str) -> String {
    encode(json, Enc::Base64Url)
}

// ---- formats ----

#[test]
fn base64url_unpadded_like_ssr_default() {
    let token = jwt("u1");
    let pairs = ssr_pairs(&session(&token, 0).to_string(), Enc::Base64Url, SSR_CHUNK);
    assert_eq!(pairs.len(), 1, "a small session stays unchunked");
    assert!(pairs[0].starts_with(&format!("{NAME}=base64-")));
    assert_eq!(read(&one_line(&pairs)), Ok(Some(token)));
}

#[test]
fn base64url_padded() {
    let token = jwt("u2");
    let json = session(&token, 0).to_string();
    let value = encode(&json, Enc::Base64UrlPadded);
    assert!(
        value.ends_with('='),
        "pick a session whose base64 needs padding"
    );
    assert_eq!(
        read(&one_line(&[pair(NAME, &value)])),
        Ok(Some(token.clone()))
    );
    // Serialized with encodeURIComponent the padding arrives as %3D.
    let pairs = ssr_pairs(&json, Enc::Base64UrlPadded, SSR_CHUNK);
    assert!(pairs[0].ends_with("%3D"));
    assert_eq!(read(&one_line(&pairs)), Ok(Some(token)));
}

#[test]
fn base64_standard_alphabet_literal_and_percent_encoded() {
    // Find a session whose standard base64 contains '+' or '/'.
    let (token, json) = (0..50)
        .map(|i| {
            let token = jwt(&format!("user-{i}-é"));
            let json = session(&token, 0).to_string();
            (token, json)
        })
        .find(|(_, json)| STANDARD.encode(json).contains(['+', '/']))
        .expect("some session uses + or /");
    let value = encode(&json, Enc::Base64Std);
    assert_eq!(
        read(&one_line(&[pair(NAME, &value)])),
        Ok(Some(token.clone()))
    );
    let pairs = ssr_pairs(&json, Enc::Base64Std, SSR_CHUNK);
    assert!(pairs.iter().any(|p| p.contains("%2B") || p.contains("%2F")));
    assert_eq!(read(&one_line(&pairs)), Ok(Some(token)));
}

#[test]
fn raw_json_url_encoded_on_the_wire() {
    let token = jwt("u3");
    let pairs = ssr_pairs(&session(&token, 0).to_string(), Enc::Raw, SSR_CHUNK);
    assert!(pairs.iter().any(|p| p.contains("%7B%22access_token%22")));
    assert_eq!(read(&one_line(&pairs)), Ok(Some(token)));
}

#[test]
fn raw_json_literal_on_the_wire() {
    let token = jwt("u4");
    let json = json!({"access_token": token, "refresh_token": "r", "expires_at": 1}).to_string();
    assert_eq!(read(&one_line(&[pair(NAME, &json)])), Ok(Some(token)));
}

#[test]
fn legacy_auth_helpers_array() {
    let token = jwt("u5");
    let json = json!([token, "refresh", null, null, []]).to_string();
    let pairs = ssr_pairs(&json, Enc::Raw, 3600);
    assert_eq!(read(&one_line(&pairs)), Ok(Some(token.clone())));
    assert_eq!(read(&one_line(&[pair(NAME, &b64(&json))])), Ok(Some(token)));
    for bad in ["[]", "[null, \"r\"]", "[42]", "[[\"a.b.c\"]]"] {
        assert_eq!(
            read(&one_line(&[pair(NAME, &b64(bad))])),
            Err(CookieError::NoAccessToken),
            "{bad}"
        );
    }
}

#[test]
fn quoted_value_and_whitespace() {
    let token = jwt("u6");
    let value = b64(&session(&token, 0).to_string());
    let map = headers(&[format!("a=1;  {NAME} = \"{value}\" ;b=2")]);
    assert_eq!(read(&map), Ok(Some(token)));
}

// ---- chunking ----

#[test]
fn chunked_base64_in_order() {
    let token = jwt("u7");
    let json = session(&token, BIG).to_string();
    let pairs = ssr_pairs(&json, Enc::Base64Url, SSR_CHUNK);
    assert!(pairs.len() >= 3, "{} chunks", pairs.len());
    for (i, p) in pairs.iter().enumerate() {
        let (k, v) = p.split_once('=').expect("pair");
        assert_eq!(k, format!("{NAME}.{i}"));
        assert!(v.len() <= SSR_CHUNK);
    }
    assert_eq!(read(&one_line(&pairs)), Ok(Some(token)));
}

#[test]
fn chunked_raw_json_with_unicode() {
    let token = jwt("u8");
    let json = session(&token, BIG).to_string();
    let pairs = ssr_pairs(&json, Enc::Raw, SSR_CHUNK);
    assert!(pairs.len() >= 2);
    assert!(pairs.iter().all(|p| p.len() - NAME.len() - 3 <= SSR_CHUNK));
    assert_eq!(read(&one_line(&pairs)), Ok(Some(token)));
}

#[test]
fn chunks_over_several_lines_and_out_of_order() {
    let token = jwt("u9");
    let mut pairs = ssr_pairs(&session(&token, BIG).to_string(), Enc::Base64Url, SSR_CHUNK);
    assert!(pairs.len() >= 3);
    pairs.reverse();
    let mut lines: Vec<String> = pairs.iter().map(|p| format!("theme=dark; {p}")).collect();
    lines.insert(1, "other=1; x=2".to_owned());
    assert_eq!(read(&headers(&lines)), Ok(Some(token.clone())));
    pairs.rotate_left(1);
    assert_eq!(read(&one_line(&pairs)), Ok(Some(token)));
}

#[test]
fn exactly_max_chunks_is_accepted() {
    let token = jwt("u10");
    let value = b64(&session(&token, 0).to_string());
    let size = value.len().div_ceil(MAX_CHUNKS);
    let pairs = create_chunks(NAME, &value, size);
    assert_eq!(pairs.len(), MAX_CHUNKS);
    let pairs: Vec<String> = pairs.iter().map(|(k, v)| pair(k, v)).collect();
    assert_eq!(read(&one_line(&pairs)), Ok(Some(token)));
}

#[test]
fn missing_middle_chunk() {
    let mut pairs = ssr_pairs(
        &session(&jwt("a"), BIG).to_string(),
        Enc::Base64Url,
        SSR_CHUNK,
    );
    assert!(pairs.len() >= 3);
    pairs.remove(1);
    assert_eq!(read(&one_line(&pairs)), Err(CookieError::MissingChunk(1)));
}

#[test]
fn missing_first_chunk() {
    let mut pairs = ssr_pairs(
        &session(&jwt("a"), BIG).to_string(),
        Enc::Base64Url,
        SSR_CHUNK,
    );
    pairs.remove(0);
    assert_eq!(read(&one_line(&pairs)), Err(CookieError::MissingChunk(0)));
}

#[test]
fn extra_chunk_after_a_gap() {
    let mut pairs = ssr_pairs(
        &session(&jwt("a"), BIG).to_string(),
        Enc::Base64Url,
        SSR_CHUNK,
    );
    let n = pairs.len();
    pairs.push(pair(&format!("{NAME}.{}", n + 1), "AAAA"));
    assert_eq!(read(&one_line(&pairs)), Err(CookieError::MissingChunk(n)));
}

#[test]
fn stale_extra_chunk_breaks_decoding() {
    // A leftover chunk from a longer, older session right after the last one.
    let mut pairs = ssr_pairs(
        &session(&jwt("a"), BIG).to_string(),
        Enc::Base64Url,
        SSR_CHUNK,
    );
    let n = pairs.len();
    pairs.push(pair(&format!("{NAME}.{n}"), "eyJzdGFsZSI6dHJ1ZX0"));
    assert!(matches!(
        read(&one_line(&pairs)),
        Err(CookieError::BadBase64 | CookieError::NotUtf8 | CookieError::BadJson)
    ));
}

// ---- refusing ambiguity ----

#[test]
fn duplicate_whole_cookie() {
    let token = jwt("a");
    let value = b64(&session(&token, 0).to_string());
    let planted = b64(&session(&jwt("attacker"), 0).to_string());
    let map = headers(&[pair(NAME, &value), pair(NAME, &planted)]);
    assert_eq!(read(&map), Err(CookieError::Duplicate));
    // Even identical values: two cookies of one name are two scopes.
    let map = one_line(&[pair(NAME, &value), pair(NAME, &value)]);
    assert_eq!(read(&map), Err(CookieError::Duplicate));
}

#[test]
fn duplicate_chunk() {
    let mut pairs = ssr_pairs(
        &session(&jwt("a"), BIG).to_string(),
        Enc::Base64Url,
        SSR_CHUNK,
    );
    let again = pairs[1].clone();
    pairs.push(again);
    assert_eq!(read(&one_line(&pairs)), Err(CookieError::Duplicate));
}

#[test]
fn whole_and_chunks_together() {
    let token = jwt("a");
    let whole = pair(NAME, &b64(&session(&token, 0).to_string()));
    let mut pairs = ssr_pairs(&session(&token, BIG).to_string(), Enc::Base64Url, SSR_CHUNK);
    pairs.push(whole.clone());
    assert_eq!(read(&one_line(&pairs)), Err(CookieError::Ambiguous));
    // Only a stray later chunk next to the whole cookie: still ambiguous.
    let map = one_line(&[whole, pair(&format!("{NAME}.3"), "x")]);
    assert_eq!(read(&map), Err(CookieError::Ambiguous));
}

// ---- malformed values ----

#[test]
fn garbage_base64() {
    for value in [
        "base64-***",
        "base64-a",
        "base64-eyJ%",
        "base64-AAAA=====",
        "base64-ab-+",
    ] {
        assert_eq!(
            read(&one_line(&[pair(NAME, value)])),
            Err(CookieError::BadBase64),
            "{value}"
        );
    }
}

#[test]
fn base64_of_non_json_and_non_utf8() {
    let not_json = format!("base64-{}", URL_SAFE_NO_PAD.encode("hello"));
    assert_eq!(
        read(&one_line(&[pair(NAME, &not_json)])),
        Err(CookieError::BadJson)
    );
    let not_utf8 = format!("base64-{}", URL_SAFE_NO_PAD.encode([0xff, 0xfe, b'{']));
    assert_eq!(
        read(&one_line(&[pair(NAME, &not_utf8)])),
        Err(CookieError::NotUtf8)
    );
}

#[test]
fn not_utf8_on_the_wire() {
    assert_eq!(
        read(&one_line(&[pair(NAME, "%FF%FE")])),
        Err(CookieError::NotUtf8)
    );
    let mut map = HeaderMap::new();
    let mut raw = format!("{NAME}=").into_bytes();
    raw.extend([0xc3, 0x28]);
    map.append(
        COOKIE,
        http::HeaderValue::from_bytes(&raw).expect("obs-text is allowed"),
    );
    assert_eq!(read(&map), Err(CookieError::NotUtf8));
}

#[test]
fn not_json() {
    for value in ["", "%7B", "{", "eyJhbGciOi.abc.def", "base64-", "undefined"] {
        assert_eq!(
            read(&one_line(&[pair(NAME, value)])),
            Err(CookieError::BadJson),
            "{value}"
        );
    }
}

#[test]
fn json_without_access_token() {
    for json in [
        json!({"refresh_token": "r", "user": {"id": "x"}}),
        json!({"access_token": null}),
        json!({"access_token": 7}),
        json!({"access_token": {"token": "a.b.c"}}),
        json!({"session": {"access_token": jwt("a")}}),
        json!("a.b.c"),
        json!(null),
        json!(12),
    ] {
        let value = b64(&json.to_string());
        assert_eq!(
            read(&one_line(&[pair(NAME, &value)])),
            Err(CookieError::NoAccessToken),
            "{json}"
        );
    }
}

#[test]
fn implausible_tokens() {
    let long = format!("{}.{}.{}", "a".repeat(MAX_TOKEN_BYTES), "b", "c");
    let cases = [
        ("", CookieError::BadToken),
        ("abc", CookieError::BadToken),
        ("a.b", CookieError::BadToken),
        ("a.b.c.d", CookieError::BadToken),
        ("a..c", CookieError::BadToken),
        ("a.b.", CookieError::BadToken),
        ("a.b+/.c", CookieError::BadToken),
        ("a.b.c=", CookieError::BadToken),
        ("a.b c.d", CookieError::BadToken),
        ("a.é.c", CookieError::BadToken),
        (long.as_str(), CookieError::TokenTooLarge),
    ];
    for (token, want) in cases {
        let value = b64(&json!({ "access_token": token }).to_string());
        assert_eq!(
            read(&one_line(&[pair(NAME, &value)])),
            Err(want),
            "{token:.20}"
        );
    }
    let value = b64(&json!({ "access_token": "a.b.c" }).to_string());
    assert_eq!(
        read(&one_line(&[pair(NAME, &value)])),
        Ok(Some("a.b.c".to_owned()))
    );
}

// ---- bounds ----

#[test]
fn oversized_whole_cookie() {
    let value = format!("base64-{}", "A".repeat(MAX_COOKIE_BYTES));
    assert_eq!(
        read(&one_line(&[pair(NAME, &value)])),
        Err(CookieError::TooLarge)
    );
}

#[test]
fn oversized_chunked_cookie() {
    let json = session(&jwt("a"), 80).to_string();
    let pairs = ssr_pairs(&json, Enc::Base64Url, SSR_CHUNK);
    let total: usize = pairs.iter().map(|p| p.len() - NAME.len() - 3).sum();
    assert!(pairs.len() < MAX_CHUNKS, "{} chunks", pairs.len());
    assert!(total > MAX_COOKIE_BYTES, "{total} bytes");
    assert_eq!(read(&one_line(&pairs)), Err(CookieError::TooLarge));
}

#[test]
fn too_many_chunks() {
    let pairs: Vec<String> = (0..=MAX_CHUNKS)
        .map(|i| pair(&format!("{NAME}.{i}"), "QQ"))
        .collect();
    assert_eq!(read(&one_line(&pairs)), Err(CookieError::TooManyChunks));
    for index in [
        "32",
        "99",
        "100",
        "18446744073709551616",
        "999999999999999999999999",
    ] {
        let map = one_line(&[pair(&format!("{NAME}.{index}"), "x")]);
        assert_eq!(read(&map), Err(CookieError::TooManyChunks), "{index}");
    }
}

// ---- neighbours ----

#[test]
fn lookalike_names_are_ignored() {
    let token = jwt("me");
    let other = b64(&session(&jwt("someone-else"), 0).to_string());
    let lookalikes = [
        pair(&format!("{NAME}-code-verifier"), "%22abc%22"),
        pair(&format!("{NAME}.x"), &other),
        pair(&format!("{NAME}.01"), &other),
        pair(&format!("{NAME}."), &other),
        pair(&format!("{NAME}.-1"), &other),
        pair(&format!("{NAME}.1a"), &other),
        pair(&format!("{NAME}0"), &other),
        pair(&format!("x{NAME}"), &other),
        pair(&format!("x{NAME}.0"), &other),
        pair("sb-zzzzzzzzzzzzzzzzzzzz-auth-token", &other),
        pair(&NAME.to_uppercase(), &other),
        NAME.to_owned(),
        "=".to_owned(),
        String::new(),
    ];
    assert_eq!(read(&one_line(&lookalikes)), Ok(None));
    let mut pairs = lookalikes.to_vec();
    pairs.insert(4, pair(NAME, &b64(&session(&token, 0).to_string())));
    assert_eq!(read(&one_line(&pairs)), Ok(Some(token)));
}

#[test]
fn absent() {
    assert_eq!(read(&HeaderMap::new()), Ok(None));
    assert_eq!(
        read(&headers(&["a=b; c=d".to_owned(), String::new()])),
        Ok(None)
    );
    let value = b64(&session(&jwt("x"), 0).to_string());
    assert_eq!(access_token(&one_line(&[pair(NAME, &value)]), ""), Ok(None));
    assert_eq!(
        access_token(&one_line(&[format!("={value}")]), ""),
        Ok(None)
    );
}

// ---- errors ----

#[test]
fn error_names() {
    let all = [
        CookieError::TooLarge,
        CookieError::TooManyChunks,
        CookieError::MissingChunk(3),
        CookieError::Duplicate,
        CookieError::Ambiguous,
        CookieError::NotUtf8,
        CookieError::BadBase64,
        CookieError::BadJson,
        CookieError::NoAccessToken,
        CookieError::BadToken,
        CookieError::TokenTooLarge,
    ];
    let mut reasons = std::collections::HashSet::new();
    for e in all {
        let shown = e.to_string();
        assert_eq!(shown, shown.to_lowercase());
        assert!(
            e.reason()
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        );
        assert!(reasons.insert(e.reason()), "{} repeated", e.reason());
    }
    assert_eq!(
        CookieError::MissingChunk(3).to_string(),
        "session cookie chunk 3 is missing"
    );
}

#[test]
fn fuzz_one_samples() {
    let good = b64(&json!({"access_token": "a.b.c"}).to_string());
    fuzz_one(format!("sb={good}").as_bytes());
    fuzz_one(format!("sb.1=x\nsb.0={good}").as_bytes());
    fuzz_one(b"sb.0=\"\nsb.1=\x00\xff\nsb=\"\"");
    fuzz_one(b"");
}

// ---- properties ----

fn piece_name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("sb".to_owned()),
        (0usize..40).prop_map(|i| format!("sb.{i}")),
        Just("sb-code-verifier".to_owned()),
        Just("sb.x".to_owned()),
        Just("xsb".to_owned()),
        "[ -~]{0,6}",
    ]
}

fn piece_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9_=+/-]{0,40}".prop_map(|s| format!("base64-{s}")),
        "[ -:<-~]{0,40}",
        Just(b64(&json!({"access_token": "a.b.c"}).to_string())),
        Just("%7B%22access_token%22%3A%22x.y.z%22%7D".to_owned()),
    ]
}

proptest! {
    #[test]
    fn never_panics_on_arbitrary_bytes(lines in prop::collection::vec(
        prop::collection::vec(any::<u8>(), 0..200), 0..6)) {
        let mut map = HeaderMap::new();
        for line in &lines {
            if let Ok(value) = http::HeaderValue::from_bytes(line) {
                map.append(COOKIE, value);
            }
        }
        if let Ok(Some(token)) = access_token(&map, "sb") {
            prop_assert!(check_token(&token).is_ok());
        }
        let joined: Vec<u8> = lines.join(&b'\n');
        fuzz_one(&joined);
    }

    #[test]
    fn never_panics_on_shaped_pieces(pieces in prop::collection::vec(
        (piece_name(), piece_value()), 0..12), split in 0usize..12) {
        let pairs: Vec<String> = pieces.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let (a, b) = pairs.split_at(split.min(pairs.len()));
        let lines = [a.join("; "), b.join(";")];
        let mut map = HeaderMap::new();
        for line in &lines {
            if let Ok(value) = http::HeaderValue::from_str(line) {
                map.append(COOKIE, value);
            }
        }
        if let Ok(Some(token)) = access_token(&map, "sb") {
            prop_assert!(check_token(&token).is_ok());
        }
    }

    #[test]
    fn ssr_encodings_round_trip(
        name in "\\PC{0,300}",
        size in 40usize..3200,
        enc in prop_oneof![
            Just(Enc::Raw), Just(Enc::Base64Url), Just(Enc::Base64UrlPadded), Just(Enc::Base64Std)
        ],
        reverse in any::<bool>(),
    ) {
        let token = jwt("p");
        let mut s = session(&token, 1);
        s["user"]["user_metadata"]["full_name"] = json!(name);
        let mut pairs = ssr_pairs(&s.to_string(), enc, size);
        prop_assume!(pairs.len() <= MAX_CHUNKS);
        if reverse {
            pairs.reverse();
        }
        prop_assert_eq!(read(&one_line(&pairs)), Ok(Some(token)));
    }
}
