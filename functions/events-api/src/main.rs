use events_api::{run, Config};
use pipeline_runtime::Exit;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    pipeline_runtime::init_tracing();
    let exit = match Config::from_env() {
        Ok(config) => Exit::from(run(config).await),
        Err(e) => Exit::Config(e),
    };
    pipeline_runtime::exit_code("events-api", exit)
}
