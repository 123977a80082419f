//! A local stand-in for the Amazon MSK event source mapping.
//!
//! Nothing feeds a Kafka-triggered function on a laptop, so this tool does what AWS does: it
//! consumes `KAFKA_TOPIC` in the consumer group `user-activity-consumer-group` with auto-commit
//! off, forms batches like MSK (up to `BatchSize` records or until the batching window closes,
//! grouped by topic-partition in offset order, capped at Lambda's payload limit), builds the
//! exact MSK event JSON, invokes the function through the Lambda Invoke API, and commits the
//! offsets only after the function succeeded. A failed batch is retried with exponential backoff,
//! never skipped unless configured like the mapping's error handling ([`deliver`]).
//!
//! Layout: [`config`] (settings named after the mapping's properties), [`batch`] (records and the
//! event JSON), [`invoke`] (the [`Invoke`] port and its Invoke API client), [`deliver`]
//! (retries, bisecting, skipping to the on-failure topic), [`run`] (the loop), [`progress`]
//! (what a health check reads), [`summary`] (the line `make dev` shows), [`error`], and
//! `assignment` (the local broker's rejoin workaround).
//!
//! The loop is generic over [`Invoke`], so `events-consumer` runs the same batching, retries,
//! bisecting, skipping and commits with the processor called in process ([`consume`]).
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

pub use config::Config;
pub use error::{InvokeError, TriggerError};
pub use invoke::Invoke;
pub use progress::{Health, Progress};
pub use run::{consume, run};
