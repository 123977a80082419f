//! `GET /health`: both dependencies checked concurrently, each within its deadline. The body says
//! only `ok` or `failing` for each; what they reported, or why they failed, goes to the log.
//!
//! A result is answered again for [`HEALTH_MAX_AGE`], and requests that arrive while a check
//! runs wait for it: a flood of health checks costs the broker and the store one check a
//! second, not one each.

use crate::error::Dependencies;
use crate::{ApiError, ApiStore, App};
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use event_kafka::EventPublisher;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::{debug, warn};

/// The store check gets the same deadline as Kafka's.
const STORE_DEADLINE: Duration = Duration::from_secs(2);
/// How long a result is answered again.
pub(crate) const HEALTH_MAX_AGE: Duration = Duration::from_secs(1);

/// One dependency's check: its latency in ms with what it reported, or with why it failed.
type Report = Result<(u64, String), (u64, String)>;

/// The last result and when its check ended.
#[derive(Default)]
pub(crate) struct HealthCache(tokio::sync::Mutex<Option<(Instant, bool, bool)>>);

pub(crate) async fn health<S: ApiStore, P: EventPublisher>(
    State(app): State<Arc<App<S, P>>>,
) -> Response {
    let (kafka, store) = {
        let mut last = app.health.0.lock().await;
        match *last {
            Some((at, kafka, store)) if at.elapsed() < HEALTH_MAX_AGE => (kafka, store),
            _ => {
                let (kafka, store) = check_both(&app).await;
                *last = Some((Instant::now(), kafka, store));
                (kafka, store)
            }
        }
    };
    answer(kafka, store)
}

/// Checks both dependencies and logs what they said; whether each is ok.
async fn check_both<S: ApiStore, P: EventPublisher>(app: &App<S, P>) -> (bool, bool) {
    // The publisher bounds its own check; the outer bound covers a stuck client.
    let kafka = check(Duration::from_millis(2100), app.publisher.health());
    let store = check(STORE_DEADLINE, app.store.health());
    let (kafka, store) = tokio::join!(kafka, store);
    // The details stay in the log: an unauthenticated caller learns only ok or failing.
    let log = |name: &str, report: &Report| match report {
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
    (kafka.is_ok(), store.is_ok())
}

/// The answer: 200 with each dependency ok, or the error map's 503 naming the failing ones;
/// never cached.
fn answer(kafka: bool, store: bool) -> Response {
    let dependencies = Dependencies { kafka, store };
    let mut response = if dependencies.failing().is_empty() {
        (StatusCode::OK, Json(dependencies.fields())).into_response()
    } else {
        ApiError::DependencyUnavailable(dependencies).into_response()
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Runs one dependency check within `deadline`.
async fn check<T: std::fmt::Debug, E: std::fmt::Display>(
    deadline: Duration,
    probe: impl std::future::Future<Output = Result<T, E>>,
) -> Report {
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
