//! Tests for schema loading, strictness, validation messages and query coercion.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

const RECIPIENT: &str = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";

/// A fresh directory under the system temp dir.
fn scratch_dir() -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("palisade-schema-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, name: &str, schema: &Value) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, serde_json::to_vec_pretty(schema).unwrap()).unwrap();
}

fn try_compile(schema: &Value, options: &SchemaOptions) -> Result<CompiledSchema, String> {
    let dir = scratch_dir();
    write(&dir, "schema.json", schema);
    CompiledSchema::load(Source::File(Path::new("schema.json")), &dir, options)
}

fn compile(schema: &Value) -> CompiledSchema {
    try_compile(schema, &SchemaOptions::default()).unwrap()
}

/// The issues' pointers, sorted (the validator's order follows the schema's key order).
fn pointers(schema: &CompiledSchema, value: &Value) -> Vec<String> {
    let mut found: Vec<String> = match schema.validate(value) {
        Ok(()) => Vec::new(),
        Err(issues) => issues.into_iter().map(|i| i.pointer).collect(),
    };
    found.sort();
    found
}

fn transfer_schema() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "amount": { "type": "integer", "exclusiveMinimum": 0, "maximum": 10_000_000 },
            "recipientId": { "type": "string", "format": "uuid" },
            "note": { "type": "string", "maxLength": 200 },
            "meta": { "type": "object", "properties": { "channel": { "type": "string" } } }
        },
        "required": ["amount", "recipientId"]
    })
}

// === transfer ===

#[test]
fn transfer_valid_body_passes() {
    let schema = compile(&transfer_schema());
    let body = json!({"amount": 5000, "recipientId": RECIPIENT, "note": "rent"});
    assert_eq!(schema.validate(&body), Ok(()));
    let nested = json!({"amount": 1, "recipientId": RECIPIENT, "meta": {"channel": "web"}});
    assert_eq!(schema.validate(&nested), Ok(()));
}

#[test]
fn transfer_extra_fields_refused_at_top_level_and_nested() {
    let schema = compile(&transfer_schema());
    let top = json!({"amount": 5, "recipientId": RECIPIENT, "admin": true});
    assert_eq!(pointers(&schema, &top), ["/admin"]);
    let nested = json!({"amount": 5, "recipientId": RECIPIENT, "meta": {"channel": "x", "y": 1}});
    assert_eq!(pointers(&schema, &nested), ["/meta/y"]);
}

#[test]
fn transfer_wrong_type_missing_field_bad_uuid_long_note() {
    let schema = compile(&transfer_schema());
    let cases = [
        (json!({"amount": "5", "recipientId": RECIPIENT}), "/amount"),
        (json!({"amount": 5.5, "recipientId": RECIPIENT}), "/amount"),
        (json!({"amount": 0, "recipientId": RECIPIENT}), "/amount"),
        (
            json!({"amount": 10_000_001, "recipientId": RECIPIENT}),
            "/amount",
        ),
        (json!({"amount": 5}), "/recipientId"),
        (
            json!({"amount": 5, "recipientId": "not-a-uuid"}),
            "/recipientId",
        ),
        (
            json!({"amount": 5, "recipientId": RECIPIENT, "note": "x".repeat(201)}),
            "/note",
        ),
    ];
    for (body, pointer) in cases {
        assert_eq!(pointers(&schema, &body), [pointer], "{body}");
    }
    let issues = schema.validate(&json!({"amount": 5})).unwrap_err();
    assert_eq!(issues[0].message, "required property is missing");
}

#[test]
fn formats_are_asserted() {
    let schema = compile(&json!({
        "type": "object",
        "properties": {
            "email": { "type": "string", "format": "email" },
            "at": { "type": "string", "format": "date-time" }
        }
    }));
    assert_eq!(
        schema.validate(&json!({"email": "a@b.co", "at": "2024-01-02T03:04:05Z"})),
        Ok(())
    );
    assert_eq!(pointers(&schema, &json!({"email": "nope"})), ["/email"]);
    assert_eq!(pointers(&schema, &json!({"at": "yesterday"})), ["/at"]);
}

// === strictness and composition ===

