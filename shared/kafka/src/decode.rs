//! One MSK record (as the event source mapping delivers it) → a validated event, or a dead
//! letter that says why not. Broker-free, so that the processor and the fuzzers of its record
//! handling build it without librdkafka.

use crate::{DeadLetter, Reason};
use aws_lambda_events::event::kafka::KafkaRecord;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use event_schema::{validate_event, ErrorCode, UserEvent};

/// The verdict on one record.
#[derive(Debug)]
pub enum Decoded {
    /// A valid event, ready to store.
    Event(UserEvent),
    /// Unusable as it is; keep it on the dead-letter topic.
    Poison(DeadLetter),
}

/// Decodes `record`, found under `key` (`"<topic>-<partition>"`) in the MSK event.
pub fn decode(key: &str, record: &KafkaRecord) -> Decoded {
    let poison = |reason: Reason, message: String, value: Option<Vec<u8>>| {
        Decoded::Poison(letter(key, record, reason, message, value))
    };
    let Some(encoded) = record.value.as_deref() else {
        return poison(
            Reason::MissingValue,
            "the record has no value".to_owned(),
            None,
        );
    };
    let bytes = match STANDARD.decode(encoded) {
        Ok(b) => b,
        Err(e) => {
            return poison(
                Reason::BadBase64,
                format!("the value is not valid base64: {e}"),
                Some(encoded.as_bytes().to_vec()),
            )
        }
    };
    match validate_event(&bytes) {
        Ok(event) => Decoded::Event(event),
        Err(errors) => {
            let reason = match errors.first_code() {
                ErrorCode::MalformedJson => Reason::MalformedJson,
                _ => Reason::InvalidEvent,
            };
            poison(reason, errors.to_string(), Some(bytes))
        }
    }
}

/// The dead letter of `record` (found under `key`, `"<topic>-<partition>"`): its key, headers,
/// topic, partition and offset as they arrived, with `value` and why. Built only for a poison
/// record, so a valid record costs its decoding and validation and nothing else; plain copies,
/// so that it can stand in for a record whose processing panicked.
pub fn letter(
    key: &str,
    record: &KafkaRecord,
    reason: Reason,
    message: String,
    value: Option<Vec<u8>>,
) -> DeadLetter {
    let topic = record
        .topic
        .clone()
        .or_else(|| key.rsplit_once('-').map(|(t, _)| t.to_owned()))
        .unwrap_or_default();
    let headers = record
        .headers
        .iter()
        .flat_map(|h| h.iter())
        .map(|(k, v)| (k.clone(), header_bytes(v)))
        .collect();
    let record_key = record
        .key
        .as_deref()
        .map(|k| STANDARD.decode(k).unwrap_or_else(|_| k.as_bytes().to_vec()));
    DeadLetter {
        reason,
        message,
        topic,
        partition: record.partition,
        offset: record.offset,
        key: record_key,
        value,
        headers,
    }
}

/// The record's value as bytes: decoded from base64 when it is, else as it came.
pub fn raw_value(record: &KafkaRecord) -> Option<Vec<u8>> {
    let v = record.value.as_deref()?;
    Some(STANDARD.decode(v).unwrap_or_else(|_| v.as_bytes().to_vec()))
}

/// A header value as the MSK event carries it (signed bytes) back to its bytes.
pub fn header_bytes(value: &[i8]) -> Vec<u8> {
    value.iter().map(|b| *b as u8).collect()
}
