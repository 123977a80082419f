//! The dead-letter topic: records the processor cannot use, kept with the reason, never dropped.
//!
//! A dead letter must always fit, whatever the record: if it did not, the batch holding it would
//! fail on every retry and its partition would never move again. So every header this module
//! adds is bounded, and a letter that would still exceed [`MAX_LETTER_BYTES`] carries a
//! truncated copy of the value with its original size and SHA-256 instead (the original stays
//! in the source topic, at the offset the headers name).

use crate::Error;
use sha2::{Digest, Sha256};
use std::future::Future;

/// Header names added to a dead-lettered record (after the original headers).
pub mod dlq_headers {
    /// Stable reason code ([`super::Reason::as_str`]).
    pub const REASON: &str = "dlq-reason";
    /// A sentence explaining the reason (at most [`super::MAX_REASON_BYTES`]).
    pub const MESSAGE: &str = "dlq-message";
    /// Topic the record was read from.
    pub const SOURCE_TOPIC: &str = "dlq-source-topic";
    /// Its partition.
    pub const SOURCE_PARTITION: &str = "dlq-source-partition";
    /// Its offset.
    pub const SOURCE_OFFSET: &str = "dlq-source-offset";
    /// `true` when the letter carries less than the original record (see the module docs).
    pub const TRUNCATED: &str = "dlq-truncated";
    /// Size in bytes of the original value (only on truncated letters).
    pub const ORIGINAL_BYTES: &str = "dlq-original-bytes";
    /// SHA-256 of the original value, lower-case hex (only on truncated letters).
    pub const ORIGINAL_SHA256: &str = "dlq-original-sha256";
}

/// Longest `dlq-reason` or `dlq-message` value (and source topic), in bytes.
pub const MAX_REASON_BYTES: usize = 1024;
/// What a header adds on the wire besides its name and value: the two lengths, each a varint
/// of at most 5 bytes (Kafka's record format v2). A record with thousands of one-byte headers is
/// mostly framing, and librdkafka counts it against `message.max.bytes`.
pub const HEADER_FRAMING_BYTES: usize = 10;
/// Largest dead letter: key, value and every header with its framing together. It is the
/// dead-letter producer's `message.max.bytes` (librdkafka's default) less room for the record's
/// own framing, so librdkafka and a broker with Kafka's default limit both accept it.
pub const MAX_LETTER_BYTES: usize = PRODUCER_MESSAGE_MAX_BYTES - 4096;
/// `message.max.bytes` of the dead-letter producer.
pub(crate) const PRODUCER_MESSAGE_MAX_BYTES: usize = 1_000_000;
/// On a truncated letter: most bytes of the original key, and of original headers in all.
const TRUNCATED_KEY_BYTES: usize = 1024;
const TRUNCATED_HEADER_BYTES: usize = 16 * 1024;
/// On a truncated letter: most original headers kept.
const TRUNCATED_HEADERS: usize = 256;

/// Why a record was dead-lettered: the `dlq-reason` header and the `Reason` dimension of the
/// processor's `DeadLettered` metric. The one list of reasons: the decoder, the processor, the
/// fuzzers and the metric table of docs/operations.md all take it from here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    /// The record has no value.
    MissingValue,
    /// The value is not base64 (the event source mapping's encoding).
    BadBase64,
    /// The value is not JSON.
    MalformedJson,
    /// The value is JSON but not a valid event.
    InvalidEvent,
    /// Processing the record panicked: a bug, which costs this record and not the stream.
    ProcessingPanicked,
    /// The invocation's payload holds the record in a form the event types cannot read (a
    /// timestamp of -1, which a producer may write).
    UnreadableRecord,
}

impl Reason {
    /// Every reason.
    pub const ALL: [Reason; 6] = [
        Self::MissingValue,
        Self::BadBase64,
        Self::MalformedJson,
        Self::InvalidEvent,
        Self::ProcessingPanicked,
        Self::UnreadableRecord,
    ];

    /// The code as the header and the metric carry it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MissingValue => "missing_value",
            Self::BadBase64 => "bad_base64",
            Self::MalformedJson => "malformed_json",
            Self::InvalidEvent => "invalid_event",
            Self::ProcessingPanicked => "processing_panicked",
            Self::UnreadableRecord => "unreadable_record",
        }
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One unusable record, as it arrived, with why it was set aside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// Why.
    pub reason: Reason,
    /// Explanation.
    pub message: String,
    /// Source topic.
    pub topic: String,
    /// Source partition.
    pub partition: i64,
    /// Source offset.
    pub offset: i64,
    /// Original key bytes.
    pub key: Option<Vec<u8>>,
    /// Original value bytes (absent when the record had none).
    pub value: Option<Vec<u8>>,
    /// Original headers, in order.
    pub headers: Vec<(String, Vec<u8>)>,
}

