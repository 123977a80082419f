//! One module per route; the fallbacks are here.

mod generate;
mod health;
mod processed;

pub(crate) use generate::{
    generate, BODY_READ_TIMEOUT, IDEMPOTENCY_KEY, IDEMPOTENT_REPLAYED, MAX_IDEMPOTENCY_KEY_BYTES,
};
pub(crate) use health::{health, HealthCache, HEALTH_MAX_AGE};
pub(crate) use processed::{processed, DEFAULT_LIMIT, LIST_DEADLINE, MAX_PAGE_BYTES};

use crate::ApiError;
use axum::http::{Method, Uri};

pub(crate) async fn not_found(uri: Uri) -> ApiError {
    ApiError::NotFound(uri.path().to_owned())
}

pub(crate) async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::MethodNotAllowed(method.to_string())
}
