//! The features parser never panics, and what it accepts renders back to the same sets.
#![no_main]

use libfuzzer_sys::fuzz_target;
use licd::license::features::Features;

fuzz_target!(|input: &str| {
    if let Ok(changes) = Features::parse_changes(input) {
        let features = Features::default().with_changes(&changes);
        let again = Features::parse_changes(&features.render()).expect("rendered features parse");
        assert_eq!(Features::default().with_changes(&again), features);
    }
});
