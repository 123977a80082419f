//! The router with its real adapters: a Kafka-protocol broker (`KAFKA_BROKERS`, started by
//! `make kafka`) and an SQLite file. Each test publishes to its own topic.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use event_kafka::{KafkaConfig, KafkaPublisher};
use event_schema::validate_event;
use event_store::SqliteStore;
use event_store::{EventWriter, HealthCheck};
use events_api::{router, App};
use http_body_util::BodyExt;
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};
use testkit::kafka::{brokers, create_topic, read_topic, unique_topic};
use tower::ServiceExt;

struct Real {
    app: Arc<App<SqliteStore, KafkaPublisher>>,
    router: Router,
    topic: String,
    dir: tempfile::TempDir,
}

async fn real(create: bool) -> Real {
    let topic = unique_topic("api-test");
    if create {
        create_topic(&brokers(), &topic, 3).await;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(dir.path().join("events.db")).expect("sqlite");
    let config = KafkaConfig {
        brokers: brokers(),
        topic: topic.clone(),
        ..KafkaConfig::default()
    };
    let publisher =
        KafkaPublisher::new(config, Default::default(), "events-api-test").expect("producer");
    let app = Arc::new(App::new(store, publisher));
    Real {
        router: router(Arc::clone(&app)),
        app,
        topic,
        dir,
    }
}

async fn send(router: &Router, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Value) {
    let res = router.clone().oneshot(req).await.expect("infallible");
    let (parts, body) = res.into_parts();
    let bytes = body.collect().await.expect("body").to_bytes();
    (
        parts.status,
        parts.headers,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn post_json(body: &str) -> Request<Body> {
    Request::post("/events/generate")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_owned()))
        .expect("request")
}

#[tokio::test]
#[ignore = "needs a Kafka broker: `make kafka`"]
async fn the_topic_holds_exactly_the_created_events_with_their_headers() {
    let r = real(true).await;
    let bodies = [
        r#"{"userId":"alice","eventType":"LOGIN"}"#,
        r#"{"userId":"alice","eventType":"login"}"#,
        r#"{"userId":"bob","eventType":"PRODUCT_VIEW","payload":{"sku":"A-1","qty":2}}"#,
        r#"{"userId":"","eventType":"LOGOUT"}"#,
        r#"{"userId":"carol","eventType":"LOGOUT","payload":null}"#,
        r#"{"userId":"dave","eventType":"LOGIN","extra":true}"#,
        r#"{"userId":"用户","eventType":"PRODUCT_VIEW","payload":{"名前":"商品"}}"#,
        r#"not json"#,
    ];
    let mut created = Vec::new();
    for body in bodies {
        let (status, _, json) = send(&r.router, post_json(body)).await;
        match status {
            StatusCode::CREATED => created.push(json),
            StatusCode::BAD_REQUEST => assert_eq!(json["error"], "validation_failed"),
            other => panic!("unexpected {other} for {body}"),
        }
    }
    assert_eq!(created.len(), 4);

    let records = read_topic(&brokers(), &r.topic, Duration::from_secs(20));
    assert_eq!(records.len(), created.len(), "one record per 201, no more");
    let mut seen = BTreeSet::new();
    for rec in &records {
        let value = rec.value.as_deref().expect("value");
        let event = validate_event(value).expect("records are valid events");
        let response = created
            .iter()
            .find(|c| c["eventId"] == event.event_id.to_string())
            .expect("every record answered a 201");
        assert_eq!(&serde_json::to_value(&event).expect("json"), response);
        assert_eq!(rec.key.as_deref(), Some(event.user_id.as_str()));
        assert_eq!(rec.header("event-type"), Some(event.event_type.as_str()));
        assert_eq!(rec.header("schema-version"), Some("1"));
        assert_eq!(rec.header("content-type"), Some("application/json"));
        seen.insert(event.event_id);
    }
    assert_eq!(seen.len(), created.len());
}

#[tokio::test]
#[ignore = "needs a Kafka broker: `make kafka`"]
async fn processed_lists_the_sqlite_file_newest_first_in_linked_pages() {
    let r = real(true).await;
    let mut events = Vec::new();
    for i in 0..7 {
        let body = format!(r#"{{"userId":"user-{}","eventType":"LOGIN"}}"#, i % 2);
        let mut e = event_schema::validate_request(body.as_bytes())
            .expect("valid")
            .into_event();
        e.timestamp += chrono::Duration::milliseconds(i);
        events.push(e);
    }
    r.app.store.insert_batch(&events).await.expect("insert");
    events.reverse();

    let mut uri = "/events/processed?limit=3".to_owned();
    let mut listed = Vec::new();
    let mut pages = 0;
    loop {
        let (status, headers, body) = send(
            &r.router,
            Request::get(&uri).body(Body::empty()).expect("req"),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        pages += 1;
        listed.extend(body.as_array().expect("array").iter().cloned());
        let Some(link) = headers.get(header::LINK) else {
            break;
        };
        let link = link.to_str().expect("ascii");
        let query = link
            .strip_prefix("<?")
            .and_then(|l| l.strip_suffix(">; rel=\"next\""))
            .expect("next link");
        uri = format!("/events/processed?{query}");
    }
    assert_eq!(pages, 3);
    let expected: Vec<Value> = events
        .iter()
        .map(|e| serde_json::to_value(e).expect("json"))
        .collect();
    assert_eq!(listed, expected);

    let (_, _, only_one) = send(
        &r.router,
        Request::get("/events/processed?userId=user-1&eventType=LOGIN")
            .body(Body::empty())
            .expect("req"),
    )
    .await;
    assert_eq!(only_one.as_array().expect("array").len(), 3);
}

#[tokio::test]
#[ignore = "needs a Kafka broker: `make kafka`"]
async fn health_reports_both_dependencies_and_names_a_missing_topic() {
    let r = real(true).await;
    let (status, _, body) = send(
        &r.router,
        Request::get("/health").body(Body::empty()).expect("req"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Only a verdict per dependency: no broker count, topic or store path for a stranger.
    assert_eq!(
        body,
        serde_json::json!({"status": "ok", "kafka": "ok", "store": "ok"})
    );

    let missing = real(false).await;
    let started = Instant::now();
    let (status, _, body) = send(
        &missing.router,
        Request::get("/health").body(Body::empty()).expect("req"),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["failing"], serde_json::json!(["kafka"]));
    assert!(started.elapsed() < Duration::from_millis(2500));
}

/// The production plain server (`events_api::serve`) on a free port, until the test ends.
async fn plain_server(app: Arc<App<SqliteStore, KafkaPublisher>>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(
        async move { events_api::serve(listener, app, &[], std::future::pending()).await },
    );
    format!("http://{addr}")
}

fn without_identity(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.remove("eventId");
        o.remove("timestamp");
    }
    v
}

#[tokio::test]
#[ignore = "needs a Kafka broker: `make kafka`"]
async fn function_url_requests_get_the_plain_servers_responses() {
    let r = real(true).await;
    let base = plain_server(Arc::clone(&r.app)).await;
    let client = reqwest::Client::new();

    for fixture in [
        include_str!("data/function-url-post-generate.json"),
        include_str!("data/function-url-get-processed.json"),
    ] {
        let raw: Value = serde_json::from_str(fixture).expect("fixture");
        let lambda_req = lambda_http::request::from_str(fixture).expect("lambda_http parses it");
        let res = r
            .router
            .clone()
            .oneshot(lambda_req)
            .await
            .expect("infallible");
        let lambda_status = res.status();
        let lambda_ct = res.headers().get(header::CONTENT_TYPE).cloned();
        let lambda_body: Value =
            serde_json::from_slice(&res.into_body().collect().await.expect("body").to_bytes())
                .expect("json");

        let method = raw["requestContext"]["http"]["method"]
            .as_str()
            .expect("method");
        let mut url = format!("{base}{}", raw["rawPath"].as_str().expect("path"));
        if let Some(q) = raw["rawQueryString"].as_str().filter(|q| !q.is_empty()) {
            url = format!("{url}?{q}");
        }
        let mut req = client.request(method.parse().expect("method"), url);
        if let Some(ct) = raw["headers"]["content-type"].as_str() {
            req = req.header("content-type", ct);
        }
        if let Some(body) = raw["body"].as_str() {
            req = req.body(body.to_owned());
        }
        let plain = req.send().await.expect("plain server answers");
        assert_eq!(lambda_status, plain.status(), "{method}");
        assert_eq!(
            lambda_ct.as_ref().map(|v| v.as_bytes()),
            plain.headers().get("content-type").map(|v| v.as_bytes())
        );
        let plain_body: Value = plain.json().await.expect("json");
        assert_eq!(without_identity(lambda_body), without_identity(plain_body));
    }
    assert_eq!(
        read_topic(&brokers(), &r.topic, Duration::from_secs(20)).len(),
        2
    );
}

fn keyed(body: &str, key: &str) -> Request<Body> {
    Request::post("/events/generate")
        .header(header::CONTENT_TYPE, "application/json")
        .header("idempotency-key", key)
        .body(Body::from(body.to_owned()))
        .expect("request")
}

#[tokio::test]
#[ignore = "needs a Kafka broker: `make kafka`"]
async fn a_key_sent_many_times_leaves_one_record_and_a_locked_store_publishes_nothing() {
    let r = real(true).await;
    let body = r#"{"userId":"alice","eventType":"PRODUCT_VIEW","payload":{"sku":"A-1"}}"#;
    let (status, headers, first) = send(&r.router, keyed(body, "order-1")).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert!(!headers.contains_key("idempotent-replayed"));
    for _ in 0..5 {
        let (status, headers, again) = send(&r.router, keyed(body, "order-1")).await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(headers["idempotent-replayed"], "true");
        assert_eq!(again, first);
    }
    let other = r#"{"userId":"alice","eventType":"LOGIN"}"#;
    let (status, _, reused) = send(&r.router, keyed(other, "order-1")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reused["error"], "idempotency_key_reused");

    // Another writer holds the file past the busy timeout: the key cannot be recorded, so
    // nothing is published and the client is told to retry.
    let path = r.dir.path().join("events.db");
    let locker = rusqlite::Connection::open(&path).expect("open");
    locker.execute_batch("BEGIN IMMEDIATE").expect("lock");
    let (status, headers, locked) = send(&r.router, keyed(other, "order-2")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{locked}");
    assert_eq!(locked["error"], "store_unavailable");
    // The store's own words (SQLite's "database is locked", the file's path) stay in the log.
    assert_eq!(
        locked["message"], "the event store is unavailable; retry later",
        "{locked}"
    );
    assert!(headers.contains_key(header::RETRY_AFTER));
    locker.execute_batch("ROLLBACK").expect("unlock");
    let (status, _, _) = send(&r.router, keyed(other, "order-2")).await;
    assert_eq!(status, StatusCode::CREATED);

    let records = read_topic(&brokers(), &r.topic, Duration::from_secs(20));
    assert_eq!(records.len(), 2, "one record per key");
    let ids: BTreeSet<String> = records
        .iter()
        .filter_map(|rec| rec.value.as_deref())
        .filter_map(|v| validate_event(v).ok())
        .map(|e| e.event_id.to_string())
        .collect();
    assert!(ids.contains(first["eventId"].as_str().unwrap_or_default()));
    assert_eq!(
        r.app.store.health().await.map(|h| h.backend).ok(),
        Some("sqlite")
    );
}
