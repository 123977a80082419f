//! The Kafka-triggered Lambda function: takes the batch an MSK event source mapping delivers,
//! validates every record with the shared schema, stores the valid events idempotently by
//! `eventId`, and sets poison records aside on the dead-letter topic with the reason.
//!
//! The invocation succeeds only when every record was either stored (or found already stored)
//! or dead-lettered; otherwise it fails and the event source mapping delivers the batch again,
//! which the insert-if-absent store makes harmless. Layout: `event` reads the invocation's payload
//! record by record, `decode` turns an MSK record into an event or a dead letter, [`Processor`]
//! runs a batch, `config` reads the settings.
//!
//! Each stored record is logged with its event id, the trace id of its `traceparent` header
//! (written by `events-api`) and the Lambda request id, never with its user id or payload; each
//! invocation writes one EMF document ([`names`]), and one more per dead-letter reason.
#![warn(missing_docs)]

#[cfg(feature = "lambda")]
pub mod config;
mod decode;
mod event;

#[cfg(feature = "lambda")]
pub use config::Config;
pub use decode::{decode, Decoded, Reason};
pub use event::read_event;

use aws_lambda_events::event::kafka::KafkaEvent;
use event_kafka::DeadLetterSink;
use event_store::{EventStore, InsertOutcome, StoreError};
use pipeline_runtime::metrics::{Document, Metrics};
use serde::Serialize;
use tracing::{error, info, instrument, warn};

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
    /// Records sent to the dead-letter topic.
    pub dead_lettered: usize,
    /// The oldest record's age when the batch arrived: now − its Kafka timestamp, in ms.
    pub lag_max_ms: u64,
    /// The median record's age, in ms.
    pub lag_p50_ms: u64,
}

/// The metric names `events-processor` writes (the template's alarms use them; a test holds
/// them to this list).
pub mod names {
    /// Records in a batch (summed: records processed).
    pub const RECEIVED: &str = "Received";
    /// Events stored for the first time.
    pub const INSERTED: &str = "Inserted";
    /// Events found already stored.
    pub const DUPLICATES: &str = "Duplicates";
    /// Records sent to the dead-letter topic (split by `Reason`).
    pub const DEAD_LETTERED: &str = "DeadLettered";
    /// Records per invocation (its average and maximum are the batch sizes).
    pub const BATCH_SIZE: &str = "BatchSize";
    /// The store's batch insert.
    pub const STORE_LATENCY: &str = "StoreLatency";
    /// The oldest record's age on arrival (now − record timestamp).
    pub const LAG_MAX: &str = "LagMax";
    /// The median record's age on arrival.
    pub const LAG_P50: &str = "LagP50";
    /// Invocations that failed and will be retried (split by `ErrorCode`).
    pub const FAILED: &str = "BatchFailed";
    /// Records whose processing panicked (each one dead-lettered as `processing_panicked`): a
    /// bug to fix, which cost those records and not the stream.
    pub const PANICKED: &str = "RecordPanicked";
    /// Every name above.
    pub const ALL: [&str; 10] = [
        RECEIVED,
        INSERTED,
        DUPLICATES,
        DEAD_LETTERED,
        BATCH_SIZE,
        STORE_LATENCY,
        LAG_MAX,
        LAG_P50,
        FAILED,
        PANICKED,
    ];
}

/// The program's name: the `Service` dimension of its metrics, its Kafka client id.
pub const SERVICE: &str = "events-processor";

/// Why a batch failed. Both are retryable: the batch comes back and nothing is lost.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// The store did not take the batch.
    #[error("store unavailable, batch will be redelivered: {0}")]
    Store(#[from] StoreError),
    /// The dead-letter topic did not acknowledge a poison record.
    #[error("dead-letter topic unavailable, batch will be redelivered: {0}")]
    DeadLetter(#[from] event_kafka::Error),
}

impl ProcessError {
    /// The stable code of the failure (the invocation's error type, the metrics' `ErrorCode`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Store(_) => "StoreUnavailable",
            Self::DeadLetter(_) => "DeadLetterTopicUnavailable",
        }
    }
}

#[cfg(feature = "lambda")]
impl From<ProcessError> for lambda_runtime::Diagnostic {
    fn from(e: ProcessError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: e.code().to_owned(),
            error_message: e.to_string(),
        }
    }
}

