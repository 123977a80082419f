//! The trigger against a real broker and a stub of the Lambda Invoke API that fails on demand:
//! batches are MSK-shaped and bounded, a failed batch is retried unchanged, and offsets are
//! committed only after the function succeeded.

use aws_lambda_events::event::kafka::KafkaEvent;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use testkit::kafka::{
    brokers, create_topic, produce, read_topic, unique_topic, wait_until_consumed, RawRecord,
};

const TRIGGER: &str = env!("CARGO_BIN_EXE_msk-trigger");

/// What the stub answers to each invocation, in order; `Ok` once the list runs out.
#[derive(Clone, Copy)]
enum Answer {
    Http500,
    FunctionErrorHeader,
    Ok,
}

#[derive(Clone, Default)]
struct Stub {
    script: Arc<Mutex<Vec<Answer>>>,
    always_fail: bool,
    /// Fails every batch holding a record with this value.
    fail_when_holding: Option<&'static str>,
    /// Once: reports the records holding these values as item failures (or, with `"invalid"`,
    /// names a partition the batch does not hold), once the batch holds them all.
    report_once: Arc<Mutex<Option<&'static [&'static str]>>>,
    received: Arc<Mutex<Vec<(KafkaEvent, bool)>>>,
}

async fn invoke(State(stub): State<Stub>, body: String) -> (StatusCode, HeaderMap, String) {
    let event: KafkaEvent = serde_json::from_str(&body).expect("the trigger sends an MSK event");
    let holds = |value: &str| {
        use base64::Engine as _;
        let encoded = base64::engine::general_purpose::STANDARD.encode(value);
        event
            .records
            .values()
            .flatten()
            .any(|r| r.value.as_deref() == Some(encoded.as_str()))
    };
    let answer = if stub.always_fail || stub.fail_when_holding.is_some_and(holds) {
        Answer::Http500
    } else {
        let mut script = stub.script.lock().expect("lock");
        if script.is_empty() {
            Answer::Ok
        } else {
            script.remove(0)
        }
    };
    let reported = {
        let mut once = stub.report_once.lock().expect("lock");
        let found: Option<Vec<(String, i64)>> = once.and_then(|values| {
            if values == ["invalid"] {
                return Some(vec![("nope-9".to_owned(), 0)]);
            }
            values
                .iter()
                .map(|v| {
                    use base64::Engine as _;
                    let encoded = base64::engine::general_purpose::STANDARD.encode(v);
                    event.records.iter().find_map(|(k, rs)| {
                        rs.iter()
                            .find(|r| r.value.as_deref() == Some(encoded.as_str()))
                            .map(|r| (k.clone(), r.offset))
                    })
                })
                .collect()
        });
        if found.is_some() && matches!(answer, Answer::Ok) {
            *once = None;
        }
        found.filter(|_| matches!(answer, Answer::Ok))
    };
    let ok = matches!(answer, Answer::Ok) && reported.is_none();
    stub.received.lock().expect("lock").push((event, ok));
    if let Some(named) = reported {
        let failures: Vec<_> = named
            .into_iter()
            .map(|(partition, offset)| {
                serde_json::json!({"itemIdentifier": {"partition": partition, "offset": offset}})
            })
            .collect();
        let body = serde_json::json!({"received": 0, "batchItemFailures": failures});
        return (StatusCode::OK, HeaderMap::new(), body.to_string());
    }
    let mut headers = HeaderMap::new();
    match answer {
        Answer::Http500 => (StatusCode::INTERNAL_SERVER_ERROR, headers, "boom".into()),
        Answer::FunctionErrorHeader => {
            headers.insert("x-amz-function-error", "Unhandled".parse().expect("header"));
            (StatusCode::OK, headers, r#"{"errorType":"X"}"#.into())
        }
        Answer::Ok => (StatusCode::OK, headers, r#"{"received":0}"#.into()),
    }
}

async fn serve(stub: Stub) -> String {
    let app = Router::new()
        .route("/2015-03-31/functions/{name}/invocations", post(invoke))
        .with_state(stub);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

fn trigger(endpoint: &str, topic: &str, group: &str, extra: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(TRIGGER);
    cmd.env("KAFKA_BROKERS", brokers())
        .env("KAFKA_TOPIC", topic)
        .env("TRIGGER_GROUP_ID", group)
        .env("LAMBDA_ENDPOINT", endpoint)
        .env("TRIGGER_BATCH_SIZE", "10")
        .env("TRIGGER_BATCH_WINDOW_MS", "300")
        .env("TRIGGER_RETRY_BASE_MS", "50")
        .env("TRIGGER_SESSION_TIMEOUT_MS", "6000")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    cmd
}

async fn records(topic: &str, n: usize) {
    let recs: Vec<RawRecord> = (0..n)
        .map(|i| {
            (
                Some(format!("key-{}", i % 7).into_bytes()),
                Some(format!(r#"{{"seq":{i}}}"#).into_bytes()),
                vec![("event-type".to_owned(), b"LOGIN".to_vec())],
            )
        })
        .collect();
    produce(&brokers(), topic, &recs).await;
}

/// Waits until the group committed everything in `topic`, then stops the trigger.
async fn stop_once_consumed(mut child: std::process::Child, topic: &str, group: &str) {
    let (b, t, g) = (brokers(), topic.to_owned(), group.to_owned());
    tokio::task::spawn_blocking(move || wait_until_consumed(&b, &g, &t, Duration::from_secs(60)))
        .await
        .expect("consumed");
    let _ = child.kill();
    let _ = child.wait();
}

fn offsets(event: &KafkaEvent) -> Vec<(String, Vec<i64>)> {
    let mut out: Vec<(String, Vec<i64>)> = event
        .records
        .iter()
        .map(|(k, rs)| (k.clone(), rs.iter().map(|r| r.offset).collect()))
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Kafka broker: `make kafka`"]
async fn failed_batches_are_retried_unchanged_and_committed_only_after_success() {
    let topic = unique_topic("trigger");
    let group = unique_topic("trigger-group");
    create_topic(&brokers(), &topic, 3).await;
    records(&topic, 25).await;
    let stub = Stub {
        script: Arc::new(Mutex::new(vec![
            Answer::Http500,
            Answer::FunctionErrorHeader,
        ])),
        ..Stub::default()
    };
    let endpoint = serve(stub.clone()).await;
    let child = trigger(&endpoint, &topic, &group, &[])
        .spawn()
        .expect("spawn");

    stop_once_consumed(child, &topic, &group).await;

    let received = stub.received.lock().expect("lock").clone();
    assert!(
        received.len() >= 5,
        "3 attempts of the first batch and at least 2 more batches"
    );
    let (first, ok0) = &received[0];
    assert!(!ok0 && !received[1].1 && received[2].1);
    assert_eq!(offsets(first), offsets(&received[1].0), "retried unchanged");
    assert_eq!(offsets(first), offsets(&received[2].0), "retried unchanged");

    let mut delivered = Vec::new();
    for (event, ok) in &received {
        assert_eq!(event.event_source.as_deref(), Some("aws:kafka"));
        let n: usize = event.records.values().map(Vec::len).sum();
        assert!((1..=10).contains(&n), "batch of {n} records");
        for (key, recs) in &event.records {
            assert_eq!(key, &format!("{topic}-{}", recs[0].partition));
            assert!(
                recs.windows(2).all(|w| w[0].offset < w[1].offset),
                "offset order"
            );
            assert!(recs
                .iter()
                .all(|r| !r.headers.is_empty() && r.value.is_some()));
        }
        if *ok {
            for recs in event.records.values() {
                delivered.extend(recs.iter().map(|r| (r.partition, r.offset)));
            }
        }
    }
    delivered.sort();
    let before = delivered.len();
    delivered.dedup();
    assert_eq!(
        before,
        delivered.len(),
        "no record delivered twice after success"
    );
    assert_eq!(delivered.len(), 25, "every record delivered");
}

fn committed(group: &str, topic: &str) -> Vec<Offset> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("group.id", group)
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for p in 0..3 {
        tpl.add_partition(topic, p);
    }
    consumer
        .committed_offsets(tpl, Duration::from_secs(5))
        .expect("offsets")
        .elements()
        .iter()
        .map(|e| e.offset())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Kafka broker: `make kafka`"]
async fn by_default_a_batch_that_keeps_failing_is_never_skipped() {
    let topic = unique_topic("trigger-fail");
    let group = unique_topic("trigger-fail-group");
    create_topic(&brokers(), &topic, 3).await;
    records(&topic, 6).await;

    let failing = Stub {
        always_fail: true,
        ..Stub::default()
    };
    let endpoint = serve(failing.clone()).await;
    let mut child = trigger(&endpoint, &topic, &group, &[])
        .spawn()
        .expect("spawn");
    while failing.received.lock().expect("lock").len() < 4 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Asked to stop while it backs off: an interruption, not a failure, and nothing committed.
    let stopped = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(stopped.success());
    let status = child.wait().expect("the trigger exits");
    assert!(
        status.success(),
        "stopping during a retry exits 0, got {status}"
    );
    let first = offsets(&failing.received.lock().expect("lock")[0].0);
    assert!(
        failing
            .received
            .lock()
            .expect("lock")
            .iter()
            .all(|(e, _)| offsets(e) == first),
        "the same batch, again and again"
    );
    assert!(
        committed(&group, &topic)
            .iter()
            .all(|o| !matches!(o, Offset::Offset(n) if *n > 0)),
        "nothing committed"
    );

    // A healthy function afterwards gets the very same records: nothing was skipped.
    let healthy = Stub::default();
    let endpoint = serve(healthy.clone()).await;
    let child = trigger(&endpoint, &topic, &group, &[])
        .spawn()
        .expect("spawn");
    stop_once_consumed(child, &topic, &group).await;
    let n: usize = healthy
        .received
        .lock()
        .expect("lock")
        .iter()
        .map(|(e, _)| e.records.values().map(Vec::len).sum::<usize>())
        .sum();
    assert_eq!(n, 6);
}

/// The records of the on-failure topic: (value, the invocation record's condition and count).
fn failed_records(topic: &str) -> Vec<(String, String, u64)> {
    let mut out: Vec<(String, String, u64)> =
        read_topic(&brokers(), topic, Duration::from_secs(20))
            .into_iter()
            .map(|r| {
                let record: serde_json::Value =
                    serde_json::from_str(r.header("lambda-failure").unwrap_or("{}"))
                        .unwrap_or_default();
                (
                    String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned(),
                    record["requestContext"]["condition"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    record["requestContext"]["approximateInvokeCount"]
                        .as_u64()
                        .unwrap_or(0),
                )
            })
            .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Kafka broker: `make kafka`"]
async fn after_the_retry_limit_a_batch_goes_whole_to_the_on_failure_topic() {
    let (topic, group, failed) = (
        unique_topic("retry-cap"),
        unique_topic("retry-cap-group"),
        unique_topic("retry-cap-failed"),
    );
    create_topic(&brokers(), &topic, 1).await;
    create_topic(&brokers(), &failed, 1).await;
    records(&topic, 4).await;
    let failing = Stub {
        always_fail: true,
        ..Stub::default()
    };
    let endpoint = serve(failing.clone()).await;
    let child = trigger(
        &endpoint,
        &topic,
        &group,
        &[
            ("TRIGGER_MAX_RETRY_ATTEMPTS", "2"),
            ("TRIGGER_ON_FAILURE_TOPIC", &failed),
            ("TRIGGER_BATCH_WINDOW_MS", "2000"),
        ],
    )
    .spawn()
    .expect("spawn");
    stop_once_consumed(child, &topic, &group).await;
    let invocations = failing.received.lock().expect("lock").len();
    assert_eq!(invocations, 3, "one attempt and two retries, then skipped");
    let kept = failed_records(&failed);
    let values: Vec<&str> = kept.iter().map(|(v, _, _)| v.as_str()).collect();
    assert_eq!(
        values,
        [
            r#"{"seq":0}"#,
            r#"{"seq":1}"#,
            r#"{"seq":2}"#,
            r#"{"seq":3}"#
        ],
        "the records themselves"
    );
    assert!(
        kept.iter()
            .all(|(_, c, n)| c == "RetryAttemptsExhausted" && *n == 3),
        "{kept:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Kafka broker: `make kafka`"]
async fn a_failing_batch_of_old_records_is_skipped_once_past_the_record_age() {
    use rdkafka::producer::{FutureProducer, FutureRecord};
    let (topic, group, failed) = (
        unique_topic("age"),
        unique_topic("age-group"),
        unique_topic("age-failed"),
    );
    create_topic(&brokers(), &topic, 1).await;
    create_topic(&brokers(), &failed, 1).await;
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .create()
        .expect("producer");
    let ten_minutes_ago = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64 - 600_000)
        .unwrap_or(0);
    producer
        .send(
            FutureRecord::<str, str>::to(&topic)
                .payload("old")
                .timestamp(ten_minutes_ago),
            Duration::from_secs(10),
        )
        .await
        .map_err(|(e, _)| e)
        .expect("produce");
    let failing = Stub {
        always_fail: true,
        ..Stub::default()
    };
    let endpoint = serve(failing.clone()).await;
    let child = trigger(
        &endpoint,
        &topic,
        &group,
        &[
            ("TRIGGER_MAX_RECORD_AGE_S", "60"),
            ("TRIGGER_ON_FAILURE_TOPIC", &failed),
        ],
    )
    .spawn()
    .expect("spawn");
    stop_once_consumed(child, &topic, &group).await;
    assert_eq!(
        failing.received.lock().expect("lock").len(),
        1,
        "skipped after the first failure"
    );
    assert_eq!(
        failed_records(&failed),
        [("old".to_owned(), "RecordAgeExceeded".to_owned(), 1)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Kafka broker: `make kafka`"]
async fn bisecting_isolates_the_one_record_that_fails() {
    let (topic, group, failed) = (
        unique_topic("bisect"),
        unique_topic("bisect-group"),
        unique_topic("bisect-failed"),
    );
    create_topic(&brokers(), &topic, 1).await;
    create_topic(&brokers(), &failed, 1).await;
    records(&topic, 8).await;
    let stub = Stub {
        fail_when_holding: Some(r#"{"seq":5}"#),
        ..Stub::default()
    };
    let endpoint = serve(stub.clone()).await;
    let child = trigger(
        &endpoint,
        &topic,
        &group,
        &[
            ("TRIGGER_BISECT_ON_ERROR", "true"),
            ("TRIGGER_MAX_RETRY_ATTEMPTS", "0"),
            ("TRIGGER_ON_FAILURE_TOPIC", &failed),
            ("TRIGGER_BATCH_WINDOW_MS", "2000"),
        ],
    )
    .spawn()
    .expect("spawn");
    stop_once_consumed(child, &topic, &group).await;
    let delivered: usize = stub
        .received
        .lock()
        .expect("lock")
        .iter()
        .filter(|(_, ok)| *ok)
        .map(|(e, _)| e.records.values().map(Vec::len).sum::<usize>())
        .sum();
    assert_eq!(delivered, 7, "every other record reached the function");
    let kept = failed_records(&failed);
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(kept[0].0, r#"{"seq":5}"#);
}

/// How many times each record (by value) reached the function, in answers that succeeded or
/// reported item failures alike.
fn deliveries(stub: &Stub) -> std::collections::BTreeMap<String, usize> {
    use base64::Engine as _;
    let mut seen = std::collections::BTreeMap::new();
    for (event, _) in stub.received.lock().expect("lock").iter() {
        for r in event.records.values().flatten() {
            let value = r.value.as_deref().unwrap_or_default();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(value)
                .unwrap_or_default();
            *seen
                .entry(String::from_utf8_lossy(&bytes).into_owned())
                .or_insert(0) += 1;
        }
    }
    seen
}

/// `records` records on a one-partition topic through the trigger with partial responses on,
/// the stub reporting the records holding `report` once; how often each record reached the
/// function.
async fn reported_once(
    name: &str,
    records_n: usize,
    report: &'static [&'static str],
) -> std::collections::BTreeMap<String, usize> {
    let (topic, group) = (unique_topic(name), unique_topic(&format!("{name}-group")));
    create_topic(&brokers(), &topic, 1).await;
    records(&topic, records_n).await;
    let stub = Stub {
        report_once: Arc::new(Mutex::new(Some(report))),
        ..Stub::default()
    };
    let endpoint = serve(stub.clone()).await;
    let child = trigger(
        &endpoint,
        &topic,
        &group,
        &[
            ("REPORT_BATCH_ITEM_FAILURES", "true"),
            ("TRIGGER_BATCH_WINDOW_MS", "2000"),
        ],
    )
    .spawn()
    .expect("spawn");
    stop_once_consumed(child, &topic, &group).await;
    deliveries(&stub)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Kafka broker: `make kafka`"]
async fn reported_item_failures_redeliver_exactly_the_records_named() {
    // Lambda retries the records a partial batch response names, and only those
    // (https://docs.aws.amazon.com/lambda/latest/dg/kafka-retry-configurations.html): not the
    // records between or after them.
    let seen = reported_once("partial", 8, &[r#"{"seq":2}"#, r#"{"seq":5}"#]).await;
    for i in 0..8 {
        let want = if i == 2 || i == 5 { 2 } else { 1 };
        assert_eq!(
            seen.get(&format!(r#"{{"seq":{i}}}"#)),
            Some(&want),
            "seq {i}: {seen:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Kafka broker: `make kafka`"]
async fn an_item_failure_the_batch_does_not_hold_fails_the_whole_batch() {
    let seen = reported_once("partial-bad", 4, &["invalid"]).await;
    assert!(seen.values().all(|n| *n == 2), "{seen:?}");
    assert_eq!(seen.len(), 4);
}
