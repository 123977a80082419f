//! libFuzzer target: any bytes as an MSK record through the processor's decoding (see
//! `pipeline_fuzz::check_record`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pipeline_fuzz::check_record(data));
