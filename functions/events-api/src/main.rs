use events_api::{run, Config};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    pipeline_runtime::init_tracing();
    let outcome = match Config::from_env() {
        Ok(config) => Ok(run(config).await),
        Err(e) => Err(e),
    };
    pipeline_runtime::exit_code("events-api", outcome)
}
