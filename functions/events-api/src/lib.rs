//! The HTTP Lambda function: accepts user-activity events and publishes them to Kafka, lists the
//! events the processor stored, and reports the health of both dependencies.
//!
//! One axum [`router`] serves every route, whether the process runs under a Lambda runtime
//! (Function URL, `cargo lambda watch`) or as a plain HTTP server (`--listen`, `PORT`) for
//! containers and benchmarks; [`run`] picks the mode from [`Config`]. Handlers live in `routes`
//! (one module per route), who is calling in `auth` (the rules themselves are `event_auth`'s),
//! the status mapping in [`error`], start-up in `serve`, and what every request leaves behind
//! (its trace, its log line, its metrics) in [`observe`].
#![warn(missing_docs)]

mod auth;
pub mod config;
mod deadline;
pub mod error;
pub mod observe;
pub mod openapi;
pub mod probe;
mod routes;
mod serve;

pub use config::{Args, Config, Mode};
pub use error::ApiError;
pub use routes::{Route, MAX_CONCURRENT_LISTINGS};
pub use serve::{run, run_until, serve, StartError, WRITE_TIMEOUT};

use axum::Router;
use event_auth::Authenticator;
use event_kafka::EventPublisher;
use event_store::{Eraser, EventReader, HealthCheck, KeyStore};
use pipeline_runtime::metrics::Metrics;
use std::sync::Arc;

/// What the API asks of a store: it lists events, keeps idempotency keys, checks health and
/// erases a user's events; it never writes an event (the processor does).
pub trait ApiStore: EventReader + KeyStore + HealthCheck + Eraser {}

impl<S: EventReader + KeyStore + HealthCheck + Eraser> ApiStore for S {}

/// What the handlers share: built once per cold start.
pub struct App<S, P> {
    /// Where processed events are listed from, and idempotency keys recorded.
    pub store: S,
    /// Where accepted events are published.
    pub publisher: P,
    /// How long keys are remembered and leased.
    pub keys: KeyPolicy,
    /// Where each request's metrics go.
    pub metrics: Metrics,
    /// Who is calling (`AUTH_MODE`).
    pub auth: Authenticator,
    /// Listings under way at once, at most [`MAX_CONCURRENT_LISTINGS`].
    pub listing_slots: tokio::sync::Semaphore,
    /// The last `GET /health` result, answered again for a second.
    health: routes::HealthCache,
}

/// The program's name: the `Service` dimension of its metrics, its Kafka client id.
pub const SERVICE: &str = "events-api";

impl<S, P> App<S, P> {
    /// An app with the default [`KeyPolicy`], no metrics, and no caller identification
    /// (`AUTH_MODE=none`).
    pub fn new(store: S, publisher: P) -> Self {
        Self {
            store,
            publisher,
            keys: KeyPolicy::default(),
            metrics: Metrics::off(SERVICE),
            auth: Authenticator::none(),
            listing_slots: tokio::sync::Semaphore::new(MAX_CONCURRENT_LISTINGS),
            health: routes::HealthCache::default(),
        }
    }
}

/// How `Idempotency-Key`s are kept (see `event_store::keys`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyPolicy {
    /// How long a key is remembered (`IDEMPOTENCY_TTL_SECONDS`).
    pub ttl: std::time::Duration,
    /// How long a request holds its key while publishing: the produce timeout and a margin for
    /// the store's writes. A retry within it is told to wait; after it, it publishes the key's
    /// event again.
    pub lease: std::time::Duration,
}

impl KeyPolicy {
    /// Time the lease adds to the produce timeout.
    pub const LEASE_MARGIN: std::time::Duration = std::time::Duration::from_secs(2);

    /// The policy for a `ttl` and a producer that waits `produce_timeout` for its ack.
    pub fn new(ttl: std::time::Duration, produce_timeout: std::time::Duration) -> Self {
        Self {
            ttl,
            lease: produce_timeout + Self::LEASE_MARGIN,
        }
    }
}

/// The policy of the default settings.
impl Default for KeyPolicy {
    fn default() -> Self {
        Self::new(
            config::DEFAULT_IDEMPOTENCY_TTL,
            event_kafka::KafkaConfig::default().produce_timeout,
        )
    }
}

/// Every route of the function, answering CORS for `allowed_origins` (none when empty).
pub fn router_with_cors<S: ApiStore, P: EventPublisher>(
    app: Arc<App<S, P>>,
    allowed_origins: &[String],
) -> Router {
    let routes = router(app);
    if allowed_origins.is_empty() {
        return routes;
    }
    routes.layer(cors(allowed_origins))
}

/// Request headers a browser script may send (besides the CORS-safelisted ones). On AWS the
/// Function URL answers CORS; a test holds `template.yaml`'s lists to these.
pub const CORS_ALLOW_HEADERS: [&str; 4] = [
    "content-type",
    "authorization",
    routes::IDEMPOTENCY_KEY,
    pipeline_runtime::trace::TRACEPARENT,
];
/// Response headers a browser script may read.
pub const CORS_EXPOSE_HEADERS: [&str; 4] = [
    "link",
    "retry-after",
    routes::IDEMPOTENT_REPLAYED,
    "www-authenticate",
];

/// Preflight answers and `Access-Control-Allow-Origin` for the configured origins; a script may
/// send `Authorization` (its bearer token), `Idempotency-Key` and `traceparent`, and read `Link` (next page), `Retry-After` and
/// `Idempotent-Replayed`.
fn cors(allowed_origins: &[String]) -> tower_http::cors::CorsLayer {
    use axum::http::{header, HeaderValue, Method};
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let origin = if allowed_origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            allowed_origins
                .iter()
                .filter_map(|o| HeaderValue::from_str(o).ok()),
        )
    };
    CorsLayer::new()
        .allow_origin(origin)
        .allow_methods([Method::GET, Method::POST, Method::DELETE])
        .allow_headers(CORS_ALLOW_HEADERS.map(header::HeaderName::from_static))
        .expose_headers(CORS_EXPOSE_HEADERS.map(header::HeaderName::from_static))
        .max_age(std::time::Duration::from_secs(300))
}

/// Every route of the function, each request observed (trace, log line, metrics).
pub fn router<S: ApiStore, P: EventPublisher>(app: Arc<App<S, P>>) -> Router {
    routes::Route::ALL
        .into_iter()
        .fold(Router::new(), |router, route| {
            router.route(route.path(), route.handler::<S, P>())
        })
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&app),
            observe::observe::<S, P>,
        ))
        .with_state(app)
}

#[cfg(test)]
mod auth_tests;
#[cfg(test)]
mod batch_tests;
#[cfg(test)]
mod tests;
