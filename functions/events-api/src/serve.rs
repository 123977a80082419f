//! Start-up: build the clients once, then serve the router as a Lambda or a plain server.

use crate::deadline::WriteDeadline;
use crate::{router_with_cors, ApiStore, App, Config, KeyPolicy, Mode, SERVICE};
use event_auth::{Authenticator, JwksPolicy};
use event_kafka::{EventPublisher, KafkaPublisher};
use event_store::StoreError;
use pipeline_runtime::metrics::Metrics;
use pipeline_runtime::shutdown_signal;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tracing::{info, warn};

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
    /// The identity checks could not be set up (the key fetcher's HTTP client).
    #[error("auth: {0}")]
    Auth(String),
}

/// How long a plain server's shutdown waits for records still queued.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a plain server waits for a request's headers, an idle keep-alive connection's
/// next request included, before it closes the connection.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Most connections a plain server serves at once; more wait in the listen backlog, so that a
/// flood of slow clients holds sockets, not memory and tasks.
pub const MAX_CONNECTIONS: usize = 1024;
/// How long a plain server's write may stay blocked (the client stopped reading) before the
/// connection is closed: a client that asks for large pages and never reads them would
/// otherwise hold a connection slot and the page's memory for as long as it likes.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a plain server's shutdown waits for the answers it is still writing.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

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
    app.auth =
        Authenticator::new(config.auth.clone(), JwksPolicy::default()).map_err(StartError::Auth)?;
    info!(auth = app.auth.mode(), "callers identified");
    match &config.auth {
        event_auth::AuthConfig::None => warn!(
            error = "anonymous_access",
            "AUTH_MODE=none: anyone who reaches this function reads every user's events and \
             writes events for any user"
        ),
        event_auth::AuthConfig::Jwt(jwt) => {
            for warning in jwt.warnings() {
                warn!(error = "weak_setting", "{warning}");
            }
        }
        event_auth::AuthConfig::Iam(_) => {}
    }
    let app = Arc::new(app);
    // Without inline keys, the issuer's are fetched while the first request is on its way.
    let prefetch = Arc::clone(&app);
    tokio::spawn(async move { prefetch.auth.prefetch().await });
    match config.mode {
        Mode::Lambda => {
            info!(topic = %config.kafka.topic, "serving as a Lambda function");
            let routes = router_with_cors(app, &config.cors_allowed_origins);
            // Several invocations at once where Lambda sends them (AWS_LAMBDA_MAX_CONCURRENCY,
            // Lambda Managed Instances), one at a time otherwise.
            lambda_http::run_concurrent(buffered(routes))
                .await
                .map_err(StartError::Lambda)
        }
        Mode::Server(addr) => {
            let listener = tokio::net::TcpListener::bind(addr).await?;
            info!(topic = %config.kafka.topic, "serving HTTP");
            serve(listener, app, &config.cors_allowed_origins, shutdown).await
        }
    }
}

/// The router with each answer's body read into memory before it goes to the runtime, which
/// needs a body it can share between the tasks of concurrent invocations. Lambda holds a
/// buffered response whole anyway, and the listing bounds the largest one (MAX_PAGE_BYTES).
fn buffered(
    routes: axum::Router,
) -> impl tower::Service<
    lambda_http::Request,
    Response = http::Response<http_body_util::Full<axum::body::Bytes>>,
    Error = lambda_http::Error,
    Future = impl Future<
        Output = Result<
            http::Response<http_body_util::Full<axum::body::Bytes>>,
            lambda_http::Error,
        >,
    > + Send
                 + 'static,
> + Clone
       + Send
       + 'static {
    use http_body_util::BodyExt as _;
    use tower::ServiceExt as _;
    tower::service_fn(move |request: lambda_http::Request| {
        let routes = routes.clone();
        async move {
            let response = routes.oneshot(request).await?;
            let (parts, body) = response.into_parts();
            let bytes = body.collect().await?.to_bytes();
            Ok(http::Response::from_parts(
                parts,
                http_body_util::Full::new(bytes),
            ))
        }
    })
}

/// The plain server: serves `app` on `listener` until `shutdown` resolves, then finishes the
/// answers under way and flushes the producer. Tests call this with a listener on port 0, so
/// that they drive the production path.
///
/// It serves HTTP/1.1 with at most [`MAX_CONNECTIONS`] connections, each closed when its next
/// request's headers take longer than [`HEADER_READ_TIMEOUT`] (a body has its own deadline in
/// `generate`) or a write of its answer stays blocked longer than [`WRITE_TIMEOUT`].
pub async fn serve<S: ApiStore, P: EventPublisher>(
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
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => slot,
            () = &mut shutdown => break,
        };
        let Ok(slot) = slot else { break };
        let stream = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let stream = match stream {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors, or a connection reset before it was accepted: the
                // listener itself is fine.
                warn!(error = "accept_failed", cause = %e, "connection not accepted");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let service = hyper_util::service::TowerToHyperService::new(routes.clone());
        let stream = WriteDeadline::new(stream, WRITE_TIMEOUT);
        let connection = http.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let _ = connection.await;
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        warn!("connections still open after the drain timeout");
    }
    app.publisher.flush(FLUSH_TIMEOUT);
    info!("stopped");
    Ok(())
}
