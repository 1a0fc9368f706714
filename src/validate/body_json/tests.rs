use std::time::{Duration, Instant};

use proptest::prelude::*;
use serde_json::{Map, Number, Value, json};

use super::*;

const TRANSFER: &str =
    r#"{"amount": 100, "recipientId": "6f1c2a4e-8b3d-4c5f-9a7e-1d2b3c4d5e6f", "note": "x"}"#;

fn checked(body: &str) -> Result<Value, BodyRejected> {
    check(body.as_bytes(), &Limits::default())
}

fn refused(body: impl AsRef<[u8]>) -> BodyRejected {
    let body = body.as_ref();
    match check(body, &Limits::default()) {
        Ok(value) => panic!("accepted {:?} as {value}", String::from_utf8_lossy(body)),
        Err(rejected) => {
            // Every refusal must also be consistent with the reference parser.
            fuzz_one(body);
            rejected
        }
    }
}

fn reason(body: impl AsRef<[u8]>) -> &'static str {
    refused(body).reason()
}

fn pointer(body: &str) -> String {
    refused(body)
        .pointer()
        .unwrap_or_else(|| panic!("no pointer for {body}"))
}

// === accepted bodies ===

#[test]
fn transfer_body_passes() {
    let value = checked(TRANSFER).unwrap();
    assert_eq!(value["amount"], json!(100));
    assert_eq!(value["note"], json!("x"));
    fuzz_one(TRANSFER.as_bytes());
}

#[test]
fn scalars_and_empty_containers_pass() {
    for body in [
        "0", "-0", "1.5e3", "\"x\"", "true", "false", "null", "[]", "{}", " [ ] ",
    ] {
        assert!(checked(body).is_ok(), "{body}");
        fuzz_one(body.as_bytes());
    }
}

