use event_kafka::KafkaDeadLetters;
use events_processor::{Config, Processor};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    pipeline_runtime::init_tracing();
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("events-processor: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    match serve(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("events-processor: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> Result<(), Error> {
    let store = event_store::open(&config.store_url, config.event_ttl_days).await?;
    let dead_letters = KafkaDeadLetters::connect(config.kafka.clone(), "events-processor").await?;
    let processor = Processor::new(store, dead_letters);
    let processor = &processor;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<_>| async move {
        processor.handle(event.payload).await
    }))
    .await
}
