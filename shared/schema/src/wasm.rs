//! JavaScript bindings (feature `wasm`): the browser calls the same rules as the server.
//!
//! `web/pkg-entry/index.js` is the package's entry: it re-exports these and adds `validate` and
//! `validateObject`, which read [`check`]'s compact answer.

use crate::{check_request, EventType, SCHEMA_VERSION};
use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &'static str = r#"
/** One problem with one field; `code` is stable, `message` is for people. */
export interface FieldError {
  field: string;
  code:
    | "malformed_json" | "not_an_object" | "required" | "wrong_type" | "empty"
    | "not_allowed" | "too_long" | "too_large" | "too_deep" | "unknown_field"
    | "duplicate_key" | "invalid_format" | "out_of_range" | "too_many_errors";
  message: string;
}
/** The verdict on a request body (from `validate` / `validateObject` in `index.js`). */
export interface Verdict {
  ok: boolean;
  errors: FieldError[];
}
export type EventType = "LOGIN" | "LOGOUT" | "PRODUCT_VIEW";
/** Body of POST /events/generate. */
export interface EventRequest {
  userId: string;
  eventType: EventType;
  payload?: Record<string, unknown> | null;
}
/** An accepted event, as returned with 201 and listed by GET /events/processed. */
export interface UserEvent extends EventRequest {
  eventId: string;
  timestamp: string;
}
"#;

/// Validates a request body given as JSON text, exactly as `POST /events/generate` does, and
/// answers compactly: nothing when the body is valid, otherwise its problems as one JSON array
/// text (`FieldError[]`). The package's `validate(text)` and `validateObject(value)` (`index.js`)
/// wrap this into a `Verdict`; a valid body costs no object built on either side.
#[wasm_bindgen]
pub fn check(json: &str) -> Option<String> {
    match check_request(json.as_bytes()) {
        Ok(_) => None,
        // A list of plain strings always serializes; the fallback is one error saying so.
        Err(errors) => Some(serde_json::to_string(errors.errors()).unwrap_or_else(|_| {
            r#"[{"field":"body","code":"malformed_json","message":"the body could not be validated"}]"#
                .to_owned()
        })),
    }
}

/// The accepted event types, in documentation order.
#[wasm_bindgen(js_name = eventTypes, unchecked_return_type = "EventType[]")]
pub fn event_types() -> Vec<String> {
    EventType::ALL
        .iter()
        .map(|t| t.as_str().to_owned())
        .collect()
}

/// The event format version (the `schema-version` Kafka header).
#[wasm_bindgen(js_name = schemaVersion)]
pub fn schema_version() -> String {
    SCHEMA_VERSION.to_owned()
}
