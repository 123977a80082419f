//! What one partition's failing store writes cost: the events offered to the store again when
//! one partition of a three-partition batch fails, with partial batch responses
//! (`REPORT_BATCH_ITEM_FAILURES`: the failed partition alone comes again) beside without (the
//! whole batch comes again).

use crate::batch;
use crate::report::row;
use event_kafka::MemoryDeadLetters;
use event_store::{Faulty, MemoryStore, StoreError};
use events_processor::{BatchResponse, Processor};
use serde_json::Value;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// A store that refuses, once, any write holding a record of partition 1, counting in `offered`
/// every event offered to it.
fn flaky(offered: Arc<AtomicUsize>) -> Faulty<MemoryStore> {
    let failed_once = AtomicBool::new(false);
    Faulty::failing_inserts(MemoryStore::default(), move |events| {
        offered.fetch_add(events.len(), Ordering::Relaxed);
        let hit = events.iter().any(|e| e.user_id.ends_with("-p1"));
        (hit && !failed_once.swap(true, Ordering::Relaxed))
            .then(|| StoreError::Backend("throttled".into()))
    })
}

/// `per_partition` events on each of three partitions, the users of partition `p` ending in
/// `-p<p>`.
fn payload(per_partition: usize) -> Value {
    let mut records = serde_json::Map::new();
    for p in 0..3 {
        let list: Vec<Value> = (0..per_partition)
            .map(|i| batch::msk_record(&format!("user-{i}-p{p}"), p, i as i64))
            .collect();
        records.insert(format!("user-activity-events-{p}"), list.into());
    }
    serde_json::json!({"eventSource": "aws:kafka", "records": records})
}

/// The payload of what is delivered again after `answer`: the records it names.
fn redelivery(payload: &Value, answer: &BatchResponse) -> Value {
    let named = |key: &str, offset: Option<i64>| {
        answer
            .batch_item_failures
            .iter()
            .any(|f| f.item_identifier.partition == key && Some(f.item_identifier.offset) == offset)
    };
    let mut again = payload.clone();
    if let Some(records) = again["records"].as_object_mut() {
        for (key, list) in records.iter_mut() {
            if let Some(list) = list.as_array_mut() {
                list.retain(|r| named(key, r["offset"].as_i64()));
            }
        }
        records.retain(|_, list| list.as_array().is_some_and(|l| !l.is_empty()));
    }
    again
}

/// Events offered to the store on the second delivery, with and without partial responses.
async fn written_again(per_partition: usize, partial: bool) -> usize {
    let offered = Arc::new(AtomicUsize::new(0));
    let store = flaky(Arc::clone(&offered));
    let p = Processor::new(store, MemoryDeadLetters::default()).reporting_item_failures(partial);
    let first = payload(per_partition);
    let again = match p.invoke(first.clone(), "bench").await {
        Ok(answer) => redelivery(&first, &answer),
        Err(_) => first,
    };
    let before = offered.load(Ordering::Relaxed);
    let answer = p.invoke(again, "bench").await.expect("the store is back");
    assert!(answer.batch_item_failures.is_empty());
    assert_eq!(
        p.store().inner().len(),
        3 * per_partition,
        "every event stored once"
    );
    offered.load(Ordering::Relaxed) - before
}

pub async fn partial(per_partition: usize) {
    let with = written_again(per_partition, true).await;
    let without = written_again(per_partition, false).await;
    row(
        &format!(
            "events written again after one partition's store writes failed ({} records, 3 partitions), with partial batch responses",
            3 * per_partition
        ),
        with as f64,
        "events",
        "the same without (the whole batch again)",
        without as f64,
    );
}
