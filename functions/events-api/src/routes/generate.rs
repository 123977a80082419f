//! `POST /events/generate`: validate, stamp, publish, and answer 201 only once Kafka has it.
//!
//! With an `Idempotency-Key`, the request goes through the key's protocol first
//! ([`idempotency`](super::idempotency)).

use super::accept::publish;
use super::body::read_json;
use super::idempotency::{self, idempotency_key};
use crate::auth::Authenticated;
use crate::observe::RequestTrace;
use crate::{ApiError, ApiStore, App};
use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::HeaderMap;
use axum::response::Response;
use event_kafka::EventPublisher;
use event_schema::{validate_request, MAX_BODY_BYTES};
use std::sync::Arc;
use tracing::instrument;

#[instrument(name = "generate", skip_all)]
pub(crate) async fn generate<S: ApiStore, P: EventPublisher>(
    State(app): State<Arc<App<S, P>>>,
    Extension(trace): Extension<RequestTrace>,
    headers: HeaderMap,
    Authenticated(caller): Authenticated,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_json(&headers, body, MAX_BODY_BYTES).await?;
    let key = idempotency_key(&headers)?;
    let request = validate_request(&bytes)?;
    caller.may_write_for(&request.user_id)?;
    // The record carries this function's span of the caller's trace.
    let traceparent = trace.parent.child().to_string();
    let traceparent = traceparent.as_str();
    match key {
        None => publish(&app, &request.into_event(), traceparent).await,
        Some(key) => idempotency::generate(&app, &caller, key, request, traceparent).await,
    }
}
