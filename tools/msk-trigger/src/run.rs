//! The trigger's run: the shared loop with the Lambda Invoke API client.

use crate::config::Config;
use crate::error::TriggerError;
use crate::invoke::Invoker;
use event_consume::Progress;
use tokio::sync::watch;
use tracing::info;

/// Runs until `shutdown` turns true, invoking the function through the Lambda Invoke API.
pub async fn run(config: Config, shutdown: watch::Receiver<bool>) -> Result<(), TriggerError> {
    let invoker = Invoker::new(&config)?;
    info!(endpoint = %invoker.url(), "invoking through the Lambda Invoke API");
    let progress = Progress::default();
    event_consume::consume(
        &config.consume,
        &invoker,
        "msk-trigger",
        &progress,
        shutdown,
    )
    .await?;
    Ok(())
}
