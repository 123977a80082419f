//! The Kafka-triggered Lambda function: takes the batch an MSK event source mapping delivers,
//! validates every record with the shared schema, stores the valid events idempotently by
//! `eventId`, and sets poison records aside on the dead-letter topic with the reason.
//!
//! The invocation succeeds only when every record was either stored (or found already stored)
//! or dead-lettered; otherwise it fails and the event source mapping delivers the batch again,
//! which the insert-if-absent store makes harmless. Layout: `event` reads the invocation's payload
//! record by record, `event_kafka::decode` turns an MSK record into an event or a dead letter,
//! [`Processor`] runs a batch (whole, or partition by partition when it reports item failures),
//! `response` is what it answers, `observe` its metrics, `config` its settings, and `serve`
//! (feature `lambda`) the function itself: clients built once, then the Lambda runtime.
//!
//! Each stored record is logged with its event id, the trace id of its `traceparent` header
//! (written by `events-api`) and the Lambda request id, never with its user id or payload; each
//! invocation writes one EMF document ([`names`]), and one more per dead-letter reason.
#![warn(missing_docs)]

#[cfg(feature = "lambda")]
pub mod config;
mod event;
mod observe;
mod response;
#[cfg(feature = "lambda")]
mod serve;

#[cfg(feature = "lambda")]
pub use config::Config;
pub use event::{read_event, timestamp, Unreadable, BAD_TIMESTAMP};
pub use observe::names;
pub use response::{BatchResponse, BatchSummary, ItemFailure, ItemIdentifier};
#[cfg(feature = "lambda")]
pub use serve::{run, StartError};

use observe::{measure, Measured};

use aws_lambda_events::event::kafka::{KafkaEvent, KafkaRecord};
use event_kafka::decode::{self, decode, Decoded};
use event_kafka::{DeadLetterSink, Reason};
use event_store::{EventWriter, InsertOutcome, StoreError};
use pipeline_runtime::metrics::Metrics;
use std::collections::BTreeMap;
use tracing::{error, info, instrument, warn};

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
    /// A partition failed whose records' offsets are all unknown (unreadable): it cannot be
    /// named as an item failure, so the whole batch fails.
    #[error("partition {0} failed and none of its records has a known offset; the batch will be redelivered")]
    Unnamed(String),
}

impl ProcessError {
    /// The stable code of the failure (the invocation's error type, the metrics' `ErrorCode`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Store(_) => "StoreUnavailable",
            Self::DeadLetter(_) => "DeadLetterTopicUnavailable",
            Self::Unnamed(_) => "PartitionUnnamed",
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
    report_item_failures: bool,
    /// How a record becomes a verdict: `event_kafka::decode::decode`, or in the fault tests one
    /// that panics on a chosen record.
    decode: fn(&str, &KafkaRecord) -> Decoded,
}

impl<S: EventWriter, D: DeadLetterSink> Processor<S, D> {
    /// A processor writing to `store` and dead-lettering to `dead_letters`, without metrics.
    pub fn new(store: S, dead_letters: D) -> Self {
        Self {
            store,
            dead_letters,
            metrics: Metrics::off(SERVICE),
            report_item_failures: false,
            decode,
        }
    }

    /// The same, writing one metrics document per invocation.
    pub fn with_metrics(self, metrics: Metrics) -> Self {
        Self { metrics, ..self }
    }

    /// Reports, per failed partition, every record from the first it could not finish to the
    /// end of the batch, instead of failing the whole invocation (the event source mapping's `ReportBatchItemFailures`, which must be on
    /// whenever this is: without it, Lambda would take the answer for a complete success).
    pub fn reporting_item_failures(self, on: bool) -> Self {
        Self {
            report_item_failures: on,
            ..self
        }
    }

    /// One Lambda invocation, its payload as it came ([`read_event`]: a record that cannot be
    /// read is dead-lettered, not a failed invocation): the batch handled whole, or partition
    /// by partition when reporting item failures; logged under `request_id`, and its metrics
    /// document written before it returns.
    pub async fn invoke(
        &self,
        payload: serde_json::Value,
        request_id: &str,
    ) -> Result<BatchResponse, ProcessError> {
        let (event, unreadable) = read_event(payload);
        self.run(event, unreadable, request_id).await
    }

