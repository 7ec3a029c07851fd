#![no_main]

// JWT verification: see portcullis_core::fuzzing::jwt::check.
libfuzzer_sys::fuzz_target!(|data: &[u8]| portcullis_core::fuzzing::jwt::check(data));
