//! The Kafka-triggered Lambda function: takes the batch an MSK event source mapping delivers,
//! validates every record with the shared schema, stores the valid events idempotently by
//! `eventId`, and sets poison records aside on the dead-letter topic with the reason.
//!
//! The invocation succeeds only when every record was either stored (or found already stored)
//! or dead-lettered; otherwise it fails and the event source mapping delivers the batch again,
//! which the insert-if-absent store makes harmless. Layout: `decode` turns an MSK record into an
//! event or a dead letter, [`Processor`] runs a batch, [`config`] reads the settings.
#![warn(missing_docs)]

pub mod config;
mod decode;

pub use config::Config;
pub use decode::{decode, Decoded};

use aws_lambda_events::event::kafka::KafkaEvent;
use event_kafka::{DeadLetterSink, PublishError};
use event_store::{EventStore, InsertOutcome, StoreError};
use serde::Serialize;
use tracing::{info, instrument, warn};

/// What one invocation did. Returned as the function's result and logged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchSummary {
    /// Records in the batch.
    pub received: usize,
    /// Events stored for the first time.
    pub inserted: usize,
    /// Events already stored (a redelivery, or twice in one batch).
    pub duplicates: usize,
    /// Records sent to the dead-letter topic.
    pub dead_lettered: usize,
}

/// Why a batch failed. Both are retryable: the batch comes back and nothing is lost.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// The store did not take the batch.
    #[error("store unavailable, batch will be redelivered: {0}")]
    Store(#[from] StoreError),
    /// The dead-letter topic did not acknowledge a poison record.
    #[error("dead-letter topic unavailable, batch will be redelivered: {0}")]
    DeadLetter(#[from] PublishError),
}

impl From<ProcessError> for lambda_runtime::Diagnostic {
    fn from(e: ProcessError) -> Self {
        let error_type = match e {
            ProcessError::Store(_) => "StoreUnavailable",
            ProcessError::DeadLetter(_) => "DeadLetterTopicUnavailable",
        };
        lambda_runtime::Diagnostic {
            error_type: error_type.to_owned(),
            error_message: e.to_string(),
        }
    }
}

/// Runs batches; built once per cold start.
pub struct Processor<S, D> {
    store: S,
    dead_letters: D,
}

impl<S: EventStore, D: DeadLetterSink> Processor<S, D> {
    /// A processor writing to `store` and dead-lettering to `dead_letters`.
    pub fn new(store: S, dead_letters: D) -> Self {
        Self {
            store,
            dead_letters,
        }
    }

    /// The store (for tests and health checks).
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Processes one MSK batch: every partition's records in offset order, the valid events in
    /// one store batch, each poison record to the dead-letter topic.
    #[instrument(name = "batch", skip_all, fields(source = event.event_source_arn.as_deref().unwrap_or("")))]
    pub async fn handle(&self, event: KafkaEvent) -> Result<BatchSummary, ProcessError> {
        let mut partitions: Vec<_> = event.records.into_iter().collect();
        partitions.sort_by(|a, b| a.0.cmp(&b.0));
        let mut valid = Vec::new();
        let mut letters = Vec::new();
        let mut received = 0;
        for (key, mut records) in partitions {
            records.sort_by_key(|r| r.offset);
            received += records.len();
            for record in records {
                match decode(&key, &record) {
                    Decoded::Event(e) => valid.push(e),
                    Decoded::Poison(letter) => {
                        // Debug formatting quotes and escapes what came from the record,
                        // so no value can break or forge a log line.
                        warn!(
                            reason = %letter.reason,
                            topic = ?letter.topic,
                            partition = letter.partition,
                            offset = letter.offset,
                            message = ?letter.message,
                            "poison record, dead-lettering"
                        );
                        letters.push(letter);
                    }
                }
            }
        }

        let outcomes = self.store.insert_batch(&valid).await?;
        if !letters.is_empty() {
            self.dead_letters.send_all(&letters).await?;
        }
        let inserted = outcomes
            .iter()
            .filter(|o| **o == InsertOutcome::Inserted)
            .count();
        let summary = BatchSummary {
            received,
            inserted,
            duplicates: outcomes.len() - inserted,
            dead_lettered: letters.len(),
        };
        info!(
            received = summary.received,
            inserted = summary.inserted,
            duplicates = summary.duplicates,
            dead_lettered = summary.dead_lettered,
            "batch processed"
        );
        Ok(summary)
    }
}

#[cfg(test)]
mod tests;
