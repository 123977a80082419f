use clap::Parser;
use events_consumer::{health, run, Config};
use pipeline_runtime::Exit;
use std::process::ExitCode;

/// The events processor as a long-running Kafka consumer. Settings come from the environment
/// (the loop's CONSUMER_* variables, the processor's, and CONSUMER_HEALTH_ADDR); it runs until
/// SIGTERM or Ctrl-C.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Ask the running consumer's GET /health on CONSUMER_HEALTH_ADDR, and exit 0 only if it
    /// answers ok (a container's HEALTHCHECK).
    #[arg(long)]
    health_check: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    if Args::parse().health_check {
        return health::check_from_env();
    }
    pipeline_runtime::init_tracing();
    let exit = match Config::from_env() {
        Ok(config) => Exit::from(run(config, pipeline_runtime::shutdown_watch()).await),
        Err(e) => Exit::Config(e),
    };
    pipeline_runtime::exit_code("events-consumer", exit)
}
