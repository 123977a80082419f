//! events-api with several invocations per instance (`AWS_LAMBDA_MAX_CONCURRENCY` > 1, as on
//! Lambda Managed Instances) under cargo lambda watch: one instance answers many requests at
//! once through its relay, each with its own answer, and every 201 is a distinct event.

use local_stack::{Options, Stack, EVENTS_API};
use serde_json::Value;
use std::collections::BTreeSet;
use testkit::kafka::{brokers, create_topic, unique_topic};

/// Invocations per instance.
const CONCURRENCY: usize = 8;
/// Requests sent at once.
const REQUESTS: usize = 64;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs a Kafka broker (`make kafka`), cargo-lambda and the built binaries; run by make test"]
async fn one_instance_answers_many_requests_at_once_each_with_its_own_answer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let topic = unique_topic("concurrency");
    create_topic(&brokers(), &topic, 3).await;
    let mut options = Options::new(
        local_stack::workspace_root(env!("CARGO_MANIFEST_DIR")),
        dir.path(),
    )
    .set("KAFKA_BROKERS", brokers())
    .set("KAFKA_TOPIC", &topic)
    .set(
        "STORE_URL",
        format!("sqlite://{}", dir.path().join("events.db").display()),
    );
    options.trigger = false;
    options.api_concurrency = CONCURRENCY;
    let stack = Stack::start(options).await.expect("the local stack starts");
    let url = stack.function_url(EVENTS_API);
    let http = reqwest::Client::new();

    let posts = (0..REQUESTS).map(|i| {
        let http = http.clone();
        let url = url.clone();
        async move {
            let body = serde_json::json!({"userId": format!("user-{i}"), "eventType": "LOGIN"});
            let answer = http
                .post(format!("{url}/events/generate"))
                .json(&body)
                .send()
                .await
                .expect("the function URL answers");
            let status = answer.status().as_u16();
            let body: Value = answer.json().await.unwrap_or_default();
            (status, body)
        }
    });
    let answers = futures::future::join_all(posts).await;
    let mut ids = BTreeSet::new();
    for (i, (status, body)) in answers.iter().enumerate() {
        assert_eq!(*status, 201, "request {i}: {body}");
        assert_eq!(
            body["userId"],
            format!("user-{i}"),
            "request {i}'s own event"
        );
        ids.insert(body["eventId"].as_str().unwrap_or("").to_owned());
    }
    assert_eq!(ids.len(), REQUESTS, "every 201 is a distinct event");

    let lost = (0..REQUESTS).map(|i| {
        let http = http.clone();
        let url = url.clone();
        async move {
            let answer = http
                .get(format!("{url}/nowhere/{i}"))
                .send()
                .await
                .expect("the function URL answers");
            let status = answer.status().as_u16();
            let body: Value = answer.json().await.unwrap_or_default();
            (status, body["message"].as_str().unwrap_or("").to_owned())
        }
    });
    for (i, (status, message)) in futures::future::join_all(lost).await.iter().enumerate() {
        assert_eq!(*status, 404, "request {i}: {message}");
        assert!(
            message.contains(&format!("/nowhere/{i};")),
            "request {i} got another's answer: {message}"
        );
    }
    let most = stack.most_in_flight(EVENTS_API);
    stack.stop().await;
    assert!(
        (2..=CONCURRENCY).contains(&most),
        "the one instance ran {most} invocations at once (asked for up to {CONCURRENCY})"
    );
}
