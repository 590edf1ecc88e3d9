#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| portopen_fuzz::http_response(data));
