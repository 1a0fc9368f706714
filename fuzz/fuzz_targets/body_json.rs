//! The strict JSON body checks on arbitrary bytes: never a panic, never a hang, and agreement
//! with serde_json on every body they accept (and on every syntax error they report).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    palisade::validate::body_json::fuzz_one(data);
});