    /// The same for a batch handed over in process (the consumer): already typed, with a dead
    /// letter for each record the types could not hold ([`Unreadable`]), under its
    /// `"<topic>-<partition>"` key.
    pub async fn invoke_event(
        &self,
        event: KafkaEvent,
        unreadable: Vec<(String, event_kafka::DeadLetter)>,
        request_id: &str,
    ) -> Result<BatchResponse, ProcessError> {
        self.run(event, unreadable, request_id).await
    }

    async fn run(
        &self,
        event: KafkaEvent,
        unreadable: Vec<(String, event_kafka::DeadLetter)>,
        request_id: &str,
    ) -> Result<BatchResponse, ProcessError> {
        let mut measured = Measured::default();
        let prepared = self.prepare(event, unreadable, request_id, &mut measured);
        let result = if self.report_item_failures {
            self.finish_by_partition(prepared, request_id, &mut measured)
                .await
        } else {
            self.finish_whole(prepared, request_id, &mut measured)
                .await
                .map(BatchResponse::from)
        };
        if let Err(e) = &result {
            error!(error = e.code(), cause = %e, request_id, "batch failed");
        }
        for doc in measure(&self.metrics, &result, &measured) {
            doc.emit();
        }
        result
    }

    /// The same, decoding with `decode` (a fault test's, which panics as a bug would).
    #[cfg(test)]
    fn decoding_with(self, decode: fn(&str, &KafkaRecord) -> Decoded) -> Self {
        Self { decode, ..self }
    }

    /// The store (for tests and health checks).
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Where poison records go (for tests).
    pub fn dead_letters(&self) -> &D {
        &self.dead_letters
    }

    /// Processes one MSK batch whole: every partition's records in offset order, the valid
    /// events in one store batch, each poison record to the dead-letter topic; any failure
    /// fails the batch.
    pub async fn handle(&self, event: KafkaEvent) -> Result<BatchSummary, ProcessError> {
        let mut measured = Measured::default();
        let prepared = self.prepare(event, Vec::new(), "", &mut measured);
        self.finish_whole(prepared, "", &mut measured).await
    }

    /// Processes one MSK batch partition by partition: a partition whose events the store did
    /// not take, or whose poison records the dead-letter topic did not, is reported by naming
    /// each of its records from the first not finished on; the others are done.
    pub async fn handle_by_partition(
        &self,
        event: KafkaEvent,
    ) -> Result<BatchResponse, ProcessError> {
        let mut measured = Measured::default();
        let prepared = self.prepare(event, Vec::new(), "", &mut measured);
        self.finish_by_partition(prepared, "", &mut measured).await
    }

    /// Decodes every record, partition by partition in offset order, into one list of events
    /// and one of letters, each partition a span of both.
    #[instrument(name = "batch", skip_all, fields(source = event.event_source_arn.as_deref().unwrap_or("")))]
    fn prepare(
        &self,
        event: KafkaEvent,
        unreadable: Vec<(String, event_kafka::DeadLetter)>,
        request_id: &str,
        measured: &mut Measured,
    ) -> Prepared {
        let now_ms = pipeline_runtime::unix_millis();
        let mut partitions: BTreeMap<String, (Vec<KafkaRecord>, Vec<event_kafka::DeadLetter>)> =
            BTreeMap::new();
        for (key, records) in event.records {
            partitions.entry(key).or_default().0 = records;
        }
        for (key, letter) in unreadable {
            warn!(reason = %letter.reason, partition = letter.partition, offset = letter.offset,
                message = ?letter.message, "unreadable record, dead-lettering");
            partitions.entry(key).or_default().1.push(letter);
        }
        let mut prepared = Prepared::default();
        for (key, (mut records, unreadable)) in partitions {
            records.sort_by_key(|r| r.offset);
            let (events, letters) = (prepared.events.len(), prepared.letters.len());
            let mut offsets: Vec<i64> = unreadable.iter().map(|l| l.offset).collect();
            prepared.received += records.len() + unreadable.len();
            prepared.letters.extend(unreadable);
            for record in records {
                offsets.push(record.offset);
                prepared.lags.push(
                    u64::try_from(now_ms - record.timestamp.0.timestamp_millis()).unwrap_or(0),
                );
                match self.read_record(&key, &record, request_id, measured) {
                    Decoded::Event(e) => prepared.events.push(e),
                    Decoded::Poison(letter) => prepared.letters.push(letter),
                }
            }
            // An unreadable record's offset may be unknown (-1): it cannot be named.
            offsets.retain(|o| *o >= 0);
            offsets.sort_unstable();
            offsets.dedup();
            prepared.partitions.push(Span {
                key,
                offsets,
                events: events..prepared.events.len(),
                letters: letters..prepared.letters.len(),
            });
        }
        prepared
    }

