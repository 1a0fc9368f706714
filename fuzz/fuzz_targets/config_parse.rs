//! Config parsing on arbitrary text: every input is either a config or a list of problems
//! that name a key or a position, never a panic.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use palisade::config::Config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // References resolve against an empty folder, so no file outside it is read.
    let base = Path::new("/nonexistent-palisade-fuzz");
    if let Err(errors) = Config::parse(text, Path::new("fuzz.toml"), base) {
        assert!(!errors.problems.is_empty());
        for problem in &errors.problems {
            assert!(!problem.message.is_empty());
        }
    }
});
