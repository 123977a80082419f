//! libFuzzer target: any bytes as an `Authorization` header value, and as a token's claims,
//! through the API's credential checks (see `pipeline_fuzz::check_token`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pipeline_fuzz::check_token(data));
