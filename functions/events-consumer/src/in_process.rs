//! The processor behind the loop's [`Invoke`] port: each batch is handed to
//! [`Processor::invoke_event`] in this process as the typed event, and its answer (the batch
//! summary, or `batchItemFailures`) goes back to the loop as a [`Reply`]; no JSON on the way. A
//! failed batch becomes what the Invoke API reports for a function error, so the loop retries,
//! bisects and skips it exactly as it does a Lambda invocation.

use aws_lambda_events::event::kafka::{KafkaEvent, KafkaRecord};
use event_consume::{Batch, Counts, Invoke, InvokeError, Record, Reply};
use event_kafka::{DeadLetter, DeadLetterSink};
use event_store::EventWriter;
use events_processor::{BatchResponse, Processor, Unreadable};
use std::collections::HashMap;
use std::time::Duration;

/// The processor, invoked in process.
pub struct InProcess<S, D> {
    processor: Processor<S, D>,
    timeout: Duration,
    event_source_arn: String,
    bootstrap: String,
}

impl<S, D> InProcess<S, D> {
    /// Invokes `processor` with batches from `config`'s topic, giving up on an invocation after
    /// `CONSUMER_INVOKE_TIMEOUT_MS` (as Lambda stops a function at its timeout).
    pub fn new(processor: Processor<S, D>, config: &event_consume::Config) -> Self {
        Self {
            processor,
            timeout: config.invoke_timeout,
            event_source_arn: config.event_source_arn.clone(),
            bootstrap: config.kafka.brokers.clone(),
        }
    }

    /// The processor (its store, for tests and checks).
    pub fn processor(&self) -> &Processor<S, D> {
        &self.processor
    }

    /// `batch` as the event the processor takes, and a dead letter for each record it could not
    /// hold (a timestamp out of the event types' range), under its partition's key.
    pub fn event(&self, batch: &Batch) -> (KafkaEvent, Vec<(String, DeadLetter)>) {
        let mut records: HashMap<String, Vec<KafkaRecord>> = HashMap::new();
        let mut letters = Vec::new();
        for (key, list) in batch.by_partition() {
            for r in list {
                match kafka_record(r) {
                    Some(record) => records.entry(key.clone()).or_default().push(record),
                    None => letters.push((key.clone(), unreadable(&key, r))),
                }
            }
        }
        let mut event = KafkaEvent::default();
        event.event_source = Some("aws:kafka".to_owned());
        event.event_source_arn = Some(self.event_source_arn.clone());
        event.bootstrap_servers = Some(self.bootstrap.clone());
        event.records = records;
        (event, letters)
    }
}

/// A record in the event types, `None` when they cannot hold its timestamp.
fn kafka_record(r: &Record) -> Option<KafkaRecord> {
    let mut record = KafkaRecord::default();
    record.timestamp = events_processor::timestamp(r.timestamp)?;
    record.topic = Some(r.topic.clone());
    record.partition = i64::from(r.partition);
    record.offset = r.offset;
    record.timestamp_type = Some(r.timestamp_type.to_owned());
    record.key = r.key.clone();
    record.value = r.value.clone();
    record.headers = r
        .headers
        .iter()
        .map(|h| h.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .collect();
    Some(record)
}

fn unreadable(key: &str, r: &Record) -> DeadLetter {
    Unreadable {
        topic: Some(&r.topic),
        partition: Some(i64::from(r.partition)),
        offset: Some(r.offset),
        key: r.key.as_deref(),
        value: r.value.as_deref(),
    }
    .letter(key, events_processor::BAD_TIMESTAMP)
}

/// The Invoke API's answer for a function error.
fn function_error(error_type: &str, message: &str) -> InvokeError {
    InvokeError::Function {
        status: 200,
        body: serde_json::json!({"errorType": error_type, "errorMessage": message}).to_string(),
    }
}

/// The processor's answer as the loop reads it.
fn reply(response: BatchResponse) -> Reply {
    let s = response.summary;
    let n = |v: usize| u64::try_from(v).unwrap_or(u64::MAX);
    Reply {
        counts: Counts {
            inserted: n(s.inserted),
            duplicates: n(s.duplicates),
            erased: n(s.erased),
            dead_lettered: n(s.dead_lettered),
            lag_max_ms: s.lag_max_ms,
            lag_p50_ms: s.lag_p50_ms,
        },
        item_failures: response
            .batch_item_failures
            .into_iter()
            .map(|f| (f.item_identifier.partition, f.item_identifier.offset))
            .collect(),
        unreadable: None,
    }
}

impl<S, D> Invoke for InProcess<S, D>
where
    S: EventWriter + Send + Sync,
    D: DeadLetterSink + Send + Sync,
{
    fn target(&self) -> &str {
        "events-processor (in process)"
    }

    async fn invoke(&self, batch: &Batch) -> Result<Reply, InvokeError> {
        let (event, letters) = self.event(batch);
        let request_id = uuid::Uuid::new_v4().to_string();
        let answer = self.processor.invoke_event(event, letters, &request_id);
        match tokio::time::timeout(self.timeout, answer).await {
            Err(_) => Err(function_error(
                "Sandbox.Timedout",
                &format!("the batch took longer than {} ms", self.timeout.as_millis()),
            )),
            Ok(Err(e)) => Err(function_error(e.code(), &e.to_string())),
            Ok(Ok(response)) => Ok(reply(response)),
        }
    }
}
