//! The `Idempotency-Key` protocol of `POST /events/generate`
//! (draft-ietf-httpapi-idempotency-key-header). The key is recorded with the event before it is
//! published (see `event_store::keys`): the same key and body answer the same event again, and a
//! retry after a 503 or a crash publishes that same event again, which the processor stores
//! once. A key claimed is completed once the broker acknowledged, or released at once when it
//! did not, so that the client's retry publishes again instead of waiting out the lease.

use super::accept::{created, publish};
use crate::observe::Outcome;
use crate::{ApiError, ApiStore, App};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;
use event_auth::Caller;
use event_kafka::EventPublisher;
use event_schema::{ErrorCode, EventRequest, FieldError, UserEvent};
use event_store::{KeyClaim, KeyRecord, KeyTimes, KeyedEvent, Lease};
use sha2::{Digest, Sha256};
use tracing::warn;

/// The request header naming a client's key.
pub(crate) const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// The response header of an answer repeated for a key.
pub(crate) const IDEMPOTENT_REPLAYED: &str = "idempotent-replayed";
/// Longest key, in bytes (printable ASCII, so also in characters).
pub(crate) const MAX_IDEMPOTENCY_KEY_BYTES: usize = 255;

/// What a claim allows.
pub(super) enum Claimed {
    /// Publish, under the lease, the events of the identity the key holds.
    Publish(Lease),
    /// The key completed: answer again what it answered, publishing nothing.
    Replay(KeyedEvent),
}

/// Claims `claim` for this request; a key used with another body, or still in flight, is
/// refused here.
pub(super) async fn claim<S: ApiStore, P: EventPublisher>(
    app: &App<S, P>,
    claim: &KeyRecord,
) -> Result<Claimed, ApiError> {
    let now_ms = chrono::Utc::now().timestamp_millis();
    let times = KeyTimes {
        now_ms,
        lease_ms: millis(app.keys.lease),
        ttl_ms: millis(app.keys.ttl),
    };
    match app.store.claim_key(claim, times).await? {
        KeyClaim::Recorded(lease) | KeyClaim::Resumed(lease) => Ok(Claimed::Publish(lease)),
        KeyClaim::Completed(keyed) => Ok(Claimed::Replay(keyed)),
        KeyClaim::Mismatch => Err(ApiError::IdempotencyKeyReused),
        KeyClaim::InFlight { lease_until_ms } => {
            let wait_ms = u64::try_from(lease_until_ms - now_ms).unwrap_or(0);
            Err(ApiError::IdempotencyInProgress(
                wait_ms.div_ceil(1000).max(1),
            ))
        }
    }
}

/// The request under `key`: claimed, then published, replayed or refused by what the key
/// already holds.
pub(crate) async fn generate<S: ApiStore, P: EventPublisher>(
    app: &App<S, P>,
    caller: &Caller,
    key: String,
    request: EventRequest,
    traceparent: &str,
) -> Result<Response, ApiError> {
    // The body's fingerprint: its compact form, so that spacing does not make another body.
    let compact = serde_json::to_vec(&request).unwrap_or_default();
    let event = request.into_event();
    let record = KeyRecord {
        caller: caller.key_scope(),
        user_id: event.user_id.clone(),
        key,
        fingerprint: Sha256::digest(&compact).into(),
        event: KeyedEvent {
            event_id: event.event_id,
            timestamp_ms: event.timestamp.timestamp_millis(),
        },
    };
    match claim(app, &record).await? {
        Claimed::Publish(lease) => {
            let event = with_identity(event, lease.event);
            let published = publish(app, &event, traceparent).await;
            finish(app, &record, &lease, published.is_ok()).await;
            published
        }
        Claimed::Replay(keyed) => Ok(replayed(with_identity(event, keyed))),
    }
}

/// Completes the key once everything was acknowledged (`done`), or releases it at once, so that
/// the client's retry publishes again instead of waiting out the lease. Both only while the key
/// still holds `lease`; either failing leaves the key to its lease, which is safe: a retry then
/// publishes the same events again, stored once.
pub(super) async fn finish<S: ApiStore, P: EventPublisher>(
    app: &App<S, P>,
    record: &KeyRecord,
    lease: &Lease,
    done: bool,
) {
    if done {
        if let Err(e) = app.store.complete_key(record, lease).await {
            warn!(error = "store_unavailable", cause = %e, "idempotency key not marked completed");
        }
    } else {
        let now_ms = chrono::Utc::now().timestamp_millis();
        if let Err(release) = app.store.release_key(record, lease, now_ms).await {
            warn!(error = "store_unavailable", cause = %release,
                "idempotency key not released; it frees when its lease ends");
        }
    }
}

fn millis(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The request's event under the identity its key recorded (the same body, so the same event).
fn with_identity(event: UserEvent, keyed: KeyedEvent) -> UserEvent {
    UserEvent {
        event_id: keyed.event_id,
        timestamp: chrono::DateTime::from_timestamp_millis(keyed.timestamp_ms)
            .unwrap_or(event.timestamp),
        ..event
    }
}

/// The 201 of a key already completed: the same event, marked as replayed.
fn replayed(event: UserEvent) -> Response {
    let body = serde_json::to_vec(&event).unwrap_or_default();
    let mut response = created(body);
    response.headers_mut().insert(
        header::HeaderName::from_static(IDEMPOTENT_REPLAYED),
        HeaderValue::from_static("true"),
    );
    response.extensions_mut().insert(Outcome::Replayed {
        event_id: event.event_id,
        event_type: event.event_type.as_str(),
    });
    response
}

/// The request's `Idempotency-Key`, if it has one: 1 to 255 printable ASCII characters, bare
/// or as the draft's structured-field string (`"…"`).
pub(crate) fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let mut values = headers.get_all(IDEMPOTENCY_KEY).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let problem = |code, message: String| {
        Err(ApiError::Validation(vec![FieldError::new(
            "Idempotency-Key",
            code,
            message,
        )]))
    };
    if values.next().is_some() {
        return problem(
            ErrorCode::InvalidFormat,
            "send one Idempotency-Key header, not several".to_owned(),
        );
    }
    let raw = value.as_bytes().trim_ascii();
    let key = match raw {
        [b'"', inner @ .., b'"'] => inner,
        [b'"', ..] => return problem(
            ErrorCode::InvalidFormat,
            "an Idempotency-Key that starts with a quote is a quoted string and must end with one"
                .to_owned(),
        ),
        _ => raw,
    };
    if key.is_empty() {
        return problem(
            ErrorCode::Empty,
            "Idempotency-Key must not be empty".to_owned(),
        );
    }
    if key.len() > MAX_IDEMPOTENCY_KEY_BYTES {
        return problem(
            ErrorCode::TooLong,
            format!(
                "Idempotency-Key must be at most {MAX_IDEMPOTENCY_KEY_BYTES} characters, got {}",
                key.len()
            ),
        );
    }
    match std::str::from_utf8(key) {
        Ok(text) if key.iter().all(|b| (0x20..=0x7E).contains(b)) => Ok(Some(text.to_owned())),
        _ => problem(
            ErrorCode::InvalidFormat,
            "Idempotency-Key must be printable ASCII (a UUID is a good key)".to_owned(),
        ),
    }
}
