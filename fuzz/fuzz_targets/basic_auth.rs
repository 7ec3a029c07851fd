#![no_main]

// Basic credentials: see portcullis_core::fuzzing::form::check_basic_auth.
libfuzzer_sys::fuzz_target!(|data: &[u8]| portcullis_core::fuzzing::form::check_basic_auth(data));
