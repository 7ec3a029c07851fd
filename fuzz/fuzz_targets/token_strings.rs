#![no_main]

// Token strings: see portcullis_core::fuzzing::tokens::check.
libfuzzer_sys::fuzz_target!(|data: &[u8]| portcullis_core::fuzzing::tokens::check(data));
