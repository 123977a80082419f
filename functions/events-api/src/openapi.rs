//! The OpenAPI 3.1 document of the HTTP API, generated from the same types the handlers use
//! (request and event from `event-schema`, the error body from [`crate::error`], the limits from
//! the crates that enforce them) and checked in as `docs/openapi.json`; a test fails when the
//! file and the code drift apart, and `make http-fuzz` drives the server from it.

use crate::error::{ErrorBody, RETRY_AFTER_SECS};
use crate::routes::{DEFAULT_LIMIT, LIST_DEADLINE, MAX_IDEMPOTENCY_KEY_BYTES, MAX_PAGE_BYTES};
use event_schema::{EventRequest, EventType, UserEvent, MAX_BODY_BYTES};
use event_store::MAX_PAGE_SIZE;
use schemars::generate::SchemaSettings;
use serde_json::{json, Value};

/// The document, as JSON.
pub fn document() -> Value {
    let mut generator = SchemaSettings::draft2020_12()
        .with(|s| s.definitions_path = "/components/schemas".into())
        .into_generator();
    let request = generator.subschema_for::<EventRequest>();
    let event = generator.subschema_for::<UserEvent>();
    let error = generator.subschema_for::<ErrorBody>();
    let event_type = generator.subschema_for::<EventType>();
    let mut schemas = serde_json::Map::new();
    for (name, schema) in generator.take_definitions(true) {
        schemas.insert(name, schema);
    }
    // The userId filter follows the same rules as the field.
    let user_id = schemas["EventRequest"]["properties"]["userId"].clone();
    schemas.insert("Health".into(), health_schema());

    let retry_after = json!({"Retry-After": {
        "description": format!("Seconds to wait before retrying ({RETRY_AFTER_SECS})."),
        "schema": {"type": "integer", "minimum": 1},
        "required": true,
    }});
    let problem = |what: &str| json!({"description": what, "content": {"application/json": {"schema": error}}});
    let unavailable = |what: &str| {
        let mut r = problem(what);
        r["headers"] = retry_after.clone();
        r
    };
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "User-activity events",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Accepts user-activity events into Kafka (201 only once the broker acknowledged the event), lists the events the processor stored, and reports the health of both dependencies. Every error body has `error` (a stable code) and `message`; validation errors add `details`, at most 20 problems plus one `too_many_errors` entry.",
        },
        "paths": {
            "/events/generate": {"post": {
                "operationId": "generateEvent",
                "summary": "Accept an event: validate it, give it an eventId and a timestamp, publish it.",
                "parameters": [
                    {"name": "Idempotency-Key", "in": "header", "required": false,
                        "description": format!("Optional, chosen by the client (a UUID is a good key): 1 to {MAX_IDEMPOTENCY_KEY_BYTES} printable ASCII characters, bare or as a structured-field string (`\"…\"`), scoped to the body's `userId` and remembered for `IDEMPOTENCY_TTL_SECONDS` (24 h). A retry with the same key and body never creates a second event: it gets the first answer again (`Idempotent-Replayed: true`), or, when the first attempt ended in 503 or never answered, the same event is published again and stored once."),
                        // Exactly what the server accepts: the bare form (printable ASCII, no space
                        // at either end, which HTTP would trim, and no quote first), or the quoted
                        // form; either holds 1 to MAX_IDEMPOTENCY_KEY_BYTES characters.
                        "schema": {"type": "string", "minLength": 1, "maxLength": MAX_IDEMPOTENCY_KEY_BYTES + 2,
                            "pattern": format!(
                                "^([!#-~]([ -~]{{0,{}}}[!-~])?|\"[ -~]{{1,{}}}\")$",
                                MAX_IDEMPOTENCY_KEY_BYTES - 2,
                                MAX_IDEMPOTENCY_KEY_BYTES
                            )}},
                    {"name": "traceparent", "in": "header", "required": false,
                        "description": "Optional W3C Trace Context (`00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`): the event's Kafka record carries the same trace id, and both functions log it beside the eventId. Any other value starts a new trace, as the specification asks; it never fails the request, so the schema does not constrain it.",
                        "schema": {"type": "string"}},
                ],
                "requestBody": {"required": true, "content": {"application/json": {"schema": request}}},
                "responses": {
                    "201": {"description": "Kafka acknowledged the event; it will be stored exactly once.",
                        "headers": {"Idempotent-Replayed": {
                            "description": "`true` when this answer repeats the one given earlier for the same Idempotency-Key: the event was published then, not now.",
                            "schema": {"type": "string", "enum": ["true"]},
                        }},
                        "content": {"application/json": {"schema": event}}},
                    "400": problem("The body breaks the rules (`validation_failed`, with `details`; a malformed Idempotency-Key is reported there too, as field `Idempotency-Key`), or could not be read (`bad_request`)."),
                    "409": {
                        "description": "A request with the same Idempotency-Key is still being published (`idempotency_in_progress`): retry after Retry-After seconds.",
                        "headers": {"Retry-After": {"description": "Seconds until the earlier request's lease ends.", "schema": {"type": "integer", "minimum": 1}, "required": true}},
                        "content": {"application/json": {"schema": error}},
                    },
                    "422": problem("The Idempotency-Key was used before with another body (`idempotency_key_reused`)."),
                    "413": problem(&format!("The body is over {MAX_BODY_BYTES} bytes (`payload_too_large`).")),
                    "415": problem("Content-Type is not application/json (`unsupported_media_type`)."),
                    "503": unavailable("Kafka did not acknowledge the event in time (`kafka_unavailable`): not accepted, though it may still be stored (retry with an Idempotency-Key to be sure of one event); or, with an Idempotency-Key, the store that records keys did not answer (`store_unavailable`): nothing was published."),
                },
            }},
            "/events/processed": {"get": {
                "operationId": "listProcessedEvents",
                "summary": "Stored events, newest first (by timestamp, then eventId), a page at a time.",
                "parameters": [
                    {"name": "limit", "in": "query", "description": "Page size.",
                        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE, "default": DEFAULT_LIMIT}},
                    {"name": "userId", "in": "query", "description": "Only this user's events.",
                        "schema": user_id},
                    {"name": "eventType", "in": "query", "description": "Only this type.", "schema": event_type},
                    {"name": "cursor", "in": "query", "description": "Continue after the previous page: take it from the Link header.",
                        "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": {
                        "description": format!("A page of events: at most `limit`, and at most {MAX_PAGE_BYTES} bytes (a page that would be larger ends early, and its Link continues after its last event)."),
                        "headers": {"Link": {
                            "description": "`<?limit=…&cursor=…>; rel=\"next\"` when another page exists: a reference relative to the URL called.",
                            "schema": {"type": "string"},
                        }},
                        "content": {"application/json": {"schema": {"type": "array", "items": event, "maxItems": MAX_PAGE_SIZE}}},
                    },
                    "400": problem("A query parameter is unknown, repeated or malformed (`validation_failed`, with `details`)."),
                    "503": unavailable(&format!("The store did not answer within {} s (`store_unavailable`).", LIST_DEADLINE.as_secs())),
                },
            }},
            "/health": {"get": {
                "operationId": "health",
                "summary": "Each dependency checked, within 2 s.",
                "responses": {
                    "200": {"description": "Kafka and the store answer.",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}}},
                    "503": {"description": "A dependency is failing (`dependency_unavailable`, `failing` names it).",
                        "headers": retry_after,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}}},
                },
            }},
        },
        "components": {"schemas": schemas},
    })
}

