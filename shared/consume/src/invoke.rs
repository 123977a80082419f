//! How a batch reaches the function: the [`Invoke`] port, typed on both sides. The local
//! trigger implements it over the Lambda Invoke API (the MSK event JSON in, the function's
//! answer out); the consumer calls the processor in process. Everything else (batching,
//! retries, bisecting, skipping, committing) is this crate's.

use crate::batch::Batch;
pub use crate::error::InvokeError;
use std::future::Future;

/// One synchronous invocation of the function with a batch.
pub trait Invoke: Sync {
    /// What is invoked, for the logs and as the on-failure record's `functionArn` (the local
    /// function's ARN, a handler's name).
    fn target(&self) -> &str;

    /// Invokes with `batch`; the function's answer on success. An answer may still name
    /// records it could not finish ([`Reply::item_failures`]).
    fn invoke(&self, batch: &Batch) -> impl Future<Output = Result<Reply, InvokeError>> + Send;
}

/// What a function that succeeded answered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reply {
    /// What it did, for the summary line (0 where it did not say).
    pub counts: Counts,
    /// The records it could not finish (`batchItemFailures`), each as the partition's key in the
    /// event (`"<topic>-<partition>"`) and the offset; empty when it finished them all.
    pub item_failures: Vec<(String, i64)>,
    /// Set, with why, when the answer is not a batch response at all: with item failures
    /// reported, nothing then says which records failed.
    pub unreadable: Option<String>,
}

/// What the processor says it did with a batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Events stored for the first time.
    pub inserted: u64,
    /// Events found already stored.
    pub duplicates: u64,
    /// Events not stored because their user's events were erased.
    pub erased: u64,
    /// Records sent to the dead-letter topic.
    pub dead_lettered: u64,
    /// The oldest record's age when the batch arrived, in ms.
    pub lag_max_ms: u64,
    /// The median record's age, in ms.
    pub lag_p50_ms: u64,
}
