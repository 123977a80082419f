//! Batch handling with in-process fakes; `tests/with_broker.rs` repeats the important cases with
//! SQLite and a real dead-letter topic.

use crate::{BatchSummary, ProcessError, Processor};
use aws_lambda_events::event::kafka::KafkaEvent;
use event_kafka::MemoryDeadLetters;
use event_schema::UserEvent;
use event_store::{
    EventStore, InsertOutcome, ListQuery, MemoryStore, Page, StoreError, StoreHealth,
};

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
            dead_lettered: 4
        }
    );
    assert_eq!(p.store().len(), 3);
    let letters = p.dead_letters.letters();
    let reasons: Vec<(i64, i64, &str)> = letters
        .iter()
        .map(|l| (l.partition, l.offset, l.reason.as_str()))
        .collect();
    assert_eq!(
        reasons,
        [
            (0, 43, "bad_base64"),
            (2, 8, "missing_value"),
            (2, 9, "malformed_json"),
            (2, 10, "invalid_event"),
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
    assert_eq!(letter.reason, "malformed_json");
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

struct DownStore;

impl EventStore for DownStore {
    async fn insert_batch(&self, _: &[UserEvent]) -> Result<Vec<InsertOutcome>, StoreError> {
        Err(StoreError::Backend("disk on fire".into()))
    }
    async fn list(&self, _: ListQuery) -> Result<Page, StoreError> {
        Err(StoreError::Backend("disk on fire".into()))
    }
    async fn health(&self) -> Result<StoreHealth, StoreError> {
        Err(StoreError::Backend("disk on fire".into()))
    }
    async fn claim_key(
        &self,
        _: &event_store::KeyRecord,
        _: event_store::KeyTimes,
    ) -> Result<event_store::KeyClaim, StoreError> {
        Err(StoreError::Backend("disk on fire".into()))
    }
    async fn complete_key(&self, _: &event_store::KeyRecord) -> Result<(), StoreError> {
        Err(StoreError::Backend("disk on fire".into()))
    }
    async fn release_key(&self, _: &event_store::KeyRecord, _: i64) -> Result<(), StoreError> {
        Err(StoreError::Backend("disk on fire".into()))
    }
}

#[tokio::test]
async fn an_unavailable_store_fails_the_batch_and_dead_letters_nothing() {
    let p = Processor::new(DownStore, MemoryDeadLetters::default());
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

#[tokio::test]
async fn a_key_with_a_newline_cannot_forge_a_log_line() {
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

    let value = r#"{"userId":"u","eventType":"LOGIN","x\n2026-11-26T00:00:00Z  INFO forged: stored\u2028also":1}"#;
    processor()
        .handle(one_record(value.as_bytes()))
        .await
        .expect("batch");
    let text = String::from_utf8(captured.0.lock().expect("lock").clone()).expect("utf-8");
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