/// `GET /health`'s body (built field by field in `routes::health`; the fuzzing run checks every
/// answer against this). Each dependency is only `ok` or `failing`: details go to the log.
fn health_schema() -> Value {
    let dependency = json!({"enum": ["ok", "failing"]});
    json!({
        "type": "object",
        "required": ["status", "kafka", "store"],
        "properties": {
            "status": {"enum": ["ok", "unavailable"]},
            "error": {"const": "dependency_unavailable"},
            "message": {"type": "string"},
            "failing": {"type": "array", "items": {"enum": ["kafka", "store"]}},
            "kafka": dependency,
            "store": dependency,
        },
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    #[test]
    fn the_checked_in_document_is_current() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
        let mut generated = serde_json::to_string_pretty(&super::document()).expect("json");
        generated.push('\n');
        if std::env::var_os("UPDATE_SCHEMAS").is_some() {
            std::fs::write(&path, &generated).expect("write docs/openapi.json");
        }
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            on_disk == generated,
            "docs/openapi.json is stale: run `make schemas`"
        );
    }

    #[test]
    fn every_route_of_the_router_is_documented() {
        let doc = super::document();
        for path in ["/events/generate", "/events/processed", "/health"] {
            assert!(doc["paths"][path].is_object(), "{path}");
        }
        let request = &doc["components"]["schemas"]["EventRequest"];
        assert_eq!(request["x-maxBytes"], event_schema::MAX_BODY_BYTES);
    }
}