/// Runs batches; built once per cold start.
pub struct Processor<S, D> {
    store: S,
    dead_letters: D,
    metrics: Metrics,
}

impl<S: EventStore, D: DeadLetterSink> Processor<S, D> {
    /// A processor writing to `store` and dead-lettering to `dead_letters`, without metrics.
    pub fn new(store: S, dead_letters: D) -> Self {
        Self {
            store,
            dead_letters,
            metrics: Metrics::off(SERVICE),
        }
    }

    /// The same, writing one metrics document per invocation.
    pub fn with_metrics(self, metrics: Metrics) -> Self {
        Self { metrics, ..self }
    }

    /// One Lambda invocation, its payload as it came ([`read_event`]: a record that cannot be
    /// read is dead-lettered, not a failed invocation): logged under `request_id`, and its
    /// metrics document written before it returns.
    pub async fn invoke(
        &self,
        payload: serde_json::Value,
        request_id: &str,
    ) -> Result<BatchSummary, ProcessError> {
        let mut measured = Measured::default();
        let (event, unreadable) = read_event(payload);
        let result = self.run(event, unreadable, request_id, &mut measured).await;
        if let Err(e) = &result {
            error!(error = e.code(), cause = %e, request_id, "batch failed");
        }
        for doc in measure(&self.metrics, &result, &measured) {
            doc.emit();
        }
        result
    }

    /// The store (for tests and health checks).
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Where poison records go (for tests).
    pub fn dead_letters(&self) -> &D {
        &self.dead_letters
    }

    /// Processes one MSK batch: every partition's records in offset order, the valid events in
    /// one store batch, each poison record to the dead-letter topic.
    pub async fn handle(&self, event: KafkaEvent) -> Result<BatchSummary, ProcessError> {
        self.run(event, Vec::new(), "", &mut Measured::default())
            .await
    }

    #[instrument(name = "batch", skip_all, fields(source = event.event_source_arn.as_deref().unwrap_or("")))]
    async fn run(
        &self,
        event: KafkaEvent,
        unreadable: Vec<event_kafka::DeadLetter>,
        request_id: &str,
        measured: &mut Measured,
    ) -> Result<BatchSummary, ProcessError> {
        let now_ms = pipeline_runtime::unix_millis();
        let mut lags = Vec::new();
        let mut partitions: Vec<_> = event.records.into_iter().collect();
        partitions.sort_by(|a, b| a.0.cmp(&b.0));
        let mut valid = Vec::new();
        let mut received = unreadable.len();
        for letter in &unreadable {
            warn!(reason = %letter.reason, partition = letter.partition, offset = letter.offset,
                message = ?letter.message, "unreadable record, dead-lettering");
        }
        let mut letters = unreadable;
        for (key, mut records) in partitions {
            records.sort_by_key(|r| r.offset);
            received += records.len();
            for record in records {
                lags.push(
                    u64::try_from(now_ms - record.timestamp.0.timestamp_millis()).unwrap_or(0),
                );
                match read_record(&key, &record) {
                    Ok((Decoded::Event(e), trace)) => {
                        info!(event_id = %e.event_id, event_type = e.event_type.as_str(),
                            trace_id = trace.as_deref().unwrap_or(""), request_id,
                            partition = record.partition, offset = record.offset, "record");
                        valid.push(e);
                    }
                    Ok((Decoded::Poison(letter), _)) => {
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
                    Err(panic) => {
                        error!(error = Reason::ProcessingPanicked.as_str(), cause = %panic,
                            partition = record.partition, offset = record.offset, request_id,
                            "processing a record panicked; dead-lettering it");
                        measured.panicked += 1;
                        let message = format!("processing the record panicked: {panic}");
                        let value = decode::raw_value(&record);
                        letters.push(decode::letter(
                            &key,
                            &record,
                            Reason::ProcessingPanicked,
                            message,
                            value,
                        ));
                    }
                }
            }
        }

        for letter in &letters {
            *measured.reasons.entry(letter.reason.clone()).or_default() += 1;
        }
        let started = std::time::Instant::now();
        let outcomes = self.store.insert_batch(&valid).await?;
        measured.store = Some(started.elapsed());
        if !letters.is_empty() {
            self.dead_letters.send_all(&letters).await?;
        }
        let inserted = outcomes
            .iter()
            .filter(|o| **o == InsertOutcome::Inserted)
            .count();
        let (lag_max_ms, lag_p50_ms) = max_and_median(&mut lags);
        let summary = BatchSummary {
            received,
            inserted,
            duplicates: outcomes.len() - inserted,
            dead_lettered: letters.len(),
            lag_max_ms,
            lag_p50_ms,
        };
        info!(
            received = summary.received,
            inserted = summary.inserted,
            duplicates = summary.duplicates,
            dead_lettered = summary.dead_lettered,
            lag_max_ms,
            lag_p50_ms,
            request_id,
            "batch processed"
        );
        Ok(summary)
    }
}

/// One record decoded, with the trace id of a valid event's `traceparent`; a panic on the way
/// (a bug) is caught and told, so that it costs this record and not the whole stream.
fn read_record(
    key: &str,
    record: &aws_lambda_events::event::kafka::KafkaRecord,
) -> Result<(Decoded, Option<String>), String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        #[cfg(test)]
        tests::panic_if_chosen(record.offset);
        let decoded = decode(key, record);
        let trace = match decoded {
            Decoded::Event(_) => trace_id(record),
            Decoded::Poison(_) => None,
        };
        (decoded, trace)
    }))
    .map_err(|payload| {
        payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_owned())
    })
}

