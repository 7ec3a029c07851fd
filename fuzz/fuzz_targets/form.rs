#![no_main]

// Form bodies: see portcullis_core::fuzzing::form::check_form.
libfuzzer_sys::fuzz_target!(|data: &[u8]| portcullis_core::fuzzing::form::check_form(data));