#[test]
fn all_of_branches_are_evaluated_together() {
    let schema = compile(&json!({"allOf": [{"properties": {"a": {}}}, {"properties": {"b": {}}}]}));
    assert_eq!(schema.validate(&json!({"a": 1, "b": 2})), Ok(()));
    assert_eq!(pointers(&schema, &json!({"a": 1, "b": 2, "c": 3})), ["/c"]);
}

#[test]
fn any_of_and_one_of_are_strict() {
    for keyword in ["anyOf", "oneOf"] {
        let schema = compile(&json!({
            "type": "object",
            keyword: [
                {"properties": {"a": {"type": "string"}}, "required": ["a"]},
                {"properties": {"b": {"type": "integer"}}, "required": ["b"]}
            ]
        }));
        assert_eq!(schema.validate(&json!({"a": "x"})), Ok(()), "{keyword}");
        assert_eq!(schema.validate(&json!({"b": 1})), Ok(()), "{keyword}");
        assert_eq!(
            pointers(&schema, &json!({"a": "x", "c": 1})),
            ["/c"],
            "{keyword}"
        );
    }
}

#[test]
fn nested_objects_in_branches_are_strict() {
    let schema = compile(&json!({
        "allOf": [
            {"properties": {"a": {"type": "object", "properties": {"x": {}}}}},
            {"properties": {"b": {"type": "array", "items": {"properties": {"y": {}}}}}}
        ]
    }));
    assert_eq!(
        schema.validate(&json!({"a": {"x": 1}, "b": [{"y": 1}]})),
        Ok(())
    );
    assert_eq!(pointers(&schema, &json!({"a": {"x": 1, "z": 2}})), ["/a/z"]);
    assert_eq!(
        pointers(&schema, &json!({"b": [{"y": 1}, {"w": 1}]})),
        ["/b/1/w"]
    );
}

#[test]
fn defs_used_in_all_of_compose() {
    let schema = compile(&json!({
        "$defs": {
            "Base": {"type": "object", "properties": {"id": {"type": "string"}}},
            "Named": {"properties": {"name": {"type": "string"}}}
        },
        "allOf": [{"$ref": "#/$defs/Base"}, {"$ref": "#/$defs/Named"}]
    }));
    assert_eq!(schema.validate(&json!({"id": "1", "name": "n"})), Ok(()));
    assert_eq!(
        pointers(&schema, &json!({"id": "1", "name": "n", "x": 0})),
        ["/x"]
    );
}

#[test]
fn explicit_allowance_is_respected() {
    let schema = compile(&json!({
        "type": "object",
        "properties": {
            "open": {"type": "object", "additionalProperties": true},
            "map": {"type": "object", "additionalProperties": {"type": "integer"}},
            "any": {}
        }
    }));
    let body = json!({"open": {"k": 1}, "map": {"a": 1, "b": 2}, "any": {"k": [1]}});
    assert_eq!(schema.validate(&body), Ok(()));
    assert_eq!(pointers(&schema, &json!({"map": {"a": "x"}})), ["/map/a"]);
}

#[test]
fn non_strict_allows_extras() {
    let options = SchemaOptions {
        strict: false,
        ..SchemaOptions::default()
    };
    let schema = try_compile(&transfer_schema(), &options).unwrap();
    let body = json!({"amount": 5, "recipientId": RECIPIENT, "x": 1, "meta": {"y": 2}});
    assert_eq!(schema.validate(&body), Ok(()));
}

#[test]
fn predicates_are_not_made_strict() {
    // `not` must keep its meaning: only `{"role": "admin"}`-like objects are refused.
    let schema = compile(&json!({
        "type": "object",
        "properties": {"role": {"type": "string"}, "x": {}},
        "not": {"properties": {"role": {"const": "admin"}}, "required": ["role"]}
    }));
    assert_eq!(schema.validate(&json!({"role": "user", "x": 1})), Ok(()));
    assert_eq!(pointers(&schema, &json!({"role": "admin", "x": 1})), [""]);
}

// === drafts and Zod exports ===