/// What an invocation measured on the way, whether or not it succeeded.
#[derive(Debug, Default)]
struct Measured {
    /// Records whose processing panicked.
    panicked: u64,
    /// The store's insert, when it answered.
    store: Option<std::time::Duration>,
    /// Dead letters by reason.
    reasons: std::collections::BTreeMap<String, u64>,
}

/// The invocation's metrics documents: one for the batch, one more per dead-letter reason (a
/// document has one value per dimension).
fn measure<'m>(
    metrics: &'m Metrics,
    result: &Result<BatchSummary, ProcessError>,
    measured: &Measured,
) -> Vec<Document<'m>> {
    let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
    let mut doc = metrics.document();
    match result {
        Ok(s) => {
            doc.count(names::RECEIVED, count(s.received), None);
            doc.count(names::INSERTED, count(s.inserted), None);
            doc.count(names::DUPLICATES, count(s.duplicates), None);
            doc.count(names::BATCH_SIZE, count(s.received), None);
            let ms = std::time::Duration::from_millis;
            doc.millis(names::LAG_MAX, ms(s.lag_max_ms), None);
            doc.millis(names::LAG_P50, ms(s.lag_p50_ms), None);
        }
        Err(e) => doc.count(names::FAILED, 1, Some(("ErrorCode", e.code()))),
    }
    if let Some(d) = measured.store {
        doc.millis(names::STORE_LATENCY, d, None);
    }
    if measured.panicked > 0 {
        doc.count(names::PANICKED, measured.panicked, None);
    }
    let mut docs = vec![doc];
    if result.is_ok() {
        for (reason, n) in &measured.reasons {
            let mut doc = metrics.document();
            doc.count(names::DEAD_LETTERED, *n, Some(("Reason", reason)));
            docs.push(doc);
        }
    }
    docs
}

/// The trace id of the record's `traceparent` header (written by `events-api`), when it has a
/// valid one.
fn trace_id(record: &aws_lambda_events::event::kafka::KafkaRecord) -> Option<String> {
    let value = record
        .headers
        .iter()
        .find_map(|h| h.get(pipeline_runtime::trace::TRACEPARENT))?;
    let bytes = decode::header_bytes(value);
    let text = std::str::from_utf8(&bytes).ok()?;
    pipeline_runtime::trace::TraceParent::parse(text).map(|t| t.trace_id())
}

/// The largest and the median of `values` (0 and 0 when empty).
fn max_and_median(values: &mut [u64]) -> (u64, u64) {
    if values.is_empty() {
        return (0, 0);
    }
    let max = values.iter().copied().max().unwrap_or(0);
    let mid = values.len() / 2;
    let (_, median, _) = values.select_nth_unstable(mid);
    (max, *median)
}

#[cfg(test)]
mod tests;
