//! The argument parser never panics, whatever the query string and body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use licd::http::args::{ArgLimits, Args};

fuzz_target!(|data: &[u8]| {
    let split = data.first().map_or(0, |b| usize::from(*b)).min(data.len());
    let (query, body) = data.split_at(split);
    let limits = ArgLimits { max_args: 64, max_value_bytes: 4096 };
    if let Ok(query) = std::str::from_utf8(query) {
        let _ = Args::parse(Some(query), Some(body), limits);
    }
});
