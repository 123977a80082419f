//! The `events-api` binary as a user runs it: a plain server on 127.0.0.1:0, a real broker and a
//! real SQLite file, checked from outside over HTTP.

use serde_json::{json, Value};
use std::time::{Duration, Instant};
use testkit::kafka::{brokers, create_topic, read_topic, unique_topic};
use testkit::process::Server;
use testkit::tansu::Tansu;

const BIN: &str = env!("CARGO_BIN_EXE_events-api");

fn start(brokers: &str, topic: &str, dir: &tempfile::TempDir, produce_timeout_ms: &str) -> Server {
    let store = format!("sqlite://{}", dir.path().join("events.db").display());
    Server::start(
        BIN,
        &[
            ("KAFKA_BROKERS", brokers),
            ("KAFKA_TOPIC", topic),
            ("STORE_URL", &store),
            ("KAFKA_PRODUCE_TIMEOUT_MS", produce_timeout_ms),
            ("AWS_LAMBDA_RUNTIME_API", ""),
            ("AUTH_MODE", "none"),
        ],
    )
}

async fn post(
    client: &reqwest::Client,
    server: &Server,
    ct: &str,
    body: String,
) -> reqwest::Response {
    client
        .post(server.url("/events/generate"))
        .header("content-type", ct)
        .body(body)
        .send()
        .await
        .expect("server answers")
}

#[tokio::test]
#[ignore = "needs a Kafka broker: `make kafka`"]
async fn every_status_code_from_the_running_binary() {
    let topic = unique_topic("blackbox");
    create_topic(&brokers(), &topic, 3).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(&brokers(), &topic, &dir, "5000");
    let c = reqwest::Client::new();

    let res = post(
        &c,
        &server,
        "application/json",
        json!({"userId": "bb", "eventType": "LOGIN"}).to_string(),
    )
    .await;
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.expect("json");
    assert_eq!(created["userId"], "bb");

    let res = post(&c, &server, "application/json", r#"{"userId":"bb"}"#.into()).await;
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.expect("json");
    assert_eq!(
        body["details"][0],
        json!({"field": "eventType", "code": "required", "message": "eventType is required"})
    );

    let huge = format!(
        r#"{{"userId":"bb","eventType":"LOGIN","payload":{{"d":"{}"}}}}"#,
        "x".repeat(70_000)
    );
    let res = post(&c, &server, "application/json", huge).await;
    assert_eq!(res.status(), 413);
    assert_eq!(
        res.json::<Value>().await.expect("json")["error"],
        "payload_too_large"
    );

    let res = post(&c, &server, "text/plain", "{}".into()).await;
    assert_eq!(res.status(), 415);
    assert_eq!(
        res.json::<Value>().await.expect("json")["error"],
        "unsupported_media_type"
    );

    let res = c.get(server.url("/events")).send().await.expect("answer");
    assert_eq!(res.status(), 404);
    assert_eq!(
        res.json::<Value>().await.expect("json")["error"],
        "not_found"
    );

    let res = c
        .put(server.url("/events/generate"))
        .send()
        .await
        .expect("answer");
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()["allow"], "POST");
    assert_eq!(
        res.json::<Value>().await.expect("json")["error"],
        "method_not_allowed"
    );

    let res = c
        .get(server.url("/events/processed?limit=10"))
        .send()
        .await
        .expect("answer");
    assert_eq!(res.status(), 200);
    assert!(res.json::<Value>().await.expect("json").is_array());

    let res = c
        .get(server.url("/events/processed?limit=5000&colour=red"))
        .send()
        .await
        .expect("answer");
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["details"].as_array().map(Vec::len), Some(2));

    let res = c.get(server.url("/health")).send().await.expect("answer");
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.expect("json")["status"], "ok");

    assert!(
        server.terminate(),
        "SIGTERM gives a clean exit after flushing"
    );
    let records = read_topic(&brokers(), &topic, Duration::from_secs(20));
    assert_eq!(records.len(), 1);
}

#[tokio::test]
#[ignore = "needs the tansu broker binary: `make kafka`"]
async fn a_stopped_broker_gives_503_within_the_timeout_and_nothing_is_stored() {
    let mut broker = Tansu::start();
    let topic = unique_topic("outage");
    create_topic(&broker.brokers(), &topic, 3).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(&broker.brokers(), &topic, &dir, "2000");
    let c = reqwest::Client::new();
    let body = || json!({"userId": "outage", "eventType": "LOGIN"}).to_string();

    let res = post(&c, &server, "application/json", body()).await;
    assert_eq!(res.status(), 201);
    let accepted: Value = res.json().await.expect("json");

    broker.kill();
    let started = Instant::now();
    let res = post(&c, &server, "application/json", body()).await;
    let waited = started.elapsed();
    assert_eq!(res.status(), 503);
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(
        res.json::<Value>().await.expect("json")["error"],
        "kafka_unavailable"
    );
    assert!(
        waited <= Duration::from_millis(3000),
        "503 after {waited:?}, timeout is 2 s"
    );

    let started = Instant::now();
    let res = c.get(server.url("/health")).send().await.expect("answer");
    assert_eq!(res.status(), 503);
    let health: Value = res.json().await.expect("json");
    assert_eq!(health["failing"], json!(["kafka"]));
    assert!(started.elapsed() <= Duration::from_millis(2600));

    broker.restart();
    let records = read_topic(&broker.brokers(), &topic, Duration::from_secs(20));
    let ids: Vec<Value> = records
        .iter()
        .map(|r| {
            serde_json::from_slice::<Value>(r.value.as_deref().unwrap_or_default()).expect("json")
                ["eventId"]
                .clone()
        })
        .collect();
    assert_eq!(
        ids,
        vec![accepted["eventId"].clone()],
        "only the acknowledged event is in Kafka"
    );
}
