//! The OpenAPI 3.1 document of the HTTP API, generated from the same types the handlers use
//! (request and event from `event-schema`, the error body from [`crate::error`], the limits from
//! the crates that enforce them) and checked in as `docs/openapi.json`; a test fails when the
//! file and the code drift apart, and `make http-fuzz` drives the server from it.

use crate::error::{ApiError, ErrorBody, RETRY_AFTER_SECS};
use crate::routes::{BatchAnswer, ErasureAnswer, ERASE_CHUNK, ERASE_DEADLINE};
use crate::routes::{
    BODY_READ_TIMEOUT, DEFAULT_LIMIT, HEALTH_MAX_AGE, LIST_DEADLINE, MAX_CONCURRENT_LISTINGS,
    MAX_IDEMPOTENCY_KEY_BYTES, MAX_PAGE_BYTES,
};
use event_schema::{
    BatchRequest, EventRequest, EventType, UserEvent, MAX_BATCH_BYTES, MAX_BATCH_ITEMS,
    MAX_BODY_BYTES,
};
use event_store::MAX_PAGE_SIZE;
use schemars::generate::SchemaSettings;
use serde_json::{json, Value};

/// A cursor as the `Link` header carries one (the position after an event of 2026-11-18): the
/// example of the `cursor` parameter, which a test decodes.
const CURSOR_EXAMPLE: &str = "MTc5NTAwMDAwMDEyMy4wMTkxZjNiMi03YzRlLTdhNTEtOWIwZS00ZjNjMmQxYTBiOWM";
/// The shortest cursor the server reads: unpadded URL-safe base64 of `<milliseconds>.<event id>`,
/// at least `0.` and a UUID's 32 hex digits, 34 bytes, so 46 characters.
const CURSOR_MIN_LENGTH: usize = 46;

