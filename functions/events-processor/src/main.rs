use event_kafka::KafkaDeadLetters;
use events_processor::{Config, Processor, SERVICE};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use pipeline_runtime::metrics::Metrics;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    pipeline_runtime::init_tracing();
    let outcome = match Config::from_env() {
        Ok(config) => Ok(serve(config).await),
        Err(e) => Err(e),
    };
    pipeline_runtime::exit_code("events-processor", outcome)
}

async fn serve(config: Config) -> Result<(), Error> {
    let store = event_store::open(&config.store_url, config.event_ttl_days).await?;
    let dead_letters = KafkaDeadLetters::connect(config.kafka.clone(), SERVICE).await?;
    let metrics = Metrics::new(config.metrics.clone(), SERVICE);
    let processor = Processor::new(store, dead_letters)
        .with_metrics(metrics)
        .reporting_item_failures(config.report_batch_item_failures);
    let processor = &processor;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            processor
                .invoke(event.payload, &event.context.request_id)
                .await
        },
    ))
    .await
}