#[test]
fn zod_to_json_schema_draft_07_is_strict() {
    // The shape zod-to-json-schema emits with a `name`: a root `$ref` into `definitions`.
    let schema = compile(&json!({
        "$ref": "#/definitions/Transfer",
        "definitions": {
            "Transfer": {
                "type": "object",
                "properties": {
                    "amount": {"type": "integer", "exclusiveMinimum": 0, "maximum": 10_000_000},
                    "recipientId": {"type": "string", "format": "uuid"},
                    "note": {"type": "string", "maxLength": 200},
                    "tags": {"type": "array", "items": {"$ref": "#/definitions/Tag"}},
                    "pair": {"type": "array", "items": [{"type": "string"}, {"type": "integer"}],
                             "additionalItems": false}
                },
                "required": ["amount", "recipientId"],
                "additionalProperties": false
            },
            "Tag": {
                "type": "object",
                "properties": {"label": {"type": "string"}},
                "required": ["label"]
            }
        },
        "$schema": "http://json-schema.org/draft-07/schema#"
    }));
    let ok = json!({"amount": 5, "recipientId": RECIPIENT, "tags": [{"label": "a"}],
                    "pair": ["x", 1]});
    assert_eq!(schema.validate(&ok), Ok(()));
    assert_eq!(
        pointers(
            &schema,
            &json!({"amount": 5, "recipientId": RECIPIENT, "x": 1})
        ),
        ["/x"]
    );
    let tag_extra =
        json!({"amount": 5, "recipientId": RECIPIENT, "tags": [{"label": "a", "z": 1}]});
    assert_eq!(pointers(&schema, &tag_extra), ["/tags/0/z"]);
    let bad_pair = json!({"amount": 5, "recipientId": RECIPIENT, "pair": ["x", 1, 2]});
    assert_eq!(pointers(&schema, &bad_pair), ["/pair/2"]);
    // uuid is asserted although draft-07 did not define it: the document runs as 2020-12.
    assert_eq!(
        pointers(&schema, &json!({"amount": 5, "recipientId": "x"})),
        ["/recipientId"]
    );
}

#[test]
fn draft_07_ref_siblings_are_ignored_as_draft_07_says() {
    let schema = compile(&json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "definitions": {"S": {"type": "string"}},
        "type": "object",
        "properties": {"a": {"$ref": "#/definitions/S", "maxLength": 1}}
    }));
    assert_eq!(schema.validate(&json!({"a": "long"})), Ok(()));
}

#[test]
fn zod_v4_2020_12_export_is_strict() {
    // The shape of Zod v4's `z.toJSONSchema()` with a reused (registered) schema in `$defs`.
    let schema = compile(&json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "amount": {"type": "integer", "exclusiveMinimum": 0, "maximum": 10_000_000},
            "recipientId": {
                "type": "string", "format": "uuid",
                "pattern": "^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-8][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}|00000000-0000-0000-0000-000000000000|ffffffff-ffff-ffff-ffff-ffffffffffff)$"
            },
            "note": {"type": "string", "maxLength": 200},
            "when": {"type": "string", "format": "date-time"},
            "address": {"$ref": "#/$defs/Address"},
            "kind": {"anyOf": [{"type": "string", "const": "a"}, {"type": "null"}]}
        },
        "required": ["amount", "recipientId"],
        "additionalProperties": false,
        "$defs": {
            "Address": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"]
            }
        }
    }));
    let ok = json!({"amount": 5, "recipientId": RECIPIENT, "when": "2024-01-02T03:04:05Z",
                    "address": {"city": "Oslo"}, "kind": null});
    assert_eq!(schema.validate(&ok), Ok(()));
    let extra = json!({"amount": 5, "recipientId": RECIPIENT, "address": {"city": "O", "x": 1}});
    assert_eq!(pointers(&schema, &extra), ["/address/x"]);
}

#[test]
fn unsupported_dialect_is_refused() {
    let err = try_compile(
        &json!({"$schema": "http://json-schema.org/draft-04/schema#", "type": "object"}),
        &SchemaOptions::default(),
    )
    .unwrap_err();
    assert!(
        err.contains("schema.json") && err.contains("draft-04"),
        "{err}"
    );
}

// === files and references ===

