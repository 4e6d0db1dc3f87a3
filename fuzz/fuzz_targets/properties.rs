//! The product-properties parser never panics on any input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use licd::license::properties::parse_changes;

fuzz_target!(|input: &str| {
    let _ = parse_changes(input);
});
