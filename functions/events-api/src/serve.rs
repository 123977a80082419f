//! Start-up: build the clients once, then serve the router as a Lambda or a plain server.

use crate::{router_with_cors, App, Config, KeyPolicy, Mode};
use event_kafka::{EventPublisher, KafkaPublisher, PublishError};
use event_store::StoreError;
use pipeline_runtime::shutdown_signal;
use std::sync::Arc;
use std::time::Duration;
use tracing::info;

/// Why the function could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// `STORE_URL` could not be opened.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The Kafka producer could not be created.
    #[error("kafka: {0}")]
    Kafka(#[from] PublishError),
    /// The listen address could not be bound.
    #[error("cannot listen: {0}")]
    Io(#[from] std::io::Error),
    /// The Lambda runtime stopped with an error.
    #[error("lambda runtime: {0}")]
    Lambda(lambda_http::Error),
}

/// How long a shutdown waits for queued records.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// Builds the producer and the store (once per cold start) and serves until shut down.
pub async fn run(config: Config) -> Result<(), StartError> {
    let store = event_store::open(&config.store_url, 0).await?;
    let publisher = KafkaPublisher::connect(config.kafka.clone(), "events-api").await?;
    let mut app = App::new(store, publisher);
    app.keys = KeyPolicy::new(config.idempotency_ttl, config.kafka.produce_timeout);
    let app = Arc::new(app);
    let routes = router_with_cors(Arc::clone(&app), &config.cors_allowed_origins);
    match config.mode {
        Mode::Lambda => {
            info!(topic = %config.kafka.topic, "serving as a Lambda function");
            let flush_on_term = Arc::clone(&app);
            tokio::spawn(async move {
                shutdown_signal().await;
                flush_on_term.publisher.flush(FLUSH_TIMEOUT);
                std::process::exit(0);
            });
            lambda_http::run(routes).await.map_err(StartError::Lambda)
        }
        Mode::Server(addr) => {
            let listener = tokio::net::TcpListener::bind(addr).await?;
            let local = listener.local_addr()?;
            // Scripts and tests read this line to find the port (`--listen 127.0.0.1:0`).
            println!("listening on http://{local}");
            info!(%local, topic = %config.kafka.topic, "serving HTTP");
            axum::serve(listener, routes)
                .with_graceful_shutdown(shutdown_signal())
                .await?;
            app.publisher.flush(FLUSH_TIMEOUT);
            info!("stopped");
            Ok(())
        }
    }
}