#[test]
fn local_file_refs_resolve_and_stay_strict() {
    let dir = scratch_dir();
    write(
        &dir,
        "schemas/common/money.json",
        &json!({
            "$defs": {"Amount": {"type": "integer", "exclusiveMinimum": 0, "maximum": 10_000_000}}
        }),
    );
    write(
        &dir,
        "schemas/address.json",
        &json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {"city": {"type": "string"}}
        }),
    );
    write(
        &dir,
        "schemas/order.json",
        &json!({
            "type": "object",
            "properties": {
                "amount": {"$ref": "common/money.json#/$defs/Amount"},
                "ship": {"$ref": "./address.json"}
            },
            "required": ["amount"]
        }),
    );
    let source = Source::File(Path::new("schemas/order.json"));
    let schema = CompiledSchema::load(source, &dir, &SchemaOptions::default()).unwrap();

    assert_eq!(
        schema.validate(&json!({"amount": 3, "ship": {"city": "Rome"}})),
        Ok(())
    );
    assert_eq!(pointers(&schema, &json!({"amount": 0})), ["/amount"]);
    assert_eq!(
        pointers(&schema, &json!({"amount": 3, "ship": {"zip": "1"}})),
        ["/ship/zip"]
    );
    assert_eq!(
        schema.property_types("amount").unwrap().types,
        [JsonKind::Integer]
    );
}

#[test]
fn refs_escaping_base_dir_are_refused() {
    let dir = scratch_dir();
    let base = dir.join("base");
    write(&dir, "outside.json", &json!({"type": "string"}));
    write(
        &base,
        "schema.json",
        &json!({"properties": {"a": {"$ref": "../outside.json"}}}),
    );
    let options = SchemaOptions::default();
    let err =
        CompiledSchema::load(Source::File(Path::new("schema.json")), &base, &options).unwrap_err();
    assert!(
        err.contains("schema.json") && err.contains("outside"),
        "{err}"
    );

    let err = CompiledSchema::load(Source::File(Path::new("../outside.json")), &base, &options)
        .unwrap_err();
    assert!(err.contains("outside the schema directory"), "{err}");
}

#[test]
fn symlinks_out_of_base_dir_are_refused() {
    let dir = scratch_dir();
    write(&dir, "outside.json", &json!({"type": "string"}));
    write(
        &dir,
        "base/schema.json",
        &json!({"properties": {"a": {"$ref": "link.json"}}}),
    );
    std::os::unix::fs::symlink(dir.join("outside.json"), dir.join("base/link.json")).unwrap();
    let options = SchemaOptions::default();
    let source = Source::File(Path::new("schema.json"));
    let err = CompiledSchema::load(source, &dir.join("base"), &options).unwrap_err();
    assert!(err.contains("outside the schema directory"), "{err}");
}

#[test]
fn invalid_referenced_file_is_named() {
    let dir = scratch_dir();
    write(&dir, "bad.json", &json!({"type": "strng"}));
    write(
        &dir,
        "schema.json",
        &json!({"properties": {"a": {"$ref": "bad.json"}}}),
    );
    let source = Source::File(Path::new("schema.json"));
    let err = CompiledSchema::load(source, &dir, &SchemaOptions::default()).unwrap_err();
    assert!(
        err.starts_with("schema schema.json: in bad.json: invalid schema at /type"),
        "{err}"
    );
}

#[test]
fn look_around_patterns_are_refused_with_a_reason() {
    // Zod v4 emits this pattern beside `format: "email"`; the linear engine cannot run it.
    let pattern = "^(?!\\.)(?!.*\\.\\.)([A-Za-z0-9_'+\\-\\.]*)[A-Za-z0-9_+-]@([A-Za-z0-9][A-Za-z0-9\\-]*\\.)+[A-Za-z]{2,}$";
    let schema = json!({"type": "string", "format": "email", "pattern": pattern});
    let err = try_compile(&schema, &SchemaOptions::default()).unwrap_err();
    assert!(
        err.contains("at /pattern") && err.contains("look-around"),
        "{err}"
    );
}