/// The document, as JSON.
pub fn document() -> Value {
    let mut generator = SchemaSettings::draft2020_12()
        .with(|s| s.definitions_path = "/components/schemas".into())
        .into_generator();
    let request = generator.subschema_for::<EventRequest>();
    let event = generator.subschema_for::<UserEvent>();
    let error = generator.subschema_for::<ErrorBody>();
    let event_type = generator.subschema_for::<EventType>();
    let batch = generator.subschema_for::<BatchRequest>();
    let batch_results = generator.subschema_for::<BatchAnswer>();
    let erasure = generator.subschema_for::<ErasureAnswer>();
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
    // Each error answer names the codes it can carry (`error`), so that a client, or one
    // generated from this document, can tell them apart; the fuzzing run holds the server to it.
    let coded =
        |codes: &[&str]| json!({"allOf": [error, {"properties": {"error": {"enum": codes}}}]});
    let problem = |what: &str, codes: &[&str]| json!({"description": what, "content": {"application/json": {"schema": coded(codes)}}});
    let unavailable = |what: &str, codes: &[&str]| {
        let mut r = problem(what, codes);
        r["headers"] = retry_after.clone();
        r
    };
    let example = |e: ApiError| {
        let (_, code) = e.status_and_code();
        json!({"error": code, "message": e.to_string()})
    };
    let unauthorized = json!({
        "description": "No credentials, or credentials the API refuses (`unauthorized`): with AUTH_MODE=jwt a missing, malformed, expired, wrongly signed token, or one for another issuer or audience; with AUTH_MODE=iam a request the Function URL did not sign-check.",
        "headers": {"WWW-Authenticate": {
            "description": "RFC 6750's challenge: `Bearer realm=\"events-api\"` when no token was sent, with `error=\"invalid_token\"` and an `error_description` when one was refused; `AWS4-HMAC-SHA256` with AUTH_MODE=iam.",
            "schema": {"type": "string"}, "required": true,
        }},
        "content": {"application/json": {"schema": coded(&["unauthorized"])}},
    });
    // Exactly what the server accepts: the bare form (printable ASCII, no space at either end,
    // which HTTP would trim, and no quote first), or the quoted form; either holds 1 to
    // MAX_IDEMPOTENCY_KEY_BYTES characters.
    let idempotency_key = json!({"type": "string", "minLength": 1, "maxLength": MAX_IDEMPOTENCY_KEY_BYTES + 2,
    "pattern": format!(
        "^([!#-~]([ -~]{{0,{}}}[!-~])?|\"[ -~]{{1,{}}}\")$",
        MAX_IDEMPOTENCY_KEY_BYTES - 2,
        MAX_IDEMPOTENCY_KEY_BYTES
    )});
    let identity_unavailable = " With AUTH_MODE=jwt, also when the issuer's keys could not be fetched to check a token that names a key not held yet (`identity_provider_unavailable`).";
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "User-activity events",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Accepts user-activity events into Kafka (201 only once the broker acknowledged the event), lists the events the processor stored, and reports the health of both dependencies. Every error body has `error` (a stable code) and `message`; validation errors add `details`, at most 20 problems plus one `too_many_errors` entry.\n\nWho may call depends on the deployment's AUTH_MODE: `jwt` (an OpenID Connect bearer token; a user writes only its own events and lists only its own, unless the user is a member of the read-all group its identity provider puts in the token's groups claim, JWT_READ_ALL_GROUP; a scope never grants it), `iam` (a SigV4-signed request through an AWS_IAM Function URL; the signer, if IAM_ALLOWED_PRINCIPALS allows it, may write and read everything) or `none` (local development: anyone).",
        },
        "security": [{"bearerAuth": []}, {"sigv4": []}, {}],
        "paths": {
            "/events/generate": {"post": {
                "operationId": "generateEvent",
                "summary": "Accept an event: validate it, give it an eventId and a timestamp, publish it.",
                "parameters": [
                    {"name": "Idempotency-Key", "in": "header", "required": false,
                        "description": format!("Optional, chosen by the client (a UUID is a good key): 1 to {MAX_IDEMPOTENCY_KEY_BYTES} printable ASCII characters, bare or as a structured-field string (`\"…\"`), scoped to the body's `userId` and remembered for `IDEMPOTENCY_TTL_SECONDS` (24 h). A retry with the same key and body never creates a second event: it gets the first answer again (`Idempotent-Replayed: true`), or, when the first attempt ended in 503 or never answered, the same event is published again and stored once."),
                        "schema": idempotency_key.clone(),
                        "example": "0b6e1f0e-3c1d-4a3b-9a57-2f1e5c8d7a10"},
                    {"name": "traceparent", "in": "header", "required": false,
                        "description": "Optional W3C Trace Context (`00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`): the event's Kafka record carries the same trace id, and both functions log it beside the eventId. Any other value starts a new trace, as the specification asks; it never fails the request, so the schema does not constrain it.",
                        "schema": {"type": "string"}},
                ],
                "requestBody": {"required": true, "content": {"application/json": {"schema": request,
                    "example": {"userId": "alice", "eventType": "LOGIN", "payload": {"page": "/home"}}}}},
                "responses": {
                    "201": {"description": "Kafka acknowledged the event; it will be stored exactly once.",
                        "headers": {"Idempotent-Replayed": {
                            "description": "`true` when this answer repeats the one given earlier for the same Idempotency-Key: the event was published then, not now.",
                            "schema": {"type": "string", "enum": ["true"]},
                        }},
                        "content": {"application/json": {"schema": event}},
                        "links": {
                            "retryWithTheSameKey": {
                                "operationId": "generateEvent",
                                "description": "A retry: the same Idempotency-Key with the same body answers this 201 again (`Idempotent-Replayed: true`) and publishes nothing. The same key with another body is refused with 422 `idempotency_key_reused`.",
                                "parameters": {"header.Idempotency-Key": "$request.header.Idempotency-Key"},
                                "requestBody": "$request.body",
                            },
                            "listTheUsersEvents": {
                                "operationId": "listProcessedEvents",
                                "description": "The user's events of this type, newest first: the new one is among them once the processor has stored it.",
                                "parameters": {"userId": "$response.body#/userId", "eventType": "$response.body#/eventType"},
                            },
                        }},
                    "400": problem("The body breaks the rules (`validation_failed`, with `details`; a malformed Idempotency-Key is reported there too, as field `Idempotency-Key`), or could not be read (`bad_request`).", &["validation_failed", "bad_request"]),
                    "409": {
                        "description": "A request with the same Idempotency-Key is still being published (`idempotency_in_progress`): retry after Retry-After seconds.",
                        "headers": {"Retry-After": {"description": "Seconds until the earlier request's lease ends.", "schema": {"type": "integer", "minimum": 1}, "required": true}},
                        "content": {"application/json": {"schema": coded(&["idempotency_in_progress"]),
                            "example": example(ApiError::IdempotencyInProgress(2))}},
                    },
                    "401": unauthorized.clone(),
                    "403": problem("The caller may not send this event (`forbidden`): with AUTH_MODE=jwt, `userId` is not the token's user.", &["forbidden"]),
                    "408": problem(&format!("The body did not arrive within {} s of the headers (`request_timeout`; plain server only).", BODY_READ_TIMEOUT.as_secs()), &["request_timeout"]),
                    "422": {
                        "description": "The Idempotency-Key was used before, within IDEMPOTENCY_TTL_SECONDS, with another body (`idempotency_key_reused`). By design: a key names one event, so nothing was published; send a new event with a new key. The same key with the same body is a retry instead (see the link `retryWithTheSameKey` of the 201).",
                        "content": {"application/json": {"schema": coded(&["idempotency_key_reused"]),
                            "example": example(ApiError::IdempotencyKeyReused)}},
                    },
                    "413": problem(&format!("The body is over {MAX_BODY_BYTES} bytes (`payload_too_large`)."), &["payload_too_large"]),
                    "415": problem("Content-Type is not application/json (`unsupported_media_type`).", &["unsupported_media_type"]),
                    "503": unavailable(&format!("Kafka did not acknowledge the event in time (`kafka_unavailable`): not accepted, though it may still be stored (retry with an Idempotency-Key to be sure of one event); or, with an Idempotency-Key, the store that records keys did not answer (`store_unavailable`): nothing was published.{identity_unavailable}"), &["kafka_unavailable", "store_unavailable", "identity_provider_unavailable"]),
                },
            }},
            "/events/batch": {"post": {
                "operationId": "generateEvents",
                "summary": format!("Accept up to {MAX_BATCH_ITEMS} events at once, each judged alone."),
                "description": "Each item is validated by exactly the rules of POST /events/generate, checked against the caller's rights, and answered in request order: `status` 201 with its `eventId` and `timestamp` once the broker acknowledged it, or the status (400, 403, 503) and error body the single endpoint would give. One refused item refuses only itself. All of a batch's events are published at once.",
                "parameters": [
                    {"name": "Idempotency-Key", "in": "header", "required": false,
                        "description": "As for POST /events/generate, but covering the whole batch (scoped by the caller): a retry with the same key and body answers the same results again (`Idempotent-Replayed: true`) and publishes nothing. When an item was not accepted (503), the key is released, and a retry publishes the batch's items again under the same eventIds, each stored once.",
                        "schema": idempotency_key},
                    {"name": "traceparent", "in": "header", "required": false,
                        "description": "As for POST /events/generate: every record of the batch carries the trace id.",
                        "schema": {"type": "string"}},
                ],
                "requestBody": {"required": true, "content": {"application/json": {"schema": batch,
                    "example": {"events": [{"userId": "alice", "eventType": "LOGIN"}, {"userId": "alice", "eventType": "PRODUCT_VIEW", "payload": {"sku": "A-1"}}]}}}},
                "responses": {
                    "200": {"description": "One result per item, in request order.",
                        "headers": {"Idempotent-Replayed": {
                            "description": "`true` when these results repeat the ones given earlier for the same Idempotency-Key.",
                            "schema": {"type": "string", "enum": ["true"]},
                        }},
                        "content": {"application/json": {"schema": batch_results}}},
                    "400": problem("The batch breaks its own rules, refused whole (`validation_failed`, with `details`): not JSON, not an object, `events` missing, not an array, empty or over the item limit, an unknown field; or a malformed Idempotency-Key; or the body could not be read (`bad_request`).", &["validation_failed", "bad_request"]),
                    "401": unauthorized.clone(),
                    "408": problem(&format!("The body did not arrive within {} s of the headers (`request_timeout`; plain server only).", BODY_READ_TIMEOUT.as_secs()), &["request_timeout"]),
                    "409": {
                        "description": "A request with the same Idempotency-Key is still being published (`idempotency_in_progress`).",
                        "headers": {"Retry-After": {"description": "Seconds until the earlier request's lease ends.", "schema": {"type": "integer", "minimum": 1}, "required": true}},
                        "content": {"application/json": {"schema": coded(&["idempotency_in_progress"])}},
                    },
                    "413": problem(&format!("The body is over {MAX_BATCH_BYTES} bytes (`payload_too_large`)."), &["payload_too_large"]),
                    "415": problem("Content-Type is not application/json (`unsupported_media_type`).", &["unsupported_media_type"]),
                    "422": problem("The Idempotency-Key was used before with another batch (`idempotency_key_reused`).", &["idempotency_key_reused"]),
                    "503": unavailable(&format!("With an Idempotency-Key, the store that records keys did not answer (`store_unavailable`): nothing was published.{identity_unavailable}"), &["store_unavailable", "identity_provider_unavailable"]),
                },
            }},
            "/events/processed": {"get": {
                "operationId": "listProcessedEvents",
                "summary": "Stored events, newest first (by timestamp, then eventId), a page at a time.",
                "parameters": [
                    {"name": "limit", "in": "query", "description": "Page size.",
                        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE, "default": DEFAULT_LIMIT}},
                    {"name": "userId", "in": "query", "description": "Only this user's events. With AUTH_MODE=jwt a user outside the read-all group lists only its own events, whether or not it gives userId, and may not give another.",
                        "schema": user_id},
                    {"name": "eventType", "in": "query", "description": "Only this type.", "schema": event_type},
                    // Refused when empty: a client that lost its cursor would otherwise start
                    // over from the first page, and one that loops until no Link comes back
                    // would never end.
                    {"name": "cursor", "in": "query", "description": "Continue after the previous page: copy it from that page's Link header. It is opaque (unpadded URL-safe base64); a value this service did not issue, the empty one included, is refused with 400 `validation_failed`. Leave the parameter out for the first page.",
                        "schema": {"type": "string", "minLength": CURSOR_MIN_LENGTH,
                            "pattern": "^([A-Za-z0-9_-]{4})*([A-Za-z0-9_-]{2,3})?$"},
                        "example": CURSOR_EXAMPLE},
                ],
                "responses": {
                    "200": {
                        "description": format!("A page of events: at most `limit`, and at most {MAX_PAGE_BYTES} bytes counting each `\"` and `\\` twice, as Lambda's response document does (a page that would be larger ends early, and its Link continues after its last event)."),
                        "headers": {"Link": {
                            "description": "`<?limit=…&cursor=…>; rel=\"next\"` when another page exists: a reference relative to the URL called.",
                            "schema": {"type": "string"},
                        }},
                        "content": {"application/json": {"schema": {"type": "array", "items": event, "maxItems": MAX_PAGE_SIZE}}},
                    },
                    "400": problem("A query parameter is unknown, repeated or malformed (`validation_failed`, with `details`).", &["validation_failed"]),
                    "401": unauthorized.clone(),
                    "403": problem("The caller may not list these events (`forbidden`): with AUTH_MODE=jwt, `userId` names another user and the caller is not in the read-all group; with AUTH_MODE=iam, a signer IAM_ALLOWED_PRINCIPALS does not name.", &["forbidden"]),
                    "503": unavailable(&format!("The store did not answer within {} s (`store_unavailable`), or this instance is already serving {MAX_CONCURRENT_LISTINGS} listings (`server_busy`).{identity_unavailable}", LIST_DEADLINE.as_secs()), &["store_unavailable", "server_busy", "identity_provider_unavailable"]),
                },
            }},
            "/users/{userId}/events": {"delete": {
                "operationId": "eraseUserEvents",
                "summary": "Erase a user's events (GDPR art. 17): every event at or before this moment, stored or still on its way.",
                "description": format!("Once this answers, no event of the user whose `timestamp` is at or before `erasedThrough` is listed or stored again, including events still in Kafka and one being stored at that moment; the user's idempotency keys are forgotten. Later events are stored as usual: an erasure is not a ban. Stored copies are deleted {ERASE_CHUNK} at a time for up to {} s; 200 when none is left, else 202: the erasure already holds, and the rest is deleted after the answer (on Lambda only while the environment runs, so call again until 200). Who: a user its own events; with AUTH_MODE=jwt another user's only a member of JWT_ERASE_GROUP; with AUTH_MODE=iam any allowed signer. Each erasure is logged (who, whose, when, how many, never the events) and counted (`Erasures`, `ErasedEvents`).", ERASE_DEADLINE.as_secs()),
                "parameters": [
                    {"name": "userId", "in": "path", "required": true, "description": "Whose events.", "schema": user_id.clone()},
                ],
                "responses": {
                    "200": {"description": "Erased: no stored event of the erasure is left.",
                        "content": {"application/json": {"schema": erasure.clone()}}},
                    "202": {"description": "The erasure holds (nothing at or before `erasedThrough` is listed or stored again), but stored copies are left: they are being deleted; call again after Retry-After until 200.",
                        "headers": {"Retry-After": {"description": "Seconds before calling again.", "schema": {"type": "integer", "minimum": 1}, "required": true}},
                        "content": {"application/json": {"schema": erasure}}},
                    "400": problem("`userId` breaks the rules of the field (`validation_failed`, with `details`).", &["validation_failed"]),
                    "401": unauthorized,
                    "403": problem("The caller may not erase this user's events (`forbidden`): with AUTH_MODE=jwt, another user's, and the caller is not in the erase group; with AUTH_MODE=iam, a signer IAM_ALLOWED_PRINCIPALS does not name.", &["forbidden"]),
                    "503": unavailable(&format!("The store did not record the erasure within {} s (`store_unavailable`): nothing was promised; call again.{identity_unavailable}", ERASE_DEADLINE.as_secs()), &["store_unavailable", "identity_provider_unavailable"]),
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

/// `GET /health`'s body (its fields from `error::Dependencies`, a 503 through the error map; the
/// fuzzing run checks every answer against this). Each dependency is only `ok` or `failing`:
/// details go to the log.
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

    /// The cursor's example is one the server reads, and the schema's shortest length is the
    /// length of the shortest cursor it reads.
    #[test]
    fn the_cursor_schema_matches_what_the_server_reads() {
        use event_store::Cursor;
        let doc = super::document();
        let cursor = doc["paths"]["/events/processed"]["get"]["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .find(|p| p["name"] == "cursor")
            .expect("the cursor parameter")
            .clone();
        let example = cursor["example"].as_str().expect("an example");
        assert!(Cursor::decode(example).is_ok(), "{example}");
        let shortest = "MC4wMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMA"; // "0." and 32 zeros
        assert!(Cursor::decode(shortest).is_ok());
        assert_eq!(cursor["schema"]["minLength"], shortest.len());
        assert!(Cursor::decode(&shortest[..shortest.len() - 2]).is_err());
        assert!(Cursor::decode("").is_err(), "an empty cursor is refused");
    }

    /// The request's example is a body the server accepts.
    #[test]
    fn the_request_example_is_valid() {
        let doc = super::document();
        let example = &doc["paths"]["/events/generate"]["post"]["requestBody"]["content"]
            ["application/json"]["example"];
        let body = serde_json::to_vec(example).expect("json");
        assert!(event_schema::validate_request(&body).is_ok(), "{example}");
    }

    /// Every error code the document lists under a status is the code the server answers with
    /// that status, and the examples are the server's own bodies.
    #[test]
    fn the_documented_error_codes_are_the_servers() {
        use crate::error::ApiError;
        let doc = super::document();
        let errors = [
            ApiError::UnsupportedMediaType(None),
            ApiError::PayloadTooLarge(1),
            ApiError::BadBody(String::new()),
            ApiError::BodyTimeout(1),
            ApiError::Validation(Vec::new()),
            ApiError::KafkaUnavailable(String::new()),
            ApiError::StoreUnavailable(String::new()),
            ApiError::Busy,
            ApiError::IdempotencyKeyReused,
            ApiError::IdempotencyInProgress(1),
            ApiError::IdentityUnavailable(String::new()),
        ];
        let answers: Vec<(String, &str)> = errors
            .iter()
            .map(|e| {
                let (status, code) = e.status_and_code();
                (status.as_u16().to_string(), code)
            })
            .chain([
                ("401".to_owned(), "unauthorized"),
                ("403".to_owned(), "forbidden"),
            ])
            .collect();
        let mut listed = 0;
        for operation in doc["paths"]
            .as_object()
            .expect("paths")
            .values()
            .flat_map(|p| p.as_object().expect("operations").values())
        {
            for (status, response) in operation["responses"].as_object().expect("responses") {
                let content = &response["content"]["application/json"];
                let Some(codes) =
                    content["schema"]["allOf"][1]["properties"]["error"]["enum"].as_array()
                else {
                    continue;
                };
                for code in codes {
                    let code = code.as_str().expect("a code");
                    assert!(
                        answers.iter().any(|(s, c)| s == status && *c == code),
                        "{status} {code} is documented, but the server answers {code} otherwise"
                    );
                    listed += 1;
                }
                if let Some(example) = content.get("example") {
                    assert!(codes.contains(&example["error"]), "{status}: {example}");
                }
            }
        }
        assert!(listed >= answers.len(), "{listed} codes documented");
        let reused = &doc["paths"]["/events/generate"]["post"]["responses"]["422"]["content"]
            ["application/json"]["example"];
        assert_eq!(reused["error"], "idempotency_key_reused");
        assert_eq!(
            reused["message"],
            ApiError::IdempotencyKeyReused.to_string()
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
