//! What an invocation answers: its summary and, when item failures are reported, the partitions
//! to deliver again.

use crate::ProcessError;
use serde::Serialize;

/// What one invocation did. Returned as the function's result (the local trigger sums these
/// into its summary line) and logged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchSummary {
    /// Records in the batch.
    pub received: usize,
    /// Events stored for the first time.
    pub inserted: usize,
    /// Events already stored (a redelivery, or twice in one batch).
    pub duplicates: usize,
    /// Events not stored because their user's events up to their time were erased.
    pub erased: usize,
    /// Records sent to the dead-letter topic.
    pub dead_lettered: usize,
    /// The oldest record's age when the batch arrived: now − its Kafka timestamp, in ms.
    pub lag_max_ms: u64,
    /// The median record's age, in ms.
    pub lag_p50_ms: u64,
}

/// A record the function could not finish, as the event source mapping reads it: the partition
/// (its key in the event, `"<topic>-<partition>"`) and the record's offset. Lambda retries the
/// records named, and only those
/// (https://docs.aws.amazon.com/lambda/latest/dg/kafka-retry-configurations.html).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ItemIdentifier {
    /// `"<topic>-<partition>"`.
    pub partition: String,
    /// The record's offset.
    pub offset: i64,
}

/// One entry of `batchItemFailures`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemFailure {
    /// Which record.
    pub item_identifier: ItemIdentifier,
}

/// What an invocation returns: its summary, and with item failures reported, every record of a
/// failed partition from its first one not finished to the end of the batch (none: a complete
/// success).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchResponse {
    /// What was done.
    #[serde(flatten)]
    pub summary: BatchSummary,
    /// The records to deliver again.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub batch_item_failures: Vec<ItemFailure>,
}

impl From<BatchSummary> for BatchResponse {
    fn from(summary: BatchSummary) -> Self {
        Self {
            summary,
            batch_item_failures: Vec::new(),
        }
    }
}

impl BatchResponse {
    /// The answer for partitions that failed, each with the offsets of its records still to
    /// do. A failed partition none of whose records has a known offset (every record
    /// unreadable) cannot be named, so the answer is a complete failure, which the mapping
    /// retries whole.
    pub(crate) fn reporting(
        summary: BatchSummary,
        failures: Vec<(String, Vec<i64>)>,
    ) -> Result<Self, ProcessError> {
        let mut batch_item_failures = Vec::new();
        for (partition, offsets) in failures {
            if offsets.is_empty() {
                return Err(ProcessError::Unnamed(partition));
            }
            batch_item_failures.extend(offsets.into_iter().map(|offset| ItemFailure {
                item_identifier: ItemIdentifier {
                    partition: partition.clone(),
                    offset,
                },
            }));
        }
        Ok(Self {
            summary,
            batch_item_failures,
        })
    }
}
