//! The user-activity event and every rule about it, in one place.
//!
//! The HTTP function validates requests with [`validate_request`], the Kafka-triggered function
//! re-validates what it reads with [`validate_event`], and the browser runs the very same code
//! compiled to WebAssembly (feature `wasm`, module `wasm`), so a client can never be told "valid"
//! by one side and "invalid" by the other.
//!
//! Layout: [`types`] holds the wire types, [`error`] the error vocabulary, `parse` a strict JSON
//! reader (duplicate keys, nesting), [`user_id`] the rules of a user id (which the types' schema
//! and the validators both use), [`validate`] the rules of a body, and [`json_schema`] the JSON Schema
//! generated from the types. This crate has no async runtime, AWS or Kafka dependency, so that it
//! compiles to `wasm32-unknown-unknown` unchanged.
#![warn(missing_docs)]

pub mod batch;
pub mod error;
mod parse;
pub mod types;
pub mod user_id;
pub mod validate;
pub mod vectors;
#[cfg(feature = "wasm")]
pub mod wasm;

pub use batch::{check_batch, validate_batch, Verdicts};
pub use error::{ErrorCode, FieldError, ValidationErrors};
pub use types::{
    format_timestamp, parse_timestamp, BatchRequest, EventRequest, EventType, Payload, UserEvent,
};
pub use user_id::check_user_id;
pub use validate::{check_event_type, check_request, validate_event, validate_request};

/// Version of the event format, sent as the `schema-version` Kafka header.
pub const SCHEMA_VERSION: &str = "1";
/// Largest accepted request or event body, checked before parsing.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Most event requests in one `POST /events/batch`.
pub const MAX_BATCH_ITEMS: usize = 500;
/// Largest accepted `POST /events/batch` body, checked before parsing.
pub const MAX_BATCH_BYTES: usize = 1024 * 1024;
/// Largest accepted payload, measured as compact JSON.
pub const MAX_PAYLOAD_BYTES: usize = 16 * 1024;
/// Deepest accepted payload nesting (an object holding scalars is depth 1).
pub const MAX_PAYLOAD_DEPTH: usize = 16;
/// Longest accepted user id, in Unicode scalar values.
pub const MAX_USER_ID_CHARS: usize = 128;
/// Most problems reported for one body; the rest are counted in one `too_many_errors` entry.
pub const MAX_REPORTED_ERRORS: usize = 20;

impl EventRequest {
    /// Accepts the request: a fresh v4 UUID and the current time, at millisecond precision.
    pub fn into_event(self) -> UserEvent {
        self.into_event_at(uuid::Uuid::new_v4(), chrono::Utc::now())
    }

    /// Accepts the request with a given identity and time (for tests and replays).
    pub fn into_event_at(
        self,
        event_id: uuid::Uuid,
        at: chrono::DateTime<chrono::Utc>,
    ) -> UserEvent {
        UserEvent {
            event_id,
            user_id: self.user_id,
            event_type: self.event_type,
            timestamp: validate::truncate_to_millis(at),
            payload: self.payload,
        }
    }
}

/// The JSON Schemas generated from the types, as checked in under `shared/schema/schemas/`.
///
/// JSON Schema cannot state every rule. The ones it cannot are published as extension keywords
/// with the same limits the Rust rules use, so that other validators can implement them:
/// `x-maxBytes` (on the root: the body text's UTF-8 length; on `payload`: its compact JSON
/// length), `x-maxDepth` (nesting of `payload`) and `x-ijson`: the body text keeps the I-JSON
/// restrictions of RFC 7493 §2.1-2.3 that the strict reader enforces (no object repeats a name,
/// no lone surrogate, every number within the range of a 64-bit float).
pub mod json_schema {
    use crate::{BatchRequest, EventRequest, UserEvent};
    use crate::{MAX_BATCH_BYTES, MAX_BODY_BYTES, MAX_PAYLOAD_BYTES, MAX_PAYLOAD_DEPTH};
    use serde_json::json;

