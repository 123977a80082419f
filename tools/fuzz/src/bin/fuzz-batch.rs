//! libFuzzer target: any bytes as a whole MSK event (partitions, records, keys, values and
//! headers of any shape) through the processor's handler (see `pipeline_fuzz::check_batch`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pipeline_fuzz::check_batch(data));
