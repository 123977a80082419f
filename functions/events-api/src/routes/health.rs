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
    let kafka = async {
        let started = Instant::now();
        // The publisher bounds its own check; this outer bound covers a stuck client.
        let result = tokio::time::timeout(Duration::from_millis(2100), app.publisher.health())
            .await
            .map_err(|_| "no answer within 2 s".to_owned())
            .and_then(|r| r.map_err(|e| e.to_string()));
        let ms = elapsed_ms(started);
        match result {
            Ok(h) => (
                true,
                json!({"status": "ok", "latencyMs": ms, "brokers": h.brokers,
                                   "topic": h.topic, "partitions": h.partitions}),
            ),
            Err(e) => (
                false,
                json!({"status": "error", "latencyMs": ms, "message": e}),
            ),
        }
    };
    let store = async {
        let started = Instant::now();
        let result = tokio::time::timeout(STORE_DEADLINE, app.store.health())
            .await
            .map_err(|_| "no answer within 2 s".to_owned())
            .and_then(|r| r.map_err(|e| e.to_string()));
        let ms = elapsed_ms(started);
        match result {
            Ok(h) => (
                true,
                json!({"status": "ok", "latencyMs": ms, "backend": h.backend,
                                   "target": h.target}),
            ),
            Err(e) => (
                false,
                json!({"status": "error", "latencyMs": ms, "message": e}),
            ),
        }
    };
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

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}
