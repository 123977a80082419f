//! `POST /events/generate`: validate, stamp, publish, and answer 201 only once Kafka has it.

use crate::{ApiError, App};
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use event_kafka::{EventPublisher, PublishError};
use event_schema::{validate_request, MAX_BODY_BYTES};
use event_store::EventStore;
use std::sync::Arc;
use tracing::{debug, instrument};

#[instrument(name = "generate", skip_all)]
pub(crate) async fn generate<S: EventStore, P: EventPublisher>(
    State(app): State<Arc<App<S, P>>>,
    headers: HeaderMap,
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
    let bytes = read_limited(body).await?;
    let event = validate_request(&bytes)?.into_event();
    let delivered = app.publisher.publish(&event).await.map_err(|e| match e {
        PublishError::Encode(_) | PublishError::Task(_) => {
            ApiError::KafkaUnavailable(format!("internal error: {e}"))
        }
        other => ApiError::KafkaUnavailable(other.to_string()),
    })?;
    debug!(
        event_id = %event.event_id,
        user_id = ?event.user_id,
        event_type = %event.event_type,
        partition = delivered.partition,
        offset = delivered.offset,
        "event published"
    );
    // The answer is the record's value: the event serialized once.
    Ok((
        StatusCode::CREATED,
        [(header::CONTENT_TYPE, "application/json")],
        delivered.value,
    )
        .into_response())
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
