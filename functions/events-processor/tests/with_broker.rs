//! The processor with its real adapters: an SQLite file and the dead-letter topic on a real
//! Kafka-protocol broker (`make kafka`).

use aws_lambda_events::event::kafka::KafkaEvent;
use event_kafka::{KafkaConfig, KafkaDeadLetters};
use event_store::EventReader;
use event_store::{ListQuery, SqliteStore};
use events_processor::Processor;
use std::time::Duration;
use testkit::kafka::{brokers, create_topic, read_topic, unique_topic};

const BATCH: &str = include_str!("data/msk-batch.json");

#[tokio::test]
#[ignore = "needs a Kafka broker: `make kafka`"]
async fn poison_records_reach_the_dead_letter_topic_and_valid_ones_the_sqlite_file() {
    let dlq = unique_topic("dlq-test");
    create_topic(&brokers(), &dlq, 3).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(dir.path().join("events.db")).expect("sqlite");
    let config = KafkaConfig {
        brokers: brokers(),
        dlq_topic: dlq.clone(),
        ..KafkaConfig::default()
    };
    let processor = Processor::new(
        store.clone(),
        KafkaDeadLetters::new(config, Default::default(), "processor-test").expect("producer"),
    );
    let batch: KafkaEvent = serde_json::from_str(BATCH).expect("fixture");

    let first = processor.handle(batch.clone()).await.expect("batch");
    assert_eq!(
        (first.inserted, first.duplicates, first.dead_lettered),
        (3, 1, 4)
    );
    let again = processor.handle(batch).await.expect("redelivery");
    assert_eq!((again.inserted, again.duplicates), (0, 4));

    let stored = store
        .list(ListQuery {
            limit: 100,
            ..ListQuery::default()
        })
        .await
        .expect("list");
    assert_eq!(stored.events.len(), 3);

    let letters = read_topic(&brokers(), &dlq, Duration::from_secs(20));
    // At-least-once: the redelivered batch dead-letters its poison records again.
    assert_eq!(letters.len(), 8);
    let mut reasons: Vec<(String, String, String)> = letters
        .iter()
        .map(|r| {
            (
                r.header("dlq-source-partition").unwrap_or("").to_owned(),
                r.header("dlq-source-offset").unwrap_or("").to_owned(),
                r.header("dlq-reason").unwrap_or("").to_owned(),
            )
        })
        .collect();
    reasons.sort();
    reasons.dedup();
    assert_eq!(
        reasons,
        [
            ("0".into(), "43".into(), "bad_base64".into()),
            ("2".into(), "10".into(), "invalid_event".into()),
            ("2".into(), "8".into(), "missing_value".into()),
            ("2".into(), "9".into(), "malformed_json".into()),
        ]
    );
    let bad = letters
        .iter()
        .find(|r| r.header("dlq-reason") == Some("bad_base64"))
        .expect("bad base64 letter");
    assert_eq!(bad.value.as_deref(), Some(&b"%%%not-base64%%%"[..]));
    assert_eq!(bad.key.as_deref(), Some("alice"));
    assert_eq!(bad.header("dlq-source-topic"), Some("user-activity-events"));
    assert_eq!(
        bad.header("event-type"),
        Some("LOGIN"),
        "original headers are kept"
    );
    assert!(letters
        .iter()
        .all(|r| r.header("dlq-message").is_some_and(|m| !m.is_empty())));
}
