//! The consume loop of the Amazon MSK event source mapping, for the programs that do its work
//! off AWS: the local trigger (`tools/msk-trigger`, which invokes a function through the Lambda
//! Invoke API) and the consumer (`functions/events-consumer`, which calls the processor in
//! process).
//!
//! It does what AWS does: it consumes `KAFKA_TOPIC` in a consumer group
//! (`user-activity-consumer-group`) with auto-commit off, forms batches like MSK (up to
//! `BatchSize` records or until the batching window closes, grouped by topic-partition in offset
//! order, capped at Lambda's payload limit), hands each to an [`Invoke`], and commits the offsets
//! only after the batch is done. A failed batch is retried with exponential backoff, never
//! skipped unless configured like the mapping's error handling ([`deliver`]); with
//! `REPORT_BATCH_ITEM_FAILURES`, exactly the records an answer names come again.
//!
//! Layout: [`config`] (settings named after the mapping's properties, read under a prefix),
//! [`batch`] (records and batches), [`invoke`] (the [`Invoke`] port and its [`Reply`]),
//! [`deliver`] (retries, bisecting, skipping to the on-failure topic), [`run`] (the loop),
//! [`progress`] (what a health check reads), [`summary`] (the line `make dev` shows),
//! [`error`], and `assignment` (the local broker's rejoin workaround).
#![warn(missing_docs)]

mod assignment;
pub mod batch;
pub mod config;
pub mod deliver;
pub mod error;
pub mod invoke;
pub mod progress;
pub mod run;
pub mod summary;

pub use batch::{Batch, Record};
pub use config::Config;
pub use error::{InvokeError, LoopError};
pub use invoke::{Counts, Invoke, Reply};
pub use progress::{Health, Progress};
pub use run::consume;
