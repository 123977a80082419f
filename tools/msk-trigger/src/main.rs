use msk_trigger::{run, Config};
use pipeline_runtime::Exit;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    pipeline_runtime::init_tracing();
    let exit = match Config::from_env() {
        Ok(config) => Exit::from(run(config, pipeline_runtime::shutdown_watch()).await),
        Err(e) => Exit::Config(e),
    };
    pipeline_runtime::exit_code("msk-trigger", exit)
}
