use events_api::{run, Config};
use pipeline_runtime::Exit;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == events_api::probe::FLAG) {
        args.remove(i);
        return events_api::probe::health_check(&args);
    }
    pipeline_runtime::init_tracing();
    let exit = match Config::from_env() {
        Ok(config) => Exit::from(run(config).await),
        Err(e) => Exit::Config(e),
    };
    pipeline_runtime::exit_code("events-api", exit)
}