    /// One record's verdict, logged; a panic on the way (a bug) is caught and told, so that it
    /// costs this record, dead-lettered, and not the whole stream.
    fn read_record(
        &self,
        key: &str,
        record: &KafkaRecord,
        request_id: &str,
        measured: &mut Measured,
    ) -> Decoded {
        let decode = self.decode;
        let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let decoded = decode(key, record);
            let trace = match decoded {
                Decoded::Event(_) => trace_id(record),
                Decoded::Poison(_) => None,
            };
            (decoded, trace)
        }));
        match read {
            Ok((Decoded::Event(e), trace)) => {
                info!(event_id = %e.event_id, event_type = e.event_type.as_str(),
                    trace_id = trace.as_deref().unwrap_or(""), request_id,
                    partition = record.partition, offset = record.offset, "record");
                Decoded::Event(e)
            }
            Ok((Decoded::Poison(letter), _)) => {
                // Debug formatting quotes and escapes what came from the record, so no value
                // can break or forge a log line.
                warn!(reason = %letter.reason, topic = ?letter.topic, partition = letter.partition,
                    offset = letter.offset, message = ?letter.message, "poison record, dead-lettering");
                Decoded::Poison(letter)
            }
            Err(payload) => {
                let panic = panic_message(payload.as_ref());
                error!(error = Reason::ProcessingPanicked.as_str(), cause = %panic,
                    partition = record.partition, offset = record.offset, request_id,
                    "processing a record panicked; dead-lettering it");
                measured.panicked += 1;
                let message = format!("processing the record panicked: {panic}");
                let value = decode::raw_value(record);
                Decoded::Poison(decode::letter(
                    key,
                    record,
                    Reason::ProcessingPanicked,
                    message,
                    value,
                ))
            }
        }
    }

    /// The batch in one store call and one dead-letter send: all or nothing.
    async fn finish_whole(
        &self,
        prepared: Prepared,
        request_id: &str,
        measured: &mut Measured,
    ) -> Result<BatchSummary, ProcessError> {
        let started = std::time::Instant::now();
        let outcomes = self.store.insert_batch(&prepared.events).await?;
        measured.store = Some(started.elapsed());
        if !prepared.letters.is_empty() {
            self.dead_letters.send_all(&prepared.letters).await?;
        }
        measured.sent(&prepared.letters);
        Ok(summarize(
            prepared.received,
            Stored::tally(&outcomes),
            prepared.letters.len(),
            prepared.lags,
            request_id,
        ))
    }

    /// Each partition in its own store call and dead-letter send; a failure costs that
    /// partition its records from the first not finished on, each named in the answer.
    async fn finish_by_partition(
        &self,
        prepared: Prepared,
        request_id: &str,
        measured: &mut Measured,
    ) -> Result<BatchResponse, ProcessError> {
        let (mut stored, mut dead_lettered) = (Stored::default(), 0);
        let mut failures = Vec::new();
        let mut store_time = std::time::Duration::ZERO;
        for span in &prepared.partitions {
            let events = &prepared.events[span.events.clone()];
            let letters = &prepared.letters[span.letters.clone()];
            let started = std::time::Instant::now();
            let written = self.store.insert_batch(events).await;
            store_time += started.elapsed();
            let outcome = match written {
                Err(e) => Err((ProcessError::from(e), span.offsets.first().copied())),
                Ok(outcomes) => match self.dead_letters.send_all(letters).await {
                    _ if letters.is_empty() => Ok(outcomes),
                    Ok(()) => Ok(outcomes),
                    // Stored events before it stay stored; from the first letter on, the
                    // partition comes again (its events are found stored then).
                    Err(e) => {
                        let first_letter =
                            letters.iter().map(|l| l.offset).filter(|o| *o >= 0).min();
                        Err((
                            ProcessError::from(e),
                            first_letter.or(span.offsets.first().copied()),
                        ))
                    }
                },
            };
            match outcome {
                Ok(outcomes) => {
                    stored.add(Stored::tally(&outcomes));
                    dead_lettered += letters.len();
                    measured.sent(letters);
                }
                Err((e, from)) => {
                    // Every record from the first not finished to the end of the batch: Lambda
                    // retries exactly what is named, and the store's insert-if-absent makes a
                    // stored record named again harmless.
                    let again: Vec<i64> = match from {
                        Some(from) => span
                            .offsets
                            .iter()
                            .copied()
                            .filter(|o| *o >= from)
                            .collect(),
                        None => Vec::new(),
                    };
                    error!(error = e.code(), cause = %e, partition = %span.key, offset = from,
                        records = again.len(), request_id,
                        "partition failed; naming its records from the first not finished on");
                    *measured.failed.entry(e.code()).or_default() += 1;
                    failures.push((span.key.clone(), again));
                }
            }
        }
        measured.store = Some(store_time);
        let summary = summarize(
            prepared.received,
            stored,
            dead_lettered,
            prepared.lags,
            request_id,
        );
        BatchResponse::reporting(summary, failures)
    }
}

