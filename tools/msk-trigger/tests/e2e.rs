//! The whole pipeline through its real pieces: the broker, `cargo lambda watch` serving both
//! functions, this trigger, and an SQLite file, started by `local_stack` as `make dev` starts
//! them. One test, in phases, because the pieces are expensive to start.

use local_stack::{Options, Stack};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use testkit::kafka::{
    brokers, create_topic, produce, produce_to, read_topic, unique_topic, wait_until_consumed,
};

struct Pipeline {
    dir: tempfile::TempDir,
    stack: Mutex<Stack>,
    topic: String,
    dlq: String,
    group: String,
    http: reqwest::Client,
}

impl Pipeline {
    /// Creates the test's own topics, then starts the stack on them.
    async fn start_with_topics() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let (topic, dlq, group) = (
            unique_topic("e2e"),
            unique_topic("e2e-dlq"),
            unique_topic("e2e-group"),
        );
        create_topic(&brokers(), &topic, 3).await;
        create_topic(&brokers(), &dlq, 3).await;
        let options = Options::new(
            local_stack::workspace_root(env!("CARGO_MANIFEST_DIR")),
            dir.path(),
        )
        .set("KAFKA_BROKERS", brokers())
        .set("KAFKA_TOPIC", &topic)
        .set("KAFKA_DLQ_TOPIC", &dlq)
        .set(
            "STORE_URL",
            format!("sqlite://{}", dir.path().join("events.db").display()),
        )
        .set("RUST_LOG", "info")
        .set("AWS_LAMBDA_LOG_FORMAT", "json")
        .set("TRIGGER_GROUP_ID", &group)
        .set("TRIGGER_BATCH_WINDOW_MS", "100")
        .set("TRIGGER_SESSION_TIMEOUT_MS", "6000")
        .set("TRIGGER_ASSIGNMENT_TIMEOUT_MS", "8000")
        .set("TRIGGER_RETRY_MAX_MS", "2000");
        let stack = Stack::start(options).await.expect("the local stack starts");
        Self {
            dir,
            stack: Mutex::new(stack),
            topic,
            dlq,
            group,
            http: reqwest::Client::new(),
        }
    }

    fn base(&self) -> String {
        self.stack.lock().expect("stack").function_url("events-api")
    }

    fn log(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Kills the trigger (no goodbye to the group) and starts a new one logging to `log_name`.
    fn crash_trigger(&self, log_name: &str) {
        let mut stack = self.stack.lock().expect("stack");
        stack.kill_trigger();
        stack.start_trigger(log_name).expect("trigger restarts");
    }

    async fn post(&self, user: &str, event_type: &str) -> Value {
        let res = self
            .http
            .post(format!("{}/events/generate", self.base()))
            .json(&json!({"userId": user, "eventType": event_type, "payload": {"n": 1}}))
            .send()
            .await
            .expect("function URL answers");
        assert_eq!(res.status(), 201);
        res.json().await.expect("event")
    }

    /// Every stored event id with how often the listing shows it, following the Link pages.
    async fn stored(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for e in testkit::http::listed(&self.http, &self.base()).await {
            let id = e["eventId"].as_str().unwrap_or_default().to_owned();
            *counts.entry(id).or_insert(0) += 1;
        }
        counts
    }

    async fn wait_stored(&self, ids: &BTreeSet<String>, timeout: Duration) -> Duration {
        let started = Instant::now();
        loop {
            let stored = self.stored().await;
            if ids.iter().all(|id| stored.contains_key(id)) {
                return started.elapsed();
            }
            if started.elapsed() > timeout {
                let missing = ids.iter().filter(|id| !stored.contains_key(*id)).count();
                self.dump_logs();
                panic!(
                    "{missing} of {} events not stored within {timeout:?}",
                    ids.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    fn dump_logs(&self) {
        for name in [
            "functions.log",
            "trigger.log",
            "trigger-restart-0.log",
            "trigger-restart-1.log",
            "trigger-restart-2.log",
        ] {
            if let Ok(text) = std::fs::read_to_string(self.log(name)) {
                let tail: Vec<&str> = text.lines().rev().take(60).collect();
                eprintln!("---- {name} (last lines) ----");
                for l in tail.iter().rev() {
                    eprintln!("{l}");
                }
            }
        }
    }
}

fn ids(events: &[Value]) -> BTreeSet<String> {
    events
        .iter()
        .map(|e| e["eventId"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs a Kafka broker (`make kafka`) and cargo-lambda (`make setup`)"]
async fn events_flow_through_the_whole_pipeline_exactly_once() {
    let stack = Arc::new(Pipeline::start_with_topics().await);

    // Warm-up: the first request and the first invocation compile each function.
    let warm = stack.post("warm-up", "LOGIN").await;
    stack
        .wait_stored(&ids(&[warm]), Duration::from_secs(600))
        .await;

    // 1. 200 events through the function URL are all listed within 15 s.
    // At most 16 requests in flight: cargo lambda watch 1.9 stops answering when about a
    // hundred requests wait on one function instance at once.
    use futures::StreamExt as _;
    let batch1: Vec<Value> = futures::stream::iter(0..200)
        .map(|i| {
            let s = Arc::clone(&stack);
            async move {
                s.post(
                    &format!("user-{}", i % 17),
                    ["LOGIN", "LOGOUT", "PRODUCT_VIEW"][i % 3],
                )
                .await
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let took = stack
        .wait_stored(&ids(&batch1), Duration::from_secs(15))
        .await;
    eprintln!("200 events listed {took:?} after the last 201");

    // 2. The same 200 records produced again (a redelivery) leave exactly 200 stored.
    let wanted = ids(&batch1);
    let again: Vec<_> = read_topic(&brokers(), &stack.topic, Duration::from_secs(30))
        .into_iter()
        .filter(|r| {
            let v: Value = serde_json::from_slice(r.value.as_deref().unwrap_or_default())
                .unwrap_or(Value::Null);
            wanted.contains(v["eventId"].as_str().unwrap_or_default())
        })
        .map(|r| {
            let headers = r
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone().into_bytes()))
                .collect();
            (r.key.map(String::into_bytes), r.value, headers)
        })
        .collect();
    assert_eq!(again.len(), 200);
    produce(&brokers(), &stack.topic, &again).await;
    wait_until_consumed(
        &brokers(),
        &stack.group,
        &stack.topic,
        Duration::from_secs(60),
    );
    let stored = stack.stored().await;
    assert_eq!(stored.len(), 201, "redelivery stored nothing new");
    assert!(stored.values().all(|n| *n == 1));

    // 3. Five poison records go to the dead-letter topic with their reasons; valid events
    //    after them are still processed.
    let poison: Vec<testkit::kafka::RawRecord> = vec![
        (Some(b"p1".to_vec()), Some(b"not json at all".to_vec()), vec![]),
        (Some(b"p2".to_vec()), None, vec![]),
        (Some(b"p3".to_vec()), Some(br#"{"userId":"x","eventType":"LOGIN"}"#.to_vec()), vec![]),
        (Some(b"p4".to_vec()), Some(br#"{"eventId":"5d1f0b8e-2c4a-4e9b-8f3d-1a2b3c4d5e01","userId":"x","eventType":"login","timestamp":"2026-11-25T16:07:04.123Z"}"#.to_vec()), vec![]),
        (Some(b"p5".to_vec()), Some(b"[1,2,3]".to_vec()), vec![("event-type".into(), b"LOGIN".to_vec())]),
    ];
    produce(&brokers(), &stack.topic, &poison).await;
    // Two hostile records on every partition: thousands of unknown keys (once one error each, a
    // ~1 MB reason), and a value near the broker's 1 MB limit. Each must become one bounded
    // dead letter, and the events after them on the same partition must still be stored.
    let mut members = String::new();
    for i in 0.. {
        let member = format!(",\"k{i}\":0");
        if members.len() + member.len() > 64_000 {
            break;
        }
        members.push_str(&member);
    }
    let many_keys = format!(
        r#"{{"eventId":"5d1f0b8e-2c4a-4e9b-8f3d-1a2b3c4d5e02","userId":"x","eventType":"LOGIN","timestamp":"2026-11-25T16:07:04.123Z"{members}}}"#
    );
    // A value just under the producer's 1 MB with 30,000 one-byte headers: a letter that counted
    // header names and values but not their framing was too large for the dead-letter producer.
    let many_headers: Vec<(String, Vec<u8>)> = (0..30_000)
        .map(|_| ("h".to_owned(), b"x".to_vec()))
        .collect();
    let under_the_limit = 1_000_000 - 30_000 * 4 - 500;
    // A valid event whose traceparent header is cut by byte 52 inside a character: reading it
    // once panicked the processor, and the batch failed on every retry.
    let traced_id = "5d1f0b8e-2c4a-4e9b-8f3d-1a2b3c4d5e77";
    let traced = format!(
        r#"{{"eventId":"{traced_id}","userId":"x","eventType":"LOGIN","timestamp":"2026-11-25T16:07:04.123Z"}}"#
    );
    let hostile_trace = format!("01-{}é-00", "a".repeat(51)).into_bytes();
    produce(
        &brokers(),
        &stack.topic,
        &[(
            Some(b"traced".to_vec()),
            Some(traced.into_bytes()),
            vec![
                ("traceparent".to_owned(), hostile_trace),
                ("tracestate".to_owned(), vec![0xff, 0xfe, 0x00]),
            ],
        )],
    )
    .await;
    for partition in 0..3 {
        let hostile: Vec<testkit::kafka::RawRecord> = vec![
            (
                Some(format!("h-headers-{partition}").into_bytes()),
                Some(vec![b'y'; under_the_limit]),
                many_headers.clone(),
            ),
            (
                Some(format!("h-keys-{partition}").into_bytes()),
                Some(many_keys.clone().into_bytes()),
                vec![],
            ),
            (
                Some(format!("h-big-{partition}").into_bytes()),
                Some(vec![b'x'; 999_000]),
                vec![],
            ),
        ];
        produce_to(&brokers(), &stack.topic, Some(partition), &hostile).await;
    }
    let mut after = Vec::new();
    for i in 0..30 {
        after.push(
            stack
                .post(&format!("after-poison-{i}"), "PRODUCT_VIEW")
                .await,
        );
    }
    stack
        .wait_stored(&ids(&after), Duration::from_secs(30))
        .await;
    wait_until_consumed(
        &brokers(),
        &stack.group,
        &stack.topic,
        Duration::from_secs(60),
    );
    let letters = read_topic(&brokers(), &stack.dlq, Duration::from_secs(30));
    let mut reasons: Vec<(String, String)> = letters
        .iter()
        .map(|l| {
            (
                l.key.clone().unwrap_or_default(),
                l.header("dlq-reason").unwrap_or_default().to_owned(),
            )
        })
        .collect();
    reasons.sort();
    let mut expected: Vec<(String, String)> = (0..3)
        .flat_map(|p| {
            [
                (format!("h-big-{p}"), "invalid_event"),
                (format!("h-keys-{p}"), "invalid_event"),
                // Too large to read as an event: refused before it is parsed.
                (format!("h-headers-{p}"), "invalid_event"),
            ]
        })
        .map(|(k, r)| (k, r.to_owned()))
        .collect();
    expected.sort();
    assert_eq!(
        reasons[..9],
        expected[..],
        "one bounded letter per hostile record"
    );
    assert!(
        stack.stored().await.contains_key(traced_id),
        "the event with a hostile traceparent is stored"
    );
    for letter in letters
        .iter()
        .filter(|l| l.key.as_deref().is_some_and(|k| k.starts_with("h-")))
    {
        let message = letter.header("dlq-message").unwrap_or_default();
        assert!(
            message.len() <= event_kafka::MAX_REASON_BYTES,
            "{} bytes",
            message.len()
        );
        let key = letter.key.as_deref().unwrap_or_default();
        if key.starts_with("h-headers") {
            assert_eq!(letter.header("dlq-truncated"), Some("true"));
            assert!(
                letter.headers.len() < 300,
                "{} headers",
                letter.headers.len()
            );
        } else if key.starts_with("h-big") {
            assert_eq!(letter.header("dlq-truncated"), Some("true"));
            assert_eq!(letter.header("dlq-original-bytes"), Some("999000"));
            assert_eq!(letter.header("dlq-original-sha256").map(str::len), Some(64));
        } else {
            assert!(message.contains("too_many_errors"), "{message}");
        }
    }
    assert_eq!(
        reasons[9..],
        [
            ("p1".into(), "malformed_json".into()),
            ("p2".into(), "missing_value".into()),
            ("p3".into(), "invalid_event".into()),
            ("p4".into(), "invalid_event".into()),
            ("p5".into(), "invalid_event".into()),
        ]
    );

    // 4. The trigger killed mid-stream and restarted: no event lost, none duplicated.
    let producer_stack = Arc::clone(&stack);
    let stream = tokio::spawn(async move {
        let mut sent = Vec::new();
        for i in 0..300 {
            sent.push(
                producer_stack
                    .post(&format!("stream-{}", i % 5), "LOGIN")
                    .await,
            );
        }
        sent
    });
    // Crash the trigger three times while the stream flows, without leaving the group, and
    // restart it at once: each restart joins while the dead member's session is still open,
    // which is when the local broker sometimes hands out an empty assignment.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut logs = Vec::new();
    for (round, threshold) in [50usize, 130, 210].into_iter().enumerate() {
        while stack.stored().await.len() < 232 + threshold {
            assert!(
                Instant::now() < deadline,
                "the stream stalled before crash {round}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let name = format!("trigger-restart-{round}.log");
        stack.crash_trigger(&name);
        logs.push(name);
    }
    let streamed = stream.await.expect("stream task");
    stack
        .wait_stored(&ids(&streamed), Duration::from_secs(90))
        .await;
    let stored = stack.stored().await;
    assert_eq!(
        stored.len(),
        1 + 200 + 1 + 30 + 300,
        "nothing lost, nothing extra"
    );
    assert!(stored.values().all(|n| *n == 1), "no event listed twice");
    let rejoins: Vec<usize> = logs
        .iter()
        .map(|name| {
            std::fs::read_to_string(stack.log(name))
                .unwrap_or_default()
                .matches("leaving and rejoining")
                .count()
        })
        .collect();
    eprintln!("rejoins after each of the 3 restarts: {rejoins:?}");

    // 5. One event followed by its trace id from the POST to the processor's log line, and
    //    every metrics document of the run checked against the EMF specification.
    let trace_id = uuid::Uuid::new_v4().simple().to_string();
    let res = stack
        .http
        .post(format!("{}/events/generate", stack.base()))
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .json(&json!({"userId": "traced", "eventType": "LOGIN"}))
        .send()
        .await
        .expect("function URL answers");
    assert_eq!(res.status(), 201);
    let traced: Value = res.json().await.expect("event");
    let event_id = traced["eventId"].as_str().unwrap_or_default().to_owned();
    stack
        .wait_stored(&ids(&[traced]), Duration::from_secs(30))
        .await;
    let logged = |message: &str| {
        json_lines(&stack.log("functions.log"))
            .into_iter()
            .find(|l| l["message"] == message && l["trace_id"] == trace_id.as_str())
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let record = loop {
        if let Some(line) = logged("record") {
            break line;
        }
        assert!(
            Instant::now() < deadline,
            "no processor log line has trace id {trace_id}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(record["event_id"], event_id.as_str(), "{record}");
    assert!(
        record["request_id"].as_str().is_some_and(|r| !r.is_empty()),
        "{record}"
    );
    let accepted = logged("event accepted").expect("events-api logged the event with its trace");
    assert_eq!(accepted["event_id"], event_id.as_str());
    let all_logs = std::fs::read_to_string(stack.log("functions.log")).unwrap_or_default();
    assert!(
        !all_logs.contains("\"traced\""),
        "a user id reached the log"
    );

    let documents: Vec<serde_json::Map<String, Value>> = json_lines(&stack.log("functions.log"))
        .into_iter()
        .filter(|l| l.get("_aws").is_some())
        .map(|l| testkit::emf::check(&l.to_string()).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let seen = |service: &str, metric: &str| {
        documents
            .iter()
            .any(|d| d["Service"] == service && d.contains_key(metric))
    };
    for (service, metric) in [
        ("events-api", "ColdStart"),
        ("events-api", "Accepted"),
        ("events-api", "ProduceLatency"),
        ("events-processor", "ColdStart"),
        ("events-processor", "Inserted"),
        ("events-processor", "LagMax"),
        ("events-processor", "DeadLettered"),
    ] {
        assert!(seen(service, metric), "no {metric} from {service}");
    }
    eprintln!(
        "{} metrics documents conform to the EMF specification",
        documents.len()
    );
    let summaries = std::fs::read_to_string(stack.log("trigger.log"))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("summary: ") && l.contains("events/s in"))
        .count();
    assert!(summaries > 0, "the trigger printed no summary line");
    stack.stack.lock().expect("stack").stop_trigger();
}

/// The lines of a log file that are JSON objects.
fn json_lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(Value::is_object)
        .collect()
}
