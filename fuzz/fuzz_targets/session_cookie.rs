//! Session-cookie decoding on arbitrary `Cookie` header lines: never a panic, and any token
//! it returns has the shape it promises.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    palisade::auth::session_cookie::fuzz_one(data);
});
