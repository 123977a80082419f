//! `wasm-bindgen-test-runner` (scripts/setup.sh wasm installs it under that name): what
//! `cargo test --target wasm32-unknown-unknown` runs each test module with
//! (`CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER`), here under Node.js.

fn main() -> std::process::ExitCode {
    match wasm_bindgen_cli::wasm_bindgen_test_runner::run_cli_with_args(std::env::args_os()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:?}");
            std::process::ExitCode::FAILURE
        }
    }
}
