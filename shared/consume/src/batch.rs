//! Batches as an MSK event source mapping forms them: records in MSK's encoding, grouped by
//! topic-partition in offset order, capped at Lambda's payload limit.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use serde::Serialize;
use std::collections::BTreeMap;

/// Fixed JSON cost of one record beyond its key and value (field names, numbers, punctuation).
const RECORD_OVERHEAD: usize = 200;

/// One record, already encoded the way MSK encodes it (the fields of a record in the MSK event).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    /// Source topic.
    pub topic: String,
    /// Source partition.
    pub partition: i32,
    /// Offset in the partition.
    pub offset: i64,
    /// Milliseconds since the epoch.
    pub timestamp: i64,
    /// `CREATE_TIME`, `LOG_APPEND_TIME` or `NO_TIMESTAMP_TYPE`.
    pub timestamp_type: &'static str,
    /// Base64 key, omitted when the record has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Base64 value, omitted when the record has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Each header as a one-entry map from name to its bytes as signed integers (Java bytes).
    pub headers: Vec<BTreeMap<String, Vec<i8>>>,
}

impl Record {
    /// Encodes a consumed message.
    pub fn from_message<M: Message>(m: &M) -> Self {
        let (timestamp_type, timestamp) = match m.timestamp() {
            rdkafka::Timestamp::CreateTime(t) => ("CREATE_TIME", t),
            rdkafka::Timestamp::LogAppendTime(t) => ("LOG_APPEND_TIME", t),
            rdkafka::Timestamp::NotAvailable => ("NO_TIMESTAMP_TYPE", -1),
        };
        let headers = m
            .headers()
            .map(|hs| {
                hs.iter()
                    .map(|h| {
                        let bytes = h
                            .value
                            .unwrap_or_default()
                            .iter()
                            .map(|b| *b as i8)
                            .collect();
                        BTreeMap::from([(h.key.to_owned(), bytes)])
                    })
                    .collect()
            })
            .unwrap_or_default();
        Self {
            topic: m.topic().to_owned(),
            partition: m.partition(),
            offset: m.offset(),
            timestamp,
            timestamp_type,
            key: m.key().map(|k| STANDARD.encode(k)),
            value: m.payload().map(|v| STANDARD.encode(v)),
            headers,
        }
    }

    /// Approximate size of this record in the event JSON.
    pub fn json_size(&self) -> usize {
        RECORD_OVERHEAD
            + self.topic.len()
            + self.key.as_ref().map_or(0, String::len)
            + self.value.as_ref().map_or(0, String::len)
            + self
                .headers
                .iter()
                .flat_map(|h| h.iter())
                .map(|(k, v)| k.len() + 5 * v.len())
                .sum::<usize>()
    }
}

/// Records gathered for one invocation.
#[derive(Debug, Default, Clone)]
pub struct Batch {
    records: Vec<Record>,
    bytes: usize,
}

impl Batch {
    /// Number of records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Whether `record` still fits under `max_bytes` (a lone record always fits, as with MSK,
    /// which then lets the invocation fail on size rather than stall the partition).
    pub fn fits(&self, record: &Record, max_bytes: usize) -> bool {
        self.records.is_empty() || self.bytes + record.json_size() <= max_bytes
    }

    /// Adds a record (consumption order is offset order within a partition).
    pub fn push(&mut self, record: Record) {
        self.bytes += record.json_size();
        self.records.push(record);
    }

    /// The records, in consumption order.
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// Approximate size of the batch in the MSK event JSON, in bytes.
    pub fn json_size(&self) -> usize {
        self.bytes
    }

    /// The batch cut in two halves, in consumption order (so each partition's records stay in
    /// offset order, the first half's before the second's).
    pub fn split(&self) -> (Batch, Batch) {
        let mid = self.records.len().div_ceil(2);
        let half = |records: &[Record]| {
            let mut b = Batch::default();
            for r in records {
                b.push(r.clone());
            }
            b
        };
        (half(&self.records[..mid]), half(&self.records[mid..]))
    }

    /// How old the oldest record is (by its Kafka timestamp).
    pub fn oldest_age(&self) -> std::time::Duration {
        let now = pipeline_runtime::unix_millis();
        let oldest = self
            .records
            .iter()
            .map(|r| r.timestamp)
            .filter(|t| *t >= 0)
            .min();
        oldest.map_or(std::time::Duration::ZERO, |t| {
            std::time::Duration::from_millis(u64::try_from(now - t).unwrap_or(0))
        })
    }

    /// Distinct topic-partitions in the batch.
    pub fn partitions(&self) -> usize {
        self.by_partition().len()
    }

    /// The records keyed `"<topic>-<partition>"` (as the MSK event keys them), each list in
    /// offset order.
    pub fn by_partition(&self) -> BTreeMap<String, Vec<&Record>> {
        let mut by_partition: BTreeMap<String, Vec<&Record>> = BTreeMap::new();
        for r in &self.records {
            by_partition
                .entry(format!("{}-{}", r.topic, r.partition))
                .or_default()
                .push(r);
        }
        for list in by_partition.values_mut() {
            list.sort_by_key(|r| r.offset);
        }
        by_partition
    }

