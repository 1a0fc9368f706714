#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use proptest::prelude::*;

fn segs(path: &str) -> Vec<String> {
    canonicalize(path)
        .unwrap_or_else(|e| panic!("{path:?} refused: {e}"))
        .segments()
        .iter()
        .map(|s| s.to_string())
        .collect()
}

fn refused(path: &str) -> PathRejected {
    match canonicalize(path) {
        Ok(p) => panic!("{path:?} accepted as {:?}", p.segments()),
        Err(e) => e,
    }
}

fn assert_refused(cases: &[&str], want: PathRejected) {
    for case in cases {
        assert_eq!(refused(case), want, "{case:?}");
    }
}

#[test]
fn root_has_zero_segments() {
    assert!(segs("/").is_empty());
    assert!(!canonicalize("/").unwrap().trailing_slash());
}

#[test]
fn plain_path_splits_and_borrows() {
    let p = canonicalize("/api/Users/42").unwrap();
    assert_eq!(p.segments(), ["api", "Users", "42"]);
    assert!(p.segments().iter().all(|s| matches!(s, Cow::Borrowed(_))));
}

#[test]
fn relative_and_empty_paths_are_refused() {
    assert_refused(
        &["", "*", "api/x", "%2fapi", "\\api"],
        PathRejected::NotAbsolute,
    );
}

#[test]
fn single_trailing_slash_is_dropped() {
    assert_eq!(segs("/api/x/"), ["api", "x"]);
    assert!(canonicalize("/api/x/").unwrap().trailing_slash());
    assert_eq!(canonicalize("/api/x/").unwrap().segments(), segs("/api/x"));
}

#[test]
fn empty_segments_are_refused() {
    assert_refused(
        &["//", "///", "/api//x", "//api", "/api/x//", "/a/b///"],
        PathRejected::EmptySegment,
    );
}

#[test]
fn raw_dot_segments_are_refused() {
    assert_refused(
        &[
            "/.", "/..", "/./", "/../", "/a/../b", "/a/./b", "/a/..", "/a/../",
        ],
        PathRejected::DotSegment,
    );
    // Dots inside a name are ordinary characters.
    assert_eq!(
        segs("/a/.well-known/x.js/..."),
        ["a", ".well-known", "x.js", "..."]
    );
}

#[test]
fn encoded_dot_is_refused_in_any_position_and_case() {
    assert_refused(
        &[
            "/%2e",
            "/%2E",
            "/%2e%2e",
            "/%2E%2E",
            "/.%2e",
            "/%2e.",
            "/.%2E",
            "/%2E.",
            "/a/%2e%2e/b",
            "/x%2ejs",
            "/a/b%2E",
            "/%2e%2e/",
        ],
        PathRejected::EncodedDot,
    );
}

#[test]
fn encoded_slash_is_refused() {
    assert_refused(
        &[
            "/a%2fb",
            "/a%2Fb",
            "/%2f",
            "/%2F%2F",
            "/..%2f",
            "/api/%2Fetc",
        ],
        PathRejected::EncodedSeparator,
    );
}

#[test]
fn encoded_backslash_is_refused() {
    assert_refused(
        &["/a%5cb", "/a%5Cb", "/%5c..", "/%5C"],
        PathRejected::EncodedSeparator,
    );
}

#[test]
fn raw_backslash_is_refused() {
    assert_refused(
        &["/a\\b", "/\\", "/..\\x", "/a/b\\"],
        PathRejected::Backslash,
    );
}

#[test]
fn encoded_nul_is_refused() {
    assert_refused(&["/%00", "/a%00.js", "/a/%00/b"], PathRejected::EncodedNul);
}

#[test]
fn double_encoding_is_refused() {
    assert_refused(
        &[
            "/%252e",
            "/%252E",
            "/%252f",
            "/%252F",
            "/%255c",
            "/%255C",
            "/%2525",
            "/%2500",
            "/a%2541",
            "/%25%32%65",
            "/%25%32e",
            "/%252%65",
            "/%25Ff",
        ],
        PathRejected::DoubleEncoding,
    );
}

#[test]
fn lone_encoded_percent_is_a_literal() {
    assert_eq!(segs("/100%25"), ["100%"]);
    assert_eq!(segs("/%25zz/%25g0/%25"), ["%zz", "%g0", "%"]);
    // Across a segment boundary nothing can decode twice.
    assert_eq!(segs("/a%25/2e"), ["a%", "2e"]);
}

#[test]
fn malformed_escapes_are_refused() {
    assert_refused(
        &[
            "/%", "/%2", "/%zz", "/%g0", "/%0g", "/a%", "/a%2/b", "/%%", "/%-1", "/%+f", "/%2x",
        ],
        PathRejected::InvalidEncoding,
    );
}

#[test]
fn raw_control_characters_are_refused() {
    assert_refused(
        &["/a\0b", "/a\tb", "/a\nb", "/\r", "/a\x7f", "/\x1b[31m"],
        PathRejected::ControlCharacter,
    );
}

