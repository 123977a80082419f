//! The events processor as a long-running Kafka consumer, for running the pipeline in
//! containers rather than on Lambda.
//!
//! It consumes `KAFKA_TOPIC` in the same consumer group as the event source mapping
//! (`user-activity-consumer-group`) with the mapping's loop ([`event_consume::consume`], which
//! the local trigger runs too: MSK-shaped batches, retries with backoff, bisecting, skipping to
//! the on-failure topic, and offsets committed only after a batch is done); only the invocation
//! differs: the batch goes to the [`events_processor::Processor`] in this process
//! ([`InProcess`]), typed, rather than as JSON through the Lambda Invoke API. So its guarantees are the trigger's and the function's: a batch is
//! committed only once every valid event is stored and every poison record is on the
//! dead-letter topic; partial batch responses (`REPORT_BATCH_ITEM_FAILURES`) redeliver exactly
//! the records named; SIGTERM leaves the group without committing a batch
//! still being retried.
//!
//! Layout: [`config`] (the loop's settings as `CONSUMER_*`, the processor's, and
//! `CONSUMER_HEALTH_ADDR`),
//! [`InProcess`] (the port's in-process adapter), [`health`] (`GET /health` and the
//! `--health-check` client), [`error`].
#![warn(missing_docs)]

pub mod config;
pub mod error;
pub mod health;
mod in_process;

pub use config::Config;
pub use error::ConsumerError;
pub use in_process::InProcess;

use event_consume::Progress;
use events_processor::Processor;
use std::sync::Arc;
use tokio::sync::watch;
use tracing::warn;

/// The program's name: its Kafka client id and the `Service` dimension of its metrics.
pub const SERVICE: &str = "events-consumer";

/// Opens the store and the dead-letter producer once, then consumes until `shutdown` turns
/// true (the health listener, when configured, answers meanwhile).
pub async fn run(config: Config, shutdown: watch::Receiver<bool>) -> Result<(), ConsumerError> {
    for (old, new) in &config.renamed {
        warn!(old = %old, new = %new, "{old} is read as {new} for this release only; set {new}");
    }
    let progress = Arc::new(Progress::default());
    let health = match config.health_addr {
        None => None,
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|source| ConsumerError::Health { addr, source })?;
            Some(tokio::spawn(health::serve(
                listener,
                progress.clone(),
                shutdown.clone(),
            )))
        }
    };
    let processor = Processor::open(&config.processor, SERVICE).await?;
    let invoker = InProcess::new(processor, &config.consume);
    let outcome =
        event_consume::consume(&config.consume, &invoker, SERVICE, &progress, shutdown).await;
    if let Some(health) = health {
        health.abort();
    }
    Ok(outcome?)
}
