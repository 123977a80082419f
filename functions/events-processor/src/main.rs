use event_kafka::KafkaDeadLetters;
use events_processor::{Config, Processor};
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    pipeline_runtime::init_tracing();
    let config = Config::from_env()?;
    let store = event_store::open(&config.store_url, config.event_ttl_days).await?;
    let dead_letters = KafkaDeadLetters::connect(config.kafka.clone(), "events-processor").await?;
    let processor = Processor::new(store, dead_letters);
    let processor = &processor;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<_>| async move {
        processor.handle(event.payload).await
    }))
    .await
}
