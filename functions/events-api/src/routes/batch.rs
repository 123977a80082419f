//! `POST /events/batch`: up to `MAX_BATCH_ITEMS` event requests in one body, each judged
//! alone by the rules and rights of `POST /events/generate`, every accepted one published at
//! once through the one producer, and each answered in request order: `201` with its event id
//! and time once the broker acknowledged it, or the error the single endpoint would give.
//!
//! A body that breaks the batch's own rules (not JSON, not an object, no items, too many, too
//! large) is refused whole, as the single endpoint refuses a body. With an `Idempotency-Key`,
//! the key covers the whole batch (`keyed`).

use super::body::read_json;
use super::idempotency::{self, idempotency_key};
use crate::auth::Authenticated;
use crate::error::ErrorBody;
use crate::observe::{Outcome, RequestTrace};
use crate::{ApiError, ApiStore, App};
use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use event_auth::Caller;
use event_kafka::EventPublisher;
use event_schema::{validate_batch, EventRequest, UserEvent, MAX_BATCH_BYTES};
use event_store::{KeyRecord, KeyedEvent};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Instant;
use tracing::instrument;

#[instrument(name = "batch", skip_all)]
pub(crate) async fn batch<S: ApiStore, P: EventPublisher>(
    State(app): State<Arc<App<S, P>>>,
    Extension(trace): Extension<RequestTrace>,
    headers: HeaderMap,
    Authenticated(caller): Authenticated,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_json(&headers, body, MAX_BATCH_BYTES).await?;
    let key = idempotency_key(&headers)?;
    let items = plan(validate_batch(&bytes)?, &caller);
    // Every record carries this function's span of the caller's trace.
    let traceparent = trace.parent.child().to_string();
    match key {
        None => {
            let events = items
                .iter()
                .map(|item| item.ready().map(|r| r.clone().into_event()))
                .collect();
            let results = publish_all(&app, items, events, &traceparent).await;
            Ok(answer(results, false))
        }
        Some(key) => keyed(&app, &caller, key, items, &traceparent).await,
    }
}

/// The key of a batch is scoped by its caller alone: its items may be several users' events.
/// Its `user_id` is one no user has (user ids have no control characters), so that a batch's
/// key and a single request's key never meet.
pub(crate) const BATCH_KEY_USER: &str = "\u{1}batch";

/// The batch under `key`: claimed, then its ready items published under identities derived
/// from the key's (so a retry publishes the same events, which the processor stores once), or
/// its results answered again. The key completes only when no item failed for a dependency;
/// otherwise it is released, and the client's retry publishes the items again.
async fn keyed<S: ApiStore, P: EventPublisher>(
    app: &App<S, P>,
    caller: &Caller,
    key: String,
    items: Vec<Item>,
    traceparent: &str,
) -> Result<Response, ApiError> {
    let record = KeyRecord {
        caller: caller.key_scope(),
        user_id: BATCH_KEY_USER.to_owned(),
        key,
        fingerprint: batch_fingerprint(&items),
        event: KeyedEvent {
            event_id: uuid::Uuid::new_v4(),
            timestamp_ms: chrono::Utc::now().timestamp_millis(),
        },
    };
    match idempotency::claim(app, &record).await? {
        idempotency::Claimed::Publish(lease) => {
            let events = batch_events(&items, lease.event);
            let results = publish_all(app, items, events, traceparent).await;
            let complete = !results.iter().any(ItemResult::unavailable);
            idempotency::finish(app, &record, &lease, complete).await;
            Ok(answer(results, false))
        }
        idempotency::Claimed::Replay(keyed) => {
            let events = batch_events(&items, keyed);
            let results = items
                .into_iter()
                .zip(events)
                .map(|(item, event)| match (item, event) {
                    (Item::Refused(e), _) => ItemResult::Refused(e),
                    (Item::Ready(_), Some(event)) => ItemResult::Accepted(event),
                    (Item::Ready(_), None) => ItemResult::Refused(ApiError::IdempotencyKeyReused),
                })
                .collect();
            Ok(answer(results, true))
        }
    }
}

/// A batch's fingerprint: each ready item's compact request, each refused item's error (which
/// quotes what was wrong), in order; the same body always gives the same one, and spacing
/// does not make another.
fn batch_fingerprint(items: &[Item]) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(b"batch");
    for item in items {
        match item {
            Item::Ready(request) => {
                hash.update(b"\nok ");
                hash.update(serde_json::to_vec(request).unwrap_or_default());
            }
            Item::Refused(e) => {
                hash.update(b"\nrefused ");
                hash.update(serde_json::to_vec(&e.body()).unwrap_or_default());
            }
        }
    }
    hash.finalize().into()
}

/// Each ready item's event under the identity `keyed`: the item's id derived from the key's
/// (a v8 UUID of the hash of the key's id and the item's index), the key's time.
fn batch_events(items: &[Item], keyed: KeyedEvent) -> Vec<Option<UserEvent>> {
    let at = chrono::DateTime::from_timestamp_millis(keyed.timestamp_ms)
        .unwrap_or_else(chrono::Utc::now);
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let request = item.ready()?.clone();
            let mut hash = Sha256::new();
            hash.update(keyed.event_id.as_bytes());
            hash.update(u64::try_from(index).unwrap_or(u64::MAX).to_be_bytes());
            let digest: [u8; 32] = hash.finalize().into();
            let mut id = [0u8; 16];
            id.copy_from_slice(&digest[..16]);
            Some(request.into_event_at(uuid::Uuid::new_v8(id), at))
        })
        .collect()
}

/// One item before anything is published: refused, or ready to be.
pub(crate) enum Item {
    /// Refused alone, with the single endpoint's error.
    Refused(ApiError),
    /// Valid, and the caller may write it.
    Ready(EventRequest),
}