#[test]
fn remote_refs_are_refused() {
    for reference in [
        "https://example.com/s.json",
        "http://example.com/s.json#/a",
        "urn:x:y",
    ] {
        let schema = json!({"properties": {"a": {"$ref": reference}}});
        let err = try_compile(&schema, &SchemaOptions::default()).unwrap_err();
        assert!(
            err.contains("remote") && err.contains("/properties/a"),
            "{err}"
        );
    }
    // A relative ref under a remote `$id` would be fetched from there: refused too.
    let schema = json!({"$id": "https://example.com/root.json", "$ref": "other.json"});
    let err = try_compile(&schema, &SchemaOptions::default()).unwrap_err();
    assert!(err.contains("remote"), "{err}");
}

#[test]
fn schemas_that_do_not_compile_are_refused_with_location() {
    let cases = [
        json!({"type": "strng"}),
        json!({"type": "string", "pattern": "(unclosed"}),
        json!({"properties": {"a": {"$ref": "#/$defs/missing"}}}),
        json!({"properties": {"a": {"$ref": "missing.json"}}}),
        json!({"type": "object", "properties": {"a": {"minLength": "three"}}}),
    ];
    for schema in cases {
        let err = try_compile(&schema, &SchemaOptions::default()).unwrap_err();
        assert!(err.starts_with("schema schema.json: "), "{schema}: {err}");
    }
    let missing = CompiledSchema::load(
        Source::File(Path::new("nope.json")),
        &scratch_dir(),
        &SchemaOptions::default(),
    );
    assert!(missing.unwrap_err().contains("nope.json"));
}

#[test]
fn inline_toml_table_compiles() {
    let table: toml::Value = toml::from_str(
        r#"
        type = "object"
        required = ["amount"]
        [properties.amount]
        type = "integer"
        maximum = 10
        "#,
    )
    .unwrap();
    let options = SchemaOptions::default();
    let schema = CompiledSchema::load(Source::Inline(&table), &scratch_dir(), &options).unwrap();
    assert_eq!(schema.validate(&json!({"amount": 3})), Ok(()));
    assert_eq!(pointers(&schema, &json!({"amount": 3, "x": 1})), ["/x"]);

    let bad: toml::Value = toml::from_str("type = 5").unwrap();
    let err = CompiledSchema::load(Source::Inline(&bad), &scratch_dir(), &options).unwrap_err();
    assert!(err.starts_with("schema inline: "), "{err}");
}

// === issues ===

#[test]
fn issues_are_capped() {
    let names: Vec<String> = (0..30).map(|i| format!("p{i}")).collect();
    let schema = compile(&json!({"type": "object", "required": names}));
    let options = SchemaOptions {
        max_issues: 3,
        ..SchemaOptions::default()
    };
    let capped = try_compile(&json!({"type": "object", "required": names}), &options).unwrap();
    assert_eq!(schema.validate(&json!({})).unwrap_err().len(), 10);
    assert_eq!(capped.validate(&json!({})).unwrap_err().len(), 3);
}

#[test]
fn messages_never_echo_long_values() {
    let schema = compile(&json!({
        "type": "object",
        "properties": {
            "s": {"type": "string", "maxLength": 5, "pattern": "^a$", "format": "email"},
            "n": {"type": "integer"},
            "e": {"enum": ["x", "y"]}
        }
    }));
    let long = "Q".repeat(10 * 1024);
    let body = json!({"s": long, "n": long, "e": long, long.clone(): 1});
    let issues = schema.validate(&body).unwrap_err();
    assert!(issues.len() >= 5, "{issues:?}");
    for issue in &issues {
        assert!(!issue.message.contains("QQQQQQQQ"), "{issue:?}");
        assert!(issue.message.chars().count() <= 200 && issue.pointer.chars().count() <= 200);
    }
}

#[test]
fn pointers_escape_property_names() {
    let schema = compile(&json!({"type": "object", "properties": {}}));
    assert_eq!(pointers(&schema, &json!({"a/b~c": 1})), ["/a~1b~0c"]);
}

#[test]
fn redos_pattern_runs_in_linear_time() {
    let schema = compile(&json!({"type": "string", "pattern": "^(a+)+$"}));
    let evil = format!("{}b", "a".repeat(30));
    let start = Instant::now();
    assert!(schema.validate(&json!(evil)).is_err());
    assert!(schema.validate(&json!("a".repeat(100_000))).is_ok());
    assert!(start.elapsed() < Duration::from_secs(1));
}