/// A dead letter as it is produced: bounded (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded<'a> {
    /// Key bytes.
    pub key: Option<&'a [u8]>,
    /// Value bytes.
    pub value: Option<&'a [u8]>,
    /// Original headers that were kept, then the `dlq-*` headers.
    pub headers: Vec<(&'a str, Vec<u8>)>,
}

/// What one header counts for: its name, its value and their framing.
fn header_size(name: &str, value: &[u8]) -> usize {
    name.len() + value.len() + HEADER_FRAMING_BYTES
}

impl Encoded<'_> {
    /// Key, value and every header with its framing, in bytes: at least what librdkafka counts
    /// against `message.max.bytes`.
    pub fn size(&self) -> usize {
        self.key.map_or(0, <[u8]>::len)
            + self.value.map_or(0, <[u8]>::len)
            + self
                .headers
                .iter()
                .map(|(k, v)| header_size(k, v))
                .sum::<usize>()
    }
}

/// `s` cut to at most `max` bytes on a character boundary, ending in `…` when cut.
fn bounded(s: &str, max: usize) -> Vec<u8> {
    if s.len() <= max {
        return s.as_bytes().to_vec();
    }
    let mut end = max - '…'.len_utf8();
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end]).into_bytes()
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl DeadLetter {
    /// The letter as it is produced, at most `max_bytes` in all (see the module docs).
    pub fn encode(&self, max_bytes: usize) -> Encoded<'_> {
        let dlq = [
            (
                dlq_headers::REASON,
                self.reason.as_str().as_bytes().to_vec(),
            ),
            (
                dlq_headers::MESSAGE,
                bounded(&self.message, MAX_REASON_BYTES),
            ),
            (
                dlq_headers::SOURCE_TOPIC,
                bounded(&self.topic, MAX_REASON_BYTES),
            ),
            (
                dlq_headers::SOURCE_PARTITION,
                self.partition.to_string().into_bytes(),
            ),
            (
                dlq_headers::SOURCE_OFFSET,
                self.offset.to_string().into_bytes(),
            ),
        ];
        let original_headers = self.headers.iter().map(|(k, v)| (k.as_str(), v.clone()));
        let whole = Encoded {
            key: self.key.as_deref(),
            value: self.value.as_deref(),
            headers: original_headers.chain(dlq.clone()).collect(),
        };
        if whole.size() <= max_bytes {
            return whole;
        }

        // Too large: keep a bounded key, the original headers that fit a small budget, and as
        // much of the value as still fits, saying so.
        let value = self.value.as_deref().unwrap_or_default();
        let key = self
            .key
            .as_deref()
            .map(|k| &k[..k.len().min(TRUNCATED_KEY_BYTES)]);
        let mut headers = Vec::new();
        let mut header_bytes = 0;
        for (k, v) in self.headers.iter().take(TRUNCATED_HEADERS) {
            header_bytes += header_size(k, v);
            if header_bytes > TRUNCATED_HEADER_BYTES {
                break;
            }
            headers.push((k.as_str(), v.clone()));
        }
        headers.extend(dlq);
        headers.extend([
            (dlq_headers::TRUNCATED, b"true".to_vec()),
            (
                dlq_headers::ORIGINAL_BYTES,
                value.len().to_string().into_bytes(),
            ),
            (dlq_headers::ORIGINAL_SHA256, sha256_hex(value).into_bytes()),
        ]);
        let mut letter = Encoded {
            key,
            value: None,
            headers,
        };
        let room = max_bytes.saturating_sub(letter.size());
        letter.value = self.value.as_deref().map(|v| &v[..v.len().min(room)]);
        letter
    }
}