/// What a batch came to before anything was written: its events and letters, and each
/// partition's span of both, in key order.
#[derive(Default)]
struct Prepared {
    events: Vec<event_schema::UserEvent>,
    letters: Vec<event_kafka::DeadLetter>,
    partitions: Vec<Span>,
    received: usize,
    lags: Vec<u64>,
}

/// One partition: its key, the known offsets of its records (ascending), and where its events
/// and letters are in the batch's lists.
struct Span {
    key: String,
    offsets: Vec<i64>,
    events: std::ops::Range<usize>,
    letters: std::ops::Range<usize>,
}

/// What the store did with a batch's events.
#[derive(Debug, Default, Clone, Copy)]
struct Stored {
    inserted: usize,
    duplicates: usize,
    erased: usize,
}

impl Stored {
    fn tally(outcomes: &[InsertOutcome]) -> Self {
        let mut stored = Self::default();
        for outcome in outcomes {
            match outcome {
                InsertOutcome::Inserted => stored.inserted += 1,
                InsertOutcome::Duplicate => stored.duplicates += 1,
                InsertOutcome::Erased => stored.erased += 1,
            }
        }
        stored
    }

    fn add(&mut self, other: Self) {
        self.inserted += other.inserted;
        self.duplicates += other.duplicates;
        self.erased += other.erased;
    }
}

/// The batch's summary, logged.
fn summarize(
    received: usize,
    stored: Stored,
    dead_lettered: usize,
    mut lags: Vec<u64>,
    request_id: &str,
) -> BatchSummary {
    let (lag_max_ms, lag_p50_ms) = max_and_median(&mut lags);
    let Stored {
        inserted,
        duplicates,
        erased,
    } = stored;
    let summary = BatchSummary {
        received,
        inserted,
        duplicates,
        erased,
        dead_lettered,
        lag_max_ms,
        lag_p50_ms,
    };
    info!(
        received,
        inserted,
        duplicates,
        erased,
        dead_lettered,
        lag_max_ms,
        lag_p50_ms,
        request_id,
        "batch processed"
    );
    summary
}

/// What a caught panic said.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

/// The trace id of the record's `traceparent` header (written by `events-api`), when it has a
/// valid one.
fn trace_id(record: &KafkaRecord) -> Option<String> {
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
