#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use proptest::prelude::*;

fn pat(text: &str) -> Pattern {
    Pattern::parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

fn split(path: &str) -> Vec<&str> {
    path.split('/').filter(|s| !s.is_empty()).collect()
}

/// A router whose payload is the pattern text, every route taking every method.
fn router(patterns: &[&str]) -> Router<String> {
    let mut r = Router::new();
    for p in patterns {
        r.insert(pat(p), None, (*p).to_owned()).unwrap();
    }
    r
}

/// The payload that `path` reaches with GET, or `None` for 404; panics on 405.
fn hit(r: &Router<String>, path: &str) -> Option<String> {
    match r.find(&split(path), &Method::GET) {
        Match::Found { value, .. } => Some(value.clone()),
        Match::NotFound => None,
        Match::MethodNotAllowed { allow, .. } => panic!("{path}: 405 {allow}"),
    }
}

fn params(r: &Router<String>, path: &str) -> Vec<(String, Range<usize>)> {
    match r.find(&split(path), &Method::GET) {
        Match::Found { params, .. } => params.iter().map(|(n, r)| (n.to_owned(), r)).collect(),
        _ => panic!("{path}: no match"),
    }
}

fn methods(list: &[Method]) -> Option<Vec<Method>> {
    Some(list.to_vec())
}

#[test]
fn patterns_round_trip_through_display() {
    for text in [
        "/",
        "/api",
        "/a/[id]/b",
        "/[...rest]",
        "/x/[[...all]]",
        "/a(b)/x@s/a:b/(c)d",
    ] {
        assert_eq!(pat(text).to_string(), text);
        assert_eq!(text.parse::<Pattern>(), Ok(pat(text)));
    }
}

#[test]
fn malformed_patterns_are_refused() {
    use PatternError as E;
    let cases: &[(&str, PatternError)] = &[
        ("", E::NotAbsolute),
        ("api", E::NotAbsolute),
        ("/api/", E::EmptySegment),
        ("//", E::EmptySegment),
        ("/a//b", E::EmptySegment),
        ("/a/..", E::DotSegment),
        ("/./a", E::DotSegment),
        ("/a%2fb", E::InvalidStatic("a%2fb".into())),
        ("/a?b", E::InvalidStatic("a?b".into())),
        ("/a#", E::InvalidStatic("a#".into())),
        ("/a\\b", E::InvalidStatic("a\\b".into())),
        ("/a b", E::InvalidStatic("a b".into())),
        ("/a\tb", E::InvalidStatic("a\tb".into())),
        ("/x[id]", E::InvalidStatic("x[id]".into())),
        ("/[id]x", E::InvalidStatic("[id]x".into())),
        ("/caf\u{e9}", E::InvalidStatic("caf\u{e9}".into())),
        ("/[]", E::InvalidParamName("[]".into())),
        ("/[...]", E::InvalidParamName("[...]".into())),
        ("/[1d]", E::InvalidParamName("[1d]".into())),
        ("/[a-b]", E::InvalidParamName("[a-b]".into())),
        ("/[....x]", E::InvalidParamName("[....x]".into())),
        ("/[[...x]", E::InvalidParamName("[[...x]".into())),
        ("/[[id]]", E::OptionalParam("[[id]]".into())),
        ("/(admin)/users", E::RouteGroup("(admin)".into())),
        ("/api/(v1)", E::RouteGroup("(v1)".into())),
        ("/()", E::RouteGroup("()".into())),
        ("/@modal/login", E::ParallelSlot("@modal".into())),
        ("/feed/@", E::ParallelSlot("@".into())),
        ("/(.)photo", E::InterceptingRoute("(.)photo".into())),
        (
            "/feed/(..)photo/[id]",
            E::InterceptingRoute("(..)photo".into()),
        ),
        ("/(...)login", E::InterceptingRoute("(...)login".into())),
        ("/(..)(..)x", E::InterceptingRoute("(..)(..)x".into())),
        ("/[a]/[a]", E::DuplicateParam("a".into())),
        ("/[a]/[...a]", E::DuplicateParam("a".into())),
        ("/[...rest]/x", E::CatchAllNotLast("[...rest]".into())),
        (
            "/[[...rest]]/[id]",
            E::CatchAllNotLast("[[...rest]]".into()),
        ),
    ];
    for (text, want) in cases {
        assert_eq!(Pattern::parse(text).as_ref(), Err(want), "{text:?}");
    }
    assert_eq!(Pattern::parse(&"/a".repeat(600)), Err(E::TooLong));
    assert_eq!(Pattern::parse(&"/a".repeat(65)), Err(E::TooManySegments));
    assert_eq!(
        E::CatchAllNotLast("[...rest]".into()).to_string(),
        "catch-all `[...rest]` must be the last segment"
    );
    assert_eq!(
        E::RouteGroup("(admin)".into()).to_string(),
        "`(admin)` is a Next.js route group, which is not part of the URL: \
         write the path as the browser requests it"
    );
}

#[test]
fn nextjs_folders_outside_the_url_are_refused_with_advice() {
    for text in ["/(admin)/users", "/@modal/login", "/(.)photo/[id]"] {
        let message = Pattern::parse(text).unwrap_err().to_string();
        assert!(message.contains("not part of the URL"), "{text}: {message}");
        assert!(message.contains("as the browser requests it"), "{message}");
    }
}

#[test]
fn static_beats_param_beats_catch_all_beats_optional() {
    let r = router(&["/[[...o]]", "/a/[...r]", "/a/[x]", "/a/b"]);
    assert_eq!(hit(&r, "/a/b").as_deref(), Some("/a/b"));
    assert_eq!(hit(&r, "/a/c").as_deref(), Some("/a/[x]"));
    assert_eq!(hit(&r, "/a/b/c").as_deref(), Some("/a/[...r]"));
    assert_eq!(hit(&r, "/a").as_deref(), Some("/[[...o]]"));
    assert_eq!(hit(&r, "/").as_deref(), Some("/[[...o]]"));
    assert_eq!(hit(&r, "/z/y").as_deref(), Some("/[[...o]]"));
}

#[test]
fn backtracks_from_static_into_param() {
    let r = router(&["/a/b/c", "/a/[x]/d"]);
    assert_eq!(hit(&r, "/a/b/d").as_deref(), Some("/a/[x]/d"));
    assert_eq!(hit(&r, "/a/b/c").as_deref(), Some("/a/b/c"));
    assert_eq!(hit(&r, "/a/z/c"), None);
    assert_eq!(hit(&r, "/a/b"), None);
}

#[test]
fn backtracks_out_of_dead_ends_into_catch_all() {
    let r = router(&["/a/b/c/d", "/a/[x]/c/e", "/a/[...rest]"]);
    assert_eq!(hit(&r, "/a/b/c/f").as_deref(), Some("/a/[...rest]"));
    assert_eq!(hit(&r, "/a/b/c/e").as_deref(), Some("/a/[x]/c/e"));
    assert_eq!(params(&r, "/a/b/c/f"), [("rest".into(), 1..4)]);
}

#[test]
fn matching_is_case_sensitive() {
    let r = router(&["/api/Transfer"]);
    assert_eq!(hit(&r, "/api/transfer"), None);
    assert_eq!(hit(&r, "/API/Transfer"), None);
}

#[test]
fn optional_catch_all_matches_zero_segments() {
    let r = router(&["/api/x/[[...rest]]"]);
    assert_eq!(hit(&r, "/api/x").as_deref(), Some("/api/x/[[...rest]]"));
    assert_eq!(params(&r, "/api/x"), [("rest".into(), 2..2)]);
    assert_eq!(params(&r, "/api/x/a/b"), [("rest".into(), 2..4)]);
    assert_eq!(hit(&r, "/api"), None);
}

#[test]
fn required_catch_all_needs_a_segment() {
    let r = router(&["/docs/[...path]"]);
    assert_eq!(hit(&r, "/docs"), None);
    assert_eq!(params(&r, "/docs/a"), [("path".into(), 1..2)]);
}

#[test]
fn root_pattern_matches_only_root() {
    let r = router(&["/", "/[id]"]);
    assert_eq!(hit(&r, "/").as_deref(), Some("/"));
    assert_eq!(hit(&r, "/x").as_deref(), Some("/[id]"));
    assert_eq!(hit(&r, "/x/y"), None);
}

#[test]
fn params_report_segment_ranges() {
    let r = router(&["/u/[user]/repo/[repo]/[...path]"]);
    let got = params(&r, "/u/ann/repo/palisade/src/main.rs");
    assert_eq!(
        got,
        [
            ("user".into(), 1..2),
            ("repo".into(), 3..4),
            ("path".into(), 4..6)
        ]
    );
    let Match::Found { params, .. } = r.find(&split("/u/a/repo/b/c"), &Method::GET) else {
        panic!("no match");
    };
    assert_eq!(params.get("repo"), Some(3..4));
    assert_eq!(params.get("nope"), None);
    assert_eq!(
        params.pattern().to_string(),
        "/u/[user]/repo/[repo]/[...path]"
    );
}

#[test]
fn static_routes_have_empty_params() {
    let r = router(&["/health"]);
    let Match::Found { params, .. } = r.find(&["health"], &Method::GET) else {
        panic!("no match");
    };
    assert!(params.is_empty());
    assert_eq!(params.iter().count(), 0);
}

#[test]
fn method_mismatch_answers_405_with_allow() {
    let mut r = Router::new();
    r.insert(pat("/api/x"), methods(&[Method::POST, Method::GET]), 1)
        .unwrap();
    r.insert(pat("/api/x"), methods(&[Method::DELETE, Method::POST]), 2)
        .unwrap_err();
    r.insert(pat("/api/x"), methods(&[Method::DELETE]), 2)
        .unwrap();
    match r.find(&["api", "x"], &Method::PUT) {
        Match::MethodNotAllowed { allow, .. } => assert_eq!(allow, "DELETE, GET, HEAD, POST"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        r.find(&["api", "x"], &Method::DELETE),
        Match::Found { value: 2, .. }
    ));
    assert!(matches!(
        r.find(&["api", "x"], &Method::POST),
        Match::Found { value: 1, .. }
    ));
}

#[test]
fn method_mismatch_does_not_fall_through_to_less_specific_route() {
    let mut r = Router::new();
    r.insert(pat("/a/b"), methods(&[Method::POST]), "static")
        .unwrap();
    r.insert(pat("/a/[x]"), methods(&[Method::GET]), "param")
        .unwrap();
    r.insert(pat("/[...all]"), None, "catch-all").unwrap();
    match r.find(&["a", "b"], &Method::GET) {
        Match::MethodNotAllowed { allow, .. } => assert_eq!(allow, "POST"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        r.find(&["a", "c"], &Method::GET),
        Match::Found {
            value: &"param",
            ..
        }
    ));
    assert!(matches!(
        r.find(&["a", "c"], &Method::PUT),
        Match::MethodNotAllowed { .. }
    ));
}

#[test]
fn head_is_served_by_get() {
    let mut r = Router::new();
    r.insert(pat("/page"), methods(&[Method::GET]), "get")
        .unwrap();
    assert!(matches!(
        r.find(&["page"], &Method::HEAD),
        Match::Found { value: &"get", .. }
    ));
    match r.find(&["page"], &Method::POST) {
        Match::MethodNotAllowed { allow, .. } => assert_eq!(allow, "GET, HEAD"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn explicit_head_route_wins_over_get_in_any_order() {
    for head_first in [false, true] {
        let mut r = Router::new();
        let routes = [(Method::GET, "get"), (Method::HEAD, "head")];
        for i in 0..2 {
            let (m, v) = &routes[if head_first { 1 - i } else { i }];
            r.insert(pat("/page"), methods(std::slice::from_ref(m)), *v)
                .unwrap();
        }
        assert!(matches!(
            r.find(&["page"], &Method::HEAD),
            Match::Found { value: &"head", .. }
        ));
        assert!(matches!(
            r.find(&["page"], &Method::GET),
            Match::Found { value: &"get", .. }
        ));
    }
}

#[test]
fn head_only_route_does_not_serve_get() {
    let mut r = Router::new();
    r.insert(pat("/probe"), methods(&[Method::HEAD]), ())
        .unwrap();
    assert!(matches!(
        r.find(&["probe"], &Method::GET),
        Match::MethodNotAllowed { allow: "HEAD", .. }
    ));
}

#[test]
fn overlapping_methods_conflict() {
    let mut r = Router::new();
    r.insert(pat("/a/[id]"), methods(&[Method::GET, Method::GET]), 1)
        .unwrap();
    let err = r
        .insert(pat("/a/[id]"), methods(&[Method::PUT, Method::GET]), 2)
        .unwrap_err();
    assert_eq!(
        err,
        RouteConflict::MethodOverlap {
            pattern: "/a/[id]".into(),
            method: Some(Method::GET),
        }
    );
    let err = r.insert(pat("/a/[id]"), None, 3).unwrap_err();
    assert!(matches!(
        err,
        RouteConflict::MethodOverlap { method: None, .. }
    ));
    let mut r = Router::new();
    r.insert(pat("/b"), None, 1).unwrap();
    assert!(r.insert(pat("/b"), methods(&[Method::OPTIONS]), 2).is_err());
    assert!(matches!(
        r.insert(pat("/c"), methods(&[]), 3),
        Err(RouteConflict::NoMethods(_))
    ));
}

#[test]
fn failed_insert_leaves_router_unchanged() {
    let mut r = router(&["/a/[id]/x"]);
    assert!(r.insert(pat("/a/[slug]/y/z"), None, "bad".into()).is_err());
    r.insert(pat("/a/[id]/y/z"), None, "ok".into()).unwrap();
    assert_eq!(hit(&r, "/a/1/y/z").as_deref(), Some("ok"));
}

#[test]
fn different_param_names_at_one_position_conflict() {
    let mut r = router(&["/a/[id]", "/d/[...p]", "/e/[[...p]]"]);
    let err = r
        .insert(pat("/a/[slug]/b"), None, String::new())
        .unwrap_err();
    assert_eq!(
        err,
        RouteConflict::ParamName {
            existing: "[id]".into(),
            new: "[slug]".into()
        }
    );
    assert!(err.to_string().contains("different parameter names"));
    assert!(r.insert(pat("/d/[...q]"), None, String::new()).is_err());
    assert!(r.insert(pat("/e/[[...q]]"), None, String::new()).is_err());
    // Param and catch-all names are tracked separately, as in Next.js.
    r.insert(pat("/a/[...rest]"), None, String::new()).unwrap();
}

#[test]
fn required_and_optional_catch_all_at_one_position_conflict() {
    let mut r = router(&["/a/[...x]"]);
    let err = r
        .insert(pat("/a/[[...x]]"), None, String::new())
        .unwrap_err();
    assert!(matches!(err, RouteConflict::CatchAllKind { .. }), "{err}");
    let mut r = router(&["/a/[[...x]]"]);
    assert!(matches!(
        r.insert(pat("/a/[...x]"), None, String::new()),
        Err(RouteConflict::CatchAllKind { .. })
    ));
}

#[test]
fn index_and_optional_catch_all_at_one_position_conflict() {
    for order in [["/api", "/api/[[...r]]"], ["/api/[[...r]]", "/api"]] {
        let mut r = router(&order[..1]);
        let err = r.insert(pat(order[1]), None, String::new()).unwrap_err();
        assert!(
            matches!(err, RouteConflict::OptionalCatchAllShadow { .. }),
            "{err}"
        );
    }
    let mut r = router(&["/"]);
    assert!(r.insert(pat("/[[...all]]"), None, String::new()).is_err());
}

#[test]
fn deep_nesting_backtracks_in_linear_time() {
    // Every prefix `a^k` has both a static `a` child and a param child, and each request
    // segment is `a`, so naive backtracking over the pattern list explores many paths.
    let depth = MAX_PATTERN_SEGMENTS - 1;
    let mut r = Router::new();
    for k in 0..depth {
        let mut text = "/a".repeat(k);
        for level in k..depth {
            text.push_str(&format!("/[p{level}]"));
        }
        text.push_str("/end");
        r.insert(pat(&text), None, k).unwrap();
    }
    let request = vec!["a"; depth + 1];
    let mut visits = 0;
    assert!(r.root.lookup(&request, &mut visits).is_none());
    assert!(
        visits <= node_count(&r.root),
        "{visits} > {}",
        node_count(&r.root)
    );
    // A request far longer than any pattern cannot recurse deeper than the trie.
    let long = vec!["a"; 100_000];
    assert!(matches!(r.find(&long, &Method::GET), Match::NotFound));
    let mut request = vec!["a"; depth];
    request.push("end");
    // The most static candidate wins: `a^(depth-1)/[p]/end`.
    let found = r.find(&request, &Method::GET);
    assert!(
        matches!(found, Match::Found { value, .. } if *value == depth - 1),
        "{found:?}"
    );
}

fn node_count<T>(node: &Node<T>) -> usize {
    1 + node
        .statics
        .iter()
        .map(|(_, c)| node_count(c))
        .sum::<usize>()
        + node.param.as_ref().map_or(0, |(_, c)| node_count(c))
}

/// Next.js precedence as a reference model: among matching patterns, the one whose
/// per-segment kind ranks (static < param < catch-all < optional) are smallest in order.
fn model<'p>(patterns: &'p [Pattern], request: &[&str]) -> Option<&'p Pattern> {
    let matches = |p: &Pattern| {
        let mut i = 0;
        for s in &p.segments {
            match s {
                Segment::Static(t) if request.get(i) == Some(&&**t) => i += 1,
                Segment::Param(_) if i < request.len() => i += 1,
                Segment::CatchAll(_) => return i < request.len(),
                Segment::OptionalCatchAll(_) => return true,
                _ => return false,
            }
        }
        i == request.len()
    };
    let rank = |p: &Pattern| -> Vec<u8> {
        p.segments
            .iter()
            .map(|s| match s {
                Segment::Static(_) => 0,
                Segment::Param(_) => 1,
                Segment::CatchAll(_) => 2,
                Segment::OptionalCatchAll(_) => 3,
            })
            .collect()
    };
    patterns
        .iter()
        .filter(|p| matches(p))
        .min_by_key(|p| rank(p))
}

/// Random patterns over statics `a`/`b`, with names fixed per depth so they never clash.
fn arb_pattern() -> impl Strategy<Value = Pattern> {
    let segment = prop_oneof![Just(0u8), Just(1), Just(2), Just(3), Just(4), Just(5)];
    prop::collection::vec(segment, 0..5).prop_map(|kinds| {
        let mut text = String::new();
        for (depth, kind) in kinds.iter().enumerate() {
            text.push('/');
            match kind {
                0 | 1 => text.push('a'),
                2 => text.push('b'),
                3 => text.push_str(&format!("[p{depth}]")),
                4 => text.push_str(&format!("[...r{depth}]")),
                _ => text.push_str(&format!("[[...o{depth}]]")),
            }
            if *kind >= 4 {
                break;
            }
        }
        if text.is_empty() {
            text.push('/');
        }
        pat(&text)
    })
}

proptest! {
    #[test]
    fn precedence_is_independent_of_insertion_order(
        order in Just(vec![
            "/shop/cart", "/shop/[item]", "/shop/[item]/reviews", "/shop/[...path]",
            "/[[...all]]", "/blog/[slug]/[...rest]", "/blog/new/edit",
        ]).prop_shuffle()
    ) {
        let r = router(&order);
        let expect = [
            ("/shop/cart", Some("/shop/cart")),
            ("/shop/hat", Some("/shop/[item]")),
            ("/shop/hat/reviews", Some("/shop/[item]/reviews")),
            ("/shop/cart/reviews", Some("/shop/[item]/reviews")),
            ("/shop/a/b", Some("/shop/[...path]")),
            ("/shop", Some("/[[...all]]")),
            ("/", Some("/[[...all]]")),
            ("/blog/new/edit", Some("/blog/new/edit")),
            ("/blog/new/view", Some("/blog/[slug]/[...rest]")),
            ("/blog/new", Some("/[[...all]]")),
        ];
        for (path, want) in expect {
            let got = hit(&r, path);
            prop_assert_eq!(got.as_deref(), want, "{}", path);
        }
    }

    #[test]
    fn router_agrees_with_reference_model(
        patterns in prop::collection::vec(arb_pattern(), 0..12),
        requests in prop::collection::vec(
            prop::collection::vec(prop::sample::select(vec!["a", "b", "c"]), 0..6), 1..20),
    ) {
        let mut r = Router::new();
        let mut accepted = Vec::new();
        for p in patterns {
            if r.insert(p.clone(), None, p.to_string()).is_ok() {
                accepted.push(p);
            }
        }
        let nodes = node_count(&r.root);
        for request in &requests {
            let want = model(&accepted, request).map(|p| p.to_string());
            let got = match r.find(request, &Method::GET) {
                Match::Found { value, params } => {
                    for (_, range) in params {
                        prop_assert!(range.end <= request.len() && range.start <= range.end);
                    }
                    Some(value.clone())
                }
                _ => None,
            };
            prop_assert_eq!(got, want, "{:?}", request);
            let mut visits = 0;
            r.root.lookup(request, &mut visits);
            prop_assert!(visits <= nodes);
        }
    }

    #[test]
    fn display_parses_back(p in arb_pattern()) {
        prop_assert_eq!(Pattern::parse(&p.to_string()), Ok(p));
    }

    #[test]
    fn parse_never_panics(text in any::<String>()) {
        let _ = Pattern::parse(&text);
        let _ = Pattern::parse(&format!("/{text}"));
    }

    #[test]
    fn allow_lists_every_method_sorted(picks in prop::collection::btree_set(0usize..6, 1..6)) {
        let all = [Method::GET, Method::POST, Method::PUT, Method::DELETE, Method::PATCH,
            Method::OPTIONS];
        let mut r = Router::new();
        for &i in &picks {
            r.insert(pat("/x"), methods(&[all[i].clone()]), i).unwrap();
        }
        let mut want: Vec<&str> = picks.iter().map(|&i| all[i].as_str()).collect();
        if want.contains(&"GET") {
            want.push("HEAD");
        }
        want.sort_unstable();
        let unused = Method::from_bytes(b"PURGE").unwrap();
        match r.find(&["x"], &unused) {
            Match::MethodNotAllowed { allow, .. } => prop_assert_eq!(allow, want.join(", ")),
            _ => prop_assert!(false, "expected 405"),
        }
    }
}
