use msk_trigger::{run, Config};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    pipeline_runtime::init_tracing();
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("msk-trigger: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        pipeline_runtime::shutdown_signal().await;
        let _ = stop.send(true);
    });
    match run(config, stopped).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("msk-trigger: {e}");
            ExitCode::FAILURE
        }
    }
}
