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
//! event JSON), [`invoke`] (the Invoke API client), [`deliver`] (retries, bisecting, skipping to
//! the on-failure topic), [`run`] (the loop), [`summary`] (the line `make dev` shows), and
//! `assignment` (the local broker's rejoin workaround).
#![warn(missing_docs)]

mod assignment;
pub mod batch;
pub mod config;
pub mod deliver;
pub mod invoke;
pub mod run;
pub mod summary;

pub use config::Config;
pub use run::{run, TriggerError};
