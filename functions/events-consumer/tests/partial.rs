//! The shared loop with the processor in process when the store refuses one partition's events
//! for a while: with `REPORT_BATCH_ITEM_FAILURES` the processor names that partition and only it
//! comes again; without, the whole batch is retried. Either way every event ends up stored once
//! and the offsets are committed. (The production `run` opens the store from `STORE_URL`; here
//! the loop, `event_consume::consume`, gets a store that fails on cue. Needs `make kafka`.)

use event_consume::Progress;
use event_kafka::MemoryDeadLetters;
use event_store::{Faulty, MemoryStore, StoreError};
use events_consumer::InProcess;
use events_processor::Processor;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use testkit::kafka::{brokers, create_topic, produce_to, unique_topic, wait_until_consumed};
use tokio::sync::watch;

/// A store that refuses the next `left` writes holding `user`'s events, counting in `offered`
/// how often each user's events were offered.
fn flaky(
    user: &'static str,
    left: Arc<Mutex<u32>>,
    offered: Arc<Mutex<BTreeMap<String, u32>>>,
) -> Faulty<MemoryStore> {
    Faulty::failing_inserts(MemoryStore::default(), move |events| {
        if let Ok(mut offered) = offered.lock() {
            for e in events {
                *offered.entry(e.user_id.to_string()).or_default() += 1;
            }
        }
        let mut left = left.lock().ok()?;
        (events.iter().any(|e| e.user_id == user) && *left > 0).then(|| {
            *left -= 1;
            StoreError::Backend("throttled".into())
        })
    })
}

/// Three events of user `u<p>` in each partition `p`; runs the loop until the group consumed
/// them all, with `u1`'s writes refused twice; what the store was offered per user.
async fn consume_with_refusals(report: bool) -> BTreeMap<String, u32> {
    let topic = unique_topic("consumer-partial");
    let group = unique_topic("consumer-partial-group");
    create_topic(&brokers(), &topic, 3).await;
    for p in 0..3 {
        let records: Vec<_> = (0..3)
            .map(|_| {
                let value = format!(
                    r#"{{"eventId":"{}","userId":"u{p}","eventType":"LOGIN","timestamp":"2026-12-03T18:00:00.000Z"}}"#,
                    uuid::Uuid::new_v4()
                );
                (None, Some(value.into_bytes()), Vec::new())
            })
            .collect();
        produce_to(&brokers(), &topic, Some(p), &records).await;
    }
    let report = report.to_string();
    let src: &[(&str, &str)] = &[
        ("KAFKA_BROKERS", &brokers()),
        ("KAFKA_TOPIC", &topic),
        ("CONSUMER_GROUP_ID", &group),
        ("CONSUMER_BATCH_WINDOW_MS", "300"),
        ("CONSUMER_RETRY_BASE_MS", "50"),
        ("CONSUMER_SESSION_TIMEOUT_MS", "6000"),
        ("REPORT_BATCH_ITEM_FAILURES", &report),
    ];
    let config = event_consume::Config::from_source(src, "CONSUMER_").expect("config");
    let offered = Arc::new(Mutex::new(BTreeMap::new()));
    let refusals = Arc::new(Mutex::new(2));
    let store = flaky("u1", Arc::clone(&refusals), Arc::clone(&offered));
    let processor = Processor::new(store, MemoryDeadLetters::default())
        .reporting_item_failures(config.report_batch_item_failures);
    let invoker = InProcess::new(processor, &config);
    let progress = Progress::default();
    let (stop, stopped) = watch::channel(false);
    let looping = event_consume::consume(&config, &invoker, "partial-test", &progress, stopped);
    let (b, g, t) = (brokers(), group.clone(), topic.clone());
    let consumed = async move {
        tokio::task::spawn_blocking(move || {
            wait_until_consumed(&b, &g, &t, Duration::from_secs(60))
        })
        .await
        .expect("consumed");
        stop.send(true).expect("stop");
    };
    let (outcome, ()) = tokio::join!(looping, consumed);
    outcome.expect("a clean stop");

    let store = invoker.processor().store();
    assert_eq!(store.inner().len(), 9, "every event stored, once");
    assert_eq!(*refusals.lock().expect("lock"), 0, "both refusals happened");
    let offered = offered.lock().expect("lock").clone();
    assert!(
        offered.get("u1").is_some_and(|n| *n >= 3 + 2),
        "u1's events offered in both refused attempts and once more: {offered:?}"
    );
    offered
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Kafka broker: `make kafka`"]
async fn reported_item_failures_bring_back_only_the_refused_partition() {
    let offered = consume_with_refusals(true).await;
    assert_eq!(
        offered.get("u0"),
        Some(&3),
        "u0's partition never came again"
    );
    assert_eq!(
        offered.get("u2"),
        Some(&3),
        "u2's partition never came again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Kafka broker: `make kafka`"]
async fn without_reporting_a_refusal_fails_and_retries_the_whole_batch() {
    let offered = consume_with_refusals(false).await;
    let others = offered.get("u0").copied().unwrap_or(0) + offered.get("u2").copied().unwrap_or(0);
    assert!(
        others > 6,
        "the other partitions' events came again with the failed batch: {offered:?}"
    );
}
