//! The cost of stage 6 for the transfer body of SPEC.md: the strict JSON checks, the schema,
//! and both together, as a request pays them.
//!
//! Run with `cargo bench --bench validation`. Compare figures within one run only: these
//! machines are shared, so absolute numbers drift.

#![allow(missing_docs, clippy::unwrap_used)]

use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use palisade::validate::body_json::{Limits, check};
use palisade::validate::schema::{CompiledSchema, SchemaOptions, Source};

const BODY: &[u8] =
    br#"{"amount":12500,"recipientId":"6f1c2a3e-7b8d-4e5f-9a0b-1c2d3e4f5a6b","note":"rent"}"#;

const SCHEMA: &str = r#"
type = "object"
required = ["amount", "recipientId"]
[properties]
amount = { type = "integer", minimum = 1, maximum = 10000000 }
recipientId = { type = "string", format = "uuid" }
note = { type = "string", maxLength = 200 }
"#;

fn validation(c: &mut Criterion) {
    let table: toml::Value = toml::from_str(SCHEMA).unwrap();
    let schema = CompiledSchema::load(
        Source::Inline(&table),
        Path::new("."),
        &SchemaOptions::default(),
    )
    .unwrap();
    let limits = Limits::default();
    let value = check(BODY, &limits).unwrap();

    c.bench_function("strict json checks (transfer body)", |b| {
        b.iter(|| check(std::hint::black_box(BODY), &limits).unwrap())
    });
    c.bench_function("schema validation (transfer body)", |b| {
        b.iter(|| schema.validate(std::hint::black_box(&value)).unwrap())
    });
    c.bench_function("full stage 6 check (transfer body)", |b| {
        b.iter(|| {
            let value = check(std::hint::black_box(BODY), &limits).unwrap();
            schema.validate(&value).unwrap()
        })
    });
}

criterion_group!(benches, validation);
criterion_main!(benches);
