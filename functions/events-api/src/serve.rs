//! Start-up: build the clients once, then serve the router as a Lambda or a plain server.

use crate::{router_with_cors, App, Config, KeyPolicy, Mode, SERVICE};
use event_kafka::{EventPublisher, KafkaPublisher};
use event_store::{EventStore, StoreError};
use pipeline_runtime::metrics::Metrics;
use pipeline_runtime::shutdown_signal;
use std::future::Future;
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
    Kafka(#[from] event_kafka::Error),
    /// The listen address could not be bound.
    #[error("cannot listen: {0}")]
    Io(#[from] std::io::Error),
    /// The Lambda runtime stopped with an error.
    #[error("lambda runtime: {0}")]
    Lambda(lambda_http::Error),
}

/// How long a plain server's shutdown waits for records still queued.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// Builds the producer and the store (once per cold start) and serves until SIGTERM or Ctrl-C.
pub async fn run(config: Config) -> Result<(), StartError> {
    run_until(config, shutdown_signal()).await
}

/// [`run`], stopping when `shutdown` resolves (a plain server stops accepting, finishes what it
/// is answering, then flushes).
///
/// Under Lambda nothing waits for SIGTERM: Lambda only sends it when an extension is
/// registered, and there is nothing to flush then, because every 201 waited for the broker's
/// acknowledgement. A record still queued belongs to a request that has not been answered, and
/// its client retries (with its `Idempotency-Key`, into the same event).
pub async fn run_until(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let store = event_store::open(&config.store_url, 0).await?;
    let publisher = KafkaPublisher::connect(config.kafka.clone(), SERVICE).await?;
    let mut app = App::new(store, publisher);
    app.keys = KeyPolicy::new(config.idempotency_ttl, config.kafka.produce_timeout);
    app.metrics = Metrics::new(config.metrics.clone(), SERVICE);
    let app = Arc::new(app);
    match config.mode {
        Mode::Lambda => {
            info!(topic = %config.kafka.topic, "serving as a Lambda function");
            let routes = router_with_cors(app, &config.cors_allowed_origins);
            lambda_http::run(routes).await.map_err(StartError::Lambda)
        }
        Mode::Server(addr) => {
            let listener = tokio::net::TcpListener::bind(addr).await?;
            info!(topic = %config.kafka.topic, "serving HTTP");
            serve(listener, app, &config.cors_allowed_origins, shutdown).await
        }
    }
}

/// The plain server: serves `app` on `listener` until `shutdown` resolves, then flushes the
/// producer. Tests call this with a listener on port 0, so that they drive the production path.
pub async fn serve<S: EventStore, P: EventPublisher>(
    listener: tokio::net::TcpListener,
    app: Arc<App<S, P>>,
    cors_allowed_origins: &[String],
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let local = listener.local_addr()?;
    // Scripts and tests read this line to find the port (`--listen 127.0.0.1:0`).
    println!("listening on http://{local}");
    info!(%local, "listening");
    let routes = router_with_cors(Arc::clone(&app), cors_allowed_origins);
    axum::serve(listener, routes)
        .with_graceful_shutdown(shutdown)
        .await?;
    app.publisher.flush(FLUSH_TIMEOUT);
    info!("stopped");
    Ok(())
}
