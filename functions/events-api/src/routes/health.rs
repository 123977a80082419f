//! `GET /health`: both dependencies checked concurrently, each within its deadline. The body says
//! only `ok` or `failing` for each; what they reported, or why they failed, goes to the log.

use crate::App;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use event_kafka::EventPublisher;
use event_store::EventStore;
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::{debug, warn};

/// The store check gets the same deadline as Kafka's.
const STORE_DEADLINE: Duration = Duration::from_secs(2);

pub(crate) async fn health<S: EventStore, P: EventPublisher>(
    State(app): State<Arc<App<S, P>>>,
) -> Response {
    // The publisher bounds its own check; the outer bound covers a stuck client.
    let kafka = check(Duration::from_millis(2100), app.publisher.health());
    let store = check(STORE_DEADLINE, app.store.health());
    let (kafka, store) = tokio::join!(kafka, store);
    // The details stay in the log: an unauthenticated caller learns only ok or failing.
    let log = |name: &str, report: &Result<(u64, String), (u64, String)>| match report {
        Ok((ms, details)) => debug!(dependency = name, latency_ms = ms, details, "health: ok"),
        Err((ms, cause)) => warn!(
            error = "dependency_unavailable",
            dependency = name,
            latency_ms = ms,
            cause,
            "health: failing"
        ),
    };
    log("kafka", &kafka);
    log("store", &store);
    let verdict = |r: &Result<_, _>| if r.is_ok() { "ok" } else { "failing" };
    let failing: Vec<&str> = [("kafka", kafka.is_ok()), ("store", store.is_ok())]
        .into_iter()
        .filter(|(_, ok)| !ok)
        .map(|(name, _)| name)
        .collect();
    let mut body = serde_json::Map::new();
    let status = if failing.is_empty() {
        body.insert("status".into(), Value::from("ok"));
        StatusCode::OK
    } else {
        body.insert("status".into(), Value::from("unavailable"));
        body.insert("error".into(), Value::from("dependency_unavailable"));
        body.insert(
            "message".into(),
            Value::from(format!("unavailable: {}", failing.join(", "))),
        );
        body.insert("failing".into(), Value::from(failing));
        StatusCode::SERVICE_UNAVAILABLE
    };
    body.insert("kafka".into(), Value::from(verdict(&kafka)));
    body.insert("store".into(), Value::from(verdict(&store)));
    let mut response = (status, Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(crate::error::RETRY_AFTER_SECS),
        );
    }
    response
}

/// Runs one dependency check within `deadline`: its latency in ms with what it reported, or
/// with why it failed.
async fn check<T: std::fmt::Debug, E: std::fmt::Display>(
    deadline: Duration,
    probe: impl std::future::Future<Output = Result<T, E>>,
) -> Result<(u64, String), (u64, String)> {
    let started = Instant::now();
    let result = tokio::time::timeout(deadline, probe)
        .await
        .map_err(|_| format!("no answer within {} ms", deadline.as_millis()))
        .and_then(|r| r.map_err(|e| e.to_string()));
    let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    match result {
        Ok(report) => Ok((ms, format!("{report:?}"))),
        Err(e) => Err((ms, e)),
    }
}
