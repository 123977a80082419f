//! `GET /health`: both dependencies checked concurrently, each within its deadline.

use crate::App;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use event_kafka::EventPublisher;
use event_store::EventStore;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The store check gets the same deadline as Kafka's.
const STORE_DEADLINE: Duration = Duration::from_secs(2);

pub(crate) async fn health<S: EventStore, P: EventPublisher>(
    State(app): State<Arc<App<S, P>>>,
) -> Response {
    // The publisher bounds its own check; the outer bound covers a stuck client.
    let kafka = check(
        Duration::from_millis(2100),
        app.publisher.health(),
        |h| json!({"brokers": h.brokers, "topic": h.topic, "partitions": h.partitions}),
    );
    let store = check(
        STORE_DEADLINE,
        app.store.health(),
        |h| json!({"backend": h.backend, "target": h.target}),
    );
    let ((kafka_ok, kafka), (store_ok, store)) = tokio::join!(kafka, store);
    let failing: Vec<&str> = [("kafka", kafka_ok), ("store", store_ok)]
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
    body.insert("kafka".into(), kafka);
    body.insert("store".into(), store);
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

/// Runs one dependency check within `deadline`: whether it passed, and its JSON report with
/// `status` and `latencyMs` first.
async fn check<T, E: std::fmt::Display>(
    deadline: Duration,
    probe: impl std::future::Future<Output = Result<T, E>>,
    details: impl FnOnce(T) -> Value,
) -> (bool, Value) {
    let started = Instant::now();
    let result = tokio::time::timeout(deadline, probe)
        .await
        .map_err(|_| format!("no answer within {} ms", deadline.as_millis()))
        .and_then(|r| r.map_err(|e| e.to_string()));
    let ms = elapsed_ms(started);
    match result {
        Ok(value) => {
            let mut report = serde_json::Map::new();
            report.insert("status".into(), Value::from("ok"));
            report.insert("latencyMs".into(), Value::from(ms));
            if let Value::Object(extra) = details(value) {
                report.extend(extra);
            }
            (true, Value::Object(report))
        }
        Err(e) => (
            false,
            json!({"status": "error", "latencyMs": ms, "message": e}),
        ),
    }
}

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}
