//! cargo-fuzz target: arbitrary bytes as desired-state files, through the
//! validator (and, when valid, the planner and renderers).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    jumpgate_fuzz::validate_bytes(data);
});
