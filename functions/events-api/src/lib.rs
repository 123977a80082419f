//! The HTTP Lambda function: accepts user-activity events and publishes them to Kafka, lists the
//! events the processor stored, and reports the health of both dependencies.
//!
//! One axum [`router`] serves every route, whether the process runs under a Lambda runtime
//! (Function URL, `cargo lambda watch`) or as a plain HTTP server (`--listen`, `PORT`) for
//! containers and benchmarks; [`run`] picks the mode from [`Config`]. Handlers live in `routes`
//! (one module per route), the status mapping in [`error`], start-up in `serve`.
#![warn(missing_docs)]

pub mod config;
pub mod error;
pub mod openapi;
mod routes;
mod serve;

pub use config::{Config, Mode};
pub use error::ApiError;
pub use serve::{run, StartError};

use axum::routing::{get, post};
use axum::Router;
use event_kafka::EventPublisher;
use event_store::EventStore;
use std::sync::Arc;

/// What the handlers share: built once per cold start.
pub struct App<S, P> {
    /// Where processed events are listed from.
    pub store: S,
    /// Where accepted events are published.
    pub publisher: P,
}

/// Every route of the function, answering CORS for `allowed_origins` (none when empty).
pub fn router_with_cors<S: EventStore, P: EventPublisher>(
    app: Arc<App<S, P>>,
    allowed_origins: &[String],
) -> Router {
    let routes = router(app);
    if allowed_origins.is_empty() {
        return routes;
    }
    routes.layer(cors(allowed_origins))
}

/// Preflight answers and `Access-Control-Allow-Origin` for the configured origins; the `Link`
/// (next page) and `Retry-After` headers are readable by scripts.
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
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::CONTENT_TYPE])
        .expose_headers([header::LINK, header::RETRY_AFTER])
        .max_age(std::time::Duration::from_secs(300))
}

/// Every route of the function.
pub fn router<S: EventStore, P: EventPublisher>(app: Arc<App<S, P>>) -> Router {
    Router::new()
        .route("/events/generate", post(routes::generate::<S, P>))
        .route("/events/processed", get(routes::processed::<S, P>))
        .route("/health", get(routes::health::<S, P>))
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .with_state(app)
}

#[cfg(test)]
mod tests;
