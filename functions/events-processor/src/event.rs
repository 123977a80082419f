//! The invocation's payload, read record by record.
//!
//! Typed as a whole, one record the event types cannot read would fail the invocation on every
//! retry and hold its partition for good: a producer can write a record with timestamp -1 (the
//! broker accepts "no timestamp"), which `aws_lambda_events` refuses. So the payload arrives as
//! JSON, each record is read on its own, and one that cannot be read becomes a dead letter
//! (`unreadable_record`) with whatever of it can be told: its partition and offset, its key and
//! value.

use aws_lambda_events::encodings::MillisecondTimestamp;
use aws_lambda_events::event::kafka::{KafkaEvent, KafkaRecord};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use event_kafka::{DeadLetter, Reason};
use serde_json::Value;
use std::collections::HashMap;

/// The MSK event in `payload`, and a dead letter for each record that could not be read, with
/// the key (`"<topic>-<partition>"`) it came under.
pub fn read_event(mut payload: Value) -> (KafkaEvent, Vec<(String, DeadLetter)>) {
    let raw = payload
        .as_object_mut()
        .and_then(|o| o.remove("records"))
        .unwrap_or(Value::Null);
    let mut event: KafkaEvent = serde_json::from_value(payload).unwrap_or_default();
    let mut records: HashMap<String, Vec<KafkaRecord>> = HashMap::new();
    let mut letters = Vec::new();
    let Value::Object(partitions) = raw else {
        return (event, letters);
    };
    for (key, list) in partitions {
        let list = match list {
            Value::Array(list) => list,
            other => vec![other],
        };
        let readable = records.entry(key.clone()).or_default();
        for item in list {
            // The event types refuse a timestamp of -1 and panic on a fractional one: only a
            // whole, non-negative number of milliseconds is handed to them.
            if !item.get("timestamp").is_some_and(whole_millis) {
                letters.push((
                    key.clone(),
                    unreadable(&key, &item, BAD_TIMESTAMP.to_owned()),
                ));
                continue;
            }
            // Anything else they may still panic on is one unreadable record too (outside a
            // fuzzer, whose panic hook aborts on every panic, caught or not).
            let read =
                std::panic::catch_unwind(|| serde_json::from_value::<KafkaRecord>(item.clone()));
            match read {
                Ok(Ok(record)) => readable.push(record),
                Ok(Err(e)) => letters.push((key.clone(), unreadable(&key, &item, e.to_string()))),
                Err(_) => {
                    let why = "reading it panicked".to_owned();
                    letters.push((key.clone(), unreadable(&key, &item, why)));
                }
            }
        }
    }
    records.retain(|_, list| !list.is_empty());
    event.records = records;
    (event, letters)
}

/// Why a record whose timestamp the event types cannot hold is unreadable.
pub const BAD_TIMESTAMP: &str = "its timestamp is not a whole, non-negative number of milliseconds";

/// A record's timestamp as the event types hold it, `None` when they cannot (negative, as
/// Kafka's "no timestamp" -1, or beyond their range): the same rule for a batch handed over in
/// process as for one read from JSON, so that a record gets the same verdict either way.
pub fn timestamp(ms: i64) -> Option<MillisecondTimestamp> {
    if ms < 0 {
        return None;
    }
    chrono::DateTime::from_timestamp_millis(ms).map(MillisecondTimestamp)
}

/// Whether a timestamp is what the event types read without trouble: a non-negative integer,
/// as a number or as digits.
fn whole_millis(t: &Value) -> bool {
    match t {
        Value::Number(n) => n.as_u64().is_some(),
        Value::String(s) => !s.is_empty() && s.len() < 20 && s.bytes().all(|b| b.is_ascii_digit()),
        _ => false,
    }
}

/// What can be told of a record that could not be read.
#[derive(Debug, Default)]
pub struct Unreadable<'a> {
    /// The record's topic, when it says.
    pub topic: Option<&'a str>,
    /// Its partition, when it says.
    pub partition: Option<i64>,
    /// Its offset, when it says.
    pub offset: Option<i64>,
    /// Its key, base64 (or as it came when that is not base64).
    pub key: Option<&'a str>,
    /// Its value, the same way.
    pub value: Option<&'a str>,
}

impl Unreadable<'_> {
    /// Its dead letter, found under `key` (`"<topic>-<partition>"`, which tells the topic and
    /// partition the record does not), unreadable because of `why`.
    pub fn letter(&self, key: &str, why: &str) -> DeadLetter {
        let (topic, partition) = key.rsplit_once('-').unwrap_or((key, ""));
        let bytes = |s: Option<&str>| {
            s.map(|s| STANDARD.decode(s).unwrap_or_else(|_| s.as_bytes().to_vec()))
        };
        DeadLetter {
            reason: Reason::UnreadableRecord,
            message: format!("the record cannot be read as an MSK record: {why}"),
            topic: self.topic.unwrap_or(topic).to_owned(),
            partition: self
                .partition
                .or_else(|| partition.parse().ok())
                .unwrap_or(-1),
            offset: self.offset.unwrap_or(-1),
            key: bytes(self.key),
            value: bytes(self.value),
            headers: Vec::new(),
        }
    }
}

/// The dead letter of a JSON record that could not be read, under `key`.
fn unreadable(key: &str, item: &Value, why: String) -> DeadLetter {
    Unreadable {
        topic: item.get("topic").and_then(Value::as_str),
        partition: item.get("partition").and_then(Value::as_i64),
        offset: item.get("offset").and_then(Value::as_i64),
        key: item.get("key").and_then(Value::as_str),
        value: item.get("value").and_then(Value::as_str),
    }
    .letter(key, &why)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_unreadable_record_is_a_letter_and_its_neighbours_are_read() {
        let good = json!({"topic": "t", "partition": 1, "offset": 5, "timestamp": 1_795_000_000_000_i64,
            "timestampType": "CREATE_TIME", "key": null, "value": "eyJ9", "headers": []});
        let mut no_time = good.clone();
        no_time["offset"] = json!(6);
        no_time["timestamp"] = json!(-1);
        let mut fraction = good.clone();
        fraction["offset"] = json!(7);
        fraction["timestamp"] = json!(1.5);
        let payload = json!({"eventSource": "aws:kafka", "eventSourceArn": "arn:x",
            "records": {"t-1": [good, no_time, fraction, "not a record"]}});
        let (event, letters) = read_event(payload);
        assert_eq!(event.event_source_arn.as_deref(), Some("arn:x"));
        assert_eq!(event.records["t-1"].len(), 1);
        let offsets: Vec<i64> = letters.iter().map(|(_, l)| l.offset).collect();
        assert_eq!(offsets, [6, 7, -1]);
        assert!(letters
            .iter()
            .all(|(k, l)| k == "t-1" && l.reason == Reason::UnreadableRecord && l.partition == 1));
        assert_eq!(letters[0].1.value.as_deref(), Some(&b"{\"}"[..]));
        for odd in [
            json!(null),
            json!([]),
            json!({"records": 3}),
            json!({"records": {"t-0": 4}}),
        ] {
            let (event, _) = read_event(odd);
            assert!(event.records.is_empty());
        }
    }
}
