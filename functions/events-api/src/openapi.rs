//! The OpenAPI 3.1 document of the HTTP API, generated from the same types the handlers use
//! (request and event from `event-schema`, the error body from [`crate::error`], the limits from
//! the crates that enforce them) and checked in as `docs/openapi.json`; a test fails when the
//! file and the code drift apart, and `make http-fuzz` drives the server from it.

use crate::error::{ErrorBody, RETRY_AFTER_SECS};
use crate::routes::{
    BODY_READ_TIMEOUT, DEFAULT_LIMIT, HEALTH_MAX_AGE, LIST_DEADLINE, MAX_IDEMPOTENCY_KEY_BYTES,
    MAX_PAGE_BYTES,
};
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
    let unauthorized = json!({
        "description": "No credentials, or credentials the API refuses (`unauthorized`): with AUTH_MODE=jwt a missing, malformed, expired, wrongly signed token, or one for another issuer or audience; with AUTH_MODE=iam a request the Function URL did not sign-check.",
        "headers": {"WWW-Authenticate": {
            "description": "RFC 6750's challenge: `Bearer realm=\"events-api\"` when no token was sent, with `error=\"invalid_token\"` and an `error_description` when one was refused; `AWS4-HMAC-SHA256` with AUTH_MODE=iam.",
            "schema": {"type": "string"}, "required": true,
        }},
        "content": {"application/json": {"schema": error}},
    });
    let identity_unavailable = " With AUTH_MODE=jwt, also when the issuer's keys could not be fetched to check a token that names a key not held yet (`identity_provider_unavailable`).";
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "User-activity events",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Accepts user-activity events into Kafka (201 only once the broker acknowledged the event), lists the events the processor stored, and reports the health of both dependencies. Every error body has `error` (a stable code) and `message`; validation errors add `details`, at most 20 problems plus one `too_many_errors` entry.\n\nWho may call depends on the deployment's AUTH_MODE: `jwt` (an OpenID Connect bearer token; a user writes only its own events and lists only its own, unless its token has the read-all scope, `events:read:all` by default), `iam` (a SigV4-signed request through an AWS_IAM Function URL; the signer may write and read everything) or `none` (local development: anyone).",
        },
        "security": [{"bearerAuth": []}, {"sigv4": []}, {}],
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
                    "401": unauthorized.clone(),
                    "403": problem("The caller may not send this event (`forbidden`): with AUTH_MODE=jwt, `userId` is not the token's user."),
                    "408": problem(&format!("The body did not arrive within {} s of the headers (`request_timeout`; plain server only).", BODY_READ_TIMEOUT.as_secs())),
                    "422": problem("The Idempotency-Key was used before with another body (`idempotency_key_reused`)."),
                    "413": problem(&format!("The body is over {MAX_BODY_BYTES} bytes (`payload_too_large`).")),
                    "415": problem("Content-Type is not application/json (`unsupported_media_type`)."),
                    "503": unavailable(&format!("Kafka did not acknowledge the event in time (`kafka_unavailable`): not accepted, though it may still be stored (retry with an Idempotency-Key to be sure of one event); or, with an Idempotency-Key, the store that records keys did not answer (`store_unavailable`): nothing was published.{identity_unavailable}")),
                },
            }},
            "/events/processed": {"get": {
                "operationId": "listProcessedEvents",
                "summary": "Stored events, newest first (by timestamp, then eventId), a page at a time.",
                "parameters": [
                    {"name": "limit", "in": "query", "description": "Page size.",
                        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE, "default": DEFAULT_LIMIT}},
                    {"name": "userId", "in": "query", "description": "Only this user's events. With AUTH_MODE=jwt a token without the read-all scope lists only its own user's events, whether or not it gives userId, and may not give another.",
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
                    "401": unauthorized,
                    "403": problem("The caller may not list these events (`forbidden`): with AUTH_MODE=jwt, `userId` names another user and the token lacks the read-all scope."),
                    "503": unavailable(&format!("The store did not answer within {} s (`store_unavailable`).{identity_unavailable}", LIST_DEADLINE.as_secs())),
                },
            }},
            "/health": {"get": {
                "operationId": "health",
                "summary": format!("Each dependency checked, within 2 s; a result is answered again for {} s. Open to anyone.", HEALTH_MAX_AGE.as_secs()),
                "security": [],
                "responses": {
                    "200": {"description": "Kafka and the store answer.",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}}},
                    "503": {"description": "A dependency is failing (`dependency_unavailable`, `failing` names it).",
                        "headers": retry_after,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}}},
                },
            }},
        },
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                    "description": "AUTH_MODE=jwt: an access or ID token from the OpenID Connect issuer JWT_ISSUER (Amazon Cognito or any other), signed RS256 or ES256, for audience JWT_AUDIENCE. The user is its JWT_USER_CLAIM (`sub`)."},
                "sigv4": {"type": "apiKey", "in": "header", "name": "Authorization",
                    "description": "AUTH_MODE=iam: a request signed with AWS Signature Version 4 for the `lambda` service, by a principal allowed lambda:InvokeFunctionUrl and lambda:InvokeFunction."},
            },
        },
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
    fn every_route_of_the_router_is_documented_and_nothing_else() {
        use crate::routes::Route;
        let doc = super::document();
        for route in Route::ALL {
            let method = route.method().as_str().to_lowercase();
            assert!(
                doc["paths"][route.path()][&method].is_object(),
                "{method} {}",
                route.path()
            );
        }
        let paths = doc["paths"].as_object().expect("paths");
        for (path, operations) in paths {
            for method in operations.as_object().expect("operations").keys() {
                assert!(
                    Route::ALL
                        .iter()
                        .any(|r| r.path() == path
                            && r.method().as_str().eq_ignore_ascii_case(method)),
                    "{method} {path} is documented but not routed"
                );
            }
        }
        let request = &doc["components"]["schemas"]["EventRequest"];
        assert_eq!(request["x-maxBytes"], event_schema::MAX_BODY_BYTES);
    }
}
