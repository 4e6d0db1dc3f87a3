//! The key decoder never panics, and every key it accepts survives a round trip through its
//! dashed form.
#![no_main]

use libfuzzer_sys::fuzz_target;
use licd::license::keys::ActivationKey;

fuzz_target!(|input: &str| {
    if let Ok(key) = ActivationKey::parse(input) {
        let again = ActivationKey::parse(&key.dashed()).expect("dashed key parses");
        assert_eq!(again, key);
    }
});
