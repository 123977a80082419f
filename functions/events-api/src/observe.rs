//! Every request, seen from outside the handlers: the trace it belongs to, one log line, and
//! one metrics document written before the answer leaves.
//!
//! The trace is the caller's `traceparent`, else its `X-Amzn-Trace-Id`, else the X-Ray trace
//! Lambda gives the invocation, else a new one; handlers find it in the request's extensions
//! ([`RequestTrace`]), and `generate` passes a child of it on to the Kafka record. Handlers say
//! what happened by leaving an [`Outcome`] in the response's extensions.
//!
//! Nothing here logs a user id or a payload: a log line carries the event id, its type, the
//! trace id and the Lambda request id. A service's IAM principal (`AUTH_MODE=iam`) is logged
//! on every line of its requests, so that each write and each read of everything is
//! attributed ([`Principal`]).

use crate::App;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use pipeline_runtime::metrics::Document;
use pipeline_runtime::trace::{TraceParent, TRACEPARENT};
use std::sync::Arc;
use std::time::Duration;
use tracing::{info, warn};

/// The metric names `events-api` writes (the template's alarms use them; a test holds them to
/// this list).
pub mod names {
    /// Events published and acknowledged (split by `EventType`).
    pub const ACCEPTED: &str = "Accepted";
    /// Answers repeated for an `Idempotency-Key` (nothing published).
    pub const REPLAYED: &str = "Replayed";
    /// Requests refused with a 4xx (split by `ErrorCode`).
    pub const REJECTED: &str = "Rejected";
    /// Requests answered 503 (split by `ErrorCode`: `kafka_unavailable`, `store_unavailable`).
    pub const UNAVAILABLE: &str = "Unavailable";
    /// From sending an event to Kafka's acknowledgement.
    pub const PRODUCE_LATENCY: &str = "ProduceLatency";
    /// Erasures answered (`DELETE /users/{userId}/events`).
    pub const ERASURES: &str = "Erasures";
    /// Stored events those erasures deleted.
    pub const ERASED_EVENTS: &str = "ErasedEvents";
    /// Every name above.
    pub const ALL: [&str; 7] = [
        ACCEPTED,
        REPLAYED,
        REJECTED,
        UNAVAILABLE,
        PRODUCE_LATENCY,
        ERASURES,
        ERASED_EVENTS,
    ];
}

/// Dimension of [`names::ACCEPTED`].
const EVENT_TYPE: &str = "EventType";
/// Dimension of [`names::REJECTED`] and [`names::UNAVAILABLE`].
const ERROR_CODE: &str = "ErrorCode";

/// The trace and invocation a request belongs to.
#[derive(Debug, Clone)]
pub(crate) struct RequestTrace {
    /// Where the request came from in its trace.
    pub parent: TraceParent,
    /// The Lambda request id (none as a plain server).
    pub request_id: Option<String>,
}

/// The IAM principal that signed a request (`AUTH_MODE=iam`), left here by the
/// `Authenticated` extractor: whoever holds it may write for any user and read everything, so
/// every line of its requests names it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Principal(Arc<std::sync::Mutex<Option<String>>>);

impl Principal {
    pub(crate) fn set(&self, arn: &str) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(arn.to_owned());
        }
    }

    fn get(&self) -> Option<String> {
        self.0.lock().ok().and_then(|slot| slot.clone())
    }
}

/// What a handler did, for the log line and the metrics.
#[derive(Debug, Clone)]
pub(crate) enum Outcome {
    /// An event published and acknowledged.
    Accepted {
        event_id: uuid::Uuid,
        event_type: &'static str,
        partition: i32,
        offset: i64,
        produce: Duration,
    },
    /// A stored answer given again for an `Idempotency-Key`.
    Replayed {
        event_id: uuid::Uuid,
        event_type: &'static str,
    },
    /// A batch answered item by item.
    Batch(crate::routes::BatchOutcome),
    /// A user's events erased: by whom (the caller's scope), whose, through when, how many.
    Erased {
        by: String,
        user_id: String,
        through_ms: i64,
        deleted: u64,
        complete: bool,
    },
    /// An error answer: its stable code, and the dependency's own words when there are any.
    Failed {
        code: &'static str,
        cause: Option<String>,
    },
}

