//! JavaScript bindings (feature `wasm`): the browser calls the same rules as the server.

use crate::{validate_request, EventType, FieldError, SCHEMA_VERSION};
use serde::Serialize;
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
/** The verdict on a request body. */
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

#[derive(Serialize)]
struct Verdict {
    ok: bool,
    errors: Vec<FieldError>,
}

fn verdict(json: &str) -> Result<JsValue, JsValue> {
    let verdict = match validate_request(json.as_bytes()) {
        Ok(_) => Verdict {
            ok: true,
            errors: Vec::new(),
        },
        Err(errors) => Verdict {
            ok: false,
            errors: errors.into_vec(),
        },
    };
    let serializer = serde_wasm_bindgen::Serializer::json_compatible();
    verdict.serialize(&serializer).map_err(JsValue::from)
}

/// Validates a request body given as JSON text, exactly as `POST /events/generate` does.
#[wasm_bindgen(unchecked_return_type = "Verdict")]
pub fn validate(json: &str) -> Result<JsValue, JsValue> {
    verdict(json)
}

/// Validates a JavaScript value as a request body (it is serialized with `JSON.stringify`, as
/// `fetch` would send it).
#[wasm_bindgen(js_name = validateObject, unchecked_return_type = "Verdict")]
pub fn validate_object(value: JsValue) -> Result<JsValue, JsValue> {
    let text = js_sys::JSON::stringify(&value)?;
    match text.as_string() {
        Some(json) => verdict(&json),
        // `JSON.stringify(undefined)` and functions produce no text: not a body at all.
        None => verdict(""),
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
