//! `POST /events/generate`: validate, stamp, publish, and answer 201 only once Kafka has it.
//!
//! With an `Idempotency-Key` (draft-ietf-httpapi-idempotency-key-header), the key is recorded
//! with the event before it is published (see `event_store::keys`): the same key and body answer
//! the same event again, and a retry after a 503 or a crash publishes that same event again,
//! which the processor stores once.

use crate::auth::Authenticated;
use crate::observe::{Outcome, RequestTrace};
use crate::{ApiError, App};
use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use event_kafka::EventPublisher;
use event_schema::{validate_request, ErrorCode, FieldError, UserEvent, MAX_BODY_BYTES};
use event_store::{EventStore, KeyClaim, KeyRecord, KeyTimes, KeyedEvent, Lease};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use tracing::{instrument, warn};

/// The request header naming a client's key.
pub(crate) const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// The response header of an answer repeated for a key.
pub(crate) const IDEMPOTENT_REPLAYED: &str = "idempotent-replayed";
/// Longest key, in bytes (printable ASCII, so also in characters).
pub(crate) const MAX_IDEMPOTENCY_KEY_BYTES: usize = 255;
/// Longest wait for the whole body once the headers arrived (a plain server's slow client;
/// under Lambda the body is already there).
pub(crate) const BODY_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