/// Where the processor puts unusable records.
pub trait DeadLetterSink: Send + Sync + 'static {
    /// Writes every letter and resolves once all are acknowledged; any failure fails the call
    /// (the caller then fails its batch so that nothing is lost).
    fn send_all(&self, letters: &[DeadLetter]) -> impl Future<Output = Result<(), Error>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn letter(value: Vec<u8>, message: String) -> DeadLetter {
        DeadLetter {
            reason: Reason::InvalidEvent,
            message,
            topic: "user-activity-events".into(),
            partition: 2,
            offset: 41,
            key: Some(b"alice".to_vec()),
            value: Some(value),
            headers: vec![("event-type".into(), b"LOGIN".to_vec())],
        }
    }

    fn header<'a>(e: &'a Encoded<'_>, name: &str) -> Option<&'a [u8]> {
        e.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_slice())
    }

    #[test]
    fn a_letter_that_fits_is_the_whole_record_plus_bounded_headers() {
        let l = letter(b"{not json".to_vec(), "é".repeat(5000));
        let e = l.encode(MAX_LETTER_BYTES);
        assert_eq!(e.value, Some(&b"{not json"[..]));
        assert_eq!(e.key, Some(&b"alice"[..]));
        assert_eq!(e.headers[0], ("event-type", b"LOGIN".to_vec()));
        let message = header(&e, dlq_headers::MESSAGE).expect("message");
        assert!(message.len() <= MAX_REASON_BYTES, "{}", message.len());
        assert!(std::str::from_utf8(message).expect("utf-8").ends_with('…'));
        assert_eq!(header(&e, dlq_headers::TRUNCATED), None);
    }

    #[test]
    fn a_letter_too_large_keeps_a_prefix_with_the_original_size_and_hash() {
        let value = vec![b'x'; 999_000];
        let l = letter(value.clone(), "the body is too large".into());
        let e = l.encode(MAX_LETTER_BYTES);
        assert!(e.size() <= MAX_LETTER_BYTES, "{}", e.size());
        assert_eq!(header(&e, dlq_headers::TRUNCATED), Some(&b"true"[..]));
        assert_eq!(
            header(&e, dlq_headers::ORIGINAL_BYTES),
            Some(&b"999000"[..])
        );
        let sha = header(&e, dlq_headers::ORIGINAL_SHA256).expect("sha");
        assert_eq!(std::str::from_utf8(sha).expect("hex"), sha256_hex(&value));
        assert_eq!(sha.len(), 64);
        let kept = e.value.expect("prefix");
        assert!(kept.len() > 990_000 && value.starts_with(kept));
        assert_eq!(header(&e, "event-type"), Some(&b"LOGIN"[..]));
    }

    #[test]
    fn a_huge_key_and_huge_headers_are_cut_too() {
        let mut l = letter(vec![b'v'; 10], "m".into());
        l.key = Some(vec![b'k'; 600_000]);
        l.headers = (0..100)
            .map(|i| (format!("h{i}"), vec![b'h'; 10_000]))
            .collect();
        let e = l.encode(MAX_LETTER_BYTES);
        assert!(e.size() <= MAX_LETTER_BYTES, "{}", e.size());
        assert_eq!(e.key.map(<[u8]>::len), Some(TRUNCATED_KEY_BYTES));
        assert_eq!(e.value, Some(&b"vvvvvvvvvv"[..]));
        assert_eq!(header(&e, dlq_headers::ORIGINAL_BYTES), Some(&b"10"[..]));
    }

    /// The size Kafka's record format v2 gives a record: attributes, timestamp and offset
    /// deltas, key, value and each header with varint lengths (worked out apart from `size`).
    fn wire_size(e: &Encoded<'_>) -> usize {
        fn varint(n: usize) -> usize {
            let zigzag = (n as u64) << 1;
            (64 - zigzag.leading_zeros() as usize).div_ceil(7).max(1)
        }
        let bytes = |b: Option<&[u8]>| b.map_or(1, |b| varint(b.len()) + b.len());
        let headers: usize = e
            .headers
            .iter()
            .map(|(k, v)| varint(k.len()) + k.len() + varint(v.len()) + v.len())
            .sum();
        let body = 1 + 10 + 5 + bytes(e.key) + bytes(e.value) + varint(e.headers.len()) + headers;
        varint(body) + body
    }

    #[test]
    fn every_letter_fits_the_producers_limit_whatever_its_headers() {
        // Header counts and sizes from none to far past the limit, with values around it.
        let mut state = 0x9E37_79B9_7F4A_7C15_u64;
        let mut next = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let counts = [0, 1, 100, 1000, 10_000, 30_000, 100_000];
        for count in counts {
            for value_len in [0, 10, 500_000, 940_000, 999_000, 1_200_000] {
                let name_len = next(40);
                let header_len = [0, 1, next(100), next(20_000)][next(4)];
                let mut l = letter(vec![b'v'; value_len], "m".into());
                l.headers = (0..count)
                    .map(|i| (format!("{i:0name_len$}"), vec![b'h'; header_len]))
                    .collect();
                let e = l.encode(MAX_LETTER_BYTES);
                assert!(
                    e.size() <= MAX_LETTER_BYTES,
                    "{count} headers: {}",
                    e.size()
                );
                // In a batch of its own: 61 bytes of batch header around the record.
                assert!(
                    wire_size(&e) + 61 <= PRODUCER_MESSAGE_MAX_BYTES,
                    "{count} headers of {header_len} bytes, value {value_len}: {} on the wire",
                    wire_size(&e)
                );
            }
        }
    }

    #[test]
    fn sha256_is_the_standard_digest() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
