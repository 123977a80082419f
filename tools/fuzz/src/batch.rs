//! The whole entry point: any bytes become an invocation payload — partitions, records, topics,
//! offsets, timestamps (-1 and fractions too), keys, values and headers of any count and bytes —
//! and go through `Processor::invoke` as JSON, as the Lambda runtime hands it over, with an
//! in-memory store and dead-letter sink.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use event_kafka::{MemoryDeadLetters, Reason, MAX_LETTER_BYTES};
use event_store::MemoryStore;
use events_processor::Processor;
use serde_json::{json, Value};

/// Reads the input a piece at a time; past its end, every piece is empty or zero.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }

    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let n = usize::from(self.byte()).min(max).min(self.0.len());
        let (taken, rest) = self.0.split_at(n);
        self.0 = rest;
        taken.to_vec()
    }

    fn text(&mut self, max: usize) -> String {
        String::from_utf8_lossy(&self.bytes(max)).into_owned()
    }

    fn number(&mut self) -> i64 {
        i64::from_le_bytes(std::array::from_fn(|_| self.byte()))
    }
}

/// A record's value: absent, any text, any bytes in base64, or a valid event with fuzzed parts
/// (so that the store and the trace path run too).
fn value(input: &mut Input<'_>) -> Value {
    match input.byte() % 4 {
        0 => Value::Null,
        1 => Value::from(input.text(255)),
        2 => Value::from(STANDARD.encode(input.bytes(255))),
        _ => {
            let id = (u128::from(input.byte()) << 8) | u128::from(input.byte());
            let event_type =
                ["LOGIN", "LOGOUT", "PRODUCT_VIEW", "login"][usize::from(input.byte() % 4)];
            let event = json!({
                "eventId": uuid::Uuid::from_u128(id | (1 << 100)).to_string(),
                "userId": input.text(40),
                "eventType": event_type,
                "timestamp": "2026-11-25T16:07:04.123Z",
            });
            Value::from(STANDARD.encode(event.to_string()))
        }
    }
}

/// One record of any shape.
fn record(input: &mut Input<'_>, topic: &str, partition: i64) -> Value {
    let headers: Vec<Value> = (0..input.byte() % 6)
        .map(|_| {
            let name = match input.byte() % 3 {
                0 => "traceparent".to_owned(),
                1 => "event-type".to_owned(),
                _ => input.text(20),
            };
            let bytes: Vec<i8> = input.bytes(120).into_iter().map(|b| b as i8).collect();
            let mut header = serde_json::Map::new();
            header.insert(name, json!(bytes));
            Value::Object(header)
        })
        .collect();
    let key = match input.byte() % 3 {
        0 => Value::Null,
        1 => Value::from(STANDARD.encode(input.bytes(40))),
        _ => Value::from(input.text(40)),
    };
    json!({
        "topic": if input.byte() % 5 == 0 { Value::Null } else { Value::from(topic) },
        "partition": partition,
        "offset": input.number(),
        "timestamp": match input.byte() % 8 {
            0 => json!(-1),
            1 => json!(1.5),
            2 => json!("1795000000000"),
            _ => json!(input.number() >> 20),
        },
        "timestampType": "CREATE_TIME",
        "key": key,
        "value": value(input),
        "headers": headers,
    })
}

/// Any bytes as an invocation payload through `Processor::invoke`: it succeeds (the in-memory
/// ports never fail), accounts for every record once (stored, found stored, erased or
/// dead-lettered, an unreadable one included), never catches a panic in its own code (a caught panic
/// dead-letters the record as `processing_panicked`: still a bug), and every dead letter fits
/// the producer's limit.
pub fn check_batch(data: &[u8]) {
    let mut input = Input(data);
    let mut records = serde_json::Map::new();
    let mut total = 0;
    for _ in 0..input.byte() % 4 {
        let topic = input.text(30);
        let partition = i64::from(input.byte() as i8);
        let list: Vec<Value> = (0..input.byte() % 8)
            .map(|_| match input.byte() % 16 {
                0 => Value::from(input.text(10)),
                _ => record(&mut input, &topic, partition),
            })
            .collect();
        total += list.len();
        // Two keys may name the same partition; the later list replaces the earlier.
        if let Some(old) = records.insert(format!("{topic}-{partition}"), Value::from(list)) {
            total -= old.as_array().map_or(0, Vec::len);
        }
    }
    let payload = json!({"eventSource": "aws:kafka", "records": records});
    let processor = Processor::new(MemoryStore::default(), MemoryDeadLetters::default());
    let summary = futures::executor::block_on(processor.invoke(payload, "fuzz"))
        .expect("the in-memory store and sink never fail")
        .summary;
    assert_eq!(summary.received, total);
    assert_eq!(
        summary.inserted + summary.duplicates + summary.erased + summary.dead_lettered,
        total,
        "{summary:?}"
    );
    let letters = processor.dead_letters().letters();
    assert_eq!(letters.len(), summary.dead_lettered);
    for letter in &letters {
        assert_ne!(
            letter.reason,
            Reason::ProcessingPanicked,
            "processing a record panicked: {}",
            letter.message
        );
        let encoded = letter.encode(MAX_LETTER_BYTES);
        assert!(encoded.size() <= MAX_LETTER_BYTES, "{}", encoded.size());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_of_every_shape_are_handled() {
        let mut state = 0x2545_F491_4F6C_DD1D_u64;
        for len in [0, 1, 7, 64, 300, 2000] {
            for _ in 0..200 {
                let data: Vec<u8> = (0..len)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        state as u8
                    })
                    .collect();
                check_batch(&data);
            }
        }
        // A valid event with the traceparent that once panicked the processor.
        let hostile = format!("01-{}é-00", "a".repeat(51));
        let mut data = vec![1, 1, b't', 0, 1, 1, 0, 2];
        data.extend([hostile.len() as u8]);
        data.extend(hostile.as_bytes());
        check_batch(&data);
    }
}