#[instrument(name = "generate", skip_all)]
pub(crate) async fn generate<S: EventStore, P: EventPublisher>(
    State(app): State<Arc<App<S, P>>>,
    Extension(trace): Extension<RequestTrace>,
    headers: HeaderMap,
    Authenticated(caller): Authenticated,
    body: Body,
) -> Result<Response, ApiError> {
    require_json(&headers)?;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
        drain(body).await;
        return Err(ApiError::PayloadTooLarge(MAX_BODY_BYTES));
    }
    let key = idempotency_key(&headers)?;
    let bytes = tokio::time::timeout(BODY_READ_TIMEOUT, read_limited(body))
        .await
        .map_err(|_| ApiError::BodyTimeout(BODY_READ_TIMEOUT.as_secs()))??;
    let request = validate_request(&bytes)?;
    caller.may_write_for(&request.user_id)?;
    // The record carries this function's span of the caller's trace.
    let traceparent = trace.parent.child().to_string();
    let traceparent = traceparent.as_str();
    let Some(key) = key else {
        return publish(&app, &request.into_event(), traceparent).await;
    };
    // The body's fingerprint: its compact form, so that spacing does not make another body.
    let compact = serde_json::to_vec(&request).unwrap_or_default();
    let event = request.into_event();
    let claim = KeyRecord {
        caller: caller.key_scope(),
        user_id: event.user_id.clone(),
        key,
        fingerprint: Sha256::digest(&compact).into(),
        event: KeyedEvent {
            event_id: event.event_id,
            timestamp_ms: event.timestamp.timestamp_millis(),
        },
    };
    let now_ms = chrono::Utc::now().timestamp_millis();
    let times = KeyTimes {
        now_ms,
        lease_ms: millis(app.keys.lease),
        ttl_ms: millis(app.keys.ttl),
    };
    let unavailable = |e: event_store::StoreError| ApiError::StoreUnavailable(e.to_string());
    match app
        .store
        .claim_key(&claim, times)
        .await
        .map_err(unavailable)?
    {
        KeyClaim::Recorded(lease) => {
            publish_for_key(&app, &claim, &lease, &event, traceparent).await
        }
        KeyClaim::Resumed(lease) => {
            let again = with_identity(event, lease.event);
            publish_for_key(&app, &claim, &lease, &again, traceparent).await
        }
        KeyClaim::Completed(keyed) => {
            let again = with_identity(event, keyed);
            let body = serde_json::to_vec(&again).unwrap_or_default();
            let mut response = created(body);
            response.headers_mut().insert(
                header::HeaderName::from_static(IDEMPOTENT_REPLAYED),
                HeaderValue::from_static("true"),
            );
            response.extensions_mut().insert(Outcome::Replayed {
                event_id: again.event_id,
                event_type: again.event_type.as_str(),
            });
            Ok(response)
        }
        KeyClaim::Mismatch => Err(ApiError::IdempotencyKeyReused),
        KeyClaim::InFlight { lease_until_ms } => {
            let wait_ms = u64::try_from(lease_until_ms - now_ms).unwrap_or(0);
            Err(ApiError::IdempotencyInProgress(
                wait_ms.div_ceil(1000).max(1),
            ))
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

/// Publishes for a key: completed once acknowledged; released at once when not, so that the
/// client's retry publishes the same event again instead of waiting out the lease. Both only
/// while the key still holds `lease`.
async fn publish_for_key<S: EventStore, P: EventPublisher>(
    app: &App<S, P>,
    claim: &KeyRecord,
    lease: &Lease,
    event: &UserEvent,
    traceparent: &str,
) -> Result<Response, ApiError> {
    match publish(app, event, traceparent).await {
        Ok(response) => {
            // Not recorded as completed, the key stays leased and a retry publishes the same
            // event again once the lease ends: still one stored event.
            if let Err(e) = app.store.complete_key(claim, lease).await {
                warn!(error = "store_unavailable", cause = %e, "idempotency key not marked completed");
            }
            Ok(response)
        }
        Err(e) => {
            let now_ms = chrono::Utc::now().timestamp_millis();
            if let Err(release) = app.store.release_key(claim, lease, now_ms).await {
                warn!(error = "store_unavailable", cause = %release,
                    "idempotency key not released; it frees when its lease ends");
            }
            Err(e)
        }
    }
}

async fn publish<S: EventStore, P: EventPublisher>(
    app: &App<S, P>,
    event: &UserEvent,
    traceparent: &str,
) -> Result<Response, ApiError> {
    let started = std::time::Instant::now();
    let delivered = app
        .publisher
        .publish(event, Some(traceparent))
        .await
        .map_err(|e| match e {
            event_kafka::Error::Encode(_) | event_kafka::Error::Task(_) => {
                ApiError::KafkaUnavailable(format!("internal error: {e}"))
            }
            other => ApiError::KafkaUnavailable(other.to_string()),
        })?;
    let outcome = Outcome::Accepted {
        event_id: event.event_id,
        event_type: event.event_type.as_str(),
        partition: delivered.partition,
        offset: delivered.offset,
        produce: started.elapsed(),
    };
    // The answer is the record's value: the event serialized once.
    let mut response = created(delivered.value);
    response.extensions_mut().insert(outcome);
    Ok(response)
}

fn created(body: Vec<u8>) -> Response {
    (
        StatusCode::CREATED,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

/// The request's `Idempotency-Key`, if it has one: 1 to 255 printable ASCII characters, bare
/// or as the draft's structured-field string (`"…"`).
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
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

/// Only `application/json` (optionally `; charset=utf-8`) is accepted.
fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let raw = headers
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let ok = raw.as_deref().is_some_and(|ct| {
        let mut parts = ct.split(';').map(str::trim);
        let essence_ok = parts
            .next()
            .is_some_and(|e| e.eq_ignore_ascii_case("application/json"));
        let params_ok = parts.all(|p| match p.split_once('=') {
            Some((k, v)) if k.trim().eq_ignore_ascii_case("charset") => {
                let v = v.trim().trim_matches('"');
                v.eq_ignore_ascii_case("utf-8") || v.eq_ignore_ascii_case("utf8")
            }
            _ => true,
        });
        essence_ok && params_ok
    });
    if ok {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType(raw))
    }
}

/// Most bytes of a refused body read and dropped, and for how long.
const DRAIN_BYTES: usize = 1024 * 1024;
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(2);

/// Reads and drops what the client is still sending (up to a bound), so that it can read the
/// refusal: a server that answers and closes with a body unread resets the connection, and the
/// client sees the reset instead of the 413.
async fn drain(body: Body) {
    use http_body_util::BodyExt as _;
    let limited = http_body_util::Limited::new(body, DRAIN_BYTES);
    let _ = tokio::time::timeout(DRAIN_TIME, limited.collect()).await;
}

async fn read_limited(body: Body) -> Result<axum::body::Bytes, ApiError> {
    axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|e| {
            let inner = e.into_inner();
            let too_large =
                std::iter::successors(Some(&*inner as &dyn std::error::Error), |e| e.source())
                    .any(|e| e.is::<http_body_util::LengthLimitError>());
            if too_large {
                ApiError::PayloadTooLarge(MAX_BODY_BYTES)
            } else {
                ApiError::BadBody(inner.to_string())
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with(ct: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_str(ct).expect("header"),
        );
        h
    }

    #[test]
    fn accepts_json_with_or_without_utf8_charset() {
        assert!(require_json(&with("application/json")).is_ok());
        assert!(require_json(&with("Application/JSON; charset=UTF-8")).is_ok());
        assert!(require_json(&with("text/plain")).is_err());
        assert!(require_json(&with("application/json; charset=latin1")).is_err());
        assert!(require_json(&HeaderMap::new()).is_err());
    }
}
