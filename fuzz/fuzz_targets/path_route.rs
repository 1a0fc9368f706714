//! Path canonicalisation and route matching on arbitrary request targets.
//!
//! Invariants checked: nothing panics; an accepted path's decoded segments are never empty,
//! `.` or `..`, and hold no `/`, `\`, NUL or control character; matching an accepted path
//! against a router with every pattern kind terminates with one answer.

#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade::route::{Match, Pattern, Router};
use palisade::sanitize::path::{canonicalize, check_query};

fn router() -> Router<u8> {
    let mut router = Router::new();
    let patterns = [
        ("/", None),
        ("/api/transfer", Some(vec![http::Method::POST])),
        ("/api/items/[id]", None),
        ("/api/items/[id]/edit", Some(vec![http::Method::GET])),
        ("/api/auth/[...rest]", None),
        ("/api/docs/[[...slug]]", None),
        ("/api/[section]/[id]", None),
    ];
    for (i, (pattern, methods)) in patterns.into_iter().enumerate() {
        let pattern: Pattern = pattern.parse().expect("fixed pattern");
        router.insert(pattern, methods, i as u8).expect("fixed routes do not conflict");
    }
    router
}

fuzz_target!(|data: &[u8]| {
    let Ok(target) = std::str::from_utf8(data) else { return };
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let _ = check_query(query);
    let Ok(canonical) = canonicalize(path) else { return };
    for segment in canonical.segments() {
        let segment: &str = segment.as_ref();
        assert!(!segment.is_empty() && segment != "." && segment != "..", "{target:?}");
        assert!(!segment.bytes().any(|b| b == b'/' || b == b'\\' || b < 0x20 || b == 0x7f));
    }
    static ROUTER: std::sync::OnceLock<Router<u8>> = std::sync::OnceLock::new();
    let router = ROUTER.get_or_init(router);
    for method in [http::Method::GET, http::Method::POST, http::Method::DELETE] {
        match router.find(canonical.segments(), &method) {
            Match::Found { .. } | Match::MethodNotAllowed { .. } | Match::NotFound => {}
        }
    }
});
