//! What one partition's failing store writes cost: the events offered to the store again when
//! one partition of a three-partition batch fails, with partial batch responses
//! (`REPORT_BATCH_ITEM_FAILURES`: the failed partition alone comes again) beside without (the
//! whole batch comes again).

use crate::batch;
use crate::report::row;
use event_kafka::MemoryDeadLetters;
use event_schema::UserEvent;
use event_store::{
    EventStore, InsertOutcome, KeyClaim, KeyRecord, KeyTimes, Lease, ListQuery, MemoryStore, Page,
    StoreError, StoreHealth,
};
use events_processor::{BatchResponse, Processor};
use serde_json::Value;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// A store that refuses, once, any write holding a record of partition 1, and counts every
/// event offered to it.
#[derive(Default)]
struct Flaky {
    inner: MemoryStore,
    offered: AtomicUsize,
    failed_once: AtomicBool,
}

impl EventStore for Flaky {
    async fn insert_batch(&self, events: &[UserEvent]) -> Result<Vec<InsertOutcome>, StoreError> {
        self.offered.fetch_add(events.len(), Ordering::Relaxed);
        let hit = events.iter().any(|e| e.user_id.ends_with("-p1"));
        if hit && !self.failed_once.swap(true, Ordering::Relaxed) {
            return Err(StoreError::Backend("throttled".into()));
        }
        self.inner.insert_batch(events).await
    }
    async fn list(&self, q: ListQuery) -> Result<Page, StoreError> {
        self.inner.list(q).await
    }
    async fn health(&self) -> Result<StoreHealth, StoreError> {
        self.inner.health().await
    }
    async fn claim_key(&self, c: &KeyRecord, t: KeyTimes) -> Result<KeyClaim, StoreError> {
        self.inner.claim_key(c, t).await
    }
    async fn complete_key(&self, c: &KeyRecord, l: &Lease) -> Result<(), StoreError> {
        self.inner.complete_key(c, l).await
    }
    async fn release_key(&self, c: &KeyRecord, l: &Lease, now: i64) -> Result<(), StoreError> {
        self.inner.release_key(c, l, now).await
    }
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
    let store = Flaky::default();
    let p = Processor::new(store, MemoryDeadLetters::default()).reporting_item_failures(partial);
    let first = payload(per_partition);
    let again = match p.invoke(first.clone(), "bench").await {
        Ok(answer) => redelivery(&first, &answer),
        Err(_) => first,
    };
    let before = p.store().offered.load(Ordering::Relaxed);
    let answer = p.invoke(again, "bench").await.expect("the store is back");
    assert!(answer.batch_item_failures.is_empty());
    assert_eq!(
        p.store().inner.len(),
        3 * per_partition,
        "every event stored once"
    );
    p.store().offered.load(Ordering::Relaxed) - before
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
