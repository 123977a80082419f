//! `wasm-bindgen` (scripts/setup.sh wasm installs it under that name): the JavaScript bindings of
//! a wasm module, exactly as wasm-bindgen-cli's own binary makes them. Its library does the work;
//! only the lock file is ours.

fn main() -> std::process::ExitCode {
    match wasm_bindgen_cli::wasm_bindgen::run_cli_with_args(std::env::args_os()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:?}");
            std::process::ExitCode::FAILURE
        }
    }
}
