//! Everything the pipeline says to Kafka.
//!
//! [`KafkaConfig`] turns the `KAFKA_*` settings into librdkafka configuration; [`KafkaPublisher`]
//! publishes an event and returns only once the broker acknowledged it (`acks=all`, idempotent
//! producer), which is what lets the HTTP function promise "201 means it is in Kafka"; [`health`]
//! asks the broker for the topic's metadata within a deadline. The [`EventPublisher`] port lets
//! handlers be unit-tested with [`MemoryPublisher`]. [`KafkaDeadLetters`] keeps the records the
//! processor cannot use on the dead-letter topic, with the [`Reason`] in headers; [`decode`]
//! turns one MSK record into a validated event or such a letter.
//!
//! Feature `client` (default) holds everything that talks to a broker (librdkafka, the AWS
//! lookups). Without it the crate is only the ports, the record decoding, the dead-letter format
//! and the in-memory fakes, which is what the processor's batch handling and its fuzzers build on.
#![warn(missing_docs)]

#[cfg(feature = "client")]
mod auth;
#[cfg(feature = "client")]
mod config;
mod dead_letter;
#[cfg(feature = "client")]
mod dead_letter_producer;
pub mod decode;
mod memory;
#[cfg(feature = "client")]
mod msk;
#[cfg(feature = "client")]
mod publisher;
#[cfg(feature = "client")]
mod send;

#[cfg(feature = "client")]
pub use auth::{AuthContext, IamSigner, KafkaAuth};
#[cfg(feature = "client")]
pub use config::{
    report_batch_item_failures, KafkaConfig, BATCHING_LINGER, DEFAULT_BROKERS, DEFAULT_DLQ_TOPIC,
    DEFAULT_TOPIC,
};
pub use dead_letter::{
    dlq_headers, DeadLetter, DeadLetterSink, Encoded, Reason, MAX_LETTER_BYTES, MAX_REASON_BYTES,
};
#[cfg(feature = "client")]
pub use dead_letter_producer::KafkaDeadLetters;
pub use decode::{decode, Decoded};
pub use memory::{FailRule, MemoryDeadLetters, MemoryPublisher};
#[cfg(feature = "client")]
pub use publisher::{health, KafkaPublisher};

use event_schema::UserEvent;
use std::future::Future;
use std::time::Duration;

/// Kafka header names put on every event record (and `traceparent`, see
/// `pipeline_runtime::trace`, when the request had a trace).
pub mod headers {
    /// The event's type (`LOGIN` …), so consumers can route without parsing the value.
    pub const EVENT_TYPE: &str = "event-type";
    /// [`event_schema::SCHEMA_VERSION`] of the value.
    pub const SCHEMA_VERSION: &str = "schema-version";
    /// Always `application/json`.
    pub const CONTENT_TYPE: &str = "content-type";
}

/// Where the broker stored an acknowledged record, and what the record holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// Partition written.
    pub partition: i32,
    /// Offset in that partition.
    pub offset: i64,
    /// The record's value: the event's JSON, serialized once (the HTTP answer reuses it).
    pub value: Vec<u8>,
}

/// What the broker says about itself and the topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaHealth {
    /// Brokers in the cluster metadata.
    pub brokers: usize,
    /// The topic checked.
    pub topic: String,
    /// Its partition count.
    pub partitions: usize,
}

/// What can go wrong talking to Kafka: a record not acknowledged (none of these means it was
/// written), a missing topic, or a client that could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No acknowledgement within the produce timeout (broker down or unreachable).
    #[error("no acknowledgement from Kafka within {0:?}")]
    Timeout(Duration),
    /// The broker or client refused the record.
    #[cfg(feature = "client")]
    #[error("kafka refused the record: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    /// The event could not be encoded (should not happen for a validated event).
    #[error("event could not be encoded: {0}")]
    Encode(#[from] serde_json::Error),
    /// The metadata answer lacks the topic.
    #[error("topic {0:?} does not exist on the broker")]
    MissingTopic(String),
    /// The brokers could not be found or the client could not be set up (MSK, credentials).
    #[error("kafka setup: {0}")]
    Bootstrap(String),
    /// The blocking metadata task failed.
    #[cfg(feature = "client")]
    #[error("kafka health task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// The publishing port of the HTTP function.
pub trait EventPublisher: Send + Sync + 'static {
    /// Publishes `event` and resolves once the broker acknowledged it. `traceparent` (a W3C
    /// value) goes on the record as the `traceparent` header, for the processor's logs.
    fn publish(
        &self,
        event: &UserEvent,
        traceparent: Option<&str>,
    ) -> impl Future<Output = Result<Delivered, Error>> + Send;

    /// Checks the broker and topic, within the configured health deadline.
    fn health(&self) -> impl Future<Output = Result<KafkaHealth, Error>> + Send;

    /// Sends whatever is still queued, waiting at most `timeout` (called on shutdown).
    fn flush(&self, timeout: Duration) {
        let _ = timeout;
    }
}
