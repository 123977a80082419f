//! JavaScript bindings (feature `wasm`): the browser calls the same rules as the server.
//!
//! `web/pkg-entry/index.js` is the package's entry: it re-exports the public ones ([`check`],
//! `eventTypes`, `schemaVersion`) and adds `validate` and `validateObject`. Those write the body's
//! UTF-8 bytes into a buffer in the module's memory that lives from call to call
//! ([`input_buffer`]) and ask [`check_input`] for the verdict alone, so that a call allocates
//! nothing to pass the text and a verdict is one number; an invalid verdict's errors come from
//! [`check`] when they are first read.

use crate::{check_batch, check_request, EventType, SCHEMA_VERSION};
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
/** The verdict on a batch body (from `validateBatch`): `ok` and `errors` for the batch's own
 *  rules (when they refuse it, `items` is empty), and one verdict per item, in order. */
export interface BatchVerdict {
  ok: boolean;
  errors: FieldError[];
  items: Verdict[];
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
/// read an invalid verdict's `errors` from this.
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

/// Validates a batch body given as JSON text, exactly as `POST /events/batch` does: the batch's
/// own verdict and each item's, as one JSON text (`BatchVerdict`), which the package's
/// `validateBatch(text)` (`index.js`) parses.
#[wasm_bindgen(js_name = checkBatch)]
pub fn check_batch_text(json: &str) -> String {
    let verdict = |errors: &[crate::FieldError]| serde_json::json!({"ok": errors.is_empty(), "errors": errors});
    let answer = match check_batch(json.as_bytes()) {
        Err(errors) => {
            let mut whole = verdict(errors.errors());
            whole["items"] = serde_json::json!([]);
            whole
        }
        Ok(items) => {
            let items: Vec<serde_json::Value> = items
                .iter()
                .map(|item| match item {
                    Ok(()) => verdict(&[]),
                    Err(errors) => verdict(errors.errors()),
                })
                .collect();
            serde_json::json!({"ok": true, "errors": [], "items": items})
        }
    };
    answer.to_string()
}

thread_local! {
    /// The text `index.js` hands in: JavaScript writes a body's UTF-8 bytes here and then asks
    /// [`check_input`] about them, so a call allocates and frees nothing to pass the string.
    static INPUT: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Makes the input buffer hold at least `len` bytes (keeping what it holds) and answers its
/// address, which stays valid until the next call that grows it.
#[wasm_bindgen(js_name = inputBuffer, skip_typescript)]
pub fn input_buffer(len: usize) -> *mut u8 {
    INPUT.with_borrow_mut(|input| {
        if input.len() < len {
            input.resize(len.next_power_of_two(), 0);
        }
        input.as_mut_ptr()
    })
}

/// The verdict on the first `len` bytes of the input buffer, as [`check`] gives it for the same
/// text: 0 when they are a valid request body, else how many problems it lists.
#[wasm_bindgen(js_name = checkInput, skip_typescript)]
pub fn check_input(len: usize) -> usize {
    INPUT.with_borrow(
        |input| match check_request(&input[..len.min(input.len())]) {
            Ok(()) => 0,
            Err(errors) => errors.errors().len(),
        },
    )
}

/// The module's memory, where [`input_buffer`] lives.
#[wasm_bindgen(js_name = wasmMemory, skip_typescript)]
pub fn wasm_memory() -> JsValue {
    wasm_bindgen::memory()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vectors::{expand, FILE};

    /// Writes `body` into the input buffer as `index.js` does.
    fn put(body: &str) -> usize {
        let at = input_buffer(body.len());
        INPUT.with_borrow_mut(|input| {
            assert_eq!(input.as_mut_ptr(), at);
            input[..body.len()].copy_from_slice(body.as_bytes());
        });
        body.len()
    }

    #[test]
    fn the_input_buffer_gives_checks_verdict_on_every_request_vector() {
        let file: serde_json::Value = serde_json::from_str(FILE).expect("vectors.json parses");
        let vectors = file["vectors"].as_array().expect("a list of vectors");
        let mut seen = 0;
        // Long bodies first, so that later ones leave old bytes behind them in the buffer.
        let mut bodies: Vec<String> = vectors
            .iter()
            .filter(|v| v["kind"] == "request")
            .map(|v| expand(v["input"].as_str().expect("input text")))
            .collect();
        bodies.sort_by_key(|b| std::cmp::Reverse(b.len()));
        for body in &bodies {
            let expected = check(body).map_or(0, |text| {
                serde_json::from_str::<Vec<serde_json::Value>>(&text)
                    .expect("a JSON array of errors")
                    .len()
            });
            assert_eq!(check_input(put(body)), expected, "{body:.80}");
            seen += 1;
        }
        assert!(seen >= 40, "{seen} request vectors");
    }
}