    /// What is left to deliver after the function reported `failures` (`"<topic>-<partition>"`
    /// and an offset each): exactly the records named, in consumption order, as Lambda retries
    /// "only the failed records" (kafka-retry-configurations); the rest are done. `None` when
    /// nothing is left. An identifier the batch does not hold fails the whole batch, as on AWS
    /// ("Any invalid topic-partition_number or offset returned that was not present in the
    /// invoked event will be treated as failure and entire batch will be retried").
    pub fn remainder(&self, failures: &[(String, i64)]) -> Result<Option<Batch>, String> {
        let grouped = self.by_partition();
        for (partition, offset) in failures {
            let held = grouped
                .get(partition)
                .is_some_and(|records| records.iter().any(|r| r.offset == *offset));
            if !held {
                return Err(format!("{partition} offset {offset} is not in the batch"));
            }
        }
        let mut rest = Batch::default();
        for r in &self.records {
            let key = format!("{}-{}", r.topic, r.partition);
            if failures.iter().any(|(p, o)| *p == key && *o == r.offset) {
                rest.push(r.clone());
            }
        }
        Ok((!rest.is_empty()).then_some(rest))
    }

    /// Offsets to commit once the function succeeded: one past the last record of each partition.
    pub fn commit_list(&self) -> TopicPartitionList {
        let mut last: BTreeMap<(&str, i32), i64> = BTreeMap::new();
        for r in &self.records {
            let e = last
                .entry((r.topic.as_str(), r.partition))
                .or_insert(r.offset);
            *e = (*e).max(r.offset);
        }
        let mut tpl = TopicPartitionList::new();
        for ((topic, partition), offset) in last {
            // Adding a partition to a fresh list cannot fail.
            let _ = tpl.add_partition_offset(topic, partition, Offset::Offset(offset + 1));
        }
        tpl
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::message::{Header, OwnedHeaders, OwnedMessage};

    fn message(partition: i32, offset: i64, value: Option<&[u8]>) -> OwnedMessage {
        let headers = OwnedHeaders::new().insert(Header {
            key: "event-type",
            value: Some(&[b'L', 0xff][..]),
        });
        OwnedMessage::new(
            value.map(<[u8]>::to_vec),
            Some(b"alice".to_vec()),
            "user-activity-events".to_owned(),
            rdkafka::Timestamp::CreateTime(1_795_536_424_123),
            partition,
            offset,
            Some(headers),
        )
    }

    #[test]
    fn what_is_left_after_item_failures_is_exactly_the_records_named() {
        let mut batch = Batch::default();
        for (p, o) in [(0, 5), (1, 3), (0, 6), (0, 7), (1, 4)] {
            batch.push(Record::from_message(&message(p, o, Some(b"x"))));
        }
        let named = |list: &[(&str, i64)]| -> Vec<(String, i64)> {
            list.iter().map(|(p, o)| ((*p).to_owned(), *o)).collect()
        };
        let left = batch
            .remainder(&named(&[
                ("user-activity-events-0", 7),
                ("user-activity-events-0", 5),
            ]))
            .expect("held")
            .expect("something left");
        let kept: Vec<(i32, i64)> = left
            .records
            .iter()
            .map(|r| (r.partition, r.offset))
            .collect();
        assert_eq!(
            kept,
            [(0, 5), (0, 7)],
            "not 6 between them, nothing of partition 1"
        );
        assert!(batch.remainder(&[]).expect("nothing named").is_none());
        assert!(batch
            .remainder(&named(&[("user-activity-events-0", 8)]))
            .is_err());
        assert!(batch.remainder(&named(&[("other-0", 5)])).is_err());
    }

    #[test]
    fn commits_one_past_the_last_offset_of_each_partition() {
        let mut batch = Batch::default();
        for (p, o) in [(0, 5), (0, 6), (2, 9)] {
            batch.push(Record::from_message(&message(p, o, Some(b"x"))));
        }
        let tpl = batch.commit_list();
        let offsets: Vec<(i32, Offset)> = tpl
            .elements()
            .iter()
            .map(|e| (e.partition(), e.offset()))
            .collect();
        assert_eq!(offsets, [(0, Offset::Offset(7)), (2, Offset::Offset(10))]);
    }

    #[test]
    fn a_split_keeps_consumption_order_and_every_record() {
        let mut batch = Batch::default();
        for (p, o) in [(0, 1), (1, 1), (0, 2), (1, 2), (0, 3)] {
            batch.push(Record::from_message(&message(p, o, Some(b"x"))));
        }
        let (a, b) = batch.split();
        let offsets = |b: &Batch| {
            b.records()
                .iter()
                .map(|r| (r.partition, r.offset))
                .collect::<Vec<_>>()
        };
        assert_eq!(offsets(&a), [(0, 1), (1, 1), (0, 2)]);
        assert_eq!(offsets(&b), [(1, 2), (0, 3)]);
        assert!(batch.oldest_age() > std::time::Duration::from_secs(1));
    }

    #[test]
    fn the_payload_cap_closes_a_batch_but_never_rejects_a_lone_record() {
        let big = vec![b'x'; 3000];
        let r = Record::from_message(&message(0, 1, Some(&big)));
        let mut batch = Batch::default();
        assert!(batch.fits(&r, 10));
        batch.push(r.clone());
        assert!(!batch.fits(&r, 5000));
        assert!(batch.fits(&r, 100_000));
    }
}
