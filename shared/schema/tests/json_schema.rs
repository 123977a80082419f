//! The checked-in JSON Schemas must be what the types generate. Run with `UPDATE_SCHEMAS=1`
//! (or `make schemas`) to rewrite them after changing a type.
#![cfg(not(target_arch = "wasm32"))]

use std::path::Path;

#[test]
fn checked_in_json_schemas_are_current() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
    let update = std::env::var_os("UPDATE_SCHEMAS").is_some();
    let mut stale = Vec::new();
    for (name, generated) in event_schema::json_schema::all() {
        let path = dir.join(name);
        if update {
            std::fs::write(&path, &generated).expect("write schema");
            continue;
        }
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        if on_disk != generated {
            stale.push(path.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "stale JSON Schema files (run `make schemas`): {stale:?}"
    );
}

#[test]
fn request_schema_states_the_limits() {
    use event_schema::{MAX_BODY_BYTES, MAX_PAYLOAD_BYTES, MAX_PAYLOAD_DEPTH, MAX_USER_ID_CHARS};
    let (_, request) = &event_schema::json_schema::all()[0];
    let schema: serde_json::Value = serde_json::from_str(request).expect("json");
    assert_eq!(schema["additionalProperties"], false);
    assert_eq!(
        schema["properties"]["userId"]["maxLength"],
        MAX_USER_ID_CHARS
    );
    assert_eq!(schema["x-maxBytes"], MAX_BODY_BYTES);
    assert_eq!(schema["x-ijson"], true);
    assert_eq!(
        schema["properties"]["payload"]["x-maxBytes"],
        MAX_PAYLOAD_BYTES
    );
    assert_eq!(
        schema["properties"]["payload"]["x-maxDepth"],
        MAX_PAYLOAD_DEPTH
    );
    let required = schema["required"].as_array().expect("required list");
    assert!(required.contains(&"userId".into()) && required.contains(&"eventType".into()));
}

#[test]
fn batch_schema_states_the_limits_and_holds_the_request_schema() {
    use event_schema::{MAX_BATCH_BYTES, MAX_BATCH_ITEMS};
    let all = event_schema::json_schema::all();
    let (_, batch) = all
        .iter()
        .find(|(name, _)| *name == "batch-request.schema.json")
        .expect("published");
    let schema: serde_json::Value = serde_json::from_str(batch).expect("json");
    assert_eq!(schema["additionalProperties"], false);
    assert_eq!(schema["x-maxBytes"], MAX_BATCH_BYTES);
    let events = &schema["properties"]["events"];
    assert_eq!(events["minItems"], 1);
    assert_eq!(events["maxItems"], MAX_BATCH_ITEMS);
    assert_eq!(events["items"]["$ref"], "#/$defs/EventRequest");
    assert_eq!(schema["required"], serde_json::json!(["events"]));
}
