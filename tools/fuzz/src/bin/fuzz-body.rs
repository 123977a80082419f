//! libFuzzer target: any bytes through both validators (see `pipeline_fuzz::check_body`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pipeline_fuzz::check_body(data));