/// The middleware around every route.
pub(crate) async fn observe<S, P>(
    State(app): State<Arc<App<S, P>>>,
    mut request: Request,
    next: Next,
) -> Response
where
    S: Send + Sync + 'static,
    P: Send + Sync + 'static,
{
    let trace = incoming(&request);
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    request.extensions_mut().insert(trace.clone());
    let signer = Principal::default();
    request.extensions_mut().insert(signer.clone());
    let response = next.run(request).await;
    let principal = signer.get();
    let principal = principal.as_deref();

    let mut doc = app.metrics.document();
    let trace_id = trace.parent.trace_id();
    let request_id = trace.request_id.as_deref().unwrap_or("");
    let server_error = response.status().is_server_error();
    if let Some(outcome) = response.extensions().get::<Outcome>() {
        measure(&mut doc, outcome, server_error);
        let status = response.status().as_u16();
        match outcome {
            Outcome::Accepted {
                event_id,
                event_type,
                partition,
                offset,
                produce,
            } => info!(%event_id, event_type, partition, offset,
                produce_ms = produce.as_millis() as u64, trace_id, request_id, status,
                principal, "event accepted"),
            Outcome::Replayed {
                event_id,
                event_type,
            } => info!(%event_id, event_type, trace_id, request_id, status, principal,
                "event replayed for its idempotency key"),
            Outcome::Batch(batch) => info!(
                accepted = batch.accepted.len(),
                refused = batch.refused.len(),
                unavailable = batch.unavailable.len(),
                replayed = batch.replayed,
                trace_id,
                request_id,
                status,
                principal,
                "batch answered"
            ),
            // Never the events' contents: who, whose, when and how many.
            Outcome::Erased {
                by,
                user_id,
                through_ms,
                deleted,
                complete,
            } => info!(
                by,
                user_id,
                through_ms,
                deleted,
                complete,
                trace_id,
                request_id,
                status,
                principal,
                "events erased"
            ),
            Outcome::Failed { code, cause } if server_error => warn!(error = code,
                cause = cause.as_deref().unwrap_or(""), %method, path, trace_id, request_id,
                status, principal, "request failed"),
            // A refusal's cause (why credentials were refused) only where there is one.
            Outcome::Failed { code, cause } => info!(error = code, cause = cause.as_deref(),
                %method, path, trace_id, request_id, status, principal, "request refused"),
        }
    } else if let Some(principal) = principal {
        // A listing by a service reads any user's events: attributed like a write.
        let status = response.status().as_u16();
        info!(%method, path, trace_id, request_id, status, principal, "request by a service");
    }
    doc.property("traceId", &trace_id);
    if let Some(id) = &trace.request_id {
        doc.property("requestId", id.as_str());
    }
    doc.emit();
    response
}

/// Adds what `outcome` means to the request's metrics document: a failure answered with a 5xx
/// is `Unavailable`, any other `Rejected`.
pub(crate) fn measure(doc: &mut Document, outcome: &Outcome, server_error: bool) {
    match outcome {
        Outcome::Accepted {
            event_type,
            produce,
            ..
        } => {
            doc.count(names::ACCEPTED, 1, Some((EVENT_TYPE, event_type)));
            doc.millis(names::PRODUCE_LATENCY, *produce, None);
        }
        Outcome::Replayed { .. } => doc.count(names::REPLAYED, 1, None),
        Outcome::Batch(batch) => {
            for event_type in &batch.accepted {
                let replayed = batch.replayed;
                let name = if replayed {
                    names::REPLAYED
                } else {
                    names::ACCEPTED
                };
                let by = (!replayed).then_some((EVENT_TYPE, *event_type));
                doc.count(name, 1, by);
            }
            for code in &batch.refused {
                doc.count(names::REJECTED, 1, Some((ERROR_CODE, code)));
            }
            for code in &batch.unavailable {
                doc.count(names::UNAVAILABLE, 1, Some((ERROR_CODE, code)));
            }
        }
        Outcome::Erased { deleted, .. } => {
            doc.count(names::ERASURES, 1, None);
            doc.count(names::ERASED_EVENTS, *deleted, None);
        }
        Outcome::Failed { code, .. } if server_error => {
            doc.count(names::UNAVAILABLE, 1, Some((ERROR_CODE, code)));
        }
        Outcome::Failed { code, .. } => doc.count(names::REJECTED, 1, Some((ERROR_CODE, code))),
    }
}

/// The request's trace: `traceparent`, else `X-Amzn-Trace-Id`, else Lambda's, else new.
fn incoming(request: &Request) -> RequestTrace {
    let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok());
    let lambda = request.extensions().get::<lambda_http::Context>();
    let parent = header(TRACEPARENT)
        .and_then(TraceParent::parse)
        .or_else(|| header("x-amzn-trace-id").and_then(TraceParent::from_xray))
        .or_else(|| {
            lambda
                .and_then(|c| c.xray_trace_id.as_deref())
                .and_then(TraceParent::from_xray)
        })
        .unwrap_or_else(TraceParent::new_root);
    RequestTrace {
        parent,
        request_id: lambda.map(|c| c.request_id.clone()),
    }
}
