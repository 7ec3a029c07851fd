#![no_main]

// Scopes: see portcullis_core::fuzzing::scope::check.
libfuzzer_sys::fuzz_target!(|data: &[u8]| portcullis_core::fuzzing::scope::check(data));
