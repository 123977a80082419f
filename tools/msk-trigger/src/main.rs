use msk_trigger::{run, Config};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    pipeline_runtime::init_tracing();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => return pipeline_runtime::exit_code::<String>("msk-trigger", Err(e)),
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        pipeline_runtime::shutdown_signal().await;
        let _ = stop.send(true);
    });
    pipeline_runtime::exit_code("msk-trigger", Ok(run(config, stopped).await))
}
