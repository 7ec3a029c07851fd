#![no_main]

// Admin API JSON bodies through the router: see portcullis_server::fuzzing::admin_json.
libfuzzer_sys::fuzz_target!(|data: &[u8]| portcullis_server::fuzzing::admin_json(data));
