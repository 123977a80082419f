//! Batch handling with in-process fakes; `tests/with_broker.rs` repeats the important cases with
//! SQLite and a real dead-letter topic.

use crate::{BatchSummary, ProcessError, Processor};
use aws_lambda_events::event::kafka::{KafkaEvent, KafkaRecord};
use event_kafka::decode::Decoded;
use event_kafka::{MemoryDeadLetters, Reason};
use event_store::EventReader;
use event_store::{Faulty, ListQuery, MemoryStore, StoreError};

const BATCH: &str = include_str!("../tests/data/msk-batch.json");
const AWS_EXAMPLE: &str = include_str!("../tests/data/msk-aws-example.json");

fn event(json: &str) -> KafkaEvent {
    serde_json::from_str(json).expect("fixture is a KafkaEvent")
}

fn processor() -> Processor<MemoryStore, MemoryDeadLetters> {
    Processor::new(MemoryStore::default(), MemoryDeadLetters::default())
}

#[tokio::test]
async fn stores_valid_events_and_dead_letters_each_poison_record_with_its_reason() {
    let p = processor();
    let summary = p.handle(event(BATCH)).await.expect("batch succeeds");
    assert_eq!(
        summary,
        BatchSummary {
            received: 8,
            inserted: 3,
            duplicates: 1,
            dead_lettered: 4,
            ..summary
        }
    );
    assert_eq!(p.store().len(), 3);
    let letters = p.dead_letters.letters();
    let reasons: Vec<(i64, i64, Reason)> = letters
        .iter()
        .map(|l| (l.partition, l.offset, l.reason))
        .collect();
    assert_eq!(
        reasons,
        [
            (0, 43, Reason::BadBase64),
            (2, 8, Reason::MissingValue),
            (2, 9, Reason::MalformedJson),
            (2, 10, Reason::InvalidEvent),
        ]
    );
    let bad64 = &letters[0];
    assert_eq!(bad64.value.as_deref(), Some(&b"%%%not-base64%%%"[..]));
    assert_eq!(bad64.key.as_deref(), Some(&b"alice"[..]));
    assert_eq!(bad64.topic, "user-activity-events");
    assert!(bad64
        .headers
        .contains(&("event-type".to_owned(), b"LOGIN".to_vec())));
    assert!(
        letters[3].message.contains("eventType"),
        "{}",
        letters[3].message
    );
    assert_eq!(
        letters[2].value.as_deref(),
        Some(&br#"{"userId":"bob","#[..])
    );
}

#[tokio::test]
async fn a_redelivered_batch_stores_nothing_twice() {
    let p = processor();
    p.handle(event(BATCH)).await.expect("first delivery");
    let again = p.handle(event(BATCH)).await.expect("redelivery");
    assert_eq!(again.inserted, 0);
    assert_eq!(again.duplicates, 4);
    assert_eq!(p.store().len(), 3);
}

#[tokio::test]
async fn the_documented_aws_example_is_a_poison_record_kept_byte_for_byte() {
    let p = processor();
    let summary = p.handle(event(AWS_EXAMPLE)).await.expect("batch succeeds");
    assert_eq!(summary.dead_lettered, 1);
    let letter = &p.dead_letters.letters()[0];
    assert_eq!(letter.reason, Reason::MalformedJson);
    assert_eq!(
        letter.value.as_deref(),
        Some(&b"Hello, this is a test."[..])
    );
    assert_eq!(letter.topic, "mytopic");
    assert_eq!(letter.offset, 15);
    assert_eq!(
        letter.headers,
        [("headerKey".to_owned(), b"headerValue".to_vec())]
    );
}

#[tokio::test]
async fn a_partition_is_handled_in_offset_order_whatever_the_array_order() {
    use base64::Engine as _;
    let b64 = |v: u32| {
        base64::engine::general_purpose::STANDARD.encode(format!(
            r#"{{"eventId":"5d1f0b8e-2c4a-4e9b-8f3d-1a2b3c4d5e99","userId":"o","eventType":"LOGIN","timestamp":"2026-11-25T16:07:04.123Z","payload":{{"v":{v}}}}}"#
        ))
    };
    let json = serde_json::json!({
        "eventSource": "aws:kafka",
        "records": {"t-0": [
            {"topic": "t", "partition": 0, "offset": 9, "timestamp": 0, "key": null, "value": b64(2), "headers": []},
            {"topic": "t", "partition": 0, "offset": 3, "timestamp": 0, "key": null, "value": b64(1), "headers": []}
        ]}
    });
    let p = processor();
    let summary = p.handle(event(&json.to_string())).await.expect("batch");
    assert_eq!((summary.inserted, summary.duplicates), (1, 1));
    let stored = p
        .store()
        .list(ListQuery {
            limit: 10,
            ..ListQuery::default()
        })
        .await
        .expect("list");
    assert_eq!(
        stored.events[0]
            .payload
            .as_ref()
            .map(|p| p.to_map()["v"].clone()),
        Some(1.into()),
        "offset 3 came first"
    );
}

#[tokio::test]
async fn an_unavailable_dead_letter_topic_fails_the_batch() {
    let p = processor();
    p.dead_letters.set_down(true);
    let err = p.handle(event(BATCH)).await.expect_err("must fail");
    assert!(matches!(err, ProcessError::DeadLetter(_)));
}

#[tokio::test]
async fn an_unavailable_store_fails_the_batch_and_dead_letters_nothing() {
    let down = Faulty::new(MemoryStore::default());
    down.set_down(true);
    let p = Processor::new(down, MemoryDeadLetters::default());
    let err = p.handle(event(BATCH)).await.expect_err("must fail");
    assert!(matches!(err, ProcessError::Store(_)));
    assert!(p.dead_letters.letters().is_empty());
}

#[tokio::test]
async fn an_empty_batch_is_a_no_op() {
    let p = processor();
    let summary = p
        .handle(event(r#"{"eventSource":"aws:kafka","records":{}}"#))
        .await
        .expect("empty");
    assert_eq!(summary, BatchSummary::default());
}

/// A one-record MSK batch on partition 0 whose value is `value`.
fn one_record(value: &[u8]) -> KafkaEvent {
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(value);
    event(&format!(
        r#"{{"eventSource":"aws:kafka","records":{{"user-activity-events-0":[{{"topic":"user-activity-events","partition":0,"offset":5,"timestamp":0,"timestampType":"CREATE_TIME","value":"{encoded}","headers":[]}}]}}}}"#
    ))
}

#[tokio::test]
async fn a_hostile_record_is_one_bounded_dead_letter() {
    // ~9000 short unknown keys: once one error per key, a ~1 MB reason.
    let keys: Vec<String> = (0..6000).map(|i| format!("\"k{i}\":0")).collect();
    let value = format!(
        r#"{{"eventId":"5d1f0b8e-2c4a-4e9b-8f3d-1a2b3c4d5e01","userId":"u","eventType":"LOGIN","timestamp":"2026-11-25T16:07:04.123Z",{}}}"#,
        keys.join(",")
    );
    let p = processor();
    let summary = p.handle(one_record(value.as_bytes())).await.expect("batch");
    assert_eq!(summary.dead_lettered, 1);
    let letter = &p.dead_letters.letters()[0];
    assert!(
        letter.message.contains("too_many_errors"),
        "{}",
        letter.message
    );
    let encoded = letter.encode(event_kafka::MAX_LETTER_BYTES);
    let message = encoded
        .headers
        .iter()
        .find(|(k, _)| *k == "dlq-message")
        .map(|(_, v)| v.len());
    assert!(message.is_some_and(|n| n <= event_kafka::MAX_REASON_BYTES));
}

/// Everything `run` logs (human format), with a subscriber of its own.
async fn logs_of(run: impl std::future::Future<Output = ()>) -> String {
    use std::sync::{Arc, Mutex};
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    run.await;
    let bytes = captured.0.lock().expect("lock").clone();
    String::from_utf8(bytes).expect("utf-8")
}

#[tokio::test]
async fn a_key_with_a_newline_cannot_forge_a_log_line() {
    let value = r#"{"userId":"u","eventType":"LOGIN","x\n2026-11-26T00:00:00Z  INFO forged: stored\u2028also":1}"#;
    let text = logs_of(async {
        processor()
            .handle(one_record(value.as_bytes()))
            .await
            .expect("batch");
    })
    .await;

    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines.iter().any(|l| l.contains("poison record")),
        "the poison record is logged: {text}"
    );
    assert!(
        lines.iter().all(|l| !l.starts_with("2026-11-26T00:00:00Z")),
        "a line was forged: {text}"
    );
    assert!(!text.contains('\u{2028}'), "{text}");
}

/// A record as events-api writes it: a valid event with a `traceparent` header, `age_ms` old.
fn traced_record(offset: i64, age_ms: i64, trace: &str) -> serde_json::Value {
    use base64::Engine as _;
    let value = format!(
        r#"{{"eventId":"5d1f0b8e-2c4a-4e9b-8f3d-1a2b3c4d5e{offset:02}","userId":"secret-user","eventType":"LOGIN","timestamp":"2026-11-25T16:07:04.123Z","payload":{{"card":"secret-payload"}}}}"#
    );
    let header: Vec<i8> = trace.bytes().map(|b| b as i8).collect();
    serde_json::json!({
        "topic": "t", "partition": 0, "offset": offset,
        "timestamp": chrono::Utc::now().timestamp_millis() - age_ms,
        "timestampType": "CREATE_TIME",
        "value": base64::engine::general_purpose::STANDARD.encode(value),
        "headers": [{"traceparent": header}]
    })
}

#[tokio::test]
async fn each_record_is_logged_with_its_trace_and_request_id_and_without_user_data() {
    let trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let records: Vec<_> = [(1, 1000), (2, 3000), (3, 2000)]
        .iter()
        .map(|(offset, age)| traced_record(*offset, *age, trace))
        .collect();
    let batch: KafkaEvent = serde_json::from_value(serde_json::json!({
        "eventSource": "aws:kafka", "records": {"t-0": records}
    }))
    .expect("event");
    let p = processor();
    let mut summary = None;
    let text = logs_of(async {
        let payload = serde_json::to_value(batch).expect("json");
        summary = Some(p.invoke(payload, "req-7").await.expect("batch").summary);
    })
    .await;
    let summary = summary.expect("ran");
    let record_lines: Vec<&str> = text.lines().filter(|l| l.contains(" record ")).collect();
    assert_eq!(record_lines.len(), 3, "{text}");
    for line in record_lines {
        assert!(
            line.contains(r#"trace_id="4bf92f3577b34da6a3ce929d0e0e4736""#),
            "{line}"
        );
        assert!(line.contains(r#"request_id="req-7""#), "{line}");
    }
    assert!(
        !text.contains("secret-user") && !text.contains("secret-payload"),
        "{text}"
    );
    // Ages 1 s, 2 s and 3 s: the oldest and the median (allowing for the test's own time).
    assert!((3000..3500).contains(&summary.lag_max_ms), "{summary:?}");
    assert!((2000..2500).contains(&summary.lag_p50_ms), "{summary:?}");
}

#[test]
fn every_invocation_writes_documents_the_specification_accepts() {
    use crate::names;
    use pipeline_runtime::metrics::{Metrics, MetricsConfig};
    let metrics = Metrics::new(MetricsConfig::default(), crate::SERVICE);
    let ok = Ok(crate::BatchResponse::from(BatchSummary {
        received: 4,
        inserted: 2,
        duplicates: 1,
        erased: 0,
        dead_lettered: 1,
        lag_max_ms: 40,
        lag_p50_ms: 20,
    }));
    let mut measured = crate::Measured {
        store: Some(std::time::Duration::from_micros(1500)),
        ..Default::default()
    };
    measured.reasons.insert(Reason::MalformedJson, 1);
    measured.panicked = 1;
    let failed = Err(ProcessError::Store(StoreError::Backend("x".into())));
    let mut seen = std::collections::BTreeSet::new();
    for result in [ok, failed] {
        for doc in crate::measure(&metrics, &result, &measured) {
            let line = doc.to_line(1).expect("a document");
            let doc = testkit::emf::check(&line).expect("conforms");
            seen.extend(names::ALL.into_iter().filter(|n| doc.contains_key(*n)));
        }
    }
    assert_eq!(seen.len(), names::ALL.len(), "{seen:?}");
}

/// Decodes as the processor does, but panics on offset 2, as a bug would.
fn panicking_at_offset_2(key: &str, record: &KafkaRecord) -> Decoded {
    if record.offset == 2 {
        panic!("injected fault at offset {}", record.offset);
    }
    event_kafka::decode::decode(key, record)
}

fn traced_batch(records: Vec<serde_json::Value>) -> KafkaEvent {
    serde_json::from_value(serde_json::json!({
        "eventSource": "aws:kafka", "records": {"t-0": records}
    }))
    .expect("event")
}

#[tokio::test(flavor = "current_thread")]
async fn a_record_whose_processing_panics_is_dead_lettered_and_the_rest_stored() {
    let trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let batch = traced_batch((1..=3).map(|o| traced_record(o, 10, trace)).collect());
    let p = processor().decoding_with(panicking_at_offset_2);
    let summary = p.handle(batch).await.expect("the batch still succeeds");
    assert_eq!((summary.inserted, summary.dead_lettered), (2, 1));
    let letters = p.dead_letters.letters();
    assert_eq!(letters[0].reason, Reason::ProcessingPanicked);
    assert_eq!(letters[0].offset, 2);
    assert!(
        letters[0].message.contains("injected fault"),
        "{}",
        letters[0].message
    );
    assert!(letters[0]
        .value
        .as_deref()
        .is_some_and(|v| v.starts_with(b"{\"eventId\"")));
}

#[tokio::test]
async fn a_traceparent_of_any_bytes_leaves_the_event_stored() {
    // Byte 52 of the value falls inside a character: the parse once panicked there.
    let hostile = [
        format!("01-{}é-00", "a".repeat(51)),
        format!("00-{}😀", "a".repeat(50)),
        "ff".to_owned(),
        String::new(),
    ];
    let mut records: Vec<_> = hostile
        .iter()
        .enumerate()
        .map(|(i, t)| traced_record(i as i64 + 1, 10, t))
        .collect();
    // And a header that is not UTF-8 at all.
    let mut raw = traced_record(9, 10, "");
    raw["headers"] = serde_json::json!([{"traceparent": [-1, -2, 48, 48, 45]}]);
    records.push(raw);
    let p = processor();
    let summary = p.handle(traced_batch(records)).await.expect("batch");
    assert_eq!((summary.inserted, summary.dead_lettered), (5, 0));
}

#[test]
fn the_operations_doc_names_every_dead_letter_reason() {
    let doc = include_str!("../../../docs/operations.md");
    let row = doc
        .lines()
        .find(|l| l.starts_with("| `DeadLettered` |"))
        .expect("docs/operations.md's DeadLettered row");
    for reason in Reason::ALL {
        assert!(
            row.contains(&format!("`{}`", reason.as_str())),
            "{reason:?}"
        );
    }
}

/// A store whose writes of `user`'s events fail: one partition's store trouble.
fn fails_for(user: &'static str) -> Faulty<MemoryStore> {
    Faulty::failing_inserts(MemoryStore::default(), move |events| {
        events
            .iter()
            .any(|e| e.user_id == user)
            .then(|| StoreError::Backend("throttled".into()))
    })
}

/// Three partitions of `t`, each three events of user `u<p>` at offsets 10, 11, 12, and with
/// `poison` one non-JSON record at offset 11 instead.
fn three_partitions(poison: bool) -> serde_json::Value {
    use base64::Engine as _;
    let b64 = |s: String| base64::engine::general_purpose::STANDARD.encode(s);
    let mut records = serde_json::Map::new();
    for p in 0..3 {
        let list: Vec<_> = (10..13)
            .map(|o| {
                let value = if poison && o == 11 {
                    b64("not json".to_owned())
                } else {
                    b64(format!(
                        r#"{{"eventId":"5d1f0b8e-2c4a-4e9b-8f3d-1a2b3c4d{p:02}{o:02}","userId":"u{p}","eventType":"LOGIN","timestamp":"2026-11-25T16:07:04.123Z"}}"#
                    ))
                };
                serde_json::json!({"topic": "t", "partition": p, "offset": o, "timestamp": 0,
                    "timestampType": "CREATE_TIME", "value": value, "headers": []})
            })
            .collect();
        records.insert(format!("t-{p}"), list.into());
    }
    serde_json::json!({"eventSource": "aws:kafka", "records": records})
}

fn failures(r: &crate::BatchResponse) -> Vec<(String, i64)> {
    r.batch_item_failures
        .iter()
        .map(|f| {
            (
                f.item_identifier.partition.clone(),
                f.item_identifier.offset,
            )
        })
        .collect()
}

#[tokio::test]
async fn reporting_item_failures_a_partition_the_store_refuses_comes_again_alone_every_record_named(
) {
    let p =
        Processor::new(fails_for("u1"), MemoryDeadLetters::default()).reporting_item_failures(true);
    let answer = p
        .invoke(three_partitions(false), "r")
        .await
        .expect("an answer");
    // Lambda retries the records named and only those: all of the failed partition's.
    assert_eq!(
        failures(&answer),
        [
            ("t-1".to_owned(), 10),
            ("t-1".to_owned(), 11),
            ("t-1".to_owned(), 12)
        ]
    );
    assert_eq!((answer.summary.received, answer.summary.inserted), (9, 6));
    assert_eq!(
        p.store().inner().len(),
        6,
        "the other partitions stay stored"
    );
    // The answer is what the event source mapping reads.
    let json = serde_json::to_value(&answer).expect("json");
    assert_eq!(
        json["batchItemFailures"],
        serde_json::json!([
            {"itemIdentifier": {"partition": "t-1", "offset": 10}},
            {"itemIdentifier": {"partition": "t-1", "offset": 11}},
            {"itemIdentifier": {"partition": "t-1", "offset": 12}}
        ])
    );
    // Without reporting, the same trouble fails the whole invocation.
    let whole = Processor::new(fails_for("u1"), MemoryDeadLetters::default());
    assert!(whole.invoke(three_partitions(false), "r").await.is_err());
}

#[tokio::test]
async fn reporting_item_failures_an_unavailable_dead_letter_topic_costs_from_the_poison_on() {
    let p = processor().reporting_item_failures(true);
    p.dead_letters.set_down(true);
    let answer = p
        .invoke(three_partitions(true), "r")
        .await
        .expect("an answer");
    assert_eq!(
        failures(&answer),
        [
            ("t-0".to_owned(), 11),
            ("t-0".to_owned(), 12),
            ("t-1".to_owned(), 11),
            ("t-1".to_owned(), 12),
            ("t-2".to_owned(), 11),
            ("t-2".to_owned(), 12)
        ]
    );
    // The events were stored; the redelivery of 11 and 12 finds 12 stored and letters 11.
    assert_eq!(p.store().len(), 6);
    let clean = processor().reporting_item_failures(true);
    let answer = clean
        .invoke(three_partitions(false), "r")
        .await
        .expect("an answer");
    assert!(answer.batch_item_failures.is_empty());
    assert!(serde_json::to_value(&answer)
        .expect("json")
        .get("batchItemFailures")
        .is_none());
}