    /// A UUID in its canonical hyphenated form (any case), as `eventId` must be.
    pub const UUID_PATTERN: &str =
        "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";
    /// The shape of an RFC 3339 date-time (the calendar itself is checked by the Rust rules).
    pub const RFC3339_PATTERN: &str =
        "^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:[.][0-9]+)?(?:[Zz]|[+-][0-9]{2}:[0-9]{2})$";

    /// File name and pretty-printed schema of every published type.
    pub fn all() -> Vec<(&'static str, String)> {
        vec![
            ("event-request.schema.json", render::<EventRequest>()),
            ("user-event.schema.json", render::<UserEvent>()),
            ("batch-request.schema.json", render::<BatchRequest>()),
        ]
    }

    /// Adds the limits JSON Schema cannot express to a body schema (see the module docs).
    pub fn body_limits(schema: &mut schemars::Schema) {
        schema.insert("x-maxBytes".into(), json!(MAX_BODY_BYTES));
        schema.insert("x-ijson".into(), json!(true));
        if let Some(payload) = schema
            .get_mut("properties")
            .and_then(|p| p.get_mut("payload"))
            .and_then(|p| p.as_object_mut())
        {
            payload.insert("x-maxBytes".into(), json!(MAX_PAYLOAD_BYTES));
            payload.insert("x-maxDepth".into(), json!(MAX_PAYLOAD_DEPTH));
        }
    }

    /// The batch body's limits: its size in bytes and I-JSON; each item carries its own.
    pub fn batch_limits(schema: &mut schemars::Schema) {
        schema.insert("x-maxBytes".into(), json!(MAX_BATCH_BYTES));
        schema.insert("x-ijson".into(), json!(true));
    }

    fn render<T: schemars::JsonSchema>() -> String {
        let schema = schemars::schema_for!(T);
        let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
        text.push('\n');
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_request_gets_v4_id_and_millisecond_utc_time() {
        let req = validate_request(br#"{"userId":"u1","eventType":"LOGIN"}"#).expect("valid");
        let event = req.into_event();
        assert_eq!(event.event_id.get_version_num(), 4);
        let json = serde_json::to_value(&event).expect("serializable");
        let ts = json["timestamp"].as_str().expect("string timestamp");
        assert_eq!(ts.len(), "2026-11-25T16:07:04.123Z".len(), "{ts}");
        assert!(ts.ends_with('Z'));
        assert!(json.get("payload").is_none());
    }

    #[test]
    fn event_round_trips_through_its_own_validator() {
        let req = validate_request(
            br#"{"userId":"u1","eventType":"PRODUCT_VIEW","payload":{"sku":"A1","n":[1,2]}}"#,
        )
        .expect("valid");
        let event = req.into_event();
        let bytes = serde_json::to_vec(&event).expect("serializable");
        let back = validate_event(&bytes).expect("own events are valid");
        assert_eq!(back, event);
    }

    #[test]
    fn numbers_survive_every_hop_unchanged() {
        // The API parses the request, Kafka carries the text, the processor parses it again:
        // every number must come out as it went in (serde_json's `float_roundtrip`; found by
        // fuzzing: a long integer literal came back one unit in the last place off).
        let body = br#"{"userId":"u","eventType":"LOGIN","payload":{"a":1844637203685477589223372336872336854775809,"b":0.1,"c":-0,"d":5e-324}}"#;
        let event = validate_request(body).expect("valid").into_event();
        let hop = serde_json::to_vec(&event).expect("serializable");
        let again = validate_event(&hop).expect("valid");
        assert_eq!(again, event);
        assert_eq!(serde_json::to_vec(&again).expect("serializable"), hop);
    }

    #[test]
    fn two_events_never_share_an_id() {
        let req = EventRequest {
            user_id: "u".into(),
            event_type: EventType::Logout,
            payload: None,
        };
        assert_ne!(req.clone().into_event().event_id, req.into_event().event_id);
    }
}
