#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| portopen_fuzz::gateway_description(data));
