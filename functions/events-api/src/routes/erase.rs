//! `DELETE /users/{userId}/events`: a user's events erased, as its owner may ask (GDPR art. 17).
//!
//! The erasure time is the moment of the request: once this answers, no event of the user whose
//! `timestamp` is at or before it is listed or stored again, wherever it is (the store, or still
//! on its way through Kafka), and the user's idempotency keys are forgotten. Later events are
//! stored as usual. The stored copies are deleted in chunks within [`ERASE_DEADLINE`]; what is
//! left then is answered 202 (the erasure holds already) and deleted by a task that goes on after
//! the answer. On Lambda that task runs only while the environment does (it is frozen between
//! invocations), so the answer asks the client to call again: each call deletes more.

use crate::auth::Authenticated;
use crate::observe::Outcome;
use crate::{ApiError, ApiStore, App};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use event_kafka::EventPublisher;
use event_schema::{check_user_id, ErrorCode, FieldError};
use event_store::Erasure;
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::instrument;

/// Stored events deleted per store call: each call is one bounded transaction or a few
/// DynamoDB pages.
pub(crate) const ERASE_CHUNK: usize = 1000;
/// How long one request deletes before answering 202 with the rest left for the next call.
pub(crate) const ERASE_DEADLINE: Duration = Duration::from_secs(10);

/// The answer: whose events, through when, how many this request deleted, and whether any is
/// left.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "Erasure")]
pub(crate) struct ErasureAnswer {
    pub user_id: String,
    /// The erasure time (RFC 3339, milliseconds, UTC): every event at or before it is gone.
    pub erased_through: String,
    /// Stored events this request deleted.
    pub deleted: u64,
    /// No stored event of the erasure is left.
    pub complete: bool,
}

#[instrument(name = "erase", skip_all)]
pub(crate) async fn erase<S: ApiStore, P: EventPublisher>(
    State(app): State<Arc<App<S, P>>>,
    Authenticated(caller): Authenticated,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let user_id = path.map(|Path(user)| user).map_err(|e| {
        ApiError::Validation(vec![FieldError::new(
            "userId",
            ErrorCode::InvalidFormat,
            format!("the path's userId could not be read: {}", e.body_text()),
        )])
    })?;
    check_user_id(&user_id).map_err(|(code, message)| {
        ApiError::Validation(vec![FieldError::new("userId", code, message)])
    })?;
    caller.may_erase(&user_id)?;
    let now = chrono::Utc::now();
    let through_ms = now.timestamp_millis();
    let started = Instant::now();
    let mut total = Erasure::default();
    let mut recorded = false;
    loop {
        let left = ERASE_DEADLINE.saturating_sub(started.elapsed());
        let step =
            tokio::time::timeout(left, app.store.erase(&user_id, through_ms, ERASE_CHUNK)).await;
        match step {
            Ok(Ok(done)) => {
                recorded = true;
                total.deleted += done.deleted;
                total.complete = done.complete;
                if done.complete || started.elapsed() >= ERASE_DEADLINE {
                    break;
                }
            }
            // The first call records the erasure: until it answered, nothing is promised.
            Ok(Err(e)) if !recorded => return Err(e.into()),
            Err(_) if !recorded => {
                return Err(ApiError::StoreUnavailable(format!(
                    "no answer within {} s",
                    ERASE_DEADLINE.as_secs()
                )))
            }
            // Recorded already: what is left is deleted by the next call.
            Ok(Err(_)) | Err(_) => break,
        }
    }
    let answer = ErasureAnswer {
        user_id: user_id.clone(),
        erased_through: now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        deleted: total.deleted,
        complete: total.complete,
    };
    let status = if total.complete {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    if !total.complete {
        finish_in_background(Arc::clone(&app), user_id.clone(), through_ms);
    }
    let mut response = (status, Json(answer)).into_response();
    if !total.complete {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response.extensions_mut().insert(Outcome::Erased {
        by: match caller.key_scope() {
            scope if scope.is_empty() => "anonymous".to_owned(),
            scope => scope,
        },
        user_id,
        through_ms,
        deleted: total.deleted,
        complete: total.complete,
    });
    Ok(response)
}

/// Deletes what is left of an erasure after its answer, chunk by chunk, until none is left or
/// the store fails (the next call of the route goes on from there).
fn finish_in_background<S: ApiStore, P: EventPublisher>(
    app: Arc<App<S, P>>,
    user_id: String,
    through_ms: i64,
) {
    tokio::spawn(async move {
        let mut deleted = 0;
        loop {
            match app.store.erase(&user_id, through_ms, ERASE_CHUNK).await {
                Ok(done) => {
                    deleted += done.deleted;
                    if done.complete {
                        tracing::info!(user_id, through_ms, deleted, "erasure finished");
                        return;
                    }
                }
                Err(e) => {
                    tracing::warn!(user_id, through_ms, deleted, error = %e,
                        "erasure left unfinished: the next DELETE of the user goes on");
                    return;
                }
            }
        }
    });
}
