//! One execution environment, several invocations at once: the real binary against a Runtime
//! API served here. With `AWS_LAMBDA_MAX_CONCURRENCY` = N (Lambda Managed Instances) the
//! function keeps N polls for work open and answers the invocations it is handed together, each
//! with its own response; with 1 (Lambda's default model) it takes one at a time, as before.

use local_stack::instance::lambda_env;
use serde_json::Value;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use testkit::runtime_api::{function_url_event, RuntimeApi};

/// The function under a fresh Runtime API, asked for `concurrency` invocations at once. No
/// request here reaches the broker or the store, so neither needs to run.
async fn environment(concurrency: usize, store: &std::path::Path) -> (RuntimeApi, Child) {
    let api = RuntimeApi::start("events-api").await.expect("runtime API");
    let child = Command::new(env!("CARGO_BIN_EXE_events-api"))
        .envs(lambda_env("events-api", &api.address(), concurrency))
        .env("AWS_REGION", "eu-west-1")
        .env("AUTH_MODE", "none")
        .env("KAFKA_BROKERS", "127.0.0.1:9")
        .env("STORE_URL", format!("sqlite://{}", store.display()))
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("start events-api");
    (api, child)
}

/// `GET /nowhere/<i>` for `count` invocations queued together; each answer's status and message.
async fn not_found_together(api: &RuntimeApi, count: usize) -> Vec<(u64, String)> {
    let calls = (0..count).map(|i| {
        let event = function_url_event("GET", &format!("/nowhere/{i}"), "", None);
        api.invoke(event)
    });
    futures::future::join_all(calls)
        .await
        .into_iter()
        .map(|answer| {
            let document: Value =
                serde_json::from_str(&answer.expect("an answer, not an error")).expect("JSON");
            let body: Value =
                serde_json::from_str(document["body"].as_str().unwrap_or("{}")).expect("a body");
            (
                document["statusCode"].as_u64().unwrap_or(0),
                body["message"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

async fn run(concurrency: usize) -> RuntimeApi {
    let dir = tempfile::tempdir().expect("tempdir");
    let (api, mut child) = environment(concurrency, &dir.path().join("events.db")).await;
    let polled = api
        .wait_for_polls(concurrency, Duration::from_secs(60))
        .await;
    let answers = if polled {
        Some(not_found_together(&api, 4 * concurrency).await)
    } else {
        None
    };
    let _ = child.kill();
    let _ = child.wait();
    let answers = answers.unwrap_or_else(|| {
        panic!(
            "{concurrency} polls did not wait at once within 60 s (most: {})",
            api.most_polls_waiting()
        )
    });
    for (i, (status, message)) in answers.iter().enumerate() {
        assert_eq!(*status, 404, "invocation {i}: {message}");
        assert!(
            message.contains(&format!("/nowhere/{i};")),
            "invocation {i} got another's answer: {message}"
        );
    }
    assert_eq!(api.most_polls_waiting(), concurrency, "polls open at once");
    assert!(
        api.most_in_flight() <= concurrency,
        "{} invocations at once, asked for {concurrency}",
        api.most_in_flight()
    );
    api
}

#[tokio::test(flavor = "multi_thread")]
async fn with_n_at_once_each_invocation_gets_its_own_answer() {
    let api = run(8).await;
    assert!(
        api.most_in_flight() > 1,
        "the invocations were answered one at a time"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn with_one_at_a_time_it_never_takes_a_second() {
    let api = run(1).await;
    assert_eq!(api.most_in_flight(), 1);
}
