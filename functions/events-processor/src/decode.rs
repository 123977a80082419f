//! One MSK record → a validated event, or a dead letter that says why not.

use aws_lambda_events::event::kafka::KafkaRecord;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use event_kafka::DeadLetter;
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
    // What a dead letter carries besides the value; built only for a poison record, so a valid
    // record costs its decoding and validation and nothing else.
    let poison = |reason: &str, message: String, value: Option<Vec<u8>>| {
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
        let key = record
            .key
            .as_deref()
            .map(|k| STANDARD.decode(k).unwrap_or_else(|_| k.as_bytes().to_vec()));
        Decoded::Poison(DeadLetter {
            reason: reason.to_owned(),
            message,
            topic,
            partition: record.partition,
            offset: record.offset,
            key,
            value,
            headers,
        })
    };

    let Some(encoded) = record.value.as_deref() else {
        return poison("missing_value", "the record has no value".to_owned(), None);
    };
    let bytes = match STANDARD.decode(encoded) {
        Ok(b) => b,
        Err(e) => {
            return poison(
                "bad_base64",
                format!("the value is not valid base64: {e}"),
                Some(encoded.as_bytes().to_vec()),
            )
        }
    };
    match validate_event(&bytes) {
        Ok(event) => Decoded::Event(event),
        Err(errors) => {
            let reason = match errors.first_code() {
                ErrorCode::MalformedJson => "malformed_json",
                _ => "invalid_event",
            };
            poison(reason, errors.to_string(), Some(bytes))
        }
    }
}

/// A header value as the MSK event carries it (signed bytes) back to its bytes.
pub fn header_bytes(value: &[i8]) -> Vec<u8> {
    value.iter().map(|b| *b as u8).collect()
}
