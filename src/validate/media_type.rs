//! The `Content-Type` a route with a body schema accepts: `application/json` or
//! `application/*+json`, in any case, with the spacing real clients send, and a charset (if
//! any) of UTF-8. The body is validated as UTF-8, so a body the app would decode otherwise
//! (`charset=utf-7` makes `+ACI-` a quote) could say something palisade never checked; a
//! `Content-Encoding` other than `identity` likewise.

use http::HeaderMap;
use http::header::CONTENT_TYPE;

/// Whether the request declares a JSON body. A missing or repeated `Content-Type` is not JSON.
pub fn is_json(headers: &HeaderMap) -> bool {
    let mut values = headers.get_all(CONTENT_TYPE).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return false;
    };
    let Ok(value) = value.to_str() else {
        return false;
    };
    let mut parts = value.split(';');
    let essence = parts.next().unwrap_or_default().trim();
    for parameter in parts {
        let (name, setting) = parameter.split_once('=').unwrap_or((parameter, ""));
        let setting = setting.trim().trim_matches('"');
        if name.trim().eq_ignore_ascii_case("charset") && !setting.eq_ignore_ascii_case("utf-8") {
            return false;
        }
    }
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    if !kind.trim().eq_ignore_ascii_case("application") {
        return false;
    }
    let subtype = subtype.trim().to_ascii_lowercase();
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.".contains(&b))
    };
    match subtype.strip_suffix("+json") {
        _ if subtype == "json" => true,
        Some(prefix) => token(prefix),
        None => false,
    }
}

/// Whether the body arrives as sent: no `Content-Encoding`, or only `identity`.
pub fn is_unencoded(headers: &HeaderMap) -> bool {
    headers
        .get_all(http::header::CONTENT_ENCODING)
        .iter()
        .all(|coding| {
            coding.to_str().is_ok_and(|c| {
                c.split(',')
                    .all(|c| c.trim().eq_ignore_ascii_case("identity"))
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn with(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn json_and_vendor_json_with_parameters_pass() {
        for value in [
            "application/json",
            "Application/JSON",
            "application/json; charset=utf-8",
            "application/json;charset=UTF-8",
            "application/json; charset=\"utf-8\"",
            "  application/json  ;  charset = utf-8 ",
            "application/merge-patch+json",
            "application/vnd.api+json; ext=bulk",
        ] {
            assert!(is_json(&with(value)), "{value}");
        }
    }

    #[test]
    fn everything_else_is_refused() {
        for value in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "text/json",
            "application/jsonp",
            "application/+json",
            "application/json-seq",
            "application/xml+json2",
            "application/json; charset=utf-7",
            "application/json; charset=utf-16le",
            "application/json; charset=iso-8859-1",
            "",
            "json",
        ] {
            assert!(!is_json(&with(value)), "{value}");
        }
        assert!(!is_json(&HeaderMap::new()), "a missing Content-Type");
        let mut twice = with("application/json");
        twice.append(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        assert!(!is_json(&twice), "two Content-Types");
    }

    #[test]
    fn only_identity_content_coding_passes() {
        let mut headers = HeaderMap::new();
        assert!(is_unencoded(&headers));
        headers.insert(
            http::header::CONTENT_ENCODING,
            HeaderValue::from_static("identity"),
        );
        assert!(is_unencoded(&headers));
        for coding in ["gzip", "br", "deflate", "identity, gzip", "x-anything"] {
            headers.insert(
                http::header::CONTENT_ENCODING,
                HeaderValue::from_static(coding),
            );
            assert!(!is_unencoded(&headers), "{coding}");
        }
    }
}
