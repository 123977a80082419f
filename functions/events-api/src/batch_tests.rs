//! `POST /events/batch` with in-process fakes: each item answered alone and in order, the batch's
//! own rules refusing it whole, the caller's rights per item, a dependency failing some items,
//! and an `Idempotency-Key` covering the whole batch. `tests/batch.rs` repeats the important
//! cases against a real broker and an SQLite file.

use crate::{router, App};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use event_kafka::MemoryPublisher;
use event_schema::{MAX_BATCH_BYTES, MAX_BATCH_ITEMS};
use event_store::MemoryStore;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use std::sync::Arc;
use tower::ServiceExt;

type TestApp = Arc<App<MemoryStore, MemoryPublisher>>;

fn app() -> (TestApp, Router) {
    let app = Arc::new(App::new(MemoryStore::default(), MemoryPublisher::default()));
    (Arc::clone(&app), router(app))
}

async fn post(router: &Router, body: &str, key: Option<&str>) -> (StatusCode, bool, Value) {
    let mut req = Request::post("/events/batch").header(header::CONTENT_TYPE, "application/json");
    if let Some(key) = key {
        req = req.header("idempotency-key", key);
    }
    let req = req.body(Body::from(body.to_owned())).expect("request");
    let res = router.clone().oneshot(req).await.expect("infallible");
    let status = res.status();
    let replayed = res.headers().contains_key("idempotent-replayed");
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    (
        status,
        replayed,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn batch(items: &[Value]) -> String {
    json!({ "events": items }).to_string()
}

fn login(user: &str) -> Value {
    json!({"userId": user, "eventType": "LOGIN"})
}

#[tokio::test]
async fn a_hundred_events_are_each_accepted_in_order_and_published_once() {
    let (app, router) = app();
    let items: Vec<Value> = (0..100).map(|i| login(&format!("u{i}"))).collect();
    let (status, _, body) = post(&router, &batch(&items), None).await;
    assert_eq!(status, StatusCode::OK);
    let results = body["results"].as_array().expect("results");
    assert_eq!(results.len(), 100);
    let published = app.publisher.published();
    assert_eq!(published.len(), 100);
    for (i, result) in results.iter().enumerate() {
        assert_eq!(result["status"], 201, "{result}");
        let event = published
            .iter()
            .find(|e| e.event_id.to_string() == result["eventId"])
            .expect("published");
        assert_eq!(event.user_id, format!("u{i}"), "in request order");
        assert_eq!(
            result["timestamp"],
            event_schema::format_timestamp(event.timestamp)
        );
    }
}

#[tokio::test]
async fn a_mixed_batch_is_answered_item_by_item_with_the_single_endpoints_words() {
    let (app, router) = app();
    let bad = json!({"userId": "u", "eventType": "login"});
    let body = batch(&[login("a"), bad.clone(), json!(7), login("b")]);
    let (status, _, answer) = post(&router, &body, None).await;
    assert_eq!(status, StatusCode::OK);
    let results = &answer["results"];
    assert_eq!(results[0]["status"], 201);
    assert_eq!(results[3]["status"], 201);
    assert_eq!(results[1]["status"], 400);
    assert_eq!(results[2]["status"], 400);
    assert_eq!(results[2]["error"]["details"][0]["code"], "not_an_object");
    // The single endpoint's answer to the same item.
    let single = Request::post("/events/generate")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(bad.to_string()))
        .expect("request");
    let res = router.clone().oneshot(single).await.expect("infallible");
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    let single: Value = serde_json::from_slice(&bytes).expect("json");
    assert_eq!(results[1]["error"], single);
    assert_eq!(app.publisher.published().len(), 2, "only the valid items");
}

#[tokio::test]
async fn the_batch_rules_refuse_it_whole() {
    let (app, router) = app();
    let item = login("u").to_string();
    let too_many = format!(
        r#"{{"events":[{}]}}"#,
        vec![item.as_str(); MAX_BATCH_ITEMS + 1].join(",")
    );
    let too_large = format!(
        r#"{{"events":[{item}],"pad":"{}"}}"#,
        "x".repeat(MAX_BATCH_BYTES)
    );
    for (body, want) in [
        ("not json".to_owned(), StatusCode::BAD_REQUEST),
        ("[]".to_owned(), StatusCode::BAD_REQUEST),
        (r#"{"events":[]}"#.to_owned(), StatusCode::BAD_REQUEST),
        (r#"{"items":[]}"#.to_owned(), StatusCode::BAD_REQUEST),
        (too_many, StatusCode::BAD_REQUEST),
        (too_large, StatusCode::PAYLOAD_TOO_LARGE),
    ] {
        let (status, _, answer) = post(&router, &body, None).await;
        assert_eq!(status, want, "{}", &body[..body.len().min(40)]);
        assert!(answer["error"].is_string(), "{answer}");
    }
    assert!(app.publisher.published().is_empty());
}

#[tokio::test]
async fn items_the_broker_did_not_take_are_503_alone() {
    let (app, router) = app();
    app.publisher
        .fail_when(Some(Box::new(|e: &event_schema::UserEvent| {
            e.user_id == "slow"
        })));
    let (status, _, answer) = post(&router, &batch(&[login("a"), login("slow")]), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["results"][0]["status"], 201);
    assert_eq!(answer["results"][1]["status"], 503);
    assert_eq!(answer["results"][1]["error"]["error"], "kafka_unavailable");
}

#[tokio::test]
async fn a_keyed_retry_replays_the_results_and_publishes_nothing_again() {
    let (app, router) = app();
    let body = batch(&[login("a"), json!({"userId": ""}), login("b")]);
    let (_, replayed, first) = post(&router, &body, Some("batch-1")).await;
    assert!(!replayed);
    assert_eq!(app.publisher.published().len(), 2);
    // The same batch with other spacing is the same batch.
    let spaced = body.replace(',', " , ");
    let (status, replayed, again) = post(&router, &spaced, Some("batch-1")).await;
    assert_eq!((status, replayed), (StatusCode::OK, true));
    assert_eq!(again, first);
    assert_eq!(
        app.publisher.published().len(),
        2,
        "nothing published again"
    );
    let other = batch(&[login("c")]);
    let (status, _, refused) = post(&router, &other, Some("batch-1")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused["error"], "idempotency_key_reused");
}

#[tokio::test]
async fn a_keyed_retry_after_a_failed_item_publishes_the_same_events_again() {
    let (app, router) = app();
    app.publisher
        .fail_when(Some(Box::new(|e: &event_schema::UserEvent| {
            e.user_id == "b"
        })));
    let body = batch(&[login("a"), login("b")]);
    let (_, _, first) = post(&router, &body, Some("k")).await;
    assert_eq!(first["results"][1]["status"], 503);
    app.publisher.fail_when(None);
    let (_, replayed, second) = post(&router, &body, Some("k")).await;
    assert!(
        !replayed,
        "the key was released: the items are published again"
    );
    assert_eq!(second["results"][1]["status"], 201);
    assert_eq!(
        second["results"][0]["eventId"], first["results"][0]["eventId"],
        "the same identity, so the processor stores it once"
    );
    let ids: Vec<String> = app
        .publisher
        .published()
        .iter()
        .map(|e| e.event_id.to_string())
        .collect();
    assert_eq!(ids.len(), 3);
    assert_eq!(ids[0], ids[1], "a republished twice, under one id");
    let (_, replayed, third) = post(&router, &body, Some("k")).await;
    assert!(replayed);
    assert_eq!(third, second);
}
