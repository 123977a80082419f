//! Delivering one batch as the event source mapping does
//! (https://docs.aws.amazon.com/lambda/latest/dg/kafka-retry-configurations.html): invoke, and
//! on failure retry the same batch with exponential backoff, forever by default. Configured like
//! the mapping, it can instead split a failing batch in two and deliver each half
//! (`BisectBatchOnFunctionError`), and skip a batch after `MaximumRetryAttempts` retries or once
//! its oldest record is older than `MaximumRecordAgeInSeconds`. A skipped batch is first written,
//! record by record, to the on-failure topic; only then does the loop move on.
//!
//! With `REPORT_BATCH_ITEM_FAILURES` (`FunctionResponseTypes: [ReportBatchItemFailures]`), a
//! successful answer may name records the function could not finish: the others are done, and
//! exactly the records named are delivered again as a failed attempt would be, under the same
//! retry, age and bisect rules; an identifier the batch does not hold fails the whole batch.
//! AWS documents the answer and the whole-batch rule but not how partial answers count against
//! the retry limit: here each counts as one attempt.

use crate::batch::{Batch, Record};
use crate::config::Config;
use crate::error::{InvokeError, LoopError};
use crate::invoke::{Invoke, Reply};
use crate::progress::Progress;
use crate::summary::Summary;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use event_kafka::KafkaConfig;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tracing::{error, info, warn};

/// Header on each record written to the on-failure topic: the invocation record AWS writes for
/// a failed Kafka batch (`requestContext`, `responseContext`, `version`, `timestamp`,
/// `KafkaBatchInfo`), as JSON. The record itself keeps its key, value and headers.
pub const FAILURE_HEADER: &str = "lambda-failure";

/// How a delivery ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Every record was processed by the function or written to the on-failure topic: commit.
    Done,
    /// Shutdown arrived while waiting to retry: do not commit; the batch comes again later.
    Interrupted,
}

/// Why a batch was skipped (the invocation record's `condition`).
#[derive(Debug, Clone, Copy)]
enum Skip {
    RetryAttemptsExhausted,
    RecordAgeExceeded,
}

/// What one batch's attempts came to.
enum Attempts {
    Done,
    Interrupted,
    Split(Batch, Batch),
    /// What was still left of the batch was skipped.
    Skipped(Batch, Skip, u32, InvokeError),
}

/// Delivers batches with the configured policy, through any [`Invoke`].
pub struct Deliverer<'a, I> {
    invoker: &'a I,
    config: &'a Config,
    destination: Option<FutureProducer>,
    progress: &'a Progress,
    /// What went through, for the summary line.
    pub summary: Summary,
}

impl<'a, I: Invoke> Deliverer<'a, I> {
    /// A deliverer marking each attempt in `progress`; with an on-failure topic configured, its
    /// producer is created here.
    pub fn new(
        invoker: &'a I,
        config: &'a Config,
        progress: &'a Progress,
    ) -> Result<Self, LoopError> {
        let destination = match &config.on_failure_topic {
            None => None,
            Some(_) => Some(destination_producer(&config.kafka)?),
        };
        Ok(Self {
            invoker,
            config,
            destination,
            progress,
            summary: Summary::default(),
        })
    }

