#![no_main]

// Redirect URIs: see portcullis_core::fuzzing::redirect::check.
libfuzzer_sys::fuzz_target!(|data: &[u8]| portcullis_core::fuzzing::redirect::check(data));
