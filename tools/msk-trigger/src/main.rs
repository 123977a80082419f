use msk_trigger::{run, Config, TriggerError};
use pipeline_runtime::Exit;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    pipeline_runtime::init_tracing();
    let exit = match Config::from_env() {
        Ok(config) => Exit::from(serve(config).await),
        Err(e) => Exit::Config(e),
    };
    pipeline_runtime::exit_code("msk-trigger", exit)
}

/// Runs until SIGTERM or Ctrl-C.
async fn serve(config: Config) -> Result<(), TriggerError> {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        pipeline_runtime::shutdown_signal().await;
        let _ = stop.send(true);
    });
    run(config, stopped).await
}