#[test]
fn escapes_and_pairs_decode() {
    let value = checked(r#"{"a\u0062\n\/":"\ud83d\ude00\"\\\b\f\r\t"}"#).unwrap();
    assert_eq!(value, json!({"ab\n/": "😀\"\\\u{8}\u{c}\r\t"}));
}

#[test]
fn integers_a_double_holds_exactly_pass_and_larger_ones_are_refused() {
    let value = checked("[9007199254740992, -9007199254740992, 123456789012345]").unwrap();
    assert_eq!(value[0].as_u64(), Some(9_007_199_254_740_992));
    assert_eq!(value[1].as_i64(), Some(-9_007_199_254_740_992));
    // A Node back end would round these and act on another number than the one validated.
    for big in [
        "9007199254740993",
        "-9007199254740993",
        "18446744073709551615",
        "10000000000000000",
    ] {
        let refused = checked(&format!("{{\"id\":{big}}}"));
        assert!(
            matches!(refused, Err(BodyRejected::NumberOutOfRange { .. })),
            "{big}"
        );
    }
}

#[test]
fn tiny_numbers_underflow_to_zero() {
    assert_eq!(checked("1e-400").unwrap(), json!(0.0));
}

#[test]
fn long_but_finite_numbers_pass() {
    assert!(checked("1e307").is_ok());
    let precise = format!("0.{}1", "0".repeat(10_000));
    assert!(checked(&precise).is_ok());
    assert!(checked("1.7976931348623157e308").is_ok());
}

#[test]
fn prototype_keys_allowed_when_configured() {
    let limits = Limits {
        allow_prototype_keys: true,
        ..Limits::default()
    };
    let body = br#"{"constructor":{"prototype":{"__proto__":1}}}"#;
    assert!(check(body, &limits).is_ok());
}

#[test]
fn many_keys_pass_and_stay_linear() {
    let members: Vec<String> = (0..100_000).map(|i| format!("\"k{i}\":{i}")).collect();
    let body = format!("{{{}}}", members.join(","));
    let started = Instant::now();
    let value = checked(&body).unwrap();
    assert_eq!(value.as_object().map(Map::len), Some(100_000));
    assert!(started.elapsed() < Duration::from_secs(5));
}

// === encoding ===

#[test]
fn byte_order_mark_refused() {
    assert_eq!(refused(b"\xEF\xBB\xBF{}"), BodyRejected::ByteOrderMark);
}

#[test]
fn invalid_utf8_refused() {
    assert_eq!(refused(b"{\"a\":\"\xFF\"}"), BodyRejected::NotUtf8);
    assert_eq!(refused(b"[1,\xC3]"), BodyRejected::NotUtf8);
    assert_eq!(refused(b"\xFE\xFF"), BodyRejected::NotUtf8);
    // An encoded surrogate (CESU-8) is not UTF-8.
    assert_eq!(refused(b"\"\xED\xA0\x80\""), BodyRejected::NotUtf8);
}

#[test]
fn empty_and_whitespace_refused() {
    assert_eq!(refused(""), BodyRejected::Empty);
    assert_eq!(refused("  "), BodyRejected::Empty);
    assert_eq!(refused(" \t\r\n"), BodyRejected::Empty);
}

// === grammar ===

#[test]
fn comments_refused() {
    assert_eq!(reason(r#"{"a":1 /* c */}"#), "syntax");
    assert_eq!(reason("{\"a\":1 // c\n}"), "syntax");
    assert_eq!(reason("// c\n{}"), "syntax");
    assert_eq!(reason("{}/* c */"), "trailing_data");
}

#[test]
fn trailing_commas_refused() {
    assert_eq!(refused("[1,2,]"), BodyRejected::Syntax { offset: 5 });
    assert_eq!(reason(r#"{"a":1,}"#), "syntax");
    assert_eq!(reason(r#"{"a":{"b":[1,],"c":2}}"#), "syntax");
    assert_eq!(reason(r#"{"a":{"b":1,}}"#), "syntax");
    assert_eq!(reason("[,]"), "syntax");
}

#[test]
fn nan_and_infinity_refused() {
    for body in [
        "NaN",
        "Infinity",
        "-Infinity",
        "[NaN]",
        r#"{"a":-Infinity}"#,
        "[1,Infinity]",
    ] {
        assert_eq!(reason(body), "syntax", "{body}");
    }
}

#[test]
fn other_grammar_errors_refused() {
    for body in [
        "'a'",
        "{'a':1}",
        r#"{"a" 1}"#,
        r#"{a:1}"#,
        "01",
        "[-01]",
        "1.",
        ".5",
        "1e",
        "+1",
        "-",
        "0x10",
        "[1 2]",
        r#""\x41""#,
        r#""\u12G4""#,
        r#""abc"#,
        "[",
        "{",
        r#"{"a":"#,
        "tru",
        "nul",
        "True",
        "[1]]",
    ] {
        assert!(refused(body).is_grammar(), "{body}");
    }
}

#[test]
fn only_json_whitespace_allowed() {
    assert_eq!(reason("\u{a0}{}"), "syntax");
    assert_eq!(reason("{}\u{c}"), "trailing_data");
    assert_eq!(reason("[1,\u{b}2]"), "syntax");
}

#[test]
fn trailing_data_refused() {
    assert_eq!(refused("{} {}"), BodyRejected::TrailingData);
    assert_eq!(refused("1 2"), BodyRejected::TrailingData);
    assert_eq!(refused("{}x"), BodyRejected::TrailingData);
    assert_eq!(refused("[1]\0"), BodyRejected::TrailingData);
    assert!(checked("{} \n\t\r").is_ok());
}

#[test]
fn control_characters_in_strings_refused() {
    assert_eq!(
        refused("\"a\tb\""),
        BodyRejected::ControlCharacter { offset: 2 }
    );
    assert_eq!(reason("{\"a\":[\"\n\"]}"), "control_character");
    assert_eq!(reason("{\"a\0\":1}"), "control_character");
    // DEL is not a control character for JSON.
    assert!(checked("\"\u{7f}\"").is_ok());
}

#[test]
fn lone_surrogates_refused() {
    assert_eq!(
        refused(r#""\ud800""#),
        BodyRejected::LoneSurrogate { offset: 1 }
    );
    for body in [
        r#""\udc00""#,
        r#""\ud800\u0041""#,
        r#""\ud800x""#,
        r#"["a", {"b": "\uDBFF"}]"#,
        r#"{"\ud800":1}"#,
        r#""\udc00\ud800""#,
    ] {
        assert_eq!(reason(body), "lone_surrogate", "{body}");
    }
}

// === depth ===

#[test]
fn depth_limit_is_exact() {
    let limits = Limits::default();
    let ok = format!("{}{}", "[".repeat(64), "]".repeat(64));
    assert!(check(ok.as_bytes(), &limits).is_ok());
    let deep = format!("{}{}", "[".repeat(65), "]".repeat(65));
    assert_eq!(refused(&deep), BodyRejected::TooDeep);

    let objects = format!("{}1{}", r#"{"a":"#.repeat(65), "}".repeat(65));
    assert_eq!(refused(&objects), BodyRejected::TooDeep);
    let mixed = format!("{}{{}}{}", r#"[{"a":"#.repeat(32), "}]".repeat(32));
    assert_eq!(refused(&mixed), BodyRejected::TooDeep);
}

#[test]
fn depth_zero_allows_only_scalars() {
    let limits = Limits {
        max_depth: 0,
        ..Limits::default()
    };
    assert!(check(b"1", &limits).is_ok());
    assert_eq!(check(b"[]", &limits), Err(BodyRejected::TooDeep));
}

#[test]
fn depth_above_ceiling_is_clamped() {
    let limits = Limits {
        max_depth: 10_000,
        ..Limits::default()
    };
    let ok = format!("{}{}", "[".repeat(120), "]".repeat(120));
    assert!(check(ok.as_bytes(), &limits).is_ok());
    let deep = format!("{}{}", "[".repeat(121), "]".repeat(121));
    assert_eq!(check(deep.as_bytes(), &limits), Err(BodyRejected::TooDeep));
}

#[test]
fn ten_thousand_levels_refused_without_overflow() {
    for body in [
        "[".repeat(10_000),
        format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)),
    ] {
        assert_eq!(refused(&body), BodyRejected::TooDeep);
    }
    assert_eq!(refused(r#"{"a":"#.repeat(10_000)), BodyRejected::TooDeep);
}

#[test]
fn million_levels_refused_quickly() {
    let body = "[".repeat(1_000_000);
    let started = Instant::now();
    assert_eq!(
        check(body.as_bytes(), &Limits::default()),
        Err(BodyRejected::TooDeep)
    );
    assert!(started.elapsed() < Duration::from_millis(100));

    // Raise the limit to the ceiling: still refused at level 121.
    let limits = Limits {
        max_depth: usize::MAX,
        ..Limits::default()
    };
    assert_eq!(check(body.as_bytes(), &limits), Err(BodyRejected::TooDeep));
}

// === keys ===

#[test]
fn duplicate_keys_refused_at_any_depth() {
    assert_eq!(pointer(r#"{"a":1,"a":2}"#), "/a");
    assert_eq!(pointer(r#"{"a":1,"b":{"c":1,"c":1}}"#), "/b/c");
    assert_eq!(
        pointer(r#"{"items":[{},{},{},{"name":1,"name":2}]}"#),
        "/items/3/name"
    );
    assert_eq!(pointer(r#"[[0,{"x":[],"x":{}}]]"#), "/0/1/x");
}

#[test]
fn duplicate_keys_compared_after_decoding() {
    let body = r#"{"amount": 100, "\u0061mount": 1}"#;
    assert_eq!(
        refused(body),
        BodyRejected::DuplicateKey {
            pointer: "/amount".into()
        }
    );
    assert_eq!(reason(r#"{"a":{"\u0062":1,"b":2}}"#), "duplicate_key");
    assert_eq!(reason(r#"{"a/b":1,"a\/b":2}"#), "duplicate_key");
    assert_eq!(reason(r#"{"😀":1,"\ud83d\ude00":2}"#), "duplicate_key");
    // Case and escapes that decode differently are distinct keys.
    assert!(checked(r#"{"a":1,"A":2,"\u0041a":3}"#).is_ok());
}

#[test]
fn duplicate_keys_found_in_large_objects() {
    let mut members: Vec<String> = (0..1_000).map(|i| format!("\"k{i}\":{i}")).collect();
    members.push(r#""k\u0035":0"#.to_string());
    let body = format!("{{{}}}", members.join(","));
    assert_eq!(pointer(&body), "/k5");
}

#[test]
fn duplicate_key_pointer_escapes_tokens() {
    assert_eq!(pointer(r#"{"a/b~":{"c":1,"c":2}}"#), "/a~1b~0/c");
}

#[test]
fn prototype_keys_refused_at_any_depth() {
    assert_eq!(pointer(r#"{"__proto__":{"admin":true}}"#), "/__proto__");
    assert_eq!(
        pointer(r#"{"constructor":{"prototype":{}}}"#),
        "/constructor"
    );
    assert_eq!(pointer(r#"{"a":[{"prototype":1}]}"#), "/a/0/prototype");
    assert_eq!(pointer(r#"{"x":{"__pro\u0074o__":1}}"#), "/x/__proto__");
    let limits = Limits::default();
    let nested = check(br#"{"a":{"constructor":{"prototype":{}}}}"#, &limits);
    assert_eq!(
        nested,
        Err(BodyRejected::PrototypeKey {
            pointer: "/a/constructor".into()
        })
    );
    // As values they are harmless.
    assert!(checked(r#"{"name":"__proto__","tags":["constructor"]}"#).is_ok());
}

// === numbers ===

#[test]
fn numbers_beyond_f64_refused() {
    assert_eq!(pointer("1e400"), "");
    assert_eq!(pointer("-1e400"), "");
    assert_eq!(pointer(r#"{"amount":1e400}"#), "/amount");
    assert_eq!(pointer(r#"{"a":[0,1,-1.5E+309]}"#), "/a/2");
    assert_eq!(pointer(&format!("[{}]", "9".repeat(400))), "/0");
    assert_eq!(reason("1.8e308"), "number_out_of_range");
    assert_eq!(reason("1e99999999999999999999999"), "number_out_of_range");
}

// === errors ===

#[test]
fn reasons_and_display_are_short() {
    let error = refused(r#"{"a":1,"a":2}"#);
    assert_eq!(error.reason(), "duplicate_key");
    assert_eq!(error.to_string(), r#"duplicate key at "/a""#);

    let hostile = format!(
        r#"{{"\u001b[31m{}":1,"\u001b[31m{}":1}}"#,
        "x".repeat(500),
        "x".repeat(500)
    );
    let shown = refused(&hostile).to_string();
    assert!(!shown.contains('\u{1b}') && shown.len() < 200, "{shown}");

    assert_eq!(refused("[1,]").offset(), Some(3));
    assert_eq!(BodyRejected::TooDeep.pointer(), None);
}

// === property tests ===

fn safe_key() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_ é😀\"\\\\/\n-]{0,12}".prop_filter("not a prototype key", |k| {
        !PROTOTYPE_KEYS.contains(&k.as_str())
    })
}

fn number() -> impl Strategy<Value = Number> {
    prop_oneof![
        (-(1i64 << 53)..=(1i64 << 53)).prop_map(Number::from),
        (0u64..=(1u64 << 53)).prop_map(Number::from),
        // Exact only with serde_json's `float_roundtrip` feature, which this crate enables.
        any::<f64>().prop_filter_map("finite", Number::from_f64),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number().prop_map(Value::Number),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(8, 128, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(safe_key(), inner, 0..8)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// Writes `key` as a JSON string with every character as a `\u` escape.
fn escaped_key(key: &str) -> String {
    let mut out = String::from("\"");
    for unit in key.encode_utf16() {
        out.push_str(&format!("\\u{unit:04x}"));
    }
    out.push('"');
    out
}

/// Fragments that make random byte strings look like JSON more often than noise does.
fn json_ish() -> impl Strategy<Value = Vec<u8>> {
    let token = prop::sample::select(vec![
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        " ",
        "\"",
        "\"a\"",
        "\"a\":",
        "1",
        "-",
        "0",
        ".5",
        "e9",
        "E-2",
        "true",
        "null",
        "\\u",
        "d800",
        "\\n",
        "\\",
        "\t",
        "/*",
        "NaN",
        "\u{0}",
        "é",
        "\u{feff}",
        "1e400",
        "\"__proto__\":",
    ]);
    prop::collection::vec(token, 0..40).prop_map(|tokens| tokens.concat().into_bytes())
}

proptest! {
    #[test]
    fn serialized_values_round_trip(value in json_value()) {
        let text = serde_json::to_vec(&value).unwrap();
        prop_assert_eq!(check(&text, &Limits::default()).unwrap(), value.clone());
        let pretty = serde_json::to_vec_pretty(&value).unwrap();
        prop_assert_eq!(check(&pretty, &Limits::default()).unwrap(), value);
        fuzz_one(&text);
    }

    #[test]
    fn any_f64_agrees_with_serde_json(x in any::<f64>()) {
        let text = format!("{x:e}");
        fuzz_one(text.as_bytes());
    }

    #[test]
    fn escaped_duplicates_refused(key in safe_key(), nested in any::<bool>()) {
        let plain = serde_json::to_string(&key).unwrap();
        let inner = format!(r#"{{{plain}:1,{}:2}}"#, escaped_key(&key));
        let body = if nested { format!(r#"{{"outer":[{inner}]}}"#) } else { inner };
        let rejected = check(body.as_bytes(), &Limits::default()).unwrap_err();
        prop_assert_eq!(rejected.reason(), "duplicate_key");
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..256)) {
        fuzz_one(&data);
    }

    #[test]
    fn json_ish_bytes_agree_with_serde_json(data in json_ish()) {
        fuzz_one(&data);
    }
}

// === timing ===

/// Rough cost of checking the transfer body; run with
/// `cargo test --release -- --ignored --nocapture transfer_timing`.
#[test]
#[ignore = "timing, not a correctness test"]
fn transfer_timing() {
    let limits = Limits::default();
    let body = TRANSFER.as_bytes();
    let rounds = 1_000_000u32;

    let started = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(check(std::hint::black_box(body), &limits).unwrap());
    }
    let full = started.elapsed() / rounds;

    let started = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(serde_json::from_slice::<Value>(std::hint::black_box(body)).unwrap());
    }
    let parse_only = started.elapsed() / rounds;

    println!(
        "transfer body ({} bytes): check {full:?}, serde_json alone {parse_only:?}",
        body.len()
    );
}