impl Item {
    /// The request, when the item is ready.
    pub(crate) fn ready(&self) -> Option<&EventRequest> {
        match self {
            Self::Ready(request) => Some(request),
            Self::Refused(_) => None,
        }
    }
}

/// Each item's verdict and the caller's right to write it.
fn plan(verdicts: event_schema::Verdicts<EventRequest>, caller: &Caller) -> Vec<Item> {
    verdicts
        .into_iter()
        .map(|verdict| match verdict {
            Err(errors) => Item::Refused(errors.into()),
            Ok(request) => match caller.may_write_for(&request.user_id) {
                Ok(()) => Item::Ready(request),
                Err(denied) => Item::Refused(denied.into()),
            },
        })
        .collect()
}

/// What became of one item.
pub(crate) enum ItemResult {
    /// Published and acknowledged (or, replayed for a key, acknowledged before).
    Accepted(UserEvent),
    /// Refused, or its publication failed.
    Refused(ApiError),
}

impl ItemResult {
    /// Whether a retry could change it: the broker did not take the event.
    pub(crate) fn unavailable(&self) -> bool {
        matches!(self, Self::Refused(e) if e.status_and_code().0 == StatusCode::SERVICE_UNAVAILABLE)
    }
}

/// Publishes `events` (one per item, `None` for a refused one) all at once; each item's result,
/// in order.
pub(crate) async fn publish_all<S: ApiStore, P: EventPublisher>(
    app: &App<S, P>,
    items: Vec<Item>,
    events: Vec<Option<UserEvent>>,
    traceparent: &str,
) -> Vec<ItemResult> {
    let started = Instant::now();
    let sends = events.iter().map(|event| async move {
        match event {
            Some(event) => Some(app.publisher.publish(event, Some(traceparent)).await),
            None => None,
        }
    });
    let delivered = futures::future::join_all(sends).await;
    let produce = started.elapsed();
    tracing::debug!(produce_ms = produce.as_millis() as u64, "batch published");
    items
        .into_iter()
        .zip(events)
        .zip(delivered)
        .map(|((item, event), sent)| match (item, event, sent) {
            (Item::Refused(e), _, _) => ItemResult::Refused(e),
            (Item::Ready(_), Some(event), Some(Ok(_))) => ItemResult::Accepted(event),
            (Item::Ready(_), _, Some(Err(e))) => ItemResult::Refused(e.into()),
            // Every ready item has an event and was sent; stay total anyway.
            (Item::Ready(_), _, _) => ItemResult::Refused(ApiError::KafkaUnavailable(
                "the event was not sent".to_owned(),
            )),
        })
        .collect()
}

/// One item's answer.
#[derive(Serialize, schemars::JsonSchema)]
#[serde(untagged)]
#[schemars(rename = "BatchItemResult")]
pub(crate) enum ItemAnswer<'a> {
    /// The event was acknowledged by the broker.
    Accepted {
        /// Always 201.
        #[schemars(extend("const" = 201))]
        status: u16,
        /// The event's id.
        #[serde(rename = "eventId")]
        event_id: uuid::Uuid,
        /// The time the pipeline gave it (RFC 3339, milliseconds, UTC).
        timestamp: String,
    },
    /// The item was refused (400, 403) or not accepted (503).
    Refused {
        /// What the single endpoint would answer.
        #[schemars(extend("enum" = [400, 403, 503]))]
        status: u16,
        /// Its error body.
        error: ErrorBody<'a>,
    },
}

/// The answer to a batch: one result per item, in request order.
#[derive(Serialize, schemars::JsonSchema)]
#[schemars(rename = "BatchResults")]
pub(crate) struct BatchAnswer<'a> {
    /// One per item of `events`, in the same order.
    pub(crate) results: Vec<ItemAnswer<'a>>,
}

/// The `200` answer, its outcome for the log and the metrics.
pub(crate) fn answer(results: Vec<ItemResult>, replayed: bool) -> Response {
    let mut outcome = BatchOutcome {
        replayed,
        ..BatchOutcome::default()
    };
    let answers: Vec<ItemAnswer<'_>> = results
        .iter()
        .map(|result| match result {
            ItemResult::Accepted(event) => {
                outcome.accepted.push(event.event_type.as_str());
                ItemAnswer::Accepted {
                    status: StatusCode::CREATED.as_u16(),
                    event_id: event.event_id,
                    timestamp: event_schema::format_timestamp(event.timestamp),
                }
            }
            ItemResult::Refused(e) => {
                let (status, code) = e.status_and_code();
                if status.is_server_error() {
                    outcome.unavailable.push(code);
                } else {
                    outcome.refused.push(code);
                }
                ItemAnswer::Refused {
                    status: status.as_u16(),
                    error: e.body(),
                }
            }
        })
        .collect();
    let mut response = (StatusCode::OK, Json(BatchAnswer { results: answers })).into_response();
    if replayed {
        response.headers_mut().insert(
            axum::http::header::HeaderName::from_static(super::IDEMPOTENT_REPLAYED),
            axum::http::HeaderValue::from_static("true"),
        );
    }
    response.extensions_mut().insert(Outcome::Batch(outcome));
    response
}

/// What a batch came to, for the log line and the metrics.
#[derive(Debug, Clone, Default)]
pub(crate) struct BatchOutcome {
    /// The type of each event accepted.
    pub(crate) accepted: Vec<&'static str>,
    /// The code of each item refused (4xx).
    pub(crate) refused: Vec<&'static str>,
    /// The code of each item not accepted for a dependency (5xx).
    pub(crate) unavailable: Vec<&'static str>,
    /// The results were replayed for an `Idempotency-Key`.
    pub(crate) replayed: bool,
}
