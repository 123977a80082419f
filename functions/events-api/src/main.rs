use clap::Parser as _;
use events_api::{run, Args, Config};
use pipeline_runtime::Exit;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    if args.health_check {
        return events_api::probe::health_check(args.listen);
    }
    pipeline_runtime::init_tracing();
    let exit = match Config::from_env(args.listen) {
        Ok(config) => Exit::from(run(config).await),
        Err(e) => Exit::Config(e),
    };
    pipeline_runtime::exit_code("events-api", exit)
}
