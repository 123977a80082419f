//! One module per route (`generate` with `accept`, the acknowledged 201, and `idempotency`, the
//! `Idempotency-Key` protocol); the table of routes ([`Route`]) and the fallbacks are here.

mod accept;
mod batch;
mod body;
mod erase;
mod generate;
mod health;
mod idempotency;
mod processed;

pub(crate) use batch::{batch, BatchAnswer, BatchOutcome};
pub(crate) use body::BODY_READ_TIMEOUT;
pub(crate) use erase::{erase, ErasureAnswer, ERASE_CHUNK, ERASE_DEADLINE};
pub(crate) use generate::generate;
pub(crate) use health::{health, HealthCache, HEALTH_MAX_AGE};
pub(crate) use idempotency::{IDEMPOTENCY_KEY, IDEMPOTENT_REPLAYED, MAX_IDEMPOTENCY_KEY_BYTES};
pub use processed::MAX_CONCURRENT_LISTINGS;
pub(crate) use processed::{processed, DEFAULT_LIMIT, LIST_DEADLINE, MAX_PAGE_BYTES};

use crate::{ApiError, ApiStore, App};
use axum::http::{Method, Uri};
use axum::routing::{delete, get, post, MethodRouter};
use event_kafka::EventPublisher;
use std::sync::Arc;

/// Every route the function serves: the router is built from [`Route::ALL`], and the OpenAPI
/// document is held to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `POST /events/generate`.
    Generate,
    /// `POST /events/batch`.
    Batch,
    /// `GET /events/processed`.
    Processed,
    /// `GET /health`.
    Health,
    /// `DELETE /users/{userId}/events`.
    Erase,
}

impl Route {
    /// Every route.
    pub const ALL: [Route; 5] = [
        Self::Generate,
        Self::Batch,
        Self::Processed,
        Self::Health,
        Self::Erase,
    ];

    /// The method it answers.
    pub fn method(self) -> Method {
        match self {
            Self::Generate | Self::Batch => Method::POST,
            Self::Processed | Self::Health => Method::GET,
            Self::Erase => Method::DELETE,
        }
    }

    /// Its path.
    pub fn path(self) -> &'static str {
        match self {
            Self::Generate => "/events/generate",
            Self::Batch => "/events/batch",
            Self::Processed => "/events/processed",
            Self::Health => "/health",
            Self::Erase => "/users/{userId}/events",
        }
    }

    /// Its handler, under its method (a test holds the two to [`Route::method`]).
    pub(crate) fn handler<S: ApiStore, P: EventPublisher>(self) -> MethodRouter<Arc<App<S, P>>> {
        match self {
            Self::Generate => post(generate::<S, P>),
            Self::Batch => post(batch::<S, P>),
            Self::Processed => get(processed::<S, P>),
            Self::Health => get(health::<S, P>),
            Self::Erase => delete(erase::<S, P>),
        }
    }
}

pub(crate) async fn not_found(uri: Uri) -> ApiError {
    ApiError::NotFound(uri.path().to_owned())
}

pub(crate) async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::MethodNotAllowed(method.to_string())
}
