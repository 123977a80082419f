//! JavaScript bindings (feature `wasm`): the browser calls the same rules as the server.

use crate::{validate_request, EventType, FieldError, SCHEMA_VERSION};
use serde::Serialize;
use wasm_bindgen::prelude::*;

#[derive(Serialize)]
struct Verdict {
    ok: bool,
    errors: Vec<FieldError>,
}

/// Validates a request body given as JSON text: `{ ok, errors: [{ field, code, message }] }`.
#[wasm_bindgen]
pub fn validate(json: &str) -> Result<JsValue, JsValue> {
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

/// The accepted event types, in documentation order.
#[wasm_bindgen(js_name = eventTypes)]
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