#[test]
fn encoded_control_characters_are_refused_in_both_cases() {
    assert_refused(
        &[
            "/%01", "/%0a", "/%0A", "/%0d", "/%0D", "/%1b", "/%1B", "/%1f", "/%1F", "/%7f", "/%7F",
            "/%09x",
        ],
        PathRejected::ControlCharacter,
    );
    // C1 controls (U+0080..U+009F) encoded as UTF-8.
    assert_refused(
        &["/%c2%80", "/%C2%85", "/%c2%9f"],
        PathRejected::ControlCharacter,
    );
}

#[test]
fn raw_non_ascii_is_refused() {
    assert_refused(
        &["/caf\u{e9}", "/\u{202e}", "/a/\u{ff0e}\u{ff0e}"],
        PathRejected::NonAscii,
    );
}

#[test]
fn characters_the_upstream_would_reparse_are_refused() {
    assert_refused(
        &["/a b", "/a?b", "/a#b", "/#"],
        PathRejected::ForbiddenCharacter,
    );
}

#[test]
fn decoded_bytes_must_be_utf8() {
    assert_refused(
        &[
            "/%ff", "/%FF", "/%c0%af", "/%C0%AE", "/%e2%82", "/%80", "/a%fe",
        ],
        PathRejected::InvalidUtf8,
    );
    assert_eq!(segs("/caf%C3%A9/%e2%82%ac"), ["caf\u{e9}", "\u{20ac}"]);
}

#[test]
fn encoded_letters_route_like_plain_ones() {
    assert_eq!(segs("/api/%74ransfer"), segs("/api/transfer"));
    assert_eq!(segs("/%61%70%69/%54ransfer"), ["api", "Transfer"]);
    assert_eq!(segs("/api/transfer%3F"), ["api", "transfer?"]);
    assert_eq!(segs("/a%20b/%23x"), ["a b", "#x"]);
}

#[test]
fn case_is_preserved() {
    assert_eq!(segs("/API/Transfer"), ["API", "Transfer"]);
    assert_ne!(segs("/API"), segs("/api"));
}

#[test]
fn length_is_bounded() {
    let at_limit = format!("/{}", "a".repeat(MAX_PATH_LEN - 1));
    assert_eq!(segs(&at_limit).len(), 1);
    let over = format!("/{}", "a".repeat(MAX_PATH_LEN));
    assert_eq!(refused(&over), PathRejected::TooLong);
}

#[test]
fn segment_count_is_bounded() {
    let at_limit = "/a".repeat(MAX_SEGMENTS);
    assert_eq!(segs(&at_limit).len(), MAX_SEGMENTS);
    assert_eq!(segs(&format!("{at_limit}/")).len(), MAX_SEGMENTS);
    let over = "/a".repeat(MAX_SEGMENTS + 1);
    assert_eq!(refused(&over), PathRejected::TooManySegments);
}

#[test]
fn into_owned_keeps_segments() {
    let raw = String::from("/a/%62/c/");
    let owned = canonicalize(&raw).unwrap().into_owned();
    drop(raw);
    assert_eq!(owned.segments(), ["a", "b", "c"]);
    assert!(owned.trailing_slash());
}

#[test]
fn display_is_lowercase() {
    assert_eq!(PathRejected::DotSegment.to_string(), "dot segment");
    assert_eq!(
        QueryRejected::ReservedNextParam.to_string(),
        "reserved next.js parameter name"
    );
    for e in [
        PathRejected::EncodedNul,
        PathRejected::InvalidUtf8,
        PathRejected::TooLong,
    ] {
        assert_eq!(e.to_string(), e.to_string().to_lowercase());
    }
}

#[test]
fn next_route_param_names_are_refused() {
    for q in [
        "nxtPslug=x",
        "a=1&nxtPid=2",
        "nxtP=",
        "nxtIfoo",
        "nxtPid",
        "%6extP=x",
        "%6ExtP=x",
        "n%78%74%50slug=1",
        "nxt%49=1",
        "nxt%50a=1&b=2",
        "b=2&&nxtP%5b%5d=1",
    ] {
        assert_eq!(
            check_query(q),
            Err(QueryRejected::ReservedNextParam),
            "{q:?}"
        );
    }
}

#[test]
fn lookalike_param_names_are_allowed() {
    for q in [
        "",
        "nxtp=1",
        "NXTP=1",
        "nxt=1",
        "nxt+P=1",
        "a=nxtPslug",
        "x&y=nxtI",
        "_nxtP=1",
        "%256extP=1",
        "q=a+b&r=%2F",
        "nxt",
    ] {
        assert_eq!(check_query(q), Ok(()), "{q:?}");
    }
}

#[test]
fn query_escapes_must_be_well_formed() {
    for q in ["a=%", "a=%2", "a=%zz", "%g0=1", "a=1&b=%2", "a%=1"] {
        assert_eq!(check_query(q), Err(QueryRejected::InvalidEncoding), "{q:?}");
    }
}