// === query strings ===

fn query_schema() -> CompiledSchema {
    compile(&json!({
        "type": "object",
        "properties": {
            "amount": {"type": "integer"},
            "price": {"type": "number"},
            "tag": {"type": "array", "items": {"type": "string"}},
            "ids": {"type": "array", "items": {"type": "integer"}},
            "flag": {"type": "boolean"},
            "q": {"type": "string"},
            "opt": {"anyOf": [{"type": "integer"}, {"type": "null"}]}
        }
    }))
}

#[test]
fn query_values_are_coerced_as_the_schema_asks() {
    let schema = query_schema();
    let value = query_to_json("?amount=5&tag=a&tag=b&flag=true", &schema);
    assert_eq!(value, json!({"amount": 5, "tag": ["a", "b"], "flag": true}));
    assert_eq!(schema.validate(&value), Ok(()));

    let value = query_to_json("tag=one&ids=1&ids=2&price=2.5&opt=7&q=12", &schema);
    let expected = json!({"tag": ["one"], "ids": [1, 2], "price": 2.5, "opt": 7, "q": "12"});
    assert_eq!(value, expected);
}

#[test]
fn query_decoding_and_failed_coercions() {
    let schema = query_schema();
    let value = query_to_json("q=a+b%20c%2B%zz&amount=5x&flag=yes&price=1e400", &schema);
    assert_eq!(value["q"], "a b c+%zz");
    assert_eq!(value["amount"], "5x");
    assert_eq!(value["flag"], "yes");
    assert_eq!(value["price"], "1e400");
    assert_eq!(pointers(&schema, &value), ["/amount", "/flag", "/price"]);

    let value = query_to_json("amount=1&amount=2&amount=%2B3", &schema);
    assert_eq!(value["amount"], json!([1, 2, "+3"]));
    assert_eq!(pointers(&schema, &value), ["/amount"]);
}

#[test]
fn unknown_query_keys_are_refused_under_strict() {
    let schema = query_schema();
    let value = query_to_json("amount=1&debug=1&%5F%5Fproto%5F%5F=x", &schema);
    assert_eq!(pointers(&schema, &value), ["/__proto__", "/debug"]);
}

#[test]
fn query_types_follow_refs_and_compositions() {
    let schema = compile(&json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$ref": "#/definitions/Q",
        "definitions": {
            "Q": {"allOf": [
                {"properties": {"page": {"$ref": "#/definitions/Page"}}},
                {"properties": {"sort": {"enum": ["asc", "desc"]}, "f": {"const": true}}}
            ]},
            "Page": {"type": "integer", "minimum": 1}
        }
    }));
    let value = query_to_json("page=2&sort=asc&f=true", &schema);
    assert_eq!(value, json!({"page": 2, "sort": "asc", "f": true}));
    assert_eq!(schema.validate(&value), Ok(()));
    assert_eq!(
        pointers(&schema, &query_to_json("page=0&x=1", &schema)),
        ["/page", "/x"]
    );
}

// === properties ===

proptest! {
    #[test]
    fn any_valid_transfer_passes(amount in 1..=10_000_000i64, note in "\\PC{0,200}") {
        let schema = compile(&transfer_schema());
        let body = json!({"amount": amount, "recipientId": RECIPIENT, "note": note});
        prop_assert_eq!(schema.validate(&body), Ok(()));
    }

    #[test]
    fn any_undeclared_key_is_refused(key in "\\PC{1,40}") {
        prop_assume!(!["amount", "recipientId", "note", "meta"].contains(&key.as_str()));
        let schema = compile(&transfer_schema());
        let body = json!({"amount": 1, "recipientId": RECIPIENT, key.clone(): 1});
        let issues = schema.validate(&body).unwrap_err();
        prop_assert_eq!(issues.len(), 1);
        prop_assert_eq!(issues[0].message.as_str(), "unknown property");
    }

    #[test]
    fn query_to_json_never_panics_and_yields_an_object(query in "\\PC{0,80}") {
        let schema = query_schema();
        prop_assert!(query_to_json(&query, &schema).is_object());
    }
}
