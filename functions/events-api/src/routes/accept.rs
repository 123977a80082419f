//! The one way an event is accepted: published, and answered 201 only once the broker
//! acknowledged it, with the record's value as the body.

use crate::observe::Outcome;
use crate::{ApiError, ApiStore, App};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use event_kafka::EventPublisher;
use event_schema::UserEvent;

/// Publishes `event` and answers 201 with it once the broker acknowledged it.
pub(crate) async fn publish<S: ApiStore, P: EventPublisher>(
    app: &App<S, P>,
    event: &UserEvent,
    traceparent: &str,
) -> Result<Response, ApiError> {
    let started = std::time::Instant::now();
    let delivered = app.publisher.publish(event, Some(traceparent)).await?;
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

pub(crate) fn created(body: Vec<u8>) -> Response {
    (
        StatusCode::CREATED,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}