    /// Delivers `batch`, its halves first to last when it was split.
    pub async fn deliver(
        &self,
        batch: Batch,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<Delivery, LoopError> {
        let mut pending = vec![batch];
        while let Some(batch) = pending.pop() {
            match self.attempts(&batch, shutdown).await {
                Attempts::Done => {}
                Attempts::Interrupted => return Ok(Delivery::Interrupted),
                Attempts::Split(first, second) => {
                    pending.push(second);
                    pending.push(first);
                }
                Attempts::Skipped(left, why, invocations, last) => {
                    if self.skip(&left, why, invocations, &last, shutdown).await?
                        == Delivery::Interrupted
                    {
                        return Ok(Delivery::Interrupted);
                    }
                }
            }
        }
        Ok(Delivery::Done)
    }

    async fn attempts(&self, whole: &Batch, shutdown: &mut watch::Receiver<bool>) -> Attempts {
        let config = self.config;
        let mut batch = whole.clone();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let delay = config.backoff(attempt);
            if !delay.is_zero() {
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = shutdown.changed() => return Attempts::Interrupted,
                }
            }
            let started = Instant::now();
            self.progress.turned();
            let error = match self.invoker.invoke(&batch).await {
                Ok(reply) => match self.reported(&batch, &reply) {
                    Ok(None) => {
                        self.progress.succeeded(batch.len());
                        self.summary.delivered(batch.len(), &reply.counts);
                        info!(
                            records = batch.len(),
                            partitions = batch.partitions(),
                            bytes = batch.json_size(),
                            latency_ms = started.elapsed().as_millis() as u64,
                            attempt,
                            inserted = reply.counts.inserted,
                            duplicates = reply.counts.duplicates,
                            dead_lettered = reply.counts.dead_lettered,
                            "batch delivered"
                        );
                        return Attempts::Done;
                    }
                    Ok(Some(left)) => {
                        self.summary
                            .delivered(batch.len() - left.len(), &reply.counts);
                        let partitions = left.partitions();
                        warn!(
                            done = batch.len() - left.len(),
                            again = left.len(),
                            partitions,
                            attempt,
                            "the function reported records it could not finish"
                        );
                        batch = left;
                        InvokeError::ItemFailures(partitions)
                    }
                    Err(invalid) => invalid,
                },
                Err(e) => e,
            };
            self.progress.failed();
            self.summary.failed();
            self.summary.print_if_due();
            error!(
                records = batch.len(),
                partitions = batch.partitions(),
                latency_ms = started.elapsed().as_millis() as u64,
                attempt,
                error = %error,
                "batch failed"
            );
            if config.bisect_on_error && batch.len() > 1 {
                let (first, second) = batch.split();
                warn!(
                    first = first.len(),
                    second = second.len(),
                    "splitting the failed batch"
                );
                return Attempts::Split(first, second);
            }
            let retries = attempt - 1;
            if config
                .max_retry_attempts()
                .is_some_and(|max| retries >= max)
            {
                return Attempts::Skipped(batch, Skip::RetryAttemptsExhausted, attempt, error);
            }
            if config
                .max_record_age
                .is_some_and(|max| batch.oldest_age() > max)
            {
                return Attempts::Skipped(batch, Skip::RecordAgeExceeded, attempt, error);
            }
        }
    }

    /// What is left of `batch` after the function answered `reply`: nothing when it reported
    /// no item failures (or reporting is off); the records to deliver again when it did.
    fn reported(&self, batch: &Batch, reply: &Reply) -> Result<Option<Batch>, InvokeError> {
        if !self.config.report_batch_item_failures {
            return Ok(None);
        }
        if let Some(why) = &reply.unreadable {
            return Err(InvokeError::InvalidItemFailures(why.clone()));
        }
        batch
            .remainder(&reply.item_failures)
            .map_err(InvokeError::InvalidItemFailures)
    }

    /// Writes every record of a skipped batch to the on-failure topic, retrying until the broker
    /// took them all (the batch is committed only then).
    async fn skip(
        &self,
        batch: &Batch,
        why: Skip,
        invocations: u32,
        last: &InvokeError,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<Delivery, LoopError> {
        let (Some(producer), Some(topic)) = (&self.destination, &self.config.on_failure_topic)
        else {
            // The configuration refuses skipping without a destination; stay safe anyway.
            return Err(LoopError::Config(
                "a batch was skipped without an on-failure topic".into(),
            ));
        };
        let record = invocation_record(
            self.config,
            self.invoker.target(),
            batch,
            why,
            invocations,
            last,
        );
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            match write_all(
                producer,
                topic,
                batch,
                &record,
                self.config.kafka.produce_timeout,
            )
            .await
            {
                Ok(()) => {
                    self.progress.succeeded(batch.len());
                    warn!(records = batch.len(), condition = ?why, topic = %topic, "batch skipped to the on-failure topic");
                    return Ok(Delivery::Done);
                }
                Err(e) => {
                    error!(error = %e, attempt, "the on-failure topic did not take the batch; retrying")
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(self.config.backoff(attempt + 1)) => {}
                _ = shutdown.changed() => return Ok(Delivery::Interrupted),
            }
        }
    }
}

fn destination_producer(kafka: &KafkaConfig) -> Result<FutureProducer, LoopError> {
    Ok(kafka
        .dead_letter_config("on-failure-destination")
        .create()?)
}

fn invocation_record(
    config: &Config,
    function: &str,
    batch: &Batch,
    why: Skip,
    invocations: u32,
    last: &InvokeError,
) -> String {
    let (status, error) = match last {
        InvokeError::Function { status, .. } => (*status, "Unhandled"),
        InvokeError::Transport(_) => (0, "Transport"),
        InvokeError::ItemFailures(_) | InvokeError::InvalidItemFailures(_) => {
            (200, "BatchItemFailures")
        }
    };
    let first = batch.records().first();
    let last_record = batch.records().last();
    serde_json::json!({
        "requestContext": {
            "requestId": uuid::Uuid::new_v4().to_string(),
            "functionArn": function,
            "condition": format!("{why:?}"),
            "approximateInvokeCount": invocations,
        },
        "responseContext": {"statusCode": status, "executedVersion": "$LATEST", "functionError": error},
        "version": "1.0",
        "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "KafkaBatchInfo": {
            "batchSize": batch.len(),
            "eventSourceArn": config.event_source_arn,
            "bootstrapServers": config.kafka.brokers,
            "payloadSize": batch.json_size(),
            "firstRecordOffset": first.map(|r| r.offset),
            "lastRecordOffset": last_record.map(|r| r.offset),
            "firstRecordTimestamp": first.map(|r| r.timestamp),
        },
    })
    .to_string()
}

async fn write_all(
    producer: &FutureProducer,
    topic: &str,
    batch: &Batch,
    record: &str,
    timeout: Duration,
) -> Result<(), rdkafka::error::KafkaError> {
    for r in batch.records() {
        let (key, value, headers) = original(r);
        let mut h = OwnedHeaders::new_with_capacity(headers.len() + 1);
        for (k, v) in &headers {
            h = h.insert(Header {
                key: k,
                value: Some(v),
            });
        }
        h = h.insert(Header {
            key: FAILURE_HEADER,
            value: Some(record),
        });
        let mut out: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(topic).headers(h);
        if let Some(k) = &key {
            out = out.key(k.as_slice());
        }
        if let Some(v) = &value {
            out = out.payload(v.as_slice());
        }
        producer.send(out, timeout).await.map_err(|(e, _)| e)?;
    }
    Ok(())
}

type Original = (Option<Vec<u8>>, Option<Vec<u8>>, Vec<(String, Vec<u8>)>);

/// A record's key, value and headers as they were in Kafka (the batch holds MSK's encoding).
fn original(r: &Record) -> Original {
    let decode = |s: &Option<String>| s.as_ref().and_then(|s| STANDARD.decode(s).ok());
    let headers = r
        .headers
        .iter()
        .flat_map(|h| h.iter())
        .map(|(k, v)| (k.clone(), v.iter().map(|b| *b as u8).collect()))
        .collect();
    (decode(&r.key), decode(&r.value), headers)
}
