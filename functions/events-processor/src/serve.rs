//! Start-up: build the store, the dead-letter producer and the metrics once per cold start, then
//! hand every invocation to the [`Processor`].

use crate::{Config, Processor, SERVICE};
use event_kafka::KafkaDeadLetters;
use event_store::{Store, StoreError};
use lambda_runtime::{service_fn, LambdaEvent};
use pipeline_runtime::metrics::Metrics;

/// Why the function could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// `STORE_URL` could not be opened.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The dead-letter producer could not be created.
    #[error("kafka: {0}")]
    Kafka(#[from] event_kafka::Error),
    /// The Lambda runtime stopped with an error.
    #[error("lambda runtime: {0}")]
    Lambda(lambda_runtime::Error),
}

impl Processor<Store, KafkaDeadLetters> {
    /// The processor `config` describes: its store and dead-letter producer opened once, its
    /// metrics under `service`. The Lambda function and the long-running consumer
    /// (`events-consumer`) both start here.
    pub async fn open(config: &Config, service: &'static str) -> Result<Self, StartError> {
        let store = event_store::open(&config.store_url, config.event_ttl_days).await?;
        let dead_letters = KafkaDeadLetters::connect(config.kafka.clone(), service).await?;
        Ok(Processor::new(store, dead_letters)
            .with_metrics(Metrics::new(config.metrics.clone(), service))
            .reporting_item_failures(config.report_batch_item_failures))
    }
}

/// Builds the clients once and serves invocations until the Lambda runtime stops.
pub async fn run(config: Config) -> Result<(), StartError> {
    let processor = Processor::open(&config, SERVICE).await?;
    let processor = &processor;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            processor
                .invoke(event.payload, &event.context.request_id)
                .await
        },
    ))
    .await
    .map_err(StartError::Lambda)
}