#[test]
fn query_raw_controls_and_fragments_are_refused() {
    for q in ["a=\n", "a b=1", "a=#x", "a=\u{e9}", "a=\x7f"] {
        assert_eq!(
            check_query(q),
            Err(QueryRejected::ForbiddenCharacter),
            "{q:?}"
        );
    }
}

#[test]
fn query_size_is_bounded() {
    assert_eq!(check_query(&"a".repeat(MAX_QUERY_LEN)), Ok(()));
    assert_eq!(
        check_query(&"a".repeat(MAX_QUERY_LEN + 1)),
        Err(QueryRejected::TooLong)
    );
    let at_limit = vec!["a=1"; MAX_QUERY_PARAMS].join("&");
    assert_eq!(check_query(&at_limit), Ok(()));
    let over = vec!["a=1"; MAX_QUERY_PARAMS + 1].join("&");
    assert_eq!(check_query(&over), Err(QueryRejected::TooManyParams));
}

/// Percent-encodes `byte` with hex digits in the requested case.
fn escape(byte: u8, upper: bool) -> String {
    if upper {
        format!("%{byte:02X}")
    } else {
        format!("%{byte:02x}")
    }
}

/// Paths built from the pieces the rules are about: dots, slashes, `%25`, `%2e`, `%2f`,
/// `%5c`, `%00`, controls, letters and UTF-8 lead/continuation bytes, in both hex cases.
const TRICKY_PATH: &str = concat!(
    "(/([a-z.~+]|%(2[5eEfF]|5[cC]|0[0-9]|[46][1-9a-fA-F]|[cC]3|[aA]9|7[fF])){0,4}){0,5}",
    "/?"
);

proptest! {
    #[test]
    fn canonicalize_never_panics(path in any::<String>()) {
        let _ = canonicalize(&path);
    }

    #[test]
    fn accepted_segments_are_clean(path in TRICKY_PATH) {
        if let Ok(p) = canonicalize(&path) {
            prop_assert!(p.segments().len() <= MAX_SEGMENTS);
            for s in p.segments() {
                prop_assert!(!s.is_empty());
                prop_assert!(s != "." && s != "..");
                prop_assert!(!s.contains(['/', '\\', '\0']));
                prop_assert!(!s.chars().any(char::is_control));
                prop_assert!(!holds_escape(s.as_bytes()));
            }
        }
    }

    #[test]
    fn accepted_paths_from_any_string_are_clean(tail in any::<String>()) {
        let path = format!("/{tail}");
        if let Ok(p) = canonicalize(&path) {
            for s in p.segments() {
                prop_assert!(!s.is_empty() && s != "." && s != "..");
                prop_assert!(!s.contains(['/', '\\', '\0']));
                prop_assert!(!s.chars().any(char::is_control));
            }
        }
    }

    #[test]
    fn encoding_does_not_change_the_route(
        segments in prop::collection::vec("[a-zA-Z0-9_~!$&'()*+,;=:@\u{e9}\u{20ac}-]{1,6}", 0..6),
        mask in any::<u64>(),
        upper in any::<bool>(),
    ) {
        prop_assume!(segments.iter().all(|s| s != "." && s != ".."));
        let mut path = String::new();
        let mut bit = 0;
        for seg in &segments {
            path.push('/');
            for &b in seg.as_bytes() {
                bit = (bit + 1) % 64;
                if b >= 0x80 || mask >> bit & 1 == 1 {
                    path.push_str(&escape(b, upper));
                } else {
                    path.push(char::from(b));
                }
            }
        }
        if path.is_empty() {
            path.push('/');
        }
        let p = canonicalize(&path);
        prop_assert!(p.is_ok(), "{path:?}: {p:?}");
        let got: Vec<&str> = p.as_ref().map(|p| p.segments().iter().map(|s| s.as_ref()).collect())
            .unwrap_or_default();
        prop_assert_eq!(got, segments.iter().map(String::as_str).collect::<Vec<_>>());
    }

    #[test]
    fn check_query_never_panics(query in any::<String>()) {
        let _ = check_query(&query);
    }

    #[test]
    fn reserved_names_are_refused_however_encoded(
        prefix in prop::sample::select(vec!["nxtP", "nxtI"]),
        rest in "[a-z]{0,5}",
        mask in 0u8..16,
        upper in any::<bool>(),
        before in "([a-z]{1,3}=[a-z0-9]{0,3}&){0,3}",
    ) {
        let mut name = String::new();
        for (i, b) in prefix.bytes().enumerate() {
            if mask >> i & 1 == 1 {
                name.push_str(&escape(b, upper));
            } else {
                name.push(char::from(b));
            }
        }
        let query = format!("{before}{name}{rest}=1");
        prop_assert_eq!(check_query(&query), Err(QueryRejected::ReservedNextParam));
    }
}
